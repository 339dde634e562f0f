//! Workspace-wide checks of skiff.
//!
//! The book promises that the code it shows is the code that compiles and
//! the transcripts it shows are the snapshots the tests check. [`book`]
//! finds every `{{#include}}` in the book so the tests in `tests/book.rs` can
//! hold it to that promise.

pub mod book;

use std::path::PathBuf;

/// The root of the workspace.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}
