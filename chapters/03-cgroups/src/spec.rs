//! Chapter 3's run spec: chapter 2's, with the container's limits.

use crate::limits::Limits;
use ch02_namespaces::{RunSpec, Spec as ContainerSpec};
use serde::{Deserialize, Serialize};
use std::ops::{Deref, DerefMut};

// ANCHOR: spec
/// A container within limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    #[serde(flatten)]
    pub container: ContainerSpec,
    #[serde(default)]
    pub limits: Limits,
}
// ANCHOR_END: spec

impl Deref for Spec {
    type Target = ContainerSpec;
    fn deref(&self) -> &ContainerSpec {
        &self.container
    }
}

impl DerefMut for Spec {
    fn deref_mut(&mut self) -> &mut ContainerSpec {
        &mut self.container
    }
}

impl RunSpec for Spec {
    fn container(&self) -> &ContainerSpec {
        &self.container
    }

    fn container_mut(&mut self) -> &mut ContainerSpec {
        &mut self.container
    }
}
