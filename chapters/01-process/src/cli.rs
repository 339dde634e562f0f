//! The command-line options of `ch01-process run`, kept by every later chapter.
//!
//! Each chapter's binary keeps the flags of the chapters below and adds its
//! own: chapter 2 flattens [`ProcessArgs`] into its own `run` options, and so on.

use crate::spawn::ProcessSpec;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// Options that shape the process: its environment, directory and stopping.
#[derive(Debug, Clone, Default, Args)]
pub struct ProcessArgs {
    /// Set an environment variable (KEY=VALUE), or pass KEY on from ours
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// Working directory for the command
    #[arg(short = 'w', long = "workdir", value_name = "DIR")]
    pub workdir: Option<PathBuf>,

    /// Run as this user: UID[:GID] or NAME[:GROUP]
    #[arg(short = 'u', long = "user", value_name = "USER")]
    pub user: Option<String>,

    /// On SIGTERM or SIGINT, seconds to wait after forwarding it before SIGKILL
    #[arg(long, value_name = "SECONDS")]
    pub stop_timeout: Option<u64>,
}

impl ProcessArgs {
    /// The stop timeout as a duration.
    pub fn stop_timeout(&self) -> Option<Duration> {
        self.stop_timeout.map(Duration::from_secs)
    }

    /// Builds the spec of `command`, with `base` as the environment before
    /// the `-e` flags are applied.
    pub fn to_spec(&self, command: &[String], base: Vec<String>) -> ProcessSpec {
        let mut env = base;
        for entry in &self.env {
            apply_env_flag(&mut env, entry);
        }
        ProcessSpec {
            argv: command.to_vec(),
            env,
            cwd: self.workdir.clone(),
            user: self.user.clone(),
        }
    }
}

/// Applies one `-e` flag to `env`: `KEY=VALUE` sets KEY; a bare `KEY` copies
/// KEY from our own environment, or drops it when we have none (as docker).
pub fn apply_env_flag(env: &mut Vec<String>, flag: &str) {
    let (key, value) = match flag.split_once('=') {
        Some((key, value)) => (key.to_string(), Some(value.to_string())),
        None => (flag.to_string(), std::env::var(flag).ok()),
    };
    env.retain(|kv| kv.split_once('=').map(|(k, _)| k) != Some(key.as_str()));
    if let Some(value) = value {
        env.push(format!("{key}={value}"));
    }
}

/// Our own environment as `KEY=VALUE` strings.
pub fn inherited_env() -> Vec<String> {
    std::env::vars_os()
        .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
        .collect()
}
