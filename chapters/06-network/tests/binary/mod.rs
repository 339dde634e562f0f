//! What the tests of the `ch06-network` binary share: an engine root with a
//! busybox image in it (pulled from a registry on loopback and tagged
//! `busybox`, so transcripts read as a learner's), containers started in
//! the background, and a cleanup that leaves nothing on the machine.
//!
//! Every test has a root of its own, so a default network of its own, on a
//! bridge named after the root (`skiff0-` and 8 hex digits, see
//! `StoreConfig::for_root`): tests never touch `skiff0`.

#![allow(dead_code)]

use ch06_network::store::{Network, NetworkStore};
use ch06_network::subnet::Subnet;
use skiff_testkit::Transcript;
use skiff_testkit::registry::{OciLayout, Registry, RegistryAuth};
use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_ch06-network");

/// busybox with the probe, `Cmd` sh.
fn image() -> OciLayout {
    let layout = OciLayout::new("v1");
    layout.add_layer(skiff_testkit::rootfs::build_busybox_rootfs);
    layout.configure(&["--config.cmd=sh"]);
    layout
}

/// An engine root with the image `busybox` in it.
pub struct Setup {
    pub dir: tempfile::TempDir,
    registry: Registry,
    /// Every network seen so far, in the order they appeared.
    seen: RefCell<Vec<Network>>,
}

impl Setup {
    pub fn new() -> Setup {
        skiff_testkit::require_root();
        let registry = Registry::start(RegistryAuth::Open);
        registry.push(&image().path(), "v1", "test/busybox");
        let setup = Setup {
            dir: tempfile::Builder::new()
                .prefix("skiff-net-")
                .tempdir()
                .unwrap(),
            registry,
            seen: RefCell::new(Vec::new()),
        };
        let remote = format!("{}/test/busybox:v1", setup.registry.host());
        for args in [
            vec!["pull", remote.as_str()],
            vec!["tag", &remote, "busybox"],
        ] {
            let out = setup.ch06(&args).output().unwrap();
            assert!(out.status.success(), "{args:?}: {out:?}");
        }
        setup
    }

    /// Adds the image `name`: busybox with one more layer, made by `change`.
    pub fn add_image(&self, name: &str, change: impl FnOnce(&Path)) {
        let layout = image();
        layout.add_layer(change);
        let repository = format!("test/{name}");
        self.registry.push(&layout.path(), "v1", &repository);
        let remote = format!("{}/{repository}:v1", self.registry.host());
        for args in [vec!["pull", remote.as_str()], vec!["tag", &remote, name]] {
            let out = self.ch06(&args).output().unwrap();
            assert!(out.status.success(), "{args:?}: {out:?}");
        }
    }

    /// The engine's root directory.
    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// The engine's network store, as the binary opens it.
    pub fn networks(&self) -> NetworkStore {
        NetworkStore::open(&self.state())
    }

    /// `ch06-network ARGS...` on this root.
    pub fn ch06(&self, args: &[&str]) -> Command {
        command(BIN, &self.state(), args)
    }

    /// `BIN ARGS...` (another chapter's binary) on this root.
    pub fn other(&self, bin: &Path, args: &[&str]) -> Command {
        command(bin, &self.state(), args)
    }

    /// Runs `ch06-network ARGS...` into `t`, shown as a learner types it.
    pub fn run(&self, t: &mut Transcript, args: &[&str]) -> skiff_testkit::transcript::Outcome {
        self.run_bin(t, "ch06-network", BIN.as_ref(), args)
    }

    /// Runs `BIN ARGS...` (shown as `NAME ARGS...`) into `t`.
    pub fn run_bin(
        &self,
        t: &mut Transcript,
        name: &str,
        bin: &Path,
        args: &[&str],
    ) -> skiff_testkit::transcript::Outcome {
        self.remember_networks();
        let shown = skiff_testkit::transcript::command_line(Command::new(name).args(args));
        let outcome = t.run_shown(&shown, &mut self.other(bin, args), None);
        self.remember_networks();
        outcome
    }

