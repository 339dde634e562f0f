//! `POST /containers/{id}/update`: `docker update --memory --cpus
//! --pids-limit --restart ...` on a container, running or not.
//!
//! A limit is a value in a cgroup file (chapter 3): changing a running
//! container's limit is writing the file again, with chapter 3's
//! `Cgroup::set_limits`, the same code that set it at start. The record's
//! spec changes too, so that the next start (a restart policy's, or
//! `docker start`) creates the cgroup with the new limits. Fields left at
//! zero (docker's client sends them all) are left as they are.

use super::containers::record_of;
use super::create::RestartBody;
use super::json::GoJson;
use super::{ApiError, ApiResult, blocking};
use crate::daemon::Daemon;
use crate::engine::{RestartPolicy, Spec};
use axum::Json;
use axum::extract::{Path, State};
use ch02_namespaces::Engine;
use ch03_cgroups::Limits;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// The parts of docker's update body the engine acts on.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateBody {
    pub memory: i64,
    pub memory_swap: i64,
    pub nano_cpus: i64,
    pub cpu_shares: i64,
    pub cpuset_cpus: String,
    pub pids_limit: Option<i64>,
    pub restart_policy: Option<RestartBody>,
}

impl UpdateBody {
    /// `limits` with this update's non-zero fields in place.
    pub fn apply(&self, limits: &Limits) -> Limits {
        let mut new = limits.clone();
        if self.memory > 0 {
            new.memory = Some(self.memory as u64);
        }
        if self.memory_swap != 0 {
            new.memory_swap = Some(self.memory_swap);
        }
        if self.nano_cpus > 0 {
            new.cpus = Some(self.nano_cpus as f64 / 1e9);
        }
        if self.cpu_shares > 0 {
            new.cpu_shares = Some(self.cpu_shares as u64);
        }
        if !self.cpuset_cpus.is_empty() {
            new.cpuset_cpus = Some(self.cpuset_cpus.clone());
        }
        if let Some(pids) = self.pids_limit {
            // 0 and -1 both mean "no limit" to docker.
            new.pids_limit = Some(if pids > 0 { pids } else { -1 });
        }
        new
    }

    /// The new restart policy, if the update names one.
    fn restart(&self) -> ApiResult<Option<RestartPolicy>> {
        let Some(policy) = self.restart_policy.as_ref().filter(|p| !p.name.is_empty()) else {
            return Ok(None);
        };
        if !matches!(
            policy.name.as_str(),
            "no" | "always" | "unless-stopped" | "on-failure"
        ) {
            return Err(ApiError::bad_request(format!(
                "invalid restart policy {:?}: use no, always, unless-stopped or on-failure[:N]",
                policy.name
            )));
        }
        Ok(Some(RestartPolicy {
            name: policy.name.clone(),
            maximum_retry_count: policy.maximum_retry_count,
        }))
    }
}

// ANCHOR: update
/// `POST /containers/{id}/update`: `{"Warnings": []}`.
pub async fn update(
    State(daemon): State<Arc<Daemon>>,
    Path(id): Path<String>,
    GoJson(body): GoJson<UpdateBody>,
) -> ApiResult<Json<Value>> {
    blocking(move || {
        let record = record_of(&daemon, &id)?;
        let limits = body.apply(&record.spec.limits);
        let restart = body.restart()?;
        if restart.as_ref().is_some_and(|r| r.name != "no") && record.spec.engine.auto_remove {
            return Err(ApiError::bad_request(
                "Restart policy cannot be updated because AutoRemove is enabled for the container",
            ));
        }
        // Checked first for both cgroup versions, so that a stopped
        // container cannot keep limits that would fail its next start.
        for version in [ch03_cgroups::Version::V1, ch03_cgroups::Version::V2] {
            ch03_cgroups::settings(version, &limits)
                .map_err(|e| ApiError::bad_request(ch01_process::exit::report(&e)))?;
        }
        if record.is_running() {
            let cgroups = daemon.engine.images().overlay().cgroups();
            match ch03_cgroups::cli::cgroup_of(&daemon.engine, cgroups, record.id()) {
                Ok(cgroup) => cgroup.set_limits(&limits).map_err(|e| {
                    ApiError::bad_request(format!(
                        "Cannot update container {}: {}",
                        record.id(),
                        ch01_process::exit::report(&e)
                    ))
                })?,
                // Stopped since the record was read: its next start takes
                // the limits from the record.
                Err(_) if !record_of(&daemon, record.id())?.is_running() => {}
                Err(e) => return Err(ApiError::internal(ch01_process::exit::report(&e))),
            }
        }
        daemon
            .engine
            .containers()
            .update::<Spec>(record.id(), |r| {
                r.spec.limits = limits.clone();
                if let Some(restart) = &restart {
                    r.spec.engine.restart = restart.clone();
                }
                record_host_config(&mut r.spec.engine.host_config, &limits, restart.as_ref());
            })?;
        crate::daemon::shims::publish(&daemon, "update", record.id());
        Ok(Json(json!({ "Warnings": [] })))
    })
    .await
}
// ANCHOR_END: update

/// `HostConfig` as `inspect` shows it, with the new values.
fn record_host_config(host: &mut Value, limits: &Limits, restart: Option<&RestartPolicy>) {
    if !host.is_object() {
        *host = json!({});
    }
    let host = host.as_object_mut().expect("an object");
    host.insert("MemorySwap".into(), json!(limits.memory_swap.unwrap_or(0)));
    host.insert("CpuShares".into(), json!(limits.cpu_shares.unwrap_or(0)));
    host.insert(
        "CpusetCpus".into(),
        json!(limits.cpuset_cpus.clone().unwrap_or_default()),
    );
    if let Some(restart) = restart {
        host.insert(
            "RestartPolicy".into(),
            json!({"Name": restart.name, "MaximumRetryCount": restart.maximum_retry_count}),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_fields_keep_the_old_limits() {
        let old = Limits {
            memory: Some(64 << 20),
            cpus: Some(0.5),
            pids_limit: Some(20),
            ..Limits::default()
        };
        let update = UpdateBody {
            memory: 32 << 20,
            pids_limit: Some(0),
            ..UpdateBody::default()
        };
        let new = update.apply(&old);
        assert_eq!(new.memory, Some(32 << 20));
        assert_eq!(new.cpus, Some(0.5));
        assert_eq!(new.pids_limit, Some(-1));
        assert_eq!(UpdateBody::default().apply(&old), old);
    }
}
