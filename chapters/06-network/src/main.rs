//! `ch06-network`: containers of images on networks: bridges, published
//! ports, user networks with DNS by name.

use anyhow::Result;
use ch01_process::{sealed_exe, shell};
use ch02_namespaces::require_root;
use ch03_cgroups::container::oom_note;
use ch06_network::cli::{Cli, Command, RunArgs};
use ch06_network::engine::NetworkEngine;
use clap::Parser;

fn main() {
    let cli = Cli::parse();
    shell::run("ch06-network", &cli.globals.explain, || {
        // Every command needs root: say so before anything is tried.
        require_root()?;
        if cli.command.enters_container() {
            sealed_exe::ensure_sealed()?;
        }
        let engine = NetworkEngine::open(&cli.globals.root)?;
        // What killed supervisors left on the network goes first, so that
        // `network rm`, `port` and `ps` see only what is in use.
        engine.release_stale()?;
        match cli.command {
            Command::Run(args) => run(&engine, &args),
            Command::Verbs(verbs) => Ok(verbs.execute(&engine)?),
        }
    })
}

// ANCHOR: run
fn run(engine: &NetworkEngine, args: &RunArgs) -> Result<i32> {
    let exit = args.run(engine)?;
    let memory = args.flags.below.below.limits.to_limits()?.memory;
    if let Some(note) = oom_note(&exit, memory) {
        eprintln!("ch06-network: {note}");
    }
    Ok(exit.code())
}
// ANCHOR_END: run
