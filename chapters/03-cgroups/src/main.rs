//! `ch03-cgroups`: run a container within limits; watch, pause and resume it.

use anyhow::{Context, Result, bail};
use ch01_process::cli::ProcessArgs;
use ch01_process::{SuperviseOptions, Supervisor, explain};
use ch02_namespaces::cli::ContainerArgs;
use ch02_namespaces::container::{ContainerError, ContainerHooks, start};
use ch02_namespaces::namespaces::random_hostname;
use ch03_cgroups::cli::CgroupArgs;
use ch03_cgroups::container::CgroupHooks;
use ch03_cgroups::stats::{human, sample, table};
use ch03_cgroups::{Cgroup, CgroupError, CgroupGuard, Layout};
use clap::{Parser, Subcommand};
use std::time::Duration;

/// Chapter 3 of skiff: cgroups: memory, CPU, cpuset and pids limits; stats; OOM; pause
#[derive(Debug, Parser)]
#[command(name = "ch03-cgroups", version)]
struct Cli {
    /// Print each step the engine asks of the kernel, on stderr
    #[arg(long, global = true)]
    explain: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run COMMAND in a new container, within limits
    Run {
        #[command(flatten)]
        container: Box<ContainerArgs>,

        #[command(flatten)]
        limits: Box<CgroupArgs>,

        #[command(flatten)]
        process: ProcessArgs,

        /// The command to run in the container, and its arguments
        #[arg(required = true, trailing_var_arg = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Show the resource usage of running containers (all when no NAME is given)
    Stats {
        /// Print one table and exit, instead of refreshing every second
        #[arg(long)]
        no_stream: bool,

        /// The containers to show
        names: Vec<String>,
    },
    /// Freeze every process of a container
    Pause { name: String },
    /// Let a paused container run again
    Unpause { name: String },
}

fn main() {
    let cli = Cli::parse();
    explain::set_enabled(cli.explain);
    // Every command needs root: say so before anything is tried.
    let outcome = match ch02_namespaces::container::require_root() {
        Err(error) => Err(error.into()),
        Ok(()) => match cli.command {
            Command::Run {
                container,
                limits,
                process,
                command,
            } => run(&container, &limits, &process, &command),
            Command::Stats { no_stream, names } => stats(no_stream, &names),
            Command::Pause { name } => open(&name)
                .and_then(|c| Ok(c.freeze()?))
                .map(|()| print_name(&name)),
            Command::Unpause { name } => open(&name)
                .and_then(|c| Ok(c.thaw()?))
                .map(|()| print_name(&name)),
        },
    };
    match outcome {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!(
                "ch03-cgroups: {}",
                ch01_process::exit::report(error.as_ref())
            );
            let code = error
                .downcast_ref::<ContainerError>()
                .map_or(125, ContainerError::exit_code);
            std::process::exit(code);
        }
    }
}

// ANCHOR: run
fn run(
    container: &ContainerArgs,
    limits: &CgroupArgs,
    process: &ProcessArgs,
    command: &[String],
) -> Result<i32> {
    let mut config = container.to_config()?;
    config.validate()?;
    let wanted = limits.to_limits()?;
    let name = limits.name.clone().unwrap_or_else(random_hostname);
    let layout = Layout::detect()?;
    let spec = process.to_spec(command, config.base_env());
    let mut supervisor = Supervisor::new(SuperviseOptions {
        subreaper: true,
        stop_timeout: process.stop_timeout(),
    })?;
    // Removed when this function returns, after every process in it is gone.
    let cgroup = match Cgroup::create(&layout, &name, &wanted) {
        Err(CgroupError::AlreadyExists(_)) => {
            bail!("a container named {name:?} is already running: choose another --name")
        }
        created => CgroupGuard::new(created?),
    };
    let mut hooks = CgroupHooks {
        cgroup: &cgroup,
        container: ContainerHooks::new(&config),
    };
    let child = start(&spec, &config, &mut hooks)?;
    let status = supervisor.wait(child)?;
    if cgroup.oom_killed()? {
        let limit = wanted.memory.map_or("its memory limit".into(), human);
        eprintln!(
            "ch03-cgroups: container {name} was OOM-killed: it reached its memory limit ({limit})"
        );
    }
    Ok(status.code())
}
// ANCHOR_END: run

fn open(name: &str) -> Result<Cgroup> {
    let layout = Layout::detect()?;
    Cgroup::open(&layout, name).with_context(|| format!("no running container named {name:?}"))
}

fn print_name(name: &str) -> i32 {
    println!("{name}");
    0
}

fn stats(no_stream: bool, names: &[String]) -> Result<i32> {
    let layout = Layout::detect()?;
    let names = if names.is_empty() {
        Cgroup::list(&layout)
    } else {
        names.to_vec()
    };
    let cgroups = names
        .iter()
        .map(|name| open(name))
        .collect::<Result<Vec<_>>>()?;
    if no_stream {
        print!("{}", table(&sample(&cgroups, Duration::from_millis(500))));
        return Ok(0);
    }
    loop {
        let rows = sample(&cgroups, Duration::from_secs(1));
        // Clear the screen and go home, as `docker stats` redraws.
        print!("\x1b[2J\x1b[H{}", table(&rows));
        use std::io::Write;
        std::io::stdout().flush()?;
        if rows.is_empty() {
            return Ok(0);
        }
    }
}
