//! Chapter 3: cgroups. The container runs in a cgroup of its own, made by
//! the engine, with the limits written where the kernel reads them, and
//! removed when the container ends.

use super::{Check, expect_in};
use crate::kernel::cgroup_dir;
use crate::target::Target;
use std::path::{Path, PathBuf};
use std::time::Duration;

const LIMITS: &str = "Cgroups > What and why > Each limit, and how the kernel enforces it";

pub const CHECKS: [Check; 7] = [
    Check {
        chapter: 3,
        id: "3.1",
        name: "the container runs in a cgroup of its own",
        hint: "Cgroups > What and why > No instant unlimited",
        run: own_cgroup,
    },
    Check {
        chapter: 3,
        id: "3.2",
        name: "--memory 64m is written to the cgroup's memory limit",
        hint: LIMITS,
        run: memory_limit,
    },
    Check {
        chapter: 3,
        id: "3.3",
        name: "--pids-limit 20 is written to pids.max",
        hint: LIMITS,
        run: pids_limit,
    },
    Check {
        chapter: 3,
        id: "3.4",
        name: "--cpus 0.5 is written as a quota of 50000 per 100000 µs",
        hint: LIMITS,
        run: cpu_quota,
    },
    Check {
        chapter: 3,
        id: "3.5",
        name: "a memory hog over --memory is OOM-killed: exit 137",
        hint: "Cgroups > What and why > OOM, and why 137",
        run: oom,
    },
    Check {
        chapter: 3,
        id: "3.6",
        name: "--pids-limit holds: forks beyond it fail",
        hint: LIMITS,
        run: pids_hold,
    },
    Check {
        chapter: 3,
        id: "3.7",
        name: "the cgroup is removed when the container ends",
        hint: "Cgroups > What and why > Removing a cgroup",
        run: removed,
    },
];

/// Runs `probe sleep 30` with `flags`, and gives `look` the directory of
/// the container's cgroup in the hierarchy of `controller`, checked to be
/// its own: not the binary's.
fn while_running(
    target: &Target,
    flags: &[&str],
    controller: &str,
    look: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<PathBuf, String> {
    let mut running = target.start(flags, &["probe", "sleep", "30"])?;
    let command = running.command_pid("probe", Duration::from_secs(10))?;
    let its = cgroup_dir(command, controller)?;
    let engine = cgroup_dir(running.pid(), controller)?;
    if its == engine {
        return Err(format!(
            "the command is in the engine's own {controller} cgroup ({})",
            its.display()
        ));
    }
    target.saw_cgroup(its.clone());
    let looked = look(&its);
    // End the container, not the engine, so that the engine cleans up.
    let _ = nix::sys::signal::kill(command, nix::sys::signal::Signal::SIGKILL);
    running.finish(Duration::from_secs(10))?;
    looked.map(|()| its)
}

fn read(dir: &Path, file: &str) -> Result<String, String> {
    let path = dir.join(file);
    std::fs::read_to_string(&path)
        .map(|text| text.trim().to_string())
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn expect_file(dir: &Path, file: &str, wanted: &str) -> Result<(), String> {
    let value = read(dir, file)?;
    if value == wanted {
        Ok(())
    } else {
        Err(format!("{file} is {value:?}, expected {wanted:?}"))
    }
}

fn own_cgroup(target: &Target) -> Result<(), String> {
    while_running(target, &[], "memory", |_| Ok(())).map(drop)
}

fn memory_limit(target: &Target) -> Result<(), String> {
    while_running(target, &["--memory", "64m"], "memory", |dir| {
        let file = if dir.join("memory.max").exists() {
            "memory.max"
        } else {
            "memory.limit_in_bytes"
        };
        expect_file(dir, file, "67108864")
    })
    .map(drop)
}

fn pids_limit(target: &Target) -> Result<(), String> {
    while_running(target, &["--pids-limit", "20"], "pids", |dir| {
        expect_file(dir, "pids.max", "20")
    })
    .map(drop)
}

fn cpu_quota(target: &Target) -> Result<(), String> {
    while_running(target, &["--cpus", "0.5"], "cpu", |dir| {
        if dir.join("cpu.max").exists() {
            expect_file(dir, "cpu.max", "50000 100000")
        } else {
            expect_file(dir, "cpu.cfs_quota_us", "50000")?;
            expect_file(dir, "cpu.cfs_period_us", "100000")
        }
    })
    .map(drop)
}

fn oom(target: &Target) -> Result<(), String> {
    let run = target.run(&["--memory", "32m"], &["probe", "hog", "256"])?;
    if run.stdout.contains("allocated 256 MiB") {
        return Err("the hog got all 256 MiB: no memory limit held it".into());
    }
    run.expect_code(137)?;
    Ok(())
}

fn pids_hold(target: &Target) -> Result<(), String> {
    let run = target.run(&["--pids-limit", "10"], &["probe", "forks", "20"])?;
    run.expect_code(0)?;
    expect_in("the probe's report", &run.stdout, "fork: EAGAIN")
}

fn removed(target: &Target) -> Result<(), String> {
    // The container is killed from outside and the engine has exited:
    // its cgroup must be gone, in every hierarchy.
    let dir = while_running(target, &[], "pids", |_| Ok(()))?;
    if dir.exists() {
        Err(format!("{} is still there", dir.display()))
    } else {
        Ok(())
    }
}
