//! The processes `up` starts: one supervisor per container, one helper per
//! healthcheck.
//!
//! Chapter 2's run path waits for *one* container, in a single-threaded
//! process that blocks the signals it forwards. An application is several
//! containers, so `up` starts this same binary again once per container
//! (`ch07-compose supervise ID`), exactly as `ch06-network run` would run
//! it, and watches those processes: their standard output and error are
//! pipes whose lines `up` prints behind the container's name, and a third
//! pipe tells when the container's program runs (the supervisor writes a
//! byte once `start` has returned). A healthcheck is `ch07-compose
//! health-exec ID -- COMMAND`: chapter 2's `exec`, in a process of its own
//! since `setns` changes the process that calls it.
//!
//! Each of them gets a process group of its own: Ctrl-C on the terminal
//! goes to `up` alone, which then stops the containers in order, instead
//! of reaching every supervisor at once.

use crate::runner::console::Lines;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use std::io::{ErrorKind, PipeReader, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};

/// The descriptor a supervisor reports its start on.
pub const READY_FD: i32 = 3;

/// How to run this binary again on the same engine.
#[derive(Debug, Clone)]
pub struct SelfCommand {
    /// `--root`.
    pub root: PathBuf,
    /// `--explain`.
    pub explain: bool,
}

impl SelfCommand {
    /// `/proc/self/exe [--explain] --root ROOT ARGS...`, in a process group
    /// of its own, stdin from /dev/null. `/proc/self/exe` is the sealed copy
    /// `up` runs from (chapter 1): the children need not copy it again.
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut command = Command::new("/proc/self/exe");
        if self.explain {
            command.arg("--explain");
        }
        command
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null())
            .process_group(0);
        command
    }
}

/// Reads what is there without blocking: the bytes, and whether the
/// stream ended.
fn read_available(reader: &mut impl Read) -> (Vec<u8>, bool) {
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 16384];
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => return (bytes, true),
            Ok(n) => bytes.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return (bytes, false),
            Err(_) => return (bytes, true),
        }
    }
}

fn nonblocking(fd: BorrowedFd<'_>) {
    let flags = fcntl(fd, FcntlArg::F_GETFL).unwrap_or(0);
    let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
    let _ = fcntl(fd, FcntlArg::F_SETFL(flags));
}

/// One output stream of a child, cut into lines.
#[derive(Debug)]
pub struct Stream<R> {
    reader: Option<R>,
    lines: Lines,
}

impl<R: Read + AsFd> Stream<R> {
    fn new(reader: Option<R>) -> Stream<R> {
        if let Some(r) = &reader {
            nonblocking(r.as_fd());
        }
        Stream {
            reader,
            lines: Lines::default(),
        }
    }

    /// The descriptor to poll, until the stream ends.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.reader.as_ref().map(AsFd::as_fd)
    }

    /// The lines now complete (and, at the end, the unfinished one).
    pub fn read_lines(&mut self) -> Vec<String> {
        let Some(reader) = self.reader.as_mut() else {
            return Vec::new();
        };
        let (bytes, ended) = read_available(reader);
        let mut lines = self.lines.feed(&bytes);
        if ended {
            self.reader = None;
            lines.extend(self.lines.finish());
        }
        lines
    }
}

// ANCHOR: supervisor
/// The process that runs one container (`ch07-compose supervise ID`).
#[derive(Debug)]
pub struct Supervisor {
    child: Child,
    pub stdout: Stream<ChildStdout>,
    pub stderr: Stream<ChildStderr>,
    ready: Option<PipeReader>,
}

