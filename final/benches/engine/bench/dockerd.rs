//! A dockerd of the bench's own, which touches nothing of the host's.
//!
//! - containerd with a config of its own: root, state and sockets in the
//!   bench's directory, the CRI plugin off;
//! - dockerd with its own data root, exec root, pid file, socket and config
//!   file, no default bridge, no iptables, no IP forwarding, and
//!   containers in a cgroup parent named for this run. User networks
//!   (compose's) still work: each is a bridge of the host's with no
//!   rules, removed with the network; docker-proxy serves published ports
//!   on 127.0.0.1;
//! - both in a private mount namespace of their own (`unshare`, then
//!   `nsenter` for dockerd, which must see containerd's mounts) where
//!   tmpfs hide the paths they write to whatever their flags say:
//!   `/run/containerd` (containerd 1.6 puts shim sockets in
//!   `/run/containerd/s`, and the runc shim keeps runc's state in
//!   `/run/containerd/runc`) and `/etc/docker` (dockerd 20.10 writes its
//!   `key.json` there). Their mounts, container root filesystems included,
//!   stay in that namespace and vanish with it.
//!
//! On drop: containers removed, dockerd and containerd stopped by their
//! pids, shims left in the namespace killed, the cgroup parent emptied and
//! removed.

use super::process::{self, Cli};
use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// What the comparison needs, and the Debian package that brings each.
const TOOLS: [(&str, &str); 6] = [
    ("dockerd", "docker.io"),
    ("containerd", "containerd"),
    ("containerd-shim-runc-v2", "containerd"),
    ("runc", "runc"),
    ("unshare", "util-linux"),
    ("nsenter", "util-linux"),
];

/// The paths the daemons write to regardless of their flags: hidden under
/// a tmpfs in their mount namespace.
const HIDDEN: [&str; 2] = ["/run/containerd", "/etc/docker"];

pub struct Dockerd {
    dir: PathBuf,
    containerd: Option<Child>,
    dockerd: Option<Child>,
    /// `mnt:[INODE]`: the mount namespace both daemons (and their shims) run in.
    namespace: Option<String>,
    /// Mount points the bench had to create on the host, removed at the end.
    created: Vec<PathBuf>,
    /// The cgroup parent of the containers: `skiff-bench-PID`.
    cgroup_parent: String,
    /// The docker CLI pointed at this dockerd.
    pub cli: Cli,
}

impl Dockerd {
    /// containerd, then dockerd, once dockerd answers.
    pub fn start(dir: &Path, docker_cli: &Path) -> Result<Dockerd> {
        let mut tools = Vec::new();
        for (tool, package) in TOOLS {
            tools.push(find_tool(tool).with_context(|| {
                format!("{tool} is missing: install Debian's {package} (scripts/bench-engine does)")
            })?);
        }
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        let mut dockerd = Dockerd {
            dir: dir.to_path_buf(),
            containerd: None,
            dockerd: None,
            namespace: None,
            created: Vec::new(),
            cgroup_parent: format!("skiff-bench-{}", std::process::id()),
            cli: Cli::new(
                docker_cli,
                &dir.join("docker.sock"),
                &dir.join("cli-config"),
            ),
        };
        dockerd.start_containerd()?;
        dockerd.start_dockerd(&tools[0])?;
        Ok(dockerd)
    }

    /// Another client (docker-compose) pointed at this dockerd.
    pub fn client(&self, program: &Path) -> Cli {
        Cli::new(
            program,
            &self.dir.join("docker.sock"),
            &self.dir.join("cli-config"),
        )
    }

    /// The daemons' pids: dockerd, containerd.
    pub fn pids(&self) -> Vec<i32> {
        [&self.dockerd, &self.containerd]
            .into_iter()
            .flatten()
            .map(|child| child.id() as i32)
            .collect()
    }

    fn start_containerd(&mut self) -> Result<()> {
        let dir = &self.dir;
        let config = dir.join("containerd.toml");
        std::fs::write(
            &config,
            format!(
                "version = 2\nroot = \"{root}\"\nstate = \"{state}\"\n\
                 disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
                 [grpc]\n  address = \"{grpc}\"\n\
                 [ttrpc]\n  address = \"{ttrpc}\"\n\
                 [debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n",
                root = dir.join("containerd/root").display(),
                state = dir.join("containerd/state").display(),
                grpc = dir.join("containerd.sock").display(),
                ttrpc = dir.join("containerd-ttrpc.sock").display(),
            ),
        )?;
        for path in HIDDEN {
            let path = Path::new(path);
            if !path.exists() {
                std::fs::create_dir(path)
                    .with_context(|| format!("create the mount point {}", path.display()))?;
                self.created.push(path.to_path_buf());
            }
        }
        // One shell line, run in the new namespace: a tmpfs over each hidden
        // path, then exec containerd (same pid as `unshare`: no fork).
        let mounts: String = (0..HIDDEN.len())
            .map(|n| format!("mount -t tmpfs -o mode=0711 skiff-bench \"${}\" && ", n + 2))
            .collect();
        let script = format!("{mounts}exec containerd --config \"$1\"");
        let log_path = dir.join("containerd.log");
        let log = std::fs::File::create(&log_path)?;
        let containerd = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg(&script)
            .arg("sh")
            .arg(&config)
            .args(HIDDEN)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .context("start containerd")?;
        let containerd = self.containerd.insert(containerd);
        let socket = dir.join("containerd.sock");
        process::wait_until(
            "containerd",
            containerd,
            &log_path,
            Duration::from_secs(30),
            || socket.exists(),
        )?;
        let theirs = std::fs::read_link(format!("/proc/{}/ns/mnt", containerd.id()))?;
        let ours = std::fs::read_link("/proc/self/ns/mnt")?;
        if theirs == ours {
            bail!("containerd runs in the host's mount namespace: unshare did not isolate it");
        }
        self.namespace = Some(theirs.to_string_lossy().into_owned());
        Ok(())
    }

