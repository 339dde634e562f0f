//! A container: chapter 1's child process, given namespaces and a new root.
//!
//! [`ContainerHooks`] fills the gap between `clone` and `execve` that
//! chapter 1 left open ([`SpawnHooks`]): the parent's step writes the user
//! namespace's maps; the child's step does everything else, in an order the
//! kernel dictates (ids first, mounts while we still hold `CAP_SYS_ADMIN`,
//! capabilities dropped last).

use crate::caps::{self, CapSet};
use crate::mounts;
use crate::namespaces::{self, Isolation, NetworkMode};
use crate::userns::{self, IdMap};
use ch01_process::{Child, HookError, ProcessSpec, SpawnError, SpawnHooks, SpawnOptions, spawn};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};

/// Everything that makes a process a container, besides what it runs.
#[derive(Debug, Clone)]
pub struct ContainerConfig {
    /// The directory that becomes `/`. Absolute.
    pub rootfs: PathBuf,
    pub hostname: String,
    pub isolation: Isolation,
    /// The capabilities the container's processes keep.
    pub caps: CapSet,
    /// `--security-opt no-new-privileges`.
    pub no_new_privileges: bool,
    /// The id map, when `isolation.userns` is set.
    pub id_map: IdMap,
}

/// Why a container could not be created.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error(
        "no root filesystem given: use --rootfs DIR (a directory holding the container's files)"
    )]
    NoRootfs,
    #[error(
        "rootfs {0:?} does not exist: give a directory holding the container's files (--rootfs)"
    )]
    MissingRootfs(PathBuf),
    #[error("rootfs {0:?} is not a directory")]
    RootfsNotDirectory(PathBuf),
    #[error(
        "--{0} host cannot be combined with --userns: a user namespace cannot use the host's {0} namespace's kernel filesystems"
    )]
    HostWithUserns(&'static str),
    #[error(
        "this needs root: namespaces, mounts and cgroups are privileged kernel features; run it with sudo"
    )]
    NotRoot,
    #[error(
        "this process runs {0} threads: a container must be created from a single-threaded process (fork copies only the calling thread)"
    )]
    Threaded(usize),
    #[error(transparent)]
    Spawn(#[from] SpawnError),
}

impl ContainerError {
    /// Docker's exit code for the failure: 125 for the engine's own errors,
    /// 126/127 when the command cannot be run.
    pub fn exit_code(&self) -> i32 {
        match self {
            ContainerError::Spawn(error) => error.exit_code(),
            _ => 125,
        }
    }
}

impl ContainerConfig {
    /// Checks the configuration before anything is created, so that a bad
    /// rootfs or flag combination costs nothing to undo.
    pub fn validate(&mut self) -> Result<(), ContainerError> {
        let root = &self.rootfs;
        if root.as_os_str().is_empty() {
            return Err(ContainerError::NoRootfs);
        }
        match std::fs::metadata(root) {
            Err(_) => return Err(ContainerError::MissingRootfs(root.clone())),
            Ok(meta) if !meta.is_dir() => {
                return Err(ContainerError::RootfsNotDirectory(root.clone()));
            }
            Ok(_) => {}
        }
        self.rootfs =
            std::fs::canonicalize(root).map_err(|_| ContainerError::MissingRootfs(root.clone()))?;
        if self.isolation.userns {
            if self.isolation.network == NetworkMode::Host {
                return Err(ContainerError::HostWithUserns("network"));
            }
            if self.isolation.pid == namespaces::PidMode::Host {
                return Err(ContainerError::HostWithUserns("pid"));
            }
        }
        Ok(())
    }

    /// The environment every container starts with, before `-e` flags:
    /// docker's `PATH`, the hostname, and root's home.
    pub fn base_env(&self) -> Vec<String> {
        vec![
            format!("PATH={}", ch01_process::spawn::DEFAULT_PATH),
            format!("HOSTNAME={}", self.hostname),
            "HOME=/root".to_string(),
        ]
    }
}

/// Refuses to go on unless we are root, before anything is created, so
/// that a learner who forgot `sudo` reads why instead of an EPERM from
/// whichever call came first.
pub fn require_root() -> Result<(), ContainerError> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(ContainerError::NotRoot)
    }
}

// ANCHOR: single_threaded
/// Refuses to go on in a multi-threaded process.
///
/// `fork` and `clone` copy only the calling thread; a lock held by another
/// thread stays locked forever in the child. And the kernel refuses
/// `unshare(CLONE_NEWUSER)` and `setns` into a mount namespace to a process
/// with more than one thread. So containers are created by a process that
/// never started a thread: this binary, or (in the engine) a fresh process
/// the daemon starts for each container, never the daemon itself.
pub fn ensure_single_threaded() -> Result<(), ContainerError> {
    let threads = std::fs::read_dir("/proc/self/task")
        .map(|dir| dir.count())
        .unwrap_or(1);
    if threads > 1 {
        return Err(ContainerError::Threaded(threads));
    }
    Ok(())
}
// ANCHOR_END: single_threaded

