//! `stats`: a table like `docker stats`, from two samples of each cgroup.
//!
//! The kernel counts CPU time as a total (`usage_usec`), so a percentage
//! needs two readings: the time used between them, over the wall-clock time
//! between them. 100% is one CPU busy for the whole interval; a container
//! using two CPUs shows 200%, as in docker.

use crate::cgroup::{Cgroup, Stats};
use std::time::{Duration, Instant};

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// The container's short id and name.
    pub id: String,
    pub name: String,
    pub cpu_percent: f64,
    pub stats: Stats,
    pub paused: bool,
}

/// A container to sample: its short id, its name, its cgroup.
pub struct Sampled {
    pub id: String,
    pub name: String,
    pub cgroup: Cgroup,
}

/// Samples each container's cgroup twice, `interval` apart.
pub fn sample(containers: &[Sampled], interval: Duration) -> Vec<Row> {
    let first: Vec<_> = containers.iter().map(|c| c.cgroup.stats().ok()).collect();
    let start = Instant::now();
    std::thread::sleep(interval);
    let elapsed = start.elapsed().as_micros().max(1) as f64;
    containers
        .iter()
        .zip(first)
        .filter_map(|(container, before)| {
            let cgroup = &container.cgroup;
            let after = cgroup.stats().ok()?;
            let used = after.cpu_usage_usec.saturating_sub(before?.cpu_usage_usec) as f64;
            Some(Row {
                id: container.id.clone(),
                name: container.name.clone(),
                cpu_percent: used / elapsed * 100.0,
                paused: cgroup.is_frozen().unwrap_or(false),
                stats: after,
            })
        })
        .collect()
}

// ANCHOR: table
/// Renders rows as `docker stats --no-stream` does, plus the state.
pub fn table(rows: &[Row]) -> String {
    let mut lines = vec![
        [
            "CONTAINER ID",
            "NAME",
            "CPU %",
            "MEM USAGE / LIMIT",
            "MEM %",
            "PIDS",
            "STATE",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for row in rows {
        let stats = &row.stats;
        let limit = stats.memory_limit.unwrap_or_else(host_memory);
        let percent = stats.memory_usage as f64 / limit.max(1) as f64 * 100.0;
        lines.push(vec![
            row.id.clone(),
            row.name.clone(),
            format!("{:.2}%", row.cpu_percent),
            format!("{} / {}", human(stats.memory_usage), human(limit)),
            format!("{percent:.2}%"),
            stats.pids_current.to_string(),
            if row.paused { "paused" } else { "running" }.to_string(),
        ]);
    }
    ch01_process::shell::table(&lines)
}
// ANCHOR_END: table

/// Bytes in docker's units: `12.5MiB`.
pub fn human(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{value:.2}{}", units[unit])
    }
}

/// The machine's memory: the limit docker shows for an unlimited container.
fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_dockers() {
        assert_eq!(human(512), "512B");
        assert_eq!(human(64 * 1024 * 1024), "64.00MiB");
        assert_eq!(human(1536), "1.50KiB");
    }
}
