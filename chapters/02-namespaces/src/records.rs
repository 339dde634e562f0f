//! Container records: what the engine knows of each container, on disk.
//!
//! A container outlives the command that made it: `exec`, `ps`, `rm` and
//! `stats` are other processes, run later. So everything about it is kept in
//! one JSON file, `<root>/containers/<id>/record.json`: its spec, the image
//! it came from, when it was created, and its state (created, running,
//! exited; the supervisor's and the first process's pids; the exit code).
//! Nothing about a container is kept only in a process's memory, so a
//! command that finds a record whose supervisor died (`kill -9`, a crash)
//! can tell, mark it exited, and clean up after it.
//!
//! Two rules keep the records right when several commands run at once:
//!
//! - **Atomic writes.** A record is written to a temporary file, flushed to
//!   disk, then renamed over the old one: a reader sees the old record or
//!   the new one, never half of one, even after a crash.
//! - **One writer at a time.** Reading a record, changing it and writing it
//!   back happens under an exclusive `flock` on `<root>/containers/.lock`,
//!   so two `run --name web` cannot both take the name.
//!
//! A pid alone does not identify a process for long: once it exits, the
//! kernel hands its number to the next process. A record keeps each pid
//! with the process's start time (field 22 of `/proc/PID/stat`, in clock
//! ticks since boot), and a pid counts as ours only while both match.

use crate::names;
use crate::spec::RunSpec;
use ch01_process::explain;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why a record could not be read, written or found.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("no such container: {0}")]
    NotFound(String),
    #[error("{0:?} matches several containers: give more of the id, or the name")]
    Ambiguous(String),
    #[error(
        "the name {0:?} is already in use by container {1}: remove it first, or choose another name"
    )]
    NameInUse(String, String),
    #[error(
        "invalid container name {0:?}: use letters, digits, '_', '.' and '-', starting with a letter or digit"
    )]
    InvalidName(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a container record: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

type Result<T> = std::result::Result<T, RecordError>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RecordError + '_ {
    move |source| RecordError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where a container is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Made, never started (or its start failed).
    #[default]
    Created,
    /// Its first process runs, watched by its supervisor.
    Running,
    /// Its first process ended.
    Exited,
}

// ANCHOR: process_id
/// A process, identified so that a reused pid is not mistaken for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    pub pid: i32,
    /// When it started, in clock ticks after boot (`/proc/PID/stat` field 22).
    pub start_time: u64,
}

impl ProcessId {
    /// The identity of the running process `pid`.
    pub fn of(pid: i32) -> Option<ProcessId> {
        start_time(pid).map(|start_time| ProcessId { pid, start_time })
    }

    /// Whether this very process still exists (a zombie counts as gone).
    pub fn is_alive(&self) -> bool {
        start_time(self.pid) == Some(self.start_time) && !is_zombie(self.pid)
    }
}

/// Field 22 of `/proc/PID/stat`. The second field, the command name, is in
/// parentheses and may itself hold spaces and parentheses: the fields are
/// counted after the *last* `)`.
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    // After the name come field 3 (state) onwards: field 22 is the 20th.
    after_name.split_whitespace().nth(19)?.parse().ok()
}
// ANCHOR_END: process_id

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let after_name = stat[stat.rfind(')')? + 1..].to_string();
            after_name.split_whitespace().next().map(|s| s == "Z")
        })
        .unwrap_or(false)
}

/// A container's state: the part of its record that changes as it runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub status: Status,
    /// The process that started the container and waits for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervisor: Option<ProcessId>,
    /// The container's first process, as the host sees it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<ProcessId>,
    /// Frozen by `pause`.
    #[serde(default)]
    pub paused: bool,
    /// Unix times in nanoseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub oom_killed: bool,
    /// Why the container stopped other than by itself, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

// ANCHOR: record
/// One container, as `<root>/containers/<id>/record.json` holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record<S> {
    pub spec: S,
    /// The image it was made from, as the user named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Unix time in nanoseconds.
    pub created: u64,
    pub state: State,
}
// ANCHOR_END: record

