//! The verbs that act on containers by name, through their records: `ps`,
//! `stop`, `kill`, `rm`, `prune`, `inspect`. Every later chapter's binary
//! keeps them, with its own engine (chapter 3's `rm` also removes a
//! container's cgroup, chapter 4's its writable layer).

use crate::records::{ProcessId, Record, Status, now};
use crate::run::{Container, Engine, RunError};
use crate::spec::{RunSpec, Spec};
use ch01_process::explain;
use ch01_process::shell::{human_duration, table};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::time::{Duration, Instant};

/// How long `rm -f` and `kill` wait for a container's supervisor to finish
/// (it records the exit and releases the container's resources).
const SUPERVISOR_GRACE: Duration = Duration::from_secs(10);

// ANCHOR: ps
/// `docker ps`: the running containers, or every one with `all`.
pub fn ps<E: Engine>(engine: &E, all: bool) -> Result<Vec<Record<Spec>>, RunError> {
    let records = engine.containers().list::<Spec>()?;
    Ok(records
        .into_iter()
        .filter(|r| all || r.is_running())
        .collect())
}

/// The table `docker ps` prints.
pub fn ps_table(records: &[Record<Spec>]) -> String {
    ps_table_with_ports(records, None)
}

/// What a PORTS column says of a container.
pub type PortsColumn<'a> = &'a dyn Fn(&Record<Spec>) -> String;

/// The table `docker ps` prints, with a PORTS column before NAMES when
/// `ports` is given (chapter 6 publishes ports: it says which).
pub fn ps_table_with_ports(records: &[Record<Spec>], ports: Option<PortsColumn<'_>>) -> String {
    let mut header = vec!["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS"];
    header.extend(ports.is_some().then_some("PORTS"));
    header.push("NAMES");
    let mut rows = vec![header.into_iter().map(String::from).collect::<Vec<_>>()];
    for record in records {
        let mut row = vec![
            record.spec.short_id().to_string(),
            image_column(record),
            command_column(&record.spec.process.argv),
            format!("{} ago", since(record.created)),
            status(record),
        ];
        row.extend(ports.map(|ports| ports(record)));
        row.push(record.spec.name.clone());
        rows.push(row);
    }
    table(&rows)
}
// ANCHOR_END: ps

/// The image, or for a container of a plain directory, the directory.
fn image_column(record: &Record<Spec>) -> String {
    match &record.image {
        Some(image) => image.clone(),
        None => record.spec.rootfs.display().to_string(),
    }
}

/// The command, quoted and cut to 20 characters as docker shows it.
pub fn command_column(argv: &[String]) -> String {
    let command = argv.join(" ");
    let shown: String = if command.chars().count() > 20 {
        command.chars().take(19).chain(['…']).collect()
    } else {
        command
    };
    format!("\"{shown}\"")
}

/// How long ago a Unix time in nanoseconds was, as docker says it.
pub fn since(unix_nanos: u64) -> String {
    human_duration(Duration::from_nanos(now().saturating_sub(unix_nanos)))
}

/// "Up 5 seconds", "Up 2 minutes (Paused)", "Exited (0) 3 seconds ago", "Created".
pub fn status(record: &Record<Spec>) -> String {
    let state = &record.state;
    match state.status {
        Status::Created => "Created".into(),
        Status::Running => {
            let up = since(state.started_at.unwrap_or(record.created));
            if state.paused {
                format!("Up {up} (Paused)")
            } else {
                format!("Up {up}")
            }
        }
        Status::Exited => format!(
            "Exited ({}) {} ago",
            state.exit_code.unwrap_or(0),
            since(state.finished_at.unwrap_or(record.created))
        ),
    }
}

/// `docker kill`: sends `signal` to the container's first process.
pub fn kill_container<E: Engine>(engine: &E, wanted: &str, signal: Signal) -> Result<(), RunError> {
    let record = engine.containers().find::<E::Spec>(wanted)?;
    let first = record.state.pid.filter(|pid| pid.is_alive());
    match first.filter(|_| record.is_running()) {
        Some(first) => {
            explain!("kill({}, {})", first.pid, signal.as_str());
            let _ = kill(Pid::from_raw(first.pid), signal);
            Ok(())
        }
        None => Err(RunError::NotRunning(record.name().to_string())),
    }
}

