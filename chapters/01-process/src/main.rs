//! `ch01-process`: run a command as a supervised child, as PID 1 would.

use anyhow::Result;
use ch01_process::cli::{ProcessArgs, inherited_env};
use ch01_process::{NoHooks, SpawnOptions, SuperviseOptions, Supervisor, explain, spawn};
use clap::{Parser, Subcommand};

/// Chapter 1 of skiff: fork, exec, wait, signals, and the duties of PID 1
#[derive(Debug, Parser)]
#[command(name = "ch01-process", version)]
struct Cli {
    /// Print each step the engine asks of the kernel, on stderr
    #[arg(long, global = true)]
    explain: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run COMMAND as a child: relay its stdio, signals and exit status
    Run {
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
    match run(cli) {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!(
                "ch01-process: {}",
                ch01_process::exit::report(error.as_ref())
            );
            let code = error
                .downcast_ref::<ch01_process::SpawnError>()
                .map_or(125, |e| e.exit_code());
            std::process::exit(code);
        }
    }
}

// ANCHOR: run
fn run(cli: Cli) -> Result<i32> {
    let Command::Run { process, command } = cli.command;
    let spec = process.to_spec(&command, inherited_env());
    let mut supervisor = Supervisor::new(SuperviseOptions {
        subreaper: true,
        stop_timeout: process.stop_timeout(),
    })?;
    let options = SpawnOptions {
        own_process_group: true,
        ..Default::default()
    };
    let child = spawn(&spec, &options, &mut NoHooks)?;
    let status = supervisor.wait(child)?;
    Ok(status.code())
}
// ANCHOR_END: run
