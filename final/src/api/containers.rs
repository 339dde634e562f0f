//! The container endpoints: list, inspect, start, stop, kill, wait, logs...

use super::query::query_flag;
use super::version::ApiVersion;
use super::{ApiError, ApiResult, blocking, networks};
use crate::daemon::events::Event;
use crate::daemon::health::{self, HealthState};
use crate::daemon::{Daemon, shims, state};
use crate::engine::Spec;
use crate::frames;
use crate::logs::{self, Query as LogQuery};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use ch02_namespaces::records::{Record, Status};
use ch02_namespaces::{Engine, RunError, RunSpec, verbs};
use ch05_images::history::rfc3339_nanos;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The record of container `wanted` (name, id or prefix).
pub fn record_of(daemon: &Daemon, wanted: &str) -> ApiResult<Record<Spec>> {
    Ok(daemon.engine.containers().find::<Spec>(wanted)?)
}

/// docker's state word: created, running, paused, restarting, exited.
pub fn state_word(daemon: &Daemon, record: &Record<Spec>) -> &'static str {
    match record.state.status {
        Status::Running if record.state.paused => "paused",
        Status::Running => "running",
        Status::Created => "created",
        Status::Exited if state::load(&daemon.engine.dir(record.id())).restarting => "restarting",
        Status::Exited => "exited",
    }
}

/// `State.Health` of a container with a healthcheck (starting until the
/// first check has run).
fn health_of(daemon: &Daemon, record: &Record<Spec>) -> Option<HealthState> {
    health::command(record.spec.engine.healthcheck.as_ref())?;
    Some(
        health::load(&daemon.engine.dir(record.id())).unwrap_or_else(|| HealthState {
            status: "starting".to_string(),
            ..HealthState::default()
        }),
    )
}

fn nanos_to_rfc3339(nanos: Option<u64>) -> String {
    nanos.map_or_else(|| "0001-01-01T00:00:00Z".to_string(), rfc3339_nanos)
}

