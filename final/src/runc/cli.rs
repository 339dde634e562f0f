//! runc's command line: the global flags, the commands, and what each
//! one calls.

use super::exec::{ExecOptions, exec};
use super::info;
use super::lifecycle::{self, CreateOptions};
use super::log::LogConfig;
use super::step::RuncEngine;
use anyhow::bail;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// skiff-runc: an OCI runtime with runc's command line, built on skiff's chapters
#[derive(Debug, Parser)]
#[command(name = "skiff-runc", version = super::VERSION_TEXT)]
pub struct Cli {
    /// Where the containers' state is kept
    #[arg(long, global = true, default_value = "/run/skiff-runc")]
    pub root: PathBuf,

    /// Write errors (and, with --debug, debug lines) to this file
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,

    /// The log's format
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log debug lines too
    #[arg(long, global = true)]
    pub debug: bool,

    /// Manage cgroups through systemd (not supported: skiff-runc writes cgroupfs itself)
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,

    /// Narrate each step asked of the kernel, on stderr
    #[arg(long, global = true)]
    pub explain: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The flags of `create` and `run`.
#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// The bundle: the directory holding config.json
    #[arg(long, short = 'b', default_value = ".")]
    pub bundle: PathBuf,
    /// Write the pid of the container's supervisor here
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Send the terminal's master to this unix socket
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Accepted for runc's callers; skiff-runc always uses pivot_root
    #[arg(long)]
    pub no_pivot: bool,
    /// Keep the caller's session keyring instead of a new one
    #[arg(long)]
    pub no_new_keyring: bool,
    /// The container's id
    pub id: String,
}

impl CreateArgs {
    fn options(&self) -> CreateOptions {
        CreateOptions {
            bundle: self.bundle.clone(),
            pid_file: self.pid_file.clone(),
            console_socket: self.console_socket.clone(),
            foreground: false,
            new_keyring: !self.no_new_keyring,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container: set up, waiting for start
    Create(CreateArgs),
    /// Run the program of a created container
    Start { id: String },
    /// Print a container's state (OCI state JSON)
    State { id: String },
    /// Send a signal to a container's process (default SIGTERM)
    Kill {
        /// Send it to every process of the container
        #[arg(long, short = 'a')]
        all: bool,
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a stopped container (--force: a running one too)
    Delete {
        #[arg(long, short = 'f')]
        force: bool,
        id: String,
    },
    /// Create and start a container; wait for it unless --detach
    Run {
        #[command(flatten)]
        create: CreateArgs,
        #[arg(long, short = 'd')]
        detach: bool,
    },
    /// Run another process in a container
    Exec(Box<ExecArgs>),
    /// List the processes of a container
    Ps {
        #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
        format: Format,
        id: String,
    },
    /// List the containers
    List {
        #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
        format: Format,
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// Freeze every process of a container
    Pause { id: String },
    /// Thaw a paused container
    Resume { id: String },
    /// Print what this runtime implements (OCI features JSON)
    Features,
    /// Write a starting config.json in the bundle
    Spec {
        #[arg(long, short = 'b', default_value = ".")]
        bundle: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The process, as config.json's "process" (JSON)
    #[arg(long, short = 'p')]
    pub process: Option<PathBuf>,
    #[arg(long, short = 't')]
    pub tty: bool,
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Return once the process runs
    #[arg(long, short = 'd')]
    pub detach: bool,
    #[arg(long)]
    pub cwd: Option<String>,
    #[arg(long, short = 'e')]
    pub env: Vec<String>,
    /// UID[:GID]
    #[arg(long, short = 'u')]
    pub user: Option<String>,
    #[arg(long = "additional-gids", short = 'g')]
    pub additional_gids: Vec<u32>,
    pub id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

impl Cli {
    /// The log's configuration.
    pub fn log(&self) -> LogConfig {
        LogConfig {
            file: self.log.clone(),
            json: self.log_format == LogFormat::Json,
            debug: self.debug,
        }
    }

    /// Whether the command enters a container, and so must first run from
    /// a sealed copy of the binary (chapter 1's `sealed_exe`).
    pub fn enters_container(&self) -> bool {
        matches!(
            self.command,
            Command::Create(_) | Command::Run { .. } | Command::Exec(_)
        )
    }
}

// ANCHOR: execute
/// Carries out the command; returns the exit code.
pub fn execute(cli: Cli) -> anyhow::Result<i32> {
    if cli.systemd_cgroup {
        bail!(
            "--systemd-cgroup is not supported: skiff-runc manages cgroups through cgroupfs (chapter 3); give linux.cgroupsPath as /path instead"
        );
    }
    match &cli.command {
        Command::Features => {
            println!("{}", info::features()?);
            return Ok(0);
        }
        Command::Spec { bundle } => {
            info::spec(bundle)?;
            return Ok(0);
        }
        _ => {}
    }
    ch02_namespaces::require_root()?;
    let engine = RuncEngine::open(&cli.root)?;
    match cli.command {
        Command::Create(args) => {
            if args.no_pivot {
                super::log::debug("--no-pivot: skiff-runc always uses pivot_root");
            }
            lifecycle::create(&engine, &args.id, &args.options())?;
        }
        Command::Start { id } => lifecycle::start(&engine, &id)?,
        Command::State { id } => println!("{}", info::state(&engine, &id)?),
        Command::Kill { all, id, signal } => {
            lifecycle::kill_container(&engine, &id, lifecycle::parse_signal(&signal)?, all)?
        }
        Command::Delete { force, id } => lifecycle::delete(&engine, &id, force)?,
        Command::Run { create, detach } => {
            return lifecycle::run(&engine, &create.id, &create.options(), detach);
        }
        Command::Exec(args) => {
            let options = ExecOptions {
                process: args.process,
                args: args.args,
                cwd: args.cwd,
                env: args.env,
                user: args.user,
                additional_gids: args.additional_gids,
                tty: args.tty,
                console_socket: args.console_socket,
                pid_file: args.pid_file,
                detach: args.detach,
            };
            return exec(&engine, &args.id, &options);
        }
        Command::Ps { format, id } => print!("{}", info::ps(&engine, &id, format == Format::Json)?),
        Command::List { format, quiet } => {
            print!("{}", info::list(&engine, format == Format::Json, quiet)?)
        }
        Command::Pause { id } => info::freeze(&engine, &id, true)?,
        Command::Resume { id } => info::freeze(&engine, &id, false)?,
        Command::Features | Command::Spec { .. } => unreachable!("handled above"),
    }
    Ok(0)
}
// ANCHOR_END: execute
