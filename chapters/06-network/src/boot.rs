//! Forgetting what a previous boot left.
//!
//! The store writes the state of running containers (leases, published
//! names, endpoints) without `fsync` (see [`crate::state`]): it is void
//! after a reboot, since no container survives one. What a power cut left
//! of it may be an old version of a file, or an empty one; and even a
//! clean shutdown leaves every lease of the containers that were running.
//! So the first process that takes the store's lock after a boot removes
//! that state, and writes down the boot it did it for.
//!
//! A boot is told apart by the kernel's random `boot_id`, new at every
//! boot. Only what was last changed *before* this boot began goes (its
//! modification time is older than the boot time, `btime` in /proc/stat):
//! an endpoint that another process is writing right now, on this boot,
//! outside the lock, stays.

use crate::state::{self, Result};
use crate::store::NetworkStore;
use ch01_process::explain;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// The file, under `<root>/networks`, that names the boot the runtime
/// state belongs to.
const MARKER: &str = "boot_id";

/// The per-network files that describe running containers.
const RUNTIME_FILES: [&str; 2] = ["ipam.json", "records.json"];

/// This boot's id, read once per process.
fn this_boot() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|id| id.trim().to_string())
            .unwrap_or_default()
    })
}

/// When this boot began, from /proc/stat's `btime` (seconds since 1970).
fn boot_time() -> Option<SystemTime> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let seconds: u64 = stat
        .lines()
        .find_map(|line| line.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
}

/// Whether `path` was last changed before `boot`.
fn from_before(path: &Path, boot: SystemTime) -> bool {
    std::fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|changed| changed < boot)
}

// ANCHOR: forget_previous_boot
/// Removes the runtime state a previous boot left, once per boot. Call it
/// under the store's lock.
pub fn forget_previous_boot(store: &NetworkStore) -> Result<()> {
    let marker = store.dir().join(MARKER);
    let boot = this_boot();
    if boot.is_empty() || std::fs::read_to_string(&marker).is_ok_and(|id| id.trim() == boot) {
        return Ok(());
    }
    let Some(began) = boot_time() else {
        return Ok(());
    };
    explain!("a new boot: forget the leases, names and endpoints of the previous one");
    if let Ok(entries) = std::fs::read_dir(store.dir()) {
        for entry in entries.flatten() {
            for name in RUNTIME_FILES {
                let file = entry.path().join(name);
                if from_before(&file, began) {
                    std::fs::remove_file(&file).map_err(state::io_err("remove", &file))?;
                }
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(store.endpoints_dir()) {
        for entry in entries.flatten() {
            if from_before(&entry.path(), began) {
                state::remove_dir_all(&entry.path())?;
            }
        }
    }
    state::write_atomic(&marker, format!("{boot}\n").as_bytes())
}
// ANCHOR_END: forget_previous_boot

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::{self, File, FileTimes};

    fn age(path: &Path, by: Duration) {
        let when = SystemTime::now() - by;
        File::open(path)
            .unwrap()
            .set_times(FileTimes::new().set_modified(when))
            .unwrap();
    }

    #[test]
    fn the_previous_boots_runtime_state_goes_once_and_this_boots_stays() {
        let root = tempfile::tempdir().unwrap();
        let store = NetworkStore::open(root.path());
        let network = store.dir().join("n1");
        fs::create_dir_all(&network).unwrap();
        fs::write(network.join("network.json"), "{}").unwrap();
        fs::write(network.join("ipam.json"), "{}").unwrap();
        fs::write(network.join("records.json"), "").unwrap();
        let old = store.endpoints_dir().join("old");
        let new = store.endpoints_dir().join("new");
        fs::create_dir_all(&old).unwrap();
        fs::create_dir_all(&new).unwrap();
        fs::write(store.dir().join(MARKER), "a boot long ago\n").unwrap();
        // Older than any boot: last changed a hundred years ago.
        let long = Duration::from_secs(100 * 365 * 24 * 3600);
        age(&network.join("ipam.json"), long);
        age(&network.join("network.json"), long);
        age(&old, long);

        forget_previous_boot(&store).unwrap();
        assert!(!network.join("ipam.json").exists(), "an old lease stayed");
        assert!(
            network.join("records.json").exists(),
            "this boot's names went"
        );
        assert!(
            network.join("network.json").exists(),
            "a network's definition went"
        );
        assert!(!old.exists(), "an old endpoint stayed");
        assert!(new.exists(), "this boot's endpoint went");
        let marker = fs::read_to_string(store.dir().join(MARKER)).unwrap();
        assert_eq!(marker.trim(), this_boot());

        // Once per boot: old files are not looked at again.
        fs::write(network.join("ipam.json"), "{}").unwrap();
        age(&network.join("ipam.json"), long);
        drop(store.lock().unwrap());
        assert!(network.join("ipam.json").exists());
    }
}
