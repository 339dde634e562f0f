//! `ch02-namespaces`: run a command in a container of its own, or in a running one.

use anyhow::Result;
use ch01_process::cli::ProcessArgs;
use ch01_process::{SpawnOptions, SuperviseOptions, Supervisor, explain, spawn};
use ch02_namespaces::cli::ContainerArgs;
use ch02_namespaces::container::{ContainerError, ContainerHooks, start};
use ch02_namespaces::exec::{ExecHooks, enter};
use clap::{Parser, Subcommand};
use nix::unistd::Pid;

/// Chapter 2 of skiff: namespaces, pivot_root, capabilities, exec via setns
#[derive(Debug, Parser)]
#[command(name = "ch02-namespaces", version)]
struct Cli {
    /// Print each step the engine asks of the kernel, on stderr
    #[arg(long, global = true)]
    explain: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run COMMAND in a new container
    Run {
        #[command(flatten)]
        container: ContainerArgs,

        #[command(flatten)]
        process: ProcessArgs,

        /// The command to run in the container, and its arguments
        #[arg(required = true, trailing_var_arg = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Run COMMAND in the running container whose first process is PID
    Exec {
        /// The container's first process, by its pid on the host
        #[arg(long, value_name = "PID")]
        target: i32,

        #[command(flatten)]
        process: ProcessArgs,

        /// The command to run, and its arguments
        #[arg(required = true, trailing_var_arg = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
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
                process,
                command,
            } => run(&container, &process, &command),
            Command::Exec {
                target,
                process,
                command,
            } => exec(target, &process, &command),
        },
    };
    match outcome {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!(
                "ch02-namespaces: {}",
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
fn run(container: &ContainerArgs, process: &ProcessArgs, command: &[String]) -> Result<i32> {
    let mut config = container.to_config()?;
    config.validate()?;
    let spec = process.to_spec(command, config.base_env());
    let mut supervisor = Supervisor::new(SuperviseOptions {
        subreaper: true,
        stop_timeout: process.stop_timeout(),
    })?;
    let child = start(&spec, &config, &mut ContainerHooks::new(&config))?;
    let status = supervisor.wait(child)?;
    Ok(status.code())
}
// ANCHOR_END: run

// ANCHOR: exec
fn exec(target: i32, process: &ProcessArgs, command: &[String]) -> Result<i32> {
    ch02_namespaces::ensure_single_threaded()?;
    let entered = enter(Pid::from_raw(target))?;
    let spec = process.to_spec(command, entered.env.clone());
    let mut supervisor = Supervisor::new(SuperviseOptions {
        subreaper: true,
        stop_timeout: process.stop_timeout(),
    })?;
    let options = SpawnOptions {
        own_process_group: true,
        ..Default::default()
    };
    let child = spawn(&spec, &options, &mut ExecHooks { entered: &entered })
        .map_err(ContainerError::from)?;
    let status = supervisor.wait(child)?;
    Ok(status.code())
}
// ANCHOR_END: exec
