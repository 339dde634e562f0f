//! A writable layer on a stack of layers, without a container: where COPY,
//! ADD and WORKDIR write.
//!
//! These steps run nothing in the image; they only change files. Docker's
//! classic builder mounts the container's root on the host and writes into
//! it. We do the same with chapter 4's [`LayerStack`], in a child process
//! with a mount namespace of its own (see [`super::child`]): the files go
//! through the overlay into `upper/`, which becomes the step's layer like a
//! RUN container's does. Writing through the overlay, not into `upper/`
//! directly, lets the kernel do what docker's layer would record: parent
//! directories copied up with their metadata, a file over a lower one
//! replacing it, links in the destination path resolved in the image.

use super::error::BuildError;
use crate::engine::ImageEngine;
use crate::store::WorkDir;
use ch04_overlayfs::layers::LayerStack;
use std::path::{Path, PathBuf};

/// A stack with a fresh writable layer, in a work directory of the store
/// (removed, upper and all, when dropped).
pub struct Scratch {
    stack: LayerStack,
    work: WorkDir,
}

impl Scratch {
    /// A writable layer on `layers` (bottom first; none for `scratch`).
    pub fn new(engine: &ImageEngine, layers: Vec<PathBuf>) -> Result<Scratch, BuildError> {
        let work = engine.store().work_dir("scratch")?;
        let mut lowers = layers;
        if lowers.is_empty() {
            // overlayfs needs a lower layer: an empty one.
            let empty = work.path().join("empty");
            std::fs::create_dir(&empty).map_err(BuildError::io("create", &empty))?;
            lowers.push(empty);
        }
        let dir = work.path().join("stack");
        std::fs::create_dir(&dir).map_err(BuildError::io("create", &dir))?;
        let mut stack = LayerStack::new(engine.root(), &dir, &lowers);
        stack.create()?;
        Ok(Scratch { stack, work })
    }

    /// The writable layer: what the step changed.
    pub fn upper(&self) -> PathBuf {
        self.stack.upper()
    }

    /// Where the stack appears once mounted.
    pub fn merged(&self) -> PathBuf {
        self.stack.merged()
    }

    /// A directory of the work directory for the step's own files.
    pub fn work(&self) -> &Path {
        self.work.path()
    }

    /// Mounts the stack at [`Scratch::merged`]. Call it in a child with a
    /// private mount namespace: the mount goes when the child does.
    pub fn mount(&self) -> Result<(), String> {
        self.stack.mount().map_err(|e| e.to_string())
    }
}
