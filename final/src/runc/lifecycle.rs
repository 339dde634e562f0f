//! The lifecycle: `create`, `start`, `kill`, `delete`, `run`.
//!
//! # Who is who
//!
//! ```text
//! caller (containerd-shim, docker, a test)
//!  └─ skiff-runc create          the runtime: reads config.json, records the
//!      │                         container, runs prestart and createRuntime
//!      │                         hooks, writes the pid file, then exits
//!      └─ (fork, fork: detached)
//!          supervisor            chapter 2's run path: cgroup, clone, hooks;
//!           │                    then waits, records the exit, exits with
//!           │                    the container's code
//!           └─ container         sets itself up, says "ready", and blocks
//!                                on the exec fifo until `start` opens it
//! ```
//!
//! The supervisor is the container's parent for its whole life (its death
//! kills the container: chapter 1's `die_with_parent`), and the pid file
//! names the supervisor, not the container: a caller that reaps the pid of
//! the pid file as a subreaper (containerd's shim does) gets the
//! container's exit status from it, 128 + N for a signal, as it would from
//! runc's process. The `pid` of `state` is the container's own process,
//! as the specification says. gVisor's runsc does the same with its
//! sandbox process.
//!
//! # create, then start
//!
//! runc's `create` leaves the container's process set up but not yet
//! running the user's program: `runc init` waits on a fifo, `<state
//! dir>/exec.fifo`, and `runc start` opens it. The same here: the
//! container's last step before `execve` ([`super::step::RuncStep`]'s
//! `before_exec`) opens the fifo for writing, which blocks until `start`
//! opens it for reading. While the fifo exists the container is
//! `created`; `start` removes it.
//!
//! `create` and the container talk over two pipes: the container writes
//! `hooks` (the runtime's hooks may run: its mounts are done, the root
//! not yet pivoted) and then `ready` on one; `create` answers `1` on the
//! other once the hooks succeeded. The supervisor writes `supervisor PID`
//! first, and `failed CODE MESSAGE` if the container could not start.

use super::config::Config;
use super::console;
use super::hooks;
use super::spec::{Spec, internal_id, to_spec};
use super::state::{self, State};
use super::step::{Channels, RuncEngine};
use anyhow::{Context, anyhow, bail};
use ch02_namespaces::records::Record;
use ch02_namespaces::{Container, Engine};
use nix::sys::signal::{Signal, kill};
use nix::unistd::{ForkResult, Pid};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long `delete` and a failed `create` wait for a supervisor to end.
const SUPERVISOR_EXIT: Duration = Duration::from_secs(10);

/// What `create` (and `run`) were asked.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    /// `run` in the foreground: the supervisor stays our child.
    pub foreground: bool,
    /// Join a new session keyring (unless `--no-new-keyring`).
    pub new_keyring: bool,
}

/// A container the caller calls `id`, as the runtime sees it now.
pub struct Found {
    pub record: Record<Spec>,
    pub state: State,
}

