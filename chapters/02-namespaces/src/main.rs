//! `ch02-namespaces`: run a command in a container of its own, or in a running one.

use anyhow::Result;
use ch01_process::{sealed_exe, shell};
use ch02_namespaces::cli::{Cli, Command, RunArgs};
use ch02_namespaces::{NamespaceEngine, require_root};
use clap::Parser;

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
