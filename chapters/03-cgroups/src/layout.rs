//! Finding the cgroup hierarchies: unified (v2), or one per controller (v1).
//!
//! A cgroup *hierarchy* is a tree of directories in a `cgroup` or `cgroup2`
//! filesystem. Each directory is a group of processes; the files in it are
//! the group's settings and statistics. *Controllers* (memory, cpu, pids ...)
//! are the kernel subsystems that read those settings and enforce them.
//!
//! - **cgroup v2** (the *unified* hierarchy) has one tree for all
//!   controllers, mounted at `/sys/fs/cgroup` (filesystem type `cgroup2`,
//!   `statfs` magic `CGROUP2_SUPER_MAGIC`). A process is in exactly one
//!   cgroup. This is what current distributions boot with.
//! - **cgroup v1** has one tree *per controller* (or per group of
//!   controllers mounted together, like `cpu,cpuacct`), each mounted under
//!   `/sys/fs/cgroup/<controller>` on a `tmpfs`. A process is in one cgroup
//!   of every tree, so joining a container means joining one cgroup in each.
//! - **hybrid** machines mount the v1 trees *and* a v2 tree (usually at
//!   `/sys/fs/cgroup/unified`). A controller can be active in only one
//!   hierarchy at a time; on hybrid machines the v2 tree holds none of the
//!   controllers we need, so for us a hybrid machine is a v1 machine.
//!
//! [`Layout::detect`] looks at `/sys/fs/cgroup` first: if it *is* a `cgroup2`
//! filesystem the machine is unified. Otherwise it reads the mount table of
//! this process, `/proc/self/mountinfo`, where every cgroup v1 mount lists its
//! controllers in the super-block options:
//!
//! ```text
//! 35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
//! 41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where cgroup filesystems are mounted by convention.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Why the cgroup hierarchies could not be found.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    /// `statfs` on the cgroup mount point failed.
    #[error("cannot statfs {path}: {source}")]
    Statfs {
        /// The path we looked at.
        path: PathBuf,
        /// What the kernel said.
        source: nix::Error,
    },
    /// The mount table could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file we tried to read.
        path: PathBuf,
        /// What the kernel said.
        source: std::io::Error,
    },
    /// No usable cgroup hierarchy is mounted.
    #[error(
        "no cgroup hierarchy with the memory, cpu, cpuset or pids controller is mounted \
         (is /sys/fs/cgroup mounted?)"
    )]
    NotFound,
}

// ANCHOR: controller
/// The controllers this engine uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Controller {
    /// Memory limit, usage, OOM events.
    Memory,
    /// CPU bandwidth (quota) and weight (shares).
    Cpu,
    /// CPU usage accounting (v1 only: v2's `cpu.stat` is always there).
    Cpuacct,
    /// Which CPUs and memory nodes the tasks may use.
    Cpuset,
    /// Maximum number of tasks.
    Pids,
    /// Freezing and thawing the tasks (v1 only: v2 has `cgroup.freeze` in
    /// every cgroup).
    Freezer,
    /// Which device nodes the tasks may open or create (v1 only: v2 attaches
    /// an eBPF program to the cgroup instead, see [`crate::devices`]).
    Devices,
}
// ANCHOR_END: controller

impl Controller {
    /// All the controllers we use, in the order we create cgroups in them.
    pub const ALL: [Controller; 7] = [
        Controller::Memory,
        Controller::Cpu,
        Controller::Cpuacct,
        Controller::Cpuset,
        Controller::Pids,
        Controller::Freezer,
        Controller::Devices,
    ];

    /// The controller's name, as the kernel spells it.
    pub fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Cpu => "cpu",
            Controller::Cpuacct => "cpuacct",
            Controller::Cpuset => "cpuset",
            Controller::Pids => "pids",
            Controller::Freezer => "freezer",
            Controller::Devices => "devices",
        }
    }

    /// The controller with that kernel name, if we use it.
    pub fn from_name(name: &str) -> Option<Controller> {
        Controller::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Display for Controller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// ANCHOR: layout
/// The cgroup hierarchies of this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// cgroup v2: one tree for every controller, rooted here.
    Unified {
        /// The mount point of the `cgroup2` filesystem (`/sys/fs/cgroup`).
        root: PathBuf,
    },
    /// cgroup v1 (or hybrid): one tree per controller. Controllers mounted
    /// together (like `cpu,cpuacct`) share a path.
    Legacy {
        /// The mount point of each controller's tree, for those mounted.
        mounts: BTreeMap<Controller, PathBuf>,
    },
}
// ANCHOR_END: layout

/// The cgroup version of a [`Layout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// One tree per controller (including hybrid machines).
    V1,
    /// The unified tree.
    V2,
}

impl Layout {
    // ANCHOR: detect
    /// Finds the hierarchies of this machine, as seen by this process.
    pub fn detect() -> Result<Layout, LayoutError> {
        Layout::detect_at(Path::new(CGROUP_ROOT), Path::new("/proc/self/mountinfo"))
    }

