//! `ch04-overlayfs`: run a container on a stack of layers; diff, commit, volumes.

use anyhow::Result;
use ch01_process::{sealed_exe, shell};
use ch02_namespaces::require_root;
use ch03_cgroups::container::oom_note;
use ch04_overlayfs::OverlayEngine;
use ch04_overlayfs::cli::{Cli, Command, RunArgs};
use clap::Parser;

fn main() {
    let cli = Cli::parse();
    shell::run("ch04-overlayfs", &cli.globals.explain, || {
        // Every command needs root: say so before anything is tried.
        require_root()?;
        if cli.command.enters_container() {
            sealed_exe::ensure_sealed()?;
        }
        let engine = OverlayEngine::open(&cli.globals.root)?;
        match cli.command {
            Command::Run(args) => run(&engine, &args),
            Command::Verbs(verbs) => Ok(verbs.execute(&engine, &engine)?),
        }
    })
}

// ANCHOR: run
fn run(engine: &OverlayEngine, args: &RunArgs) -> Result<i32> {
    let spec = args.to_spec(engine)?;
    let memory = spec.limits.memory;
    // What the container's files came from, as the user named it (`ps`):
    // the top layer.
    let image = args.layers.last().or(args.rootfs.as_ref());
    let image = image.map(|layer| layer.display().to_string());
    let exit = ch02_namespaces::run::run(engine, spec, image)?;
    if let Some(note) = oom_note(&exit, memory) {
        eprintln!("ch04-overlayfs: {note}");
    }
    Ok(exit.code())
}
// ANCHOR_END: run
