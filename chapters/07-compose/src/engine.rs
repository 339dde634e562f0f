//! Chapter 7's engine: chapter 6's, whose containers carry a compose
//! section. It adds no step to the run path (a compose container is a
//! container on a network, nothing more); what it adds is a way to find a
//! project's containers.

use crate::plan::{LABEL_CONTAINER_NUMBER, LABEL_ONEOFF, LABEL_PROJECT, LABEL_SERVICE};
use crate::spec::Spec;
use ch02_namespaces::Engine;
use ch02_namespaces::records::{Containers, Record, RecordError};
use ch05_images::engine::{ImageEngine, ImageError};
use ch06_network::NetworkEngine;
use std::path::Path;

/// The engine of chapter 7.
pub struct ComposeEngine {
    network: NetworkEngine,
}

impl ComposeEngine {
    /// The engine whose containers, images, volumes and networks are under
    /// `root`.
    pub fn open(root: &Path) -> Result<ComposeEngine, ImageError> {
        Ok(ComposeEngine {
            // The builder pulls base images by running this binary again:
            // here, `pull` means the project's images, `pull-image` one image.
            network: NetworkEngine::open(root)?.with_pull_verb(&["pull-image"]),
        })
    }

    /// Chapter 6's engine: networks.
    pub fn network(&self) -> &NetworkEngine {
        &self.network
    }

    /// Chapter 5's engine: images.
    pub fn images(&self) -> &ImageEngine {
        self.network.images()
    }

    /// The record of the container named `name`.
    pub fn containers_find(&self, name: &str) -> Result<Record<Spec>, RecordError> {
        self.containers().find::<Spec>(name)
    }

    // ANCHOR: project_containers
    /// The containers of project `name` (not those of `compose run`), by
    /// service and number.
    pub fn project_containers(&self, name: &str) -> Result<Vec<Record<Spec>>, RecordError> {
        let mut found: Vec<Record<Spec>> = self
            .containers()
            .list::<Spec>()?
            .into_iter()
            .filter(|r| {
                let labels = &r.spec.compose;
                labels.label(LABEL_PROJECT) == Some(name)
                    && labels.label(LABEL_ONEOFF) != Some("True")
            })
            .collect();
        found.sort_by_key(|r| (service_of(r).to_string(), number_of(r)));
        Ok(found)
    }
    // ANCHOR_END: project_containers
}

/// The service a container runs, from its label.
pub fn service_of(record: &Record<Spec>) -> &str {
    record.spec.compose.label(LABEL_SERVICE).unwrap_or("")
}

/// Its number within the service, from its label.
pub fn number_of(record: &Record<Spec>) -> u32 {
    record
        .spec
        .compose
        .label(LABEL_CONTAINER_NUMBER)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

impl Engine for ComposeEngine {
    type Spec = Spec;
    type Steps = <NetworkEngine as Engine>::Steps;

    fn containers(&self) -> &Containers {
        self.network.containers()
    }

    fn steps(&self, spec: &Spec) -> Self::Steps {
        self.network.steps(&spec.network)
    }
}
