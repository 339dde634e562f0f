//! Black-box checks of a chapter binary, for the course.
//!
//! `skiff-check N --bin PATH` runs the checks of chapters 1 to N against
//! any binary that claims to be chapter N's engine: the reference, or the
//! one a learner built from a starter tree. A check only looks at what a
//! user or the kernel can see: what the binary prints and how it exits, what
//! the probe reports from inside the container, and from outside the
//! files of `/proc` and of the cgroup hierarchies. So it does not care how
//! the learner wrote the code, only that the engine behaves.
//!
//! - [`target`]: the binary under test, how to run a command with it, and
//!   the processes it starts.
//! - [`kernel`]: what the kernel shows from outside: namespaces, cgroups,
//!   mounts.
//! - [`fixtures`]: the files the checks find, change and delete in the
//!   container's root filesystem.
//! - [`images`]: for the binaries that run images (chapter 5 on), a
//!   registry of the checker's own on loopback and the images it serves.
//! - [`compose`]: for compose binaries (chapter 7), the engine they are
//!   checked with below chapter 7, and projects to `up` and `down`.
//! - [`network`]: for the binaries with networks (chapter 6 on), a network
//!   of the checker's own, and the host's bridges seen from outside.
//! - [`chapters`]: the checks, chapter by chapter, each with the book
//!   section to read when it fails.
//! - [`cleanup`]: whatever a failed engine left behind of the checker's
//!   containers is removed, and only that.

pub mod chapters;
pub mod cleanup;
pub mod compose;
pub mod fixtures;
pub mod images;
pub mod kernel;
pub mod network;
pub mod target;

pub use chapters::{Check, checks};
pub use target::Target;

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub chapter: u32,
    pub id: &'static str,
    pub name: &'static str,
    /// `None` when the check passed; what went wrong otherwise.
    pub failure: Option<String>,
    /// The book section to read when it failed.
    pub hint: &'static str,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }

    /// The check's line: `ok   1.2 name` or
    /// `FAIL 1.2 name: what went wrong (read: section)`.
    pub fn line(&self) -> String {
        match &self.failure {
            None => format!("ok   {} {}", self.id, self.name),
            Some(why) => format!(
                "FAIL {} {}: {why} (read: {})",
                self.id, self.name, self.hint
            ),
        }
    }
}

/// Runs the checks of chapters 1 to `chapter` against `target`, calling
/// `each` with every outcome as it is known.
pub fn run(target: &Target, chapter: u32, mut each: impl FnMut(&Outcome)) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for check in checks(chapter) {
        let failure = (check.run)(target).err();
        let outcome = Outcome {
            chapter: check.chapter,
            id: check.id,
            name: check.name,
            failure,
            hint: check.hint,
        };
        each(&outcome);
        outcomes.push(outcome);
    }
    outcomes
}
