//! `ch04-overlayfs`: run a container on a stack of layers; diff, commit, volumes.

use anyhow::{Context, Result, bail};
use ch01_process::cli::ProcessArgs;
use ch01_process::{SuperviseOptions, Supervisor, explain};
use ch02_namespaces::cli::ContainerArgs;
use ch02_namespaces::container::{ContainerError, ContainerHooks, start};
use ch02_namespaces::namespaces::random_hostname;
use ch03_cgroups::cli::CgroupArgs;
use ch03_cgroups::container::CgroupHooks;
use ch03_cgroups::stats::human;
use ch03_cgroups::{Cgroup, CgroupError, CgroupGuard, Layout};
use ch04_overlayfs::changes;
use ch04_overlayfs::container::OverlayRoot;
use ch04_overlayfs::layers::LayerStack;
use ch04_overlayfs::volumes::{Mount, VolumeSource, VolumeStore, parse_tmpfs, parse_volume};
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

    /// Mount a volume: HOST:CONTAINER[:ro] (a bind mount) or NAME:CONTAINER[:ro] (a named volume)
    #[arg(short = 'v', long = "volume", value_name = "SPEC")]
    volumes: Vec<String>,

    /// Mount an empty tmpfs at PATH
    #[arg(long, value_name = "PATH")]
    tmpfs: Vec<String>,

    /// Remove the writable layer when the container exits
    #[arg(long)]
    rm: bool,

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
    let outcome = match cli.command {
        Command::Run(args) => run(&state, &args),
        Command::Diff { name } => diff(&state, &name),
        Command::Commit { name, output } => commit(&state, &name, &output),
        Command::Rm { name } => remove(&state, &name),
        Command::Volume(command) => volume(&state, command),
    };
    match outcome {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!("ch04-overlayfs: {error:#}");
            let code = error
                .downcast_ref::<ContainerError>()
                .map_or(125, ContainerError::exit_code);
            std::process::exit(code);
        }
    }
}

/// Removes a container's writable layer when dropped, unless kept: a run
/// that fails before its container starts leaves nothing behind.
struct LayerGuard {
    stack: LayerStack,
    keep: bool,
}

impl Drop for LayerGuard {
    fn drop(&mut self) {
        if !self.keep {
            let _ = self.stack.remove();
        }
    }
}

// ANCHOR: run
fn run(state: &Path, args: &RunArgs) -> Result<i32> {
    let mut config = args.container.to_config()?;
    let wanted = args.limits.to_limits()?;
    let name = args.limits.name.clone().unwrap_or_else(random_hostname);
    let mounts = parse_mounts(args)?;
    let store = VolumeStore::new(state);

    // The layers, bottom first: --rootfs, then each --layer.
    let lowers: Vec<PathBuf> = args
        .container
        .rootfs
        .iter()
        .chain(&args.layers)
        .cloned()
        .collect();
    let stack = LayerStack::create(state, &name, &lowers)?;
    let mut layer = LayerGuard { stack, keep: false };
    config.rootfs = layer.stack.merged();
    config.validate()?;
    let volumes = mounts
        .into_iter()
        .map(|mount| store.resolve(&mount).map(|source| (mount, source)))
        .collect::<Result<Vec<_>, _>>()?;
    record_named_volumes(&layer.stack, &volumes)?;

    let layout = Layout::detect()?;
    let spec = args.process.to_spec(&args.command, config.base_env());
    let mut supervisor = Supervisor::new(SuperviseOptions {
        subreaper: true,
        stop_timeout: args.process.stop_timeout(),
    })?;
    let cgroup = match Cgroup::create(&layout, &name, &wanted) {
        Err(CgroupError::AlreadyExists(_)) => {
            bail!("a container named {name:?} is already running")
        }
        created => CgroupGuard::new(created?),
    };
    let mut root = OverlayRoot {
        stack: &layer.stack,
        volumes: &volumes,
    };
    let mut hooks = CgroupHooks {
        cgroup: &cgroup,
        container: ContainerHooks::with_rootfs_steps(&config, &mut root),
    };
    let child = start(&spec, &config, &mut hooks)?;
    // From here the writable layer holds the container's work: keep it
    // unless --rm asks otherwise.
    layer.keep = !args.rm;
    let status = supervisor.wait(child)?;
    if cgroup.oom_killed()? {
        let limit = wanted.memory.map_or("its memory limit".into(), human);
        eprintln!(
            "ch04-overlayfs: container {name} was OOM-killed: it reached its memory limit ({limit})"
        );
    }
    Ok(status.code())
}
// ANCHOR_END: run

fn parse_mounts(args: &RunArgs) -> Result<Vec<Mount>> {
    let mut mounts = Vec::new();
    for spec in &args.volumes {
        mounts.push(parse_volume(spec).with_context(|| format!("-v {spec}"))?);
    }
    for spec in &args.tmpfs {
        mounts.push(parse_tmpfs(spec).with_context(|| format!("--tmpfs {spec}"))?);
    }
    Ok(mounts)
}

/// Writes the named volumes a container uses next to its layer, so that
/// `volume rm` and `volume prune` leave them alone while it exists.
fn record_named_volumes(stack: &LayerStack, volumes: &[(Mount, PathBuf)]) -> Result<()> {
    let names: String = volumes
        .iter()
        .filter_map(|(mount, _)| match &mount.source {
            VolumeSource::Named(name) => Some(format!("{name}\n")),
            _ => None,
        })
        .collect();
    std::fs::write(stack.dir.join("volumes"), names).context("recording the container's volumes")
}

/// Named volumes used by any container that still has its writable layer.
fn volumes_in_use(state: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(state.join("containers")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("volumes")).ok())
        .flat_map(|text| text.lines().map(String::from).collect::<Vec<_>>())
        .collect()
}

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
            let in_use = volumes_in_use(state);
            for name in names {
                store.remove(&name, &in_use)?;
                println!("{name}");
            }
        }
        VolumeCommand::Prune => {
            let removed = store.prune(&volumes_in_use(state))?;
            println!("Deleted Volumes:");
            for name in &removed {
                println!("{name}");
            }
        }
    }
    Ok(0)
}
