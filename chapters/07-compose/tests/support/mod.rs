//! What the tests of the `ch07-compose` binary share: an engine root with
//! the image `busybox` in it (pulled from a registry on loopback: busybox
//! and the probe), project directories, `up` run in the background with
//! its output in a file, and a check that nothing is left afterwards.
//!
//! Every test has a root of its own, so a default bridge of its own and
//! its own container names; published ports are chosen free.

#![allow(dead_code)]

use ch02_namespaces::Engine;
use ch07_compose::engine::ComposeEngine;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use skiff_testkit::Transcript;
use skiff_testkit::registry::{OciLayout, Registry, RegistryAuth};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_ch07-compose");

/// busybox with the probe, `Cmd` sh.
fn image() -> OciLayout {
    let layout = OciLayout::new("v1");
    layout.add_layer(skiff_testkit::rootfs::build_busybox_rootfs);
    layout.configure(&["--config.cmd=sh"]);
    layout
}

/// An engine root with `busybox:latest` in it.
pub struct Setup {
    pub dir: tempfile::TempDir,
    registry: Registry,
    layout: OciLayout,
}

impl Setup {
    pub fn new() -> Setup {
        skiff_testkit::require_root();
        let registry = Registry::start(RegistryAuth::Open);
        let layout = image();
        registry.push(&layout.path(), "v1", "test/busybox");
        let setup = Setup {
            dir: tempfile::Builder::new()
                .prefix("skiff-compose-")
                .tempdir()
                .unwrap(),
            registry,
            layout,
        };
        let remote = format!("{}/test/busybox:v1", setup.registry.host());
        let engine = setup.engine();
        ch05_images::verbs::pull(engine.images(), &remote).expect("pull busybox");
        ch05_images::verbs::tag(engine.images(), &remote, "busybox").expect("tag busybox");
        std::fs::create_dir_all(setup.projects()).unwrap();
        setup
    }

    /// The registry on loopback, which holds `test/busybox:v1`.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Pushes the busybox image as `repository:v1`, which the engine has
    /// not pulled; its full name.
    pub fn push_fresh(&self, repository: &str) -> String {
        self.registry.push(&self.layout.path(), "v1", repository);
        format!("{}/{repository}:v1", self.registry.host())
    }

    /// The engine's root directory.
    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Where the projects' directories are.
    pub fn projects(&self) -> PathBuf {
        self.dir.path().join("projects")
    }

    /// The engine, as the binary opens it.
    pub fn engine(&self) -> ComposeEngine {
        ComposeEngine::open(&self.state()).expect("engine")
    }

