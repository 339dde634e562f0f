//! The command line of `ch03-cgroups`, kept by later chapters: the limit
//! flags of `run`, and the verbs `stats`, `pause` and `unpause`.

use crate::cgroup::{Cgroup, CgroupError};
use crate::container::CgroupEngine;
use crate::limits::Limits;
use crate::size::{SizeError, parse_cpus, parse_memory_swap, parse_size};
use crate::spec::Spec;
use crate::stats::{Sampled, sample, table};
use ch01_process::ProcessSpec;
use ch01_process::cli::CommandArgs;
use ch02_namespaces::cli::Globals;
use ch02_namespaces::cli::{
    ContainerFlagError, ContainerFlags, VerbError, Verbs as ContainerVerbs,
};
use ch02_namespaces::records::Status;
use ch02_namespaces::{Engine, RunError};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// Options that limit a container.
#[derive(Debug, Clone, Default, Args)]
pub struct CgroupArgs {
    /// Memory limit (e.g. 64m, 1g)
    #[arg(short = 'm', long, value_name = "SIZE")]
    pub memory: Option<String>,

    /// Memory plus swap limit; -1 for unlimited swap (default: no swap beyond --memory)
    #[arg(long = "memory-swap", value_name = "SIZE", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,

    /// Number of CPUs' worth of time (e.g. 0.5)
    #[arg(long, value_name = "N")]
    pub cpus: Option<String>,

    /// Relative CPU weight (docker's default is 1024)
    #[arg(short = 'c', long = "cpu-shares", value_name = "N")]
    pub cpu_shares: Option<u64>,

    /// CPUs the container may run on (e.g. 0, 0-1, 0,2)
    #[arg(long = "cpuset-cpus", value_name = "LIST")]
    pub cpuset_cpus: Option<String>,

    /// Maximum number of tasks (processes and threads); -1 for unlimited
    #[arg(long = "pids-limit", value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
}

/// The smallest memory limit accepted, as docker's: below it the runtime
/// itself cannot start the container.
pub const MINIMUM_MEMORY: u64 = 6 * 1024 * 1024;

/// A limit flag that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LimitFlagError {
    #[error("invalid {flag}: {reason}")]
    Unreadable {
        flag: &'static str,
        reason: SizeError,
    },
    #[error("--memory {0} is below the minimum of 6m: a container needs some memory to start")]
    MemoryTooSmall(String),
}

// ANCHOR: limits
impl CgroupArgs {
    /// The limits these flags describe, with docker's meanings.
    ///
    /// With `--memory` and no `--memory-swap`, the container gets no swap:
    /// memory+swap equals memory, so a hog is stopped at the limit instead
    /// of paging the machine to a crawl.
    pub fn to_limits(&self) -> Result<Limits, LimitFlagError> {
        let flag = |flag| move |reason| LimitFlagError::Unreadable { flag, reason };
        let memory = self
            .memory
            .as_deref()
            .map(parse_size)
            .transpose()
            .map_err(flag("--memory"))?;
        if memory.is_some_and(|bytes| bytes < MINIMUM_MEMORY) {
            return Err(LimitFlagError::MemoryTooSmall(
                self.memory.clone().unwrap_or_default(),
            ));
        }
        let mut memory_swap = self
            .memory_swap
            .as_deref()
            .map(parse_memory_swap)
            .transpose()
            .map_err(flag("--memory-swap"))?;
        if memory_swap.is_none() {
            memory_swap = memory.map(|m| m as i64);
        }
        Ok(Limits {
            memory,
            memory_swap,
            cpus: self
                .cpus
                .as_deref()
                .map(parse_cpus)
                .transpose()
                .map_err(flag("--cpus"))?,
            cpu_shares: self.cpu_shares,
            cpuset_cpus: self.cpuset_cpus.clone(),
            pids_limit: self.pids_limit,
        })
    }
}
// ANCHOR_END: limits

