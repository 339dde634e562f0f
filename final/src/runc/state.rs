//! The OCI state of a container: what `state` prints and hooks read.
//!
//! The runtime specification defines the state as `ociVersion`, `id`,
//! `status` (`creating`, `created`, `running`, `stopped`), `pid` (the
//! container's process, as the host sees it), `bundle` and `annotations`;
//! runc adds `rootfs`, `created` and `owner`, and reports `paused` for a
//! frozen container. Nothing here is stored as such: it is read from the
//! chapters' record, the exec fifo and the cgroup each time, so it can
//! never disagree with them.
//!
//! | record (chapter 2) | exec fifo | cgroup | status   |
//! |--------------------|-----------|--------|----------|
//! | created, no error  |           |        | creating |
//! | running            | exists    |        | created  |
//! | running            | gone      | frozen | paused   |
//! | running            | gone      |        | running  |
//! | exited, or failed  |           |        | stopped  |

use super::spec::Spec;
use ch02_namespaces::records::{Record, Status};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const CREATING: &str = "creating";
pub const CREATED: &str = "created";
pub const RUNNING: &str = "running";
pub const PAUSED: &str = "paused";
pub const STOPPED: &str = "stopped";

// ANCHOR: state
/// A container's state, in the JSON shape runc prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    pub owner: String,
}
// ANCHOR_END: state

/// What a hook reads on its standard input: the specification's fields.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HookState<'a> {
    oci_version: &'a str,
    id: &'a str,
    status: &'a str,
    #[serde(skip_serializing_if = "is_zero")]
    pid: i32,
    bundle: &'a Path,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: &'a BTreeMap<String, String>,
}

fn is_zero(pid: &i32) -> bool {
    *pid == 0
}

impl State {
    /// The parts of the state the spec fixes, before the container runs.
    pub fn template(spec: &Spec) -> State {
        State {
            oci_version: super::OCI_VERSION.into(),
            id: spec.runc.id.clone(),
            pid: 0,
            status: CREATING.into(),
            bundle: spec.runc.bundle.clone(),
            rootfs: spec.rootfs.clone(),
            created: String::new(),
            annotations: spec.runc.annotations.clone(),
            owner: String::new(),
        }
    }

    // ANCHOR: of
    /// The state of the container `record` describes; `fifo_exists` says
    /// whether it still waits for `start`, `frozen` whether it is paused.
    pub fn of(record: &Record<Spec>, fifo_exists: bool, frozen: bool) -> State {
        let alive = record.state.pid.filter(|pid| pid.is_alive());
        let status = match record.state.status {
            Status::Created if record.state.error.is_none() => CREATING,
            Status::Running if alive.is_some() && fifo_exists => CREATED,
            Status::Running if alive.is_some() && frozen => PAUSED,
            Status::Running if alive.is_some() => RUNNING,
            _ => STOPPED,
        };
        let pid = match status {
            STOPPED | CREATING => 0,
            _ => alive.map_or(0, |pid| pid.pid),
        };
        State {
            pid,
            status: status.into(),
            created: rfc3339(record.created),
            ..State::template(&record.spec)
        }
    }
    // ANCHOR_END: of

    /// The JSON a hook reads on its standard input.
    pub fn to_hook_json(&self) -> String {
        serde_json::to_string(&HookState {
            oci_version: &self.oci_version,
            id: &self.id,
            status: &self.status,
            pid: self.pid,
            bundle: &self.bundle,
            annotations: &self.annotations,
        })
        .expect("a state is plain data")
    }
}

/// A Unix time in nanoseconds as RFC 3339 in UTC, the way Go writes a
/// time in JSON: `2026-11-23T19:14:05.123456789Z`, with the fraction's
/// trailing zeros dropped.
pub fn rfc3339(nanos: u64) -> String {
    let seconds = nanos / 1_000_000_000;
    let fraction = nanos % 1_000_000_000;
    let days = (seconds / 86_400) as i64;
    let in_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut text = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        in_day / 3600,
        in_day / 60 % 60,
        in_day % 60
    );
    if fraction > 0 {
        let digits = format!("{fraction:09}");
        text.push('.');
        text.push_str(digits.trim_end_matches('0'));
    }
    text.push('Z');
    text
}

/// Days since 1970-01-01 to a (year, month, day) of the Gregorian
/// calendar (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_go_writes_them() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(1_700_000_000_123_400_000),
            "2023-11-14T22:13:20.1234Z"
        );
        assert_eq!(rfc3339(951_782_400_000_000_000), "2000-02-29T00:00:00Z");
    }
}