    /// A project directory `name` with `compose.yaml` holding `yaml`.
    pub fn project(&self, name: &str, yaml: &str) -> PathBuf {
        let dir = self.projects().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("compose.yaml"), yaml).unwrap();
        dir
    }

    /// `ch07-compose ARGS...` in directory `dir`.
    pub fn compose(&self, dir: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .current_dir(dir)
            .env("SKIFF_ROOT", self.state())
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env_remove("COMPOSE_PROJECT_NAME")
            .env_remove("COMPOSE_FILE")
            .args(args);
        command
    }

    /// Runs `ch07-compose ARGS...` in `dir` to its end: (output, code).
    pub fn output(&self, dir: &Path, args: &[&str]) -> (String, i32) {
        let outcome = skiff_testkit::transcript::run_combined(&mut self.compose(dir, args), None);
        (outcome.output, outcome.code)
    }

    /// Runs `ch07-compose ARGS...` in `dir` into `t`, shown as typed.
    pub fn run(&self, t: &mut Transcript, dir: &Path, args: &[&str]) -> (String, i32) {
        let shown =
            skiff_testkit::transcript::command_line(Command::new("ch07-compose").args(args));
        let outcome = t.run_shown(&shown, &mut self.compose(dir, args), None);
        (outcome.output, outcome.code)
    }

    /// Starts `ch07-compose ARGS...` (an `up`) in the background.
    pub fn background(&self, dir: &Path, args: &[&str]) -> Background {
        self.background_env(dir, args, &[])
    }

    /// [`Setup::background`], with variables in its environment.
    pub fn background_env(&self, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Background {
        let log = dir.join(format!(
            "up-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let file = std::fs::File::create(&log).unwrap();
        let child = self
            .compose(dir, args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        Background { child, log }
    }

    /// The ids of every container of the engine.
    pub fn container_ids(&self) -> Vec<String> {
        let dir = self.state().join("containers");
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().join("record.json").exists())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }

    /// The address of container `name` on its network.
    pub fn address_of(&self, name: &str) -> std::net::Ipv4Addr {
        let engine = self.engine();
        let record = engine
            .containers()
            .find::<ch07_compose::spec::Spec>(name)
            .unwrap();
        let endpoint =
            ch06_network::attachment::find_endpoint(engine.network().networks(), record.id())
                .unwrap()
                .expect("an endpoint");
        endpoint.address.expect("an address")
    }

    /// Fails unless nothing of the containers `ids` and the networks
    /// `networks` (their ids) is left: no record, no cgroup, no veth, no
    /// bridge, no nftables rule, no mount, no process on this root.
    pub fn assert_nothing_left(&self, ids: &[String], networks: &[ch06_network::Network]) {
        assert!(
            self.container_ids().is_empty(),
            "container records left: {:?}",
            self.container_ids()
        );
        let links = host_links();
        let table = ch06_network::nat::list_table()
            .expect("nft")
            .unwrap_or_default();
        for id in ids {
            assert!(
                skiff_testkit::cgroup_dirs(id).is_empty(),
                "cgroups of {id} left"
            );
            let veth = ch06_network::attachment::veth_name(id);
            assert!(!links.contains(&veth), "{veth} left");
            for network in networks {
                let veth = ch06_network::attachment::veth_name_on(id, &network.id);
                assert!(!links.contains(&veth), "{veth} left");
            }
            assert!(!table.contains(id.as_str()), "rules of {id} left:\n{table}");
            assert!(
                !self.state().join("networks/endpoints").join(id).exists(),
                "the endpoint of {id} left"
            );
        }
        for network in networks {
            assert!(!links.contains(&network.bridge), "{} left", network.bridge);
            assert!(
                !table.contains(&network.id),
                "rules of {} left",
                network.name
            );
        }
        skiff_testkit::assert_no_mounts_under(self.dir.path());
        let root = self.state().display().to_string();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            assert!(
                !cmdline.contains(&root),
                "process {:?} is left: {cmdline}",
                entry.file_name()
            );
        }
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let engine = self.engine();
        for id in self.container_ids() {
            if let Err(e) = ch02_namespaces::verbs::rm(&engine, &id, true) {
                eprintln!("cleanup: rm {id}: {e}");
            }
        }
        let store = engine.network().networks();
        if let Err(e) = ch06_network::release_orphans(store) {
            eprintln!("cleanup: release: {e}");
        }
        if let Err(e) = store.remove_all_unused() {
            eprintln!("cleanup: networks: {e}");
        }
        skiff_testkit::assert_no_mounts_under(self.dir.path());
    }
}

/// An `up` running in the background, its output in a file. Dropped
/// while it runs, it is interrupted (then killed).
pub struct Background {
    pub child: Child,
    pub log: PathBuf,
}

impl Background {
    /// What it printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until its output holds `needle`; the output.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let output = self.output();
            if output.contains(needle) {
                return output;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("up ended ({status}) before printing {needle:?}:\n{output}");
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} after {timeout:?}:\n{output}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `signal` to it.
    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }

    /// Waits for it to end (at most `timeout`): its exit code.
    pub fn wait(&mut self, timeout: Duration) -> i32 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "up still runs after {timeout:?}:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let pid = Pid::from_raw(self.child.id() as i32);
            let _ = kill(pid, Signal::SIGINT);
            std::thread::sleep(Duration::from_millis(200));
            let _ = kill(pid, Signal::SIGINT);
            let deadline = Instant::now() + Duration::from_secs(20);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
        }
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

/// A free TCP port of the loopback interface (free when asked).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` on 127.0.0.1:`port` with a minimal HTTP/1.0 client: the
/// status code and the body.
pub fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, body.to_string()))
}

/// A transcript being written: commands as typed, what they printed.
#[derive(Debug, Default)]
pub struct Session {
    pub text: String,
}

impl Session {
    /// `$ shown` and its output.
    pub fn command(&mut self, shown: &str, output: &str) {
        self.text += &format!("$ {shown}\n{output}");
        if !output.is_empty() && !output.ends_with('\n') {
            self.text.push('\n');
        }
    }

