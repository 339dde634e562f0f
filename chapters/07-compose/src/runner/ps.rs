//! `ps`: the project's containers, found by label, as docker compose
//! lists them: NAME, IMAGE, COMMAND, SERVICE, CREATED, STATUS, PORTS.

use crate::engine::{ComposeEngine, service_of};
use crate::runner::attended;
use crate::spec::Spec;
use ch02_namespaces::records::{Record, RecordError};
use ch02_namespaces::{RunError, RunSpec};
use ch06_network::verbs::{NetworkVerbError, ports_column, published};

/// Why `ps` failed.
#[derive(Debug, thiserror::Error)]
pub enum PsError {
    #[error("{0}")]
    Record(#[from] RecordError),
    #[error("{0}")]
    Network(#[from] NetworkVerbError),
}

impl From<RunError> for PsError {
    fn from(error: RunError) -> PsError {
        PsError::Network(error.into())
    }
}

/// The chapter 2 view of a record (what the verbs below read).
fn below(record: &Record<Spec>) -> Record<ch02_namespaces::Spec> {
    Record {
        spec: record.spec.container().clone(),
        image: record.image.clone(),
        created: record.created,
        state: record.state.clone(),
    }
}

// ANCHOR: ps
/// The table of project `name`'s containers: the running ones, or all.
pub fn ps(engine: &ComposeEngine, name: &str, all: bool) -> Result<String, PsError> {
    let mut rows = vec![
        [
            "NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for record in engine.project_containers(name)? {
        if !all && !record.is_running() {
            continue;
        }
        let view = below(&record);
        let mut status = ch02_namespaces::verbs::status(&view);
        if record.is_running()
            && let Some(health) = attended::read(engine, record.id()).health
        {
            status += &format!(" ({health})");
        }
        rows.push(vec![
            record.name().to_string(),
            record.image.clone().unwrap_or_default(),
            ch02_namespaces::verbs::command_column(&view.spec.process.argv),
            service_of(&record).to_string(),
            format!("{} ago", ch02_namespaces::verbs::since(record.created)),
            status,
            ports_column(&published(engine.network(), &view)?),
        ]);
    }
    Ok(ch01_process::shell::table(&rows))
}
// ANCHOR_END: ps
