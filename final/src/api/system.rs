//! `/_ping`, `/version`, `/info`, `/events`.

use super::{API_VERSION, ApiError, ApiResult, MIN_API_VERSION, blocking};
use crate::daemon::Daemon;
use crate::daemon::events::Event;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ch02_namespaces::Engine;
use ch02_namespaces::records::Status;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

// ANCHOR: ping
/// `HEAD|GET /_ping`: "OK", and in the headers what the client needs to
/// talk to us: the API version (without it, the docker CLI falls back to
/// 1.24), the OS, and which builder to use (1: the classic one).
pub async fn ping() -> Response {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("Api-Version", API_VERSION),
        ("Ostype", "linux"),
        ("Builder-Version", "1"),
        ("Docker-Experimental", "false"),
        ("Cache-Control", "no-cache, no-store, must-revalidate"),
        ("Pragma", "no-cache"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    (StatusCode::OK, headers, "OK").into_response()
}
// ANCHOR_END: ping

fn kernel() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "x86_64",
        other => other,
    }
}

/// `GET /version`.
pub async fn version() -> Response {
    let version = env!("CARGO_PKG_VERSION");
    let body = json!({
        "Platform": {"Name": "skiff"},
        "Components": [{
            "Name": "Engine",
            "Version": version,
            "Details": {"ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION, "Os": "linux",
                        "Arch": ch05_images::image::host_platform().architecture, "KernelVersion": kernel()}
        }],
        "Version": version,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "skiff",
        "GoVersion": "none (Rust)",
        "Os": "linux",
        "Arch": ch05_images::image::host_platform().architecture,
        "KernelVersion": kernel(),
        "BuildTime": "",
    });
    axum::Json(body).into_response()
}

/// `GET /info`: what `docker info` prints.
pub async fn info(State(daemon): State<Arc<Daemon>>) -> ApiResult<Response> {
    let info = blocking(move || {
        let records = daemon
            .engine
            .containers()
            .list::<ch02_namespaces::Spec>()
            .map_err(super::ApiError::from)?;
        let running = records
            .iter()
            .filter(|r| r.state.status == Status::Running && !r.state.paused)
            .count();
        let paused = records.iter().filter(|r| r.state.paused).count();
        let images = daemon
            .engine
            .images()
            .store()
            .images()
            // Images, not names: two tags of one image count once.
            .map(|records| {
                let ids: std::collections::BTreeSet<_> =
                    records.iter().map(|r| r.config.clone()).collect();
                ids.len()
            })
            .unwrap_or(0);
        let layout = ch03_cgroups::Layout::detect()
            .map(|l| l.version())
            .ok();
        let memory = super::containers::host_memory();
        let hostname = nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(json!({
            "ID": daemon.id,
            "Containers": records.len(),
            "ContainersRunning": running,
            "ContainersPaused": paused,
            "ContainersStopped": records.len() - running - paused,
            "Images": images,
            "Driver": "overlay2",
            "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
            "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"], "Log": ["json-file", "none"]},
            "MemoryLimit": true,
            "SwapLimit": true,
            "CpuCfsPeriod": true,
            "CpuCfsQuota": true,
            "CPUShares": true,
            "CPUSet": true,
            "PidsLimit": true,
            "IPv4Forwarding": true,
            "Debug": false,
            "NFd": 0,
            "NGoroutines": 0,
            "SystemTime": ch05_images::history::rfc3339_nanos(ch02_namespaces::records::now()),
            "LoggingDriver": "json-file",
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": if layout == Some(ch03_cgroups::Version::V2) { "2" } else { "1" },
            "NEventsListener": 0,
            "KernelVersion": kernel(),
            "OperatingSystem": "skiff",
            "OSVersion": "",
            "OSType": "linux",
            "Architecture": architecture(),
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": {"IndexConfigs": {}, "InsecureRegistryCIDRs": ["127.0.0.0/8"], "Mirrors": []},
            "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "MemTotal": memory,
            "DockerRootDir": daemon.root,
            "Name": hostname,
            "Labels": [],
            "ExperimentalBuild": false,
            "ServerVersion": env!("CARGO_PKG_VERSION"),
            "Runtimes": {"skiff": {"path": "skiff"}},
            "DefaultRuntime": "skiff",
            "Swarm": {"LocalNodeState": "inactive", "ControlAvailable": false, "NodeID": "", "NodeAddr": ""},
            "LiveRestoreEnabled": true,
            "Isolation": "",
            "InitBinary": "",
            "SecurityOptions": ["name=seccomp,profile=builtin", "name=no-new-privileges"],
            "Warnings": [],
        }))
    })
    .await?;
    Ok(axum::Json(info).into_response())
}

