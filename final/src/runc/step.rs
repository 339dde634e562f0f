//! The runtime's step of the run path, and its engine.
//!
//! [`RuncStep`] does what the chapters leave to an OCI runtime, at the
//! moments chapter 2's run path offers:
//!
//! ```text
//! prepare       (supervisor)  find the volumes' sources
//! in_parent     (supervisor)  rlimits and oom_score_adj of the new process
//! before_pivot  (container)   volumes, the cgroup view, sysctls;
//!                             prestart + createRuntime hooks (run by
//!                             `create`, in the runtime's namespaces, while
//!                             the container waits), createContainer hooks
//! before_exec   (container)   umask; "ready" to `create`; wait on the exec
//!                             fifo until `start` opens it; startContainer hooks
//! ```
//!
//! The channels to `create` and the fifo exist only for a start, so the
//! supervisor hands them to the step ([`RuncStep::attach`]) before it
//! starts the container.

use super::config::Rlimit;
use super::hooks;
use super::spec::{CgroupView, Section, Spec};
use super::state::{self, State};
use ch01_process::HookError;
use ch02_namespaces::records::Containers;
use ch02_namespaces::step::{StepError, Then};
use ch02_namespaces::{Engine, Step};
use ch03_cgroups::container::{CgroupEngine, EngineError};
use ch03_cgroups::{Cgroup, CgroupStep, Layout};
use ch04_overlayfs::resolve::{Create, open_creating};
use ch04_overlayfs::volumes::{Mount, VolumeStore, mount_volumes};
use nix::fcntl::OFlag;
use nix::unistd::Pid;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What the supervisor gives the step for one start: the ends of the
/// pipes to and from `create`, and the exec fifo (opened `O_PATH`).
pub struct Channels {
    /// The container writes `hooks` and `ready` lines here.
    pub ready: OwnedFd,
    /// `create` answers `1` here once the runtime's hooks ran.
    pub go: OwnedFd,
    pub fifo: OwnedFd,
}

// ANCHOR: step
/// The runtime's own step; see the module docs.
pub struct RuncStep {
    section: Section,
    mounts: Vec<Mount>,
    resolved: Vec<(Mount, PathBuf)>,
    volumes: VolumeStore,
    layout: Layout,
    cgroup_path: PathBuf,
    state: State,
    channels: Option<Channels>,
}

impl RuncStep {
    /// Gives the step what one start needs (see [`Channels`]).
    pub fn attach(&mut self, channels: Channels) {
        self.channels = Some(channels);
    }

    /// The state a hook run inside the container reads: its pid there.
    fn inside_state(&self, status: &str) -> String {
        let mut state = self.state.clone();
        state.status = status.to_string();
        state.pid = nix::unistd::getpid().as_raw();
        state.to_hook_json()
    }

    fn channels(&mut self) -> Result<&mut Channels, HookError> {
        self.channels
            .as_mut()
            .ok_or_else(|| HookError("the runtime's channels are missing".into()))
    }

    /// Asks `create` to run the runtime's hooks, and waits for its answer.
    fn runtime_hooks(&mut self) -> Result<(), HookError> {
        let channels = self.channels()?;
        say(&channels.ready, "hooks")?;
        let mut answer = [0u8; 1];
        match File::from(channels.go.try_clone().map_err(io_hook)?).read(&mut answer) {
            Ok(1) if answer[0] == b'1' => Ok(()),
            _ => Err(HookError(
                "a prestart or createRuntime hook failed (see the runtime's error)".into(),
            )),
        }
    }

