//! `ch06-network`: containers of images on networks: bridges, published
//! ports, user networks with DNS by name.

use anyhow::Result;
use ch01_process::{sealed_exe, shell};
use ch02_namespaces::cli::Globals;
use ch02_namespaces::require_root;
use ch03_cgroups::container::oom_note;
use ch06_network::cli::{RunArgs, Verbs};
use ch06_network::engine::NetworkEngine;
use clap::{Parser, Subcommand};

/// Chapter 6 of skiff: networks: bridges, veth pairs, NAT, published ports, DNS by name
#[derive(Debug, Parser)]
#[command(name = "ch06-network", version)]
struct Cli {
    #[command(flatten)]
    globals: Globals,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a command in a new container of IMAGE, on a network
    Run(Box<RunArgs>),
    #[command(flatten)]
    Verbs(Verbs),
}

impl Command {
    /// Whether the command enters a container: it then runs from a sealed
    /// copy of this binary (see chapter 1's `sealed_exe`).
    fn enters_container(&self) -> bool {
        match self {
            Command::Run(_) => true,
            Command::Verbs(verbs) => verbs.enters_container(),
        }
    }
}

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