#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    since: Option<String>,
    until: Option<String>,
    filters: Option<String>,
}

/// A time as the API gives it: unix seconds, with an optional fraction.
pub fn parse_unix(text: &str) -> Option<i128> {
    let (seconds, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let seconds: i128 = seconds.parse().ok()?;
    let digits: String = fraction.chars().take(9).collect();
    let nanos: i128 = format!("{digits:0<9}").parse().ok()?;
    Some(seconds * 1_000_000_000 + nanos)
}

// ANCHOR: events
/// `GET /events`: the kept events from `since`, then the new ones as
/// they happen, until `until` (or forever), one JSON object per line.
pub async fn events(
    State(daemon): State<Arc<Daemon>>,
    Query(query): Query<EventsQuery>,
) -> Response {
    use futures_util::StreamExt;
    let since = query.since.as_deref().and_then(parse_unix);
    let until = query.until.as_deref().and_then(parse_unix);
    let filters = super::containers::Filters::parse(query.filters.as_deref());
    let (recent, receiver) = daemon.events.subscribe();
    let keep = move |event: &Event| {
        since.is_none_or(|s| event.time_nano >= s)
            && until.is_none_or(|u| event.time_nano <= u)
            && filters.matches_event(event)
    };
    let past: Vec<Event> = match since {
        Some(_) => recent.into_iter().filter(|e| keep(e)).collect(),
        None => Vec::new(),
    };
    // How long to listen: until `until`, or forever.
    let now = ch02_namespaces::records::now() as i128;
    let deadline = until.map(|u| {
        tokio::time::Instant::now()
            + std::time::Duration::from_nanos(u.saturating_sub(now).max(0) as u64)
    });
    let live = futures_util::stream::unfold(receiver, move |mut receiver| {
        let keep = keep.clone();
        async move {
            loop {
                let next = match deadline {
                    Some(at) => match tokio::time::timeout_at(at, receiver.recv()).await {
                        Ok(next) => next,
                        Err(_) => return None,
                    },
                    None => receiver.recv().await,
                };
                match next {
                    Ok(event) if keep(&event) => return Some((event, receiver)),
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return None,
                }
            }
        }
    });
    let lines = futures_util::stream::iter(past).chain(live).map(|event| {
        let mut line = serde_json::to_vec(&event).expect("plain data");
        line.push(b'\n');
        Ok::<_, std::convert::Infallible>(bytes::Bytes::from(line))
    });
    Response::builder()
        .header("Content-Type", "application/json")
        .body(Body::from_stream(lines))
        .expect("a valid response")
}
// ANCHOR_END: events

/// `/swarm`, `/nodes`, `/services`, `/tasks`, `/secrets`, `/configs`:
/// skiff is never a swarm node. dockerd answers these on a node outside a
/// swarm with 503 and its reason, and clients know that answer: docker-py's
/// `leave_swarm(force=True)` takes it for "nothing to leave".
pub async fn not_in_swarm(request: axum::extract::Request) -> ApiError {
    let message = if request.uri().path() == "/swarm/leave" {
        "This node is not part of a swarm"
    } else {
        "This node is not a swarm manager: skiff runs containers on one host, without swarm mode"
    };
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message)
}
