//! Ctrl-C and SIGTERM end the bench *through its guards*: the handler only
//! notes the signal, the next command sees it and returns an error, and the
//! guards stop the daemons and remove what they made. (The daemons run in
//! process groups of their own, so the terminal's ctrl-C does not reach
//! them first.)

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn note(_signal: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Notes SIGINT and SIGTERM instead of dying of them.
pub fn install() {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let action = SigAction::new(SigHandler::Handler(note), SaFlags::empty(), SigSet::empty());
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe; nothing else of the process changes.
        unsafe { sigaction(signal, &action) }.expect("install a signal handler");
    }
}

/// An error once the bench was asked to stop, so that it unwinds.
pub fn check() -> anyhow::Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        anyhow::bail!("interrupted: stopping the daemons and removing their files");
    }
    Ok(())
}
