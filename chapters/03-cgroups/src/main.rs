//! `ch03-cgroups`: run a container within limits; watch, pause and resume it.

use anyhow::Result;
use ch01_process::{sealed_exe, shell};
use ch02_namespaces::require_root;
use ch03_cgroups::cli::{Cli, Command, RunArgs};
use ch03_cgroups::container::{CgroupEngine, oom_note};
use clap::Parser;

fn main() {
    let cli = Cli::parse();
    shell::run("ch03-cgroups", &cli.globals.explain, || {
        // Every command needs root: say so before anything is tried.
        require_root()?;
        if cli.command.enters_container() {
            sealed_exe::ensure_sealed()?;
        }
        let engine = CgroupEngine::open(&cli.globals.root)?;
        match cli.command {
            Command::Run(args) => run(&engine, &args),
            Command::Verbs(verbs) => Ok(verbs.execute(&engine, &engine)?),
        }
    })
}

// ANCHOR: run
fn run(engine: &CgroupEngine, args: &RunArgs) -> Result<i32> {
    let spec = args.to_spec()?;
    let memory = spec.limits.memory;
    // What the container's files came from, as the user named it (`ps`).
    let image = Some(args.rootfs.display().to_string());
    let exit = ch02_namespaces::run::run(engine, spec, image)?;
    if let Some(note) = oom_note(&exit, memory) {
        eprintln!("ch03-cgroups: {note}");
    }
    Ok(exit.code())
}
// ANCHOR_END: run