/// Finds the container `id`, with its current state.
pub fn find(engine: &RuncEngine, id: &str) -> anyhow::Result<Option<Found>> {
    super::spec::check_id(id)?;
    let record = match engine.containers().load::<Spec>(&internal_id(id)) {
        Ok(record) => record,
        Err(ch02_namespaces::records::RecordError::NotFound(_)) => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    let fifo = engine.dir(id).join("exec.fifo").exists();
    let frozen = engine
        .steps(&record.spec)
        .0
        .open()
        .and_then(|cgroup| cgroup.is_frozen())
        .unwrap_or(false);
    let state = State::of(&record, fifo, frozen);
    Ok(Some(Found { record, state }))
}

/// Finds the container `id`, or says it does not exist (runc's words).
pub fn get(engine: &RuncEngine, id: &str) -> anyhow::Result<Found> {
    find(engine, id)?.ok_or_else(|| anyhow!("container {id} does not exist"))
}

// ANCHOR: create
/// `create`: the container set up, waiting for `start`. Returns the
/// supervisor's pid.
pub fn create(engine: &RuncEngine, id: &str, options: &CreateOptions) -> anyhow::Result<Pid> {
    super::spec::check_id(id)?;
    if find(engine, id)?.is_some() {
        bail!("container with id exists: {id}");
    }
    let bundle = std::fs::canonicalize(&options.bundle)
        .with_context(|| format!("bundle {}", options.bundle.display()))?;
    let config = Config::load(&bundle)?;
    let dir = engine.dir(id);
    let (mut spec, profile) = to_spec(&config, id, &bundle, &dir.join("seccomp.json"))?;
    spec.runc.new_keyring = options.new_keyring;
    // A cgroup that exists at the path asked for is someone else's: using
    // it, and removing it with the container, would touch what is not ours.
    if let Some(path) = &spec.limited.cgroup.path
        && engine
            .layout()
            .roots()
            .iter()
            .any(|root| root.join(path).exists())
    {
        bail!(
            "cgroup {} already exists: give the container a cgroups path of its own",
            path.display()
        );
    }
    let terminal = terminal_for(&spec, options)?;
    let container = Container::create(engine, spec, None)?;
    drop(container);
    let created = (|| -> anyhow::Result<Pid> {
        if let Some(profile) = &profile {
            let json = serde_json::to_vec_pretty(profile)?;
            std::fs::write(dir.join("seccomp.json"), json)?;
        }
        make_fifo(&dir.join("exec.fifo"))?;
        start_supervisor(engine, id, options, terminal)
    })();
    match created {
        Ok(pid) => Ok(pid),
        Err(error) => {
            let _ = destroy(engine, id);
            Err(error)
        }
    }
}
// ANCHOR_END: create

/// The terminal the container gets: a new one whose master goes to the
/// console socket, our own (a foreground `run` on a terminal), or none.
fn terminal_for(spec: &Spec, options: &CreateOptions) -> anyhow::Result<Option<console::Terminal>> {
    let wanted = spec.process.terminal;
    match (&options.console_socket, wanted) {
        (Some(_), false) => bail!("cannot use console socket if runc will not allocate tty"),
        (Some(_), true) => {
            let size = spec.runc.console_size.map(|s| (s.height, s.width));
            Ok(Some(console::open(size)?))
        }
        (None, true) if options.foreground && nix::unistd::isatty(std::io::stdin())? => Ok(None),
        (None, true) => bail!(
            "cannot allocate tty if runc will detach without setting console socket (process.terminal is true: give --console-socket, or set it to false)"
        ),
        (None, false) => Ok(None),
    }
}

/// Makes the exec fifo, writable by anyone: the container's process may
/// run as any user by the time it opens it.
fn make_fifo(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .with_context(|| format!("mkfifo {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o622))?;
    Ok(())
}

fn pipe() -> anyhow::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?)
}

// ANCHOR: start_supervisor
/// Forks the supervisor, then plays `create`'s part of the conversation
/// until the container is ready: sends the terminal, runs the runtime's
/// hooks when asked, writes the pid file.
fn start_supervisor(
    engine: &RuncEngine,
    id: &str,
    options: &CreateOptions,
    terminal: Option<console::Terminal>,
) -> anyhow::Result<Pid> {
    let (ready_rx, ready_tx) = pipe()?;
    let (go_rx, go_tx) = pipe()?;
    let (master, slave) = match terminal {
        Some(t) => (Some(t.master), Some(t.slave)),
        None => (None, None),
    };
    // The supervisor closes our ends; we drop its ends with the closure.
    let ours = [
        Some(ready_rx.as_raw_fd()),
        Some(go_tx.as_raw_fd()),
        master.as_ref().map(AsRawFd::as_raw_fd),
    ];
    fork_supervisor(options.foreground, move || {
        for fd in ours.into_iter().flatten() {
            let _ = nix::unistd::close(fd);
        }
        supervise(engine, id, ready_tx, go_rx, slave)
    })?;
    let mut go = Some(File::from(go_tx));
    if let (Some(socket), Some(master)) = (&options.console_socket, &master) {
        console::send_master(socket, master)?;
    }
    drop(master);
    let mut supervisor = None;
    let mut hook_error = None;
    for line in BufReader::new(File::from(ready_rx)).lines() {
        let line = line?;
        let (word, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        match word {
            "supervisor" => supervisor = Some(Pid::from_raw(rest.parse()?)),
            "hooks" => {
                let found = get(engine, id)?;
                let state = State {
                    status: state::CREATING.into(),
                    ..found.state.clone()
                };
                let state = State {
                    pid: found.record.state.pid.map_or(0, |p| p.pid),
                    ..state
                };
                let hooks = &found.record.spec.runc.hooks;
                let json = state.to_hook_json();
                let ran = hooks::run_all(&hooks.prestart, &json, "prestart")
                    .and_then(|()| hooks::run_all(&hooks.create_runtime, &json, "createRuntime"));
                match ran {
                    Ok(()) => {
                        if let Some(go) = go.as_mut() {
                            go.write_all(b"1")?;
                        }
                    }
                    Err(error) => {
                        // The container reads end-of-file, and gives up.
                        go = None;
                        hook_error = Some(error);
                    }
                }
            }
            "ready" => {
                let pid =
                    supervisor.ok_or_else(|| anyhow!("the supervisor did not say its pid"))?;
                if let Some(path) = &options.pid_file {
                    write_pid_file(path, pid)?;
                }
                return Ok(pid);
            }
            "failed" => {
                let message = rest.split_once(' ').map_or(rest, |(_, m)| m);
                return Err(hook_error.unwrap_or_else(|| anyhow!("{message}")));
            }
            _ => bail!("unexpected word from the supervisor: {line:?}"),
        }
    }
    Err(hook_error.unwrap_or_else(|| {
        anyhow!("the container's supervisor ended before the container was created")
    }))
}
// ANCHOR_END: start_supervisor

/// Forks a process that runs `work` and exits with its code. Detached (not
/// `foreground`), it forks twice and leaves our session, so that its
/// parent is our caller's subreaper (or init), as a daemon's; in the
/// foreground it stays our child, and dies with us. Returns its pid (the
/// first child's, when detached: it exits at once and is reaped here).
pub fn fork_supervisor(foreground: bool, work: impl FnOnce() -> i32) -> anyhow::Result<Pid> {
    // SAFETY: skiff-runc is single-threaded; the child runs our code, then
    // exits without returning.
    match unsafe { nix::unistd::fork() }? {
        ForkResult::Parent { child } => {
            if !foreground {
                nix::sys::wait::waitpid(child, None)?;
            }
            Ok(child)
        }
        ForkResult::Child => {
            if foreground {
                // SAFETY: prctl with integer arguments only.
                unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
            } else {
                // SAFETY: as above: still single-threaded.
                match unsafe { nix::unistd::fork() } {
                    Ok(ForkResult::Child) => {
                        let _ = nix::unistd::setsid();
                    }
                    // SAFETY: _exit ends the intermediate process at once.
                    _ => unsafe { libc::_exit(0) },
                }
            }
            let code = work();
            std::process::exit(code)
        }
    }
}

// ANCHOR: supervise
/// The supervisor: starts the container with chapter 2's run path, which
/// returns once it has called `execve` (after `start`), then waits for it.
fn supervise(
    engine: &RuncEngine,
    id: &str,
    ready: OwnedFd,
    go: OwnedFd,
    terminal: Option<OwnedFd>,
) -> i32 {
    let mut say = File::from(ready.try_clone().expect("dup of the ready pipe"));
    let _ = writeln!(say, "supervisor {}", std::process::id());
    let started = (|| -> anyhow::Result<_> {
        let mut container = Container::open(engine, &internal_id(id))?;
        join_namespaces(&container.record().spec)?;
        let fifo = nix::fcntl::open(
            &engine.dir(id).join("exec.fifo"),
            nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )?;
        container.steps().1.attach(Channels { ready, go, fifo });
        if let Some(terminal) = &terminal {
            install_stdio(terminal)?;
        }
        drop(terminal);
        let running = container.prepare()?.start()?;
        Ok(running)
    })();
    let running = match started {
        Ok(running) => running,
        Err(error) => {
            let message = ch01_process::exit::report(error.as_ref());
            let code = ch01_process::shell::exit_code(&error);
            let _ = writeln!(say, "failed {code} {message}");
            return code;
        }
    };
    drop(say);
    // The container has its own copies of the caller's stdio (or the
    // terminal): ours must not keep the caller's pipes open after it.
    if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
        let _ = install_stdio(&null);
    }
    match running.wait() {
        Ok(report) => report.code(),
        Err(error) => {
            super::log::error(&format!("waiting for container {id}: {error}"));
            125
        }
    }
}
// ANCHOR_END: supervise

/// Puts `fd` on our descriptors 0, 1 and 2 (chapter 1's `spawn` gives
/// the container ours).
fn install_stdio(fd: &impl AsFd) -> std::io::Result<()> {
    nix::unistd::dup2_stdin(fd)?;
    nix::unistd::dup2_stdout(fd)?;
    nix::unistd::dup2_stderr(fd)?;
    Ok(())
}

/// Enters the namespaces the configuration gives by path: the container,
/// cloned from us, is born in them (a pid namespace takes effect for our
/// children only, which is what the container is).
fn join_namespaces(spec: &Spec) -> anyhow::Result<()> {
    use nix::sched::CloneFlags;
    for join in &spec.runc.join {
        let flag = match join.kind.as_str() {
            "network" => CloneFlags::CLONE_NEWNET,
            "ipc" => CloneFlags::CLONE_NEWIPC,
            "uts" => CloneFlags::CLONE_NEWUTS,
            "pid" => CloneFlags::CLONE_NEWPID,
            "cgroup" => CloneFlags::CLONE_NEWCGROUP,
            other => bail!("cannot join a {other} namespace"),
        };
        let file = File::open(&join.path).with_context(|| {
            format!(
                "opening the {} namespace {}",
                join.kind,
                join.path.display()
            )
        })?;
        ch01_process::explain!("setns(open({:?}), {})", join.path.display(), join.kind);
        nix::sched::setns(file.as_fd(), flag).with_context(|| {
            format!(
                "joining the {} namespace {}",
                join.kind,
                join.path.display()
            )
        })?;
    }
    Ok(())
}

/// Writes the pid file as runc does: a temporary file renamed over it.
pub fn write_pid_file(path: &Path, pid: Pid) -> anyhow::Result<()> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, pid.to_string())
        .with_context(|| format!("writing the pid file {}", partial.display()))?;
    std::fs::rename(&partial, path)
        .with_context(|| format!("writing the pid file {}", path.display()))?;
    Ok(())
}

