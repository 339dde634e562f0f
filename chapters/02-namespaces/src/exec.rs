//! `exec`: run another process in a running container, with `setns`.
//!
//! A namespace lives as long as a process is in it (or a file refers to
//! it). `/proc/PID/ns/uts` is such a file: `setns(fd, 0)` on it moves the
//! calling process into that namespace. `docker exec` is this, done for every
//! namespace of the container's first process, plus its root directory and
//! the same capability rules.
//!
//! The order is fixed by the kernel's rules:
//!
//! - Open every file first: once we are in the container's mount namespace,
//!   `/proc` may be the container's, and the target's files are elsewhere.
//! - The user namespace first: it gives us the capabilities, *in the
//!   container*, that the other `setns` calls check.
//! - The mount namespace last: it changes our root and working directory,
//!   which we then set to the container's with `fchdir` + `chroot(".")`.
//! - Joining a PID namespace only affects children: the process that runs
//!   the command is the one we fork after it.

use crate::caps::CapSet;
use crate::userns;
use ch01_process::{HookError, SpawnHooks, explain};
use nix::sched::{CloneFlags, setns};
use nix::unistd::Pid;
use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;

/// The namespaces `exec` joins, in the order it joins them.
const NAMESPACES: [(&str, CloneFlags); 7] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// Why `exec` could not enter the container.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(
        "no process {0}: the container is not running (give the pid of its first process, as the host sees it)"
    )]
    NoSuchProcess(Pid),
    #[error("entering the container of process {pid}: {step}: {error}")]
    Enter {
        pid: Pid,
        step: String,
        error: std::io::Error,
    },
}

/// What the process we start inside must match: the target's capabilities
/// and `no_new_privs`, and whether it runs in a user namespace.
#[derive(Debug, Clone)]
pub struct Entered {
    pub caps: CapSet,
    pub no_new_privileges: bool,
    pub userns: bool,
    /// The target's environment, the base of the new process's.
    pub env: Vec<String>,
}

// ANCHOR: enter
/// Moves the calling (single-threaded) process into the namespaces, root
/// and working directory of process `target`.
pub fn enter(target: Pid) -> Result<Entered, ExecError> {
    let proc_dir = format!("/proc/{target}");
    if !std::path::Path::new(&proc_dir).exists() {
        return Err(ExecError::NoSuchProcess(target));
    }
    let fail = |step: String| {
        move |error| ExecError::Enter {
            pid: target,
            step,
            error,
        }
    };
    let status = std::fs::read_to_string(format!("{proc_dir}/status"))
        .map_err(fail("read status".into()))?;
    let env = std::fs::read(format!("{proc_dir}/environ")).map_err(fail("read environ".into()))?;
    let root = File::open(format!("{proc_dir}/root")).map_err(fail("open root".into()))?;
    let cwd = File::open(format!("{proc_dir}/cwd")).map_err(fail("open cwd".into()))?;

    // Open every namespace that differs from ours, before joining any.
    let mut joins = Vec::new();
    for (name, flag) in NAMESPACES {
        let theirs = format!("{proc_dir}/ns/{name}");
        let same = match (
            std::fs::metadata(&theirs),
            std::fs::metadata(format!("/proc/self/ns/{name}")),
        ) {
            (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            _ => false,
        };
        if !same {
            joins.push((
                theirs.clone(),
                flag,
                File::open(&theirs).map_err(fail(format!("open {theirs}")))?,
            ));
        }
    }
    let userns = joins
        .iter()
        .any(|(_, flag, _)| *flag == CloneFlags::CLONE_NEWUSER);

    // A process in the container must not be able to open our binary
    // through /proc/PID/exe before we exec (runc's CVE-2019-5736): a
    // non-dumpable process's /proc files belong to root of the host.
    // SAFETY: prctl with integer arguments only.
    let done = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    nix::errno::Errno::result(done)
        .map_err(|errno| fail("prctl(PR_SET_DUMPABLE, 0)".into())(errno.into()))?;

    for (path, flag, file) in &joins {
        explain!("setns(open({path:?}))");
        setns(file.as_fd(), *flag).map_err(|errno| fail(format!("setns({path})"))(errno.into()))?;
    }
    explain!("fchdir(/proc/{target}/root); chroot(\".\"); fchdir(/proc/{target}/cwd)");
    nix::unistd::fchdir(root.as_fd()).map_err(|e| fail("fchdir(root)".into())(e.into()))?;
    nix::unistd::chroot(".").map_err(|e| fail("chroot(\".\")".into())(e.into()))?;
    nix::unistd::fchdir(cwd.as_fd()).map_err(|e| fail("fchdir(cwd)".into())(e.into()))?;

    Ok(Entered {
        caps: CapSet::from_mask(status_mask(&status, "CapBnd:")),
        no_new_privileges: status_mask(&status, "NoNewPrivs:") == 1,
        userns,
        env: env
            .split(|b| *b == 0)
            .filter(|kv| !kv.is_empty())
            .map(|kv| String::from_utf8_lossy(kv).into_owned())
            .collect(),
    })
}
// ANCHOR_END: enter

/// A field of `/proc/PID/status`, as a number (hex for the capability masks).
fn status_mask(status: &str, field: &str) -> u64 {
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|value| {
            let value = value.trim();
            if field.starts_with("Cap") {
                u64::from_str_radix(value, 16).ok()
            } else {
                value.parse().ok()
            }
        })
        .unwrap_or(0)
}

/// The child's steps for a process started in an entered container.
pub struct ExecHooks<'a> {
    pub entered: &'a Entered,
}

impl SpawnHooks for ExecHooks<'_> {
    fn in_child(&mut self) -> Result<(), HookError> {
        if self.entered.userns {
            userns::become_root()
                .map_err(|e| HookError::new("becoming root in the user namespace", e))?;
        }
        crate::caps::apply(&self.entered.caps)
            .map_err(|e| HookError::new("dropping capabilities", e))?;
        if self.entered.no_new_privileges {
            crate::caps::set_no_new_privs().map_err(|e| HookError::new("no-new-privileges", e))?;
        }
        Ok(())
    }
}
