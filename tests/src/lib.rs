//! Workspace-wide checks of skiff.
//!
//! The book promises that the code it shows is the code that compiles, that
//! the transcripts it shows are the snapshots the tests check, and that the
//! command lines it shows are ones the binaries accept. [`book`] finds every
//! `{{#include}}` in the book, [`snapshots`] finds the test that asserts a
//! snapshot, and [`commands`] parses every command line the book shows with
//! the binary's own clap definition ([`clis`]); `tests/book.rs` holds the
//! book to all three.

pub mod book;
pub mod clis;
pub mod commands;
pub mod shell;
pub mod snapshots;

use std::path::PathBuf;

/// The root of the workspace.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}
