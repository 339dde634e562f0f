//! The command line of `ch02-namespaces`, kept by every later chapter: the
//! global flags, the container flags of `run`, and the verbs that act on
//! containers by name. Flags become a [`Spec`] here, at the edge; nothing
//! below this module knows about flags.

use crate::caps::{CapSet, UnknownCapability};
use crate::exec::{ExecError, ExecRequest, exec};
use crate::namespaces::{Isolation, NetworkMode, PidMode};
use crate::records::new_id;
use crate::run::{Engine, RunError};
use crate::seccomp::SeccompMode;
use crate::spec::{Filesystem, Spec, base_env};
use crate::userns::DEFAULT_MAP;
use crate::verbs;
use ch01_process::ProcessSpec;
use ch01_process::cli::{CommandArgs, ProcessArgs, ProcessFlags, set_env};
use ch01_process::shell::Explain;
use clap::builder::{EnumValueParser, TypedValueParser};
use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// The flags every binary from chapter 2 on has.
#[derive(Debug, Clone, Args)]
pub struct Globals {
    #[command(flatten)]
    pub explain: Explain,

    /// Where containers (and, later, images and volumes) are kept
    #[arg(
        long,
        global = true,
        env = "SKIFF_ROOT",
        default_value = "/var/lib/skiff",
        value_name = "DIR"
    )]
    pub root: PathBuf,
}

/// Options that make a process a container.
#[derive(Debug, Clone, Args)]
pub struct ContainerArgs {
    /// The container's name (default: a random one)
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// The container's hostname (default: the first 12 digits of its id)
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,

    /// Add a capability to docker's default set (NET_ADMIN, SYS_TIME, ..., or ALL)
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,

    /// Drop a capability from docker's default set (or ALL)
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,

    /// Run in a user namespace: root inside is uid 100000 outside
    #[arg(long)]
    pub userns: bool,

    /// Share the host's PID namespace
    #[arg(long, value_name = "host", value_enum)]
    pub pid: Option<PidMode>,

    // Kept as text: chapter 6 widens the values this flag takes (bridge,
    // container:NAME, a network's name) and reads it itself.
    /// none: only loopback, in the container's own network namespace; host: the host's network
    #[arg(
        long,
        value_name = "MODE",
        default_value = "none",
        value_parser = EnumValueParser::<NetworkMode>::new().map(|mode| mode.name().to_string())
    )]
    pub network: String,

    /// Security options: no-new-privileges, seccomp=unconfined, seccomp=PROFILE.json
    #[arg(long = "security-opt", value_name = "OPT", value_parser = parse_security_opt)]
    pub security_opt: Vec<String>,

    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Mount the container's root read-only (volumes and tmpfs mounts stay
    /// writable)
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Run an init as PID 1 (chapter 1's supervisor) that forwards signals
    /// and reaps zombies
    #[arg(long)]
    pub init: bool,
}

/// The security options docker has that this engine knows: every value is
/// checked when the flags are read.
fn parse_security_opt(opt: &str) -> Result<String, String> {
    let known = matches!(
        opt,
        "no-new-privileges"
            | "no-new-privileges:true"
            | "no-new-privileges=true"
            | "no-new-privileges:false"
            | "no-new-privileges=false"
    ) || opt.starts_with("seccomp=")
        || opt.starts_with("seccomp:");
    if known {
        Ok(opt.to_string())
    } else {
        Err("use no-new-privileges, seccomp=unconfined or seccomp=PROFILE.json".into())
    }
}

