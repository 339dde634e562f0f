//! containerd drives skiff-runc: Debian's containerd, started for the test
//! on sockets of its own, runs containers through its
//! `containerd-shim-runc-v2` with `ctr run --runc-binary skiff-runc`, from
//! an image made here with umoci from the busybox root filesystem and
//! imported with `ctr image import` (no registry, no network).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::skiff_runc;

/// Installs a Debian package when its program is missing; a test that
/// cannot have it fails.
fn ensure(program: &str, package: &str) {
    if Path::new(program).exists() {
        return;
    }
    let status = Command::new("apt-get")
        .args(["install", "-y", package])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(Stdio::null())
        .status()
        .expect("apt-get");
    assert!(
        status.success(),
        "apt-get install {package} failed: this test needs {program}"
    );
}

/// A containerd of our own; on drop: every task and container of our
/// namespace removed, containerd stopped, the shim's runc root and the
/// cgroup parent of the namespace removed.
struct Containerd {
    dir: tempfile::TempDir,
    daemon: Child,
    namespace: String,
}

impl Containerd {
    fn start() -> Containerd {
        skiff_testkit::require_root();
        ensure("/usr/bin/containerd", "containerd");
        ensure("/usr/bin/umoci", "umoci");
        let dir = tempfile::Builder::new()
            .prefix("skiff-ctrd-")
            .tempdir()
            .unwrap();
        let d = dir.path().display();
        let config = format!(
            r#"version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{d}/c.sock"
[ttrpc]
  address = "{d}/c.sock.ttrpc"
[debug]
  address = "{d}/debug.sock"
"#
        );
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("containerd.log")).unwrap();
        let daemon = Command::new("/usr/bin/containerd")
            .arg("--config")
            .arg(dir.path().join("config.toml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start containerd");
        let ctrd = Containerd {
            dir,
            daemon,
            namespace: skiff_testkit::unique("skiff-test"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while ctrd.ctr(&["version"]).2 != 0 {
            assert!(
                Instant::now() < deadline,
                "containerd did not start: {}",
                ctrd.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        ctrd
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    /// `ctr` on our socket and namespace, killed after a minute.
    fn ctr(&self, args: &[&str]) -> (String, String, i32) {
        let mut command = Command::new("timeout");
        command
            .args(["-s", "KILL", "60", "ctr", "--address"])
            .arg(self.dir.path().join("c.sock"))
            .args(["--namespace", &self.namespace])
            .args(args)
            .stdin(Stdio::null());
        skiff_testkit::output(command)
    }

    /// Imports the busybox root filesystem as the image `skiff/bb:bb`.
    fn import_busybox(&self) -> &'static str {
        let rootfs = skiff_testkit::Rootfs::busybox();
        let layout = self.dir.path().join("layout");
        let image = format!("{}:bb", layout.display());
        let umoci = |args: &[&str]| {
            let (_, err, code) = skiff_testkit::output({
                let mut c = Command::new("umoci");
                c.args(args);
                c
            });
            assert_eq!(code, 0, "umoci {args:?}: {err}");
        };
        umoci(&["init", "--layout", layout.to_str().unwrap()]);
        umoci(&["new", "--image", &image]);
        umoci(&[
            "insert",
            "--image",
            &image,
            rootfs.path().to_str().unwrap(),
            "/",
        ]);
        umoci(&["config", "--image", &image, "--config.cmd", "sh"]);
        let tar = self.dir.path().join("image.tar");
        let status = Command::new("tar")
            .arg("-C")
            .arg(&layout)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .unwrap();
        assert!(status.success());
        let (_, err, code) = self.ctr(&[
            "image",
            "import",
            "--base-name",
            "skiff/bb",
            tar.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "ctr image import: {err}");
        "skiff/bb:bb"
    }

    /// Waits until `ctr task ls` shows task `id` in `status`.
    fn wait_task(&self, id: &str, status: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (out, _, _) = self.ctr(&["task", "ls"]);
            if out
                .lines()
                .any(|l| l.starts_with(id) && l.ends_with(status))
            {
                return;
            }
            assert!(Instant::now() < deadline, "task {id} never {status}: {out}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let (tasks, _, _) = self.ctr(&["task", "ls", "-q"]);
        for task in tasks.lines() {
            let _ = self.ctr(&["task", "kill", "-s", "KILL", task]);
            let _ = self.ctr(&["task", "delete", "--force", task]);
        }
        let (containers, _, _) = self.ctr(&["container", "ls", "-q"]);
        for container in containers.lines() {
            let _ = self.ctr(&["container", "delete", container]);
        }
        let (images, _, _) = self.ctr(&["image", "ls", "-q"]);
        for image in images.lines() {
            let _ = self.ctr(&["image", "rm", image]);
        }
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.daemon.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.daemon.wait();
        // The shim's runc root for our namespace, and ctr's cgroup parent.
        let _ =
            std::fs::remove_dir_all(PathBuf::from("/run/containerd/runc").join(&self.namespace));
        support::remove_cgroup_parent(&self.namespace);
        skiff_testkit::assert_no_mounts_under(self.dir.path());
    }
}

#[test]
fn ctr_runs_containers_with_skiff_runc() {
    let ctrd = Containerd::start();
    let image = ctrd.import_busybox();
    let runtime = skiff_runc();
    let runtime = runtime.to_str().unwrap();

    // A container in the foreground: its output, and its exit code.
    let (out, err, code) = ctrd.ctr(&[
        "run",
        "--rm",
        "--runc-binary",
        runtime,
        image,
        "fg",
        "sh",
        "-c",
        "echo hello from skiff-runc; cat /proc/1/comm; exit 3",
    ]);
    assert_eq!(
        (out.as_str(), code),
        ("hello from skiff-runc\nsh\n", 3),
        "{err}\n{}",
        ctrd.log()
    );

    // Detached: exec into it, list its processes, kill it, delete it.
    let (_, err, code) = ctrd.ctr(&[
        "run",
        "-d",
        "--runc-binary",
        runtime,
        image,
        "bg",
        "sleep",
        "300",
    ]);
    assert_eq!(code, 0, "{err}");
    ctrd.wait_task("bg", "RUNNING");
    let (out, err, code) = ctrd.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        "bg",
        "sh",
        "-c",
        "echo in bg; exit 4",
    ]);
    assert_eq!((out.as_str(), code), ("in bg\n", 4), "{err}");
    let (out, _, code) = ctrd.ctr(&["task", "ps", "bg"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 2, "one process: {out}");
    let (_, err, code) = ctrd.ctr(&["task", "kill", "-s", "KILL", "bg"]);
    assert_eq!(code, 0, "{err}");
    ctrd.wait_task("bg", "STOPPED");
    assert_eq!(ctrd.ctr(&["task", "delete", "bg"]).2, 0);
    assert_eq!(ctrd.ctr(&["container", "delete", "bg"]).2, 0);
    let (out, _, _) = ctrd.ctr(&["task", "ls", "-q"]);
    assert_eq!(out, "");
}
