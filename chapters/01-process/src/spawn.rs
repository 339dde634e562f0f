//! Starting a child process: `fork`, then `execve`.
//!
//! Unix starts a program in two calls, and the gap between them is where
//! every container engine does its work:
//!
//! 1. `fork()` makes a copy of the calling process. The copy (the child) has
//!    the same memory, the same open file descriptors, the same signal mask and
//!    dispositions, the same working directory; it differs in its pid and in
//!    what `fork` returned (0 in the child, the child's pid in the parent).
//! 2. `execve(path, argv, envp)` replaces the program running in the calling
//!    process with another one. The pid stays. Memory is replaced. Open file
//!    descriptors stay open unless they are marked close-on-exec. Signals that
//!    had a handler go back to their default action (the handler's code is
//!    gone), but ignored signals stay ignored and the signal mask is kept.
//!
//! Between the two, the child runs our code, but already as the new process:
//! it can change its working directory, its process group, and (in the next
//! chapters) its namespaces, its root directory, its cgroup and its
//! capabilities. Everything it changes there, the new program inherits.
//!
//! Two rules follow, and this module keeps both:
//!
//! - **Fork only from a single-threaded process.** `fork` copies only the
//!   calling thread. A lock held by another thread at that instant (inside
//!   `malloc`, say) stays locked forever in the child. The engine forks from a
//!   process that never started a thread.
//! - **Report `execve` failures back.** If `execve` fails, the child is still
//!   running our code, and the parent must learn why. A pipe whose write end
//!   is close-on-exec does it: a successful `execve` closes it (the parent reads
//!   end-of-file), a failure writes the error into it.

use crate::explain;
use crate::explain::argv_repr;
use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::wait::waitpid;
use nix::unistd::{Pid, execve, pipe2, setpgid};
use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The `PATH` a process gets when its environment has none: the one docker
/// sets in every container.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What to run: the program's arguments, environment and working directory.
///
/// It is plain data (serialisable to JSON): the first section of the run
/// spec that every later chapter extends, and what an engine's shim
/// receives to start a container's process.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProcessSpec {
    /// `argv[0]` names the program; it is looked up in `PATH` when it has no `/`.
    pub argv: Vec<String>,
    /// The whole environment of the new program, as `KEY=VALUE` strings.
    pub env: Vec<String>,
    /// The directory to change into before `execve`; `None` keeps the parent's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    /// The user to run as (`UID[:GID]` or `NAME[:GROUP]`); `None` keeps ours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Standard input is a terminal that becomes the process's controlling
    /// terminal (the OCI spec's `process.terminal`; docker's `-t`): the
    /// process starts a session of its own, so that Ctrl-C on that
    /// terminal reaches it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub terminal: bool,
    /// Supplementary groups beyond the user's own gid (docker's
    /// `--group-add`, the OCI spec's `user.additionalGids`). Empty means
    /// the user's gid alone: nothing is looked up in `/etc/group`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_gids: Vec<u32>,
}

impl ProcessSpec {
    /// The value of `KEY` in [`ProcessSpec::env`], if set.
    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env.iter().rev().find_map(|kv| {
            kv.split_once('=')
                .filter(|(k, _)| *k == key)
                .map(|(_, v)| v)
        })
    }
}

/// Options for [`spawn`] that later chapters use.
#[derive(Debug, Clone, Copy)]
pub struct SpawnOptions {
    /// Namespace flags for `clone(2)`. Empty means a plain `fork()`.
    pub clone_flags: CloneFlags,
    /// Put the child in a process group of its own, as a shell does for a job
    /// and docker does for a container. When our standard input is a terminal
    /// and we are in its foreground, the terminal is handed to the child's
    /// group, so Ctrl-C and Ctrl-Z go to the child, as they would to a
    /// program the shell ran. Otherwise (no terminal), keystroke signals
    /// reach only us, and the supervisor forwards them.
    pub own_process_group: bool,
    /// Kill the child when we die (`PR_SET_PDEATHSIG`): a container must not
    /// outlive the process that supervises it, or nobody would reap it,
    /// relay its exit status or clean up after it.
    pub die_with_parent: bool,
}

impl Default for SpawnOptions {
    fn default() -> Self {
        SpawnOptions {
            clone_flags: CloneFlags::empty(),
            own_process_group: false,
            die_with_parent: false,
        }
    }
}

