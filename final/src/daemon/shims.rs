//! Starting containers through shims, watching them end, restart policies.

use super::Daemon;
use super::state;
use crate::engine::Spec;
use crate::shim::launcher::Request;
use ch02_namespaces::records::{ProcessId, RecordError, Status};
use ch02_namespaces::{Container, Engine};
use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::oneshot;

/// An attach client waiting for its container to start.
pub struct PendingAttach {
    /// What it wants (the shim's WANTS_* bits).
    pub wants: u8,
    /// Where its connection to the shim goes once the shim listens.
    pub deliver: oneshot::Sender<UnixStream>,
}

/// A container's process ended.
#[derive(Debug, Clone)]
pub struct Exit {
    pub id: String,
    pub code: i32,
    /// The container was removed with it (`--rm`).
    pub removed: bool,
}

/// Why a start failed: the exit code a client should report (126/127
/// when the command cannot run, 125 otherwise) and the message.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StartError {
    pub code: i32,
    pub message: String,
}

impl StartError {
    fn engine(message: impl Into<String>) -> StartError {
        StartError {
            code: 125,
            message: message.into(),
        }
    }
}

/// Connects to the attach socket of the container whose directory is
/// `dir`. The path goes through an open descriptor of the directory, so
/// that its length never passes the 108 bytes a socket path may have.
pub fn connect_attach(dir: &std::path::Path, wants: u8) -> std::io::Result<UnixStream> {
    use std::io::Write;
    let handle = std::fs::File::open(dir)?;
    let path = format!("/proc/self/fd/{}/attach.sock", handle.as_raw_fd());
    let mut stream = UnixStream::connect(path)?;
    stream.write_all(&[wants])?;
    Ok(stream)
}

// ANCHOR: start
/// Starts container `id` through a new shim, lets in the attach clients
/// that wait for it, and returns once it runs (or why it could not).
pub async fn start(daemon: &Arc<Daemon>, id: &str) -> Result<(), StartError> {
    let pending = daemon
        .pending_attach
        .lock()
        .map(|mut p| p.remove(id).unwrap_or_default())
        .unwrap_or_default();
    let (status_read, status_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| StartError::engine(e.to_string()))?;
    let dir = daemon.engine.dir(id);
    let shim_log = std::fs::File::create(dir.join("shim.log"))
        .map_err(|e| StartError::engine(format!("the shim's log: {e}")))?;
    // The launcher forks the shim (see `shim::launcher` for why it is
    // not started as a program of its own).
    daemon
        .launcher
        .launch(Request {
            id: id.to_string(),
            attached: pending.len(),
            status: status_write,
            log: shim_log,
        })
        .map_err(|e| StartError::engine(format!("starting the shim: {e}")))?;

    let status = tokio::fs::File::from_std(std::fs::File::from(status_read));
    let mut lines = BufReader::new(status).lines();
    let mut pending = Some(pending);
    loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .map_err(|_| StartError::engine("the shim did not answer within 60 s"))?
            .map_err(|e| StartError::engine(e.to_string()))?;
        let Some(line) = line else {
            return Err(StartError::engine(
                "the shim ended before the container started (see shim.log in the container's directory)",
            ));
        };
        if line == "listening" {
            for waiting in pending.take().unwrap_or_default() {
                if let Ok(stream) = connect_attach(&dir, waiting.wants) {
                    let _ = waiting.deliver.send(stream);
                }
            }
        } else if line == "started" {
            break;
        } else if let Some(failure) = line.strip_prefix("failed ") {
            let (code, message) = failure.split_once(' ').unwrap_or(("125", failure));
            return Err(StartError {
                code: code.parse().unwrap_or(125),
                message: message.to_string(),
            });
        }
    }
    state::update(&daemon.engine, id, |s| {
        s.stopped_by_user = false;
        s.restarting = false;
    });
    publish(daemon, "start", id);
    watch(daemon.clone(), id.to_string());
    super::health::monitor(daemon.clone(), id.to_string());
    Ok(())
}
// ANCHOR_END: start