/// Why the container flags could not become a spec.
#[derive(Debug, thiserror::Error)]
pub enum ContainerFlagError {
    #[error("{0}")]
    Capability(#[from] UnknownCapability),
    #[error("--security-opt: {0}")]
    Seccomp(#[from] crate::seccomp::SeccompError),
    #[error("unknown --network {0:?}: use none or host")]
    Network(String),
}

impl ContainerArgs {
    /// `no-new-privileges` (`:true`), unless a later option says `:false`.
    fn no_new_privileges(&self) -> bool {
        self.security_opt
            .iter()
            .filter_map(|opt| opt.strip_prefix("no-new-privileges"))
            .next_back()
            .is_some_and(|value| !value.ends_with("false"))
    }

    /// The seccomp mode; a profile's path made absolute, for the record.
    fn seccomp(&self) -> Result<SeccompMode, crate::seccomp::SeccompError> {
        Ok(match SeccompMode::from_security_opts(&self.security_opt)? {
            SeccompMode::Profile(path) => {
                SeccompMode::Profile(std::path::absolute(&path).unwrap_or(path))
            }
            mode => mode,
        })
    }

    /// The network namespace `--network` asks for.
    pub fn network_mode(&self) -> Result<NetworkMode, ContainerFlagError> {
        NetworkMode::from_str(&self.network, false)
            .map_err(|_| ContainerFlagError::Network(self.network.clone()))
    }

    // ANCHOR: to_spec
    /// The chapter 2 spec these flags describe, for `command` with the
    /// process flags `process`, over `defaults` (an image's environment,
    /// directory and user, in chapter 5; nothing before).
    pub fn to_spec(
        &self,
        rootfs: PathBuf,
        process: &ProcessArgs,
        command: &[String],
        defaults: &ProcessSpec,
    ) -> Result<Spec, ContainerFlagError> {
        let id = new_id();
        let network = self.network_mode()?;
        let hostname = match (&self.hostname, network) {
            (Some(name), _) => name.clone(),
            // Sharing the host's network, docker also shows the host's name.
            (None, NetworkMode::Host) => nix::unistd::gethostname()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_else(|_| id[..12].to_string()),
            (None, NetworkMode::None | NetworkMode::Joined) => id[..12].to_string(),
        };
        let mut env = base_env(&hostname);
        for entry in &defaults.env {
            set_env(&mut env, entry);
        }
        let defaults = ProcessSpec {
            env,
            ..defaults.clone()
        };
        Ok(Spec {
            name: self.name.clone().unwrap_or_default(),
            hostname,
            // An absolute path, for the record: the container may be
            // removed from another directory.
            rootfs: std::fs::canonicalize(&rootfs).unwrap_or(rootfs),
            process: process.to_spec(command, defaults),
            isolation: Isolation {
                network,
                pid: self.pid.unwrap_or_default(),
                userns: self.userns,
                inherit: Default::default(),
            },
            caps: CapSet::docker_default().with_changes(&self.cap_add, &self.cap_drop)?,
            cap_sets: None,
            no_new_privileges: self.no_new_privileges(),
            seccomp: self.seccomp()?,
            id_map: DEFAULT_MAP,
            stop_timeout: process.stop_timeout,
            auto_remove: self.rm,
            filesystem: Filesystem {
                read_only: self.read_only,
                ..Filesystem::default()
            },
            init: self.init,
            id,
        })
    }
    // ANCHOR_END: to_spec
}

/// The flags of `run` from chapters 1 and 2, which every later chapter's
/// `run` keeps (each with its own way of giving the root filesystem).
#[derive(Debug, Clone, Args)]
pub struct ContainerFlags {
    #[command(flatten)]
    pub container: ContainerArgs,

    #[command(flatten)]
    pub process: ProcessArgs,
}

impl ContainerFlags {
    /// The spec of `command` on `rootfs`, over the process `defaults`.
    pub fn to_spec(
        &self,
        rootfs: PathBuf,
        command: &[String],
        defaults: &ProcessSpec,
    ) -> Result<Spec, ContainerFlagError> {
        self.container
            .to_spec(rootfs, &self.process, command, defaults)
    }
}

/// `ch02-namespaces run`: the container flags, a root filesystem, a command.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The directory that becomes the container's root filesystem
    #[arg(long, value_name = "DIR", required = true)]
    pub rootfs: PathBuf,

    #[command(flatten)]
    pub flags: ContainerFlags,

    #[command(flatten)]
    pub command: CommandArgs,
}

impl RunArgs {
    pub fn to_spec(&self) -> Result<Spec, ContainerFlagError> {
        self.flags.to_spec(
            self.rootfs.clone(),
            &self.command.command,
            &ProcessSpec::default(),
        )
    }
}

/// `exec`'s flags: what to change of the container's configured process
/// (`-e`, `-w` and `-u`, as for `run`), the container, the command.
#[derive(Debug, Clone, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub process: ProcessFlags,

    /// The container: its name, id, or a unique prefix of its id
    pub container: String,

    #[command(flatten)]
    pub command: CommandArgs,
}

