//! `skiff-check N [--bin PATH]`: the course's checks of chapters 1 to N.

use clap::Parser;
use skiff_check::Target;
use std::path::{Path, PathBuf};

/// Check a chapter binary from outside: its output and exit codes, the
/// probe's report from inside the container, the kernel's view (/proc,
/// cgroup files). One line per check; exits 1 when any fails
#[derive(Debug, Parser)]
#[command(name = "skiff-check")]
struct Cli {
    /// The chapter: the checks of chapters 1 to N run
    #[arg(value_parser = clap::value_parser!(u32).range(1..=skiff_check::chapters::LAST as i64))]
    chapter: u32,
    /// The binary to check [default: target/debug/chNN-* of this workspace]
    #[arg(long, value_name = "PATH")]
    bin: Option<PathBuf>,
    /// For a compose binary (chapter 7): the engine it is built on, which
    /// the checks of the chapters below run [default: the chapter below's
    /// binary beside it]
    #[arg(long, value_name = "PATH")]
    engine: Option<PathBuf>,
}

fn main() {
    let cli = Cli::parse();
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skiff-check: the chapter binaries need root: run it with sudo");
        std::process::exit(2);
    }
    let bin = match cli
        .bin
        .clone()
        .map(Ok)
        .unwrap_or_else(|| default_bin(cli.chapter))
    {
        Ok(bin) => bin,
        Err(error) => {
            eprintln!("skiff-check: {error}");
            std::process::exit(2);
        }
    };
    let target = match Target::with_engine(&bin, cli.engine.as_deref()) {
        Ok(target) => target,
        Err(error) => {
            eprintln!("skiff-check: {error}");
            std::process::exit(2);
        }
    };
    println!(
        "checking {} against chapters 1-{}",
        bin.display(),
        cli.chapter
    );
    if target.checks_below_on_engine() {
        println!(
            "(a compose binary: the checks below chapter 7 run {})",
            target.bin().display()
        );
    }
    let outcomes = skiff_check::run(&target, cli.chapter, |outcome| {
        println!("{}", outcome.line());
    });
    drop(target);
    let failed = outcomes.iter().filter(|o| !o.passed()).count();
    if failed == 0 {
        println!("all {} checks passed", outcomes.len());
    } else {
        println!("{failed} of {} checks failed", outcomes.len());
        std::process::exit(1);
    }
}

/// `target/debug/chNN-NAME` of the workspace around the current directory
/// (or `$CARGO_TARGET_DIR/debug/...`).
fn default_bin(chapter: u32) -> Result<PathBuf, String> {
    let cwd = std::env::current_dir().map_err(|e| format!("the current directory: {e}"))?;
    let workspace = cwd
        .ancestors()
        .find(|dir| is_workspace(dir))
        .ok_or("not inside a skiff workspace: give the binary with --bin PATH")?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let chapters = workspace.join("chapters");
    let prefix = format!("{chapter:02}-");
    let entries =
        std::fs::read_dir(&chapters).map_err(|e| format!("{}: {e}", chapters.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(topic) = name.strip_prefix(&prefix) {
            let bin = target.join("debug").join(format!("ch{chapter:02}-{topic}"));
            return if bin.exists() {
                Ok(bin)
            } else {
                Err(format!(
                    "{} is missing: build it with `cargo build -p ch{chapter:02}-{topic}`",
                    bin.display()
                ))
            };
        }
    }
    Err(format!("{} has no chapter {chapter}", chapters.display()))
}

fn is_workspace(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|t| t.contains("[workspace]"))
}
