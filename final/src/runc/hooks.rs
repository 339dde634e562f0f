//! Hooks: programs the runtime runs at set moments of a container's life.
//!
//! The runtime specification's rules, which this module and its callers
//! keep:
//!
//! - a hook is `path` (absolute), `args` (with `args[0]` as the program's
//!   name), `env` (its whole environment) and an optional `timeout` in
//!   seconds;
//! - it reads the container's state as JSON on its standard input;
//! - `prestart`, `createRuntime`, `createContainer` and `startContainer`
//!   hooks that fail (a non-zero exit, a timeout) fail the operation, and
//!   the container is stopped; `poststart` and `poststop` hooks that fail
//!   are warnings, and the lifecycle goes on;
//! - they run in order, each one after the one before has ended.

use super::config::Hook;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::FromRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Why a hook failed.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{path}: {source}")]
    Start {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} exited with {status}{output}")]
    Failed {
        path: String,
        status: std::process::ExitStatus,
        output: String,
    },
    #[error("{path} did not end within its timeout of {seconds} s, and was killed")]
    Timeout { path: String, seconds: u64 },
}

// ANCHOR: run
/// Runs `hook` with `state` on its standard input, to its end.
pub fn run(hook: &Hook, state: &str) -> Result<(), HookError> {
    let path = hook.path.display().to_string();
    ch01_process::explain!("hook {path} {:?}", hook.args);
    let mut command = Command::new(&hook.path);
    if let Some((name, rest)) = hook.args.split_first() {
        command.arg0(name).args(rest);
    }
    let start = |source| HookError::Start {
        path: path.clone(),
        source,
    };
    // The hook's output goes to a file in memory rather than a pipe: a
    // pipe that nobody reads while we wait would block a talkative hook.
    let mut output = memfd().map_err(start)?;
    command
        .env_clear()
        .envs(hook.env.iter().filter_map(|kv| kv.split_once('=')))
        .stdin(Stdio::piped())
        .stdout(output.try_clone().map_err(start)?)
        .stderr(output.try_clone().map_err(start)?);
    let mut child = command.spawn().map_err(start)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its input may close it: not an error.
        let _ = stdin.write_all(state.as_bytes());
    }
    let deadline = hook
        .timeout
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t));
    let status = loop {
        if let Some(status) = child.try_wait().map_err(start)? {
            break status;
        }
        if deadline.is_some_and(|at| Instant::now() >= at) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(HookError::Timeout {
                path,
                seconds: hook.timeout.unwrap_or_default(),
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    if status.success() {
        return Ok(());
    }
    let mut text = String::new();
    let _ = output.seek(SeekFrom::Start(0));
    let _ = output.take(4096).read_to_string(&mut text);
    let output = text.trim();
    Err(HookError::Failed {
        path,
        status,
        output: if output.is_empty() {
            String::new()
        } else {
            format!(": {output}")
        },
    })
}
// ANCHOR_END: run

/// An anonymous file in memory (`memfd_create`).
fn memfd() -> std::io::Result<File> {
    // SAFETY: memfd_create takes a NUL-terminated name and flags, and
    // returns a new descriptor or -1.
    let fd = unsafe { libc::memfd_create(c"skiff-runc-hook".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us this descriptor; nothing else owns it.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Runs `hooks` in order, stopping at the first that fails.
pub fn run_all(hooks: &[Hook], state: &str, what: &str) -> anyhow::Result<()> {
    for hook in hooks {
        run(hook, state).map_err(|e| anyhow::anyhow!("{what} hook {e}"))?;
    }
    Ok(())
}

/// Runs `hooks` in order; a failure is a warning on standard error (and
/// in the runtime's log), and the next hook runs anyway.
pub fn run_warning(hooks: &[Hook], state: &str, what: &str) {
    for hook in hooks {
        if let Err(error) = run(hook, state) {
            super::log::warn(&format!("{what} hook {error}"));
        }
    }
}
