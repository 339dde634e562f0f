//! The command line of `ch04-overlayfs`, kept by later chapters: the
//! storage flags of `run`, and the verbs `diff`, `commit` and `volume`.

use crate::container::OverlayEngine;
use crate::spec::{Spec, Storage};
use crate::verbs;
use crate::volumes::{Mount, VolumeError, parse_tmpfs, parse_volume};
use ch01_process::ProcessSpec;
use ch01_process::cli::CommandArgs;
use ch02_namespaces::RunError;
use ch02_namespaces::cli::Globals;
use ch03_cgroups::cli::{CgroupVerbError, LimitedFlags, SpecFlagError, Verbs as CgroupVerbs};
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// The storage flags of `run`: volumes and tmpfs.
#[derive(Debug, Clone, Default, Args)]
pub struct StorageArgs {
    /// Mount a volume: HOST:CONTAINER[:ro] (a bind mount), NAME:CONTAINER[:ro] (a named volume) or CONTAINER alone (an anonymous volume)
    #[arg(short = 'v', long = "volume", value_name = "SPEC")]
    pub volumes: Vec<String>,

    /// Mount an empty tmpfs at PATH
    #[arg(long, value_name = "PATH")]
    pub tmpfs: Vec<String>,
}

/// Why a flag of `run` could not become a spec.
#[derive(Debug, thiserror::Error)]
pub enum StorageFlagError {
    #[error("{0}")]
    Spec(#[from] SpecFlagError),
    #[error("{flag} {spec}: {reason}")]
    Volume {
        flag: &'static str,
        spec: String,
        reason: VolumeError,
    },
    #[error("no layers given: use --rootfs DIR or --layer DIR (at least one)")]
    NoLayers,
}

impl StorageArgs {
    /// The mounts these flags describe.
    pub fn mounts(&self) -> Result<Vec<Mount>, StorageFlagError> {
        let flag = |flag, spec: &str| {
            let spec = spec.to_string();
            move |reason| StorageFlagError::Volume { flag, spec, reason }
        };
        let mut mounts = Vec::new();
        for spec in &self.volumes {
            mounts.push(parse_volume(spec).map_err(flag("-v", spec))?);
        }
        for spec in &self.tmpfs {
            mounts.push(parse_tmpfs(spec).map_err(flag("--tmpfs", spec))?);
        }
        Ok(mounts)
    }
}

/// The flags of `run` from chapters 1 to 4, which later chapters keep.
#[derive(Debug, Clone, Args)]
pub struct StorageFlags {
    #[command(flatten)]
    pub below: LimitedFlags,

    #[command(flatten)]
    pub storage: StorageArgs,
}

impl StorageFlags {
    // ANCHOR: to_spec
    /// The spec these flags describe for `command` on `layers` (bottom
    /// first), over the process `defaults`. The root filesystem is the
    /// container's `merged/` directory, where `engine` mounts the layers.
    pub fn to_spec(
        &self,
        engine: &OverlayEngine,
        layers: Vec<PathBuf>,
        command: &[String],
        defaults: &ProcessSpec,
    ) -> Result<Spec, StorageFlagError> {
        if layers.is_empty() {
            return Err(StorageFlagError::NoLayers);
        }
        let mounts = self.storage.mounts()?;
        let mut limited = self.below.to_spec(PathBuf::new(), command, defaults)?;
        limited.container.rootfs = engine.rootfs_of(&limited.container.id);
        Ok(Spec {
            limited,
            storage: Storage {
                layers,
                mounts,
                keep_anonymous: false,
            },
        })
    }
    // ANCHOR_END: to_spec
}

/// `ch04-overlayfs run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The bottom layer (a directory), if any
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,

    /// A read-only layer; repeat it, bottom layer first (--rootfs counts as the bottom one)
    #[arg(long = "layer", value_name = "DIR")]
    pub layers: Vec<PathBuf>,

    #[command(flatten)]
    pub flags: StorageFlags,

    #[command(flatten)]
    pub command: CommandArgs,
}

