//! `skiff-starter N DIR`: writes the starter workspace of chapter N.

use anyhow::{Context, Result};
use clap::Parser;
use std::path::PathBuf;

/// Write a learner's workspace: chapters below N complete, chapter N's
/// marked bodies replaced by todo!(), nothing above N
#[derive(Debug, Parser)]
#[command(name = "skiff-starter")]
struct Cli {
    /// The chapter the learner writes
    chapter: u32,
    /// Where to write the workspace (missing or empty)
    dir: PathBuf,
    /// The skiff workspace to take the sources from
    #[arg(long, value_name = "DIR", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))]
    source: PathBuf,
}

fn main() {
    let cli = Cli::parse();
    if let Err(error) = run(&cli) {
        eprintln!("skiff-starter: {error:#}");
        std::process::exit(1);
    }
}

fn run(cli: &Cli) -> Result<()> {
    let source = cli
        .source
        .canonicalize()
        .with_context(|| format!("the source workspace {}", cli.source.display()))?;
    let starter = skiff_starter::write_starter(&source, cli.chapter, &cli.dir)?;
    println!(
        "wrote {}: chapter {} ({}) with {} bodies to write:",
        cli.dir.display(),
        starter.chapter.number,
        starter.chapter.package,
        starter.todos.len()
    );
    for (file, solution) in &starter.todos {
        println!(
            "  {}:{}  {}",
            file.display(),
            solution.start_line,
            solution.message()
        );
    }
    println!(
        "next: cd {} && cargo build --offline, then read README.md",
        cli.dir.display()
    );
    Ok(())
}
