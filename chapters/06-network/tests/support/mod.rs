//! What the network tests share: a sandbox (a root directory and a network
//! store with a default bridge of its own), "containers" that are processes
//! in network namespaces of their own, and ways to look at the kernel.
//!
//! Every guard cleans up when dropped, also when the test fails: the
//! sandbox releases every attachment and removes every network it holds
//! (bridges, rules), a fake container is killed and reaped (its namespace,
//! and the container end of its veth pair, go with it).

#![allow(dead_code)]

use ch06_network::attachment::{self, Identity};
use ch06_network::netns::Entered;
use ch06_network::store::{NetworkSpec, NetworkStore, StoreConfig};
use nix::unistd::Pid;
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name unique to this test process and this call.
pub fn unique(tag: &str) -> String {
    format!(
        "{tag}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A root directory with its own network store, whose default network
/// lives on a bridge of its own (`skiff-t` and digits), so that tests never
/// touch `skiff0`.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub store: NetworkStore,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        skiff_testkit::require_root();
        let n = std::process::id() % 100_000 * 100 + COUNTER.fetch_add(1, Ordering::Relaxed) % 100;
        let config = StoreConfig {
            default_bridge: format!("skiff-t{n}"),
            ..StoreConfig::default()
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let store = NetworkStore::with_config(dir.path(), config);
        Sandbox { dir, store }
    }

    /// Creates a user network with a unique name.
    pub fn network(&self, tag: &str, internal: bool) -> ch06_network::store::Network {
        self.store
            .create(&NetworkSpec {
                name: unique(tag),
                internal,
                ..NetworkSpec::default()
            })
            .expect("create network")
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Err(e) = attachment::release_stale(&self.store, |_| false) {
            eprintln!("cleanup: release: {e}");
        }
        if let Err(e) = self.store.remove_all_unused() {
            eprintln!("cleanup: remove networks: {e}");
        }
    }
}

/// An identity with a random id, 64 hex digits as docker's.
pub fn identity(name: &str) -> Identity {
    let id = ch06_network::state::random_id();
    Identity {
        hostname: format!("h{name}"),
        name: name.to_string(),
        id,
    }
}

/// A process alone in a new network namespace: what a container's first
/// process is to this chapter.
pub struct FakeContainer {
    child: Child,
    pub pid: Pid,
    netns: OwnedFd,
}

impl FakeContainer {
    pub fn start() -> FakeContainer {
        // unshare(1) makes the namespace and execs sleep: one process.
        let child = Command::new("unshare")
            .args(["--net", "sleep", "600"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare --net sleep");
        let pid = Pid::from_raw(child.id() as i32);
        let own = std::fs::metadata("/proc/self/ns/net").unwrap();
        // Wait until unshare has made the namespace (the inode changes).
        let path = format!("/proc/{pid}/ns/net");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            use std::os::unix::fs::MetadataExt;
            let ns = std::fs::metadata(&path).expect("netns of the fake container");
            if ns.ino() != own.ino()
                && std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .unwrap_or_default()
                    .trim()
                    == "sleep"
            {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "unshare did not make a netns"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let netns = File::open(&path).unwrap().into();
        FakeContainer { child, pid, netns }
    }

    /// Runs a command inside the namespace: (stdout, stderr, code).
    pub fn run(&self, args: &[&str]) -> (String, String, i32) {
        let mut command = Command::new("nsenter");
        command
            .arg("-t")
            .arg(self.pid.to_string())
            .arg("-n")
            .args(args);
        skiff_testkit::output(command)
    }

    /// Runs `f` on this thread inside the namespace (sockets made in `f`
    /// stay there).
    pub fn enter<T>(&self, f: impl FnOnce() -> T) -> T {
        let _inside = Entered::enter(self.netns.as_fd()).expect("setns into the fake container");
        f()
    }

    /// Whether busybox ping reaches `address` from inside.
    pub fn pings(&self, address: &str) -> bool {
        self.run(&["busybox", "ping", "-c", "1", "-W", "2", address])
            .2
            == 0
    }
}

impl Drop for FakeContainer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The names of the host's links.
pub fn host_links() -> Vec<String> {
    let (out, _, _) = skiff_testkit::output({
        let mut c = Command::new("ip");
        c.args(["-o", "link", "show"]);
        c
    });
    out.lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect()
}

/// `nft list table inet skiff`, or "" when the table does not exist.
pub fn nft_table() -> String {
    ch06_network::nat::list_table()
        .expect("nft")
        .unwrap_or_default()
}

/// `ip -4 -o addr show dev DEV` run inside a fake container.
pub fn address_inside(container: &FakeContainer, dev: &str) -> String {
    container
        .run(&["ip", "-4", "-o", "addr", "show", "dev", dev])
        .0
}
