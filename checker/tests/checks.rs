//! The checker holds every chapter to its checks, and only to them:
//!
//! - the reference binary of each chapter passes every check;
//! - chapter N-1's binary passes the checks of the chapters below N and
//!   fails every check chapter N adds;
//! - the starter tree of chapter N builds offline, and its binary fails
//!   the checks, each with the text of a chapter-N `todo!()` (which names
//!   the book section to read). Chapter 7's binary (compose) runs no
//!   container itself: the checks below it run the chapter-6 engine it is
//!   built on, which its starter has complete, so those pass and only
//!   chapter 7's own checks stop at its `todo!()`s.
//!
//! Run as root, after `cargo build -p ch01-process -p ch02-namespaces -p
//! ch03-cgroups -p ch04-overlayfs -p ch05-images -p ch06-network -p
//! ch07-compose` (the binaries under test).

use skiff_check::{Outcome, Target};
use skiff_testkit::{require_root, workspace_bin};
use std::path::{Path, PathBuf};
use std::process::Command;

const BINARIES: [&str; 7] = [
    "ch01-process",
    "ch02-namespaces",
    "ch03-cgroups",
    "ch04-overlayfs",
    "ch05-images",
    "ch06-network",
    "ch07-compose",
];

fn outcomes(bin: &Path, chapter: u32) -> Vec<Outcome> {
    let target = Target::new(bin).unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    skiff_check::run(&target, chapter, |_| {})
}

fn report(outcomes: &[Outcome]) -> String {
    outcomes
        .iter()
        .map(Outcome::line)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_reference_binaries_pass_every_check() {
    require_root();
    for (index, name) in BINARIES.iter().enumerate() {
        let chapter = index as u32 + 1;
        let outcomes = outcomes(&workspace_bin(name), chapter);
        assert_eq!(
            outcomes.len(),
            skiff_check::checks(chapter).len(),
            "every check ran"
        );
        assert!(
            outcomes.iter().all(Outcome::passed),
            "{name} against chapters 1-{chapter}:\n{}",
            report(&outcomes)
        );
    }
}

#[test]
fn the_chapter_below_fails_exactly_the_checks_the_chapter_adds() {
    require_root();
    for chapter in 2..=skiff_check::chapters::LAST {
        let below = BINARIES[chapter as usize - 2];
        let outcomes = outcomes(&workspace_bin(below), chapter);
        let wrong: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| o.passed() == (o.chapter == chapter))
            .collect();
        assert!(
            wrong.is_empty(),
            "{below} against chapters 1-{chapter}: these should {}:\n{}\nall:\n{}",
            "pass below chapter {chapter} and fail in it",
            wrong
                .iter()
                .map(|o| o.line())
                .collect::<Vec<_>>()
                .join("\n"),
            report(&outcomes)
        );
    }
}

/// Where the starters are built: one target directory beside ours, so
/// that the crates they share are built once.
fn starter_target() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/debug/deps/checks-HASH -> target/starters
    exe.ancestors()
        .nth(3)
        .expect("the target directory")
        .join("starters")
}

fn source_workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

#[test]
fn each_starter_builds_offline_and_fails_at_its_todos() {
    require_root();
    let target = starter_target();
    for (index, name) in BINARIES.iter().enumerate() {
        let chapter = index as u32 + 1;
        let dir = tempfile::Builder::new()
            .prefix("skiff-starter-")
            .tempdir()
            .expect("tempdir");
        let starter = skiff_starter::write_starter(&source_workspace(), chapter, dir.path())
            .unwrap_or_else(|e| panic!("starter {chapter}: {e}"));
        assert!(!starter.todos.is_empty());
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let built = Command::new(cargo)
            .args(["build", "--offline", "--quiet", "-p", name])
            .current_dir(dir.path())
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("RUSTFLAGS")
            .status()
            .expect("run cargo");
        assert!(
            built.success(),
            "the starter of chapter {chapter} does not build"
        );
        let bin = target.join("debug").join(name);
        // A compose binary runs no container itself: the checks below run
        // the engine it is built on, the chapter below's binary beside it.
        let compose = skiff_check::compose::is_compose(&bin);
        if compose {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let built = Command::new(cargo)
                .args(["build", "--offline", "--quiet", "-p", BINARIES[index - 1]])
                .current_dir(dir.path())
                .env("CARGO_TARGET_DIR", &target)
                .env_remove("RUSTFLAGS")
                .status()
                .expect("run cargo");
            assert!(
                built.success(),
                "the starter's chapter {} does not build",
                chapter - 1
            );
        }

        let outcomes = outcomes(&bin, chapter);
        let todo = format!("not yet implemented: ch{chapter:02}-");
        // Every run goes through chapter N's code, so the checks below
        // stop at the same todo!() as the chapter's own. Under a compose
        // binary they run the engine below, complete in the starter: they
        // pass, and only the chapter's own checks stop at its todo!()s.
        let wrong: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| {
                if compose && o.chapter < chapter {
                    !o.passed()
                } else {
                    o.failure.as_ref().is_none_or(|why| !why.contains(&todo))
                }
            })
            .collect();
        assert!(
            wrong.is_empty(),
            "the starter of chapter {chapter}: these do not fail at a todo!() of the chapter (or, under a compose binary, fail below it):\n{}",
            wrong
                .iter()
                .map(|o| o.line())
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(
            outcomes
                .iter()
                .any(|o| o.failure.as_ref().is_some_and(|w| w.contains("(book: "))),
            "the todo!() texts name the book's sections"
        );
    }
}
