//! `docker update` (`POST /containers/{id}/update`): a running
//! container's cgroup rewritten, and its record, so that the next start
//! keeps the new limits.

#[path = "support/daemon.rs"]
mod daemon;

use daemon::{TestDaemon, TestImage, settings, shown};
use skiff_testkit::Transcript;
use std::process::Command;

fn record(t: &mut Transcript, image: &TestImage, mut command: Command) -> i32 {
    let line = image.shown(&shown(&command));
    t.run_shown(&line, &mut command, None).code
}

/// The first of `files` found in the container's cgroup directories
/// (v1 and v2 name them differently), trimmed.
fn cgroup_value(id: &str, files: &[&str]) -> String {
    for dir in skiff_testkit::cgroup_dirs(id) {
        for file in files {
            if let Ok(text) = std::fs::read_to_string(dir.join(file)) {
                return text.trim().to_string();
            }
        }
    }
    panic!("no {files:?} in the cgroups of {id}");
}

fn memory(id: &str) -> String {
    cgroup_value(id, &["memory.limit_in_bytes", "memory.max"])
}

fn pids(id: &str) -> String {
    cgroup_value(id, &["pids.max"])
}

/// The CPU quota in microseconds per 100 ms.
fn cpu_quota(id: &str) -> String {
    let value = cgroup_value(id, &["cpu.cfs_quota_us", "cpu.max"]);
    value
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn transcript_update_limits_and_restart_policy() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    let id = daemon
        .ok(daemon.docker(&[
            "run",
            "-d",
            "--name",
            "web",
            "--memory",
            "64m",
            &image.name,
            "sleep",
            "1000",
        ]))
        .trim()
        .to_string();
    assert_eq!(memory(&id), (64u64 << 20).to_string());

    let mut t = Transcript::new();
    let inspect = "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} \
                   {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}";
    t.comment("a running container: its cgroup files are written again");
    assert_eq!(
        record(
            &mut t,
            &image,
            daemon.docker(&[
                "update",
                "--memory",
                "32m",
                "--pids-limit",
                "20",
                "--cpus",
                "0.5",
                "--restart",
                "on-failure:3",
                "web",
            ]),
        ),
        0
    );
    assert_eq!(memory(&id), (32u64 << 20).to_string());
    assert_eq!(pids(&id), "20");
    assert_eq!(cpu_quota(&id), "50000");
    record(
        &mut t,
        &image,
        daemon.docker(&["inspect", "-f", inspect, "web"]),
    );

    t.comment("the record changed too: a new start keeps the limits");
    daemon.ok(daemon.skiff(&["stop", "-t", "1", "web"]));
    record(
        &mut t,
        &image,
        daemon.skiff(&["update", "--memory", "48m", "--pids-limit", "-1", "web"]),
    );
    daemon.ok(daemon.skiff(&["start", "web"]));
    assert_eq!(memory(&id), (48u64 << 20).to_string());
    assert_eq!(pids(&id), "max");
    assert_eq!(cpu_quota(&id), "50000");
    record(
        &mut t,
        &image,
        daemon.skiff(&["inspect", "-f", inspect, "web"]),
    );

    t.comment("what cannot be");
    assert_ne!(
        record(
            &mut t,
            &image,
            daemon.docker(&["update", "--memory-swap", "1m", "web"])
        ),
        0
    );
    assert_ne!(
        record(
            &mut t,
            &image,
            daemon.skiff(&["update", "--cpuset-cpus", "x", "web"])
        ),
        0
    );
    assert_ne!(
        record(
            &mut t,
            &image,
            daemon.docker(&["update", "--restart", "sometimes", "web"])
        ),
        0
    );
    daemon.ok(daemon.docker(&[
        "run",
        "-d",
        "--rm",
        "--name",
        "once",
        &image.name,
        "sleep",
        "1000",
    ]));
    assert_ne!(
        record(
            &mut t,
            &image,
            daemon.docker(&["update", "--restart", "always", "once"])
        ),
        0
    );
    assert_ne!(
        record(
            &mut t,
            &image,
            daemon.skiff(&["update", "--memory", "8m", "nothere"])
        ),
        0
    );
    // The refused updates changed nothing.
    assert_eq!(memory(&id), (48u64 << 20).to_string());
    settings().bind(|| insta::assert_snapshot!("update", t.text()));
}
