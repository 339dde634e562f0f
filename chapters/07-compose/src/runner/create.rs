//! The containers of a project, made (or kept) before any starts.
//!
//! `up` is meant to be run again and again. A container from an earlier
//! `up` that the file still describes the same way is kept (a stopped
//! database keeps its writable layer); one whose service changed is
//! recreated. "The same way" is the config hash label (see
//! [`crate::plan::config_hash`]) and the image's layers (a rebuilt image
//! has a new top layer under the same name). Containers of the project
//! beyond a service's new scale are removed; those of services no longer
//! in the file are only reported, as docker compose reports orphans.

use crate::engine::{ComposeEngine, number_of, service_of};
use crate::plan::{LABEL_CONFIG_HASH, Plan, PlannedContainer};
use crate::resolve::Project;
use crate::runner::console::Console;
use crate::spec::Spec;
use crate::translate::{TranslateError, container_spec};
use ch02_namespaces::records::{Record, RecordError};
use ch02_namespaces::{Container, RunError};

/// Why a container could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("{0}")]
    Translate(#[from] TranslateError),
    #[error("{0}")]
    Run(#[from] RunError),
    #[error(
        "container {0} is running, but no `up` of this terminal runs it: stop the project first (ch07-compose down)"
    )]
    Running(String),
    #[error(
        "the name {name} is taken by a container that is not project {project}'s: remove it (ch06-network rm {name})"
    )]
    NotOurs { name: String, project: String },
}

impl From<RecordError> for CreateError {
    fn from(error: RecordError) -> CreateError {
        CreateError::Run(error.into())
    }
}

// ANCHOR: ensure
/// The container of `planned`, made or kept; its id.
pub fn ensure(
    engine: &ComposeEngine,
    project: &Project,
    planned: &PlannedContainer,
    console: &Console,
) -> Result<String, CreateError> {
    let spec = container_spec(engine, project, planned)?;
    let existing = match engine.containers_find(&planned.name) {
        Ok(record) => Some(record),
        Err(RecordError::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    if let Some(old) = existing {
        if old.spec.compose.label(crate::plan::LABEL_PROJECT) != Some(project.name.as_str()) {
            return Err(CreateError::NotOurs {
                name: planned.name.clone(),
                project: project.name.clone(),
            });
        }
        if old.is_running() {
            return Err(CreateError::Running(planned.name.clone()));
        }
        if same(&old, &spec) {
            return Ok(old.spec.container().id.clone());
        }
        console.progress("Container", &planned.name, "Recreate");
        Container::open(engine, old.id())?.remove()?;
        let id = make(engine, spec, planned)?;
        console.progress("Container", &planned.name, "Recreated");
        return Ok(id);
    }
    console.progress("Container", &planned.name, "Creating");
    let id = make(engine, spec, planned)?;
    console.progress("Container", &planned.name, "Created");
    Ok(id)
}
// ANCHOR_END: ensure

use ch02_namespaces::RunSpec;

/// Whether the old container is what the file now describes.
fn same(old: &Record<Spec>, new: &Spec) -> bool {
    let hash = |s: &Spec| s.compose.label(LABEL_CONFIG_HASH).map(String::from);
    hash(&old.spec) == hash(new) && old.spec.storage.storage.layers == new.storage.storage.layers
}

fn make(
    engine: &ComposeEngine,
    spec: Spec,
    planned: &PlannedContainer,
) -> Result<String, CreateError> {
    let container = Container::create(engine, spec, Some(planned.image.clone()))?;
    Ok(container.record().id().to_string())
}

/// Removes the project's containers of `services` beyond the plan (a
/// smaller `--scale`); the orphans' names (services not in the file).
pub fn tidy(
    engine: &ComposeEngine,
    plan: &Plan,
    services: &[String],
    console: &Console,
) -> Result<Vec<String>, CreateError> {
    let mut orphans = Vec::new();
    for record in engine.project_containers(&plan.project)? {
        let service = service_of(&record);
        if !plan.start_order.iter().any(|s| s == service) {
            orphans.push(record.name().to_string());
            continue;
        }
        let planned = plan
            .containers_of(service)
            .any(|c| c.number == number_of(&record));
        if planned || !services.iter().any(|s| s == service) {
            continue;
        }
        if record.is_running() {
            return Err(CreateError::Running(record.name().to_string()));
        }
        console.progress("Container", record.name(), "Removing");
        Container::open(engine, record.id())?.remove()?;
        console.progress("Container", record.name(), "Removed");
    }
    Ok(orphans)
}

/// Docker compose's warning about orphans.
pub fn orphans_warning(project: &str, orphans: &[String]) -> String {
    format!(
        "warning: Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up. (project {project})",
        orphans.join(" ")
    )
}