// ANCHOR: start
/// `start`: lets a created container run its program, by opening the exec
/// fifo the container blocks on; then runs the poststart hooks.
pub fn start(engine: &RuncEngine, id: &str) -> anyhow::Result<()> {
    let found = get(engine, id)?;
    match found.state.status.as_str() {
        state::CREATED => {}
        state::STOPPED => bail!("cannot start a container that has stopped"),
        state::CREATING => bail!("cannot start a container that is still being created"),
        _ => bail!("cannot start an already running container"),
    }
    let path = engine.dir(id).join("exec.fifo");
    let fifo = nix::fcntl::open(
        &path,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("opening {}", path.display()))?;
    let pid = found.record.state.pid;
    loop {
        let mut fds = [nix::poll::PollFd::new(
            fifo.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ready = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16))?;
        if ready > 0 {
            let mut byte = [0u8; 1];
            if nix::unistd::read(&fifo, &mut byte)? == 1 {
                break;
            }
        }
        if !pid.is_some_and(|p| p.is_alive()) {
            let _ = std::fs::remove_file(&path);
            bail!("the container's process ended before it could start");
        }
    }
    std::fs::remove_file(&path)?;
    let found = get(engine, id)?;
    let running = State {
        status: state::RUNNING.into(),
        ..found.state
    };
    hooks::run_warning(
        &found.record.spec.runc.hooks.poststart,
        &running.to_hook_json(),
        "poststart",
    );
    Ok(())
}
// ANCHOR_END: start

