//! `docker events`: what happened to containers, images, networks and
//! volumes, as a stream of JSON objects.
//!
//! The daemon publishes each event to the clients listening now, and keeps
//! the last ones, so that `--since` can look back.

use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use tokio::sync::broadcast;

/// How many events `--since` can look back on.
const KEPT: usize = 1000;

/// One event, in docker's JSON shape.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i128,
    /// The pre-1.22 fields the docker CLI still prints from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

pub struct Events {
    sender: broadcast::Sender<Event>,
    recent: Mutex<VecDeque<Event>>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            sender: broadcast::channel(256).0,
            recent: Mutex::new(VecDeque::new()),
        }
    }
}

impl Events {
    /// Publishes an event of `kind` (`container`, `image`...).
    pub fn publish(
        &self,
        kind: &str,
        action: &str,
        id: &str,
        attributes: BTreeMap<String, String>,
    ) {
        let nanos = ch02_namespaces::records::now() as i128;
        let container = kind == "container";
        let event = Event {
            kind: kind.into(),
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes: attributes.clone(),
            },
            scope: "local".into(),
            time: (nanos / 1_000_000_000) as i64,
            time_nano: nanos,
            status: container.then(|| action.to_string()),
            id: container.then(|| id.to_string()),
            from: container
                .then(|| attributes.get("image").cloned())
                .flatten(),
        };
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() == KEPT {
                recent.pop_front();
            }
            recent.push_back(event.clone());
        }
        let _ = self.sender.send(event);
    }

    /// The events kept, then those to come.
    pub fn subscribe(&self) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let receiver = self.sender.subscribe();
        let recent = self
            .recent
            .lock()
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default();
        (recent, receiver)
    }
}
