//! RUN: a container on the layers so far, and its writable layer committed.
//!
//! A RUN step is `docker run` followed by `docker commit`:
//!
//! ```text
//! 1. a chapter 4 spec: the stage's layers, its Env/WorkingDir/User, the
//!    command (`/bin/sh -c ...` or the exec form), no network by default
//! 2. chapter 2's run path: create, prepare, start, wait (in the foreground)
//! 3. exit code 0: the container's upper directory becomes a layer
//! 4. the container is removed, whatever happened
//! ```
//!
//! The container is kept until its layer is committed: with `--rm` the run
//! path would delete the upper directory as the command ends, before the
//! builder could read it. And it is removed after, also when the command
//! failed, so a failed build leaves no container behind.
//!
//! The command's stdin is `/dev/null` (a build reads no terminal), and its
//! stderr goes where its stdout goes, as docker sends both to the build's
//! output; with `-q` both go to a file, shown only if the step fails.

use super::error::BuildError;
use super::layer::{LayerRef, commit_upper, layer_dirs};
use super::output::Progress;
use crate::engine::ImageEngine;
use crate::image::RunConfig;
use ch01_process::ProcessSpec;
use ch01_process::cli::ProcessArgs;
use ch02_namespaces::Container;
use ch02_namespaces::cli::{ContainerArgs, ContainerFlags};
use ch02_namespaces::namespaces::NetworkMode;
use ch03_cgroups::cli::{CgroupArgs, LimitedFlags};
use ch04_overlayfs::cli::{StorageArgs, StorageFlags};
use ch04_overlayfs::spec::Spec;
use nix::sys::signal::{SigSet, SigmaskHow, sigprocmask};
use std::fs::File;
use std::io::{Read, Seek};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// What a RUN step runs.
pub struct RunRequest<'a> {
    pub argv: &'a [String],
    /// The config's Env with the build args in force (`NAME=value`).
    pub env: &'a [String],
    /// The stage's config, for WorkingDir and User.
    pub config: &'a RunConfig,
    pub network: NetworkMode,
    /// The layers so far, bottom first.
    pub layers: &'a [LayerRef],
    /// The image the container is of (for `ps -a` while it runs).
    pub image: String,
}

/// The flags of a build container: docker's defaults, as `run` has them
/// (its capabilities, its seccomp profile), on the build's network.
fn build_flags(network: NetworkMode) -> StorageFlags {
    StorageFlags {
        below: LimitedFlags {
            below: ContainerFlags {
                container: ContainerArgs {
                    name: None,
                    hostname: None,
                    cap_add: Vec::new(),
                    cap_drop: Vec::new(),
                    userns: false,
                    pid: None,
                    network: network.name().to_string(),
                    security_opt: Vec::new(),
                    rm: false,
                    read_only: false,
                    init: false,
                },
                process: ProcessArgs::default(),
            },
            limits: CgroupArgs::default(),
        },
        storage: StorageArgs::default(),
    }
}

// ANCHOR: run_step
/// Runs one RUN step and commits what it changed as a layer on `layers`.
pub fn run(
    engine: &ImageEngine,
    request: &RunRequest,
    progress: &mut Progress,
) -> Result<LayerRef, BuildError> {
    let store = engine.store();
    let mut dirs = layer_dirs(store, request.layers);
    // FROM scratch has no layer yet, and overlayfs needs one: an empty one.
    let empty = store.work_dir("empty-layer")?;
    if dirs.is_empty() {
        dirs.push(empty.path().to_path_buf());
    }
    let defaults = ProcessSpec {
        argv: Vec::new(),
        env: request.env.to_vec(),
        cwd: Some(
            request
                .config
                .working_dir
                .clone()
                .filter(|dir| !dir.is_empty())
                .unwrap_or_else(|| "/".into())
                .into(),
        ),
        user: request.config.user.clone().filter(|user| !user.is_empty()),
        // A build has no terminal to give its commands.
        terminal: false,
        additional_gids: Vec::new(),
    };
    let spec: Spec =
        build_flags(request.network).to_spec(engine.overlay(), dirs, request.argv, &defaults)?;
    let id = spec.id.clone();
    let upper = engine.overlay().stack(&spec).upper();
    progress.arrow(&format!("Running in {}", &id[..12]))?;

    // Signals stay blocked (the run path's supervisor forwards them) until
    // the container is gone: a Ctrl-C in the middle ends the step cleanly.
    let mask = SignalMask::save()?;
    let stdio = BuildStdio::redirect(progress.quiet())?;
    let ran = ch02_namespaces::run::run(engine, spec, Some(request.image.clone()));
    let printed = stdio.restore();
    let result = match ran {
        Ok(report) if report.code() == 0 => commit_upper(store, &upper, request.layers),
        Ok(report) => Err(BuildError::NonZero {
            command: request.argv.join(" "),
            code: report.code(),
        }),
        Err(error) => Err(error.into()),
    };
    if result.is_err() && progress.quiet() {
        eprint!("{printed}");
    }
    // The run path removed a container that did not start; any other goes now.
    let removed = match Container::open(engine, &id) {
        Ok(container) => container.remove().map_err(BuildError::from),
        Err(_) => Ok(()),
    };
    drop(mask);
    progress.arrow(&format!("Removed intermediate container {}", &id[..12]))?;
    let layer = result?;
    removed?;
    Ok(layer)
}
// ANCHOR_END: run_step

