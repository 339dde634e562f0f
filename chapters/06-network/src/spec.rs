//! Chapter 6's run spec: chapter 4's (with chapter 5's image in its
//! layers), and the network section.

use crate::request::{NetworkMode, NetworkRequest};
use ch02_namespaces::namespaces::NetworkMode as Namespace;
use ch02_namespaces::{RunSpec, Spec as ContainerSpec};
use ch04_overlayfs::spec::Spec as StorageSpec;
use serde::{Deserialize, Serialize};
use std::ops::{Deref, DerefMut};

// ANCHOR: spec
/// A container of an image, on a network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    #[serde(flatten)]
    pub storage: StorageSpec,
    /// What the container asks of the network: `--network`, `-p`, ...
    #[serde(default)]
    pub network: NetworkRequest,
}
// ANCHOR_END: spec

// ANCHOR: namespace
/// The network namespace a mode needs from chapter 2: `host` keeps the
/// host's; `container:NAME` joins the other container's (a descriptor the
/// network step opens); every other mode gets a new one (`CLONE_NEWNET`),
/// empty but for loopback until the network step plugs a cable in.
pub fn namespace_of(mode: &NetworkMode) -> Namespace {
    match mode {
        NetworkMode::Host => Namespace::Host,
        NetworkMode::Container(_) => Namespace::Joined,
        NetworkMode::Bridge | NetworkMode::None | NetworkMode::Network(_) => Namespace::None,
    }
}
// ANCHOR_END: namespace

impl Spec {
    /// The spec of a container on `storage` that asks `network` of the
    /// network: chapter 2's namespaces set to match the mode.
    pub fn new(mut storage: StorageSpec, network: NetworkRequest) -> Spec {
        storage.limited.container.isolation.network = namespace_of(&network.mode);
        Spec { storage, network }
    }
}

impl Deref for Spec {
    type Target = StorageSpec;
    fn deref(&self) -> &StorageSpec {
        &self.storage
    }
}

impl DerefMut for Spec {
    fn deref_mut(&mut self) -> &mut StorageSpec {
        &mut self.storage
    }
}

impl RunSpec for Spec {
    fn container(&self) -> &ContainerSpec {
        &self.storage.limited.container
    }

    fn container_mut(&mut self) -> &mut ContainerSpec {
        &mut self.storage.limited.container
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_map_onto_chapter_2_namespaces() {
        for (mode, namespace) in [
            ("bridge", Namespace::None),
            ("none", Namespace::None),
            ("backend", Namespace::None),
            ("host", Namespace::Host),
            ("container:web", Namespace::Joined),
        ] {
            assert_eq!(namespace_of(&mode.parse().unwrap()), namespace, "{mode}");
        }
    }
}
