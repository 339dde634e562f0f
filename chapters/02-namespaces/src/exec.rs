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
//!
//! The new process gets what the container was configured with, from its
//! record: its environment, working directory and user (each can be
//! overridden), its capabilities and `no_new_privs`. And it joins what the
//! later chapters add (chapter 3: the container's cgroups, so that `exec`
//! cannot escape the container's limits).

use crate::container::{ContainerError, ensure_single_threaded, filter_while_privileged, restrict};
use crate::run::{Engine, RunError};
use crate::seccomp::Filter;
use crate::spec::{RunSpec, Spec};
use crate::step::Step;
use crate::userns;
use ch01_process::{
    HookError, ProcessSpec, SpawnHooks, SpawnOptions, SuperviseOptions, Supervisor, explain, spawn,
};
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
    #[error("{0}")]
    Run(#[from] RunError),
    #[error("opening a terminal in the container: {step}: {error}")]
    Console { step: String, error: std::io::Error },
    #[error("entering the container of process {pid}: {step}: {error}")]
    Enter {
        pid: Pid,
        step: String,
        error: std::io::Error,
    },
}

impl From<ContainerError> for ExecError {
    fn from(error: ContainerError) -> Self {
        ExecError::Run(error.into())
    }
}

/// What `exec` was asked, beyond the container: the command, and what to
/// change of the container's configured environment, directory and user.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    pub argv: Vec<String>,
    /// `-e` flags: `KEY=VALUE`, or `KEY` to pass ours on.
    pub env: Vec<String>,
    pub cwd: Option<std::path::PathBuf>,
    pub user: Option<String>,
    /// A terminal on stdin (`exec -t`).
    pub terminal: bool,
    /// Supplementary groups of the user given in `user` (without a user,
    /// the container's configured ones are kept).
    pub additional_gids: Vec<u32>,
    /// With `terminal`: open the terminal inside the container and send its
    /// master side here (see [`ConsoleSocket`]), rather than use ours.
    pub console: Option<ConsoleSocket>,
}

/// A connected unix socket where `exec` sends the master side of a
/// terminal it opens inside the container, in an `SCM_RIGHTS` message with
/// the terminal's name as its bytes (as runc's `--console-socket`). Its
/// caller relays the terminal: the engine's daemon, which gets `exec -t`
/// requests from clients far away.
#[derive(Debug, Clone)]
pub struct ConsoleSocket(pub std::sync::Arc<std::os::fd::OwnedFd>);

impl ExecRequest {
    /// The process to start: the container's configuration, changed as asked.
    pub fn process(&self, configured: &ProcessSpec) -> ProcessSpec {
        let mut env = configured.env.clone();
        for flag in &self.env {
            ch01_process::cli::apply_env_flag(&mut env, flag);
        }
        ProcessSpec {
            argv: self.argv.clone(),
            env,
            cwd: self.cwd.clone().or_else(|| configured.cwd.clone()),
            user: self.user.clone().or_else(|| configured.user.clone()),
            terminal: self.terminal,
            additional_gids: match self.user {
                Some(_) => self.additional_gids.clone(),
                None => configured.additional_gids.clone(),
            },
        }
    }
}

// ANCHOR: exec
/// `docker exec`: runs `request` in the running container `wanted`, waits
/// for it, and returns its exit code.
pub fn exec<E: Engine>(engine: &E, wanted: &str, request: &ExecRequest) -> Result<i32, ExecError> {
    start(engine, wanted, request)?.wait()
}

/// Starts `request` in the running container `wanted` and returns once
/// its command runs: the caller may tell someone its pid before it waits
/// (an OCI runtime's `exec --detach` writes it to a pid file).
pub fn start<E: Engine>(
    engine: &E,
    wanted: &str,
    request: &ExecRequest,
) -> Result<ExecRunning, ExecError> {
    ensure_single_threaded()?;
    let record = engine
        .containers()
        .find::<E::Spec>(wanted)
        .map_err(RunError::from)?;
    let first = record.state.pid.filter(|pid| pid.is_alive());
    let Some(first) = first.filter(|_| record.is_running()) else {
        return Err(RunError::NotRunning(record.name().to_string()).into());
    };
    let spec = record.spec.container();
    let process = request.process(&spec.process);
    let mut steps = engine.steps(&record.spec);
    steps.exec_prepare().map_err(RunError::from)?;
    // Compiled before entering: a profile is a file of the host, which
    // the container's root would hide.
    let filter = crate::seccomp::compile(&spec.seccomp, &spec.caps).map_err(RunError::from)?;
    let userns = enter(Pid::from_raw(first.pid))?;
    if request.terminal
        && let Some(socket) = &request.console
    {
        terminal_inside(socket)?;
    }
    let supervisor = Supervisor::new(SuperviseOptions {
        subreaper: true,
        stop_timeout: None,
    })
    .map_err(RunError::from)?;
    let options = SpawnOptions {
        own_process_group: true,
        die_with_parent: true,
        ..Default::default()
    };
    let mut hooks = ExecHooks {
        spec,
        userns,
        filter: filter.as_ref(),
    }
    .then(JoinSteps(&mut steps));
    let child = spawn(&process, &options, &mut hooks).map_err(ContainerError::from)?;
    Ok(ExecRunning { child, supervisor })
}
// ANCHOR_END: exec