/// An error that a [`SpawnHooks`] step reports; it says what failed and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HookError(pub String);

impl HookError {
    /// An error of `what` (the step, such as `pivot_root(...)`) caused by `why`.
    pub fn new(what: impl std::fmt::Display, why: impl std::fmt::Display) -> Self {
        HookError(format!("{what}: {why}"))
    }
}

// ANCHOR: hooks
/// Steps that later chapters add between `fork` and `execve`.
///
/// The parent's step runs first, while the child waits: it can act on the
/// child from outside (write its uid map, move it into a cgroup, give it a
/// network interface). Then the child's steps run, inside the new process:
/// `in_child` (mounts, `pivot_root`), then the switch to the process's user
/// (this chapter's own step), then `before_exec` (dropping capabilities,
/// `no_new_privs`, a syscall filter), the very last thing before `execve`.
/// Chapter 2 implements this trait for a container; chapter 3 adds a cgroup
/// with [`SpawnHooks::then`]; and so on.
pub trait SpawnHooks {
    /// Runs in the parent once the child exists, before it may go on.
    fn in_parent(&mut self, child: Pid) -> Result<(), HookError> {
        let _ = child;
        Ok(())
    }

    /// Runs in the child, after the parent's step, before the user switch.
    fn in_child(&mut self) -> Result<(), HookError> {
        Ok(())
    }

    /// Runs in the child after the user switch, right before `execve`.
    /// Giving up privileges belongs here: switching users needs
    /// `CAP_SETUID` and `CAP_SETGID`, so they must still be held then.
    fn before_exec(&mut self) -> Result<(), HookError> {
        Ok(())
    }

    /// These steps, then `next`'s, at each point.
    fn then<B: SpawnHooks>(self, next: B) -> Then<Self, B>
    where
        Self: Sized,
    {
        Then(self, next)
    }
}
// ANCHOR_END: hooks

/// Two sets of hooks, the first's steps before the second's at each point.
pub struct Then<A, B>(pub A, pub B);

impl<A: SpawnHooks, B: SpawnHooks> SpawnHooks for Then<A, B> {
    fn in_parent(&mut self, child: Pid) -> Result<(), HookError> {
        self.0.in_parent(child)?;
        self.1.in_parent(child)
    }

    fn in_child(&mut self) -> Result<(), HookError> {
        self.0.in_child()?;
        self.1.in_child()
    }

    fn before_exec(&mut self) -> Result<(), HookError> {
        self.0.before_exec()?;
        self.1.before_exec()
    }
}

impl<H: SpawnHooks + ?Sized> SpawnHooks for &mut H {
    fn in_parent(&mut self, child: Pid) -> Result<(), HookError> {
        (**self).in_parent(child)
    }

    fn in_child(&mut self) -> Result<(), HookError> {
        (**self).in_child()
    }

    fn before_exec(&mut self) -> Result<(), HookError> {
        (**self).before_exec()
    }
}

/// No steps: a plain child process.
pub struct NoHooks;
impl SpawnHooks for NoHooks {}