impl RunArgs {
    pub fn to_spec(&self, engine: &OverlayEngine) -> Result<Spec, StorageFlagError> {
        // The layers, bottom first: --rootfs, then each --layer.
        let layers = self.rootfs.iter().chain(&self.layers).cloned().collect();
        self.flags.to_spec(
            engine,
            layers,
            &self.command.command,
            &ProcessSpec::default(),
        )
    }
}

/// The verbs of chapters 2 and 3, and those on a container's layers and on volumes.
#[derive(Debug, Clone, Subcommand)]
pub enum Verbs {
    #[command(flatten)]
    Cgroup(CgroupVerbs),
    /// Show what a container changed: A added, C changed, D deleted
    Diff {
        #[arg(value_name = "CONTAINER")]
        container: String,
    },
    /// Write a container's writable layer as an OCI layer tarball
    Commit {
        #[arg(value_name = "CONTAINER")]
        container: String,
        output: PathBuf,
    },
    /// Manage named volumes
    #[command(subcommand)]
    Volume(VolumeCommand),
}

#[derive(Debug, Clone, Subcommand)]
pub enum VolumeCommand {
    /// Create a named volume
    Create { name: String },
    /// List named volumes
    Ls,
    /// Remove named volumes
    Rm {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove every volume no container uses
    Prune,
}

/// Why a verb of chapter 4 failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageVerbError {
    #[error("{0}")]
    Cgroup(#[from] CgroupVerbError),
    #[error("{0}")]
    Run(#[from] RunError),
    #[error("{0}")]
    Verb(#[from] verbs::VerbError),
    #[error("{0}")]
    Volume(#[from] VolumeError),
}

impl Verbs {
    /// Whether the verb enters a running container (chapter 2's `exec`).
    pub fn enters_container(&self) -> bool {
        matches!(self, Verbs::Cgroup(verb) if verb.enters_container())
    }

    /// Carries out the verb; returns the exit code.
    pub fn execute<E: ch02_namespaces::Engine>(
        self,
        engine: &E,
        overlay: &OverlayEngine,
    ) -> Result<i32, StorageVerbError> {
        match self {
            Verbs::Cgroup(verb) => Ok(verb.execute(engine, overlay.cgroups())?),
            Verbs::Diff { container } => {
                print!("{}", verbs::diff(overlay, &container)?);
                Ok(0)
            }
            Verbs::Commit { container, output } => {
                let summary = verbs::commit(overlay, &container, &output)?;
                println!("{}: {summary}", output.display());
                Ok(0)
            }
            Verbs::Volume(command) => volume(overlay, command),
        }
    }
}

fn volume(engine: &OverlayEngine, command: VolumeCommand) -> Result<i32, StorageVerbError> {
    let store = engine.volumes();
    match command {
        VolumeCommand::Create { name } => {
            store.create(&name)?;
            println!("{name}");
        }
        VolumeCommand::Ls => {
            println!("VOLUME NAME");
            for name in store.list()? {
                println!("{name}");
            }
        }
        VolumeCommand::Rm { names } => {
            let in_use = engine.volumes_in_use()?;
            for name in names {
                store.remove(&name, &in_use)?;
                println!("{name}");
            }
        }
        VolumeCommand::Prune => {
            let removed = store.prune(&engine.volumes_in_use()?)?;
            println!("Deleted Volumes:");
            for name in &removed {
                println!("{name}");
            }
        }
    }
    Ok(0)
}

// The binary's whole command line: the global flags and one command.
// `main.rs` parses its arguments with it, and the book's checker (`tests/`)
// parses every command line the book shows with it, so that a page cannot
// show a flag the binary does not have. (The doc comment below is clap's
// `--help` text.)
/// Chapter 4 of skiff: layers and a writable layer (overlayfs), diff, commit, volumes
#[derive(Debug, clap::Parser)]
#[command(name = "ch04-overlayfs", version)]
pub struct Cli {
    #[command(flatten)]
    pub globals: Globals,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run COMMAND in a new container whose root is a stack of layers
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
