//! `ch05-images`: pull, build and push images, and run them.

use anyhow::Result;
use ch01_process::{sealed_exe, shell};
use ch02_namespaces::require_root;
use ch03_cgroups::container::oom_note;
use ch05_images::cli::{Cli, Command, RunArgs};
use ch05_images::engine::ImageEngine;
use clap::Parser;

fn main() {
    let cli = Cli::parse();
    shell::run("ch05-images", &cli.globals.explain, || {
        // Every command needs root: say so before anything is tried.
        require_root()?;
        if cli.command.enters_container() {
            sealed_exe::ensure_sealed()?;
        }
        let engine = ImageEngine::open(&cli.globals.root)?;
        match cli.command {
            Command::Run(args) => run(&engine, &args),
            Command::Verbs(verbs) => Ok(verbs.execute(&engine)?),
        }
    })
}

// ANCHOR: run
fn run(engine: &ImageEngine, args: &RunArgs) -> Result<i32> {
    let exit = args.run(engine)?;
    let memory = args.flags.below.limits.to_limits()?.memory;
    if let Some(note) = oom_note(&exit, memory) {
        eprintln!("ch05-images: {note}");
    }
    Ok(exit.code())
}
// ANCHOR_END: run
