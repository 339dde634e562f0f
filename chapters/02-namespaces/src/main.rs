//! `ch02-namespaces`: run a command in a container of its own, or in a running one.

use anyhow::Result;
use ch01_process::{sealed_exe, shell};
use ch02_namespaces::cli::{Globals, RunArgs, Verbs};
use ch02_namespaces::{NamespaceEngine, require_root};
use clap::{Parser, Subcommand};

/// Chapter 2 of skiff: namespaces, pivot_root, capabilities, exec via setns
#[derive(Debug, Parser)]
#[command(name = "ch02-namespaces", version)]
struct Cli {
    #[command(flatten)]
    globals: Globals,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run COMMAND in a new container
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
    shell::run("ch02-namespaces", &cli.globals.explain, || {
        // Every command needs root: say so before anything is tried.
        require_root()?;
        if cli.command.enters_container() {
            sealed_exe::ensure_sealed()?;
        }
        let engine = NamespaceEngine::open(&cli.globals.root)?;
        match cli.command {
            Command::Run(args) => run(&engine, &args),
            Command::Verbs(verbs) => Ok(verbs.execute(&engine)?),
        }
    })
}

// ANCHOR: run
fn run(engine: &NamespaceEngine, args: &RunArgs) -> Result<i32> {
    let spec = args.to_spec()?;
    // What the container's files came from, as the user named it (`ps`).
    let image = Some(args.rootfs.display().to_string());
    let exit = ch02_namespaces::run::run(engine, spec, image)?;
    Ok(exit.code())
}
// ANCHOR_END: run
