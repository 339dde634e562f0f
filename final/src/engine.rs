//! The engine's containers: the chapters' run spec, with the engine's own
//! section.
//!
//! A container of the engine is a container of the chapters (its layers,
//! limits, namespaces: one implementation of each) plus what only a
//! long-lived engine needs: how to restart it, where its logs go, whether
//! it has a terminal, its labels, and the configuration as the client sent
//! it, which `inspect` gives back.

use ch02_namespaces::records::Containers;
use ch02_namespaces::{Engine, RunSpec, Spec as ContainerSpec};
use ch05_images::engine::{ImageEngine, ImageError};
use ch06_network::NetworkEngine;
use ch06_network::spec::Spec as NetworkSpec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};

// ANCHOR: spec
/// A container of the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    #[serde(flatten)]
    pub base: NetworkSpec,
    #[serde(default)]
    pub engine: EngineSection,
}

/// What the engine keeps about a container beyond the chapters' spec.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineSection {
    /// The image's id (its config's digest).
    pub image_id: String,
    pub labels: BTreeMap<String, String>,
    /// A terminal (`-t`), and stdin kept open (`-i`).
    pub tty: bool,
    pub open_stdin: bool,
    /// Close stdin when the first client that attached it detaches.
    pub stdin_once: bool,
    pub restart: RestartPolicy,
    pub log: LogConfig,
    /// The signal `stop` sends first (default SIGTERM).
    pub stop_signal: Option<String>,
    /// `--rm`: the daemon removes the container once it has read how it
    /// ended (the run path's own `auto_remove` is off: it would remove the
    /// record, exit code and all, before the daemon could read it).
    pub auto_remove: bool,
    /// The healthcheck: the client's (`--health-cmd`), or the image's.
    pub healthcheck: Option<ch05_images::image::HealthConfig>,
    /// `Config` and `HostConfig` as the client sent them, for `inspect`.
    pub config: serde_json::Value,
    pub host_config: serde_json::Value,
}
// ANCHOR_END: spec

/// `--restart`: what the daemon does when a container's process ends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RestartPolicy {
    /// `no`, `always`, `unless-stopped` or `on-failure`.
    pub name: String,
    /// For `on-failure`: at most this many restarts (0: no limit).
    pub maximum_retry_count: u32,
}

/// `--log-opt max-size=10m --log-opt max-file=3`, or `--log-driver none`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    pub max_size: Option<u64>,
    pub max_file: Option<u32>,
    /// The `none` driver: the shim keeps no log (`docker logs` has nothing
    /// to read, as with dockerd).
    pub none: bool,
}

impl LogConfig {
    /// The driver's name, as `docker inspect` shows it.
    pub fn driver(&self) -> &'static str {
        if self.none { "none" } else { "json-file" }
    }
}

impl Spec {
    /// Chapter 4's section: the layers and mounts. (Chapter 6 calls its
    /// chapter 4 spec `storage`, and chapter 4 calls this section
    /// `storage` too: one name for the whole path.)
    pub fn storage(&self) -> &ch04_overlayfs::spec::Storage {
        &self.base.storage.storage
    }
}

impl Deref for Spec {
    type Target = NetworkSpec;
    fn deref(&self) -> &NetworkSpec {
        &self.base
    }
}

impl DerefMut for Spec {
    fn deref_mut(&mut self) -> &mut NetworkSpec {
        &mut self.base
    }
}

impl RunSpec for Spec {
    fn container(&self) -> &ContainerSpec {
        self.base.container()
    }

    fn container_mut(&mut self) -> &mut ContainerSpec {
        self.base.container_mut()
    }
}

/// The engine's engine: chapter 6's (images, layers, limits, namespaces,
/// networks), with the engine's spec.
pub struct SkiffEngine {
    network: NetworkEngine,
    root: PathBuf,
}

impl SkiffEngine {
    pub fn open(root: &Path) -> Result<SkiffEngine, ImageError> {
        Ok(SkiffEngine {
            network: NetworkEngine::open(root)?,
            root: root.to_path_buf(),
        })
    }

    pub fn images(&self) -> &ImageEngine {
        self.network.images()
    }

    /// Chapter 6's engine: its networks, endpoints and published ports.
    pub fn network(&self) -> &NetworkEngine {
        &self.network
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of container `id`: its record, layer, logs, socket.
    pub fn dir(&self, id: &str) -> PathBuf {
        self.containers().dir(id)
    }
}

impl Engine for SkiffEngine {
    type Spec = Spec;
    type Steps = <NetworkEngine as Engine>::Steps;

    fn containers(&self) -> &Containers {
        self.network.containers()
    }

    fn steps(&self, spec: &Spec) -> Self::Steps {
        self.network.steps(&spec.base)
    }
}