/// The `Command` of `docker ps`: the program and its arguments on one
/// line, an argument with a space in single quotes, as dockerd writes it
/// (`sh -c 'while true; do ...'`). Only for showing: not shell quoting.
fn command_line(path: &str, args: &[String]) -> String {
    std::iter::once(path.to_string())
        .chain(args.iter().map(|arg| {
            if arg.contains(' ') {
                format!("'{arg}'")
            } else {
                arg.clone()
            }
        }))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `docker ps` filters: `{"status":["exited"],"name":["web"],...}` (or,
/// from old clients, `{"status":{"exited":true}}`).
#[derive(Debug, Clone, Default)]
pub struct Filters(BTreeMap<String, Vec<String>>);

impl Filters {
    pub fn parse(text: Option<&str>) -> Filters {
        let Some(value) = text.and_then(|t| serde_json::from_str::<Value>(t).ok()) else {
            return Filters::default();
        };
        let mut filters = BTreeMap::new();
        if let Some(map) = value.as_object() {
            for (key, values) in map {
                let list: Vec<String> = match values {
                    Value::Array(items) => items
                        .iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect(),
                    Value::Object(set) => set.keys().cloned().collect(),
                    Value::String(one) => vec![one.clone()],
                    _ => Vec::new(),
                };
                filters.insert(key.clone(), list);
            }
        }
        Filters(filters)
    }

    pub fn get(&self, key: &str) -> Option<&Vec<String>> {
        self.0.get(key)
    }

    pub fn labels_match(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.get("label").is_none_or(|wanted| {
            wanted.iter().all(|w| match w.split_once('=') {
                Some((k, v)) => labels.get(k).is_some_and(|l| l == v),
                None => labels.contains_key(w),
            })
        })
    }

    /// Whether a container passes the filters.
    pub fn matches(&self, state: &str, record: &Record<Spec>) -> bool {
        let any = |key: &str, test: &dyn Fn(&str) -> bool| {
            self.0
                .get(key)
                .is_none_or(|values| values.iter().any(|v| test(v)))
        };
        any("status", &|v| v == state)
            && any("name", &|v| {
                record.name().contains(v.trim_start_matches('/'))
            })
            && any("id", &|v| record.id().starts_with(v))
            && any("ancestor", &|v| {
                record.image.as_deref() == Some(v)
                    || record.image.as_deref().is_some_and(|i| {
                        i.ends_with(&format!("/{v}")) || i.ends_with(&format!("/{v}:latest"))
                    })
                    || record.spec.engine.image_id.contains(v)
            })
            && self.labels_match(&record.spec.engine.labels)
    }

    /// Whether an event passes the filters (`type`, `event`, `container`, `label`).
    pub fn matches_event(&self, event: &Event) -> bool {
        let any = |key: &str, value: &str| {
            self.0
                .get(key)
                .is_none_or(|values| values.iter().any(|v| v == value))
        };
        let container_ok = self.0.get("container").is_none_or(|values| {
            values.iter().any(|v| {
                event.actor.id.starts_with(v) || event.actor.attributes.get("name") == Some(v)
            })
        });
        // `event=health_status` matches `health_status: healthy` (and so
        // for `exec_create: ...`, `exec_start: ...`): the actions whose
        // detail follows a colon are matched by what comes before it.
        let action = event
            .action
            .split_once(": ")
            .map_or(event.action.as_str(), |(a, _)| a);
        let event_ok = self
            .0
            .get("event")
            .is_none_or(|values| values.iter().any(|v| *v == event.action || *v == action));
        any("type", &event.kind)
            && event_ok
            && container_ok
            && self.labels_match(&event.actor.attributes)
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    all: Option<String>,
    limit: Option<i64>,
    filters: Option<String>,
}

/// The command as `ps` and `inspect` show it.
fn command_of(record: &Record<Spec>) -> (String, Vec<String>) {
    let argv = &record.spec.process.argv;
    let path = argv.first().cloned().unwrap_or_default();
    (path, argv.iter().skip(1).cloned().collect())
}

/// `GET /containers/json`: `docker ps`.
pub async fn list(
    State(daemon): State<Arc<Daemon>>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Vec<Value>>> {
    blocking(move || {
        let filters = Filters::parse(query.filters.as_deref());
        let all = query_flag(&query.all) || filters.get("status").is_some();
        let mut records = daemon.engine.containers().list::<Spec>()?;
        records.reverse(); // newest first, as docker lists them
        let mut out = Vec::new();
        for record in &records {
            let state = state_word(&daemon, record);
            if (!all && state != "running" && state != "paused") || !filters.matches(state, record)
            {
                continue;
            }
            let health = health_of(&daemon, record);
            if let Some(wanted) = filters.get("health") {
                let word = health.as_ref().map_or("none", |h| h.status.as_str());
                if !wanted.iter().any(|w| w == word) {
                    continue;
                }
            }
            let legacy = to_legacy(record);
            let (path, args) = command_of(record);
            let mut status = verbs::status(&legacy);
            if let Some(health) = health.filter(|_| record.is_running()) {
                status += &match health.status.as_str() {
                    "starting" => " (health: starting)".to_string(),
                    word => format!(" ({word})"),
                };
            }
            out.push(json!({
                "Id": record.id(),
                "Names": [format!("/{}", record.name())],
                "Image": image_as_named(record),
                "ImageID": record.spec.engine.image_id,
                "Command": command_line(&path, &args),
                "Created": (record.created / 1_000_000_000) as i64,
                "Ports": networks::ports_list(&daemon, record),
                "Labels": record.spec.engine.labels,
                "State": state,
                "Status": status,
                "HostConfig": {"NetworkMode": networks::mode_name(record)},
                "NetworkSettings": {"Networks": networks::settings(&daemon, record)["Networks"].clone()},
                "Mounts": mounts_of(&daemon, record),
            }));
            if query.limit.is_some_and(|l| l > 0 && out.len() as i64 >= l) {
                break;
            }
        }
        Ok(Json(out))
    })
    .await
}

/// The record through chapter 2's eyes (its `status` words are docker's).
/// The image as the client named it (`alpine`), as dockerd keeps it for
/// `ps` and `inspect`; the record has the reference made whole
/// (`docker.io/library/alpine:latest`), shown when the request named none.
fn image_as_named(record: &Record<Spec>) -> Value {
    match record.spec.engine.config["Image"]
        .as_str()
        .filter(|i| !i.is_empty())
    {
        Some(named) => json!(named),
        None => json!(record.image.clone().unwrap_or_default()),
    }
}

fn to_legacy(record: &Record<Spec>) -> Record<ch02_namespaces::Spec> {
    Record {
        spec: record.spec.container().clone(),
        image: record.image.clone(),
        created: record.created,
        state: record.state.clone(),
    }
}

/// `Mounts` of `inspect` and `ps`: a volume's `Source` is its data
/// directory on the host, as docker shows it.
fn mounts_of(daemon: &Daemon, record: &Record<Spec>) -> Vec<Value> {
    use ch04_overlayfs::volumes::VolumeSource;
    let volumes = daemon.engine.images().overlay().volumes();
    let data = |name: &str| {
        volumes
            .path(name)
            .map(|path| path.display().to_string())
            .unwrap_or_default()
    };
    record
        .spec
        .storage()
        .mounts
        .iter()
        .map(|mount| {
            let (kind, name, source) = match &mount.source {
                VolumeSource::Bind(path) => ("bind", String::new(), path.display().to_string()),
                VolumeSource::Named(name) | VolumeSource::Anonymous(name) => {
                    ("volume", name.clone(), data(name))
                }
                VolumeSource::Tmpfs => ("tmpfs", String::new(), String::new()),
            };
            json!({"Type": kind, "Name": name, "Source": source,
                   "Destination": mount.target, "RW": !mount.read_only, "Mode": if mount.read_only {"ro"} else {""}})
        })
        .collect()
}

/// `GET /containers/{id}/json`: `docker inspect`.
pub async fn inspect(
    State(daemon): State<Arc<Daemon>>,
    version: ApiVersion,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    blocking(move || {
        let record = record_of(&daemon, &id)?;
        let mut inspected = inspect_json(&daemon, &record);
        if version.before(1, 45) {
            networks::with_short_id_alias(&mut inspected, record.spec.short_id());
        }
        Ok(Json(inspected))
    })
    .await
}

/// `Config.Env` as dockerd shows it: the process's environment, and the
/// bare names the client sent (`KEY` without `=`: "unset KEY"), which the
/// daemon never gives the process (see `create::without_bare_names`).
fn env_as_configured(spec: &Spec) -> Vec<String> {
    let mut env = spec.process.env.clone();
    let sent = spec.engine.config.get("Env").and_then(Value::as_array);
    for name in sent.into_iter().flatten().filter_map(Value::as_str) {
        if !name.contains('=') && !env.iter().any(|e| e == name) {
            env.push(name.to_string());
        }
    }
    env
}

pub fn inspect_json(daemon: &Daemon, record: &Record<Spec>) -> Value {
    let dir = daemon.engine.dir(record.id());
    let run = state::load(&dir);
    let state = state_word(daemon, record);
    let spec = &record.spec;
    let (path, args) = command_of(record);
    let mut config = spec.engine.config.clone();
    if let Some(object) = config.as_object_mut() {
        object.remove("HostConfig");
        object.remove("NetworkingConfig");
        object.insert("Hostname".into(), json!(spec.hostname));
        object.insert("Env".into(), json!(env_as_configured(spec)));
        object.insert("Cmd".into(), json!(args_or_cmd(spec)));
        object.insert("Image".into(), image_as_named(record));
        object.insert(
            "WorkingDir".into(),
            json!(spec.process.cwd.clone().unwrap_or_default()),
        );
        object.insert(
            "User".into(),
            json!(spec.process.user.clone().unwrap_or_default()),
        );
        object.insert("Labels".into(), json!(spec.engine.labels));
        object.insert("Tty".into(), json!(spec.engine.tty));
        object.insert("OpenStdin".into(), json!(spec.engine.open_stdin));
    }
    let mut host_config = spec.engine.host_config.clone();
    if !host_config.is_object() {
        host_config = json!({});
    }
    if let Some(object) = host_config.as_object_mut() {
        object.insert("AutoRemove".into(), json!(spec.engine.auto_remove));
        object.entry("RestartPolicy").or_insert(json!({"Name": spec.engine.restart.name, "MaximumRetryCount": spec.engine.restart.maximum_retry_count}));
        object.insert("NetworkMode".into(), json!(networks::mode_name(record)));
        // The only log driver here; clients read it to know whether
        // `logs` can answer (docker-py's `containers.run` does).
        let mut log_options = serde_json::Map::new();
        if let Some(size) = spec.engine.log.max_size {
            log_options.insert("max-size".into(), json!(size.to_string()));
        }
        if let Some(files) = spec.engine.log.max_file {
            log_options.insert("max-file".into(), json!(files.to_string()));
        }
        object.insert(
            "LogConfig".into(),
            json!({"Type": spec.engine.log.driver(), "Config": log_options}),
        );
        object.insert("Memory".into(), json!(spec.limits.memory.unwrap_or(0)));
        object.insert("PidsLimit".into(), json!(spec.limits.pids_limit));
        object.insert(
            "NanoCpus".into(),
            json!(spec.limits.cpus.map_or(0, |c| (c * 1e9) as i64)),
        );
    }
    let mut inspected = json!({
        "Id": record.id(),
        "Created": rfc3339_nanos(record.created),
        "Path": path,
        "Args": args,
        "State": {
            "Status": state,
            "Running": record.state.status == Status::Running,
            "Paused": record.state.paused,
            "Restarting": state == "restarting",
            "OOMKilled": record.state.oom_killed,
            "Dead": false,
            "Pid": if record.state.status == Status::Running { record.state.pid.map_or(0, |p| p.pid) } else { 0 },
            "ExitCode": record.state.exit_code.unwrap_or(0),
            "Error": record.state.error.clone().unwrap_or_default(),
            "StartedAt": nanos_to_rfc3339(record.state.started_at),
            "FinishedAt": nanos_to_rfc3339(record.state.finished_at),
        },
        "Image": spec.engine.image_id,
        "ResolvConfPath": "",
        "HostnamePath": "",
        "HostsPath": "",
        // No file with the `none` driver: dockerd shows an empty path.
        "LogPath": if spec.engine.log.none {
            std::path::PathBuf::new()
        } else {
            logs::log_path(&dir, record.id())
        },
        "Name": format!("/{}", record.name()),
        "RestartCount": run.restart_count,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": null,
        "HostConfig": host_config,
        "GraphDriver": {"Name": "overlay2", "Data": {
            "LowerDir": spec.storage().layers.iter().rev().map(|l| l.display().to_string()).collect::<Vec<_>>().join(":"),
            "UpperDir": dir.join("upper"), "WorkDir": dir.join("work"), "MergedDir": dir.join("merged")}},
        "Mounts": mounts_of(daemon, record),
        "Config": config,
        "NetworkSettings": networks::settings(daemon, record),
    });
    // Only a container with a healthcheck has `State.Health`, as in docker.
    if let Some(health) = health_of(daemon, record) {
        inspected["State"]["Health"] = json!(health);
    }
    inspected
}

/// What `Config.Cmd` shows: the command given (or the image's).
fn args_or_cmd(spec: &Spec) -> Value {
    spec.engine
        .config
        .get("Cmd")
        .cloned()
        .filter(|c| !c.is_null())
        .unwrap_or_else(|| json!(spec.process.argv))
}

// ANCHOR: start
/// `POST /containers/{id}/start`: 204, or 304 when it runs already.
pub async fn start(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let worker = daemon.clone();
    let record = blocking(move || record_of(&worker, &id)).await?;
    if record.is_running() {
        return Ok(StatusCode::NOT_MODIFIED);
    }
    if let Err(error) = shims::start(&daemon, record.id()).await {
        // A container that could not start, with `--rm`, is removed, and
        // a client waiting for its removal (`docker run --rm`) is told.
        if record.spec.engine.auto_remove {
            let worker = daemon.clone();
            let id = record.id().to_string();
            let removed = blocking(move || Ok(shims::remove_now(&worker, &id))).await?;
            let _ = daemon.exits.send(shims::Exit {
                id: record.id().to_string(),
                code: error.code,
                removed,
            });
        }
        return Err(ApiError::bad_request(error.message));
    }
    Ok(StatusCode::NO_CONTENT)
}
// ANCHOR_END: start

#[derive(Debug, Deserialize, Default)]
pub struct StopQuery {
    t: Option<i64>,
    signal: Option<String>,
}

/// `POST /containers/{id}/stop?t=SECONDS`.
pub async fn stop(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
    Query(query): Query<StopQuery>,
) -> ApiResult<StatusCode> {
    blocking(move || stop_now(&daemon, &id, query.t, query.signal.as_deref())).await
}

/// Stops a container: its stop signal, then SIGKILL after the timeout;
/// a user's stop is remembered for the restart policy.
pub fn stop_now(
    daemon: &Daemon,
    id: &str,
    t: Option<i64>,
    signal: Option<&str>,
) -> ApiResult<StatusCode> {
    let record = record_of(daemon, id)?;
    state::update(&daemon.engine, record.id(), |s| s.stopped_by_user = true);
    if !record.is_running() {
        return Ok(StatusCode::NOT_MODIFIED);
    }
    let signal = signal
        .or(record.spec.engine.stop_signal.as_deref())
        .map(parse_signal)
        .transpose()?
        .unwrap_or(nix::sys::signal::Signal::SIGTERM);
    let timeout = t
        .or(record.spec.stop_timeout.map(|t| t as i64))
        .unwrap_or(10)
        .max(0) as u64;
    verbs::stop_with(
        &daemon.engine,
        record.id(),
        signal,
        Duration::from_secs(timeout),
    )?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn parse_signal(name: &str) -> ApiResult<nix::sys::signal::Signal> {
    ch02_namespaces::cli::parse_signal(name).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// `POST /containers/{id}/restart?t=SECONDS`.
pub async fn restart(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
    Query(query): Query<StopQuery>,
) -> ApiResult<StatusCode> {
    let worker = daemon.clone();
    let full = blocking(move || {
        stop_now(&worker, &id, query.t, None)?;
        Ok(record_of(&worker, &id)?.id().to_string())
    })
    .await?;
    wait_until_released(&daemon, &full).await;
    shims::start(&daemon, &full)
        .await
        .map_err(|e| ApiError::bad_request(e.message))?;
    shims::publish(&daemon, "restart", &full);
    Ok(StatusCode::NO_CONTENT)
}

/// Waits until no shim runs container `id` any more.
async fn wait_until_released(daemon: &Daemon, id: &str) {
    for _ in 0..200 {
        match daemon.engine.containers().find::<Spec>(id) {
            Ok(record) if record.state.supervisor.is_some_and(|s| s.is_alive()) => {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            _ => return,
        }
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct KillQuery {
    signal: Option<String>,
}

/// `POST /containers/{id}/kill?signal=SIG`.
pub async fn kill(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
    Query(query): Query<KillQuery>,
) -> ApiResult<StatusCode> {
    blocking(move || {
        let signal = parse_signal(query.signal.as_deref().unwrap_or("KILL"))?;
        let record = record_of(&daemon, &id)?;
        if signal == nix::sys::signal::Signal::SIGKILL {
            state::update(&daemon.engine, record.id(), |s| s.stopped_by_user = true);
        }
        verbs::kill_container(&daemon.engine, record.id(), signal)?;
        shims::publish(&daemon, "kill", record.id());
        // As dockerd: a SIGKILL is answered once the container is dead and
        // its exit recorded, so that the client's next `inspect` shows it
        // stopped (docker-py's tests and scripts rely on it). Another
        // signal may be handled: it is answered at once.
        if signal == nix::sys::signal::Signal::SIGKILL {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while std::time::Instant::now() < deadline
                && daemon
                    .engine
                    .containers()
                    .find::<Spec>(record.id())
                    .is_ok_and(|r| r.is_running())
            {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

async fn pause_or_unpause(daemon: Arc<Daemon>, id: String, freeze: bool) -> ApiResult<StatusCode> {
    blocking(move || {
        let record = record_of(&daemon, &id)?;
        let cgroups = daemon.engine.images().overlay().cgroups();
        ch03_cgroups::cli::set_paused(&daemon.engine, cgroups, record.id(), freeze)
            .map_err(|e| ApiError::conflict(ch01_process::exit::report(&e)))?;
        shims::publish(
            &daemon,
            if freeze { "pause" } else { "unpause" },
            record.id(),
        );
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

pub async fn pause(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    pause_or_unpause(daemon, id, true).await
}

pub async fn unpause(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    pause_or_unpause(daemon, id, false).await
}

#[derive(Debug, Deserialize)]
pub struct RenameQuery {
    name: String,
}

/// `POST /containers/{id}/rename?name=NEW`.
pub async fn rename(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
    Query(query): Query<RenameQuery>,
) -> ApiResult<StatusCode> {
    blocking(move || {
        let record = record_of(&daemon, &id)?;
        let name = query.name.trim_start_matches('/');
        daemon
            .engine
            .containers()
            .rename(record.id(), name)
            .map_err(RunError::from)?;
        shims::publish(&daemon, "rename", record.id());
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

#[derive(Debug, Deserialize, Default)]
pub struct WaitQuery {
    condition: Option<String>,
}

// ANCHOR: wait
/// `POST /containers/{id}/wait?condition=not-running|next-exit|removed`.
///
/// The docker CLI sends this *before* it starts the container and waits
/// for the answer's headers before it goes on: they are sent at once, and
/// the body, `{"StatusCode": N}`, when the container has exited.
pub async fn wait(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
    Query(query): Query<WaitQuery>,
) -> ApiResult<Response> {
    let condition = query.condition.unwrap_or_else(|| "not-running".into());
    // Listen first, then look: an exit between the two is not missed.
    let mut exits = daemon.exits.subscribe();
    let worker = daemon.clone();
    let record = blocking(move || record_of(&worker, &id)).await?;
    let id = record.id().to_string();
    let done_now = match condition.as_str() {
        // Stopped, and its shim gone too: the shim records the exit before
        // its last lines reach the log, and a client reads the logs as soon
        // as the wait answers. A shim still alive sends its exit event soon.
        "not-running" => (!record.is_running()
            && !record
                .state
                .supervisor
                .as_ref()
                .is_some_and(|s| s.is_alive()))
        .then(|| record.state.exit_code.unwrap_or(0)),
        "next-exit" | "removed" => None,
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid condition {other:?}: use not-running, next-exit or removed"
            )));
        }
    };
    // The shim records the exit before the last lines it pumps reach the
    // log, and a client reads the logs as soon as the wait answers: a
    // stopped container whose shim still runs is waited for to the end.
    let draining = record
        .state
        .supervisor
        .filter(|shim| done_now.is_some() && shim.is_alive());
    let body = async move {
        if let Some(shim) = draining {
            crate::daemon::shims::wait_for_exit(shim).await;
        }
        let code = match done_now {
            Some(code) => code,
            None => loop {
                match exits.recv().await {
                    Ok(exit) if exit.id == id && (condition != "removed" || exit.removed) => {
                        break exit.code;
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => break -1,
                }
            },
        };
        Ok::<_, std::convert::Infallible>(bytes::Bytes::from(format!(
            "{{\"StatusCode\":{code},\"Error\":null}}\n"
        )))
    };
    let stream = futures_util::stream::once(body);
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .body(Body::from_stream(stream))
        .expect("a valid response"))
}
// ANCHOR_END: wait

#[derive(Debug, Deserialize, Default)]
pub struct LogsQuery {
    follow: Option<String>,
    stdout: Option<String>,
    stderr: Option<String>,
    since: Option<String>,
    until: Option<String>,
    timestamps: Option<String>,
    tail: Option<String>,
}

// ANCHOR: logs
/// `GET /containers/{id}/logs`: the log, framed as the attach stream is
/// (raw with a terminal); with `follow`, new lines as they come, until the
/// container stops.
pub async fn logs(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
    Query(query): Query<LogsQuery>,
) -> ApiResult<Response> {
    let worker = daemon.clone();
    let record = blocking(move || record_of(&worker, &id)).await?;
    if record.spec.engine.log.none {
        // dockerd's answer for a driver it cannot read back.
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_IMPLEMENTED,
            "configured logging driver does not support reading",
        ));
    }
    let path = logs::log_path(&daemon.engine.dir(record.id()), record.id());
    let parse_time = |t: &Option<String>| t.as_deref().and_then(super::system::parse_unix);
    let mut log_query = LogQuery {
        stdout: query_flag(&query.stdout),
        stderr: query_flag(&query.stderr),
        since: parse_time(&query.since).filter(|s| *s > 0),
        until: parse_time(&query.until).filter(|u| *u > 0),
        tail: query.tail.as_deref().and_then(|t| t.parse().ok()),
    };
    let tty = record.spec.engine.tty;
    let timestamps = query_flag(&query.timestamps);
    let follow = query_flag(&query.follow);
    let tail = log_query.tail.take();
    let id = record.id().to_string();
    // Opened now: readable after the container is removed.
    let opened = Arc::new(logs::open(&path));
    // The state: done, how many entries of the log were sent or skipped.
    let stream = futures_util::stream::unfold((false, None::<usize>), move |(finished, seen)| {
        let path = path.clone();
        let opened = opened.clone();
        let daemon = daemon.clone();
        let id = id.clone();
        let query = log_query.clone();
        async move {
            if finished {
                return None;
            }
            if seen.is_some() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let running = daemon
                .engine
                .containers()
                .find::<Spec>(&id)
                .is_ok_and(|r| r.is_running());
            let entries = tokio::task::spawn_blocking(move || {
                if path.exists() {
                    logs::read(&path, &query)
                } else {
                    logs::read_opened(&opened, &query)
                }
            })
            .await
            .ok()?
            .ok()?;
            let total = entries.len();
            let start = match (seen, tail) {
                (Some(seen), _) => seen.min(total),
                (None, Some(tail)) => total.saturating_sub(tail),
                (None, None) => 0,
            };
            let mut chunk = Vec::new();
            for entry in &entries[start..] {
                let mut line = entry.log.clone();
                if timestamps {
                    line = format!("{} {line}", entry.time);
                }
                if tty {
                    chunk.extend_from_slice(line.as_bytes());
                } else {
                    let stream = if entry.stream == "stderr" {
                        frames::STDERR
                    } else {
                        frames::STDOUT
                    };
                    chunk.extend_from_slice(&frames::header(stream, line.len()));
                    chunk.extend_from_slice(line.as_bytes());
                }
            }
            let done = !follow || !running;
            Some((
                Ok::<_, std::convert::Infallible>(bytes::Bytes::from(chunk)),
                (done, Some(total)),
            ))
        }
    });
    let content_type = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    Ok(Response::builder()
        .header("Content-Type", content_type)
        .body(Body::from_stream(stream))
        .expect("a valid response"))
}
// ANCHOR_END: logs

/// `GET /containers/{id}/top`: the container's processes, from its cgroup.
pub async fn top(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    blocking(move || {
        let record = record_of(&daemon, &id)?;
        let cgroups = daemon.engine.images().overlay().cgroups();
        let cgroup = ch03_cgroups::cli::cgroup_of(&daemon.engine, cgroups, record.id())
            .map_err(|e| ApiError::conflict(ch01_process::exit::report(&e)))?;
        let pids = cgroup
            .procs()
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let rows: Vec<Vec<String>> = pids
            .iter()
            .map(|pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                let after = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
                let ppid = after.split_whitespace().nth(1).unwrap_or("0").to_string();
                let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|b| {
                        String::from_utf8_lossy(&b)
                            .replace('\0', " ")
                            .trim_end()
                            .to_string()
                    })
                    .unwrap_or_default();
                let uid = std::fs::read_to_string(format!("/proc/{pid}/status"))
                    .ok()
                    .and_then(|s| {
                        s.lines()
                            .find(|l| l.starts_with("Uid:"))
                            .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
                    })
                    .unwrap_or_default();
                vec![uid, pid.to_string(), ppid, cmd]
            })
            .collect();
        Ok(Json(
            json!({"Titles": ["UID", "PID", "PPID", "CMD"], "Processes": rows}),
        ))
    })
    .await
}

/// `GET /containers/{id}/changes`: `docker diff`.
pub async fn changes(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    blocking(move || {
        let record = record_of(&daemon, &id)?;
        let stack = daemon.engine.images().overlay().stack(&record.spec.base);
        let changes = ch04_overlayfs::changes::diff(&stack.upper(), &stack.lowers)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let list: Vec<Value> = changes
            .iter()
            .map(|c| {
                let kind = match c.kind {
                    ch04_overlayfs::changes::ChangeKind::Changed => 0,
                    ch04_overlayfs::changes::ChangeKind::Added => 1,
                    ch04_overlayfs::changes::ChangeKind::Deleted => 2,
                };
                json!({"Path": c.path, "Kind": kind})
            })
            .collect();
        Ok(Json(json!(list)))
    })
    .await
}

#[derive(Debug, Deserialize, Default)]
pub struct StatsQuery {
    stream: Option<String>,
}

/// The machine's memory in bytes (`MemTotal`).
pub fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))?
                .split_whitespace()
                .nth(1)?
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// One reading of the whole machine's CPU time, in nanoseconds.
fn system_cpu_nanos() -> u64 {
    let ticks = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            let line = s.lines().next()?.to_string();
            Some(
                line.split_whitespace()
                    .skip(1)
                    .filter_map(|v| v.parse::<u64>().ok())
                    .sum::<u64>(),
            )
        })
        .unwrap_or(0);
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    ticks * (1_000_000_000 / hz)
}

/// `GET /containers/{id}/stats`: docker's stats JSON, from the cgroup.
pub async fn stats(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
    Query(query): Query<StatsQuery>,
) -> ApiResult<Response> {
    let stream = super::query::bool_value_or(query.stream.as_deref(), true);
    let worker = daemon.clone();
    let (record, cgroup) = blocking(move || {
        let record = record_of(&worker, &id)?;
        let cgroups = worker.engine.images().overlay().cgroups();
        let cgroup = ch03_cgroups::cli::cgroup_of(&worker.engine, cgroups, record.id()).ok();
        Ok((record, cgroup))
    })
    .await?;
    let name = format!("/{}", record.name());
    let id = record.id().to_string();
    let online = std::thread::available_parallelism().map_or(1, |n| n.get());
    let sample = move || {
        let stats = cgroup.as_ref().and_then(|c| c.stats().ok());
        let now = rfc3339_nanos(ch02_namespaces::records::now());
        let usage = stats.as_ref().map_or(0, |s| s.cpu_usage_usec * 1000);
        (now, usage, system_cpu_nanos(), stats)
    };
    let body = futures_util::stream::unfold(
        (None::<(String, u64, u64)>, true),
        move |(previous, go)| {
            let sample = sample.clone();
            let name = name.clone();
            let id = id.clone();
            async move {
                if !go {
                    return None;
                }
                let previous = match previous {
                    Some(previous) => previous,
                    None => {
                        let (t, cpu, system, _) = sample();
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        (t, cpu, system)
                    }
                };
                let (time, cpu, system, stats) = sample();
                let memory = stats.as_ref().map_or(0, |s| s.memory_usage);
                // No limit: the machine's memory, as docker shows it.
                let limit = stats
                    .as_ref()
                    .and_then(|s| s.memory_limit)
                    .unwrap_or_else(host_memory);
                let line = json!({
                    "read": time, "preread": previous.0, "name": name, "id": id,
                    "pids_stats": {"current": stats.as_ref().map_or(0, |s| s.pids_current),
                                    "limit": stats.as_ref().and_then(|s| s.pids_limit)},
                    "cpu_stats": {"cpu_usage": {"total_usage": cpu, "usage_in_kernelmode": 0, "usage_in_usermode": cpu},
                                  "system_cpu_usage": system, "online_cpus": online, "throttling_data": {}},
                    "precpu_stats": {"cpu_usage": {"total_usage": previous.1}, "system_cpu_usage": previous.2, "online_cpus": online},
                    "memory_stats": {"usage": memory, "limit": limit, "stats": {}},
                    "blkio_stats": {}, "networks": {}, "num_procs": 0, "storage_stats": {},
                });
                let mut bytes = serde_json::to_vec(&line).expect("plain data");
                bytes.push(b'\n');
                if stream {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Some((
                    Ok::<_, std::convert::Infallible>(bytes::Bytes::from(bytes)),
                    (Some((time, cpu, system)), stream),
                ))
            }
        },
    );
    Ok(Response::builder()
        .header("Content-Type", "application/json")
        .body(Body::from_stream(body))
        .expect("a valid response"))
}

#[derive(Debug, Deserialize, Default)]
pub struct ResizeQuery {
    h: Option<u16>,
    w: Option<u16>,
}

/// `POST /containers/{id}/resize?h=ROWS&w=COLUMNS`: the terminal's size.
pub async fn resize(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
    Query(query): Query<ResizeQuery>,
) -> ApiResult<StatusCode> {
    blocking(move || {
        let record = record_of(&daemon, &id)?;
        if !record.is_running() {
            return Err(ApiError::conflict(format!(
                "Container {} is not running",
                record.name()
            )));
        }
        let mut socket = shims::connect_attach(&daemon.engine.dir(record.id()), 0)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let size = format!("{} {}", query.h.unwrap_or(24), query.w.unwrap_or(80));
        frames::write(&mut socket, frames::RESIZE, size.as_bytes())
            .map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(StatusCode::OK)
    })
    .await
}

#[derive(Debug, Deserialize, Default)]
pub struct RemoveQuery {
    force: Option<String>,
    /// `docker rm -v`: the container's anonymous volumes go with it.
    v: Option<String>,
}

/// `DELETE /containers/{id}?force=1`: `docker rm`.
pub async fn remove(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
    Query(query): Query<RemoveQuery>,
) -> ApiResult<StatusCode> {
    blocking(move || {
        let record = record_of(&daemon, &id)?;
        let full = record.id().to_string();
        state::update(&daemon.engine, &full, |s| s.stopped_by_user = true);
        verbs::rm(&daemon.engine, &full, query_flag(&query.force))?;
        shims::publish_with(&daemon, "destroy", &full, BTreeMap::new());
        if query_flag(&query.v) {
            super::volumes::remove_anonymous(&daemon, &record);
        }
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// `POST /containers/prune`.
pub async fn prune(State(daemon): State<Arc<Daemon>>) -> ApiResult<Json<Value>> {
    blocking(move || {
        // What each stopped container wrote (its writable layer), measured
        // before prune takes it: docker's SpaceReclaimed.
        let mut written = BTreeMap::new();
        for record in daemon.engine.containers().list::<Spec>()? {
            if !record.is_running() {
                let upper = daemon.engine.dir(record.id()).join("upper");
                let size = ch05_images::history::directory_size(&upper).unwrap_or(0);
                written.insert(record.id().to_string(), size);
            }
        }
        let removed = verbs::prune(&daemon.engine)?;
        for id in &removed {
            shims::publish_with(&daemon, "destroy", id, BTreeMap::new());
        }
        let reclaimed: u64 = removed.iter().filter_map(|id| written.get(id)).sum();
        Ok(Json(
            json!({"ContainersDeleted": removed, "SpaceReclaimed": reclaimed}),
        ))
    })
    .await
}
