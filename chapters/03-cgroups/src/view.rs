//! The container's view of its own cgroups: `/sys/fs/cgroup` inside it.
//!
//! Programs look at `/sys/fs/cgroup` to learn their limits (a JVM sizes its
//! heap from `memory.max`). Chapter 2 mounts `/sys`, where that directory
//! is empty. An OCI configuration asks for a `cgroup` mount there, and this
//! module makes it: the container's own cgroup directory of each hierarchy,
//! bound at the hierarchy's name (`memory`, `cpu`...) on a small tmpfs (or,
//! on cgroup v2, the one directory bound at the target itself). The
//! container sees its own cgroup as the top of each tree, and nothing of
//! its parents or siblings, whether or not it has a cgroup namespace of its
//! own. This is runc's way on cgroup v1.
//!
//! Runs in the container's mount namespace, before `pivot_root`, while the
//! host's hierarchies are still reachable.

use crate::cgroup::Cgroup;
use crate::layout::Layout;
use ch02_namespaces::mounts::{MountError, mount_fs};
use nix::mount::MsFlags;
use std::path::Path;

// ANCHOR: mount_view
/// Mounts `cgroup`'s directories at `target` (a directory inside the
/// container's root, resolved safely by the caller), read-only if asked.
pub fn mount_view(cgroup: &Cgroup, target: &Path, read_only: bool) -> Result<(), MountError> {
    let hardened = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let bind = |dir: &Path, at: &Path| -> Result<(), MountError> {
        mount_fs(&dir.to_string_lossy(), at, None, MsFlags::MS_BIND, None)?;
        let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | hardened;
        if read_only {
            flags |= MsFlags::MS_RDONLY;
        }
        mount_fs("none", at, None, flags, None)
    };
    if let Layout::Unified { root } = cgroup.layout() {
        return bind(&root.join(cgroup.path()), target);
    }
    mount_fs(
        "tmpfs",
        target,
        Some("tmpfs"),
        hardened,
        Some("mode=755,size=64k"),
    )?;
    for root in cgroup.layout().roots() {
        let Some(name) = root.file_name() else {
            continue;
        };
        let at = target.join(name);
        std::fs::create_dir(&at).map_err(|e| io_error(&at, e))?;
        bind(&root.join(cgroup.path()), &at)?;
        // `cpu,cpuacct` is also reachable as `cpu` and `cpuacct`.
        let name = name.to_string_lossy();
        if name.contains(',') {
            for part in name.split(',') {
                let link = target.join(part);
                std::os::unix::fs::symlink(name.as_ref(), &link).map_err(|e| io_error(&link, e))?;
            }
        }
    }
    if read_only {
        mount_fs(
            "none",
            target,
            None,
            MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | hardened,
            Some("mode=755,size=64k"),
        )?;
    }
    Ok(())
}
// ANCHOR_END: mount_view

fn io_error(path: &Path, error: std::io::Error) -> MountError {
    MountError {
        step: format!("create {:?}", path.display()),
        errno: nix::Error::from_raw(error.raw_os_error().unwrap_or(libc::EIO)),
    }
}