impl<S: RunSpec> Record<S> {
    /// A new record for `spec`, in state created.
    pub fn new(spec: S, image: Option<String>) -> Record<S> {
        Record {
            spec,
            image,
            created: now(),
            state: State::default(),
        }
    }

    pub fn id(&self) -> &str {
        &self.spec.container().id
    }

    pub fn name(&self) -> &str {
        &self.spec.container().name
    }

    /// Whether the container runs: recorded as running, and its
    /// supervisor alive (the check [`Containers::load`] makes first).
    pub fn is_running(&self) -> bool {
        self.state.status == Status::Running
    }
}

/// Unix time in nanoseconds.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// A new container id: 32 random bytes in hex, as docker's.
pub fn new_id() -> String {
    let mut bytes = [0u8; 32];
    // getrandom(2) fills the buffer from the kernel's generator.
    let mut filled = 0;
    while filled < bytes.len() {
        // SAFETY: the pointer and length describe the unfilled rest of `bytes`.
        let n = unsafe {
            libc::getrandom(bytes[filled..].as_mut_ptr().cast(), bytes.len() - filled, 0)
        };
        if n > 0 {
            filled += n as usize;
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The records of an engine: `<root>/containers/`.
#[derive(Debug, Clone)]
pub struct Containers {
    dir: PathBuf,
}

impl Containers {
    /// The records under `root`, creating the directories (mode 0700: the
    /// containers' files are nobody else's business) when missing.
    pub fn open(root: &Path) -> Result<Containers> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(io(root))?;
        let dir = root.join("containers");
        private_dir(&dir).map_err(io(&dir))?;
        Ok(Containers { dir })
    }

    /// The engine's state directory, which holds `containers/`.
    pub fn root(&self) -> &Path {
        self.dir.parent().unwrap_or(&self.dir)
    }

    /// The directory of container `id`, which holds its record (and, from
    /// chapter 4 on, its writable layer).
    pub fn dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.dir(id).join("record.json")
    }

    /// Whether container `id` has a record (without the lock: hold
    /// [`Containers::lock`] for an answer that stays true).
    pub fn exists(&self, id: &str) -> bool {
        self.record_path(id).is_file()
    }

    /// Takes the lock that serialises every change of a record.
    pub fn lock(&self) -> Result<Flock<std::fs::File>> {
        let path = self.dir.join(".lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(io(&path))?;
        Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| io(&path)(std::io::Error::from(errno)))
    }

    // ANCHOR: create
    /// Records a new container: takes its name (a random one when the spec
    /// has none), makes its directory, writes its record. Under the lock,
    /// so that two containers never get one name.
    pub fn create<S: RunSpec>(&self, record: &mut Record<S>) -> Result<PathBuf> {
        let _lock = self.lock()?;
        let taken: Vec<(String, String)> = self
            .list_unlocked::<crate::spec::Spec>()?
            .into_iter()
            .map(|r| (r.spec.name.clone(), r.spec.id.clone()))
            .collect();
        let spec = record.spec.container_mut();
        if spec.name.is_empty() {
            spec.name = names::random_unused(|name| taken.iter().any(|(n, _)| n == name));
        } else if !names::is_valid(&spec.name) {
            return Err(RecordError::InvalidName(spec.name.clone()));
        } else if let Some((_, id)) = taken.iter().find(|(n, _)| *n == spec.name) {
            return Err(RecordError::NameInUse(
                spec.name.clone(),
                id[..12].to_string(),
            ));
        }
        let dir = self.dir(&spec.id);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(io(&dir))?;
        explain!("mkdir {:?} (container {})", dir.display(), spec.name);
        if let Err(error) = self.write(&spec.id.clone(), record) {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(error);
        }
        Ok(dir)
    }
    // ANCHOR_END: create

    /// Writes `record` atomically: a temporary file, fsync, rename.
    fn write<S: Serialize>(&self, id: &str, record: &S) -> Result<()> {
        let path = self.record_path(id);
        let partial = path.with_extension("json.partial");
        let json = serde_json::to_vec_pretty(record).expect("a record is plain data");
        let written = (|| {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .mode(0o600)
                .open(&partial)?;
            file.write_all(&json)?;
            file.sync_all()?;
            std::fs::rename(&partial, &path)
        })();
        written.map_err(io(&path))
    }

    // ANCHOR: update
    /// Changes the record of container `id` under the lock: reads it, lets
    /// `change` edit it, writes it back. A record that is gone (removed
    /// meanwhile) is not an error: there is nothing left to change.
    ///
    /// The caller may see the record through an earlier chapter's spec
    /// (`ps` of chapter 2 reads a chapter 4 container as a chapter 2 spec):
    /// the sections of the spec it does not know are kept as they were.
    pub fn update<S: RunSpec>(&self, id: &str, change: impl FnOnce(&mut Record<S>)) -> Result<()> {
        let _lock = self.lock()?;
        let raw = match self.read::<serde_json::Value>(id) {
            Ok(raw) => raw,
            Err(RecordError::NotFound(_)) => return Ok(()),
            Err(error) => return Err(error),
        };
        let path = self.record_path(id);
        let corrupt = |source| RecordError::Corrupt {
            path: path.clone(),
            source,
        };
        let mut record: Record<S> = serde_json::from_value(raw.clone()).map_err(corrupt)?;
        change(&mut record);
        let mut changed = serde_json::to_value(&record).map_err(corrupt)?;
        if let (Some(old), Some(new)) = (raw["spec"].as_object(), changed["spec"].as_object_mut()) {
            for (section, value) in old {
                new.entry(section.clone()).or_insert_with(|| value.clone());
            }
        }
        self.write(id, &changed)
    }
    // ANCHOR_END: update

    fn read<T: serde::de::DeserializeOwned>(&self, id: &str) -> Result<T> {
        let path = self.record_path(id);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(RecordError::NotFound(id.to_string()));
            }
            Err(e) => return Err(io(&path)(e)),
        };
        serde_json::from_slice(&bytes).map_err(|source| RecordError::Corrupt { path, source })
    }

    /// The record of `id` as JSON, as `inspect` shows it.
    pub fn load_json(&self, id: &str) -> Result<serde_json::Value> {
        self.load::<crate::spec::Spec>(id)?;
        let path = self.record_path(id);
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        serde_json::from_slice(&bytes).map_err(|source| RecordError::Corrupt { path, source })
    }

    // ANCHOR: reconcile
    /// Reads the record of `id`, first marking it exited if its supervisor
    /// is gone: the container died with it (its first process is killed
    /// when its supervisor dies), and nobody else will say so.
    pub fn load<S: RunSpec>(&self, id: &str) -> Result<Record<S>> {
        let record = self.read::<Record<S>>(id)?;
        let dead = record.state.status == Status::Running
            && !record.state.supervisor.is_some_and(|s| s.is_alive());
        if !dead {
            return Ok(record);
        }
        explain!(
            "container {} is recorded as running, but its supervisor is gone: mark it exited",
            record.name()
        );
        self.update::<S>(id, |record| {
            if record.state.status == Status::Running {
                record.state.status = Status::Exited;
                record.state.exit_code = Some(137);
                record.state.finished_at = Some(now());
                record.state.error =
                    Some("its supervisor was killed, and the container with it".into());
            }
        })?;
        self.read(id)
    }
    // ANCHOR_END: reconcile

    /// Every container, oldest first.
    pub fn list<S: RunSpec>(&self) -> Result<Vec<Record<S>>> {
        let mut records = Vec::new();
        for id in self.ids()? {
            match self.load::<S>(&id) {
                Ok(record) => records.push(record),
                // Removed while we listed.
                Err(RecordError::NotFound(_)) => {}
                Err(error) => return Err(error),
            }
        }
        records.sort_by_key(|r| r.created);
        Ok(records)
    }

    fn list_unlocked<S: RunSpec>(&self) -> Result<Vec<Record<S>>> {
        let mut records = Vec::new();
        for id in self.ids()? {
            match self.read::<Record<S>>(&id) {
                Ok(record) => records.push(record),
                Err(RecordError::NotFound(_)) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(records)
    }

    fn ids(&self) -> Result<Vec<String>> {
        let entries = std::fs::read_dir(&self.dir).map_err(io(&self.dir))?;
        Ok(entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()))
            .collect())
    }

    // ANCHOR: find
    /// The container called `wanted`: its full id, its name, or a prefix of
    /// its id that no other container shares (as docker accepts).
    pub fn find<S: RunSpec>(&self, wanted: &str) -> Result<Record<S>> {
        let ids = self.ids()?;
        if ids.iter().any(|id| id == wanted) {
            return self.load(wanted);
        }
        let records = self.list_unlocked::<crate::spec::Spec>()?;
        if let Some(record) = records.iter().find(|r| r.spec.name == wanted) {
            return self.load(&record.spec.id);
        }
        let matching: Vec<&String> = ids.iter().filter(|id| id.starts_with(wanted)).collect();
        match matching[..] {
            [id] if !wanted.is_empty() => self.load(id),
            [] | [_] => Err(RecordError::NotFound(wanted.to_string())),
            _ => Err(RecordError::Ambiguous(wanted.to_string())),
        }
    }
    // ANCHOR_END: find

    /// Gives container `id` the name `name`, under the lock that keeps
    /// names unique.
    pub fn rename(&self, id: &str, name: &str) -> Result<()> {
        if !names::is_valid(name) {
            return Err(RecordError::InvalidName(name.into()));
        }
        {
            let _lock = self.lock()?;
            let taken = self
                .list_unlocked::<crate::spec::Spec>()?
                .into_iter()
                .find(|r| r.spec.name == name && r.spec.id != id);
            if let Some(other) = taken {
                return Err(RecordError::NameInUse(
                    name.into(),
                    other.spec.id[..12].to_string(),
                ));
            }
        }
        self.update::<crate::spec::Spec>(id, |record| record.spec.name = name.to_string())
    }

    /// Deletes the record and the directory of container `id`, with
    /// whatever else is in it.
    pub fn remove(&self, id: &str) -> Result<()> {
        let _lock = self.lock()?;
        let dir = self.dir(id);
        explain!("rm -r {:?}", dir.display());
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&dir)(e)),
            _ => Ok(()),
        }
    }
}

