//! Builds chapter 1's binary as a static executable: `--init` puts it in
//! the container as its PID 1 (what docker's `docker-init` is).
//!
//! The container's root filesystem has no C library of ours, so the init
//! must be linked statically: `-C target-feature=+crt-static`. That flag
//! cannot be given to one crate of a build (for the whole workspace it
//! breaks proc-macro crates), but `cargo rustc` gives extra flags to the
//! final crate only; the dependencies, compiled as position-independent
//! code, link into a static-pie executable. So this script runs cargo on
//! chapter 1, in a target directory of its own, and hands the result's
//! path to the crate, which embeds it.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest.join("../..");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for path in [
        "chapters/01-process/src",
        "chapters/01-process/Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo::rerun-if-changed={}", workspace.join(path).display());
    }
    let target = out.join("init-target");
    let status = Command::new(cargo)
        .arg("rustc")
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .args(["-p", "ch01-process", "--bin", "ch01-process", "--release"])
        .arg("--target-dir")
        .arg(&target)
        .args([
            "--",
            "-C",
            "target-feature=+crt-static",
            "-C",
            "strip=symbols",
        ])
        // The flags of this build are not the init's.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .expect("run cargo for the static init");
    assert!(
        status.success(),
        "building the static init (chapter 1's binary) failed"
    );
    println!(
        "cargo::rustc-env=SKIFF_INIT_BINARY={}",
        target.join("release/ch01-process").display()
    );
}