    /// Notes the networks that exist now, for [`Setup::canonical`].
    pub fn remember_networks(&self) {
        let mut seen = self.seen.borrow_mut();
        for network in self.networks().list().unwrap_or_default() {
            if !seen.iter().any(|n| n.id == network.id) {
                seen.push(network);
            }
        }
    }

    /// The network called `name` (it must exist).
    pub fn network(&self, name: &str) -> Network {
        self.remember_networks();
        self.networks().get(name).expect("network")
    }

    /// `text` as a learner on a fresh machine would see it: the subnets
    /// the engine chose for this test's networks (another test may hold the
    /// first ones of the pools meanwhile) become those first ones: the
    /// default network 10.201.0.0/16, the user networks 10.202.0.0/24,
    /// 10.202.1.0/24... in the order they appeared; the addresses in them
    /// move along. Subnets given with --subnet are kept.
    pub fn canonical(&self, text: &str) -> String {
        self.remember_networks();
        // The resolvers a container gets from the host differ from machine
        // to machine, in address and in number: the host's own (one or
        // more), or docker's two fallbacks when the host has none a
        // container can reach (no /etc/resolv.conf, or systemd-resolved's
        // 127.0.0.53 alone). Each run of them shows as one line.
        let host = ch06_network::files::ResolvConf::host().reachable_nameservers();
        let resolver = regex::Regex::new(r"(?m)^nameserver (\S+)\n?").unwrap();
        // Where the last host resolver's line ended: a line that starts
        // there continues the run.
        let mut run_end = None;
        let text = resolver.replace_all(text, |c: &regex::Captures<'_>| {
            let whole = c.get(0).expect("the whole match");
            let ours = c[1]
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| host.contains(&ip));
            let continues = run_end == Some(whole.start());
            run_end = ours.then_some(whole.end());
            match (ours, continues) {
                (true, true) => String::new(),
                (true, false) => {
                    let line_end = if whole.as_str().ends_with('\n') {
                        "\n"
                    } else {
                        ""
                    };
                    format!("nameserver [HOST'S RESOLVER]{line_end}")
                }
                (false, _) => whole.as_str().to_string(),
            }
        });
        let pool: Subnet = "10.202.0.0/16".parse().unwrap();
        let mut next_user = 0;
        let mut moves: Vec<(Subnet, Subnet)> = Vec::new();
        for network in self.seen.borrow().iter() {
            let shown = if network.is_default() {
                "10.201.0.0/16".parse().unwrap()
            } else if pool.contains(network.subnet.network()) && network.subnet.prefix() == 24 {
                next_user += 1;
                pool.nth_subnet(24, next_user - 1).unwrap()
            } else {
                continue;
            };
            moves.push((network.subnet, shown));
        }
        let address = regex::Regex::new(r"\b(\d+\.\d+\.\d+\.\d+)(/\d+)?\b").unwrap();
        address
            .replace_all(&text, |c: &regex::Captures<'_>| {
                let Ok(ip) = c[1].parse::<Ipv4Addr>() else {
                    return c[0].to_string();
                };
                let suffix = c.get(2).map_or("", |m| m.as_str());
                match moves.iter().find(|(from, _)| from.contains(ip)) {
                    Some((from, to)) => {
                        let offset = u32::from(ip) - u32::from(from.network());
                        let moved = Ipv4Addr::from(u32::from(to.network()) + offset);
                        // With the subnet's prefix, the new subnet's.
                        if suffix == format!("/{}", from.prefix()) {
                            format!("{moved}/{}", to.prefix())
                        } else {
                            format!("{moved}{suffix}")
                        }
                    }
                    None => c[0].to_string(),
                }
            })
            .into_owned()
    }

    /// Checks `text` (made [canonical](Setup::canonical), its `ps` tables
    /// [laid out again](relayout_ps)) against snapshot `name`, with the
    /// filters of every network transcript.
    pub fn assert_snapshot(&self, name: &str, text: &str) {
        let text = relayout_ps(&self.canonical(text));
        settings().bind(|| insta::assert_snapshot!(name, text));
    }

    /// Starts `run ARGS...` in the background and waits until the
    /// container prints `ready` (its network is plugged in by then: the
    /// container's program starts after the network step).
    pub fn background(&self, name: &str, args: &[&str]) -> Background {
        let mut all = vec!["run", "--name", name];
        all.extend(args);
        let mut child = self
            .ch06(&all)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        if line != "ready\n" {
            let _ = child.kill();
            let mut stderr = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
            let _ = child.wait();
            panic!("{name} did not start: {line:?} {stderr}");
        }
        Background {
            child,
            name: name.to_string(),
            state: self.state(),
            _stdout: stdout,
        }
    }

    /// The short id of container `name`.
    pub fn short_id(&self, name: &str) -> String {
        skiff_testkit::container_id(&self.state(), name).expect("container id")[..12].to_string()
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let state = self.state();
        if let Ok(out) = command(BIN, &state, &["ps", "-aq"]).output() {
            for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = command(BIN, &state, &["rm", "-f", id]).output();
            }
        }
        let _ = command(BIN, &state, &["network", "prune"]).output();
        // The default network lives until the engine's end: here.
        let store = self.networks();
        if let Err(e) = ch06_network::release_orphans(&store) {
            eprintln!("cleanup: release: {e}");
        }
        if let Err(e) = store.remove_all_unused() {
            eprintln!("cleanup: networks: {e}");
        }
        skiff_testkit::assert_no_mounts_under(self.dir.path());
    }
}

