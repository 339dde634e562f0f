//! Sharing the terminal with a child in its own process group.
//!
//! A terminal sends the signals of Ctrl-C (SIGINT), Ctrl-\ (SIGQUIT) and
//! Ctrl-Z (SIGTSTP) to its *foreground process group*, and only a process of
//! that group may read from it (others get SIGTTIN). A child in a group of its
//! own can therefore only use the terminal if we make its group the foreground
//! one, as a shell does when it starts a job, and take it back when it ends.

use crate::explain;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::unistd::{Pid, getpgrp, isatty, tcgetpgrp, tcsetpgrp};

/// Holds the terminal for a child's process group; gives it back when dropped.
#[derive(Debug)]
pub struct ForegroundGuard {
    previous: Pid,
}

/// Makes `group` the terminal's foreground group, when our standard input is
/// a terminal and we are its foreground group; otherwise does nothing.
pub fn hand_to(group: Pid) -> Option<ForegroundGuard> {
    let stdin = std::io::stdin();
    if !isatty(&stdin).unwrap_or(false) {
        return None;
    }
    let previous = tcgetpgrp(&stdin).ok()?;
    if previous != getpgrp() {
        return None;
    }
    tcsetpgrp(&stdin, group).ok()?;
    explain!("tcsetpgrp(0, {group})");
    Some(ForegroundGuard { previous })
}

impl Drop for ForegroundGuard {
    fn drop(&mut self) {
        // We are now a background group: the kernel would stop us with
        // SIGTTOU for touching the terminal unless that signal is blocked.
        let ttou = SigSet::from(Signal::SIGTTOU);
        let mut old = SigSet::empty();
        let _ = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&ttou), Some(&mut old));
        let _ = tcsetpgrp(std::io::stdin(), self.previous);
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
        explain!("tcsetpgrp(0, {})", self.previous);
    }
}
