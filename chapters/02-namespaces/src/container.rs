//! A container: chapter 1's child process, given namespaces and a new root.
//!
//! [`ContainerHooks`] fills the gap between `clone` and `execve` that
//! chapter 1 left open ([`SpawnHooks`]): the parent's step writes the user
//! namespace's maps; the child's steps do everything else, in an order the
//! kernel dictates (ids first, mounts while we still hold `CAP_SYS_ADMIN`,
//! the user switch, capabilities dropped last). The later chapters' work
//! ([`Step`]) is called at its places in between.

use crate::caps;
use crate::mounts;
use crate::namespaces::{self, NetworkMode};
use crate::seccomp::Filter;
use crate::spec::Spec;
use crate::step::Step;
use crate::userns;
use ch01_process::{HookError, SpawnError, SpawnHooks};
use nix::unistd::Pid;
use std::path::Path;

/// Why a container could not be created, before or while it starts.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error(
        "this needs root: namespaces, mounts and cgroups are privileged kernel features; run it with sudo"
    )]
    NotRoot,
    #[error(
        "this process runs {0} threads: a container must be created from a single-threaded process (fork copies only the calling thread)"
    )]
    Threaded(usize),
    #[error("{0}")]
    Spawn(#[from] SpawnError),
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

/// The steps that turn chapter 1's child into a container: chapter 2's
/// own, with the later chapters' `steps` at their places.
pub struct ContainerHooks<'a> {
    pub spec: &'a Spec,
    pub steps: &'a mut dyn Step,
    /// The syscall filter, compiled before the fork.
    pub filter: Option<&'a Filter>,
    /// `--init`: the host's copy of the init, to bind on [`crate::init::PATH`].
    pub init: Option<&'a Path>,
}

// ANCHOR: hooks
impl SpawnHooks for ContainerHooks<'_> {
    fn in_parent(&mut self, child: Pid) -> Result<(), HookError> {
        if self.spec.isolation.userns {
            userns::write_maps(child, self.spec.id_map)
                .map_err(|e| HookError::new("user namespace", e))?;
        }
        self.steps.in_parent(child)
    }

    fn in_child(&mut self) -> Result<(), HookError> {
        let spec = self.spec;
        self.steps.in_child()?;
        if spec.isolation.network == NetworkMode::Joined {
            let netns = self.steps.network_namespace().ok_or_else(|| {
                HookError::new("joining a network namespace", "no step opened one")
            })?;
            namespaces::join_network(netns)
                .map_err(|e| HookError::new("setns(CLONE_NEWNET)", e))?;
        }
        if spec.isolation.userns {
            userns::become_root()
                .map_err(|e| HookError::new("becoming root in the user namespace", e))?;
        }
        if !spec.isolation.inherit.cgroup {
            namespaces::unshare_cgroup()
                .map_err(|e| HookError::new("unshare(CLONE_NEWCGROUP)", e))?;
        }
        if !spec.isolation.inherit.uts {
            namespaces::set_hostname(&spec.hostname)
                .map_err(|e| HookError::new("sethostname", e))?;
        }
        if spec.isolation.network == NetworkMode::None {
            namespaces::bring_up_loopback().map_err(|e| HookError::new("bringing up lo", e))?;
        }
        enter_rootfs(spec, &mut *self.steps, self.init)?;
        filter_while_privileged(spec, self.filter)
    }

    /// After the user switch: the steps' last word (an OCI runtime waits
    /// there for its `start`), then what the process may do from now on.
    fn before_exec(&mut self) -> Result<(), HookError> {
        self.steps.before_exec()?;
        restrict(self.spec, self.filter)
    }
}
// ANCHOR_END: hooks

// ANCHOR: restrict
/// Installs the syscall filter of a container without `no_new_privs`.
///
/// The kernel lets a process install a filter if it has `no_new_privs` or
/// `CAP_SYS_ADMIN`: a filter could otherwise trick a setuid program into
/// misbehaving. Without `no_new_privs`, the filter must go in while the
/// process is still privileged: after the mounts (the filter refuses
/// `mount` and `pivot_root`), before the user switch and the capability
/// drop (which the filter allows). runc does the same.
pub fn filter_while_privileged(spec: &Spec, filter: Option<&Filter>) -> Result<(), HookError> {
    match filter {
        Some(filter) if !spec.no_new_privileges => install(filter),
        _ => Ok(()),
    }
}

/// The last step before `execve`, for a container's first process and for
/// every process `exec` starts in it: capabilities, then `no_new_privs`
/// and, with it, the syscall filter.
pub fn restrict(spec: &Spec, filter: Option<&Filter>) -> Result<(), HookError> {
    let dropped = match &spec.cap_sets {
        Some(sets) => caps::apply_sets(sets),
        None => caps::apply(&spec.caps),
    };
    dropped.map_err(|e| HookError::new("dropping capabilities", e))?;
    if spec.no_new_privileges {
        caps::set_no_new_privs().map_err(|e| HookError::new("no-new-privileges", e))?;
        if let Some(filter) = filter {
            install(filter)?;
        }
    }
    Ok(())
}
// ANCHOR_END: restrict

fn install(filter: &Filter) -> Result<(), HookError> {
    ch01_process::explain!(
        "seccomp(SECCOMP_SET_MODE_FILTER, {} instructions)",
        filter.instructions()
    );
    filter
        .apply()
        .map_err(|e| HookError::new("installing the seccomp filter", e))
}

// ANCHOR: enter_rootfs
/// The mount steps, in order; see [`mounts`]. `steps` are the later
/// chapters' additions (an overlay root, volumes).
pub fn enter_rootfs(
    spec: &Spec,
    steps: &mut dyn Step,
    init: Option<&Path>,
) -> Result<(), HookError> {
    let rootfs = spec.rootfs.as_path();
    let failed = |e: mounts::MountError| HookError::new("setting up the root filesystem", e);
    mounts::make_private().map_err(failed)?;
    steps.before_bind(rootfs)?;
    mounts::bind_root(rootfs).map_err(failed)?;
    mounts::mount_kernel_filesystems(rootfs).map_err(failed)?;
    if spec.process.terminal {
        mounts::bind_console(rootfs).map_err(failed)?;
    }
    if let Some(init) = init {
        mounts::bind_file(init, rootfs, crate::init::PATH).map_err(failed)?;
    }
    steps.before_pivot(rootfs)?;
    if spec.filesystem.read_only {
        mounts::make_root_readonly(rootfs).map_err(failed)?;
    }
    mounts::pivot_into(rootfs).map_err(failed)?;
    mounts::mask_paths(&spec.filesystem.masked_paths).map_err(failed)?;
    mounts::make_readonly_paths(&spec.filesystem.readonly_paths).map_err(failed)
}
// ANCHOR_END: enter_rootfs
// ANCHOR_END: enter_rootfs
