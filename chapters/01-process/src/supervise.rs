//! The duties of PID 1: relay signals, reap orphans, report the exit status.
//!
//! Every container has a first process, and the kernel gives that process
//! jobs no other process has. Our supervisor takes them on for the child it
//! started, so this chapter can show each one:
//!
//! - **Signals.** A signal sent to us (by `kill`, by Ctrl-C, by `docker stop`)
//!   is meant for the program we run. We block the signals we forward and read
//!   them from a `signalfd`, so that none is lost and none interrupts us
//!   mid-step, and we pass each one to the child with `kill`.
//! - **Orphans.** When a process dies, its children are re-parented, normally
//!   to the system's init. A process marked *child subreaper*
//!   (`prctl(PR_SET_CHILD_SUBREAPER)`) receives its orphaned descendants
//!   instead, and it must `wait` for them, or each stays a zombie (state `Z`):
//!   a finished process whose exit status nobody collected. Inside a container
//!   PID 1 is the subreaper of everything by definition.
//! - **Exit status.** When the child ends we report how: its own code, or
//!   128 + N when signal N killed it.
//! - **Stopping.** `docker stop` sends SIGTERM, waits a grace period, then
//!   sends SIGKILL, which cannot be caught. With a stop timeout we do the same.
//!
//! The supervisor is single-threaded: it sleeps in one `poll`. A later
//! chapter that must also serve something while the container runs (chapter
//! 6's DNS responder) gives it more descriptors to watch with [`Watch`],
//! rather than a thread of its own.

use crate::exit::ExitStatus;
use crate::explain;
use crate::spawn::Child;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

/// The signals we pass on to the child. Not SIGKILL or SIGSTOP (nobody can
/// catch them), not SIGCHLD (it is about our own children), not the ones the
/// kernel raises for a fault in our own code (SIGSEGV, SIGBUS, ...), and not
/// the terminal's job-control stops.
pub const FORWARDED_SIGNALS: [Signal; 9] = [
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
    Signal::SIGTERM,
    Signal::SIGCONT,
    Signal::SIGWINCH,
];

/// Errors of the supervisor itself (not of the child).
#[derive(Debug, thiserror::Error)]
pub enum SuperviseError {
    #[error("{call} failed: {errno}")]
    Syscall { call: &'static str, errno: Errno },
}

fn syscall(call: &'static str) -> impl FnOnce(Errno) -> SuperviseError {
    move |errno| SuperviseError::Syscall { call, errno }
}

/// Options of the supervisor.
#[derive(Debug, Clone, Copy, Default)]
pub struct SuperviseOptions {
    /// Become the child subreaper of our descendants, to reap orphans.
    pub subreaper: bool,
    /// After SIGTERM or SIGINT, how long the child may take before SIGKILL.
    pub stop_timeout: Option<Duration>,
}

// ANCHOR: watch
/// More descriptors for the supervisor's `poll`, beside its signals: what a
/// later chapter serves while the container runs, in the same loop.
pub trait Watch {
    /// The descriptors to watch for input (`POLLIN`), asked before each
    /// `poll`: the list may change as the container runs.
    fn fds(&self) -> Vec<BorrowedFd<'_>>;

    /// `fd`, one of those [`Watch::fds`] returned, is readable. Must not
    /// block: the container's signals wait meanwhile.
    fn ready(&mut self, fd: RawFd);
}
// ANCHOR_END: watch

/// Nothing to watch but the signals.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoWatch;

impl Watch for NoWatch {
    fn fds(&self) -> Vec<BorrowedFd<'_>> {
        Vec::new()
    }

    fn ready(&mut self, _fd: RawFd) {}
}

/// Watches one child to its end; see the module docs.
pub struct Supervisor {
    signals: SignalFd,
    options: SuperviseOptions,
}

