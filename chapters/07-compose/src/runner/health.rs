//! A container's health, as docker tracks it.
//!
//! A healthcheck is a command run inside the container (by chapter 2's
//! `exec`) every `interval`: exit code 0 means healthy, anything else (or
//! no answer within `timeout`) is a failure. The container starts as
//! `starting`; one success makes it `healthy`; `retries` failures in a row
//! make it `unhealthy`. During `start_period` a slow starter is given a
//! chance: failures do not count (a success still counts), and the checks
//! come every `start_interval` rather than every `interval`, so that a
//! service that is up quickly is found healthy quickly.
//!
//! This module is the bookkeeping only, with time passed in: the runner
//! starts the checks and reports their results here.

use crate::translate::{
    HEALTH_INTERVAL_NS, HEALTH_RETRIES, HEALTH_START_INTERVAL_NS, HEALTH_TIMEOUT_NS,
};
use ch05_images::image::HealthConfig;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Where a container's health stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// No check has succeeded yet, and not enough have failed.
    Starting,
    /// The last check succeeded.
    Healthy,
    /// `retries` checks failed in a row.
    Unhealthy,
}

impl std::fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HealthStatus::Starting => "health: starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        })
    }
}

/// The timings of a healthcheck, with docker's defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub start_period: Duration,
    pub start_interval: Duration,
}

impl Timings {
    /// The timings of `config` (a zero means the default).
    pub fn of(config: &HealthConfig) -> Timings {
        let ns = |value: i64, default: i64| {
            Duration::from_nanos(if value > 0 { value } else { default } as u64)
        };
        Timings {
            interval: ns(config.interval, HEALTH_INTERVAL_NS),
            timeout: ns(config.timeout, HEALTH_TIMEOUT_NS),
            retries: if config.retries > 0 {
                config.retries as u32
            } else {
                HEALTH_RETRIES as u32
            },
            start_period: ns(config.start_period, 0),
            start_interval: ns(config.start_interval, HEALTH_START_INTERVAL_NS),
        }
    }
}

// ANCHOR: health
/// The health of one container.
#[derive(Debug, Clone)]
pub struct Health {
    pub timings: Timings,
    pub status: HealthStatus,
    /// Failures in a row (outside the start period).
    pub failing_streak: u32,
    /// The last check's exit code and output.
    pub last: Option<(i32, String)>,
    started: Instant,
}

impl Health {
    /// The health of a container that started at `started`.
    pub fn new(timings: Timings, started: Instant) -> Health {
        Health {
            timings,
            status: HealthStatus::Starting,
            failing_streak: 0,
            last: None,
            started,
        }
    }

    fn in_start_period(&self, now: Instant) -> bool {
        now.duration_since(self.started) < self.timings.start_period
    }

    /// How long after a check (or the start) the next one comes.
    pub fn next_delay(&self, now: Instant) -> Duration {
        if self.status == HealthStatus::Starting && self.in_start_period(now) {
            self.timings.start_interval.min(self.timings.interval)
        } else {
            self.timings.interval
        }
    }

    /// Records a check's result; the new status when it changed.
    pub fn record(&mut self, code: i32, output: String, now: Instant) -> Option<HealthStatus> {
        let before = self.status;
        if code == 0 {
            self.failing_streak = 0;
            self.status = HealthStatus::Healthy;
        } else if !(self.status == HealthStatus::Starting && self.in_start_period(now)) {
            self.failing_streak += 1;
            if self.failing_streak >= self.timings.retries {
                self.status = HealthStatus::Unhealthy;
            }
        }
        self.last = Some((code, output));
        (self.status != before).then_some(self.status)
    }
}
// ANCHOR_END: health

#[cfg(test)]
mod tests {
    use super::*;

    fn timings() -> Timings {
        Timings::of(&HealthConfig {
            test: vec!["CMD".into(), "true".into()],
            interval: 2_000_000_000,
            retries: 2,
            start_period: 10_000_000_000,
            start_interval: 500_000_000,
            ..HealthConfig::default()
        })
    }

    #[test]
    fn defaults_are_docker_s() {
        let t = Timings::of(&HealthConfig::default());
        assert_eq!(
            (t.interval, t.timeout, t.retries, t.start_period),
            (
                Duration::from_secs(30),
                Duration::from_secs(30),
                3,
                Duration::ZERO
            )
        );
    }

    #[test]
    fn failures_in_the_start_period_do_not_count_but_a_success_does() {
        let start = Instant::now();
        let mut h = Health::new(timings(), start);
        assert_eq!(h.next_delay(start), Duration::from_millis(500));
        for _ in 0..5 {
            assert_eq!(
                h.record(1, "no".into(), start + Duration::from_secs(1)),
                None
            );
        }
        assert_eq!(h.failing_streak, 0);
        assert_eq!(
            h.record(0, String::new(), start + Duration::from_secs(2)),
            Some(HealthStatus::Healthy)
        );
        assert_eq!(h.next_delay(start), Duration::from_secs(2));
    }

    #[test]
    fn retries_failures_in_a_row_make_it_unhealthy_and_one_success_heals() {
        let start = Instant::now();
        let later = start + Duration::from_secs(11);
        let mut h = Health::new(timings(), start);
        assert_eq!(h.next_delay(later), Duration::from_secs(2));
        assert_eq!(h.record(1, "a".into(), later), None);
        assert_eq!(
            h.record(1, "b".into(), later),
            Some(HealthStatus::Unhealthy)
        );
        assert_eq!(h.last, Some((1, "b".into())));
        assert_eq!(
            h.record(0, String::new(), later),
            Some(HealthStatus::Healthy)
        );
        assert_eq!(h.failing_streak, 0);
    }
}
