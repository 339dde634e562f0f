//! Chapter 6's engine: chapter 5's containers of images, on a network.
//!
//! It keeps chapter 5's engine whole (its image store, its steps: the
//! cgroup, the layers and volumes) and adds one step, the network, after
//! the others: it is prepared last and released first.

use crate::attachment::{self, AttachError};
use crate::spec::Spec;
use crate::step::NetworkStep;
use crate::store::NetworkStore;
use ch02_namespaces::records::Containers;
use ch02_namespaces::step::Then;
use ch02_namespaces::{Engine, Step};
use ch05_images::engine::{ImageEngine, ImageError};
use std::path::Path;

/// The engine of chapter 6.
pub struct NetworkEngine {
    images: ImageEngine,
    networks: NetworkStore,
}

impl NetworkEngine {
    /// The engine whose containers, images and networks are under `root`.
    pub fn open(root: &Path) -> Result<NetworkEngine, ImageError> {
        Ok(NetworkEngine {
            images: ImageEngine::open(root)?,
            networks: NetworkStore::open(root),
        })
    }

    /// The engine of the chapter below, for the verbs it owns.
    /// The verb of this binary that pulls one image (see chapter 5's
    /// [`ImageEngine::with_pull_verb`]).
    pub fn with_pull_verb(mut self, verb: &[&str]) -> NetworkEngine {
        self.images = self.images.with_pull_verb(verb);
        self
    }

    pub fn images(&self) -> &ImageEngine {
        &self.images
    }

    /// The networks, and the containers' attachments to them.
    pub fn networks(&self) -> &NetworkStore {
        &self.networks
    }

    /// Releases what killed supervisors left on the network (see
    /// [`attachment::release_orphans`]); the containers' ids.
    pub fn release_stale(&self) -> Result<Vec<String>, AttachError> {
        attachment::release_orphans(&self.networks)
    }
}

// ANCHOR: engine
impl Engine for NetworkEngine {
    type Spec = Spec;
    type Steps = Then<<ImageEngine as Engine>::Steps, NetworkStep>;

    fn containers(&self) -> &Containers {
        self.images.containers()
    }

    fn steps(&self, spec: &Spec) -> Self::Steps {
        self.images.steps(&spec.storage).then(NetworkStep::new(
            self.networks.clone(),
            self.containers().clone(),
            spec,
        ))
    }
}
// ANCHOR_END: engine
