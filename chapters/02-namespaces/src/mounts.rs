//! The container's filesystem: a private mount namespace, a new root, and
//! the kernel filesystems a Linux program expects to find.
//!
//! Every step here runs in the child, inside its new mount namespace, before
//! `execve`. The order is the lesson:
//!
//! 1. **Make every mount private.** A new mount namespace starts as a copy
//!    of ours, and on systemd machines `/` is a *shared* mount: a mount made
//!    under it propagates to every namespace in its peer group, the host's
//!    included. Until we mark the tree private, mounting /proc for the
//!    container would mount it on the host too.
//! 2. **Bind the rootfs onto itself.** `pivot_root` only accepts a new root
//!    that is a mount point; a bind mount of a directory onto itself makes one.
//! 3. **Mount /proc, /dev, /sys** under the new root, while the host's paths
//!    (such as `/dev/null` to bind from) are still reachable.
//! 4. **pivot_root**, then detach the old root: the host's whole tree is
//!    unmounted from the container's view, not just hidden like `chroot`
//!    hides it.

use ch01_process::explain;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::stat::Mode;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

/// A failed mount step: what was asked, and the kernel's answer.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {}{}", errno.desc().to_lowercase(), hint(*errno, step))]
pub struct MountError {
    pub step: String,
    pub errno: nix::Error,
}

/// A hint for the errors learners meet most with these calls.
fn hint(errno: nix::Error, step: &str) -> &'static str {
    match errno {
        nix::Error::EINVAL if step.starts_with("pivot_root") => {
            " (the new root must be a mount point, and / must not be a shared mount)"
        }
        nix::Error::EBUSY if step.starts_with("pivot_root") => {
            " (the new root is already the root, or something is mounted over it)"
        }
        _ => "",
    }
}

type Result<T> = std::result::Result<T, MountError>;

