//! `up` in the foreground: the application runs as long as this process.
//!
//! ```text
//! images      build (up --build, or missing) or pull, each service's
//! resources   the project's networks and volumes
//! containers  made (or kept from the last up), all of them, in start order
//! the loop    one supervisor process per container, started in dependency
//!             order; their output printed behind their names; healthchecks
//!             run; exited containers restarted by their policy
//! stop        Ctrl-C or SIGTERM (or `down`, from another terminal): every
//!             container stopped, dependents before what they depend on,
//!             each with its stop_signal, SIGKILL after its
//!             stop_grace_period; a second Ctrl-C kills them all at once
//! ```
//!
//! This module is the preparation; [`crate::runner::run`] is the loop,
//! [`crate::runner::member`] a container as the loop sees it.

use crate::engine::ComposeEngine;
use crate::error::Invalid;
use crate::plan;
use crate::resolve::Project;
use crate::runner::child::SelfCommand;
use crate::runner::console::Console;
use crate::runner::create::{self, CreateError};
use crate::runner::images::{self, ImagesError};
use crate::runner::member::Member;
use crate::runner::resources::{self, ResourceError};
use crate::runner::run::Run;
use crate::spec::Spec;
use ch02_namespaces::Engine;
use std::collections::BTreeMap;

/// What `up` was asked.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// `--build`: build images even when they exist.
    pub build: bool,
    /// `--scale SERVICE=N`.
    pub scale: BTreeMap<String, u32>,
    /// `--abort-on-container-exit`.
    pub abort_on_container_exit: bool,
    /// `--exit-code-from SERVICE` (implies the above).
    pub exit_code_from: Option<String>,
    /// The services named (with their dependencies); all when empty.
    pub services: Vec<String>,
    /// Colours (on a terminal).
    pub colour: bool,
}

/// Why `up` failed.
#[derive(Debug, thiserror::Error)]
pub enum UpError {
    #[error("{0}")]
    Invalid(#[from] Invalid),
    #[error("{0}")]
    Images(#[from] ImagesError),
    #[error("{0}")]
    Resources(#[from] ResourceError),
    #[error("{0}")]
    Create(#[from] CreateError),
    #[error("{call}: {errno}")]
    Sys {
        call: &'static str,
        errno: nix::errno::Errno,
    },
    #[error("cannot start the supervisor of {name}: {source}")]
    Spawn {
        name: String,
        source: std::io::Error,
    },
    /// The application could not come up (the containers were stopped).
    #[error("{0}")]
    Failed(String),
}

pub(crate) fn sys(call: &'static str) -> impl FnOnce(nix::errno::Errno) -> UpError {
    move |errno| UpError::Sys { call, errno }
}

// ANCHOR: up
/// Runs the project in the foreground; the exit code of `up`.
pub fn up(
    engine: &ComposeEngine,
    project: &Project,
    options: &UpOptions,
    me: &SelfCommand,
) -> Result<i32, UpError> {
    let services = if options.services.is_empty() {
        plan::start_order(project)
    } else {
        plan::with_dependencies(project, &options.services)?
    };
    if let Some(service) = &options.exit_code_from
        && !services.contains(service)
    {
        return Err(UpError::Failed(format!(
            "--exit-code-from {service}: no such service among those started"
        )));
    }
    // What no chapter implements is refused before anything is made.
    for service in &services {
        crate::translate::check_service(project, service).map_err(ImagesError::from)?;
    }
    let plan = plan::plan(project, &options.scale)?;
    let planned: Vec<_> = plan
        .containers
        .iter()
        .filter(|c| services.contains(&c.service))
        .collect();
    let names: Vec<(String, String)> = planned
        .iter()
        .map(|c| (c.name.clone(), c.service.clone()))
        .collect();
    let console = Console::new(&names, options.colour);

    images::ensure(engine, project, &services, options.build)?;
    resources::create(engine, project, &plan, &services, &console)?;
    let orphans = create::tidy(engine, &plan, &services, &console)?;
    if !orphans.is_empty() {
        eprintln!("{}", create::orphans_warning(&plan.project, &orphans));
    }
    let mut members = Vec::new();
    for container in &planned {
        let id = create::ensure(engine, project, container, &console)?;
        let record = engine
            .containers()
            .load::<Spec>(&id)
            .map_err(CreateError::from)?;
        members.push(Member::new(
            container.name.clone(),
            container.service.clone(),
            record.spec,
        ));
    }
    let shown: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
    console.say(&format!("Attaching to {}", shown.join(", ")));

    let mut run = Run::new(
        engine, project, options, me, console, &plan, services, members,
    )?;
    run.run()
}
// ANCHOR_END: up