    fn start_dockerd(&mut self, dockerd: &Path) -> Result<()> {
        let dir = &self.dir;
        std::fs::write(dir.join("daemon.json"), "{}\n")?;
        let containerd = self.containerd.as_ref().expect("containerd started");
        let log_path = dir.join("dockerd.log");
        let log = std::fs::File::create(&log_path)?;
        let path = |name: &str| dir.join(name).display().to_string();
        let process = Command::new("nsenter")
            .arg(format!("--mount=/proc/{}/ns/mnt", containerd.id()))
            .arg("--")
            .arg(dockerd)
            .args([
                &format!("--config-file={}", path("daemon.json")),
                &format!("--data-root={}", path("docker")),
                &format!("--exec-root={}", path("exec")),
                &format!("--pidfile={}", path("docker.pid")),
                &format!("--host=unix://{}", path("docker.sock")),
                &format!("--containerd={}", path("containerd.sock")),
                &format!("--cgroup-parent={}", self.cgroup_parent),
                "--iptables=false",
                "--ip6tables=false",
                "--ip-forward=false",
                "--ip-masq=false",
                "--bridge=none",
                "--storage-driver=overlay2",
                "--log-level=warn",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .context("start dockerd")?;
        let process = self.dockerd.insert(process);
        let cli = self.cli.clone();
        process::wait_until(
            "dockerd",
            process,
            &log_path,
            Duration::from_secs(60),
            || {
                cli.command(&["version"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|status| status.success())
            },
        )
    }

    /// Kills what is left in the daemons' mount namespace: shims outlive
    /// containerd, and only the bench's own processes are in there.
    fn kill_namespace_leftovers(&self) {
        let Some(namespace) = &self.namespace else {
            return;
        };
        for _ in 0..20 {
            let left = processes_in_namespace(namespace);
            if left.is_empty() {
                return;
            }
            for pid in left {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("bench: processes are still in dockerd's mount namespace {namespace}");
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        if let Some(dockerd) = self.dockerd.as_mut() {
            if process::running(dockerd) {
                super::skiffd::remove_all_containers(&self.cli);
            }
            process::stop(dockerd, Duration::from_secs(30));
        }
        if let Some(containerd) = self.containerd.as_mut() {
            process::stop(containerd, Duration::from_secs(15));
        }
        self.kill_namespace_leftovers();
        remove_cgroup_trees(&self.cgroup_parent);
        for path in self.created.iter().rev() {
            if let Err(error) = std::fs::remove_dir(path) {
                eprintln!("bench: could not remove {}: {error}", path.display());
            }
        }
    }
}

/// `tool` in the usual places of the PATH.
fn find_tool(tool: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"])
        .map(|dir| Path::new(dir).join(tool))
        .find(|candidate| candidate.is_file())
}

/// The processes whose mount namespace is `namespace` (`mnt:[INODE]`).
fn processes_in_namespace(namespace: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
                .is_ok_and(|link| link.to_string_lossy() == namespace)
        })
        .collect()
}

/// Empties and removes the cgroup `name` (the containers' parent, made by
/// dockerd for this run) in every hierarchy: v1 controllers, the hybrid
/// layout's unified mount, or a v2 root. Nothing else is touched.
fn remove_cgroup_trees(name: &str) {
    let mut roots = vec![PathBuf::from("/sys/fs/cgroup")];
    if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
        roots.extend(
            entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path()),
        );
    }
    for root in roots {
        let tree = root.join(name);
        if !tree.is_dir() {
            continue;
        }
        let dirs = directories_deepest_first(&tree);
        for _ in 0..50 {
            for dir in &dirs {
                let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
                for pid in procs.lines().filter_map(|line| line.parse().ok()) {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
                let _ = std::fs::remove_dir(dir);
            }
            if !tree.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if tree.exists() {
            eprintln!("bench: could not remove the cgroup {}", tree.display());
        }
    }
}

fn directories_deepest_first(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                found.extend(directories_deepest_first(&entry.path()));
            }
        }
    }
    found.push(dir.to_path_buf());
    found
}