/// Why a child could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("no command given")]
    NoCommand,
    #[error("{what} contains a NUL byte")]
    NulByte { what: &'static str },
    #[error("{call} failed: {errno}")]
    Syscall { call: &'static str, errno: Errno },
    #[error("exec: {program:?}: executable file not found in $PATH")]
    NotInPath { program: String },
    #[error("exec: {program:?}: no such file or directory")]
    NoSuchFile { program: String },
    #[error("exec: {program:?}: permission denied")]
    PermissionDenied { program: String },
    #[error("exec: {program:?}: {}", errno.desc().to_lowercase())]
    Exec { program: String, errno: Errno },
    #[error("chdir to {dir:?}: {}", errno.desc().to_lowercase())]
    Chdir { dir: String, errno: Errno },
    #[error("{0}")]
    ChildSetup(String),
    #[error("{0}")]
    ParentSetup(HookError),
}

impl SpawnError {
    /// The exit code a shell (and docker) uses for this failure: 127 when the
    /// command does not exist, 126 when it exists but cannot be executed, and
    /// 125 when the engine itself failed before the command could start.
    pub fn exit_code(&self) -> i32 {
        match self {
            SpawnError::NotInPath { .. } | SpawnError::NoSuchFile { .. } => 127,
            SpawnError::PermissionDenied { .. } | SpawnError::Exec { .. } => 126,
            _ => 125,
        }
    }
}

/// A started child.
#[derive(Debug)]
pub struct Child {
    pid: Pid,
    terminal: Option<crate::terminal::ForegroundGuard>,
}

impl Child {
    /// The child's pid, as the parent sees it.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Takes the terminal back from the child, if it was handed over.
    pub fn reclaim_terminal(&mut self) {
        self.terminal = None;
    }
}

// ANCHOR: spawn
/// Starts `spec` as a child process and returns once it runs the new program.
///
/// The sequence, with `--explain` showing each step:
/// `fork` (or `clone` with namespace flags), the parent's hook while the
/// child waits on a pipe, a byte down that pipe to let the child go, the
/// child's hook, then `execve`. Returns an error if any step failed, including
/// `execve` itself; the child is then already reaped.
///
/// The calling process must be single-threaded (see the module docs).
pub fn spawn(
    spec: &ProcessSpec,
    options: &SpawnOptions,
    hooks: &mut dyn SpawnHooks,
) -> Result<Child, SpawnError> {
    // SOLUTION START: ch01-spawn start the child: fork (or clone), the parent's hook, the go pipe, the child's steps, execve and the report pipe (book: The process > The code > Spawning)
    let mut exec = ExecPlan::new(spec)?;
    if options.die_with_parent {
        exec.parent = Some(pidfd_of_self()?);
    }
    // The parent tells the child to go on through `go`; the child reports a
    // failure through `report`. Both close on exec.
    let (go_rx, go_tx) = pipe("pipe2")?;
    let (report_rx, report_tx) = pipe("pipe2")?;

    let Some(pid) = fork_or_clone(options.clone_flags)? else {
        // In the child. Only the child's ends of the pipes are used here.
        drop(go_tx);
        drop(report_rx);
        run_child(&exec, options, hooks, go_rx, report_tx)
    };
    drop(go_rx);
    drop(report_tx);
    drop(exec.parent.take());

    let mut terminal = None;
    if options.own_process_group && !exec.terminal {
        // Both sides call setpgid, so the group exists whichever runs first.
        let _ = setpgid(pid, pid);
        terminal = crate::terminal::hand_to(pid);
    }
    let abort = |error: SpawnError| {
        let _ = kill(pid, Signal::SIGKILL);
        let _ = waitpid(pid, None);
        error
    };
    if let Err(error) = hooks.in_parent(pid) {
        return Err(abort(SpawnError::ParentSetup(error)));
    }
    let mut go = File::from(go_tx);
    if go.write_all(b"1").is_err() {
        return Err(abort(SpawnError::ChildSetup(
            "the child died before it could start".into(),
        )));
    }
    drop(go);

    // End of file means execve succeeded and closed the child's end.
    let mut report = Vec::new();
    let _ = File::from(report_rx).read_to_end(&mut report);
    if report.is_empty() {
        return Ok(Child { pid, terminal });
    }
    let _ = waitpid(pid, None);
    Err(ChildReport::decode(&report))
    // SOLUTION END
}
// ANCHOR_END: spawn

/// Creates a child: `fork()` when no flags are given, else `clone(flags)`.
///
/// `fork()` is `clone()` with nothing shared and SIGCHLD as the signal sent to
/// the parent when the child ends. Passing namespace flags (CLONE_NEWPID,
/// CLONE_NEWNS, ...) to the same call puts the child in new namespaces from its
/// first instruction. With no new stack given, the child goes on from the call
/// on a copy of our stack, exactly as with `fork`.
fn fork_or_clone(flags: CloneFlags) -> Result<Option<Pid>, SpawnError> {
    let syscall_error = |errno| SpawnError::Syscall {
        call: "clone",
        errno,
    };
    if flags.is_empty() {
        // SAFETY: the engine calls this from a single-threaded process, where
        // the child may run any code until execve.
        let result = unsafe { nix::unistd::fork() }.map_err(|errno| SpawnError::Syscall {
            call: "fork",
            errno,
        })?;
        return Ok(match result {
            nix::unistd::ForkResult::Parent { child } => {
                explain!("fork() = {child}");
                Some(child)
            }
            nix::unistd::ForkResult::Child => None,
        });
    }
    let raw = flags.bits() as libc::c_ulong | libc::SIGCHLD as libc::c_ulong;
    // SAFETY: as for fork above. A null stack makes the child continue on a
    // copy-on-write copy of the parent's stack.
    let ret = unsafe { libc::syscall(libc::SYS_clone, raw, 0usize, 0usize, 0usize, 0usize) };
    match ret {
        -1 => Err(syscall_error(Errno::last())),
        0 => Ok(None),
        pid => {
            let child = Pid::from_raw(pid as i32);
            explain!("clone({}) = {child}", clone_flags_repr(flags));
            Ok(Some(child))
        }
    }
}

/// `CLONE_NEWNS | CLONE_NEWPID | SIGCHLD`, as strace shows it.
pub fn clone_flags_repr(flags: CloneFlags) -> String {
    let mut names: Vec<String> = flags
        .iter_names()
        .map(|(name, _)| name.to_string())
        .collect();
    names.push("SIGCHLD".into());
    names.join("|")
}

/// Makes standard input, a terminal, our controlling terminal: a new
/// session (`setsid`), then `TIOCSCTTY`. A session leader's first terminal
/// is where its job control lives: Ctrl-C becomes SIGINT for its group.
fn take_terminal() -> Result<(), Errno> {
    nix::unistd::setsid()?;
    explain!("setsid(); ioctl(0, TIOCSCTTY)");
    // SAFETY: TIOCSCTTY takes an integer argument (0: do not steal it).
    let done = unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) };
    Errno::result(done).map(drop)
}

