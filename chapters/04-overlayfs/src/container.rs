//! A container whose root is a layer stack, with volumes.
//!
//! Chapter 2 left two places in the root filesystem's setup for us
//! ([`RootfsSteps`]): before the root is bound, we mount the overlay at the
//! directory that becomes the root; after /proc, /dev and /sys, before
//! `pivot_root`, we mount the volumes, while their host paths are still
//! reachable. Both happen in the container's own mount namespace: when its
//! last process ends, the kernel unmounts them, even after a SIGKILL.

use crate::layers::LayerStack;
use crate::volumes::{Mount, mount_volumes};
use ch01_process::HookError;
use ch02_namespaces::container::RootfsSteps;
use std::path::{Path, PathBuf};

// ANCHOR: overlay_root
/// The root filesystem steps of a chapter 4 container.
pub struct OverlayRoot<'a> {
    pub stack: &'a LayerStack,
    /// Each mount with its resolved host source.
    pub volumes: &'a [(Mount, PathBuf)],
}

impl RootfsSteps for OverlayRoot<'_> {
    fn before_bind(&mut self, _rootfs: &Path) -> Result<(), HookError> {
        self.stack
            .mount()
            .map_err(|e| HookError::new("mounting the layers", e))
    }

    fn before_pivot(&mut self, rootfs: &Path) -> Result<(), HookError> {
        mount_volumes(rootfs, self.volumes).map_err(|e| HookError::new("mounting volumes", e))
    }
}
// ANCHOR_END: overlay_root