    fn mount_cgroup_view(&self, rootfs: &Path, view: &CgroupView) -> Result<(), HookError> {
        let failed =
            |e: String| HookError::new(format!("mounting cgroups on {}", view.target.display()), e);
        let cgroup =
            Cgroup::open_at(&self.layout, &self.cgroup_path).map_err(|e| failed(e.to_string()))?;
        let root = nix::fcntl::open(
            rootfs,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| failed(e.to_string()))?;
        let rel = view.target.strip_prefix("/").unwrap_or(&view.target);
        let target = open_creating(root.as_fd(), rel, Create::Dir, OFlag::O_PATH)
            .map_err(|e| failed(format!("{} {}: {}", e.step, e.path.display(), e.errno)))?;
        // The path the safe walk found, as a path: once a tmpfs is mounted
        // there, lookups below it must cross into it, which a lookup
        // through the descriptor (the directory under the mount) does not.
        // No process of the container runs yet to move anything meanwhile.
        let at = std::fs::read_link(format!("/proc/self/fd/{}", target.as_raw_fd()))
            .map_err(|e| failed(e.to_string()))?;
        ch03_cgroups::view::mount_view(&cgroup, &at, view.read_only)
            .map_err(|e| failed(e.to_string()))
    }

    fn write_sysctls(&self, rootfs: &Path) -> Result<(), HookError> {
        for (key, value) in &self.section.sysctl {
            let path = rootfs.join("proc/sys").join(key.replace('.', "/"));
            ch01_process::explain!("write {} = {value}", path.display());
            std::fs::write(&path, value).map_err(|e| HookError::new(format!("sysctl {key}"), e))?;
        }
        Ok(())
    }
}

impl Step for RuncStep {
    fn prepare(&mut self) -> Result<(), StepError> {
        self.resolved = self
            .mounts
            .iter()
            .map(|mount| {
                let source = self.volumes.resolve(mount).map_err(|e| {
                    StepError::new(format!("mount on {}", mount.target.display()), e)
                })?;
                Ok((mount.clone(), source))
            })
            .collect::<Result<_, StepError>>()?;
        Ok(())
    }

    fn in_parent(&mut self, child: Pid) -> Result<(), HookError> {
        if let Some(adj) = self.section.oom_score_adj {
            let path = format!("/proc/{child}/oom_score_adj");
            std::fs::write(&path, adj.to_string())
                .map_err(|e| HookError::new(format!("write {path}"), e))?;
        }
        for limit in &self.section.rlimits {
            set_rlimit(child, limit)
                .map_err(|e| HookError::new(format!("prlimit({child}, {})", limit.kind), e))?;
        }
        Ok(())
    }

    fn before_pivot(&mut self, rootfs: &Path) -> Result<(), HookError> {
        mount_volumes(rootfs, &self.resolved)
            .map_err(|e| HookError::new("mounting the configuration's mounts", e))?;
        if let Some(view) = self.section.cgroup_view.clone() {
            self.mount_cgroup_view(rootfs, &view)?;
        }
        self.write_sysctls(rootfs)?;
        if self.section.new_keyring {
            join_session_keyring(&self.section.id)?;
        }
        self.runtime_hooks()?;
        let state = self.inside_state(state::CREATED);
        for hook in &self.section.hooks.create_container {
            hooks::run(hook, &state).map_err(|e| HookError::new("createContainer hook", e))?;
        }
        Ok(())
    }

    fn before_exec(&mut self) -> Result<(), HookError> {
        if let Some(mask) = self.section.umask {
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
        }
        let channels = self.channels()?;
        say(&channels.ready, "ready")?;
        wait_for_start(&channels.fifo)?;
        // `create` has returned: nobody reads the ready pipe any more.
        self.channels = None;
        let state = self.inside_state(state::CREATED);
        for hook in &self.section.hooks.start_container {
            hooks::run(hook, &state).map_err(|e| HookError::new("startContainer hook", e))?;
        }
        Ok(())
    }
}
// ANCHOR_END: step

// ANCHOR: wait_for_start
/// Blocks until `start` opens the exec fifo: opening a fifo for writing
/// waits for a reader. The fifo is reached through `/proc/self/fd`, as
/// the container's root no longer shows the runtime's directory.
fn wait_for_start(fifo: &OwnedFd) -> Result<(), HookError> {
    let path = format!("/proc/self/fd/{}", fifo.as_raw_fd());
    ch01_process::explain!("open({path:?}, O_WRONLY): wait for start");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| HookError::new("waiting for start on the exec fifo", e))?;
    file.write_all(b"0")
        .map_err(|e| HookError::new("answering start on the exec fifo", e))
}
// ANCHOR_END: wait_for_start

