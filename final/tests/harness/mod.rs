//! A skiff daemon of the test's own: a temporary root and socket, an image
//! in a registry on loopback, the docker and skiff CLIs pointed at it, and
//! everything removed afterwards, also when the test fails.

#![allow(dead_code)]

use skiff_testkit::registry::{OciLayout, Registry, RegistryAuth};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const SKIFF: &str = env!("CARGO_BIN_EXE_skiff");
pub const DOCKER: &str = "/usr/local/bin/docker";

pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub process: Option<Child>,
    pub registry: Registry,
    /// `127.0.0.1:PORT/test/busybox:v1`: busybox and the probe, `Cmd` sh.
    pub image: String,
    /// The root is a tmpfs of this many bytes, mounted by the harness.
    pub tmpfs_root: Option<u64>,
}

/// busybox with the probe, a `GREETING` and `WorkingDir` /srv.
pub fn busybox_image() -> OciLayout {
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
    layout
}

impl Daemon {
    /// A daemon on a fresh root, with the busybox image in a registry.
    pub fn start() -> Daemon {
        Daemon::start_with(None)
    }

    /// A daemon whose root is a tmpfs of `bytes`: a disk that fills up
    /// without touching the machine's own.
    pub fn start_on_tmpfs(bytes: u64) -> Daemon {
        Daemon::start_with(Some(bytes))
    }

    fn start_with(tmpfs_root: Option<u64>) -> Daemon {
        skiff_testkit::require_root();
        let registry = Registry::start(RegistryAuth::Open);
        registry.push(&busybox_image().path(), "v1", "test/busybox");
        let image = format!("{}/test/busybox:v1", registry.host());
        let dir = tempfile::Builder::new()
            .prefix("skiff-engine-")
            .tempdir()
            .unwrap();
        if let Some(bytes) = tmpfs_root {
            let root = dir.path().join("root");
            std::fs::create_dir(&root).unwrap();
            let mounted = Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "skiff-test"])
                .arg(&root)
                .status()
                .unwrap();
            assert!(mounted.success(), "mount a tmpfs on {}", root.display());
        }
        let mut daemon = Daemon {
            dir,
            process: None,
            registry,
            image,
            tmpfs_root,
        };
        daemon.launch();
        daemon
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("skiff.sock")
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// Starts the daemon process and waits until it answers.
    pub fn launch(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("daemon.log")).unwrap();
        let process = Command::new(SKIFF)
            .arg("--root")
            .arg(self.root())
            .args(["-H", &self.host(), "daemon"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.process = Some(process);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.skiff(&["version"]).status.success() {
            assert!(
                Instant::now() < deadline,
                "the daemon did not answer:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the daemon with SIGKILL: its containers must not notice.
    pub fn kill9(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut command = Command::new(program);
        command
            .args(args)
            .env("DOCKER_HOST", self.host())
            .env("SKIFF_HOST", self.host())
            .env("DOCKER_CONFIG", self.dir.path().join("docker-config"))
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        command
    }

    /// `docker ARGS` against this daemon.
    pub fn docker_command(&self, args: &[&str]) -> Command {
        self.command(DOCKER, args)
    }

    /// `skiff ARGS` against this daemon.
    pub fn skiff_command(&self, args: &[&str]) -> Command {
        self.command(SKIFF, args)
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        run_with_deadline(self.docker_command(args))
    }

    pub fn skiff(&self, args: &[&str]) -> Output {
        run_with_deadline(self.skiff_command(args))
    }

    /// Pulls the test image.
    pub fn pull(&self) {
        let out = self.skiff(&["pull", &self.image]);
        assert!(out.status.success(), "{}", text(&out));
    }
}

/// Runs `command`, killing it (SIGKILL: `docker run` forwards SIGTERM to
/// its container instead of dying) if it takes more than a minute.
pub fn run_with_deadline(mut command: Command) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let done = done.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if Instant::now() > deadline {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid as i32),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let output = child.wait_with_output().unwrap();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = watchdog.join();
    output
}

/// stdout then stderr, for messages.
pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

impl Drop for Daemon {
    /// Removes every container (through the daemon, which releases their
    /// cgroups and layers), then stops the daemon.
    fn drop(&mut self) {
        if self.process.is_none() && self.socket().exists() {
            self.launch();
        }
        if self.process.is_some() {
            let ids = self.skiff(&["ps", "-aq"]);
            for id in stdout(&ids).lines() {
                let _ = self.skiff(&["rm", "-f", id]);
            }
        }
        if let Some(mut process) = self.process.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(process.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = process.wait();
        }
        // The networks of this root (its default bridge among them), as
        // a machine that drops the whole root would have to.
        let networks = ch06_network::store::NetworkStore::open(&self.root());
        if let Err(e) = networks.remove_all_unused() {
            eprintln!("removing the test's networks: {e}");
        }
        if self.tmpfs_root.is_some() {
            let _ = Command::new("umount").arg(self.root()).status();
        }
        skiff_testkit::assert_no_mounts_under(self.dir.path());
    }
}

/// Snapshot filters for what changes between runs.
pub fn settings(daemon: &Daemon) -> insta::Settings {
    let mut s = skiff_testkit::snapshot_settings();
    s.add_filter(&regex_escape(&daemon.registry.host()), "127.0.0.1:PORT");
    s.add_filter(r"(?m)^[0-9a-f]{12}( +)", "[ID]        $1");
    s.add_filter(r"sha256:[0-9a-f]{64}", "sha256:[DIGEST]");
    s.add_filter(r"\b[0-9a-f]{64}\b", "[ID]");
    s.add_filter(
        r"(Less than a second|About a minute|About an hour|\d+ (seconds?|minutes?|hours?))( ago)?",
        "[WHEN]",
    );
    s
}

pub fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

/// Waits until `check` holds (polling), or fails with `what`.
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn exists(path: &Path) -> bool {
    path.exists()
}
