//! The binary's `config` prints what the library resolves: the `config`
//! transcripts of the book (made through the library in
//! `config_real_world.rs` and `example_app.rs`) are what a learner sees.
//! `config` needs no engine: it reads files only.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ch07-compose");

/// The YAML part of a `config` snapshot: after its command line and any
/// warning, up to the plan (when the snapshot has one).
fn snapshot_yaml(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.snap"));
    let text = std::fs::read_to_string(path).unwrap();
    let body = text.splitn(3, "---\n").nth(2).unwrap();
    body.lines()
        .skip(1)
        .skip_while(|l| l.starts_with("warning: "))
        .take_while(|l| !l.is_empty() && !l.starts_with("$ "))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `ch07-compose config` in a copy of `from`, named like it, with `env`.
fn config(from: &Path, name: &str, env: &[(&str, &str)]) -> String {
    let root = tempfile::Builder::new().prefix("skiff-").tempdir().unwrap();
    let dir = root.path().join(name);
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success());
    let out = Command::new(BIN)
        .arg("config")
        .current_dir(&dir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // The snapshots show /tmp/skiff-* paths as [TMP].
    let text = String::from_utf8(out.stdout).unwrap();
    let tmp = regex::Regex::new(r"/tmp/skiff-[A-Za-z0-9_-]+").unwrap();
    tmp.replace_all(&text, "[TMP]").into_owned()
}

#[test]
fn the_binary_prints_what_the_library_resolves() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixtures = manifest.join("tests/fixtures");
    assert_eq!(
        config(&manifest.join("examples/app"), "app", &[]),
        snapshot_yaml("example_app")
    );
    assert_eq!(
        config(
            &fixtures.join("interpolation"),
            "interpolation",
            &[("PORT", "9090"), ("FROM_SHELL", "yes")]
        ),
        snapshot_yaml("config_interpolation")
    );
    for name in ["anchors", "mixed-syntax", "classic"] {
        let snapshot = format!("config_{}", name.replace('-', "_"));
        assert_eq!(
            config(&fixtures.join(name), name, &[]),
            snapshot_yaml(&snapshot),
            "{name}"
        );
    }
}