/// The verbs on containers, kept by every later chapter.
#[derive(Debug, Clone, Subcommand)]
pub enum Verbs {
    /// Run a command in a running container
    Exec(ExecArgs),
    /// List containers
    Ps {
        /// Show every container (only running ones by default)
        #[arg(short, long)]
        all: bool,
        /// Show only ids
        #[arg(short, long)]
        quiet: bool,
    },
    /// Stop running containers: SIGTERM, then SIGKILL after a grace period
    Stop {
        /// Seconds to wait before SIGKILL
        #[arg(short = 't', long = "time", default_value_t = 10)]
        time: u64,
        #[arg(required = true, value_name = "CONTAINER")]
        containers: Vec<String>,
    },
    /// Send a signal to running containers
    Kill {
        /// The signal (KILL, TERM, HUP, ... or a number)
        #[arg(short, long, default_value = "KILL")]
        signal: String,
        #[arg(required = true, value_name = "CONTAINER")]
        containers: Vec<String>,
    },
    /// Remove containers
    Rm {
        /// Kill a running container first
        #[arg(short, long)]
        force: bool,
        #[arg(required = true, value_name = "CONTAINER")]
        containers: Vec<String>,
    },
    /// Remove every stopped container
    Prune,
    /// Show containers' records (spec and state) as JSON
    Inspect {
        #[arg(required = true, value_name = "CONTAINER")]
        containers: Vec<String>,
    },
}

/// Why a verb failed.
#[derive(Debug, thiserror::Error)]
pub enum VerbError {
    #[error("{0}")]
    Run(#[from] RunError),
    #[error("{0}")]
    Exec(#[from] ExecError),
    #[error("unknown signal {0:?}: use a name such as TERM or KILL, or a number")]
    Signal(String),
}

impl Verbs {
    /// Whether the verb enters a running container (`exec`): such a command
    /// first re-executes the engine from a sealed copy of itself.
    pub fn enters_container(&self) -> bool {
        matches!(self, Verbs::Exec(_))
    }

    /// Carries out the verb with `engine`; returns the exit code.
    pub fn execute<E: Engine>(self, engine: &E) -> Result<i32, VerbError> {
        match self {
            Verbs::Exec(args) => {
                let request = ExecRequest {
                    argv: args.command.command,
                    env: args.process.env,
                    cwd: args.process.workdir,
                    user: args.process.user,
                    terminal: false,
                    additional_gids: Vec::new(),
                    console: None,
                };
                Ok(exec(engine, &args.container, &request)?)
            }
            Verbs::Ps { all, quiet } => {
                let records = verbs::ps(engine, all)?;
                if quiet {
                    for record in &records {
                        println!("{}", record.spec.short_id());
                    }
                } else {
                    print!("{}", verbs::ps_table(&records));
                }
                Ok(0)
            }
            Verbs::Stop { time, containers } => each(&containers, |name| {
                verbs::stop(engine, name, Duration::from_secs(time))
            }),
            Verbs::Kill { signal, containers } => {
                let signal = parse_signal(&signal)?;
                each(&containers, |name| {
                    verbs::kill_container(engine, name, signal)
                })
            }
            Verbs::Rm { force, containers } => {
                each(&containers, |name| verbs::rm(engine, name, force))
            }
            Verbs::Prune => {
                let removed = verbs::prune(engine)?;
                println!("Deleted Containers:");
                for id in removed {
                    println!("{id}");
                }
                Ok(0)
            }
            Verbs::Inspect { containers } => {
                println!("{}", verbs::inspect(engine, &containers)?);
                Ok(0)
            }
        }
    }
}

/// Runs `verb` on each container, printing each name as docker does; the
/// first failure stops and is returned.
fn each(
    containers: &[String],
    mut verb: impl FnMut(&str) -> Result<(), RunError>,
) -> Result<i32, VerbError> {
    for name in containers {
        verb(name)?;
        println!("{name}");
    }
    Ok(0)
}

/// `KILL`, `SIGKILL`, `kill` or `9`.
pub fn parse_signal(text: &str) -> Result<nix::sys::signal::Signal, VerbError> {
    use std::str::FromStr;
    let unknown = || VerbError::Signal(text.to_string());
    if let Ok(number) = text.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(number).map_err(|_| unknown());
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    nix::sys::signal::Signal::from_str(&name).map_err(|_| unknown())
}

// The binary's whole command line: the global flags and one command.
// `main.rs` parses its arguments with it, and the book's checker (`tests/`)
// parses every command line the book shows with it, so that a page cannot
// show a flag the binary does not have. (The doc comment below is clap's
// `--help` text.)
/// Chapter 2 of skiff: namespaces, pivot_root, capabilities, exec via setns
#[derive(Debug, clap::Parser)]
#[command(name = "ch02-namespaces", version)]
pub struct Cli {
    #[command(flatten)]
    pub globals: Globals,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run COMMAND in a new container
    Run(Box<RunArgs>),
    #[command(flatten)]
    Verbs(Verbs),
}

impl Command {
    /// Whether the command enters a container: it then runs from a sealed
    /// copy of this binary (see chapter 1's `sealed_exe`).
    pub fn enters_container(&self) -> bool {
        match self {
            Command::Run(_) => true,
            Command::Verbs(verbs) => verbs.enters_container(),
        }
    }
}
