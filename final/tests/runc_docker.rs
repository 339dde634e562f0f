//! dockerd drives skiff-runc: Debian's dockerd (docker.io), started for the
//! test with `--add-runtime skiff=skiff-runc`, its own data and exec roots
//! and socket, and no network changes on the host (no bridge, no
//! iptables), runs `docker run --runtime skiff`: through its containerd
//! and `containerd-shim-runc-v2`, with docker's own config.json (its
//! seccomp profile, capabilities, device rules, `/docker/<id>` cgroups).

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::skiff_runc;

/// A dockerd of our own; on drop: its containers removed, dockerd stopped
/// (it stops the containerd it started), docker's cgroup parent removed.
struct Dockerd {
    dir: tempfile::TempDir,
    daemon: Child,
}

impl Dockerd {
    fn start() -> Dockerd {
        skiff_testkit::require_root();
        if !Path::new("/usr/sbin/dockerd").exists() {
            let status = Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends", "docker.io"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdout(Stdio::null())
                .status()
                .expect("apt-get");
            assert!(
                status.success(),
                "apt-get install docker.io failed: this test needs dockerd"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("skiff-dk-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        let log = std::fs::File::create(d.join("dockerd.log")).unwrap();
        let daemon = Command::new("/usr/sbin/dockerd")
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}/d.sock", d.display()))
            .args(["--bridge=none", "--iptables=false", "--ip6tables=false"])
            .args(["--ip-forward=false", "--ip-masq=false"])
            .arg(format!("--add-runtime=skiff={}", skiff_runc().display()))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start dockerd");
        let dockerd = Dockerd { dir, daemon };
        let deadline = Instant::now() + Duration::from_secs(60);
        while dockerd.docker(&["version"]).2 != 0 {
            assert!(
                Instant::now() < deadline,
                "dockerd did not start: {}",
                dockerd.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        dockerd
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }

    /// Debian's docker CLI on our socket, killed after a minute.
    fn docker(&self, args: &[&str]) -> (String, String, i32) {
        let mut command = Command::new("timeout");
        command
            .args(["-s", "KILL", "60", "/usr/bin/docker"])
            .args(args)
            .env(
                "DOCKER_HOST",
                format!("unix://{}/d.sock", self.dir.path().display()),
            )
            .stdin(Stdio::null());
        skiff_testkit::output(command)
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let (ids, _, _) = self.docker(&["ps", "-aq"]);
        for id in ids.lines() {
            let _ = self.docker(&["rm", "-f", id]);
        }
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.daemon.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.daemon.wait();
        support::remove_cgroup_parent("docker");
        skiff_testkit::assert_no_mounts_under(self.dir.path());
    }
}

#[test]
fn docker_runs_containers_with_skiff_runc() {
    let dockerd = Dockerd::start();
    // An image from the busybox root filesystem, with docker import.
    let rootfs = skiff_testkit::Rootfs::busybox();
    let tar = dockerd.dir.path().join("rootfs.tar");
    let status = Command::new("tar")
        .arg("-C")
        .arg(rootfs.path())
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let (_, err, code) = dockerd.docker(&["import", tar.to_str().unwrap(), "skiff/bb"]);
    assert_eq!(code, 0, "{err}");

    let run = ["run", "--runtime", "skiff", "--network", "none"];
    let (out, err, code) = dockerd.docker(
        &[
            &run[..],
            &["--rm", "--memory", "64m", "skiff/bb", "sh", "-c"],
            // The container's memory limit under the names of either
            // cgroup layout: v2 (one directory) or v1 (one per controller).
            &["{ cat /sys/fs/cgroup/memory.max || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; } 2>/dev/null; \
               grep CapEff /proc/self/status; exit 3"],
        ]
        .concat(),
    );
    assert_eq!(
        (out.as_str(), code),
        ("67108864\nCapEff:\t00000000a80425fb\n", 3),
        "{err}\n{}",
        dockerd.log()
    );

    let (_, err, code) = dockerd.docker(
        &[
            &run[..],
            &["-d", "--name", "bg", "skiff/bb", "sleep", "300"],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    let (out, err, code) = dockerd.docker(&["exec", "bg", "sh", "-c", "echo exec; exit 4"]);
    assert_eq!((out.as_str(), code), ("exec\n", 4), "{err}");
    let (out, _, code) = dockerd.docker(&["stop", "-t", "1", "bg"]);
    assert_eq!((out.as_str(), code), ("bg\n", 0));
    let (out, _, _) = dockerd.docker(&["inspect", "-f", "{{.State.ExitCode}}", "bg"]);
    assert_eq!(
        out, "137\n",
        "sleep as pid 1 ignores SIGTERM, and stop kills it"
    );
    assert_eq!(dockerd.docker(&["rm", "bg"]).2, 0);
}