/// Joins a new session keyring named `_ses.<id>` (`keyctl(2)`).
fn join_session_keyring(id: &str) -> Result<(), HookError> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    let name =
        std::ffi::CString::new(format!("_ses.{id}")).map_err(|e| HookError(e.to_string()))?;
    ch01_process::explain!("keyctl(KEYCTL_JOIN_SESSION_KEYRING, {name:?})");
    // SAFETY: keyctl reads a NUL-terminated name that outlives the call.
    let done =
        unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    nix::errno::Errno::result(done)
        .map(drop)
        .map_err(|e| HookError::new("joining a session keyring", e))
}

/// Writes one line to a pipe `create` reads.
fn say(fd: &OwnedFd, line: &str) -> Result<(), HookError> {
    let mut file = File::from(fd.try_clone().map_err(io_hook)?);
    writeln!(file, "{line}").map_err(|e| HookError::new("telling the runtime", e))
}

fn io_hook(e: std::io::Error) -> HookError {
    HookError(e.to_string())
}

/// The kernel's number of an rlimit named as the OCI spec names it.
pub fn rlimit_resource(name: &str) -> Option<libc::__rlimit_resource_t> {
    Some(match name {
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        _ => return None,
    })
}

/// Sets a limit of another process (`prlimit(2)`), while it waits: limits
/// are inherited across `execve`, and the parent needs no step in the child.
fn set_rlimit(pid: Pid, limit: &Rlimit) -> Result<(), nix::Error> {
    let resource = rlimit_resource(&limit.kind).ok_or(nix::Error::EINVAL)?;
    let value = libc::rlimit {
        rlim_cur: limit.soft,
        rlim_max: limit.hard,
    };
    ch01_process::explain!(
        "prlimit({pid}, {}, {} {})",
        limit.kind,
        limit.soft,
        limit.hard
    );
    // SAFETY: prlimit reads one rlimit struct from `value` and writes nothing
    // (the old-value pointer is null).
    let done = unsafe { libc::prlimit(pid.as_raw(), resource, &value, std::ptr::null_mut()) };
    nix::errno::Errno::result(done).map(drop)
}

/// skiff-runc's engine: chapter 3's cgroups, and the runtime's step.
pub struct RuncEngine {
    cgroups: CgroupEngine,
    root: PathBuf,
}

impl RuncEngine {
    /// The engine whose state is under `root` (runc's `--root`).
    pub fn open(root: &Path) -> Result<RuncEngine, EngineError> {
        Ok(RuncEngine {
            cgroups: CgroupEngine::open(root)?,
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn layout(&self) -> &Layout {
        self.cgroups.layout()
    }

    /// The directory of the container the caller calls `id`.
    pub fn dir(&self, id: &str) -> PathBuf {
        self.containers().dir(&super::spec::internal_id(id))
    }
}

impl Engine for RuncEngine {
    type Spec = Spec;
    type Steps = Then<CgroupStep, RuncStep>;

    fn containers(&self) -> &Containers {
        self.cgroups.containers()
    }

    fn steps(&self, spec: &Spec) -> Self::Steps {
        let cgroups = self.cgroups.steps(&spec.limited);
        let cgroup_path = spec
            .limited
            .cgroup
            .path
            .clone()
            .unwrap_or_else(|| Path::new(ch03_cgroups::PARENT).join(&spec.id));
        cgroups.then(RuncStep {
            section: spec.runc.clone(),
            mounts: spec.storage.mounts.clone(),
            resolved: Vec::new(),
            volumes: VolumeStore::new(&self.root),
            layout: self.layout().clone(),
            cgroup_path,
            state: State::template(spec),
            channels: None,
        })
    }
}
