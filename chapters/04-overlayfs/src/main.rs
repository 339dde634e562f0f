//! `ch04-overlayfs`: run a container on a stack of layers; diff, commit, volumes.

use anyhow::{Context, Result, bail};
use ch01_process::cli::ProcessArgs;
use ch01_process::explain;
use ch02_namespaces::cli::ContainerArgs;
use ch03_cgroups::cli::CgroupArgs;
use ch03_cgroups::{Cgroup, Layout};
use ch04_overlayfs::changes;
use ch04_overlayfs::layers::LayerStack;
use ch04_overlayfs::run::{Launch, RunError, StorageArgs};
use ch04_overlayfs::volumes::VolumeStore;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};

/// Chapter 4 of skiff: layers and a writable layer (overlayfs), diff, commit, volumes
#[derive(Debug, Parser)]
#[command(name = "ch04-overlayfs", version)]
struct Cli {
    /// Print each step the engine asks of the kernel, on stderr
    #[arg(long, global = true)]
    explain: bool,

    /// Where containers' writable layers and named volumes are kept
    #[arg(
        long,
        global = true,
        env = "SKIFF_STATE_DIR",
        default_value = "/var/lib/skiff"
    )]
    state_dir: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run COMMAND in a new container whose root is a stack of layers
    Run(Box<RunArgs>),
    /// Show what a container changed: A added, C changed, D deleted
    Diff { name: String },
    /// Write a container's writable layer as an OCI layer tarball
    Commit { name: String, output: PathBuf },
    /// Remove a stopped container's writable layer
    Rm { name: String },
    /// Manage named volumes
    #[command(subcommand)]
    Volume(VolumeCommand),
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    #[command(flatten)]
    container: ContainerArgs,

    #[command(flatten)]
    limits: CgroupArgs,

    #[command(flatten)]
    process: ProcessArgs,

    /// A read-only layer; repeat it, bottom layer first (--rootfs counts as the bottom one)
    #[arg(long = "layer", value_name = "DIR")]
    layers: Vec<PathBuf>,

    #[command(flatten)]
    storage: StorageArgs,

    /// The command to run in the container, and its arguments
    #[arg(required = true, trailing_var_arg = true, value_name = "COMMAND")]
    command: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum VolumeCommand {
    /// Create a named volume
    Create { name: String },
    /// List named volumes
    Ls,
    /// Remove named volumes
    Rm { names: Vec<String> },
    /// Remove every volume no container uses
    Prune,
}

fn main() {
    let cli = Cli::parse();
    explain::set_enabled(cli.explain);
    let state = cli.state_dir.clone();
    // Every command needs root: say so before anything is tried.
    let outcome = match ch02_namespaces::container::require_root() {
        Err(error) => Err(error.into()),
        Ok(()) => match cli.command {
            Command::Run(args) => run(&state, &args),
            Command::Diff { name } => diff(&state, &name),
            Command::Commit { name, output } => commit(&state, &name, &output),
            Command::Rm { name } => remove(&state, &name),
            Command::Volume(command) => volume(&state, command),
        },
    };
    match outcome {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!(
                "ch04-overlayfs: {}",
                ch01_process::exit::report(error.as_ref())
            );
            let code = error
                .downcast_ref::<RunError>()
                .map_or(125, RunError::exit_code);
            std::process::exit(code);
        }
    }
}

// ANCHOR: run
fn run(state: &Path, args: &RunArgs) -> Result<i32> {
    // The layers, bottom first: --rootfs, then each --layer.
    let lowers = args
        .container
        .rootfs
        .iter()
        .chain(&args.layers)
        .cloned()
        .collect();
    Ok(ch04_overlayfs::run::run(Launch {
        state,
        container: &args.container,
        limits: &args.limits,
        process: &args.process,
        storage: &args.storage,
        lowers,
        command: args.command.clone(),
        base_env: Vec::new(),
        base_workdir: None,
        base_user: None,
    })?)
}
// ANCHOR_END: run

fn diff(state: &Path, name: &str) -> Result<i32> {
    let stack = LayerStack::open(state, name)?;
    print!(
        "{}",
        changes::render(&changes::diff(&stack.upper(), &stack.lowers)?)
    );
    Ok(0)
}

fn commit(state: &Path, name: &str, output: &Path) -> Result<i32> {
    let stack = LayerStack::open(state, name)?;
    let partial = output.with_extension("tar.partial");
    let mut file =
        std::fs::File::create(&partial).with_context(|| format!("create {}", partial.display()))?;
    let summary = match changes::commit(&stack.upper(), &mut file) {
        Ok(summary) => summary,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error.into());
        }
    };
    file.sync_all()?;
    std::fs::rename(&partial, output)?;
    println!(
        "{}: {} entries, {} whiteouts, {} opaque directories",
        output.display(),
        summary.entries,
        summary.whiteouts,
        summary.opaque_dirs
    );
    Ok(0)
}

fn remove(state: &Path, name: &str) -> Result<i32> {
    let stack = LayerStack::open(state, name)?;
    if let Ok(layout) = Layout::detect()
        && Cgroup::open(&layout, name).is_ok()
    {
        bail!("container {name:?} is running: stop it first");
    }
    stack.remove()?;
    println!("{name}");
    Ok(0)
}

fn volume(state: &Path, command: VolumeCommand) -> Result<i32> {
    let store = VolumeStore::new(state);
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
            let in_use = ch04_overlayfs::run::volumes_in_use(state);
            for name in names {
                store.remove(&name, &in_use)?;
                println!("{name}");
            }
        }
        VolumeCommand::Prune => {
            let removed = store.prune(&ch04_overlayfs::run::volumes_in_use(state))?;
            println!("Deleted Volumes:");
            for name in &removed {
                println!("{name}");
            }
        }
    }
    Ok(0)
}
