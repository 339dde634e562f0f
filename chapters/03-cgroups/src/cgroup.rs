//! One container's cgroup: create it, limit it, put processes in it, read
//! its statistics, freeze it, and remove it.
//!
//! A cgroup is a directory. Everything the engine does with one is a
//! `mkdir`, a `write` to a file in it, a `read`, or an `rmdir`:
//!
//! ```text
//! + mkdir /sys/fs/cgroup/memory/skiff/web
//! + write /sys/fs/cgroup/memory/skiff/web/memory.limit_in_bytes = 67108864
//! + write /sys/fs/cgroup/memory/skiff/web/cgroup.procs = 4242
//! ```
//!
//! Our containers live in `skiff/<id>` below the root of each hierarchy.
//! The shared `skiff` parent keeps them apart from the cgroups of the
//! machine's own services, which the engine never touches. The kernel's rules
//! the code below follows:
//!
//! - **Creating**: `mkdir` makes a cgroup and the kernel fills it with the
//!   controller files. On v2 a controller's files appear in a cgroup only when
//!   the controller is enabled in its *parent's* `cgroup.subtree_control`
//!   (`+memory +pids`), so we enable them in the root and in `skiff`. A v2
//!   cgroup with processes in it cannot enable controllers for children (the
//!   "no internal processes" rule, the root excepted): `skiff` never holds
//!   processes itself.
//! - **v1 cpuset** cgroups start with empty `cpuset.cpus` and `cpuset.mems`,
//!   and the kernel refuses to move a task into a cgroup with no CPUs
//!   (`ENOSPC`): we copy both from the parent.
//! - **Joining**: writing a pid to `cgroup.procs` moves that process (all its
//!   threads) into the cgroup; its children are born in it. On v1 a process is
//!   in one cgroup per hierarchy, so we write it in every hierarchy.
//! - **Removing**: `rmdir` removes a cgroup, but only an empty one (`EBUSY`
//!   while a process or a child cgroup is in it). The files inside are not
//!   removed first: they are not real files.
//!
//! [`Cgroup`] does **not** remove the cgroup when it is dropped: a container
//! outlives the handle (the daemon may restart and [`Cgroup::open`] it
//! again). Call [`Cgroup::remove`], or hold a [`CgroupGuard`], which does.

use crate::devices::{DEFAULT_RULES, DeviceError, DeviceRule};
use crate::layout::{Controller, Layout, Version};
use crate::limits::Limits;
use ch01_process::explain;
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The directory under each hierarchy's root that holds our cgroups.
pub const PARENT: &str = "skiff";

/// How long [`Cgroup::freeze`] waits for the tasks to stop, and
/// [`Cgroup::remove`] for them to die.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(5);

/// The CFS period we use for `--cpus`: 100 ms, the kernel's default.
pub const CPU_PERIOD_US: u64 = 100_000;

/// Why a cgroup operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// The name would escape `skiff/` or clash with the kernel's files.
    #[error(
        "invalid cgroup name {0:?}: use letters, digits, '_', '-' and '.', \
         not starting with '.', at most 128 characters"
    )]
    InvalidName(String),
    /// A cgroup path that would leave the hierarchies or name a kernel file.
    #[error(
        "invalid cgroup path {0:?}: give directories below the cgroup roots, such as docker/web, without '..'"
    )]
    InvalidPath(PathBuf),
    /// The limits contradict each other or the kernel's bounds.
    #[error("invalid limits: {0}")]
    InvalidLimits(String),
    /// A limit needs a controller that this machine does not offer.
    #[error("the {controller} controller is not available here, and {needed_for} needs it")]
    ControllerUnavailable {
        /// The missing controller.
        controller: Controller,
        /// What needed it: a file name or an operation.
        needed_for: String,
    },
    /// The cgroup exists already: it is not ours to adopt.
    #[error("cgroup {0} already exists")]
    AlreadyExists(PathBuf),
    /// The cgroup to open does not exist.
    #[error("cgroup {0} does not exist")]
    NotFound(PathBuf),
    /// `mkdir` failed.
    #[error("cannot create cgroup {path}: {source}")]
    Mkdir {
        /// The directory.
        path: PathBuf,
        /// What the kernel said.
        source: io::Error,
    },
    /// `rmdir` failed.
    #[error("cannot remove cgroup {path}: {source}")]
    Rmdir {
        /// The directory.
        path: PathBuf,
        /// What the kernel said.
        source: io::Error,
    },
    /// Writing a cgroup file failed: the kernel rejected the value.
    #[error("cannot write {value} to {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What we wrote.
        value: String,
        /// What the kernel said.
        source: io::Error,
    },
    /// Reading a cgroup file failed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the kernel said.
        source: io::Error,
    },
    /// A cgroup file held something we did not expect.
    #[error("cannot parse {path}: unexpected content {content:?}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What it held.
        content: String,
    },
    /// Sending SIGKILL to a process of the cgroup failed.
    #[error("cannot kill process {pid}: {source}")]
    Kill {
        /// The process.
        pid: Pid,
        /// What the kernel said.
        source: Errno,
    },
    /// The kernel did not reach the expected state in time.
    #[error("timed out after {timeout:?} waiting for {what}")]
    Timeout {
        /// What we waited for.
        what: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// The device allow-list could not be put in place (see [`crate::devices`]).
    #[error(transparent)]
    Devices(#[from] DeviceError),
}

impl CgroupError {
    /// The kernel's errno behind this error, if there is one.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            CgroupError::Mkdir { source, .. }
            | CgroupError::Rmdir { source, .. }
            | CgroupError::Write { source, .. }
            | CgroupError::Read { source, .. } => source.raw_os_error().map(Errno::from_raw),
            CgroupError::Kill { source, .. } => Some(*source),
            CgroupError::Devices(e) => e.errno(),
            _ => None,
        }
    }
}