    /// Like [`detect`](Layout::detect), with the mount point and the mount
    /// table given: `root` is checked for `cgroup2`, then `mountinfo` is read.
    pub fn detect_at(root: &Path, mountinfo: &Path) -> Result<Layout, LayoutError> {
        let fs = nix::sys::statfs::statfs(root).map_err(|source| LayoutError::Statfs {
            path: root.to_path_buf(),
            source,
        })?;
        if fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC {
            return Ok(Layout::Unified {
                root: root.to_path_buf(),
            });
        }
        // A tmpfs with the v1 trees (and maybe a v2 tree) mounted below it.
        let text = std::fs::read_to_string(mountinfo).map_err(|source| LayoutError::Read {
            path: mountinfo.to_path_buf(),
            source,
        })?;
        Layout::from_mountinfo(&text)
    }
    // ANCHOR_END: detect

    // ANCHOR: from_mountinfo
    /// Reads the hierarchies from the text of a `/proc/PID/mountinfo` file.
    ///
    /// Each line is `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] -
    /// FSTYPE SOURCE SUPER_OPTIONS`. A `cgroup` (v1) mount names its
    /// controllers in `SUPER_OPTIONS`; the first mount of each controller
    /// wins. If any controller we use is on a v1 mount, the layout is
    /// [`Layout::Legacy`] and a `cgroup2` mount (the empty v2 tree of hybrid
    /// machines) is ignored. Otherwise the `cgroup2` mount is the layout,
    /// preferring one at `/sys/fs/cgroup`.
    pub fn from_mountinfo(text: &str) -> Result<Layout, LayoutError> {
        let mut mounts = BTreeMap::new();
        let mut unified: Option<PathBuf> = None;
        for line in text.lines() {
            let Some(entry) = MountEntry::parse(line) else {
                continue;
            };
            match entry.fstype {
                "cgroup" => {
                    for option in entry.super_options.split(',') {
                        if let Some(controller) = Controller::from_name(option) {
                            mounts
                                .entry(controller)
                                .or_insert_with(|| entry.mount_point.clone());
                        }
                    }
                }
                "cgroup2" => {
                    let preferred = entry.mount_point == Path::new(CGROUP_ROOT);
                    if unified.is_none() || preferred {
                        unified = Some(entry.mount_point.clone());
                    }
                }
                _ => {}
            }
        }
        if !mounts.is_empty() {
            Ok(Layout::Legacy { mounts })
        } else if let Some(root) = unified {
            Ok(Layout::Unified { root })
        } else {
            Err(LayoutError::NotFound)
        }
    }
    // ANCHOR_END: from_mountinfo

    /// The cgroup version.
    pub fn version(&self) -> Version {
        match self {
            Layout::Unified { .. } => Version::V2,
            Layout::Legacy { .. } => Version::V1,
        }
    }

    /// The root of the tree that holds `controller`, if it is mounted.
    ///
    /// On v2 every controller lives in the one tree (whether it is enabled
    /// there is written in `cgroup.controllers`, which this does not read).
    pub fn root_of(&self, controller: Controller) -> Option<&Path> {
        match self {
            Layout::Unified { root } => Some(root),
            Layout::Legacy { mounts } => mounts.get(&controller).map(PathBuf::as_path),
        }
    }

    /// The distinct tree roots, in [`Controller::ALL`] order (one on v2).
    pub fn roots(&self) -> Vec<&Path> {
        match self {
            Layout::Unified { root } => vec![root.as_path()],
            Layout::Legacy { mounts } => {
                let mut roots: Vec<&Path> = Vec::new();
                for controller in Controller::ALL {
                    if let Some(path) = mounts.get(&controller)
                        && !roots.contains(&path.as_path())
                    {
                        roots.push(path);
                    }
                }
                roots
            }
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Layout::Unified { root } => write!(f, "cgroup v2 at {}", root.display()),
            Layout::Legacy { mounts } => {
                write!(f, "cgroup v1:")?;
                for (controller, path) in mounts {
                    write!(f, " {controller}={}", path.display())?;
                }
                Ok(())
            }
        }
    }
}

/// The fields of one mountinfo line we need.
struct MountEntry<'a> {
    mount_point: PathBuf,
    fstype: &'a str,
    super_options: &'a str,
}

impl<'a> MountEntry<'a> {
    fn parse(line: &'a str) -> Option<MountEntry<'a>> {
        let mut fields = line.split(' ');
        let mount_point = fields.nth(4)?;
        // Optional tags ("shared:4", "master:1") run until the lone "-".
        let mut rest = fields.skip_while(|f| *f != "-");
        rest.next()?;
        let fstype = rest.next()?;
        let _source = rest.next()?;
        let super_options = rest.next().unwrap_or("");
        Some(MountEntry {
            mount_point: PathBuf::from(unescape(mount_point)),
            fstype,
            super_options,
        })
    }
}

/// Undoes the kernel's octal escapes in mountinfo paths: `\040` is a space.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|digits| bytes[i] == b'\\' && digits.iter().all(|b| (b'0'..=b'7').contains(b)))
            .and_then(|d| {
                let value = u32::from(d[0] - b'0') * 64
                    + u32::from(d[1] - b'0') * 8
                    + u32::from(d[2] - b'0');
                u8::try_from(value).ok()
            });
        if let Some(byte) = octal {
            out.push(byte);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
