//! State on disk: JSON files written atomically, and a lock around changes.
//!
//! Everything this chapter creates in the kernel (a bridge, a veth pair, an
//! nftables rule) is also written down under `<root>/networks/`, so that a
//! later command can find and remove it even when the process that created
//! it was killed with SIGKILL and never ran its cleanup.
//!
//! Two rules keep those files trustworthy:
//!
//! - **Atomic writes.** A file is written to a temporary name in the same
//!   directory and renamed over the old one. `rename` within one filesystem
//!   is atomic: a reader sees the old file or the new one, never half of
//!   each, and a process killed half-way leaves the old file. What must
//!   outlive a power cut too (a network's definition) is `fsync`ed before
//!   the rename, and the directory after it, so that the rename itself
//!   survives. What describes running containers (the addresses leased,
//!   the names published, the endpoints) is not: no container survives a
//!   reboot, so that state is void after one whatever the disk kept, and
//!   the store forgets what a previous boot left
//!   ([`crate::store::NetworkStore::lock`]). Each `fsync` costs a start a
//!   millisecond or more; a start wrote twelve of them before.
//! - **One writer at a time.** Read-modify-write of a shared file (the
//!   addresses handed out on a network) happens under an exclusive `flock`
//!   on a lock file. `flock` locks belong to an *open file description*, so
//!   two threads that each open the lock file exclude each other just as two
//!   processes do, and the kernel drops the lock when the holder dies: a
//!   SIGKILLed process never leaves the lock taken.

use ch01_process::explain;
use nix::fcntl::{Flock, FlockArg};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A filesystem operation failed.
    #[error("cannot {op} {path}: {source}")]
    Io {
        /// What we tried: "read", "rename", ...
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// What the kernel said.
        source: io::Error,
    },
    /// A state file does not hold what we wrote there.
    #[error("{path} is corrupt ({source}): remove it, or the directory holding it, to start over")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        source: serde_json::Error,
    },
}

/// Results of this module.
pub type Result<T, E = StateError> = std::result::Result<T, E>;

pub(crate) fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StateError {
    let path = path.to_path_buf();
    move |source| StateError::Io { op, path, source }
}

/// An exclusive `flock` on a lock file, held until dropped.
#[derive(Debug)]
pub struct Lock {
    _lock: Flock<File>,
}

impl Lock {
    /// Waits until no one else holds the lock on `path` (created if
    /// missing), then holds it.
    pub fn acquire(path: &Path) -> Result<Lock> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(io_err("create", dir))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(path)
            .map_err(io_err("open", path))?;
        let lock =
            Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| StateError::Io {
                op: "lock",
                path: path.to_path_buf(),
                source: errno.into(),
            })?;
        Ok(Lock { _lock: lock })
    }
}

/// Reads a JSON file; `None` when it does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("read", path)(e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| StateError::Corrupt {
            path: path.to_path_buf(),
            source,
        })
}

// ANCHOR: write_json_atomic
/// Writes `value` as JSON to `path` atomically: temp file, fsync, rename,
/// fsync of the directory.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut json = serde_json::to_vec_pretty(value).expect("state serializes");
    json.push(b'\n');
    write_atomic(path, &json)
}

/// Writes `bytes` to `path` atomically (see [`write_json_atomic`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_replacing(path, bytes, Durability::Durable)
}

/// Writes `value` as JSON to `path` atomically but not durably (temp file,
/// rename, no fsync): for the state of running containers, which a reboot
/// voids (see the module docs).
pub fn write_json_runtime<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut json = serde_json::to_vec_pretty(value).expect("state serializes");
    json.push(b'\n');
    write_replacing(path, &json, Durability::Scratch)
}

/// Writes `bytes` to `path` atomically but not durably: temp file, rename,
/// no fsync. For what is made again whenever it is needed (a container's
/// hosts files, written at each start): a reader sees the old file or the
/// new one, never half of one; after a crash the file may be lost, which
/// costs nothing, where each fsync costs the start a millisecond or more.
pub fn write_scratch(path: &Path, bytes: &[u8]) -> Result<()> {
    write_replacing(path, bytes, Durability::Scratch)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Durability {
    Durable,
    Scratch,
}

fn write_replacing(path: &Path, bytes: &[u8], durability: Durability) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().expect("state files live in a directory");
    fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    let name = path.file_name().expect("state files have a name");
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        file.write_all(bytes).map_err(io_err("write", &tmp))?;
        if durability == Durability::Scratch {
            return fs::rename(&tmp, path).map_err(io_err("rename", &tmp));
        }
        file.sync_all().map_err(io_err("fsync", &tmp))?;
        fs::rename(&tmp, path).map_err(io_err("rename", &tmp))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("fsync", dir))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    match durability {
        Durability::Durable => explain!("write {} (temp file, fsync, rename)", path.display()),
        Durability::Scratch => explain!("write {} (temp file, rename)", path.display()),
    }
    result
}
// ANCHOR_END: write_json_atomic

/// Removes a directory and what it holds; a missing one is not an error.
pub fn remove_dir_all(path: &Path) -> Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("remove", path)(e)),
    }
}

/// 64 random hex digits, the shape of docker's ids.
pub fn random_id() -> String {
    let mut bytes = [0u8; 32];
    let mut filled = 0;
    while filled < bytes.len() {
        // SAFETY: the pointer and length describe the unfilled part of `bytes`.
        let n = unsafe {
            libc::getrandom(bytes[filled..].as_mut_ptr().cast(), bytes.len() - filled, 0)
        };
        if n > 0 {
            filled += n as usize;
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The current time as RFC 3339 in UTC: `2026-11-03T12:34:56Z`.
pub fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

/// Seconds since 1970 as RFC 3339 in UTC (the civil-from-days algorithm).
///
/// ```
/// assert_eq!(ch06_network::state::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
/// ```
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_no_temp_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        assert_eq!(read_json::<Vec<u32>>(&path).unwrap(), None);
        write_json_atomic(&path, &vec![1u32, 2]).unwrap();
        write_json_atomic(&path, &vec![3u32]).unwrap();
        assert_eq!(read_json::<Vec<u32>>(&path).unwrap(), Some(vec![3]));
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["x.json"]);
    }

    #[test]
    fn corrupt_file_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        fs::write(&path, "{").unwrap();
        let err = read_json::<Vec<u32>>(&path).unwrap_err();
        assert!(err.to_string().contains("is corrupt"), "{err}");
    }

    #[test]
    fn ids_are_hex_and_differ() {
        let (a, b) = (random_id(), random_id());
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