/// Results of this module.
pub type Result<T, E = CgroupError> = std::result::Result<T, E>;

// ANCHOR: setting
/// One value to write into one file of a cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The controller whose hierarchy holds the file (v1) or that must be
    /// enabled for the file to exist (v2).
    pub controller: Controller,
    /// The file's name inside the cgroup directory.
    pub file: &'static str,
    /// What to write.
    pub value: String,
    /// Skip the setting when the file does not exist: swap accounting is
    /// a kernel option, and docker too carries on without it.
    pub optional: bool,
}
// ANCHOR_END: setting

fn setting(controller: Controller, file: &'static str, value: impl ToString) -> Setting {
    Setting {
        controller,
        file,
        value: value.to_string(),
        optional: false,
    }
}

// ANCHOR: settings
/// Translates [`Limits`] into the files and values of one cgroup version, in
/// the order they must be written.
///
/// ```
/// use ch03_cgroups::{Limits, Version, settings};
/// let limits = Limits { memory: Some(64 << 20), cpus: Some(0.5), ..Limits::default() };
/// let v2: Vec<_> = settings(Version::V2, &limits).unwrap()
///     .into_iter().map(|s| format!("{} = {}", s.file, s.value)).collect();
/// assert_eq!(v2, ["memory.max = 67108864", "cpu.max = 50000 100000"]);
/// ```
pub fn settings(version: Version, limits: &Limits) -> Result<Vec<Setting>> {
    // SOLUTION START: ch03-settings translate the limits into the files and values of one cgroup version: memory, swap, cpu quota, shares, cpuset, pids (book: Cgroups > What and why > Each limit, and how the kernel enforces it)
    use Controller::*;
    let mut out = Vec::new();

    if let Some(swap) = limits.memory_swap {
        let Some(memory) = limits.memory else {
            return Err(CgroupError::InvalidLimits(
                "a memory+swap limit needs a memory limit too".into(),
            ));
        };
        if swap != -1 && (swap < 0 || (swap as u64) < memory) {
            return Err(CgroupError::InvalidLimits(format!(
                "the memory+swap limit ({swap}) must be -1 or at least the memory limit ({memory})"
            )));
        }
    }
    if let Some(memory) = limits.memory {
        match version {
            Version::V2 => out.push(setting(Memory, "memory.max", memory)),
            Version::V1 => out.push(setting(Memory, "memory.limit_in_bytes", memory)),
        }
    }
    if let (Some(memory), Some(swap)) = (limits.memory, limits.memory_swap) {
        // Docker's number counts memory + swap. v1 agrees; v2 limits swap alone.
        let mut s = match version {
            Version::V2 if swap == -1 => setting(Memory, "memory.swap.max", "max"),
            Version::V2 => setting(Memory, "memory.swap.max", swap as u64 - memory),
            Version::V1 => setting(Memory, "memory.memsw.limit_in_bytes", swap),
        };
        s.optional = true;
        out.push(s);
    }

    if let Some(cpus) = limits.cpus {
        // The kernel's bandwidth control: QUOTA microseconds of CPU time in
        // every PERIOD microseconds, summed over all CPUs.
        let quota = (cpus * CPU_PERIOD_US as f64).round();
        if !(1000.0..=u64::MAX as f64).contains(&quota) {
            return Err(CgroupError::InvalidLimits(format!(
                "{cpus} cpus is out of range: the kernel's smallest quota is 0.01 cpus (1 ms per 100 ms)"
            )));
        }
        let quota = quota as u64;
        match version {
            Version::V2 => out.push(setting(Cpu, "cpu.max", format!("{quota} {CPU_PERIOD_US}"))),
            Version::V1 => {
                out.push(setting(Cpu, "cpu.cfs_period_us", CPU_PERIOD_US));
                out.push(setting(Cpu, "cpu.cfs_quota_us", quota));
            }
        }
    }
    if let Some(shares) = limits.cpu_shares {
        // v1 shares run from 2 to 262144, v2 weights from 1 to 10000; the
        // mapping is linear between the two ranges (older runc's formula; it
        // maps the default 1024 to 39, and newer runc uses a curve instead).
        let shares = shares.clamp(2, 262_144);
        match version {
            Version::V2 => out.push(setting(
                Cpu,
                "cpu.weight",
                1 + ((shares - 2) * 9999) / 262_142,
            )),
            Version::V1 => out.push(setting(Cpu, "cpu.shares", shares)),
        }
    }
    if let Some(cpus) = &limits.cpuset_cpus {
        let cpus = cpus.trim();
        if cpus.is_empty()
            || !cpus
                .chars()
                .all(|c| c.is_ascii_digit() || c == ',' || c == '-')
        {
            return Err(CgroupError::InvalidLimits(format!(
                "cpuset {cpus:?} is not a cpu list like 0-1 or 0,2"
            )));
        }
        out.push(setting(Cpuset, "cpuset.cpus", cpus));
    }
    if let Some(pids) = limits.pids_limit {
        // Same file and format in both versions.
        let value = if pids > 0 {
            pids.to_string()
        } else {
            "max".to_string()
        };
        out.push(setting(Pids, "pids.max", value));
    }
    Ok(out)
    // SOLUTION END
}
// ANCHOR_END: settings

