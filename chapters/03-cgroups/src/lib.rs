//! # Chapter 3: cgroups
//!
//! Namespaces (chapter 2) decide what a container can *see*; control groups
//! decide how much it can *use*. A cgroup is a set of processes the kernel
//! accounts for and limits together: how much memory they may hold, how much
//! CPU time they get, on which CPUs they run, how many tasks they may have.
//! Children are born in their parent's cgroup, so a container's limits cover
//! everything it starts, and no process inside can leave: moving a process
//! to another cgroup needs write access to the cgroup files, which the
//! container does not have.
//!
//! The interface is a filesystem. A cgroup is a directory; `mkdir` creates
//! one, writing a pid into its `cgroup.procs` moves a process into it, its
//! other files are its limits (`memory.max`) and its statistics
//! (`memory.current`), and `rmdir` removes it once it is empty.
//!
//! ## Two versions
//!
//! - **cgroup v1** (2008) gave every controller its own tree, mounted at
//!   `/sys/fs/cgroup/<controller>`: a process sits in one cgroup in each
//!   tree, and each tree has its own file names (`memory.limit_in_bytes`,
//!   `cpu.cfs_quota_us`).
//! - **cgroup v2** (2016, the default of current distributions) has one
//!   *unified* tree at `/sys/fs/cgroup` for every controller, with
//!   consistent files (`memory.max`, `cpu.max`), a freezer and a kill switch
//!   in every cgroup, and rules that v1 lacked: controllers are enabled per
//!   subtree (`cgroup.subtree_control`), and only leaves hold processes.
//! - **hybrid** machines mount both: the v1 trees with the controllers, and
//!   an (almost) empty v2 tree at `/sys/fs/cgroup/unified`. A controller is
//!   active in one hierarchy only, so for limits a hybrid machine is a v1
//!   machine.
//!
//! This crate supports both behind one interface:
//!
//! - [`size`]: reading `--memory 64m` and `--cpus 0.5`.
//! - [`limits`]: the limits of a container, as data.
//! - [`layout`]: which hierarchies this machine has, and where.
//! - [`cgroup`]: a container's cgroup `skiff/<id>`: create with limits,
//!   add processes, stats, OOM, freeze and thaw, remove.
//! - [`devices`]: the device allow-list (docker's defaults), as v1 rules or
//!   a v2 eBPF program: no container opens the host's disks.
//! - [`spec`]: chapter 2's run spec, with the limits.
//! - [`container`]: the cgroup as a step of chapter 2's run path, and this
//!   chapter's engine.
//! - [`stats`]: the `docker stats` table.
//! - [`view`]: the container's own cgroups at `/sys/fs/cgroup` inside it.
//! - [`cli`]: this chapter's flags, reused by the next.
//!
//! Every write to a cgroup file is narrated by `--explain` (see
//! [`ch01_process::explain!`]), so a learner sees exactly what the engine
//! asks of the kernel.

pub mod cgroup;
pub mod cli;
pub mod container;
pub mod devices;
pub mod layout;
pub mod limits;
pub mod size;
pub mod spec;
pub mod stats;
pub mod view;

pub use cgroup::{
    CPU_PERIOD_US, Cgroup, CgroupError, CgroupGuard, PARENT, SelfJoin, Setting, Stats,
    WAIT_TIMEOUT, settings,
};
pub use container::{CgroupEngine, CgroupStep};
pub use devices::{Access, DEFAULT_RULES, DeviceError, DeviceKind, DeviceRule};
pub use layout::{CGROUP_ROOT, Controller, Layout, LayoutError, Version};
pub use limits::Limits;
pub use size::{SizeError, parse_cpus, parse_memory_swap, parse_size};