/// The build's stdio while a RUN command runs: stdin from `/dev/null`,
/// stderr joined to stdout (or both to a file, with `-q`).
struct BuildStdio {
    saved: Vec<(i32, OwnedFd)>,
    captured: Option<File>,
}

impl BuildStdio {
    fn redirect(quiet: bool) -> Result<BuildStdio, BuildError> {
        let io = |action| BuildError::io(action, "the build's stdio");
        let mut saved = Vec::new();
        for fd in [0, 1, 2] {
            // SAFETY: fds 0, 1 and 2 are open for the life of the process.
            let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            saved.push((fd, borrowed.try_clone_to_owned().map_err(io("save"))?));
        }
        let mut stdio = BuildStdio {
            saved,
            captured: None,
        };
        let null = File::open("/dev/null").map_err(io("open /dev/null for"))?;
        dup_onto(null.as_fd().as_raw_fd(), 0).map_err(io("redirect"))?;
        if quiet {
            let file = tempfile_in_tmp().map_err(io("create a capture file for"))?;
            dup_onto(file.as_raw_fd(), 1).map_err(io("redirect"))?;
            dup_onto(file.as_raw_fd(), 2).map_err(io("redirect"))?;
            stdio.captured = Some(file);
        } else {
            dup_onto(1, 2).map_err(io("redirect"))?;
        }
        Ok(stdio)
    }
}

impl BuildStdio {
    /// Puts our stdio back; returns what the command printed with `-q`.
    fn restore(mut self) -> String {
        self.put_back();
        let mut text = String::new();
        if let Some(mut file) = self.captured.take() {
            let _ = file.rewind();
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    fn put_back(&mut self) {
        for (fd, saved) in self.saved.drain(..) {
            let _ = dup_onto(saved.as_raw_fd(), fd);
        }
    }
}

impl Drop for BuildStdio {
    fn drop(&mut self) {
        self.put_back();
    }
}

/// `dup2(from, to)`.
fn dup_onto(from: i32, to: i32) -> std::io::Result<()> {
    // SAFETY: dup2 on descriptors we own or on 0, 1, 2; no memory is involved.
    if unsafe { libc::dup2(from, to) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// An anonymous file (`O_TMPFILE`) in /tmp.
fn tempfile_in_tmp() -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_TMPFILE)
        .open("/tmp")
}

/// The signal mask, put back when dropped: the run path blocks the signals
/// its supervisor forwards, and between steps the build must again die of
/// Ctrl-C like any program.
struct SignalMask(SigSet);

impl SignalMask {
    fn save() -> Result<SignalMask, BuildError> {
        let mut old = SigSet::empty();
        sigprocmask(SigmaskHow::SIG_SETMASK, None, Some(&mut old)).map_err(|e| BuildError::Io {
            action: "read",
            path: "the signal mask".into(),
            source: e.into(),
        })?;
        Ok(SignalMask(old))
    }
}

impl Drop for SignalMask {
    fn drop(&mut self) {
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.0), None);
    }
}
