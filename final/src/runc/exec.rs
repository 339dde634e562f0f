//! `exec`: another process in a container, with chapter 2's `exec`.
//!
//! containerd's shim runs `exec --process process.json --detach --pid-file
//! F ID`: the process is described as in `config.json`'s `process`, and the
//! command returns once it runs. As for `create`, a supervisor does the
//! work (chapter 2 enters the container's namespaces, which the calling
//! process cannot leave again) and the pid file names it: it exits with
//! the process's code, and forwards the signals it gets.

use super::config::Process;
use super::console;
use super::lifecycle::{fork_supervisor, get, wait_forwarding, write_pid_file};
use super::spec::{Spec, internal_id, process_spec};
use super::state;
use super::step::RuncEngine;
use anyhow::{anyhow, bail};
use ch02_namespaces::exec::ExecRequest;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;

/// What `exec` was asked.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// `--process`: the whole process, as JSON.
    pub process: Option<PathBuf>,
    /// Or the command, with `--cwd`, `--env`, `--user`, `--tty`.
    pub args: Vec<String>,
    pub cwd: Option<String>,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    pub tty: bool,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub detach: bool,
}

/// The process an `exec` starts, checked against what chapter 2's `exec`
/// gives every process of the container: its capabilities and its
/// `no_new_privs`, from the container's spec.
fn request(spec: &Spec, options: &ExecOptions) -> anyhow::Result<ExecRequest> {
    if let Some(path) = &options.process {
        let process = Process::load(path)?;
        let mut unsupported = Vec::new();
        process.unsupported_into(&mut unsupported, "process.");
        if !unsupported.is_empty() {
            bail!(
                "{} asks for what skiff-runc cannot do: {}",
                path.display(),
                unsupported.join("; ")
            );
        }
        if super::spec::capabilities(&process)? != (spec.caps.clone(), spec.cap_sets.clone()) {
            bail!(
                "{}: the process's capabilities differ from the container's, and an exec'd process gets the container's",
                path.display()
            );
        }
        if process.no_new_privileges != spec.no_new_privileges {
            bail!(
                "{}: noNewPrivileges differs from the container's, and an exec'd process gets the container's",
                path.display()
            );
        }
        let wanted = process_spec(&process)?;
        return Ok(ExecRequest {
            argv: wanted.argv,
            env: wanted.env,
            cwd: wanted.cwd,
            user: wanted.user,
            terminal: wanted.terminal,
            additional_gids: wanted.additional_gids,
            console: None,
        });
    }
    if options.args.is_empty() {
        bail!("exec needs a command, or --process FILE");
    }
    Ok(ExecRequest {
        argv: options.args.clone(),
        env: options.env.clone(),
        cwd: options.cwd.clone().map(Into::into),
        user: options.user.clone(),
        terminal: options.tty,
        additional_gids: options.additional_gids.clone(),
        console: None,
    })
}

// ANCHOR: exec
/// `exec`: returns the process's exit code, or 0 once it runs with `detach`.
pub fn exec(engine: &RuncEngine, id: &str, options: &ExecOptions) -> anyhow::Result<i32> {
    let found = get(engine, id)?;
    if found.state.status == state::STOPPED {
        bail!("cannot exec in a stopped container");
    }
    let request = request(&found.record.spec, options)?;
    let terminal = match (&options.console_socket, request.terminal) {
        (Some(_), true) => Some(console::open(None)?),
        (Some(_), false) => bail!("cannot use console socket if runc will not allocate tty"),
        (None, true) if !options.detach && nix::unistd::isatty(std::io::stdin())? => None,
        (None, true) => {
            bail!("cannot allocate tty if runc will detach without setting console socket")
        }
        (None, false) => None,
    };
    let (said_rx, said_tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let (master, slave) = match terminal {
        Some(t) => (Some(t.master), Some(t.slave)),
        None => (None, None),
    };
    let ours = [
        Some(said_rx.as_raw_fd()),
        master.as_ref().map(AsRawFd::as_raw_fd),
    ];
    let internal = internal_id(id);
    let child = fork_supervisor(!options.detach, move || {
        for fd in ours.into_iter().flatten() {
            let _ = nix::unistd::close(fd);
        }
        supervise(engine, &internal, &request, said_tx, slave)
    })?;
    if let (Some(socket), Some(master)) = (&options.console_socket, &master) {
        console::send_master(socket, master)?;
    }
    drop(master);
    let mut lines = BufReader::new(File::from(said_rx)).lines();
    let line = lines
        .next()
        .transpose()?
        .ok_or_else(|| anyhow!("the exec'd process's supervisor ended before it started"))?;
    let (word, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
    match word {
        "started" => {
            let pid = nix::unistd::Pid::from_raw(rest.parse()?);
            if let Some(path) = &options.pid_file {
                write_pid_file(path, pid)?;
            }
            if options.detach {
                return Ok(0);
            }
            wait_forwarding(child)
        }
        "failed" => {
            let message = rest.split_once(' ').map_or(rest, |(_, m)| m);
            bail!("{message}")
        }
        _ => bail!("unexpected word from the exec supervisor: {line:?}"),
    }
}
// ANCHOR_END: exec

/// The supervisor of an exec'd process: chapter 2's `exec`, in two halves.
fn supervise(
    engine: &RuncEngine,
    internal: &str,
    request: &ExecRequest,
    said: OwnedFd,
    terminal: Option<OwnedFd>,
) -> i32 {
    let mut said = File::from(said);
    if let Some(terminal) = &terminal {
        for dup in [
            nix::unistd::dup2_stdin,
            nix::unistd::dup2_stdout,
            nix::unistd::dup2_stderr,
        ] {
            let _ = dup(terminal.as_fd());
        }
    }
    drop(terminal);
    match ch02_namespaces::exec::start(engine, internal, request) {
        Ok(running) => {
            let _ = writeln!(said, "started {}", std::process::id());
            drop(said);
            if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
                let _ = nix::unistd::dup2_stdin(&null);
                let _ = nix::unistd::dup2_stdout(&null);
                let _ = nix::unistd::dup2_stderr(&null);
            }
            running.wait().unwrap_or(125)
        }
        Err(error) => {
            let error = anyhow::Error::from(error);
            let code = ch01_process::shell::exit_code(&error);
            let _ = writeln!(
                said,
                "failed {code} {}",
                ch01_process::exit::report(error.as_ref())
            );
            code
        }
    }
}