/// Publishes a container event with docker's attributes (name, image).
pub fn publish(daemon: &Daemon, action: &str, id: &str) {
    let mut attributes = BTreeMap::new();
    if let Ok(record) = daemon.engine.containers().find::<Spec>(id) {
        attributes.insert("name".to_string(), record.name().to_string());
        attributes.insert(
            "image".to_string(),
            record.image.clone().unwrap_or_default(),
        );
        for (key, value) in &record.spec.engine.labels {
            attributes.insert(key.clone(), value.clone());
        }
    }
    publish_with(daemon, action, id, attributes);
}

pub fn publish_with(daemon: &Daemon, action: &str, id: &str, attributes: BTreeMap<String, String>) {
    daemon.events.publish("container", action, id, attributes);
}

// ANCHOR: watch
/// Watches the shim of running container `id` until it exits (through a
/// pidfd: the shim is not our child), then handles the exit.
pub fn watch(daemon: Arc<Daemon>, id: String) {
    tokio::spawn(async move {
        let supervisor = daemon
            .engine
            .containers()
            .find::<Spec>(&id)
            .ok()
            .and_then(|r| r.state.supervisor);
        if let Some(supervisor) = supervisor {
            wait_for_exit(supervisor).await;
        }
        exited(&daemon, &id).await;
    });
}

/// Waits until `process` exits.
pub async fn wait_for_exit(process: ProcessId) {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, process.pid, 0) };
    if fd < 0 || !process.is_alive() {
        return;
    }
    // SAFETY: the kernel just gave us this descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // SAFETY: the descriptor is ours alone and stays open (owned by the
    // AsyncFd) for as long as it is registered.
    if let Ok(fd) = unsafe { tokio::io::unix::AsyncFd::register(fd) } {
        let _ = fd.readable().await;
    }
}
// ANCHOR_END: watch

/// A container's shim has ended: record, release, tell, and restart when
/// its policy says so.
async fn exited(daemon: &Arc<Daemon>, id: &str) {
    let engine_dir = daemon.engine.dir(id);
    let record = daemon.engine.containers().find::<Spec>(id);
    let (code, removed, spec) = match record {
        Ok(record) => {
            // A shim that was killed could not release the container's
            // cgroup and network: do it for it.
            if record.state.error.is_some()
                && let Ok(container) = Container::open(&daemon.engine, id)
            {
                let _ = container.release();
            }
            let code = record.state.exit_code.unwrap_or(137);
            // `--rm`: removed now that its exit code is known.
            let removed = record.spec.engine.auto_remove && remove_now(daemon, id);
            (code, removed, (!removed).then_some(record.spec))
        }
        // Removed with its exit (`--rm`).
        Err(RecordError::NotFound(_)) => (0, true, None),
        Err(_) => (0, false, None),
    };
    let mut attributes = BTreeMap::new();
    attributes.insert("exitCode".to_string(), code.to_string());
    if let Some(spec) = &spec {
        attributes.insert("name".to_string(), spec.name.clone());
    }
    publish_with(daemon, "die", id, attributes);
    if removed {
        publish_with(daemon, "destroy", id, BTreeMap::new());
    }
    let _ = daemon.exits.send(Exit {
        id: id.to_string(),
        code,
        removed,
    });
    if let Some(spec) = spec {
        let ran = daemon
            .engine
            .containers()
            .find::<Spec>(id)
            .ok()
            .and_then(|r| Some(r.state.finished_at?.saturating_sub(r.state.started_at?)))
            .unwrap_or(0);
        // A run of ten seconds or more resets the back-off, as in docker.
        state::update(&daemon.engine, id, |s| {
            s.backoff = if ran >= 10_000_000_000 {
                0
            } else {
                s.backoff + 1
            };
        });
        let run_state = state::load(&engine_dir);
        if should_restart(&spec, code, &run_state) {
            restart_later(
                daemon.clone(),
                id.to_string(),
                run_state.backoff.saturating_sub(1),
            );
        }
    }
}