/// A pidfd of this process: it becomes readable when we exit, which the
/// child checks after arming its parent-death signal (see [`die_with_parent`]).
fn pidfd_of_self() -> Result<OwnedFd, SpawnError> {
    // SAFETY: pidfd_open takes a pid and flags, and returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
    if fd < 0 {
        return Err(SpawnError::Syscall {
            call: "pidfd_open",
            errno: Errno::last(),
        });
    }
    // SAFETY: the kernel just gave us this descriptor (pidfds close on exec).
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) })
}

// ANCHOR: die_with_parent
/// Asks the kernel to SIGKILL us when our parent dies, then checks that it
/// has not died already (the signal is only sent for a death *after* the
/// request).
///
/// The request is cleared by any change of user or group id, so it is made
/// after the user switch, as late as possible. Our parent's pid cannot be
/// compared with `getppid()`: in a new PID namespace that returns 0. A
/// pidfd of the parent, opened before the fork, answers instead: it is
/// readable once the parent has exited.
fn die_with_parent(parent: &OwnedFd) -> Result<(), Errno> {
    explain!("prctl(PR_SET_PDEATHSIG, SIGKILL)");
    // SAFETY: prctl with integer arguments only.
    let done = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    Errno::result(done)?;
    let mut fds = [nix::poll::PollFd::new(
        std::os::fd::AsFd::as_fd(parent),
        nix::poll::PollFlags::POLLIN,
    )];
    match nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO) {
        Ok(0) => Ok(()),
        Ok(_) => Err(Errno::ESRCH),
        Err(errno) => Err(errno),
    }
}
// ANCHOR_END: die_with_parent

fn pipe(call: &'static str) -> Result<(OwnedFd, OwnedFd), SpawnError> {
    pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|errno| SpawnError::Syscall { call, errno })
}

/// Everything `execve` needs, converted to C strings before the fork.
struct ExecPlan {
    argv: Vec<CString>,
    env: Vec<CString>,
    program: String,
    cwd: Option<PathBuf>,
    user: Option<String>,
    additional_gids: Vec<u32>,
    path_var: String,
    argv_text: String,
    /// A pidfd of the parent, when the child must die with it.
    parent: Option<OwnedFd>,
    terminal: bool,
}

impl ExecPlan {
    fn new(spec: &ProcessSpec) -> Result<Self, SpawnError> {
        let program = spec.argv.first().ok_or(SpawnError::NoCommand)?.clone();
        let to_c =
            |s: &String, what| CString::new(s.as_str()).map_err(|_| SpawnError::NulByte { what });
        Ok(ExecPlan {
            argv: spec
                .argv
                .iter()
                .map(|a| to_c(a, "an argument"))
                .collect::<Result<_, _>>()?,
            env: spec
                .env
                .iter()
                .map(|e| to_c(e, "an environment variable"))
                .collect::<Result<_, _>>()?,
            path_var: spec.env_var("PATH").unwrap_or(DEFAULT_PATH).to_string(),
            argv_text: argv_repr(&spec.argv),
            cwd: spec.cwd.clone(),
            user: spec.user.clone(),
            additional_gids: spec.additional_gids.clone(),
            program,
            parent: None,
            terminal: spec.terminal,
        })
    }
}

