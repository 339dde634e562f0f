//! `--explain`: print each kernel-facing step as it happens.
//!
//! Every chapter binary has an `--explain` flag. When it is on, the engine
//! narrates what it asks of the kernel on standard error, one line per step,
//! in a form close to the system call itself:
//!
//! ```text
//! + fork() = 4242
//! + execve("/bin/sh", ["sh", "-c", "exit 3"])
//! + waitpid(-1) = 4242 exited with 3
//! ```
//!
//! Later chapters narrate their own steps (clone flags, mounts, cgroup writes,
//! netlink calls) through the same [`explain!`](crate::explain!) macro, so a
//! learner can watch the whole engine at work. The switch is a process-wide
//! flag: it is inherited by a forked child, so the child narrates its own
//! steps too, up to the moment it calls `execve`.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns narration on or off for this process (and children forked later).
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Whether narration is on.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Writes one narrated step. Use the [`explain!`](crate::explain!) macro
/// instead, which skips formatting when narration is off.
///
/// The line is written with a single `write` on standard error, so a line
/// from the child and a line from the parent never interleave mid-line.
pub fn emit(args: std::fmt::Arguments<'_>) {
    let line = format!("+ {args}\n");
    // Nothing useful can be done when stderr is closed: narration is best effort.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Narrates one kernel-facing step when `--explain` is on.
///
/// ```
/// ch01_process::explain!("fork() = {}", 4242);
/// ```
#[macro_export]
macro_rules! explain {
    ($($arg:tt)*) => {
        if $crate::explain::enabled() {
            $crate::explain::emit(format_args!($($arg)*));
        }
    };
}

/// Formats an argument vector as C code would show it: `["sh", "-c", "exit 3"]`.
pub fn argv_repr<S: AsRef<str>>(argv: &[S]) -> String {
    let items: Vec<String> = argv.iter().map(|a| format!("{:?}", a.as_ref())).collect();
    format!("[{}]", items.join(", "))
}
