//! `NetworkMode::Joined`: the child enters a network namespace that a step
//! opened in `prepare` (chapter 6's `--network container:NAME`), instead of
//! getting a new one.
//!
//! Without libtest's harness: the run path refuses a multi-threaded process
//! (chapter 2's rule for creating containers), and the harness runs each
//! test on a thread of its own.

use ch01_process::ProcessSpec;
use ch02_namespaces::caps::CapSet;
use ch02_namespaces::namespaces::{Isolation, NetworkMode};
use ch02_namespaces::records::{Containers, new_id};
use ch02_namespaces::seccomp::SeccompMode;
use ch02_namespaces::userns::DEFAULT_MAP;
use ch02_namespaces::{Engine, Spec, Step, StepError};
use skiff_testkit::{Rootfs, output, require_root};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};

/// A process alone in a new network namespace, with a veth pair of its
/// own in it. Not our child: the supervisor waits for *every* child of its
/// process before it returns (it is PID 1's stand-in), so the neighbour is
/// started by `setsid -f`, which forks it away, and found by its pid file.
struct Neighbour {
    pid: i32,
    _dir: tempfile::TempDir,
}

impl Neighbour {
    fn start() -> Neighbour {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!(
            "ip link add probe0 type veth peer name probe1 && echo $$ > {} && exec sleep 600",
            pid_file.display()
        );
        let status = Command::new("setsid")
            .args(["-f", "unshare", "--net", "sh", "-c", &script])
            .stdin(Stdio::null())
            .status()
            .expect("setsid -f unshare --net");
        assert!(status.success(), "setsid: {status}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let pid = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|text| text.trim().parse::<i32>().ok());
            if let Some(pid) = pid
                && std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .unwrap_or_default()
                    .trim()
                    == "sleep"
            {
                return Neighbour { pid, _dir: dir };
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the neighbour did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    fn netns_path(&self) -> String {
        format!("/proc/{}/ns/net", self.pid)
    }
}

impl Drop for Neighbour {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// The step under test: opens the neighbour's namespace in `prepare`.
struct JoinStep {
    path: String,
    netns: Option<OwnedFd>,
}

impl Step for JoinStep {
    fn prepare(&mut self) -> Result<(), StepError> {
        let file = File::open(&self.path).map_err(|e| StepError::new("open netns", e))?;
        self.netns = Some(file.into());
        Ok(())
    }

    fn network_namespace(&self) -> Option<BorrowedFd<'_>> {
        self.netns.as_ref().map(AsFd::as_fd)
    }
}

struct JoinEngine {
    containers: Containers,
    path: String,
}

impl Engine for JoinEngine {
    type Spec = Spec;
    type Steps = JoinStep;

    fn containers(&self) -> &Containers {
        &self.containers
    }

    fn steps(&self, _spec: &Spec) -> JoinStep {
        JoinStep {
            path: self.path.clone(),
            netns: None,
        }
    }
}

fn spec(rootfs: &Rootfs, network: NetworkMode, script: &str) -> Spec {
    let id = new_id();
    Spec {
        name: String::new(),
        hostname: id[..12].to_string(),
        rootfs: rootfs.path().to_path_buf(),
        process: ProcessSpec {
            argv: ["sh", "-c", script].map(String::from).to_vec(),
            env: vec!["PATH=/bin".to_string()],
            ..ProcessSpec::default()
        },
        isolation: Isolation {
            network,
            ..Isolation::default()
        },
        caps: CapSet::docker_default(),
        no_new_privileges: false,
        seccomp: SeccompMode::Default,
        id_map: DEFAULT_MAP,
        stop_timeout: None,
        auto_remove: true,
        init: false,
        cap_sets: None,
        filesystem: Default::default(),
        id,
    }
}

fn main() {
    require_root();
    let neighbour = Neighbour::start();
    let root = tempfile::tempdir().unwrap();
    let rootfs = Rootfs::busybox();
    let engine = JoinEngine {
        containers: Containers::open(root.path()).unwrap(),
        path: neighbour.netns_path(),
    };
    let expected = std::fs::metadata(neighbour.netns_path()).unwrap().ino();

    // Joined: the neighbour's namespace, its link in /sys, no new one.
    let script = "stat -L -c %i /proc/self/ns/net > /out; ls /sys/class/net >> /out";
    let exit = ch02_namespaces::run::run(&engine, spec(&rootfs, NetworkMode::Joined, script), None)
        .expect("run a container in the joined netns");
    assert_eq!(exit.code(), 0);
    let seen = std::fs::read_to_string(rootfs.join("out")).unwrap();
    let mut lines = seen.lines();
    assert_eq!(lines.next(), Some(expected.to_string().as_str()), "{seen}");
    let links: Vec<&str> = lines.collect();
    assert!(
        links.contains(&"probe0"),
        "the neighbour's link is in view: {links:?}"
    );

    // Not joined: a new, empty namespace (the step's descriptor is unused).
    let exit = ch02_namespaces::run::run(&engine, spec(&rootfs, NetworkMode::None, script), None)
        .expect("run a container in a new netns");
    assert_eq!(exit.code(), 0);
    let seen = std::fs::read_to_string(rootfs.join("out")).unwrap();
    assert_ne!(seen.lines().next(), Some(expected.to_string().as_str()));
    assert!(!seen.contains("probe0"), "{seen}");

    // With a user namespace, refused before anything is created.
    let mut userns = spec(&rootfs, NetworkMode::Joined, "true");
    userns.isolation.userns = true;
    let refused = ch02_namespaces::run::run(&engine, userns, None).unwrap_err();
    assert!(refused.to_string().contains("drop --userns"), "{refused}");

    let (links, _, _) = output({
        let mut c = Command::new("nsenter");
        c.args(["-t", &neighbour.pid.to_string(), "-n", "ip", "-o", "link"]);
        c
    });
    assert!(
        links.contains("probe0"),
        "the neighbour keeps its namespace: {links}"
    );
    skiff_testkit::assert_no_mounts_under(rootfs.workdir());
    println!("test a_step_s_network_namespace_is_joined_by_the_child ... ok");
}
