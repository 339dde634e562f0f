//! Running a container on a layer stack: chapter 3's run, with layers and
//! volumes. Chapter 5 runs images through this same function.

use crate::container::OverlayRoot;
use crate::layers::{LayerError, LayerStack};
use crate::volumes::{Mount, VolumeError, VolumeSource, VolumeStore, parse_tmpfs, parse_volume};
use ch01_process::cli::ProcessArgs;
use ch01_process::supervise::SuperviseError;
use ch01_process::{ProcessSpec, SuperviseOptions, Supervisor};
use ch02_namespaces::caps::UnknownCapability;
use ch02_namespaces::cli::ContainerArgs;
use ch02_namespaces::container::{ContainerConfig, ContainerError, ContainerHooks, start};
use ch02_namespaces::namespaces::random_hostname;
use ch03_cgroups::cli::{CgroupArgs, LimitFlagError};
use ch03_cgroups::container::CgroupHooks;
use ch03_cgroups::stats::human;
use ch03_cgroups::{Cgroup, CgroupError, CgroupGuard, Layout, LayoutError};
use clap::Args;
use std::path::{Path, PathBuf};

/// The storage flags of `run`: volumes, tmpfs, and `--rm`.
#[derive(Debug, Clone, Default, Args)]
pub struct StorageArgs {
    /// Mount a volume: HOST:CONTAINER[:ro] (a bind mount) or NAME:CONTAINER[:ro] (a named volume)
    #[arg(short = 'v', long = "volume", value_name = "SPEC")]
    pub volumes: Vec<String>,

    /// Mount an empty tmpfs at PATH
    #[arg(long, value_name = "PATH")]
    pub tmpfs: Vec<String>,

    /// Remove the writable layer when the container exits
    #[arg(long)]
    pub rm: bool,
}

/// Why a container could not be run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error(transparent)]
    Capability(#[from] UnknownCapability),
    #[error(transparent)]
    Limits(#[from] LimitFlagError),
    #[error(transparent)]
    Layer(#[from] LayerError),
    #[error("{flag} {spec}: {reason}")]
    Volume {
        flag: &'static str,
        spec: String,
        reason: VolumeError,
    },
    #[error(transparent)]
    VolumeStore(#[from] VolumeError),
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error("a container named {0:?} is already running")]
    NameRunning(String),
    #[error(transparent)]
    Supervise(#[from] SuperviseError),
    #[error("recording the container's volumes: {0}")]
    Record(std::io::Error),
}

impl RunError {
    /// Docker's exit code: 126/127 when the command cannot run, else 125.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Container(error) => error.exit_code(),
            _ => 125,
        }
    }
}

/// What to run, besides the flags: the layers and the process.
pub struct Launch<'a> {
    /// The state directory: writable layers, short links, named volumes.
    pub state: &'a Path,
    pub container: &'a ContainerArgs,
    pub limits: &'a CgroupArgs,
    pub process: &'a ProcessArgs,
    pub storage: &'a StorageArgs,
    /// The read-only layers, bottom first.
    pub lowers: Vec<PathBuf>,
    /// The command, and the environment and directory before `-e` and `-w`
    /// (an image's `Env` and `WorkingDir`, in chapter 5).
    pub command: Vec<String>,
    pub base_env: Vec<String>,
    pub base_workdir: Option<PathBuf>,
    /// The user, unless `--user` gives one (an image's `User`).
    pub base_user: Option<String>,
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
/// Runs a container and returns its exit code.
pub fn run(launch: Launch<'_>) -> Result<i32, RunError> {
    let mut config = launch.container.to_config()?;
    let wanted = launch.limits.to_limits()?;
    let name = launch.limits.name.clone().unwrap_or_else(random_hostname);
    let mounts = parse_mounts(launch.storage)?;
    let store = VolumeStore::new(launch.state);

    let stack = LayerStack::create(launch.state, &name, &launch.lowers)?;
    let mut layer = LayerGuard { stack, keep: false };
    config.rootfs = layer.stack.merged();
    config.validate()?;
    let volumes = mounts
        .into_iter()
        .map(|mount| store.resolve(&mount).map(|source| (mount, source)))
        .collect::<Result<Vec<_>, _>>()?;
    record_named_volumes(&layer.stack, &volumes)?;

    let layout = Layout::detect()?;
    let spec = process_spec(&launch, &config);
    let mut supervisor = Supervisor::new(SuperviseOptions {
        subreaper: true,
        stop_timeout: launch.process.stop_timeout(),
    })?;
    let cgroup = match Cgroup::create(&layout, &name, &wanted) {
        Err(CgroupError::AlreadyExists(_)) => return Err(RunError::NameRunning(name)),
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
    layer.keep = !launch.storage.rm;
    let status = supervisor.wait(child)?;
    if cgroup.oom_killed()? {
        let limit = wanted.memory.map_or("its memory limit".into(), human);
        eprintln!("container {name} was OOM-killed: it reached its memory limit ({limit})");
    }
    Ok(status.code())
}
// ANCHOR_END: run

/// The process: the base environment (with the container's HOSTNAME and
/// HOME), then `-e`; the base directory, unless `-w` gives one.
fn process_spec(launch: &Launch<'_>, config: &ContainerConfig) -> ProcessSpec {
    let mut env = config.base_env();
    for entry in &launch.base_env {
        ch01_process::cli::apply_env_flag(&mut env, entry);
    }
    let mut spec = launch.process.to_spec(&launch.command, env);
    if spec.cwd.is_none() {
        spec.cwd = launch.base_workdir.clone();
    }
    if spec.user.is_none() {
        spec.user = launch.base_user.clone();
    }
    spec
}

fn parse_mounts(storage: &StorageArgs) -> Result<Vec<Mount>, RunError> {
    let mut mounts = Vec::new();
    for spec in &storage.volumes {
        let mount = parse_volume(spec).map_err(|reason| RunError::Volume {
            flag: "-v",
            spec: spec.clone(),
            reason,
        })?;
        mounts.push(mount);
    }
    for spec in &storage.tmpfs {
        let mount = parse_tmpfs(spec).map_err(|reason| RunError::Volume {
            flag: "--tmpfs",
            spec: spec.clone(),
            reason,
        })?;
        mounts.push(mount);
    }
    Ok(mounts)
}

/// Writes the named volumes a container uses next to its layer, so that
/// `volume rm` and `volume prune` leave them alone while it exists.
fn record_named_volumes(stack: &LayerStack, volumes: &[(Mount, PathBuf)]) -> Result<(), RunError> {
    let names: String = volumes
        .iter()
        .filter_map(|(mount, _)| match &mount.source {
            VolumeSource::Named(name) => Some(format!("{name}\n")),
            _ => None,
        })
        .collect();
    std::fs::write(stack.dir.join("volumes"), names).map_err(RunError::Record)
}

/// Named volumes used by any container that still has its writable layer.
pub fn volumes_in_use(state: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(state.join("containers")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("volumes")).ok())
        .flat_map(|text| text.lines().map(String::from).collect::<Vec<_>>())
        .collect()
}
