//! A panic in a step that runs in the child, between `fork` and `execve`,
//! becomes the spawn's error, like any other failure there: it does not
//! unwind into the child's copy of the parent's stack (where the parent's
//! destructors would run a second time), and the parent does not mistake
//! the child's end for a successful `execve`.
//!
//! This is how a starter tree's `todo!()` in a child step (chapter 2's
//! `pivot_root`, say) reaches the learner: as the engine's error message.
//!
//! Without libtest's harness: `spawn` forks, which is only sound from a
//! single-threaded process.

use ch01_process::{HookError, ProcessSpec, SpawnError, SpawnHooks, SpawnOptions, spawn};

/// A step that is not written yet.
struct Unwritten;

impl SpawnHooks for Unwritten {
    fn in_child(&mut self) -> Result<(), HookError> {
        todo!("ch00-example: write this step (book: Nowhere > Example)")
    }
}

/// Writes a line into a file when dropped: the parent's guard must be
/// dropped once, by the parent, never by an unwinding child.
struct Guard(std::path::PathBuf);

impl Drop for Guard {
    fn drop(&mut self) {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.0)
            .expect("open the drop log");
        writeln!(file, "dropped by {}", std::process::id()).expect("write the drop log");
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("drops");
    let guard = Guard(log.clone());
    let spec = ProcessSpec {
        argv: vec!["/bin/true".into()],
        ..ProcessSpec::default()
    };
    let error = spawn(&spec, &SpawnOptions::default(), &mut Unwritten)
        .expect_err("a child step that panics must fail the spawn");
    let SpawnError::ChildSetup(message) = &error else {
        panic!("expected a child setup error, got {error:?}");
    };
    assert_eq!(
        message,
        "panicked: not yet implemented: ch00-example: write this step (book: Nowhere > Example)"
    );
    assert_eq!(error.exit_code(), 125);
    assert!(
        !log.exists(),
        "the child unwound into the parent's stack and dropped its guard"
    );
    drop(guard);
    let drops = std::fs::read_to_string(&log).expect("read the drop log");
    assert_eq!(drops, format!("dropped by {}\n", std::process::id()));
    println!("child_panic: ok");
}
