//! Chapter 4's run spec: chapter 3's, with the container's storage.

use crate::volumes::Mount;
use ch02_namespaces::{RunSpec, Spec as ContainerSpec};
use ch03_cgroups::spec::Spec as LimitedSpec;
use serde::{Deserialize, Serialize};
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;

// ANCHOR: spec
/// A container on a stack of layers, with volumes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    #[serde(flatten)]
    pub limited: LimitedSpec,
    #[serde(default)]
    pub storage: Storage,
}

/// Chapter 4's section: the layers and the volumes. The root filesystem
/// (chapter 2's `rootfs`) is the container's `merged/` directory, where
/// the layers are mounted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Storage {
    /// The read-only layers, bottom first.
    pub layers: Vec<PathBuf>,
    pub mounts: Vec<Mount>,
    /// Whether the container's anonymous volumes outlive it. In this
    /// chapter they go with the container; docker keeps them, dangling,
    /// unless asked (`rm -v`, `run --rm`), which the engine does itself.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub keep_anonymous: bool,
}
// ANCHOR_END: spec

impl Deref for Spec {
    type Target = LimitedSpec;
    fn deref(&self) -> &LimitedSpec {
        &self.limited
    }
}

impl DerefMut for Spec {
    fn deref_mut(&mut self) -> &mut LimitedSpec {
        &mut self.limited
    }
}

impl RunSpec for Spec {
    fn container(&self) -> &ContainerSpec {
        &self.limited.container
    }

    fn container_mut(&mut self) -> &mut ContainerSpec {
        &mut self.limited.container
    }
}