/// Usage and limits of a cgroup, as [`Cgroup::stats`] reads them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Memory charged to the cgroup now, in bytes (page cache included).
    pub memory_usage: u64,
    /// The memory limit in bytes; `None` when there is none.
    pub memory_limit: Option<u64>,
    /// CPU time used by the cgroup's tasks since it was created, in µs.
    pub cpu_usage_usec: u64,
    /// Tasks (threads) in the cgroup now.
    pub pids_current: u64,
    /// The task limit; `None` when there is none.
    pub pids_limit: Option<u64>,
}

/// A container's cgroup: `skiff/<id>` under each hierarchy (or another
/// path below the hierarchies' roots, when the caller chooses it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    layout: Layout,
    name: String,
    /// Where it is, relative to each hierarchy's root: `skiff/<name>`.
    path: PathBuf,
}

impl Cgroup {
    // ANCHOR: create
    /// Creates `skiff/<id>` in every hierarchy, writes the limits and
    /// restricts the devices to docker's defaults.
    ///
    /// Fails if the cgroup exists already, and leaves nothing behind when
    /// it fails part way.
    pub fn create(layout: &Layout, name: &str, limits: &Limits) -> Result<Cgroup> {
        validate_name(name)?;
        Cgroup::at(layout, &Path::new(PARENT).join(name))?.make(limits, DEFAULT_RULES)
    }

    /// Creates the cgroup at `path` (relative to each hierarchy's root, as
    /// `docker/<id>`) with `limits` and the device allow-list `devices`:
    /// the placement an OCI runtime's caller chooses (`linux.cgroupsPath`).
    /// The directories above it are made when missing and left in place
    /// afterwards (others may use them, as runc leaves them).
    pub fn create_at(
        layout: &Layout,
        path: &Path,
        limits: &Limits,
        devices: &[DeviceRule],
    ) -> Result<Cgroup> {
        Cgroup::at(layout, path)?.make(limits, devices)
    }

