//! A skiff daemon of the test's own, on a socket and a root of its own,
//! with an image from a real registry, driven by the docker CLI and by
//! the skiff CLI.
//!
//! Everything is removed when the [`TestDaemon`] drops, also when the test
//! fails: its containers (`rm -f`, through the daemon), the daemon, and
//! the root.

#![allow(dead_code)]

use skiff_testkit::registry::{OciLayout, Registry, RegistryAuth};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The skiff binary under test.
pub const SKIFF: &str = env!("CARGO_BIN_EXE_skiff");
/// The docker CLI (28).
pub const DOCKER: &str = "/usr/local/bin/docker";

/// A running daemon, stopped (with its containers removed) on drop.
pub struct TestDaemon {
    pub dir: tempfile::TempDir,
    child: Option<Child>,
}

impl TestDaemon {
    /// Starts `skiff daemon` and waits until it answers `/_ping`.
    pub fn start() -> TestDaemon {
        skiff_testkit::require_root();
        assert!(
            Path::new(DOCKER).exists(),
            "{DOCKER} is missing: these tests drive the daemon with the docker CLI too"
        );
        let dir = tempfile::Builder::new()
            .prefix("skiff-endpoints-")
            .tempdir()
            .expect("tempdir");
        std::fs::create_dir(dir.path().join("work")).unwrap();
        std::fs::create_dir(dir.path().join("docker-config")).unwrap();
        let log = std::fs::File::create(dir.path().join("daemon.log")).unwrap();
        let child = Command::new(SKIFF)
            .arg("--root")
            .arg(dir.path().join("root"))
            .arg("-H")
            .arg(format!(
                "unix://{}",
                dir.path().join("skiff.sock").display()
            ))
            .arg("daemon")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start the daemon");
        let daemon = TestDaemon {
            dir,
            child: Some(child),
        };
        daemon.wait_until_ready();
        daemon
    }

    fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let ok = self
                .skiff(&["version"])
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the daemon did not answer:\n{}", self.log());
    }

    /// What the daemon printed.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// `unix:///tmp/.../skiff.sock`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("skiff.sock").display())
    }

    /// The engine's root.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// A directory for the test's own files (the commands run there).
    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// `skiff ARGS` against this daemon, from [`TestDaemon::work`].
    pub fn skiff(&self, args: &[&str]) -> Command {
        let mut command = Command::new(SKIFF);
        command
            .env("SKIFF_HOST", self.host())
            .env_remove("SKIFF_ROOT")
            .args(args)
            .current_dir(self.work());
        command
    }

    /// `docker ARGS` against this daemon (the legacy builder, a config
    /// directory of its own), from [`TestDaemon::work`].
    pub fn docker(&self, args: &[&str]) -> Command {
        let mut command = Command::new(DOCKER);
        command
            .env("DOCKER_HOST", self.host())
            .env("DOCKER_BUILDKIT", "0")
            .env("DOCKER_CONFIG", self.dir.path().join("docker-config"))
            .env_remove("DOCKER_CONTEXT")
            .args(args)
            .current_dir(self.work());
        command
    }

    /// Runs `command` to its end; panics unless it succeeds. Its stdout.
    pub fn ok(&self, mut command: Command) -> String {
        let out = command
            .output()
            .unwrap_or_else(|e| panic!("run {command:?}: {e}"));
        assert!(
            out.status.success(),
            "{command:?} failed: {}{}\ndaemon log:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        // The containers first: their shims outlive the daemon.
        if let Ok(out) = self.skiff(&["ps", "-aq"]).output() {
            for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = self.skiff(&["rm", "-f", id]).output();
            }
        }
        if let Some(mut child) = self.child.take() {
            // SIGTERM: the daemon stops serving and removes its socket.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        // The networks of this root (its default bridge among them), as a
        // machine that drops the whole root would have to.
        let networks = ch06_network::store::NetworkStore::open(&self.root());
        if let Err(e) = networks.remove_all_unused() {
            eprintln!("removing the test's networks: {e}");
        }
        skiff_testkit::assert_no_mounts_under(self.dir.path());
    }
}

/// busybox with the probe, `Cmd` sh, `WorkingDir` /srv, an `Env`, pushed
/// to a registry of the test's own as `REGISTRY/test/busybox:v1`.
pub struct TestImage {
    pub registry: Registry,
    pub name: String,
}

impl TestImage {
    pub fn push() -> TestImage {
        let registry = Registry::start(RegistryAuth::Open);
        let layout = OciLayout::new("v1");
        layout.add_layer(|root| {
            skiff_testkit::rootfs::build_busybox_rootfs(root);
            std::fs::create_dir_all(root.join("srv")).unwrap();
        });
        layout.configure(&[
            "--config.cmd=sh",
            "--config.env=GREETING=hello",
            "--config.workingdir=/srv",
        ]);
        registry.push(&layout.path(), "v1", "test/busybox");
        let name = format!("{}/test/busybox:v1", registry.host());
        TestImage { registry, name }
    }

    /// `127.0.0.1:PORT`, as transcripts show the registry.
    pub fn shown(&self, text: &str) -> String {
        text.replace(&self.registry.host(), "127.0.0.1:PORT")
    }
}

/// Snapshot settings for these tests: the testkit's, and image ids,
/// digests, sizes and times.
pub fn settings() -> insta::Settings {
    let mut settings = skiff_testkit::snapshot_settings();
    for (pattern, replacement) in [
        (r"127\.0\.0\.1:\d+", "127.0.0.1:PORT"),
        (r"sha256:[0-9a-f]{64}", "sha256:[DIGEST]"),
        (r"\b[0-9a-f]{12}\b", "[SHORT]"),
        (r"\.dockerfile\.[0-9a-f]+", ".dockerfile.[RANDOM]"),
        (r"\(\d+ bytes\)", "([N] bytes)"),
        (r"size: \d+", "size: [N]"),
        // The docker CLI's progress lines end with a carriage return.
        (r"\r", ""),
        (r"\d+(\.\d+)?(B|kB|MB|GB)\b", "[SIZE]"),
        (
            r"(\d+|About an?|Less than a) (second|minute|hour)s? ago",
            "[TIME] ago",
        ),
        // A table's columns are as wide as the sizes and times were.
        (r"ago +", "ago   "),
        (r"\[SIZE\] {2,}", "[SIZE]   "),
        (r"CREATED +CREATED BY", "CREATED   CREATED BY"),
    ] {
        settings.add_filter(pattern, replacement);
    }
    settings
}

/// A transcript line for `command`, with the registry's port hidden.
pub fn shown(command: &Command) -> String {
    skiff_testkit::transcript::command_line(command)
}
