//! Running the engines' CLIs (each command with a deadline, timed from
//! spawn to exit) and stopping the daemons the bench started, by their pids.

use super::interrupt;
use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// No command of the bench takes this long unless something hangs.
const COMMAND_DEADLINE: Duration = Duration::from_secs(120);

/// A CLI pointed at one daemon: `skiff` or `docker`, with the daemon's
/// socket in `SKIFF_HOST`/`DOCKER_HOST` and a docker config directory of
/// the bench's own (the docker CLI writes there, never in `~/.docker`).
#[derive(Debug, Clone)]
pub struct Cli {
    program: PathBuf,
    /// Arguments before every command's own (`compose` for `skiff compose`).
    prefix: Vec<String>,
    host: String,
    config: PathBuf,
}

impl Cli {
    pub fn new(program: &Path, socket: &Path, config: &Path) -> Cli {
        Cli {
            program: program.to_path_buf(),
            prefix: Vec::new(),
            host: format!("unix://{}", socket.display()),
            config: config.to_path_buf(),
        }
    }

    /// The same client with `args` before every command's own: a verb
    /// group (`skiff compose ...`).
    pub fn with_prefix(mut self, args: &[&str]) -> Cli {
        self.prefix = args.iter().map(|arg| arg.to_string()).collect();
        self
    }

    /// The daemon's address: `unix:///PATH`.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.program);
        command
            .args(&self.prefix)
            .args(args)
            .env("DOCKER_HOST", &self.host)
            .env("SKIFF_HOST", &self.host)
            .env("DOCKER_CONFIG", &self.config)
            .stdin(Stdio::null());
        command
    }

    /// Runs `args` to its end: its stdout, or an error with its stderr.
    /// Runs even after ctrl-C: the guards clean up with it.
    pub fn run(&self, args: &[&str]) -> Result<String> {
        self.execute(args).map(|(_, stdout)| stdout)
    }

    /// Runs `args` to its end and says how long it took, from spawn to
    /// exit; fails at once after ctrl-C.
    pub fn timed(&self, args: &[&str]) -> Result<(Duration, String)> {
        interrupt::check()?;
        self.execute(args)
    }

    fn execute(&self, args: &[&str]) -> Result<(Duration, String)> {
        let start = Instant::now();
        let output = output_with_deadline(self.command(args))
            .with_context(|| format!("run {}", self.program.display()))?;
        let elapsed = start.elapsed();
        if !output.status.success() {
            interrupt::check()?;
            bail!(
                "`{} {}` failed ({}): {}",
                self.program.display(),
                self.prefix
                    .iter()
                    .map(String::as_str)
                    .chain(args.iter().copied())
                    .collect::<Vec<_>>()
                    .join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok((
            elapsed,
            String::from_utf8_lossy(&output.stdout).into_owned(),
        ))
    }
}

/// Runs `command` with piped output, killing it with SIGKILL when it takes
/// longer than [`COMMAND_DEADLINE`] (`docker run` forwards SIGTERM to its
/// container instead of dying of it).
pub fn output_with_deadline(mut command: Command) -> std::io::Result<Output> {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let pid = Pid::from_raw(child.id() as i32);
    let (done, finished) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(COMMAND_DEADLINE) {
            let _ = kill(pid, Signal::SIGKILL);
        }
    });
    let output = child.wait_with_output();
    let _ = done.send(());
    let _ = watchdog.join();
    output
}

/// Whether the process the bench started is still running.
pub fn running(child: &mut Child) -> bool {
    matches!(child.try_wait(), Ok(None))
}

/// Stops a daemon the bench started: SIGTERM, `grace` to exit, then SIGKILL.
pub fn stop(child: &mut Child, grace: Duration) {
    if !running(child) {
        return;
    }
    let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !running(child) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits until `ready` holds, or fails with `what` (and the daemon's log)
/// when the daemon exits or the time is up.
pub fn wait_until(
    what: &str,
    daemon: &mut Child,
    log: &Path,
    timeout: Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        interrupt::check()?;
        if ready() {
            return Ok(());
        }
        if !running(daemon) {
            bail!("{what} exited at start: {}", log_tail(log));
        }
        if Instant::now() > deadline {
            bail!("{what} did not answer in {timeout:?}: {}", log_tail(log));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The last lines of a daemon's log, for error messages.
pub fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(12)..].join("\n");
    format!("(last lines of {})\n{tail}", log.display())
}
