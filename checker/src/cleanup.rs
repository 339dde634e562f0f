//! Nothing left behind: what a failing engine left of the checker's own
//! containers is removed when the checks end.
//!
//! Only what the checker's runs made is touched: the cgroup directories
//! that held the containers it started (their paths were read from
//! `/proc/PID/cgroup` while they ran), and mounts under its own scratch
//! directory. A learner's engine that forgot to remove its cgroup, or to
//! keep its mounts in the container's namespace, gets a `FAIL` for it;
//! the machine does not keep the mess.

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Kills what is left in each of `cgroups` and removes it; returns the
/// directories it removed.
pub fn remove_cgroups(cgroups: &[PathBuf]) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for dir in cgroups {
        if !dir.is_dir() {
            continue;
        }
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            for pid in pids_in(dir) {
                let _ = kill(pid, Signal::SIGKILL);
            }
            match std::fs::remove_dir(dir) {
                Ok(()) => {
                    removed.push(dir.clone());
                    break;
                }
                Err(_) if Instant::now() < until => std::thread::sleep(Duration::from_millis(50)),
                Err(error) => {
                    eprintln!(
                        "skiff-check: could not remove {}: {error}; remove it by hand",
                        dir.display()
                    );
                    break;
                }
            }
        }
    }
    removed
}

fn pids_in(dir: &Path) -> Vec<Pid> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .map(Pid::from_raw)
        .collect()
}

/// Detaches every mount under `dir` (the checker's scratch directory),
/// deepest first.
pub fn unmount_under(dir: &Path) -> Vec<PathBuf> {
    let mut mounts = crate::kernel::mounts_under(dir);
    mounts.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    for mount in &mounts {
        let _ = nix::mount::umount2(mount, nix::mount::MntFlags::MNT_DETACH);
    }
    mounts
}
