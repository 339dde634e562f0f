//! Chapter 3's run spec: chapter 2's, with the container's limits.

use crate::devices::DeviceRule;
use crate::limits::Limits;
use ch02_namespaces::{RunSpec, Spec as ContainerSpec};
use serde::{Deserialize, Serialize};
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;

// ANCHOR: spec
/// A container within limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    #[serde(flatten)]
    pub container: ContainerSpec,
    #[serde(default)]
    pub limits: Limits,
    /// Where the cgroup is, and which devices it allows, when not the
    /// defaults (`skiff/<id>`, docker's device rules).
    #[serde(default, skip_serializing_if = "Placement::is_default")]
    pub cgroup: Placement,
}
// ANCHOR_END: spec

/// A cgroup placed and restricted as an OCI runtime's caller asks
/// (`linux.cgroupsPath`, `linux.resources.devices`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Placement {
    /// The cgroup's path below each hierarchy's root; `skiff/<id>` if none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// The devices allowed; docker's [`DEFAULT_RULES`](crate::DEFAULT_RULES) if none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub devices: Option<Vec<DeviceRule>>,
}

impl Placement {
    pub fn is_default(&self) -> bool {
        *self == Placement::default()
    }
}

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