/// The child's side of [`spawn`]; never returns.
fn run_child(
    exec: &ExecPlan,
    options: &SpawnOptions,
    hooks: &mut dyn SpawnHooks,
    go: OwnedFd,
    report: OwnedFd,
) -> ! {
    let mut report = File::from(report);
    let mut byte = [0u8; 1];
    if !matches!(File::from(go).read(&mut byte), Ok(1)) {
        // The parent gave up on us (its own step failed); end quietly.
        // SAFETY: _exit ends the process without running the parent's atexit handlers.
        unsafe { libc::_exit(1) };
    }
    // A panic must not unwind out of here: above us is a copy of the
    // parent's stack, and unwinding it would run the parent's destructors
    // (remove its cgroup, its records) a second time, from the child. The
    // panic becomes a report like any other failure before `execve`.
    let failure = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        prepare_and_exec(exec, options, hooks)
    }))
    .unwrap_or_else(|panic| ChildReport::Setup(panic_message(panic.as_ref())));
    let _ = report.write_all(&failure.encode());
    // SAFETY: as above.
    unsafe { libc::_exit(failure.exit_code()) }
}

/// The text of a panic: `panic!` and `todo!` carry a `String` when they
/// format arguments and a `&str` when they do not.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<String>() {
        format!("panicked: {text}")
    } else if let Some(text) = panic.downcast_ref::<&str>() {
        format!("panicked: {text}")
    } else {
        "panicked before execve".into()
    }
}

/// Runs the child's steps and `execve`; returns only on failure.
fn prepare_and_exec(
    exec: &ExecPlan,
    options: &SpawnOptions,
    hooks: &mut dyn SpawnHooks,
) -> ChildReport {
    if exec.terminal {
        if let Err(errno) = take_terminal() {
            return ChildReport::Setup(format!("setting up the terminal: {errno}"));
        }
    } else if options.own_process_group {
        let _ = setpgid(Pid::from_raw(0), Pid::from_raw(0));
    }
    if let Err(error) = hooks.in_child() {
        return ChildReport::Setup(error.0);
    }
    if let Some(user) = &exec.user {
        if let Err(error) = crate::user::switch_to(user, &exec.additional_gids) {
            return ChildReport::Setup(format!("user {user:?}: {error}"));
        }
    } else if !exec.additional_gids.is_empty()
        && let Err(error) = crate::user::add_groups(&exec.additional_gids)
    {
        return ChildReport::Setup(error);
    }
    reset_signals();
    if let Err(errno) = close_inherited_fds() {
        return ChildReport::Setup(format!("close_range: {errno}"));
    }
    if let Some(dir) = &exec.cwd {
        explain!("chdir({dir:?})");
        if let Err(errno) = nix::unistd::chdir(dir) {
            return ChildReport::Chdir(errno, dir.display().to_string());
        }
    }
    let path = match resolve_program(&exec.program, &exec.path_var) {
        Ok(path) => path,
        Err(report) => return report,
    };
    let Ok(path_c) = CString::new(path.as_os_str().as_encoded_bytes()) else {
        return ChildReport::Exec(Errno::EINVAL, exec.program.clone());
    };
    if let Some(parent) = &exec.parent
        && let Err(errno) = die_with_parent(parent)
    {
        return ChildReport::Setup(format!("the supervisor is gone ({errno})"));
    }
    if let Err(error) = hooks.before_exec() {
        return ChildReport::Setup(error.0);
    }
    // ANCHOR: execve
    explain!("execve({:?}, {})", path.display(), exec.argv_text);
    let errno = match execve(&path_c, &exec.argv, &exec.env) {
        Err(errno) => errno,
        Ok(never) => match never {},
    };
    // ANCHOR_END: execve
    ChildReport::Exec(errno, exec.program.clone())
}

// ANCHOR: reset_signals
/// Undoes what the engine changed about signals, so the program starts as
/// if a shell had run it: every signal unblocked, every disposition default.
///
/// This matters: the Rust runtime ignores SIGPIPE, and an ignored signal
/// stays ignored across `execve`. Without this, `yes | head -1` would make
/// `yes` get EPIPE errors (and print one) instead of dying quietly of SIGPIPE.
fn reset_signals() {
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    for signal in Signal::iterator() {
        if matches!(signal, Signal::SIGKILL | Signal::SIGSTOP) {
            continue;
        }
        // SAFETY: installing SIG_DFL runs no code of ours.
        let _ = unsafe { nix::sys::signal::signal(signal, nix::sys::signal::SigHandler::SigDfl) };
    }
}
// ANCHOR_END: reset_signals

