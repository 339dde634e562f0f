//! One container of the application, as `up` sees it: where it is in its
//! life, its restarts and health, how to stop it; and what the services
//! that depend on it wait for.

use crate::engine::ComposeEngine;
use crate::model::{Condition, Restart};
use crate::runner::child::{Probe, SelfCommand, Supervisor};
use crate::runner::health::{Health, HealthStatus, Timings};
use crate::runner::restart::Restarts;
use crate::spec::Spec;
use crate::translate::health_command;
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};

/// Where a container is, as `up` sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Made, not started by this `up` yet.
    Idle,
    /// Its supervisor runs; its program does not run yet.
    Starting,
    /// Its program runs.
    Running { since: Instant },
    /// Ended, to be started again at this time (restart policy).
    RestartAt(Instant),
    /// Ended, and stays so.
    Exited,
}

/// One container of the application.
pub struct Member {
    pub name: String,
    pub service: String,
    pub spec: Spec,
    pub phase: Phase,
    pub supervisor: Option<Supervisor>,
    pub started_once: bool,
    pub last_exit: Option<i32>,
    pub restarts: Restarts,
    pub health: Option<Health>,
    pub next_probe: Option<Instant>,
    pub probe: Option<(Probe, Instant)>,
    /// When a stop was asked: when to send SIGKILL.
    pub kill_at: Option<Instant>,
}

impl Member {
    pub fn new(name: String, service: String, spec: Spec) -> Member {
        Member {
            name,
            service,
            spec,
            phase: Phase::Idle,
            supervisor: None,
            started_once: false,
            last_exit: None,
            restarts: Restarts::NONE,
            health: None,
            next_probe: None,
            probe: None,
            kill_at: None,
        }
    }

    pub fn id(&self) -> &str {
        &self.spec.storage.limited.container.id
    }

    pub fn live(&self) -> bool {
        self.supervisor.is_some()
    }

    pub fn grace(&self) -> Duration {
        Duration::from_millis(self.spec.compose.stop_grace_period_ms.unwrap_or(10_000))
    }

    pub fn stop_signal(&self) -> Signal {
        self.spec
            .compose
            .stop_signal
            .as_deref()
            .and_then(|s| ch02_namespaces::cli::parse_signal(s).ok())
            .unwrap_or(Signal::SIGTERM)
    }

    /// Its program runs: the health bookkeeping starts, the first check
    /// due one delay later. Whether it has a healthcheck.
    pub fn start_health(&mut self, now: Instant) -> bool {
        let Some(config) = &self.spec.compose.healthcheck else {
            return false;
        };
        let health = Health::new(Timings::of(config), now);
        self.next_probe = Some(now + health.next_delay(now));
        self.health = Some(health);
        true
    }

    /// A check ended: its status when it changed. The next check is due
    /// one delay later.
    pub fn record_check(
        &mut self,
        code: i32,
        output: String,
        now: Instant,
    ) -> Option<HealthStatus> {
        let health = self.health.as_mut()?;
        let changed = health.record(code, output, now);
        self.next_probe = Some(now + health.next_delay(now));
        changed
    }

    /// Starts the check that is due, or ends the one that took longer
    /// than its timeout: the result of a check that ended here.
    pub fn health_timers(&mut self, me: &SelfCommand, now: Instant) -> Option<(i32, String)> {
        let timeout = self.health.as_ref()?.timings.timeout;
        if let Some((probe, deadline)) = &mut self.probe
            && *deadline <= now
        {
            probe.kill();
            self.probe = None;
            let shown = crate::model::Duration(timeout.as_nanos() as i64);
            return Some((-1, format!("health check exceeded timeout ({shown})")));
        }
        let due = self.next_probe.is_some_and(|at| at <= now);
        if !due || self.probe.is_some() || !matches!(self.phase, Phase::Running { .. }) {
            return None;
        }
        self.next_probe = None;
        let config = self.spec.compose.healthcheck.as_ref();
        let command = config.map(health_command).unwrap_or_default();
        match Probe::spawn(me, self.id(), &command) {
            Ok(probe) => {
                self.probe = Some((probe, now + timeout));
                None
            }
            Err(e) => Some((-1, format!("cannot start the healthcheck: {e}"))),
        }
    }

    pub fn restart_policy(&self) -> Restart {
        self.spec
            .compose
            .restart
            .as_deref()
            .and_then(|r| r.parse().ok())
            .unwrap_or(Restart::No)
    }
}

/// Where a dependency stands.
pub enum Check {
    Ready,
    Wait,
    Fail(String),
}

// ANCHOR: check
/// Whether the containers of `dependency` meet `condition`.
pub fn check(members: &[Member], dependency: &str, condition: Condition) -> Check {
    // SOLUTION START: ch07-dependency whether the containers of a dependency meet the condition: service_started, service_healthy (fail when it has no healthcheck, turned unhealthy or ended), service_completed_successfully (fail on a non-zero exit) (book: Compose > What and why > The dependency graph, and health)
    let members = members.iter().filter(|m| m.service == dependency);
    let mut ready = true;
    for m in members {
        let ended = !m.live() && m.started_once && !matches!(m.phase, Phase::RestartAt(_));
        match condition {
            Condition::ServiceStarted => ready &= m.started_once,
            Condition::ServiceHealthy => {
                if m.spec.compose.healthcheck.is_none() {
                    return Check::Fail(format!(
                        "dependency failed to start: container {} has no healthcheck configured",
                        m.name
                    ));
                }
                let status = m.health.as_ref().map(|h| h.status);
                if status == Some(HealthStatus::Unhealthy) {
                    let last = m.health.as_ref().and_then(|h| h.last.clone());
                    return Check::Fail(unhealthy(&m.name, last));
                }
                if ended {
                    return Check::Fail(format!(
                        "dependency failed to start: container {} exited ({})",
                        m.name,
                        m.last_exit.unwrap_or(-1)
                    ));
                }
                ready &= status == Some(HealthStatus::Healthy);
            }
            Condition::ServiceCompletedSuccessfully => match m.last_exit {
                Some(0) => {}
                Some(code) if ended => {
                    return Check::Fail(format!(
                        "service {dependency:?} didn't complete successfully: exit {code}"
                    ));
                }
                _ => ready = false,
            },
        }
    }
    if ready { Check::Ready } else { Check::Wait }
    // SOLUTION END
}
// ANCHOR_END: check

/// Sends `signal` to a container's first process, or, before the
/// container runs, to its supervisor (which dies of it before `prepare`,
/// and forwards it once the container runs).
pub fn signal_member(engine: &ComposeEngine, member: &Member, signal: Signal) {
    if matches!(member.phase, Phase::Running { .. })
        && ch02_namespaces::verbs::kill_container(engine, member.id(), signal).is_ok()
    {
        return;
    }
    if let Some(supervisor) = &member.supervisor {
        supervisor.signal(signal);
    }
}

// ANCHOR: unhealthy
/// The message of a dependency that never became healthy: with what its
/// last healthcheck said, which is where the reason usually is.
fn unhealthy(name: &str, last: Option<(i32, String)>) -> String {
    let mut message = format!("dependency failed to start: container {name} is unhealthy");
    if let Some((code, output)) = last {
        message += &format!("\nits last healthcheck exited with {code}");
        if output.is_empty() {
            message += " and printed nothing";
        } else {
            message += ":\n";
            message += &output;
        }
    }
    message
}
// ANCHOR_END: unhealthy
