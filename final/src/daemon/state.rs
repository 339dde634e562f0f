//! What the daemon remembers of a container between its runs, beside its
//! record: how often it was restarted, and whether a user stopped it (a
//! container with `--restart unless-stopped` that was stopped stays
//! stopped, even across daemon restarts). Kept in `engine.json` in the
//! container's directory, written atomically.

use crate::engine::SkiffEngine;
use ch02_namespaces::Engine;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunState {
    pub restart_count: u32,
    pub stopped_by_user: bool,
    /// Restarting: the daemon will start it again after a delay.
    pub restarting: bool,
    /// The back-off's exponent: one more for each restart of a run that
    /// lasted less than ten seconds, back to zero after a longer one.
    pub backoff: u32,
}

fn path(dir: &Path) -> PathBuf {
    dir.join("engine.json")
}

/// The run state in the container directory `dir` (default when none).
pub fn load(dir: &Path) -> RunState {
    std::fs::read(path(dir))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Changes the run state of container `id`. Under the records' lock, so
/// that it never writes into the directory of a container being removed
/// (a removal that found a new file there would fail); a container that is
/// gone is not an error.
pub fn update(engine: &SkiffEngine, id: &str, change: impl FnOnce(&mut RunState)) {
    let containers = engine.containers();
    let Ok(_lock) = containers.lock() else {
        return;
    };
    if !containers.exists(id) {
        return;
    }
    let dir = engine.dir(id);
    let mut state = load(&dir);
    change(&mut state);
    let partial = dir.join("engine.json.partial");
    let json = serde_json::to_vec(&state).expect("plain data");
    if std::fs::write(&partial, json).is_ok() {
        let _ = std::fs::rename(&partial, path(&dir));
    }
}