/// Makes `dir` (and its parents) with mode 0700, or narrows it to 0700
/// when it exists with more: a container's files (an image's setuid
/// programs, the device nodes it made) must not be reachable by the host's
/// other users, as docker keeps `/var/lib/docker` to root. Only for the
/// engine's own directories: the root directory itself may be one the user
/// chose, such as a shared one, and is left as it is.
///
/// A directory that a user namespace's root was given the right to cross
/// (0710, see chapter 4's `userns` module) keeps it: its group is the
/// mapped root's, and nobody else's.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = std::fs::metadata(dir)?;
    let mode = meta.permissions().mode() & 0o777;
    let allowed = if std::os::unix::fs::MetadataExt::gid(&meta) == 0 {
        0o700
    } else {
        0o710
    };
    if mode & !allowed != 0 {
        explain!(
            "chmod {:?} from {mode:o} to {:o}: only root may reach the engine's files",
            dir.display(),
            mode & allowed
        );
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & allowed))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_digits_and_differ() {
        let (a, b) = (new_id(), new_id());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn our_own_process_is_alive_and_a_changed_start_time_is_not() {
        let me = ProcessId::of(std::process::id() as i32).unwrap();
        assert!(me.is_alive());
        let reused = ProcessId {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!reused.is_alive());
    }
}
