//! What the runtime tests share: bundles, a state root that cleans up
//! after itself, and running a runtime binary (skiff-runc, or runc).
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// skiff-runc, as cargo built it for these tests.
pub fn skiff_runc() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_skiff-runc"))
}

/// Debian's runc, installed when missing: the comparison needs it, and a
/// test that cannot have it fails rather than skips.
pub fn runc() -> PathBuf {
    let path = PathBuf::from("/usr/sbin/runc");
    if !path.exists() {
        let status = Command::new("apt-get")
            .args(["install", "-y", "runc"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
            .expect("apt-get");
        assert!(
            status.success(),
            "apt-get install runc failed: the comparison needs Debian's runc"
        );
    }
    assert!(
        path.exists(),
        "{} is missing after apt-get install runc",
        path.display()
    );
    path
}

/// A bundle: a busybox root filesystem and a config.json made from
/// skiff-runc's default configuration (runc's), changed by the test.
pub struct Bundle {
    pub rootfs: skiff_testkit::Rootfs,
    pub config: Value,
}

impl Bundle {
    /// A bundle whose process runs `args`, without a terminal, with a
    /// writable root, in the cgroup `/<parent>/<id>`.
    pub fn new(args: &[&str], parent: &str, id: &str) -> Bundle {
        let rootfs = skiff_testkit::Rootfs::busybox();
        let mut config = skiff::runc::config::default_config();
        config["process"]["terminal"] = false.into();
        config["process"]["args"] = args.iter().map(|a| Value::from(*a)).collect();
        config["root"]["readonly"] = false.into();
        config["linux"]["cgroupsPath"] = format!("/{parent}/{id}").into();
        Bundle { rootfs, config }
    }

    /// The bundle's directory (config.json is written there).
    pub fn dir(&self) -> &Path {
        self.rootfs.workdir()
    }

    pub fn write(&self) -> &Path {
        std::fs::write(
            self.dir().join("config.json"),
            serde_json::to_string_pretty(&self.config).unwrap(),
        )
        .unwrap();
        self.dir()
    }
}

/// A runtime binary with its own `--root`; on drop it force-deletes every
/// container left there and removes the cgroup parent the tests used.
pub struct Runtime {
    pub binary: PathBuf,
    pub root: tempfile::TempDir,
    /// The cgroup directory the tests put containers under.
    pub cgroup_parent: String,
}

impl Runtime {
    pub fn new(binary: PathBuf, name: &str) -> Runtime {
        skiff_testkit::require_root();
        Runtime {
            binary,
            root: tempfile::Builder::new()
                .prefix("skiff-runc-root-")
                .tempdir()
                .unwrap(),
            cgroup_parent: skiff_testkit::unique(&format!("skiff-runc-test-{name}")),
        }
    }

    /// A command of this runtime, with its root.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command.arg("--root").arg(self.root.path()).args(args);
        command
    }

    /// Runs to its end: (stdout, stderr, exit code).
    pub fn run(&self, args: &[&str]) -> (String, String, i32) {
        skiff_testkit::output(self.command(args))
    }

    /// Runs a command that may leave a container holding its stdio: its
    /// output goes to files, not to pipes we would wait on.
    pub fn run_detached(&self, args: &[&str]) -> (String, i32) {
        let err = tempfile::NamedTempFile::new().unwrap();
        let status = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err.reopen().unwrap())
            .status()
            .unwrap();
        (
            std::fs::read_to_string(err.path()).unwrap(),
            status.code().unwrap_or(-1),
        )
    }

    /// `state ID` as JSON, or None when it fails.
    pub fn state(&self, id: &str) -> Option<Value> {
        let (out, _, code) = self.run(&["state", id]);
        (code == 0).then(|| serde_json::from_str(&out).expect("state prints JSON"))
    }

    /// Waits until `state ID` says `status`.
    pub fn wait_status(&self, id: &str, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let state = self.state(id);
            if state.as_ref().is_some_and(|s| s["status"] == status) {
                return state.unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "{id} never became {status}: {state:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let (out, _, _) = self.run(&["list", "-q"]);
        for id in out.lines() {
            let _ = self.run(&["delete", "--force", id]);
        }
        remove_cgroup_parent(&self.cgroup_parent);
    }
}

/// The roots of the machine's cgroup hierarchies: `/sys/fs/cgroup` itself
/// on cgroup v2 (one tree), each directory under it on v1 and hybrid
/// machines (a tree per controller, mounted there).
pub fn hierarchies() -> Vec<PathBuf> {
    if let Ok(ch03_cgroups::Layout::Unified { root }) = ch03_cgroups::Layout::detect() {
        return vec![root];
    }
    std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .collect()
}

/// Removes `/<parent>` in every hierarchy, when empty (the containers'
/// own cgroups are gone with them).
pub fn remove_cgroup_parent(parent: &str) {
    for root in hierarchies() {
        let dir = root.join(parent);
        if dir.is_dir() {
            let _ = std::fs::remove_dir(&dir);
        }
    }
}

/// Whether any hierarchy still has `/<parent>/<id>`.
pub fn cgroup_exists(parent: &str, id: &str) -> bool {
    hierarchies()
        .iter()
        .any(|root| root.join(parent).join(id).exists())
}