    /// The handle of the cgroup at `path`, checked to stay below the roots.
    fn at(layout: &Layout, path: &Path) -> Result<Cgroup> {
        validate_path(path)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Cgroup {
            layout: layout.clone(),
            name,
            path: path.to_path_buf(),
        })
    }

    fn make(self, limits: &Limits, devices: &[DeviceRule]) -> Result<Cgroup> {
        let layout = &self.layout;
        let settings = settings(layout.version(), limits)?;
        for s in &settings {
            if self.dir_of(s.controller).is_none() {
                return Err(unavailable(s.controller, s.file));
            }
        }
        let mut created = Vec::new();
        let made = match layout {
            Layout::Unified { root } => create_v2(root, &self.path, &settings, &mut created),
            Layout::Legacy { .. } => layout.roots().into_iter().try_for_each(|root| {
                let is_cpuset = layout.root_of(Controller::Cpuset) == Some(root);
                create_v1(root, &self.path, is_cpuset, &mut created)
            }),
        };
        if let Err(e) = made {
            // Undo only what this call made: an existing cgroup is not ours.
            for dir in created.iter().rev() {
                let _ = rmdir(dir);
            }
            self.remove_parents();
            return Err(e);
        }
        // The device allow-list (devices.rs), before any process joins.
        let configured = self
            .apply(&settings)
            .and_then(|()| self.restrict_devices(devices));
        if let Err(e) = configured {
            let _ = self.remove();
            return Err(e);
        }
        Ok(self)
    }
    // ANCHOR_END: create

    /// A handle on an existing `skiff/<id>` (made by [`create`](Cgroup::create),
    /// perhaps by another process).
    pub fn open(layout: &Layout, name: &str) -> Result<Cgroup> {
        validate_name(name)?;
        Cgroup::open_at(layout, &Path::new(PARENT).join(name))
    }

    /// A handle on the existing cgroup at `path` (see [`Cgroup::create_at`]).
    pub fn open_at(layout: &Layout, path: &Path) -> Result<Cgroup> {
        let cgroup = Cgroup::at(layout, path)?;
        match cgroup.dirs().into_iter().find(|d| !d.is_dir()) {
            Some(missing) => Err(CgroupError::NotFound(missing)),
            None => Ok(cgroup),
        }
    }

    /// The cgroup's name: the last component of its path (under `skiff/`,
    /// the container's id).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the cgroup is, relative to each hierarchy's root.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The hierarchies this cgroup lives in.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The cgroup's directory in the hierarchy of `controller`, if mounted.
    pub fn dir_of(&self, controller: Controller) -> Option<PathBuf> {
        let root = self.layout.root_of(controller)?;
        Some(root.join(&self.path))
    }

    /// The cgroup's directories: one on v2, one per hierarchy on v1.
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.layout
            .roots()
            .into_iter()
            .map(|root| root.join(&self.path))
            .collect()
    }

    /// A file of the cgroup, in the hierarchy of `controller`.
    fn file(&self, controller: Controller, file: &str) -> Result<PathBuf> {
        self.dir_of(controller)
            .map(|dir| dir.join(file))
            .ok_or_else(|| unavailable(controller, file))
    }

    // ANCHOR: set_limits
    /// Writes `limits` into the cgroup (also to change them while it runs).
    pub fn set_limits(&self, limits: &Limits) -> Result<()> {
        self.apply(&settings(self.layout.version(), limits)?)
    }

    fn apply(&self, settings: &[Setting]) -> Result<()> {
        let mut i = 0;
        while i < settings.len() {
            let s = &settings[i];
            // v1 keeps memory <= memory+swap at every instant: raising both
            // above the old memory+swap limit must write memsw first.
            if s.file == "memory.limit_in_bytes"
                && let Some(next) = settings.get(i + 1)
                && next.file == "memory.memsw.limit_in_bytes"
            {
                if let Err(e) = self.apply_one(s) {
                    if e.errno() != Some(Errno::EINVAL) {
                        return Err(e);
                    }
                    self.apply_one(next)?;
                    self.apply_one(s)?;
                } else {
                    self.apply_one(next)?;
                }
                i += 2;
                continue;
            }
            self.apply_one(s)?;
            i += 1;
        }
        Ok(())
    }

    fn apply_one(&self, s: &Setting) -> Result<()> {
        let path = self.file(s.controller, s.file)?;
        if s.optional && !path.exists() {
            explain!(
                "skip {} = {} (the kernel has no such file)",
                path.display(),
                s.value
            );
            return Ok(());
        }
        write(&path, &s.value)
    }
    // ANCHOR_END: set_limits

    // ANCHOR: add
    /// Moves process `pid` (with all its threads) into the cgroup; the
    /// children it forks from now on are born in it.
    pub fn add(&self, pid: Pid) -> Result<()> {
        // SOLUTION START: ch03-add move the process into the cgroup: write its pid to cgroup.procs in every hierarchy (book: Cgroups > What and why > No instant unlimited)
        for dir in self.dirs() {
            write(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
        // SOLUTION END
    }
    // ANCHOR_END: add

    // ANCHOR: self_join
    /// Opens what a process needs to move *itself* into the cgroup later
    /// ([`SelfJoin::join`]); `None` on cgroup v2, where it cannot.
    ///
    /// Why bother, when [`Cgroup::add`] works everywhere: a move by pid
    /// (`cgroup.procs`) moves a whole thread group, so the kernel takes
    /// its global lock on thread groups for writing, and that lock's
    /// writer waits for an RCU grace period: several milliseconds, paid at
    /// every container start. A single thread that moves itself (v1's
    /// `tasks` file, `0` for "me") cannot exit or exec meanwhile, and
    /// since Linux 6.0 the kernel skips that lock for it. A process of one
    /// thread moves whole that way. On v2 a thread may move alone only
    /// within a threaded subtree, so a container's process moves by
    /// `cgroup.procs` there, lock and all.
    pub fn self_join(&self) -> Result<Option<SelfJoin>> {
        if self.layout.version() == Version::V2 {
            return Ok(None);
        }
        let mut files = Vec::new();
        for dir in self.dirs() {
            let path = dir.join("tasks");
            let file = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|source| CgroupError::Write {
                    path: path.clone(),
                    value: "0".to_string(),
                    source,
                })?;
            files.push((path, file));
        }
        Ok(Some(SelfJoin { files }))
    }
    // ANCHOR_END: self_join

    /// The processes in the cgroup (on v1, in any of its hierarchies).
    pub fn procs(&self) -> Result<Vec<Pid>> {
        let mut pids = BTreeSet::new();
        for dir in self.dirs() {
            let path = dir.join("cgroup.procs");
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(source) => return Err(CgroupError::Read { path, source }),
            };
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let pid: i32 = line.trim().parse().map_err(|_| CgroupError::Parse {
                    path: path.clone(),
                    content: text.clone(),
                })?;
                pids.insert(pid);
            }
        }
        Ok(pids.into_iter().map(Pid::from_raw).collect())
    }

    // ANCHOR: freeze
    /// Stops every process of the cgroup (`docker pause`) and waits until
    /// the kernel reports them all frozen.
    ///
    /// Frozen tasks do not run and cannot be woken by signals, except
    /// SIGKILL on v2; they are not told anything, unlike with SIGSTOP.
    pub fn freeze(&self) -> Result<()> {
        match self.layout.version() {
            Version::V2 => {
                let dir = self.v2_dir();
                write(&dir.join("cgroup.freeze"), "1")?;
                let events = dir.join("cgroup.events");
                wait_for(&format!("{} to say frozen 1", events.display()), || {
                    Ok(read_key(&events, "frozen")? == 1)
                })
            }
            Version::V1 => {
                let state = self.file(Controller::Freezer, "freezer.state")?;
                write(&state, "FROZEN")?;
                // The kernel answers FREEZING until every task has stopped.
                wait_for(&format!("{} to read FROZEN", state.display()), || {
                    Ok(read(&state)?.trim() == "FROZEN")
                })
            }
        }
    }

    /// Lets the processes of a frozen cgroup run again (`docker unpause`).
    pub fn thaw(&self) -> Result<()> {
        match self.layout.version() {
            Version::V2 => write(&self.v2_dir().join("cgroup.freeze"), "0"),
            Version::V1 => write(&self.file(Controller::Freezer, "freezer.state")?, "THAWED"),
        }
    }

    /// Whether the cgroup is frozen (`docker ps` shows "Paused").
    pub fn is_frozen(&self) -> Result<bool> {
        match self.layout.version() {
            Version::V2 => Ok(read(&self.v2_dir().join("cgroup.freeze"))?.trim() == "1"),
            Version::V1 => {
                Ok(read(&self.file(Controller::Freezer, "freezer.state")?)?.trim() != "THAWED")
            }
        }
    }

    /// The names of every container cgroup under `skiff/`, sorted.
    pub fn list(layout: &Layout) -> Vec<String> {
        let Some(root) = layout.roots().first().map(|root| root.join(PARENT)) else {
            return Vec::new();
        };
        let mut names: Vec<String> = std::fs::read_dir(root)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|entry| entry.path().is_dir())
            .filter_map(|entry| entry.file_name().into_string().ok())
            .collect();
        names.sort();
        names
    }
    // ANCHOR_END: freeze

    // ANCHOR: stats
    /// Reads the cgroup's usage and limits (`docker stats`).
    pub fn stats(&self) -> Result<Stats> {
        use Controller::*;
        Ok(match self.layout.version() {
            Version::V2 => Stats {
                memory_usage: read_u64(&self.file(Memory, "memory.current")?)?,
                memory_limit: read_limit(&self.file(Memory, "memory.max")?)?,
                cpu_usage_usec: read_key(&self.file(Cpu, "cpu.stat")?, "usage_usec")?,
                pids_current: read_u64(&self.file(Pids, "pids.current")?)?,
                pids_limit: read_limit(&self.file(Pids, "pids.max")?)?,
            },
            Version::V1 => Stats {
                memory_usage: read_u64(&self.file(Memory, "memory.usage_in_bytes")?)?,
                memory_limit: read_limit(&self.file(Memory, "memory.limit_in_bytes")?)?,
                // cpuacct counts nanoseconds.
                cpu_usage_usec: read_u64(&self.file(Cpuacct, "cpuacct.usage")?)? / 1000,
                pids_current: read_u64(&self.file(Pids, "pids.current")?)?,
                pids_limit: read_limit(&self.file(Pids, "pids.max")?)?,
            },
        })
    }
    // ANCHOR_END: stats

    // ANCHOR: oom
    /// Whether the kernel's OOM killer has killed a process of this cgroup
    /// because the cgroup reached its memory limit (docker's `OOMKilled`).
    pub fn oom_killed(&self) -> Result<bool> {
        let kills = match self.layout.version() {
            Version::V2 => read_key(&self.file(Controller::Memory, "memory.events")?, "oom_kill")?,
            Version::V1 => read_key(
                &self.file(Controller::Memory, "memory.oom_control")?,
                "oom_kill",
            )?,
        };
        Ok(kills > 0)
    }
    // ANCHOR_END: oom

    // ANCHOR: remove
    /// Kills every process left in the cgroup, waits until it is empty, and
    /// removes it from every hierarchy, with the `skiff` parent when no
    /// other container uses it. Removing a cgroup that is gone is not an
    /// error.
    pub fn remove(&self) -> Result<()> {
        let existing: Vec<PathBuf> = self.dirs().into_iter().filter(|d| d.is_dir()).collect();
        if existing.is_empty() {
            return Ok(());
        }
        self.kill_all()?;
        wait_for(
            &format!("the processes of cgroup {} to exit", self.name),
            || {
                // A process forked while we were killing is killed on the next turn.
                let pids = self.procs()?;
                for pid in &pids {
                    self.kill_one(*pid)?;
                }
                Ok(pids.is_empty())
            },
        )?;
        for dir in existing.iter().rev() {
            // The kernel may still be tearing down the last task: retry EBUSY.
            wait_for(
                &format!("{} to be removable", dir.display()),
                || match rmdir(dir) {
                    Ok(()) => Ok(true),
                    Err(e) if e.errno() == Some(Errno::ENOENT) => Ok(true),
                    Err(e) if e.errno() == Some(Errno::EBUSY) => Ok(false),
                    Err(e) => Err(e),
                },
            )?;
        }
        self.remove_parents();
        Ok(())
    }

    /// Sends SIGKILL to every process of the cgroup.
    fn kill_all(&self) -> Result<()> {
        if self.layout.version() == Version::V2 {
            // Since Linux 5.14 the kernel kills the whole cgroup in one write.
            let kill_file = self.v2_dir().join("cgroup.kill");
            if kill_file.exists() {
                return write(&kill_file, "1");
            }
        }
        // Freeze first so that no process can fork while we list and kill;
        // frozen processes die as soon as they are thawed.
        let can_freeze = self.layout.version() == Version::V2
            || self.dir_of(Controller::Freezer).is_some_and(|d| d.is_dir());
        if can_freeze && let Err(e) = self.freeze() {
            // A task stuck in the kernel (D state) can delay freezing; kill anyway.
            explain!("freeze failed ({e}), killing without it");
        }
        for pid in self.procs()? {
            self.kill_one(pid)?;
        }
        if can_freeze {
            // Thaw even when freezing timed out half way.
            self.thaw()?;
        }
        Ok(())
    }

    fn kill_one(&self, pid: Pid) -> Result<()> {
        explain!("kill({pid}, SIGKILL)");
        match kill(pid, Signal::SIGKILL) {
            // It exited between the listing and the signal.
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(source) => Err(CgroupError::Kill { pid, source }),
        }
    }

    /// Removes the `skiff` parents that are empty. Another container's
    /// cgroup in a parent makes `rmdir` fail with `EBUSY` (or `ENOTEMPTY`):
    /// that parent stays, which is what we want. The parents of a cgroup
    /// placed elsewhere ([`Cgroup::create_at`]) are not ours to remove.
    fn remove_parents(&self) {
        if self.path.parent() != Some(Path::new(PARENT)) {
            return;
        }
        for root in self.layout.roots() {
            let parent = root.join(PARENT);
            if !parent.is_dir() {
                continue;
            }
            match rmdir(&parent) {
                Ok(()) => {}
                Err(e)
                    if matches!(
                        e.errno(),
                        Some(Errno::EBUSY | Errno::ENOTEMPTY | Errno::ENOENT)
                    ) =>
                {
                    explain!("keep {} (in use)", parent.display());
                }
                Err(e) => explain!("keep {} ({e})", parent.display()),
            }
        }
    }
    // ANCHOR_END: remove

    fn v2_dir(&self) -> PathBuf {
        match &self.layout {
            Layout::Unified { root } => root.join(&self.path),
            Layout::Legacy { .. } => unreachable!("v2_dir on a v1 layout"),
        }
    }
}

