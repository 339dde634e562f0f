//! The test harness shared by every chapter's tests.
//!
//! - [`probe`]: the path of the static probe program (built by `build.rs`).
//! - [`rootfs`]: a busybox root filesystem with the probe, for containers.
//! - [`transcript`]: run a chapter binary as a learner would and record
//!   what the terminal shows, for snapshots and for the book; [`terminal`]
//!   runs a command on a pseudo-terminal, for output that differs there.
//! - [`guest`]: run a test binary in a cgroup2-only Linux guest under qemu,
//!   for code that needs a real cgroup v2 hierarchy.
//! - [`registry`]: a real registry (Debian's `docker-registry`) on loopback,
//!   and OCI images built with umoci and pushed with skopeo.
//! - [`images`]: the images chapter 5's transcripts pull (also pushed by
//!   `scripts/lab` for learners).
//! - [`require_root`]: these tests need root and the real kernel; without
//!   them they fail loudly instead of skipping.

pub mod guest;
pub mod images;
pub mod registry;
pub mod rootfs;
pub mod terminal;
pub mod transcript;

pub use rootfs::Rootfs;
pub use transcript::{Transcript, scrub, snapshot_settings};

use std::path::{Path, PathBuf};

/// The static probe program (see `probe/src/main.rs`).
pub fn probe() -> &'static Path {
    Path::new(env!("SKIFF_PROBE"))
}

/// Fails the test unless it runs as root: the tests use namespaces, mounts,
/// cgroups and network interfaces, which need it. A skipped test would hide
/// a broken machine; a failing one says what to do.
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "these tests need root and the real kernel: run them with sudo (see README.md)"
    );
}

/// The path of a binary of the workspace, such as `ch01-process`.
///
/// Tests of one chapter use the binary of the chapter below for their
/// "before" transcripts. `cargo test --workspace` builds every binary before
/// it runs any test; after `cargo test -p chNN-...` alone, build the others
/// first with `cargo build --workspace`.
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/debug/deps/test-binary -> target/debug
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace` first (or `cargo test --workspace`)",
        path.display()
    );
    path
}

/// Runs `command` to its end: (stdout, stderr, exit code; -1 if a signal
/// ended it).
pub fn output(mut command: std::process::Command) -> (String, String, i32) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("run {command:?}: {e}"));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// Fails unless no mount of this process's mount namespace (the host's, for
/// a test) lies under `dir`: nothing leaked out of a container's own mount
/// namespace, and nothing a test mounted stayed behind.
pub fn assert_no_mounts_under(dir: &Path) {
    let table = std::fs::read_to_string("/proc/self/mountinfo").expect("read /proc/self/mountinfo");
    let dir = dir.to_string_lossy();
    let leaked: Vec<_> = table
        .lines()
        .filter(|line| line.contains(dir.as_ref()))
        .collect();
    assert!(
        leaked.is_empty(),
        "mounts left on the host:\n{}",
        leaked.join("\n")
    );
}

/// `name` made unique to this test process, for names that are machine-wide
/// (cgroups, containers).
pub fn unique(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

/// The id of the container named `name` in the records under `root` (the
/// `--root` of a chapter binary), read from the record files themselves.
pub fn container_id(root: &Path, name: &str) -> Option<String> {
    let entries = std::fs::read_dir(root.join("containers")).ok()?;
    entries.flatten().find_map(|entry| {
        let text = std::fs::read_to_string(entry.path().join("record.json")).ok()?;
        let record: serde_json::Value = serde_json::from_str(&text).ok()?;
        (record["spec"]["name"] == name).then(|| record["spec"]["id"].as_str().map(String::from))?
    })
}

/// The cgroup directories named `id` under `skiff/`, in every hierarchy.
pub fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        let dir = entry.path().join("skiff").join(id);
        if dir.exists() {
            found.push(dir);
        }
    }
    let unified = PathBuf::from("/sys/fs/cgroup/skiff").join(id);
    if unified.exists() {
        found.push(unified);
    }
    found
}