/// Reads a signal as runc's `kill` takes it: `KILL`, `SIGKILL` or `9`;
/// `0` (None) sends nothing and only checks that the process exists.
pub fn parse_signal(text: &str) -> anyhow::Result<Option<Signal>> {
    if let Ok(number) = text.parse::<i32>() {
        if number == 0 {
            return Ok(None);
        }
        return Signal::try_from(number)
            .map(Some)
            .map_err(|_| anyhow!("unknown signal {text:?}"));
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse()
        .map(Some)
        .map_err(|_| anyhow!("unknown signal {text:?}"))
}

// ANCHOR: kill
/// `kill`: a signal to the container's process, or with `all` to every
/// process of its cgroup.
pub fn kill_container(
    engine: &RuncEngine,
    id: &str,
    signal: Option<Signal>,
    all: bool,
) -> anyhow::Result<()> {
    let name = signal.map_or("0", |s| s.as_str());
    let found = get(engine, id)?;
    let pid = match found.state.status.as_str() {
        state::STOPPED => bail!("container not running"),
        _ => found.state.pid,
    };
    if all {
        let cgroup = engine.steps(&found.record.spec).0.open()?;
        for process in cgroup.procs()? {
            let _ = kill(process, signal);
        }
        return Ok(());
    }
    if pid <= 0 {
        bail!("container not running");
    }
    ch01_process::explain!("kill({pid}, {name})");
    kill(Pid::from_raw(pid), signal).with_context(|| format!("kill({pid}, {name})"))?;
    Ok(())
}
// ANCHOR_END: kill

// ANCHOR: delete
/// `delete`: removes a stopped container (a created one too, as runc
/// does); with `force`, stops a running one first. Then the poststop
/// hooks.
pub fn delete(engine: &RuncEngine, id: &str, force: bool) -> anyhow::Result<()> {
    let Some(found) = find(engine, id)? else {
        if force {
            return Ok(());
        }
        bail!("container {id} does not exist");
    };
    let status = found.state.status.clone();
    match status.as_str() {
        state::STOPPED | state::CREATED | state::CREATING => {}
        _ if force => {}
        _ => bail!("cannot delete container {id} that is not stopped: {status}"),
    }
    destroy(engine, id)?;
    let stopped = State {
        status: state::STOPPED.into(),
        pid: 0,
        ..found.state
    };
    hooks::run_warning(
        &found.record.spec.runc.hooks.poststop,
        &stopped.to_hook_json(),
        "poststop",
    );
    Ok(())
}
// ANCHOR_END: delete

/// Ends whatever runs of container `id` (thawing it first: a frozen
/// process does not die), waits for its supervisor to record the end, and
/// removes the container.
pub fn destroy(engine: &RuncEngine, id: &str) -> anyhow::Result<()> {
    let Some(found) = find(engine, id)? else {
        return Ok(());
    };
    let steps = engine.steps(&found.record.spec);
    if let Ok(cgroup) = steps.0.open() {
        let _ = cgroup.thaw();
        for process in cgroup.procs().unwrap_or_default() {
            let _ = kill(process, Signal::SIGKILL);
        }
    }
    if let Some(pid) = found.record.state.pid.filter(|p| p.is_alive()) {
        let _ = kill(Pid::from_raw(pid.pid), Signal::SIGKILL);
    }
    let deadline = Instant::now() + SUPERVISOR_EXIT;
    while let Some(supervisor) = found.record.state.supervisor.filter(|s| s.is_alive()) {
        if Instant::now() > deadline {
            bail!(
                "the supervisor of container {id} (pid {}) did not end within {} s",
                supervisor.pid,
                SUPERVISOR_EXIT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Container::open(engine, &internal_id(id))?.remove()?;
    Ok(())
}

/// Waits for our child `pid` (a foreground supervisor), passing on the
/// signals we get (Ctrl-C, a `kill` of `skiff-runc run`), and returns its
/// exit code.
pub fn wait_forwarding(pid: Pid) -> anyhow::Result<i32> {
    use nix::sys::signal::{SigSet, SigmaskHow, sigprocmask};
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    let mut mask = SigSet::empty();
    for signal in ch01_process::supervise::FORWARDED_SIGNALS
        .iter()
        .chain([&Signal::SIGCHLD])
    {
        mask.add(*signal);
    }
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None)?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC)?;
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG))? {
            WaitStatus::Exited(_, code) => return Ok(code),
            WaitStatus::Signaled(_, signal, _) => return Ok(128 + signal as i32),
            _ => {}
        }
        let mut fds = [nix::poll::PollFd::new(
            signals.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(200u16))? == 0 {
            continue;
        }
        if let Some(info) = signals.read_signal()?
            && let Ok(signal) = Signal::try_from(info.ssi_signo as i32)
            && signal != Signal::SIGCHLD
        {
            let _ = kill(pid, signal);
        }
    }
}

/// `run`: `create` and `start`; in the foreground, waits for the container
/// and deletes it, and returns its exit code.
pub fn run(
    engine: &RuncEngine,
    id: &str,
    options: &CreateOptions,
    detach: bool,
) -> anyhow::Result<i32> {
    let options = CreateOptions {
        foreground: !detach,
        ..options.clone()
    };
    let supervisor = create(engine, id, &options)?;
    if let Err(error) = start(engine, id) {
        let _ = destroy(engine, id);
        return Err(error);
    }
    if detach {
        return Ok(0);
    }
    let code = wait_forwarding(supervisor)?;
    delete(engine, id, true)?;
    Ok(code)
}