impl Supervisor {
    // ANCHOR: supervisor_new
    /// Prepares to supervise. Call this *before* starting the child: from here
    /// on the forwarded signals and SIGCHLD are blocked and queue up in the
    /// signalfd, so a signal that arrives while the child starts is not lost.
    /// (The child unblocks them again before `execve`.)
    pub fn new(options: SuperviseOptions) -> Result<Self, SuperviseError> {
        if options.subreaper {
            nix::sys::prctl::set_child_subreaper(true).map_err(syscall("prctl"))?;
            explain!("prctl(PR_SET_CHILD_SUBREAPER, 1)");
        }
        let mut mask = SigSet::empty();
        for signal in FORWARDED_SIGNALS.iter().chain([&Signal::SIGCHLD]) {
            mask.add(*signal);
        }
        sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None).map_err(syscall("sigprocmask"))?;
        let signals =
            SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC).map_err(syscall("signalfd"))?;
        explain!(
            "sigprocmask(SIG_BLOCK, [HUP INT QUIT USR1 USR2 ALRM TERM CONT WINCH CHLD]); signalfd() = {}",
            std::os::fd::AsRawFd::as_raw_fd(&signals)
        );
        Ok(Supervisor { signals, options })
    }
    // ANCHOR_END: supervisor_new

    /// Forwards signals to `child`, reaps every process that ends, and returns
    /// how `child` ended once it and every orphan we adopted are gone.
    pub fn wait(&mut self, child: Child) -> Result<ExitStatus, SuperviseError> {
        self.wait_with(child, &mut NoWatch)
    }

    // ANCHOR: supervise
    /// [`Supervisor::wait`], also handing `watch` its descriptors when they
    /// are readable.
    pub fn wait_with(
        &mut self,
        mut child: Child,
        watch: &mut dyn Watch,
    ) -> Result<ExitStatus, SuperviseError> {
        // SOLUTION START: ch01-supervise the supervisor loop: reap with waitpid(-1, WNOHANG), poll the signalfd, forward signals, SIGKILL after the stop timeout (book: The process > The code > Supervising)
        let main = child.pid();
        let mut status = None;
        let mut kill_at: Option<Instant> = None;
        loop {
            // Reap everything that has ended. WNOHANG: never block here.
            loop {
                match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                    Ok(wait_status) => match ExitStatus::from_wait(wait_status) {
                        Some((pid, ended)) if pid == main => {
                            explain!("waitpid(-1) = {pid} {ended}");
                            child.reclaim_terminal();
                            status = Some(ended);
                        }
                        Some((pid, ended)) => {
                            explain!("waitpid(-1) = {pid} {ended} (an orphan we adopted)");
                        }
                        None => break, // nothing more has ended for now
                    },
                    Err(Errno::ECHILD) => {
                        // No children at all: the child and every orphan are gone.
                        // (No status means someone else reaped our child.)
                        return status.ok_or(SuperviseError::Syscall {
                            call: "waitpid",
                            errno: Errno::ECHILD,
                        });
                    }
                    Err(Errno::EINTR) => continue,
                    Err(errno) => {
                        return Err(SuperviseError::Syscall {
                            call: "waitpid",
                            errno,
                        });
                    }
                }
            }

            // Sleep until a signal arrives, a watched descriptor is readable,
            // or the stop timeout expires.
            let timeout = match kill_at {
                None => PollTimeout::NONE,
                Some(at) => {
                    let left = at.saturating_duration_since(Instant::now());
                    PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32)
                        .unwrap_or(PollTimeout::MAX)
                }
            };
            let (signalled, readable) = {
                let watched = watch.fds();
                let mut fds = vec![PollFd::new(self.signals.as_fd(), PollFlags::POLLIN)];
                fds.extend(watched.iter().map(|fd| PollFd::new(*fd, PollFlags::POLLIN)));
                match poll(&mut fds, timeout) {
                    Ok(0) => {
                        let deadline_passed = kill_at.is_some_and(|at| Instant::now() >= at);
                        if deadline_passed {
                            kill_at = None;
                            let grace = self.options.stop_timeout.unwrap_or_default();
                            explain!(
                                "stop timeout of {}s expired: sending SIGKILL",
                                grace.as_secs()
                            );
                            self.signal_all(main, status.is_none(), Signal::SIGKILL);
                        }
                        continue;
                    }
                    Ok(_) => {}
                    Err(Errno::EINTR) => continue,
                    Err(errno) => {
                        return Err(SuperviseError::Syscall {
                            call: "poll",
                            errno,
                        });
                    }
                }
                let is_readable = |fd: &PollFd<'_>| {
                    fd.revents()
                        .is_some_and(|r| r.intersects(PollFlags::POLLIN | PollFlags::POLLERR))
                };
                let readable: Vec<RawFd> = fds[1..]
                    .iter()
                    .zip(&watched)
                    .filter(|(polled, _)| is_readable(polled))
                    .map(|(_, fd)| fd.as_raw_fd())
                    .collect();
                (is_readable(&fds[0]), readable)
            };
            for fd in readable {
                watch.ready(fd);
            }
            if !signalled {
                continue;
            }
            let Some(info) = self
                .signals
                .read_signal()
                .map_err(syscall("read(signalfd)"))?
            else {
                continue;
            };
            let Ok(signal) = Signal::try_from(info.ssi_signo as i32) else {
                continue;
            };
            if signal == Signal::SIGCHLD {
                continue; // the reaping loop above handles it
            }
            self.signal_all(main, status.is_none(), signal);
            let stopping = matches!(signal, Signal::SIGTERM | Signal::SIGINT);
            if stopping
                && kill_at.is_none()
                && let Some(grace) = self.options.stop_timeout
            {
                kill_at = Some(Instant::now() + grace);
            }
        }
        // SOLUTION END
    }
    // ANCHOR_END: supervise

    /// Sends `signal` to the child while it lives; once it has ended, to the
    /// orphans we adopted, so that a stop request also ends them.
    ///
    /// SIGKILL after a stop timeout goes to the child's whole process group
    /// when it leads one, so that its own children do not outlive it.
    fn signal_all(&self, main: Pid, main_alive: bool, signal: Signal) {
        let mut targets = if main_alive {
            vec![main]
        } else {
            adopted_children()
        };
        let leads_group = nix::unistd::getpgid(Some(main)) == Ok(main);
        if signal == Signal::SIGKILL && main_alive && leads_group {
            targets = vec![Pid::from_raw(-main.as_raw())];
            targets.extend(adopted_children().into_iter().filter(|pid| *pid != main));
        }
        for pid in targets {
            explain!("kill({pid}, {})", signal.as_str());
            let _ = kill(pid, signal);
        }
    }
}

/// Our current children, read from `/proc/self/task/*/children`.
fn adopted_children() -> Vec<Pid> {
    let mut pids = Vec::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return pids;
    };
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            pids.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .map(Pid::from_raw),
            );
        }
    }
    pids
}