/// The open `tasks` files of a cgroup's v1 hierarchies, for a process of
/// one thread to move itself in ([`Cgroup::self_join`]). Opened by the
/// parent before `clone`, so the child has them (and the kernel checks the
/// opener's credentials, not the child's); close-on-exec, so they never
/// reach the container's program.
#[derive(Debug)]
pub struct SelfJoin {
    files: Vec<(PathBuf, File)>,
}

impl SelfJoin {
    /// Moves the calling thread into the cgroup, in every hierarchy. Call
    /// it from a process of one thread: the others would stay behind.
    pub fn join(self) -> Result<()> {
        for (path, mut file) in self.files {
            explain!("write {} = 0 (the child moves itself)", path.display());
            file.write_all(b"0").map_err(|source| CgroupError::Write {
                path,
                value: "0".to_string(),
                source,
            })?;
        }
        Ok(())
    }
}

/// Removes its cgroup (with [`Cgroup::remove`]) when dropped, also when a
/// panic unwinds through it. Errors are reported on standard error, since
/// `drop` cannot return them.
#[derive(Debug)]
pub struct CgroupGuard(Option<Cgroup>);

impl CgroupGuard {
    /// Takes charge of removing `cgroup`.
    pub fn new(cgroup: Cgroup) -> CgroupGuard {
        CgroupGuard(Some(cgroup))
    }