/// `mount(2)` with narration, and errors that say which mount failed.
pub fn mount_fs(
    source: &str,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<()> {
    let step = format!(
        "mount({source:?}, {:?}, {}, {}{})",
        target.display(),
        fstype.map_or("NULL".to_string(), |t| format!("{t:?}")),
        flags_repr(flags),
        data.map_or(String::new(), |d| format!(", {d:?}"))
    );
    explain!("{step}");
    mount(Some(source), target, fstype, flags, data).map_err(|errno| MountError { step, errno })
}

fn flags_repr(flags: MsFlags) -> String {
    let names = [
        (MsFlags::MS_BIND, "MS_BIND"),
        (MsFlags::MS_REC, "MS_REC"),
        (MsFlags::MS_PRIVATE, "MS_PRIVATE"),
        (MsFlags::MS_REMOUNT, "MS_REMOUNT"),
        (MsFlags::MS_RDONLY, "MS_RDONLY"),
        (MsFlags::MS_NOSUID, "MS_NOSUID"),
        (MsFlags::MS_NODEV, "MS_NODEV"),
        (MsFlags::MS_NOEXEC, "MS_NOEXEC"),
        (MsFlags::MS_STRICTATIME, "MS_STRICTATIME"),
    ];
    let set: Vec<_> = names
        .iter()
        .filter(|(f, _)| flags.contains(*f))
        .map(|(_, n)| *n)
        .collect();
    if set.is_empty() {
        "0".into()
    } else {
        set.join("|")
    }
}

// ANCHOR: make_private
/// Step 1: stop mount propagation between the container and the host.
pub fn make_private() -> Result<()> {
    mount_fs(
        "none",
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
    )
}
// ANCHOR_END: make_private

/// Step 2: make `root` a mount point, for `pivot_root`.
pub fn bind_root(root: &Path) -> Result<()> {
    mount_fs(
        &root.to_string_lossy(),
        root,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
}

// ANCHOR: kernel_filesystems
/// Step 3: /proc, /dev and /sys, as docker mounts them.
pub fn mount_kernel_filesystems(root: &Path) -> Result<()> {
    // SOLUTION START: ch02-kernel-filesystems mount /proc, a small /dev (tmpfs, bound device nodes, devpts, shm, mqueue, links) and a read-only /sys in the new root (book: Namespaces > What and why > A root of its own: chroot vs pivot_root)
    let hardened = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    // /proc shows the processes of the pid namespace that mounts it: ours.
    mount_fs(
        "proc",
        &ensure_dir(root, "proc")?,
        Some("proc"),
        hardened,
        None,
    )?;

    // /dev: a small tmpfs with only the devices a program needs, never the
    // host's disks. The nodes are bind mounts of the host's: creating device
    // nodes (mknod) is refused inside a user namespace, binding is not.
    let dev = ensure_dir(root, "dev")?;
    mount_fs(
        "tmpfs",
        &dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
    )?;
    for node in ["null", "zero", "full", "random", "urandom", "tty"] {
        let target = dev.join(node);
        std::fs::File::create(&target).map_err(|e| io_error(&target, e))?;
        mount_fs(
            &format!("/dev/{node}"),
            &target,
            None,
            MsFlags::MS_BIND,
            None,
        )?;
    }
    // A private devpts instance: the container's terminals, not the host's.
    mount_fs(
        "devpts",
        &ensure_dir(&dev, "pts")?,
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620,gid=5"),
    )?;
    mount_fs(
        "shm",
        &ensure_dir(&dev, "shm")?,
        Some("tmpfs"),
        hardened,
        Some("mode=1777,size=65536k"),
    )?;
    // POSIX message queues of the container's own IPC namespace.
    mount_fs(
        "mqueue",
        &ensure_dir(&dev, "mqueue")?,
        Some("mqueue"),
        hardened,
        None,
    )?;
    for (link, to) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        symlink(to, dev.join(link)).map_err(|e| io_error(&dev.join(link), e))?;
    }

    // /sys, read-only: it describes the machine, and it is writable for root.
    mount_fs(
        "sysfs",
        &ensure_dir(root, "sys")?,
        Some("sysfs"),
        hardened | MsFlags::MS_RDONLY,
        None,
    )?;
    Ok(())
    // SOLUTION END
}
// ANCHOR_END: kernel_filesystems

/// Binds the host's file `source` on `inside` (a path under the
/// container's private /dev, which holds nothing else of ours) in the root
/// `root`, read-only.
pub fn bind_file(source: &Path, root: &Path, inside: &str) -> Result<()> {
    let target = root.join(inside.trim_start_matches('/'));
    std::fs::File::create(&target).map_err(|e| io_error(&target, e))?;
    mount_fs(
        &source.to_string_lossy(),
        &target,
        None,
        MsFlags::MS_BIND,
        None,
    )?;
    let kept = existing_flags(&target);
    mount_fs(
        "none",
        &target,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | kept,
        None,
    )
}

/// `/dev/console`: the terminal on our standard input, when it is one.
///
/// The terminal was opened on the host (by the shim, or it is the user's
/// own): it lives in the host's devpts, which the container's private
/// `/dev/pts` instance does not show. The process still has a terminal
/// (`isatty` is true), but a program that asks for its name (`tty`,
/// `ttyname(3)`) finds no file for it. Bound on `/dev/console`, as runc
/// binds the container's console, the terminal has a name in the
/// container's `/dev`, and `ttyname` finds it there.
pub fn bind_console(root: &Path) -> Result<()> {
    if !nix::unistd::isatty(std::io::stdin()).unwrap_or(false) {
        return Ok(());
    }
    // By its path (`/dev/pts/3`), not through the descriptor: the
    // descriptor's mount is the host's namespace's, and a bind mount's
    // source must be in ours (the kernel says EINVAL otherwise); the path
    // finds our copy of that mount.
    let source = std::fs::read_link("/proc/self/fd/0")
        .map_err(|e| io_error(Path::new("/proc/self/fd/0"), e))?;
    let target = root.join("dev/console");
    std::fs::File::create(&target).map_err(|e| io_error(&target, e))?;
    mount_fs(
        &source.to_string_lossy(),
        &target,
        None,
        MsFlags::MS_BIND,
        None,
    )
}

// ANCHOR: pivot_root
/// Step 4: make `root` the root of the mount namespace and drop the old one.
///
/// `pivot_root(".", ".")` stacks the old root on top of the new one at `/`
/// (see pivot_root(2)); unmounting `/` once with `MNT_DETACH` then removes the
/// old root and everything under it, and leaves no directory behind. Nothing
/// of the host stays reachable, unlike with `chroot`, which only changes
/// where path lookups start.
pub fn pivot_into(root: &Path) -> Result<()> {
    // SOLUTION START: ch02-pivot-root chdir into the new root, pivot_root(".", "."), unmount the old root with MNT_DETACH, chdir("/") (book: Namespaces > What and why > A root of its own: chroot vs pivot_root)
    let step = |what: String| move |errno| MountError { step: what, errno };
    explain!("chdir({:?})", root.display());
    nix::unistd::chdir(root).map_err(step(format!("chdir({:?})", root.display())))?;
    explain!("pivot_root(\".\", \".\")");
    nix::unistd::pivot_root(".", ".").map_err(step(format!("pivot_root({:?})", root.display())))?;
    explain!("umount2(\"/\", MNT_DETACH)  (the old root)");
    umount2("/", MntFlags::MNT_DETACH).map_err(step("umount2(old root)".into()))?;
    nix::unistd::chdir("/").map_err(step("chdir(\"/\")".into()))?;
    Ok(())
    // SOLUTION END
}
// ANCHOR_END: pivot_root

// ANCHOR: masked_paths
/// Files of /proc and /sys that leak facts about the host (kernel memory,
/// keyrings, timers) or let root in a container reach it. Docker hides them.
pub const MASKED_PATHS: [&str; 12] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Parts of /proc that configure the whole machine: readable, not writable.
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Hides each masked path (docker's are [`MASKED_PATHS`]): a file under
/// /dev/null, a directory under an empty read-only tmpfs. Runs after
/// `pivot_root`, so the paths are the container's.
pub fn mask_paths(paths: &[PathBuf]) -> Result<()> {
    for path in paths.iter().map(PathBuf::as_path) {
        match std::fs::metadata(path) {
            Err(_) => continue, // this kernel has no such file
            Ok(meta) if meta.is_dir() => {
                mount_fs(
                    "tmpfs",
                    path,
                    Some("tmpfs"),
                    MsFlags::MS_RDONLY,
                    Some("size=0"),
                )?;
            }
            Ok(_) => mount_fs("/dev/null", path, None, MsFlags::MS_BIND, None)?,
        }
    }
    Ok(())
}

/// Makes each read-only path (docker's are [`READONLY_PATHS`]) so: bind it
/// onto itself, then remount the bind read-only. The remount must repeat
/// the flags the mount already has (nosuid, nodev, noexec on /proc): in a
/// user namespace the kernel refuses to clear them, as that would lift a
/// restriction the host set.
pub fn make_readonly_paths(paths: &[PathBuf]) -> Result<()> {
    for path in paths.iter().map(PathBuf::as_path) {
        if !path.exists() {
            continue;
        }
        mount_fs(
            &path.to_string_lossy(),
            path,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )?;
        let kept = existing_flags(path);
        mount_fs(
            "none",
            path,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | kept,
            None,
        )?;
    }
    Ok(())
}
// ANCHOR_END: masked_paths

/// Makes the container's root read-only (docker's `--read-only`, the OCI
/// spec's `root.readonly`): a read-only remount of the bind made by
/// [`bind_root`]. Only that mount changes: /proc, /dev, /sys and the
/// volumes mounted below it keep their own flags, so `/tmp` can still be a
/// writable tmpfs. Runs before `pivot_root`, after the volumes, whose
/// mount points may have had to be created in the root.
pub fn make_root_readonly(root: &Path) -> Result<()> {
    let kept = existing_flags(root);
    mount_fs(
        "none",
        root,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | kept,
        None,
    )
}

/// The nosuid, nodev, noexec flags of the mount holding `path`.
fn existing_flags(path: &Path) -> MsFlags {
    nix::sys::statvfs::statvfs(path).map_or(MsFlags::empty(), |stat| restricting_flags(&stat))
}

/// The restrictions (nosuid, nodev, noexec) a mount has, as mount flags: a
/// bind remount (read-only, say) must repeat them, because inside a user
/// namespace the kernel refuses to lift a restriction the host set.
/// Chapter 4's read-only volumes use it too.
pub fn restricting_flags(stat: &nix::sys::statvfs::Statvfs) -> MsFlags {
    use nix::sys::statvfs::FsFlags;
    let mut flags = MsFlags::empty();
    for (fs, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
    ] {
        if stat.flags().contains(fs) {
            flags |= ms;
        }
    }
    flags
}

/// `root/name`, created as a directory when missing.
fn ensure_dir(root: &Path, name: &str) -> Result<PathBuf> {
    let path = root.join(name);
    if !path.is_dir() {
        nix::unistd::mkdir(&path, Mode::from_bits_truncate(0o755)).map_err(|errno| MountError {
            step: format!("mkdir({:?})", path.display()),
            errno,
        })?;
    }
    Ok(path)
}

fn io_error(path: &Path, error: std::io::Error) -> MountError {
    MountError {
        step: format!("create {:?}", path.display()),
        errno: nix::Error::from_raw(error.raw_os_error().unwrap_or(libc::EIO)),
    }
}
