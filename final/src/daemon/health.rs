//! Healthchecks: a command run inside a running container every interval,
//! whose exit code says whether the container works (`docker run
//! --health-cmd`, an image's `HEALTHCHECK`, compose's `healthcheck:`).
//!
//! The rules (a start period, retries, the status words) are chapter 7's
//! [`Health`]: the daemon only runs the checks and keeps what they said. A
//! check is an exec (the same helper process as `docker exec`), with its
//! own process group so that a check that overruns its timeout is killed
//! whole: the helper, and through its death signal the command inside.
//!
//! What the daemon learns is written to `health.json` in the container's
//! directory, which `inspect` shows as `State.Health` and `ps` as
//! `(healthy)`; each change of status is an event, `health_status:
//! healthy`, which is how clients wait for it.

use super::Daemon;
use super::shims::publish_with;
use super::state;
use crate::api::exec::ExecConfig;
use crate::engine::Spec;
use ch02_namespaces::Engine;
use ch05_images::image::HealthConfig;
use ch07_compose::runner::health::{Health, HealthStatus, Timings};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

/// The most of a check's output kept, as docker keeps it.
const OUTPUT_LIMIT: usize = 4096;

/// How many results `State.Health.Log` keeps, as docker's.
const LOG_ENTRIES: usize = 5;

/// `State.Health`, as `inspect` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthState {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    pub failing_streak: u32,
    pub log: Vec<HealthResult>,
}

/// One check's result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthResult {
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

/// The word docker uses for `status`.
pub fn word(status: HealthStatus) -> &'static str {
    match status {
        HealthStatus::Starting => "starting",
        HealthStatus::Healthy => "healthy",
        HealthStatus::Unhealthy => "unhealthy",
    }
}

/// The health kept for the container whose directory is `dir`, if it has
/// a healthcheck that ran.
pub fn load(dir: &Path) -> Option<HealthState> {
    let bytes = std::fs::read(dir.join("health.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The command a healthcheck runs, or `None` when there is none (no
/// check, or `NONE`).
pub fn command(config: Option<&HealthConfig>) -> Option<Vec<String>> {
    let config = config?;
    if config.test.first().is_none_or(|kind| kind == "NONE") {
        return None;
    }
    Some(ch07_compose::translate::health_command(config)).filter(|argv| !argv.is_empty())
}

// ANCHOR: monitor
/// Runs the healthchecks of container `id` for as long as this run of it
/// lasts (a restart starts a new monitor).
pub fn monitor(daemon: Arc<Daemon>, id: String) {
    let Ok(record) = daemon.engine.containers().find::<Spec>(&id) else {
        return;
    };
    let Some(argv) = command(record.spec.engine.healthcheck.as_ref()) else {
        return;
    };
    let config = record.spec.engine.healthcheck.clone().unwrap_or_default();
    let this_run = record.state.started_at;
    tokio::spawn(async move {
        let mut health = Health::new(Timings::of(&config), Instant::now());
        let mut kept = HealthState {
            status: word(HealthStatus::Starting).to_string(),
            ..HealthState::default()
        };
        save(&daemon, &id, &kept);
        loop {
            tokio::time::sleep(health.next_delay(Instant::now())).await;
            let Ok(record) = daemon.engine.containers().find::<Spec>(&id) else {
                return;
            };
            if !record.is_running() || record.state.started_at != this_run {
                return;
            }
            // A frozen container cannot answer: no verdict while paused.
            if record.state.paused {
                continue;
            }
            let start = now();
            let (code, output) = check(&daemon, &id, &argv, health.timings.timeout).await;
            let changed = health.record(code, output.clone(), Instant::now());
            kept.status = word(health.status).to_string();
            kept.failing_streak = health.failing_streak;
            kept.log.push(HealthResult {
                start,
                end: now(),
                exit_code: code,
                output,
            });
            if kept.log.len() > LOG_ENTRIES {
                kept.log.remove(0);
            }
            save(&daemon, &id, &kept);
            if let Some(status) = changed {
                let attributes = BTreeMap::from([("name".to_string(), record.name().to_string())]);
                publish_with(
                    &daemon,
                    &format!("health_status: {}", word(status)),
                    &id,
                    attributes,
                );
            }
        }
    });
}

/// Runs `argv` in container `id` once: its exit code and output, or -1
/// and a note when it did not finish within `timeout`.
async fn check(daemon: &Daemon, id: &str, argv: &[String], timeout: Duration) -> (i32, String) {
    let request = ExecConfig {
        attach_stdout: true,
        attach_stderr: true,
        cmd: argv.to_vec(),
        ..ExecConfig::default()
    };
    let mut command = tokio::process::Command::new("/proc/self/exe");
    command
        .arg0("skiff")
        .arg("--root")
        .arg(&daemon.root)
        .args(["exec-helper", id, "--request"])
        .arg(serde_json::to_string(&request).expect("plain data"))
        .process_group(0)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let Ok(mut child) = command.spawn() else {
        return (-1, "the healthcheck could not be started".to_string());
    };
    let pid = child.id();
    let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
    let run = async {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let read_out = async {
            if let Some(out) = out.as_mut() {
                let _ = out.read_to_end(&mut a).await;
            }
        };
        let read_err = async {
            if let Some(err) = err.as_mut() {
                let _ = err.read_to_end(&mut b).await;
            }
        };
        tokio::join!(read_out, read_err);
        let status = child.wait().await;
        a.extend_from_slice(&b);
        (status, a)
    };
    match tokio::time::timeout(timeout, run).await {
        Ok((status, mut output)) => {
            output.truncate(OUTPUT_LIMIT);
            let code = status.ok().and_then(|s| s.code()).unwrap_or(-1);
            (code, String::from_utf8_lossy(&output).into_owned())
        }
        Err(_) => {
            if let Some(pid) = pid {
                stop_overrun(pid).await;
            }
            (
                -1,
                format!("Health check exceeded timeout ({})", go_duration(timeout)),
            )
        }
    }
}
// ANCHOR_END: monitor

/// Ends the helper `pid` of a check that overran its timeout, and the
/// command it runs in the container.
///
/// The order matters. The helper forwards SIGTERM to the command and reaps
/// it: nothing is left. Were the helper killed first, the command would die
/// of its parent-death signal as an orphan, handed to the container's
/// PID 1, which (a `sleep`, a server) may never reap it: a zombie per
/// check. So SIGTERM first; SIGKILL to the helper's process group only for
/// a command that ignores SIGTERM for a second.
async fn stop_overrun(pid: u32) {
    use nix::sys::signal::{Signal, kill};
    let Ok(raw) = i32::try_from(pid) else {
        return;
    };
    let helper = nix::unistd::Pid::from_raw(raw);
    let _ = kill(helper, Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(1);
    // The helper is our child: it stays a zombie (its pid ours) until
    // tokio reaps it, so `kill(pid, 0)` cannot tell; /proc's state can.
    while Instant::now() < deadline && running(raw) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if running(raw) {
        let _ = kill(nix::unistd::Pid::from_raw(-raw), Signal::SIGKILL);
    }
}

/// Whether process `pid` exists and is not a zombie.
fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z")
    })
}

/// A duration as Go prints it: `30s`, `500ms`.
fn go_duration(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

fn save(daemon: &Daemon, id: &str, health: &HealthState) {
    state::write_json(&daemon.engine, id, "health.json", |_| health.clone());
}

fn now() -> String {
    ch05_images::history::rfc3339_nanos(ch02_namespaces::records::now())
}
