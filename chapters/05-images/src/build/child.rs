//! Work done in a forked child, so that the builder itself stays fit to
//! create containers.
//!
//! The builder runs RUN steps through chapter 2's run path, which refuses
//! a process that has threads (a `clone` into new namespaces from a
//! threaded process copies only the calling thread, with whatever locks the
//! others held). Two kinds of work would break that rule or leave things
//! behind, and each goes to a child made by `fork(2)`:
//!
//! - **Downloads** (`ADD https://...`): the HTTP client starts threads.
//!   They start in the child, and die with it.
//! - **Copies into a layer stack** (COPY, ADD, WORKDIR): the stack must be
//!   mounted to be written through. The child first moves to a mount
//!   namespace of its own (`unshare(CLONE_NEWNS)`, then everything made
//!   private, chapter 2's first step), so its mounts are invisible to the
//!   host and disappear with the child, even if it is killed.
//!
//! `fork` from a single-threaded process gives a child that may do
//! anything. Its result comes back through a pipe: nothing on success, the
//! error's text on failure.

use super::error::BuildError;
use ch01_process::explain;
use ch02_namespaces::container::ensure_single_threaded;
use ch02_namespaces::mounts::make_private;
use nix::sched::{CloneFlags, unshare};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork};
use std::io::{Read, Write};

/// Where the child does its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mounts {
    /// The host's mount namespace (it mounts nothing).
    Host,
    /// A private mount namespace, gone with the child.
    Private,
}

// ANCHOR: in_child
/// Runs `work` in a forked child and waits for it. `what` names the work
/// in errors. The calling process must be single-threaded.
pub fn in_child(
    what: &str,
    mounts: Mounts,
    work: impl FnOnce() -> Result<(), String>,
) -> Result<(), BuildError> {
    let failed = |message: String| BuildError::Child {
        what: what.to_string(),
        message,
    };
    ensure_single_threaded().map_err(|e| failed(e.to_string()))?;
    // Buffered output would be written twice: by us and by the child.
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let (mut reader, mut writer) = std::io::pipe().map_err(|e| failed(e.to_string()))?;
    // SAFETY: this process has one thread (checked above), so the child is
    // a complete copy of it and may allocate, lock and start threads.
    match unsafe { fork() }.map_err(|e| failed(format!("fork: {e}")))? {
        ForkResult::Child => {
            drop(reader);
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                if mounts == Mounts::Private {
                    unshare(CloneFlags::CLONE_NEWNS)
                        .map_err(|e| format!("unshare(CLONE_NEWNS): {e}"))?;
                    make_private().map_err(|e| e.to_string())?;
                }
                work()
            }));
            let code = match result {
                Ok(Ok(())) => 0,
                Ok(Err(message)) => {
                    let _ = writer.write_all(message.as_bytes());
                    1
                }
                Err(_) => {
                    let _ = writer.write_all(b"the child process panicked");
                    2
                }
            };
            drop(writer);
            let _ = std::io::stdout().flush();
            // SAFETY: _exit ends the child without running the parent's
            // exit handlers or destructors a second time.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            explain!("fork() = {child}  ({what})");
            drop(writer);
            let mut message = String::new();
            let _ = reader.read_to_string(&mut message);
            let status = waitpid(child, None).map_err(|e| failed(format!("waitpid: {e}")))?;
            match status {
                WaitStatus::Exited(_, 0) => Ok(()),
                _ if !message.is_empty() => Err(failed(message)),
                WaitStatus::Signaled(_, signal, _) => {
                    Err(failed(format!("the child process was killed by {signal}")))
                }
                other => Err(failed(format!("the child process ended: {other:?}"))),
            }
        }
    }
}
// ANCHOR_END: in_child