impl Supervisor {
    /// Starts the supervisor of container `id`.
    pub fn spawn(me: &SelfCommand, id: &str) -> std::io::Result<Supervisor> {
        let (ready, ready_writer) = std::io::pipe()?;
        let writer_fd = ready_writer.as_raw_fd();
        let ready_fd = READY_FD.to_string();
        let mut command = me.command(["supervise", "--ready-fd", &ready_fd, id]);
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        // SAFETY: between fork and exec, only dup2 and fcntl, which are
        // async-signal-safe, on descriptors we own.
        unsafe {
            command.pre_exec(move || {
                if writer_fd == READY_FD {
                    // Already in place: dup2 would keep its close-on-exec.
                    let flags = libc::fcntl(READY_FD, libc::F_GETFD);
                    libc::fcntl(READY_FD, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
                } else if libc::dup2(writer_fd, READY_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command.spawn()?;
        drop(ready_writer);
        nonblocking(ready.as_fd());
        Ok(Supervisor {
            stdout: Stream::new(child.stdout.take()),
            stderr: Stream::new(child.stderr.take()),
            ready: Some(ready),
            child,
        })
    }
    // ANCHOR_END: supervisor

    /// Its pid (the leader of its process group).
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The readiness pipe, until it has spoken.
    pub fn ready_fd(&self) -> Option<BorrowedFd<'_>> {
        self.ready.as_ref().map(AsFd::as_fd)
    }

    /// Reads the readiness pipe: `Some(true)` once the container runs,
    /// `Some(false)` when the supervisor gave up before that, `None` while
    /// nothing is known.
    pub fn read_ready(&mut self) -> Option<bool> {
        let reader = self.ready.as_mut()?;
        let (bytes, ended) = read_available(reader);
        if !bytes.is_empty() || ended {
            self.ready = None;
            return Some(!bytes.is_empty());
        }
        None
    }

    /// Its exit status, once it has ended (reaped here).
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Sends `signal` to the supervisor itself.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), signal);
    }
}

/// The most of a healthcheck's output kept, as docker keeps it.
pub const PROBE_OUTPUT_LIMIT: usize = 4096;

// ANCHOR: probe
/// One run of a healthcheck: `ch07-compose health-exec ID -- COMMAND`,
/// its standard output and error in one pipe.
#[derive(Debug)]
pub struct Probe {
    child: Child,
    output: Option<PipeReader>,
    collected: Vec<u8>,
}

impl Probe {
    /// Starts `command` in the running container `id`.
    pub fn spawn(me: &SelfCommand, id: &str, command: &[String]) -> std::io::Result<Probe> {
        let (output, writer) = std::io::pipe()?;
        let mut run = me.command(["health-exec", id, "--"]);
        run.args(command).stdout(writer.try_clone()?).stderr(writer);
        let child = run.spawn()?;
        // `run` holds the pipe's write ends until it is dropped here: the
        // stream then ends when the probe ends.
        drop(run);
        nonblocking(output.as_fd());
        Ok(Probe {
            child,
            output: Some(output),
            collected: Vec::new(),
        })
    }
    // ANCHOR_END: probe

    /// The descriptor to poll, until the output ends.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.output.as_ref().map(AsFd::as_fd)
    }

    /// Reads what the check wrote (the first [`PROBE_OUTPUT_LIMIT`] bytes
    /// are kept).
    pub fn read(&mut self) {
        if let Some(reader) = self.output.as_mut() {
            let (bytes, ended) = read_available(reader);
            let room = PROBE_OUTPUT_LIMIT.saturating_sub(self.collected.len());
            self.collected
                .extend_from_slice(&bytes[..bytes.len().min(room)]);
            if ended {
                self.output = None;
            }
        }
    }

    /// The check's exit code and output, once it has ended.
    pub fn try_finish(&mut self) -> Option<(i32, String)> {
        let status = self.child.try_wait().ok().flatten()?;
        self.read();
        let output = String::from_utf8_lossy(&self.collected).trim().to_string();
        Some((status.code().unwrap_or(-1), output))
    }

    /// Ends a check that took too long (its process group: the helper and,
    /// through its death signal, the command in the container).
    pub fn kill(&mut self) {
        let group = nix::unistd::Pid::from_raw(-(self.child.id() as i32));
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.kill();
        }
    }
}