// ANCHOR: stop
/// `docker stop`: SIGTERM, then SIGKILL after `timeout`, then waits for
/// the container's supervisor to record the exit.
pub fn stop<E: Engine>(engine: &E, wanted: &str, timeout: Duration) -> Result<(), RunError> {
    stop_with(engine, wanted, Signal::SIGTERM, timeout)
}

/// [`stop`], with the first signal chosen (an image's `StopSignal`).
pub fn stop_with<E: Engine>(
    engine: &E,
    wanted: &str,
    signal: Signal,
    timeout: Duration,
) -> Result<(), RunError> {
    let record = engine.containers().find::<E::Spec>(wanted)?;
    if !record.is_running() {
        return Ok(()); // docker stop of a stopped container succeeds
    }
    kill_container(engine, wanted, signal)?;
    if !wait_until_gone(record.state.pid, timeout) {
        explain!(
            "stop timeout of {}s expired: sending SIGKILL",
            timeout.as_secs()
        );
        kill_container(engine, wanted, Signal::SIGKILL)?;
    }
    wait_for_supervisor(&record)
}
// ANCHOR_END: stop

/// Waits until the supervisor of `record` has finished (it writes the exit
/// into the record, then releases the container's resources); kills it if
/// it takes longer than [`SUPERVISOR_GRACE`].
fn wait_for_supervisor<S: RunSpec>(record: &Record<S>) -> Result<(), RunError> {
    if wait_until_gone(record.state.supervisor, SUPERVISOR_GRACE) {
        return Ok(());
    }
    if let Some(supervisor) = record.state.supervisor {
        explain!(
            "kill({}, SIGKILL) (the supervisor is stuck)",
            supervisor.pid
        );
        let _ = kill(Pid::from_raw(supervisor.pid), Signal::SIGKILL);
    }
    if wait_until_gone(record.state.supervisor, SUPERVISOR_GRACE) {
        Ok(())
    } else {
        Err(RunError::WontStop {
            name: record.name().to_string(),
            seconds: SUPERVISOR_GRACE.as_secs(),
        })
    }
}

fn wait_until_gone(process: Option<ProcessId>, timeout: Duration) -> bool {
    let Some(process) = process else {
        return true;
    };
    let deadline = Instant::now() + timeout;
    while process.is_alive() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

// ANCHOR: rm
/// `docker rm [-f]`: removes a container that does not run; with `force`,
/// kills a running one first.
pub fn rm<E: Engine>(engine: &E, wanted: &str, force: bool) -> Result<(), RunError> {
    let record = engine.containers().find::<E::Spec>(wanted)?;
    if record.is_running() {
        if !force {
            return Err(RunError::StillRunning(record.name().to_string()));
        }
        kill_container(engine, wanted, Signal::SIGKILL)?;
        wait_for_supervisor(&record)?;
    }
    match Container::open(engine, record.id()) {
        Ok(container) => container.remove(),
        // Its supervisor removed it (--rm) as it ended.
        Err(RunError::Record(crate::records::RecordError::NotFound(_))) => Ok(()),
        Err(error) => Err(error),
    }
}
// ANCHOR_END: rm

/// `docker container prune`: removes every container that does not run,
/// and returns their ids.
pub fn prune<E: Engine>(engine: &E) -> Result<Vec<String>, RunError> {
    let mut removed = Vec::new();
    for record in engine.containers().list::<E::Spec>()? {
        if record.state.status != Status::Running {
            Container::open(engine, record.id())?.remove()?;
            removed.push(record.id().to_string());
        }
    }
    Ok(removed)
}

/// `docker inspect`: the records of the containers, as a JSON array.
pub fn inspect<E: Engine>(engine: &E, wanted: &[String]) -> Result<String, RunError> {
    let containers = engine.containers();
    let records = wanted
        .iter()
        .map(|name| {
            let record = containers.find::<Spec>(name)?;
            containers.load_json(&record.spec.id)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(serde_json::to_string_pretty(&records).expect("records are plain data"))
}