    /// A comment line.
    pub fn comment(&mut self, text: &str) {
        self.text += &format!("# {text}\n");
    }

    /// Lines as they are.
    pub fn lines(&mut self, text: &str) {
        self.text += text;
        if !text.is_empty() && !text.ends_with('\n') {
            self.text.push('\n');
        }
    }
}

/// `up`'s output with the order of concurrent events fixed, for
/// snapshots. Containers of one service start together, and stop
/// together: which one's line comes first is up to the scheduler. Between
/// two lines that only one container at a time can cause (Attaching,
/// Waiting, Healthy, Gracefully stopping, Stopping, Aborting), the lines
/// are grouped by container name, each container's lines in their own
/// order: one of the orders the program could have printed.
pub fn serialize_races(output: &str) -> String {
    let barrier = |line: &str| {
        line.starts_with("Attaching to")
            || line.starts_with("Gracefully stopping")
            || line.starts_with("Aborting")
            || line.starts_with("Killing")
            || line == "^C"
            || line.ends_with("  Waiting")
            || line.ends_with("  Healthy")
            || line.ends_with("  Stopping")
    };
    let container = |line: &str| {
        let line = line.trim_start();
        let line = line.strip_prefix("Container ").unwrap_or(line);
        line.split([' ', '|']).next().unwrap_or("").to_string()
    };
    let mut out = Vec::new();
    let mut segment: Vec<&str> = Vec::new();
    let flush = |segment: &mut Vec<&str>, out: &mut Vec<String>| {
        let mut sorted: Vec<(String, usize, &str)> = segment
            .drain(..)
            .enumerate()
            .map(|(i, l)| (container(l), i, l))
            .collect();
        sorted.sort();
        out.extend(sorted.into_iter().map(|(_, _, l)| l.to_string()));
    };
    let mut started = false;
    for line in output.lines() {
        if line.starts_with("Attaching to") {
            started = true;
        }
        if !started || barrier(line) {
            flush(&mut segment, &mut out);
            out.push(line.to_string());
        } else {
            segment.push(line);
        }
    }
    flush(&mut segment, &mut out);
    let mut text = out.join("\n");
    text.push('\n');
    text
}

/// The snapshot filters of the compose transcripts, beyond the testkit's.
pub fn settings() -> insta::Settings {
    let mut s = skiff_testkit::snapshot_settings();
    s.add_filter(r"sha256:[0-9a-f]{64}", "sha256:[IMAGE ID]");
    s.add_filter(r"\b[0-9a-f]{12}\b", "[SHORT ID]");
    s.add_filter(
        r"(Less than a second|About a minute|\d+ seconds?|About an hour|\d+ minutes?)( ago)?",
        "[WHEN]",
    );
    s
}

/// `ps` tables laid out again once their times are `[WHEN]` (a column is
/// as wide as its widest cell, which changes from run to run).
pub fn relayout_ps(text: &str) -> String {
    let when = regex::Regex::new(
        r"(Less than a second|About a minute|\d+ seconds?|About an hour|\d+ minutes?)( ago)?",
    )
    .unwrap();
    let gaps = regex::Regex::new(r"\S+( \S+)*").unwrap();
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if !line.starts_with("NAME   ") {
            out.push(line.to_string());
            continue;
        }
        // Columns start where the header's titles do, in characters (a
        // cut command ends with '…', several bytes).
        let starts: Vec<usize> = gaps
            .find_iter(line)
            .map(|m| line[..m.start()].chars().count())
            .collect();
        let cells = |row: &str| -> Vec<String> {
            let row: Vec<char> = row.chars().collect();
            starts
                .iter()
                .enumerate()
                .map(|(i, &from)| {
                    let to = starts
                        .get(i + 1)
                        .copied()
                        .unwrap_or(row.len())
                        .min(row.len());
                    let cell: String = row[from.min(row.len())..to].iter().collect();
                    when.replace_all(cell.trim(), "[WHEN]").into_owned()
                })
                .collect()
        };
        let mut rows = vec![cells(line)];
        while let Some(next) = lines.peek() {
            if next.starts_with("$ ") || next.starts_with("# ") || next.is_empty() {
                break;
            }
            rows.push(cells(next));
            lines.next();
        }
        out.push(ch01_process::shell::table(&rows).trim_end().to_string());
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}