/// A process that [`start`] started in a container, watched by us.
pub struct ExecRunning {
    child: ch01_process::Child,
    supervisor: Supervisor,
}

impl ExecRunning {
    /// The process, as the host sees it.
    pub fn pid(&self) -> Pid {
        self.child.pid()
    }

    /// Waits for the process to end (forwarding signals meanwhile) and
    /// returns its exit code.
    pub fn wait(self) -> Result<i32, ExecError> {
        let ExecRunning {
            child,
            mut supervisor,
        } = self;
        let status = supervisor.wait(child).map_err(RunError::from)?;
        Ok(status.code())
    }
}
// ANCHOR_END: exec

// ANCHOR: enter
/// Moves the calling (single-threaded) process into the namespaces and
/// root of process `target`. Returns whether it joined a user namespace.
pub fn enter(target: Pid) -> Result<bool, ExecError> {
    let proc_dir = format!("/proc/{target}");
    let fail = |step: String| {
        move |error| ExecError::Enter {
            pid: target,
            step,
            error,
        }
    };
    let root = File::open(format!("{proc_dir}/root")).map_err(fail("open root".into()))?;

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
    explain!("fchdir(/proc/{target}/root); chroot(\".\"); chdir(\"/\")");
    nix::unistd::fchdir(root.as_fd()).map_err(|e| fail("fchdir(root)".into())(e.into()))?;
    nix::unistd::chroot(".").map_err(|e| fail("chroot(\".\")".into())(e.into()))?;
    nix::unistd::chdir("/").map_err(|e| fail("chdir(\"/\")".into())(e.into()))?;
    Ok(userns)
}
// ANCHOR_END: enter

// ANCHOR: terminal_inside
/// Opens a terminal in the container's own devpts (we are in its mount
/// namespace now: `/dev/ptmx` is its `pts/ptmx`), sends the master side to
/// `socket`, and makes the slave side our stdin, stdout and stderr, which
/// the command inherits. Inside, `tty` then names it (`/dev/pts/0`): a
/// terminal of the host's devpts, which the container's does not show, has
/// no name there.
fn terminal_inside(socket: &ConsoleSocket) -> Result<(), ExecError> {
    use nix::fcntl::OFlag;
    use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    use std::os::fd::{AsRawFd, OwnedFd};
    let fail = |step: &str| {
        let step = step.to_string();
        move |errno: nix::errno::Errno| ExecError::Console {
            step,
            error: errno.into(),
        }
    };
    let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
    let master = posix_openpt(flags).map_err(fail("open(/dev/ptmx)"))?;
    grantpt(&master).map_err(fail("grantpt"))?;
    unlockpt(&master).map_err(fail("unlockpt"))?;
    let name = ptsname_r(&master).map_err(fail("ptsname"))?;
    explain!("open(\"/dev/ptmx\") in the container: {name}");
    let slave: OwnedFd = nix::fcntl::open(name.as_str(), flags, nix::sys::stat::Mode::empty())
        .map_err(fail(&format!("open({name})")))?;
    let fds = [master.as_raw_fd()];
    explain!("sendmsg(console socket, {name:?}, SCM_RIGHTS [{}])", fds[0]);
    sendmsg::<()>(
        socket.0.as_raw_fd(),
        &[std::io::IoSlice::new(name.as_bytes())],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(fail("sending the terminal"))?;
    nix::unistd::dup2_stdin(&slave).map_err(fail("dup2(stdin)"))?;
    nix::unistd::dup2_stdout(&slave).map_err(fail("dup2(stdout)"))?;
    nix::unistd::dup2_stderr(&slave).map_err(fail("dup2(stderr)"))?;
    Ok(())
}
// ANCHOR_END: terminal_inside

/// The child's steps for a process started in an entered container: root
/// in its user namespace, then the container's restrictions.
struct ExecHooks<'a> {
    spec: &'a Spec,
    userns: bool,
    filter: Option<&'a Filter>,
}

impl SpawnHooks for ExecHooks<'_> {
    fn in_child(&mut self) -> Result<(), HookError> {
        if self.userns {
            userns::become_root()
                .map_err(|e| HookError::new("becoming root in the user namespace", e))?;
        }
        filter_while_privileged(self.spec, self.filter)
    }

    fn before_exec(&mut self) -> Result<(), HookError> {
        restrict(self.spec, self.filter)
    }
}

/// The later chapters' steps for a process joining the container.
struct JoinSteps<'a, S: Step>(&'a mut S);

impl<S: Step> SpawnHooks for JoinSteps<'_, S> {
    fn in_parent(&mut self, child: Pid) -> Result<(), HookError> {
        self.0.exec_in_parent(child)
    }

    fn in_child(&mut self) -> Result<(), HookError> {
        self.0.exec_in_child()
    }
}