fn command(bin: impl AsRef<std::ffi::OsStr>, state: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(bin);
    command
        .env("SKIFF_ROOT", state)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .args(args);
    command
}

/// A container whose engine runs in the background; stopped when dropped.
pub struct Background {
    pub child: Child,
    pub name: String,
    state: PathBuf,
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Background {
    /// The engine's (the supervisor's) pid.
    pub fn supervisor(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits for the engine to end; its exit code.
    pub fn wait(mut self) -> i32 {
        self.child.wait().unwrap().code().unwrap_or(-1)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = command(BIN, &self.state, &["stop", "-t", "1", &self.name]).output();
            let deadline = Instant::now() + Duration::from_secs(15);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Ports the kernel chose (`net.ipv4.ip_local_port_range`: 32768-60999).
const EPHEMERAL: &str = r"(3[2-9]\d{3}|[45]\d{4}|60\d{3})\b";

/// `ps` tables with their times replaced by `[WHEN]` (and the ports the
/// kernel chose by `PORT`), laid out again: see the testkit's
/// [`relayout_tables`](skiff_testkit::transcript::relayout_tables).
pub fn relayout_ps(text: &str) -> String {
    let port = regex::Regex::new(&format!(r"(\d+\.\d+\.\d+\.\d+):{EPHEMERAL}")).unwrap();
    skiff_testkit::transcript::relayout_tables(text, ch01_process::shell::table, |cell| {
        port.replace_all(cell, "$1:PORT").into_owned()
    })
}

/// The snapshot filters of the network transcripts: what changes from run
/// to run, beyond the testkit's own.
pub fn settings() -> insta::Settings {
    let mut s = skiff_testkit::snapshot_settings();
    // Beside the tests, not beside this module.
    s.set_snapshot_path("../snapshots");
    s.add_filter(&format!(r"(\d+\.\d+\.\d+\.\d+):{EPHEMERAL}"), "$1:PORT");
    s.add_filter(&format!(r"host port {EPHEMERAL}"), "host port PORT");
    s.add_filter(r"skiff0-[0-9a-f]{8}", "skiff0");
    s.add_filter(r"skiff-[0-9a-f]{9}", "skiff-[NETWORK ID]");
    s.add_filter(r"veth[0-9a-f]{11}", "veth[ID]");
    s.add_filter(r"(?m)^[0-9a-f]{12}( {3,})", "[SHORT ID]  $1");
    s.add_filter(r"\b[0-9a-f]{12}\b", "[SHORT ID]");
    s.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[CREATED]");
    s.add_filter(r"fe80::[0-9a-f:]+/64", "fe80::[LINK]/64");
    s.add_filter(skiff_testkit::transcript::WHEN, "[WHEN]");
    s
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