/// Removes container `id` (`--rm`), and its anonymous volumes as docker
/// does, saying why when it cannot.
pub fn remove_now(daemon: &Daemon, id: &str) -> bool {
    let record = daemon.engine.containers().load::<Spec>(id);
    let removal = Container::open(&daemon.engine, id).and_then(Container::remove);
    match (&removal, record) {
        (Err(error), _) => eprintln!("skiff daemon: removing container {id}: {error}"),
        (Ok(()), Ok(record)) => crate::api::volumes::remove_anonymous(daemon, &record),
        (Ok(()), Err(_)) => {}
    }
    removal.is_ok()
}

// ANCHOR: restart
/// Docker's restart policies.
pub fn should_restart(spec: &Spec, code: i32, run: &state::RunState) -> bool {
    let policy = &spec.engine.restart;
    if run.stopped_by_user {
        return false;
    }
    match policy.name.as_str() {
        "always" | "unless-stopped" => true,
        "on-failure" => {
            code != 0
                && (policy.maximum_retry_count == 0
                    || run.restart_count < policy.maximum_retry_count)
        }
        _ => false,
    }
}

/// Docker's back-off: 100 ms, doubled at each restart, at most a minute.
pub fn backoff(restarts: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << restarts.min(10))).min(Duration::from_secs(60))
}

fn restart_later(daemon: Arc<Daemon>, id: String, restarts: u32) {
    let dir = daemon.engine.dir(&id);
    state::update(&daemon.engine, &id, |s| s.restarting = true);
    tokio::spawn(async move {
        tokio::time::sleep(backoff(restarts)).await;
        // Stopped or removed meanwhile: nothing to do.
        let run = state::load(&dir);
        if run.stopped_by_user || !dir.is_dir() {
            return;
        }
        state::update(&daemon.engine, &id, |s| s.restart_count += 1);
        if start(&daemon, &id).await.is_ok() {
            publish(&daemon, "restart", &id);
        } else {
            state::update(&daemon.engine, &id, |s| s.restarting = false);
        }
    });
}
// ANCHOR_END: restart

// ANCHOR: reconcile
/// At daemon start: watch the containers whose shims run; release the
/// ones whose shims died meanwhile; start those a restart policy keeps up.
pub async fn reconcile(daemon: &Arc<Daemon>) {
    // Network endpoints whose owner (a shim) died while no daemon ran:
    // their veth pairs, addresses, rules and names go first.
    if let Err(error) = daemon.engine.network().release_stale() {
        eprintln!("skiff daemon: releasing stale network endpoints: {error}");
    }
    let records = daemon
        .engine
        .containers()
        .list::<Spec>()
        .unwrap_or_default();
    for record in records {
        let id = record.id().to_string();
        if record.state.status == Status::Running {
            super::health::monitor(daemon.clone(), id.clone());
            watch(daemon.clone(), id);
            continue;
        }
        if record.state.error.is_some()
            && let Ok(container) = Container::open(&daemon.engine, &id)
        {
            let _ = container.release();
        }
        if record.spec.engine.auto_remove && record.state.status == Status::Exited {
            remove_now(daemon, &id);
            continue;
        }
        let run = state::load(&daemon.engine.dir(&id));
        let code = record.state.exit_code.unwrap_or(0);
        let keep_up = matches!(
            record.spec.engine.restart.name.as_str(),
            "always" | "unless-stopped"
        ) || (run.restarting && should_restart(&record.spec, code, &run));
        if record.state.status == Status::Exited && keep_up && !run.stopped_by_user {
            let daemon = daemon.clone();
            tokio::spawn(async move {
                let _ = start(&daemon, &id).await;
            });
        }
    }
}
// ANCHOR_END: reconcile