/// Marks every descriptor above 2 close-on-exec, so the new program gets
/// only stdin, stdout and stderr. A descriptor leaked into a container is a
/// way out of it: runc's CVE-2024-21626 leaked a handle on the host's
/// cgroup directory, and a process that `chdir`s through it is outside its
/// root. Marking them (rather than closing) keeps our report pipe usable
/// until the very `execve`.
fn close_inherited_fds() -> Result<(), Errno> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range only changes flags on our own descriptors.
    let ret = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if ret == -1 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// Finds the file `execve` should run, as `execvp` does: a name with a `/`
/// is used as it is, a bare name is searched in each directory of `PATH`.
///
/// A file that exists but lacks execute permission is remembered and the
/// search goes on; if nothing better is found, that is "permission denied"
/// (exit 126) rather than "not found" (exit 127).
fn resolve_program(program: &str, path_var: &str) -> Result<PathBuf, ChildReport> {
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    let mut not_executable = None;
    for dir in path_var.split(':').filter(|d| !d.is_empty()) {
        let candidate = Path::new(dir).join(program);
        // A directory of that name is skipped, as execvp skips it.
        let Ok(meta) = std::fs::metadata(&candidate) else {
            continue;
        };
        if meta.is_dir() {
            continue;
        }
        if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
            return Ok(candidate);
        }
        not_executable.get_or_insert(candidate);
    }
    match not_executable {
        Some(_) => Err(ChildReport::Exec(Errno::EACCES, program.to_string())),
        None => Err(ChildReport::NotInPath(program.to_string())),
    }
}

/// What a child that failed before `execve` writes to its parent.
#[derive(Debug)]
enum ChildReport {
    Setup(String),
    Chdir(Errno, String),
    Exec(Errno, String),
    NotInPath(String),
}

impl ChildReport {
    fn exit_code(&self) -> i32 {
        self.to_error().exit_code()
    }

    fn to_error(&self) -> SpawnError {
        match self {
            ChildReport::Setup(message) => SpawnError::ChildSetup(message.clone()),
            ChildReport::Chdir(errno, dir) => SpawnError::Chdir {
                dir: dir.clone(),
                errno: *errno,
            },
            ChildReport::NotInPath(program) => SpawnError::NotInPath {
                program: program.clone(),
            },
            ChildReport::Exec(errno, program) => {
                let program = program.clone();
                match errno {
                    Errno::ENOENT | Errno::ENOTDIR => SpawnError::NoSuchFile { program },
                    Errno::EACCES | Errno::EPERM | Errno::EISDIR => {
                        SpawnError::PermissionDenied { program }
                    }
                    errno => SpawnError::Exec {
                        program,
                        errno: *errno,
                    },
                }
            }
        }
    }

    /// One tag byte, then the errno (4 bytes) where there is one, then text.
    fn encode(&self) -> Vec<u8> {
        let (tag, errno, text) = match self {
            ChildReport::Setup(text) => (b'S', 0, text),
            ChildReport::Chdir(errno, text) => (b'C', *errno as i32, text),
            ChildReport::Exec(errno, text) => (b'X', *errno as i32, text),
            ChildReport::NotInPath(text) => (b'P', 0, text),
        };
        let mut bytes = vec![tag];
        bytes.extend_from_slice(&errno.to_le_bytes());
        bytes.extend_from_slice(text.as_bytes());
        bytes
    }

    fn decode(bytes: &[u8]) -> SpawnError {
        if bytes.len() < 5 {
            return SpawnError::ChildSetup("the child failed before execve".into());
        }
        let errno = Errno::from_raw(i32::from_le_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]));
        let text = String::from_utf8_lossy(&bytes[5..]).into_owned();
        let report = match bytes[0] {
            b'C' => ChildReport::Chdir(errno, text),
            b'X' => ChildReport::Exec(errno, text),
            b'P' => ChildReport::NotInPath(text),
            _ => ChildReport::Setup(text),
        };
        report.to_error()
    }
}