    /// Gives the cgroup back without removing it.
    pub fn into_inner(mut self) -> Cgroup {
        self.0
            .take()
            .expect("the guard holds its cgroup until dropped")
    }
}

impl Deref for CgroupGuard {
    type Target = Cgroup;
    fn deref(&self) -> &Cgroup {
        self.0
            .as_ref()
            .expect("the guard holds its cgroup until dropped")
    }
}

impl Drop for CgroupGuard {
    fn drop(&mut self) {
        if let Some(cgroup) = self.0.take()
            && let Err(e) = cgroup.remove()
        {
            eprintln!("skiff: cannot remove cgroup {}: {e}", cgroup.name());
        }
    }
}

// ANCHOR: create_v2
/// v2: enable the controllers the limits need (and those `stats` reads) in
/// the root and in each cgroup above ours (`skiff`), then make ours.
fn create_v2(
    root: &Path,
    path: &Path,
    settings: &[Setting],
    created: &mut Vec<PathBuf>,
) -> Result<()> {
    // SOLUTION START: ch03-create-v2 v2: check the controllers are available, enable them in cgroup.subtree_control above the cgroup, make the directories (book: Cgroups > What and why > Two versions, and the machines in between)
    let available = read(&root.join("cgroup.controllers"))?;
    let available: BTreeSet<&str> = available.split_whitespace().collect();
    for s in settings {
        if !available.contains(s.controller.name()) {
            return Err(unavailable(s.controller, s.file));
        }
    }
    // cpuacct and freezer are v1 names: v2 has cpu.stat and cgroup.freeze
    // in every cgroup.
    let wanted: Vec<&str> = [
        Controller::Memory,
        Controller::Cpu,
        Controller::Cpuset,
        Controller::Pids,
    ]
    .iter()
    .map(|c| c.name())
    .filter(|c| available.contains(c))
    .collect();
    let leaf = root.join(path);
    retry_if_parent_removed(|| {
        enable_controllers(root, &wanted)?;
        for parent in parents(root, path) {
            mkdir_parent(&parent, created)?;
            enable_controllers(&parent, &wanted)?;
        }
        mkdir_leaf(&leaf, created)
    })
    // SOLUTION END
}

