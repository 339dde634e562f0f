//! `ch01-process`: run a command as a supervised child, as PID 1 would.

use anyhow::Result;
use ch01_process::cli::{Cli, Command, inherited_env};
use ch01_process::shell;
use ch01_process::{NoHooks, ProcessSpec, SpawnOptions, SuperviseOptions, Supervisor, spawn};
use clap::Parser;

fn main() {
    let cli = Cli::parse();
    shell::run("ch01-process", &cli.explain, || run(cli.command))
}

// ANCHOR: run
fn run(command: Command) -> Result<i32> {
    let Command::Run { process, command } = command;
    let ours = ProcessSpec {
        env: inherited_env(),
        ..ProcessSpec::default()
    };
    let spec = process.to_spec(&command.command, ours);
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