/// The flags of `run` from chapters 1 to 3, which every later chapter's
/// `run` keeps.
#[derive(Debug, Clone, Args)]
pub struct LimitedFlags {
    #[command(flatten)]
    pub below: ContainerFlags,

    #[command(flatten)]
    pub limits: CgroupArgs,
}

/// Why a flag of `run` could not become a spec.
#[derive(Debug, thiserror::Error)]
pub enum SpecFlagError {
    #[error("{0}")]
    Container(#[from] ContainerFlagError),
    #[error("{0}")]
    Limits(#[from] LimitFlagError),
}

impl LimitedFlags {
    /// The spec of `command` on `rootfs`, over the process `defaults` (see
    /// chapter 2's `ContainerArgs::to_spec`).
    pub fn to_spec(
        &self,
        rootfs: PathBuf,
        command: &[String],
        defaults: &ProcessSpec,
    ) -> Result<Spec, SpecFlagError> {
        Ok(Spec {
            container: self.below.to_spec(rootfs, command, defaults)?,
            limits: self.limits.to_limits()?,
            cgroup: Default::default(),
        })
    }
}

/// `ch03-cgroups run`: chapter 2's flags, and limits.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The directory that becomes the container's root filesystem
    #[arg(long, value_name = "DIR", required = true)]
    pub rootfs: PathBuf,

    #[command(flatten)]
    pub flags: LimitedFlags,

    #[command(flatten)]
    pub command: CommandArgs,
}

impl RunArgs {
    pub fn to_spec(&self) -> Result<Spec, SpecFlagError> {
        self.flags.to_spec(
            self.rootfs.clone(),
            &self.command.command,
            &ProcessSpec::default(),
        )
    }
}

/// The verbs of chapter 2, and those on a container's cgroup.
#[derive(Debug, Clone, Subcommand)]
pub enum Verbs {
    #[command(flatten)]
    Container(ContainerVerbs),
    /// Show the resource usage of running containers (all when none is named)
    Stats {
        /// Print one table and exit, instead of refreshing every second
        #[arg(long)]
        no_stream: bool,
        #[arg(value_name = "CONTAINER")]
        containers: Vec<String>,
    },
    /// Freeze every process of containers
    Pause {
        #[arg(required = true, value_name = "CONTAINER")]
        containers: Vec<String>,
    },
    /// Let paused containers run again
    Unpause {
        #[arg(required = true, value_name = "CONTAINER")]
        containers: Vec<String>,
    },
}

/// Why a verb of chapter 3 failed.
#[derive(Debug, thiserror::Error)]
pub enum CgroupVerbError {
    #[error("{0}")]
    Verb(#[from] VerbError),
    #[error("{0}")]
    Run(#[from] RunError),
    #[error("{0}")]
    Cgroup(#[from] CgroupError),
    #[error("writing to the terminal: {0}")]
    Output(#[from] std::io::Error),
}

impl Verbs {
    /// Whether the verb enters a running container (chapter 2's `exec`).
    pub fn enters_container(&self) -> bool {
        matches!(self, Verbs::Container(verb) if verb.enters_container())
    }

    /// Carries out the verb with a chapter 3 engine (or a later one that
    /// has cgroups); returns the exit code.
    pub fn execute<E: Engine>(
        self,
        engine: &E,
        cgroups: &CgroupEngine,
    ) -> Result<i32, CgroupVerbError> {
        match self {
            Verbs::Container(verb) => Ok(verb.execute(engine)?),
            Verbs::Stats {
                no_stream,
                containers,
            } => stats(engine, cgroups, no_stream, &containers),
            Verbs::Pause { containers } => each(engine, cgroups, &containers, true),
            Verbs::Unpause { containers } => each(engine, cgroups, &containers, false),
        }
    }
}

/// `pause` (`freeze` true) or `unpause` the container `wanted`: its cgroup
/// frozen or thawed, and the record saying so for `ps`.
pub fn set_paused<E: Engine>(
    engine: &E,
    cgroups: &CgroupEngine,
    wanted: &str,
    freeze: bool,
) -> Result<(), CgroupVerbError> {
    let (id, cgroup) = running_cgroup(engine, cgroups, wanted)?;
    if freeze {
        cgroup.freeze()?;
    } else {
        cgroup.thaw()?;
    }
    engine
        .containers()
        .update::<E::Spec>(&id, |record| record.state.paused = freeze)
        .map_err(RunError::from)?;
    Ok(())
}

/// The cgroup of the running container `wanted`.
pub fn cgroup_of<E: Engine>(
    engine: &E,
    cgroups: &CgroupEngine,
    wanted: &str,
) -> Result<Cgroup, CgroupVerbError> {
    running_cgroup(engine, cgroups, wanted).map(|(_, cgroup)| cgroup)
}

// ANCHOR: pause
/// `pause` (`freeze` true) or `unpause` each container, by name.
fn each<E: Engine>(
    engine: &E,
    cgroups: &CgroupEngine,
    containers: &[String],
    freeze: bool,
) -> Result<i32, CgroupVerbError> {
    for wanted in containers {
        set_paused(engine, cgroups, wanted, freeze)?;
        println!("{wanted}");
    }
    Ok(0)
}
// ANCHOR_END: pause

/// The id and cgroup of the running container `wanted`.
fn running_cgroup<E: Engine>(
    engine: &E,
    cgroups: &CgroupEngine,
    wanted: &str,
) -> Result<(String, Cgroup), CgroupVerbError> {
    let record = engine
        .containers()
        .find::<E::Spec>(wanted)
        .map_err(RunError::from)?;
    let spec = ch02_namespaces::RunSpec::container(&record.spec);
    if !record.is_running() {
        return Err(RunError::NotRunning(spec.name.clone()).into());
    }
    let cgroup = Cgroup::open(cgroups.layout(), &spec.id)?;
    Ok((spec.id.clone(), cgroup))
}

/// `docker stats`: a table of the running containers' usage, refreshed
/// every second (or once, with `no_stream`).
fn stats<E: Engine>(
    engine: &E,
    cgroups: &CgroupEngine,
    no_stream: bool,
    wanted: &[String],
) -> Result<i32, CgroupVerbError> {
    let names: Vec<String> = if wanted.is_empty() {
        engine
            .containers()
            .list::<E::Spec>()
            .map_err(RunError::from)?
            .iter()
            .filter(|r| r.state.status == Status::Running)
            .map(|r| r.id().to_string())
            .collect()
    } else {
        wanted.to_vec()
    };
    let mut sampled = Vec::new();
    for name in &names {
        let (id, cgroup) = running_cgroup(engine, cgroups, name)?;
        let record = engine
            .containers()
            .find::<E::Spec>(&id)
            .map_err(RunError::from)?;
        sampled.push(Sampled {
            id: id[..12].to_string(),
            name: record.name().to_string(),
            cgroup,
        });
    }
    if no_stream {
        print!("{}", table(&sample(&sampled, Duration::from_millis(500))));
        return Ok(0);
    }
    loop {
        let rows = sample(&sampled, Duration::from_secs(1));
        // Clear the screen and go home, as `docker stats` redraws.
        print!("\x1b[2J\x1b[H{}", table(&rows));
        use std::io::Write;
        std::io::stdout().flush()?;
        if rows.is_empty() {
            return Ok(0);
        }
    }
}

// The binary's whole command line: the global flags and one command.
// `main.rs` parses its arguments with it, and the book's checker (`tests/`)
// parses every command line the book shows with it, so that a page cannot
// show a flag the binary does not have. (The doc comment below is clap's
// `--help` text.)
/// Chapter 3 of skiff: cgroups: memory, CPU, cpuset and pids limits; stats; OOM; pause
#[derive(Debug, clap::Parser)]
#[command(name = "ch03-cgroups", version)]
pub struct Cli {
    #[command(flatten)]
    pub globals: Globals,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run COMMAND in a new container, within limits
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
