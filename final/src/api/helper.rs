//! Helper processes: the skiff binary re-executed for work that the
//! daemon's threads must not do themselves.
//!
//! A build starts containers for its RUN steps, and a copy out of a
//! stopped container mounts its layers in a mount namespace of its own:
//! both need a single-threaded process (chapter 2), as exec does. The
//! daemon starts `skiff <verb>-helper ...`, hands it the data on stdin and
//! stdout, and reads how it went on a third pipe, the helper's fd 3: one
//! JSON object per line, so that what the work prints and what the daemon
//! must know never mix.

use super::{ApiError, ApiResult};
use crate::daemon::Daemon;
use serde_json::Value;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};

/// The descriptor a helper finds its status pipe on.
pub const STATUS_FD: i32 = 3;

/// A running helper, and the daemon's end of its status pipe.
pub struct Helper {
    pub child: tokio::process::Child,
    status: Lines<BufReader<tokio::fs::File>>,
}

// ANCHOR: spawn
/// Starts `skiff --root ROOT ARGS...` with the given stdio and a status
/// pipe on its fd 3.
pub fn spawn(
    daemon: &Daemon,
    args: &[String],
    stdin: Stdio,
    stdout: Stdio,
    stderr: Stdio,
) -> ApiResult<Helper> {
    let internal = |what: &str, e: &dyn std::fmt::Display| {
        ApiError::internal(format!("starting a helper process ({what}): {e}"))
    };
    let (read, write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| internal("pipe", &e))?;
    let mut command = tokio::process::Command::new("/proc/self/exe");
    command
        .arg("--root")
        .arg(&daemon.root)
        .args(args)
        .stdin(stdin)
        .stdout(stdout)
        .stderr(stderr)
        .kill_on_drop(false);
    let raw = write.as_raw_fd();
    // SAFETY: between fork and exec the child only duplicates a descriptor
    // (async-signal-safe); dup2 clears close-on-exec on the copy.
    unsafe {
        command.pre_exec(move || {
            if libc::dup2(raw, STATUS_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn().map_err(|e| internal("spawn", &e))?;
    // Our copy of the write end goes: the pipe ends when the helper does.
    drop(write);
    let status = tokio::fs::File::from_std(std::fs::File::from(read));
    Ok(Helper {
        child,
        status: BufReader::new(status).lines(),
    })
}
// ANCHOR_END: spawn

impl Helper {
    /// The helper's next report; `None` once it closed the pipe (it ended)
    /// or wrote something that is not JSON.
    pub async fn report(&mut self) -> Option<Value> {
        let line = self.status.next_line().await.ok()??;
        serde_json::from_str(&line).ok()
    }

    /// Waits for the helper to end; its exit code (-1 for a signal).
    pub async fn wait(&mut self) -> i32 {
        self.child
            .wait()
            .await
            .ok()
            .and_then(|s| s.code())
            .unwrap_or(-1)
    }
}

/// The helper's side: the status pipe the daemon gave it.
pub struct StatusPipe(std::fs::File);

impl StatusPipe {
    /// Fd 3, checked to be open (a helper started by hand has none), and
    /// made close-on-exec: the processes the helper starts (a pull, a
    /// build's containers) must not be able to write reports.
    pub fn open() -> std::io::Result<StatusPipe> {
        // SAFETY: F_SETFD only changes the descriptor's flags, and fails
        // with EBADF when it is not open.
        if unsafe { libc::fcntl(STATUS_FD, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
            return Err(std::io::Error::other(
                "no status pipe on fd 3: this helper is started by the daemon",
            ));
        }
        // SAFETY: fd 3 is open (checked above), given to us by the daemon,
        // and nothing else in this process owns it.
        let file = unsafe { std::fs::File::from_raw_fd(STATUS_FD) };
        Ok(StatusPipe(file))
    }

    /// Sends one report: a JSON object on a line.
    pub fn send(&mut self, report: &Value) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(report).expect("plain data");
        line.push(b'\n');
        self.0.write_all(&line)
    }
}