/// Steps later chapters add to the root filesystem's setup, in the child.
pub trait RootfsSteps {
    /// After the mount namespace is private, before the root is bound onto
    /// itself: chapter 4 mounts the overlay of an image's layers here.
    fn before_bind(&mut self, rootfs: &Path) -> Result<(), HookError> {
        let _ = rootfs;
        Ok(())
    }

    /// After /proc, /dev and /sys, before `pivot_root`: chapter 4 mounts
    /// volumes here, while host paths are still reachable.
    fn before_pivot(&mut self, rootfs: &Path) -> Result<(), HookError> {
        let _ = rootfs;
        Ok(())
    }
}

/// No extra steps: the root is a plain directory.
pub struct NoRootfsSteps;
impl RootfsSteps for NoRootfsSteps {}

/// The steps that turn chapter 1's child into a container.
pub struct ContainerHooks<'a> {
    pub config: &'a ContainerConfig,
    /// Extra root filesystem steps; `None` for a plain directory.
    pub rootfs_steps: Option<&'a mut dyn RootfsSteps>,
}

impl<'a> ContainerHooks<'a> {
    /// The hooks of a container whose root is the directory `config.rootfs`.
    pub fn new(config: &'a ContainerConfig) -> Self {
        ContainerHooks {
            config,
            rootfs_steps: None,
        }
    }

    /// The hooks, with `steps` added to the root filesystem's setup.
    pub fn with_rootfs_steps(config: &'a ContainerConfig, steps: &'a mut dyn RootfsSteps) -> Self {
        ContainerHooks {
            config,
            rootfs_steps: Some(steps),
        }
    }
}

// ANCHOR: hooks
impl SpawnHooks for ContainerHooks<'_> {
    fn in_parent(&mut self, child: Pid) -> Result<(), HookError> {
        if self.config.isolation.userns {
            userns::write_maps(child, self.config.id_map)
                .map_err(|e| HookError::new("user namespace", e))?;
        }
        Ok(())
    }

    fn in_child(&mut self) -> Result<(), HookError> {
        let config = self.config;
        if config.isolation.userns {
            userns::become_root()
                .map_err(|e| HookError::new("becoming root in the user namespace", e))?;
        }
        namespaces::unshare_cgroup().map_err(|e| HookError::new("unshare(CLONE_NEWCGROUP)", e))?;
        namespaces::set_hostname(&config.hostname).map_err(|e| HookError::new("sethostname", e))?;
        if config.isolation.network == NetworkMode::None {
            namespaces::bring_up_loopback().map_err(|e| HookError::new("bringing up lo", e))?;
        }
        let mut no_steps = NoRootfsSteps;
        let steps: &mut dyn RootfsSteps = match self.rootfs_steps.as_deref_mut() {
            Some(steps) => steps,
            None => &mut no_steps,
        };
        enter_rootfs(&config.rootfs, steps)?;
        caps::apply(&config.caps).map_err(|e| HookError::new("dropping capabilities", e))?;
        if config.no_new_privileges {
            caps::set_no_new_privs().map_err(|e| HookError::new("no-new-privileges", e))?;
        }
        Ok(())
    }
}
// ANCHOR_END: hooks

// ANCHOR: enter_rootfs
/// The mount steps, in order; see [`mounts`]. `steps` are the later
/// chapters' additions (an overlay root, volumes).
pub fn enter_rootfs(rootfs: &Path, steps: &mut dyn RootfsSteps) -> Result<(), HookError> {
    let failed = |e: mounts::MountError| HookError::new("setting up the root filesystem", e);
    mounts::make_private().map_err(failed)?;
    steps.before_bind(rootfs)?;
    mounts::bind_root(rootfs).map_err(failed)?;
    mounts::mount_kernel_filesystems(rootfs).map_err(failed)?;
    steps.before_pivot(rootfs)?;
    mounts::pivot_into(rootfs).map_err(failed)?;
    mounts::mask_paths().map_err(failed)?;
    mounts::make_readonly_paths().map_err(failed)
}
// ANCHOR_END: enter_rootfs

/// Creates a container running `spec`, with `extra` steps around the
/// container's own (later chapters use them: a cgroup, a network).
pub fn start(
    spec: &ProcessSpec,
    config: &ContainerConfig,
    hooks: &mut dyn SpawnHooks,
) -> Result<Child, ContainerError> {
    ensure_single_threaded()?;
    let options = SpawnOptions {
        clone_flags: config.isolation.clone_flags(),
        own_process_group: true,
    };
    Ok(spawn(spec, &options, hooks)?)
}
