//! The command-line options of `ch01-process run`, kept by every later chapter.
//!
//! Each chapter's binary keeps the flags of the chapters below and adds its
//! own: chapter 2 flattens [`ProcessArgs`] into its own `run` options, and so on.

use crate::shell::Explain;
use crate::spawn::ProcessSpec;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// The flags that set a process's environment, directory and user (`run`
/// has them, and so has `exec` from chapter 2 on).
#[derive(Debug, Clone, Default, Args)]
pub struct ProcessFlags {
    /// Set an environment variable (KEY=VALUE), or pass KEY on from ours
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// Working directory for the command
    #[arg(short = 'w', long = "workdir", value_name = "DIR")]
    pub workdir: Option<PathBuf>,

    /// Run as this user: UID[:GID] or NAME[:GROUP]
    #[arg(short = 'u', long = "user", value_name = "USER")]
    pub user: Option<String>,
}

/// Options that shape the process: its environment, directory and stopping.
#[derive(Debug, Clone, Default, Args)]
pub struct ProcessArgs {
    #[command(flatten)]
    pub flags: ProcessFlags,

    /// On SIGTERM or SIGINT, seconds to wait after forwarding it before SIGKILL
    #[arg(long, value_name = "SECONDS")]
    pub stop_timeout: Option<u64>,
}

/// The command to run, the last thing on the command line.
#[derive(Debug, Clone, Default, Args)]
pub struct CommandArgs {
    /// The command to run, and its arguments
    #[arg(required = true, trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

impl ProcessArgs {
    /// The stop timeout as a duration.
    pub fn stop_timeout(&self) -> Option<Duration> {
        self.stop_timeout.map(Duration::from_secs)
    }

    /// Builds the spec of `command` over `defaults`: their environment,
    /// then each `-e`; their directory and user, unless `-w` or `-u` give
    /// one. (Later chapters' defaults: the container's base environment,
    /// then an image's `Env`, `WorkingDir` and `User`.)
    pub fn to_spec(&self, command: &[String], defaults: ProcessSpec) -> ProcessSpec {
        self.flags.to_spec(command, defaults)
    }
}

impl ProcessFlags {
    /// The process `command` over `defaults`: see [`ProcessArgs::to_spec`].
    pub fn to_spec(&self, command: &[String], defaults: ProcessSpec) -> ProcessSpec {
        let mut env = defaults.env;
        for entry in &self.env {
            apply_env_flag(&mut env, entry);
        }
        ProcessSpec {
            argv: command.to_vec(),
            env,
            cwd: self.workdir.clone().or(defaults.cwd),
            user: self.user.clone().or(defaults.user),
            terminal: defaults.terminal,
            additional_gids: defaults.additional_gids,
        }
    }
}

/// Applies one `-e` flag to `env`: `KEY=VALUE` sets KEY; a bare `KEY` copies
/// KEY from our own environment, or drops it when we have none (as docker).
/// Only flags typed by the user mean "copy mine": an image's `Env` is set
/// with [`set_env`], which never looks at our environment.
pub fn apply_env_flag(env: &mut Vec<String>, flag: &str) {
    match flag.split_once('=') {
        Some(_) => set_env(env, flag),
        None => {
            env.retain(|kv| kv.split_once('=').map(|(k, _)| k) != Some(flag));
            if let Ok(value) = std::env::var(flag) {
                env.push(format!("{flag}={value}"));
            }
        }
    }
}

/// Sets `KEY=VALUE` in `env`, replacing an earlier value of KEY. An entry
/// without `=` is ignored: it names nothing to set.
pub fn set_env(env: &mut Vec<String>, entry: &str) {
    let Some((key, _)) = entry.split_once('=') else {
        return;
    };
    env.retain(|kv| kv.split_once('=').map(|(k, _)| k) != Some(key));
    env.push(entry.to_string());
}

/// Our own environment as `KEY=VALUE` strings.
pub fn inherited_env() -> Vec<String> {
    std::env::vars_os()
        .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
        .collect()
}

// The binary's whole command line: `--explain` and one command. `main.rs`
// parses its arguments with it, and the book's checker (`tests/`) parses
// every command line the book shows with it, so that a page cannot show a
// flag the binary does not have. (The doc comment below is clap's `--help`
// text.)
/// Chapter 1 of skiff: fork, exec, wait, signals, and the duties of PID 1
#[derive(Debug, clap::Parser)]
#[command(name = "ch01-process", version)]
pub struct Cli {
    #[command(flatten)]
    pub explain: Explain,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run COMMAND as a child: relay its stdio, signals and exit status
    Run {
        #[command(flatten)]
        process: ProcessArgs,

        #[command(flatten)]
        command: CommandArgs,
    },
}
