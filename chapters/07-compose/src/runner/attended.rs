//! What a running `up` notes about the containers it watches, beside
//! each container's record: `<root>/containers/<id>/compose.json`.
//!
//! - **Which `up` runs it.** `down`, in another terminal, asks that
//!   process to stop the application (SIGTERM, as Ctrl-C would), so that
//!   the containers stop in order and none is restarted behind its back.
//! - **Its health.** `ps`, in another process, shows `(healthy)`.
//!
//! The file goes with the container's directory when it is removed.

use crate::engine::ComposeEngine;
use crate::runner::health::HealthStatus;
use ch02_namespaces::Engine;
use ch02_namespaces::records::ProcessId;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `compose.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attended {
    /// The `up` process that runs the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up: Option<ProcessId>,
    /// Its health, when it has a healthcheck and runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthStatus>,
}

fn path(engine: &ComposeEngine, id: &str) -> PathBuf {
    engine.containers().dir(id).join("compose.json")
}

/// What was noted about container `id` (nothing, when no `up` ran it).
pub fn read(engine: &ComposeEngine, id: &str) -> Attended {
    ch06_network::state::read_json(&path(engine, id))
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Notes `attended` about container `id` (written atomically; a container
/// removed meanwhile is left alone).
pub fn write(engine: &ComposeEngine, id: &str, attended: &Attended) {
    if engine.containers().dir(id).is_dir() {
        let _ = ch06_network::state::write_json_atomic(&path(engine, id), attended);
    }
}
