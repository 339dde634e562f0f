//! `down`: the application taken apart, from any terminal.
//!
//! `down` finds the project's containers by their labels, in the records;
//! nothing of `up`'s memory is needed. When an `up` still runs them (its
//! pid is noted beside each record, see [`crate::runner::attended`]),
//! `down` asks it to stop them, with SIGTERM, as Ctrl-C in its terminal
//! would: the containers then stop in order and are not restarted behind
//! `down`'s back. Whatever still runs after that (an `up` that was killed
//! left its supervisors) is stopped here, dependents first. Then the
//! containers are removed, then the networks, then, with `-v`, the named
//! volumes: the data goes only when asked.

use crate::engine::{ComposeEngine, service_of};
use crate::plan::{self, Plan};
use crate::resolve::Project;
use crate::runner::attended;
use crate::runner::console::Console;
use crate::runner::create;
use crate::runner::resources::{self, ResourceError};
use crate::spec::Spec;
use ch02_namespaces::RunError;
use ch02_namespaces::records::{ProcessId, Record, RecordError};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What `down` was asked.
#[derive(Debug, Clone, Copy, Default)]
pub struct DownOptions {
    /// `-v`: remove the named volumes too.
    pub volumes: bool,
    /// `--remove-orphans`: and the containers of services no longer in
    /// the file.
    pub remove_orphans: bool,
}

/// Why `down` failed.
#[derive(Debug, thiserror::Error)]
pub enum DownError {
    #[error("{0}")]
    Run(#[from] RunError),
    #[error("{0}")]
    Resources(#[from] ResourceError),
    #[error("{0}")]
    Invalid(#[from] crate::error::Invalid),
}

impl From<RecordError> for DownError {
    fn from(error: RecordError) -> DownError {
        DownError::Run(error.into())
    }
}

/// How long a running `up` is given to stop its containers.
const UP_GRACE: Duration = Duration::from_secs(30);

// ANCHOR: down
/// Stops and removes the project's containers, networks and (with `-v`)
/// volumes.
pub fn down(
    engine: &ComposeEngine,
    project: &Project,
    options: DownOptions,
    console: &Console,
) -> Result<(), DownError> {
    stop_ups(engine, &project.name)?;
    let plan = plan::plan(project, &BTreeMap::new())?;
    let mut records = engine.project_containers(&project.name)?;
    let (known, orphans): (Vec<_>, Vec<_>) = records
        .drain(..)
        .partition(|r| project.services.contains_key(service_of(r)));
    let mut doomed = known;
    if options.remove_orphans {
        doomed.extend(orphans);
    } else if !orphans.is_empty() {
        let names: Vec<String> = orphans.iter().map(|r| r.name().to_string()).collect();
        eprintln!("{}", create::orphans_warning(&project.name, &names));
    }
    for level in stop_levels(&plan, doomed) {
        stop_level(engine, &level, console);
        for record in &level {
            console.progress("Container", record.name(), "Removing");
            ch02_namespaces::verbs::rm(engine, record.id(), true)?;
            console.progress("Container", record.name(), "Removed");
        }
    }
    resources::remove(engine, &plan, options.volumes, console)?;
    Ok(())
}
// ANCHOR_END: down

/// Asks the `up`s running the project's containers to stop them; waits
/// for them to end.
fn stop_ups(engine: &ComposeEngine, project: &str) -> Result<(), DownError> {
    let mut ups: Vec<ProcessId> = Vec::new();
    for record in engine.project_containers(project)? {
        if let Some(up) = attended::read(engine, record.id()).up
            && up.is_alive()
            && !ups.contains(&up)
        {
            ups.push(up);
        }
    }
    for up in &ups {
        let _ = kill(Pid::from_raw(up.pid), Signal::SIGTERM);
    }
    let deadline = Instant::now() + UP_GRACE;
    while ups.iter().any(ProcessId::is_alive) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// The containers in the order to stop them, in groups: one service's
/// containers per group, dependents before what they depend on (the
/// reverse of the start order). Containers of services the file no
/// longer has go first.
fn stop_levels(plan: &Plan, records: Vec<Record<Spec>>) -> Vec<Vec<Record<Spec>>> {
    let order = plan.stop_order();
    let position = |r: &Record<Spec>| {
        order
            .iter()
            .position(|s| s == service_of(r))
            .map_or(0, |p| p + 1)
    };
    let mut levels: Vec<Vec<Record<Spec>>> = Vec::new();
    let mut sorted = records;
    sorted.sort_by_key(|r| (position(r), r.name().to_string()));
    for record in sorted {
        let p = position(&record);
        match levels.last_mut() {
            Some(level) if level.first().map(&position) == Some(p) => level.push(record),
            _ => levels.push(vec![record]),
        }
    }
    levels
}

/// Stops the running containers of one group at once (a thread each):
/// each gets its stop signal, and SIGKILL after its grace period. (This
/// process creates no container, so threads are fine here.)
fn stop_level(engine: &ComposeEngine, level: &[Record<Spec>], console: &Console) {
    let running: Vec<&Record<Spec>> = level.iter().filter(|r| r.is_running()).collect();
    for record in &running {
        console.progress("Container", record.name(), "Stopping");
    }
    std::thread::scope(|scope| {
        for record in &running {
            scope.spawn(move || {
                let section = &record.spec.compose;
                let signal = section
                    .stop_signal
                    .as_deref()
                    .and_then(|s| ch02_namespaces::cli::parse_signal(s).ok())
                    .unwrap_or(Signal::SIGTERM);
                let grace = Duration::from_millis(section.stop_grace_period_ms.unwrap_or(10_000));
                let _ = ch02_namespaces::verbs::stop_with(engine, record.id(), signal, grace);
            });
        }
    });
    for record in &running {
        console.progress("Container", record.name(), "Stopped");
    }
}