/// The directories between `root` and the cgroup at `path`, top first.
fn parents(root: &Path, path: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = path
        .ancestors()
        .skip(1)
        .filter(|p| !p.as_os_str().is_empty())
        .map(|p| root.join(p))
        .collect();
    dirs.reverse();
    dirs
}

/// Adds `+controller` to a cgroup's `cgroup.subtree_control`, for those
/// not enabled yet.
fn enable_controllers(dir: &Path, wanted: &[&str]) -> Result<()> {
    let file = dir.join("cgroup.subtree_control");
    let enabled = read(&file)?;
    let enabled: BTreeSet<&str> = enabled.split_whitespace().collect();
    let missing: Vec<String> = wanted
        .iter()
        .filter(|c| !enabled.contains(*c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    write(&file, &missing.join(" "))
}
// ANCHOR_END: create_v2

// ANCHOR: create_v1
/// v1: make the cgroup at `path` in one hierarchy (with `skiff` above it);
/// in the cpuset hierarchy, give each new cgroup its parent's CPUs and
/// memory nodes.
fn create_v1(root: &Path, path: &Path, is_cpuset: bool, created: &mut Vec<PathBuf>) -> Result<()> {
    // SOLUTION START: ch03-create-v1 v1: make the cgroup in one hierarchy with the directories above it; in the cpuset hierarchy copy cpuset.cpus and cpuset.mems from the parent (book: Cgroups > What and why > Two versions, and the machines in between)
    let leaf = root.join(path);
    retry_if_parent_removed(|| {
        let mut above = root.to_path_buf();
        for parent in parents(root, path) {
            mkdir_parent(&parent, created)?;
            if is_cpuset {
                inherit_cpuset(&parent, &above)?;
            }
            above = parent;
        }
        mkdir_leaf(&leaf, created)?;
        if is_cpuset {
            inherit_cpuset(&leaf, &above)?;
        }
        Ok(())
    })
    // SOLUTION END
}

/// Copies `cpuset.cpus` and `cpuset.mems` from `parent` when empty in `dir`.
fn inherit_cpuset(dir: &Path, parent: &Path) -> Result<()> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        if read(&dir.join(file))?.trim().is_empty() {
            let value = read(&parent.join(file))?;
            write(&dir.join(file), value.trim())?;
        }
    }
    Ok(())
}
// ANCHOR_END: create_v1

