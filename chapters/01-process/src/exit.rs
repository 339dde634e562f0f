//! How a process ended, and the exit code a shell (and docker) reports for it.

use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use std::fmt;

/// How a child process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It called `exit(code)` (or returned from `main`).
    Exited(i32),
    /// A signal ended it; `core` tells whether it dumped core.
    Signaled { signal: Signal, core: bool },
}

impl ExitStatus {
    // ANCHOR: code
    /// The exit code to relay, as a shell computes `$?`: the code itself,
    /// or 128 + the signal number when a signal killed the process. This is
    /// why a container killed by SIGKILL exits with 137 and one stopped by
    /// SIGTERM with 143.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(code) => code,
            ExitStatus::Signaled { signal, .. } => 128 + signal as i32,
        }
    }
    // ANCHOR_END: code

    /// Converts what `waitpid` returned, for the two states that end a process.
    pub fn from_wait(status: WaitStatus) -> Option<(nix::unistd::Pid, ExitStatus)> {
        match status {
            WaitStatus::Exited(pid, code) => Some((pid, ExitStatus::Exited(code))),
            WaitStatus::Signaled(pid, signal, core) => {
                Some((pid, ExitStatus::Signaled { signal, core }))
            }
            _ => None,
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Exited(code) => write!(f, "exited with {code}"),
            ExitStatus::Signaled { signal, core } => {
                write!(f, "killed by {}", signal.as_str())?;
                if *core {
                    write!(f, " (core dumped)")?;
                }
                Ok(())
            }
        }
    }
}

/// An error and its causes as one line, `what: why: deeper why`, for the
/// binaries' messages. A cause whose text its parent already includes (the
/// usual `"...: {source}"` message) is not repeated.
pub fn report(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        let part = next.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = next.source();
    }
    text
}
