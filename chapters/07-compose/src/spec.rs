//! Chapter 7's run spec: chapter 6's, and what compose adds to a
//! container: its labels, how to stop it, how to tell it is healthy and
//! whether to restart it.
//!
//! The labels are the only record of which containers make up which
//! application: there is no "project" object on the engine. `ps`, `down`
//! and a later `up`, in other processes, find a project's containers by
//! reading the records and keeping those whose
//! `com.docker.compose.project` label names it, as docker compose asks
//! dockerd for `label=com.docker.compose.project=NAME`.

use ch02_namespaces::{RunSpec, Spec as ContainerSpec};
use ch05_images::image::HealthConfig;
use ch06_network::Spec as NetworkSpec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

// ANCHOR: spec
/// A container of a compose service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    #[serde(flatten)]
    pub network: NetworkSpec,
    /// What compose adds (empty for a container `run` made).
    #[serde(default)]
    pub compose: ServiceSection,
}

/// What a service adds to its containers' spec.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceSection {
    /// The service's labels and compose's `com.docker.compose.*`.
    pub labels: BTreeMap<String, String>,
    /// The signal that asks it to stop (`SIGTERM` when `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// How long it may take to stop before SIGKILL, in milliseconds
    /// (10 s when `None`, docker's default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_grace_period_ms: Option<u64>,
    /// `no`, `always`, `on-failure[:N]`, `unless-stopped`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart: Option<String>,
    /// The healthcheck: the service's over the image's (docker's fields,
    /// durations in nanoseconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
}
// ANCHOR_END: spec

impl ServiceSection {
    /// The value of a label.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }
}

impl Deref for Spec {
    type Target = NetworkSpec;
    fn deref(&self) -> &NetworkSpec {
        &self.network
    }
}

impl DerefMut for Spec {
    fn deref_mut(&mut self) -> &mut NetworkSpec {
        &mut self.network
    }
}

impl RunSpec for Spec {
    fn container(&self) -> &ContainerSpec {
        self.network.container()
    }

    fn container_mut(&mut self) -> &mut ContainerSpec {
        self.network.container_mut()
    }
}