/// Runs `step` again when another container's `remove` deleted the shared
/// `skiff` parent under our feet: between our `mkdir` of it and our `mkdir`
/// below it (`ENOENT`), or while we read or write one of its files (the
/// kernel answers `ENODEV` for the files of a cgroup being removed, whose
/// directory is still there).
fn retry_if_parent_removed(mut step: impl FnMut() -> Result<()>) -> Result<()> {
    let mut attempts = 0;
    loop {
        match step() {
            Err(e) if matches!(e.errno(), Some(Errno::ENOENT | Errno::ENODEV)) && attempts < 20 => {
                // The other removal is one rmdir(2) away from done.
                std::thread::sleep(std::time::Duration::from_millis(1));
                attempts += 1
            }
            other => return other,
        }
    }
}

fn mkdir_parent(dir: &Path, created: &mut Vec<PathBuf>) -> Result<()> {
    match mkdir(dir) {
        Ok(()) => {
            created.push(dir.to_path_buf());
            Ok(())
        }
        Err(e) if e.errno() == Some(Errno::EEXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

fn mkdir_leaf(dir: &Path, created: &mut Vec<PathBuf>) -> Result<()> {
    match mkdir(dir) {
        Ok(()) => {
            created.push(dir.to_path_buf());
            Ok(())
        }
        Err(e) if e.errno() == Some(Errno::EEXIST) => Err(CgroupError::AlreadyExists(dir.into())),
        Err(e) => Err(e),
    }
}

fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(CgroupError::InvalidName(name.to_string()))
    }
}

/// A cgroup path must stay below the hierarchies' roots: relative, each
/// component a plain name (no `..`), none of them the kernel's own files.
fn validate_path(path: &Path) -> Result<()> {
    use std::path::Component;
    let mut count = 0;
    for component in path.components() {
        let Component::Normal(name) = component else {
            return Err(CgroupError::InvalidPath(path.to_path_buf()));
        };
        let name = name.to_string_lossy();
        if name.starts_with("cgroup.") || name.contains('\n') {
            return Err(CgroupError::InvalidPath(path.to_path_buf()));
        }
        count += 1;
    }
    if count == 0 {
        return Err(CgroupError::InvalidPath(path.to_path_buf()));
    }
    Ok(())
}

fn unavailable(controller: Controller, needed_for: &str) -> CgroupError {
    CgroupError::ControllerUnavailable {
        controller,
        needed_for: needed_for.to_string(),
    }
}

// ANCHOR: io
/// Writes `value` to a cgroup file in one `write`, as the kernel expects.
pub(crate) fn write(path: &Path, value: &str) -> Result<()> {
    explain!("write {} = {value}", path.display());
    let err = |source| CgroupError::Write {
        path: path.to_path_buf(),
        value: value.to_string(),
        source,
    };
    let mut file = OpenOptions::new().write(true).open(path).map_err(err)?;
    file.write_all(value.as_bytes()).map_err(err)
}
// ANCHOR_END: io

fn mkdir(dir: &Path) -> Result<()> {
    explain!("mkdir {}", dir.display());
    std::fs::create_dir(dir).map_err(|source| CgroupError::Mkdir {
        path: dir.to_path_buf(),
        source,
    })
}

fn rmdir(dir: &Path) -> Result<()> {
    explain!("rmdir {}", dir.display());
    std::fs::remove_dir(dir).map_err(|source| CgroupError::Rmdir {
        path: dir.to_path_buf(),
        source,
    })
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| CgroupError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn read_u64(path: &Path) -> Result<u64> {
    let text = read(path)?;
    text.trim().parse().map_err(|_| CgroupError::Parse {
        path: path.to_path_buf(),
        content: text,
    })
}

/// Reads a limit: `max` (v2, and v1's `pids.max`) or v1's "unlimited"
/// (the largest page-aligned `i64`, 9223372036854771712) is `None`.
fn read_limit(path: &Path) -> Result<Option<u64>> {
    if read(path)?.trim() == "max" {
        return Ok(None);
    }
    let value = read_u64(path)?;
    Ok((value < (1 << 62)).then_some(value))
}

/// Reads `key` from a flat-keyed file like `cpu.stat` or `memory.events`:
/// one `key value` pair per line.
fn read_key(path: &Path, key: &str) -> Result<u64> {
    let text = read(path)?;
    text.lines()
        .filter_map(|line| line.split_once(' '))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.trim().parse().ok())
        .ok_or_else(|| CgroupError::Parse {
            path: path.to_path_buf(),
            content: text.clone(),
        })
}

/// Polls `done` every 10 ms until it returns true, for [`WAIT_TIMEOUT`].
fn wait_for(what: &str, mut done: impl FnMut() -> Result<bool>) -> Result<()> {
    let start = Instant::now();
    loop {
        if done()? {
            return Ok(());
        }
        if start.elapsed() > WAIT_TIMEOUT {
            return Err(CgroupError::Timeout {
                what: what.to_string(),
                timeout: WAIT_TIMEOUT,
            });
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
