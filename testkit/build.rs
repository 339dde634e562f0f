//! Builds the probe as a static executable, with one `rustc` call.
//!
//! The probe runs inside container root filesystems that have no libc of
//! their own, so it must be linked statically: `-C target-feature=+crt-static`
//! links glibc's `libc.a` into it. Cargo cannot build one crate of a workspace
//! with different flags from the others, and setting the flag for the whole
//! workspace breaks proc-macro crates; so this script compiles the probe's
//! single source file itself and hands its path to the testkit.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let source = manifest.join("../probe/src/main.rs");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("probe");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    println!("cargo::rerun-if-changed={}", source.display());
    let status = Command::new(rustc)
        .args([
            "--edition",
            "2024",
            "--crate-type",
            "bin",
            "--crate-name",
            "probe",
        ])
        .args([
            "-C",
            "opt-level=2",
            "-C",
            "target-feature=+crt-static",
            "-C",
            "strip=symbols",
        ])
        .arg(&source)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("run rustc for the probe");
    assert!(status.success(), "building the static probe failed");
    println!("cargo::rustc-env=SKIFF_PROBE={}", out.display());
}
