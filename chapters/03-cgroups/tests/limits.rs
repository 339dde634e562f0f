//! Chapter 3, driven as a learner drives it: limits enforced, stats, OOM, pause.

use ch03_cgroups::{Layout, Version};
use skiff_testkit::{
    Rootfs, Transcript, cgroup_dirs, container_id, output, require_root, scrub, snapshot_settings,
    workspace_bin,
};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ch03-cgroups");

fn ch03(rootfs: &Rootfs, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .current_dir(rootfs.workdir())
        .env("SKIFF_ROOT", state(rootfs))
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    command
}

/// Where the tests keep the records: `state/` beside `rootfs/`.
fn state(rootfs: &Rootfs) -> PathBuf {
    rootfs.workdir().join("state")
}

/// `ch03-cgroups run --rootfs rootfs [FLAGS] -- COMMAND...`
fn run_in(rootfs: &Rootfs, flags: &[&str], command: &[&str]) -> Command {
    let mut args = vec!["run", "--rootfs", "rootfs"];
    args.extend(flags);
    args.push("--");
    args.extend(command);
    ch03(rootfs, &args)
}

/// The cgroup directories of the container `name`.
fn cgroups_of(rootfs: &Rootfs, name: &str) -> Vec<PathBuf> {
    let id = container_id(&state(rootfs), name)
        .unwrap_or_else(|| panic!("no record of container {name}"));
    cgroup_dirs(&id)
}

fn assert_cgroup_removed(rootfs: &Rootfs, name: &str) {
    let left = cgroups_of(rootfs, name);
    assert!(left.is_empty(), "cgroups left behind: {left:?}");
}

/// A named container running in the background; killed and reaped on drop.
struct Running {
    engine: Child,
    output: Option<BufReader<ChildStdout>>,
    name: String,
    cgroups: Vec<PathBuf>,
    workdir: PathBuf,
    /// The command line, as a learner types it.
    shown: String,
}

impl Running {
    /// Starts the container; returns once it printed its first line (kept
    /// for [`Running::line`]), so that its cgroup exists.
    fn start(rootfs: &Rootfs, name: &str, flags: &[&str], command: &[&str]) -> Running {
        let mut all = vec!["--name", name];
        all.extend(flags);
        let mut run = run_in(rootfs, &all, command);
        let shown = skiff_testkit::transcript::command_line(&run);
        let mut engine = run
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut output = BufReader::new(engine.stdout.take().unwrap());
        let _ = output.fill_buf();
        Running {
            engine,
            output: Some(output),
            name: name.to_string(),
            cgroups: cgroups_of(rootfs, name),
            workdir: rootfs.workdir().to_path_buf(),
            shown,
        }
    }

    /// Starts the container with its output going to the file `log` beside
    /// `rootfs/` (`... > LOG &`, as a learner keeps a chatty background job
    /// quiet); returns once the file has a first line.
    fn start_logged(
        rootfs: &Rootfs,
        name: &str,
        flags: &[&str],
        command: &[&str],
        log: &str,
    ) -> Running {
        let mut all = vec!["--name", name];
        all.extend(flags);
        let mut run = run_in(rootfs, &all, command);
        let shown = format!("{} > {log}", skiff_testkit::transcript::command_line(&run));
        let path = rootfs.workdir().join(log);
        let engine = run
            .stdout(std::fs::File::create(&path).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut running = Running {
            engine,
            output: None,
            name: name.to_string(),
            cgroups: Vec::new(),
            workdir: rootfs.workdir().to_path_buf(),
            shown,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while running.logged_lines() == 0 {
            assert!(Instant::now() < deadline, "{name} printed nothing to {log}");
            std::thread::sleep(Duration::from_millis(20));
        }
        running.cgroups = cgroups_of(rootfs, name);
        running
    }

    /// How many lines the container wrote to its log so far.
    fn logged_lines(&self) -> usize {
        let log = self.shown.rsplit("> ").next().unwrap_or_default();
        std::fs::read_to_string(self.workdir.join(log))
            .unwrap_or_default()
            .lines()
            .count()
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        let output = self
            .output
            .as_mut()
            .expect("a container started with start()");
        output.read_line(&mut line).unwrap();
        line.trim().to_string()
    }

    /// The cgroup file `file` of the first hierarchy that has it.
    fn cgroup_file(&self, file: &str) -> String {
        self.cgroups
            .iter()
            .find_map(|dir| std::fs::read_to_string(dir.join(file)).ok())
            .unwrap_or_else(|| panic!("no {file} for {}", self.name))
    }

    /// The CPU quota in microseconds per period: `cpu.max` ("QUOTA
    /// PERIOD") on v2, `cpu.cfs_quota_us` on v1.
    fn cpu_quota(&self) -> String {
        match version() {
            Version::V2 => self.cgroup_file("cpu.max"),
            Version::V1 => self.cgroup_file("cpu.cfs_quota_us"),
        }
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
    }

    /// Whether the freezer holds the container: `frozen 1` in
    /// `cgroup.events` on v2, `FROZEN` in `freezer.state` on v1.
    fn frozen(&self) -> bool {
        match version() {
            Version::V2 => self.cgroup_file("cgroup.events").contains("frozen 1"),
            Version::V1 => self.cgroup_file("freezer.state").trim() == "FROZEN",
        }
    }
}

/// This machine's cgroup version: the tests pass on both layouts.
fn version() -> Version {
    Layout::detect()
        .expect("detect this machine's cgroup layout")
        .version()
}

/// What `ps` shows that changes from run to run.
const PS_FILTERS: &[(&str, &str)] = &[
    (r"^[0-9a-f]{12}$", "[SHORT ID]"),
    (r"(Less than a second|\d+ seconds?)( ago)?", "[WHEN]"),
];

impl Drop for Running {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.engine.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = self.engine.wait();
        // The engine was killed before it could clean up: the container died
        // with it; `rm` removes what it left, so a failing test leaves
        // nothing behind either.
        let _ = Command::new(BIN)
            .args(["rm", "-f", &self.name])
            .env("SKIFF_ROOT", self.workdir.join("state"))
            .output();
    }
}

#[test]
fn transcript_a_memory_hog_before_and_after() {
    require_root();
    let rootfs = Rootfs::busybox();
    let mut t = Transcript::new();
    t.comment("chapter 2: no limit, the hog takes what it asks for");
    // With the learner's SKIFF_ROOT, and `--rm`: the `ps -a` below lists
    // the records of both chapters' binaries, and this one leaves none.
    let mut ch02 = Command::new(workspace_bin("ch02-namespaces"));
    ch02.args([
        "run", "--rm", "--rootfs", "rootfs", "--", "probe", "hog", "64",
    ])
    .current_dir(rootfs.workdir())
    .env("SKIFF_ROOT", state(&rootfs))
    .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    let before = t.run(&mut ch02);
    assert_eq!(before.code, 0);
    t.comment("chapter 3: 32 MiB and no swap; the kernel's OOM killer ends it");
    let after = t.run(&mut run_in(
        &rootfs,
        &["--name", "hog", "--memory", "32m"],
        &["probe", "hog", "64"],
    ));
    assert_eq!(after.code, 137, "{}", after.output);
    assert!(after.output.contains("OOM-killed"), "{}", after.output);
    t.run(&mut ch03(&rootfs, &["ps", "-a"]));
    let text = scrub(t.text(), PS_FILTERS);
    snapshot_settings().bind(|| insta::assert_snapshot!("oom", text));
    assert_cgroup_removed(&rootfs, "hog");
}

#[test]
fn a_fork_loop_stops_at_the_pids_limit() {
    require_root();
    let rootfs = Rootfs::busybox();
    let name = "forks";
    let (out, stderr, code) = output(run_in(
        &rootfs,
        &["--name", name, "--pids-limit", "10"],
        &["probe", "forks", "50"],
    ));
    assert_eq!(code, 0, "{stderr}");
    // The probe itself is one task: nine more fit.
    assert_eq!(out.trim(), "started 9 of 50: fork: EAGAIN");
    assert_cgroup_removed(&rootfs, name);
}

#[test]
fn a_cpu_quota_shows_as_throttling() {
    require_root();
    let rootfs = Rootfs::busybox();
    let mut running = Running::start(
        &rootfs,
        "spin",
        &["--cpus", "0.2"],
        &["sh", "-c", "echo ready; exec probe spin 3"],
    );
    assert_eq!(running.line(), "ready");
    std::thread::sleep(Duration::from_millis(1500));
    let stat = running.cgroup_file("cpu.stat");
    let throttled: u64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("nr_throttled "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no nr_throttled in cpu.stat:\n{stat}"));
    assert!(
        throttled > 0,
        "a 0.2-cpu container spinning for 1.5 s was never throttled:\n{stat}"
    );
    assert_eq!(running.cpu_quota(), "20000");
}

#[test]
fn cpuset_shows_in_the_affinity() {
    require_root();
    let rootfs = Rootfs::busybox();
    let (out, stderr, code) = output(run_in(&rootfs, &["--cpuset-cpus", "1"], &["probe", "cpus"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(out, "cpus: 1\n");
}

#[test]
fn transcript_pause_stats_unpause() {
    require_root();
    let rootfs = Rootfs::busybox();
    let name = "counter";
    let running = Running::start_logged(
        &rootfs,
        name,
        &["--memory", "64m", "--pids-limit", "20"],
        &["probe", "count"],
        "count.log",
    );

    let mut t = Transcript::new();
    t.background(&running.shown, "");
    let paused = t.run(&mut ch03(&rootfs, &["pause", name]));
    assert_eq!(paused.code, 0, "{}", paused.output);
    t.run(&mut ch03(&rootfs, &["stats", "--no-stream", name]));
    t.run(&mut ch03(&rootfs, &["ps"]));

    // A paused container makes no progress: its counter stops.
    assert!(running.frozen(), "the freezer does not hold the container");
    let before = lines_within(&running, Duration::from_millis(600));
    assert!(
        before <= 1,
        "the container kept counting while paused ({before} lines)"
    );

    t.run(&mut ch03(&rootfs, &["unpause", name]));
    let resumed = lines_within(&running, Duration::from_millis(600));
    assert!(
        resumed >= 3,
        "the container did not resume ({resumed} lines in 600 ms)"
    );
    let removed = t.run(&mut ch03(&rootfs, &["rm", "-f", name]));
    assert_eq!(removed.code, 0, "{}", removed.output);

    let mut filters = PS_FILTERS.to_vec();
    filters.push((r"^\d+\.\d+%$", "[N]%"));
    filters.push((r"^\d+(\.\d+)?(B|KiB|MiB) / ", "[USAGE] / "));
    let text = scrub(t.text(), &filters);
    snapshot_settings().bind(|| insta::assert_snapshot!("pause_stats", text));
    let cgroups = running.cgroups.clone();
    drop(running);
    assert!(
        cgroups.iter().all(|dir| !dir.exists()),
        "cgroups left: {cgroups:?}"
    );
}

/// How many lines the container adds to its log within `window`.
fn lines_within(running: &Running, window: Duration) -> usize {
    let before = running.logged_lines();
    std::thread::sleep(window);
    running.logged_lines() - before
}

#[test]
fn the_cgroup_is_the_containers_root_and_goes_away() {
    require_root();
    let rootfs = Rootfs::busybox();
    let name = "ns";
    let (out, stderr, code) = output(run_in(
        &rootfs,
        &["--name", name, "--memory", "16m"],
        &["probe", "cgroup"],
    ));
    assert_eq!(code, 0, "{stderr}");
    // Seen from inside, through its cgroup namespace, the container's cgroup is /.
    for line in out.lines() {
        assert!(
            line.ends_with(":/"),
            "the container sees the host's cgroup tree: {line}"
        );
    }
    assert_cgroup_removed(&rootfs, name);
}

#[test]
fn transcript_errors() {
    require_root();
    let rootfs = Rootfs::busybox();
    let mut running = Running::start(
        &rootfs,
        "taken",
        &[],
        &["sh", "-c", "echo ready; exec sleep 30"],
    );
    assert_eq!(running.line(), "ready");

    let mut t = Transcript::new();
    t.background(&running.shown, "ready\n");
    t.run(&mut run_in(&rootfs, &["--memory", "64x"], &["true"]));
    t.run(&mut run_in(&rootfs, &["--memory", "1m"], &["true"]));
    t.run(&mut run_in(&rootfs, &["--cpus", "zero"], &["true"]));
    t.run(&mut run_in(&rootfs, &["--name", "taken"], &["true"]));
    t.run(&mut ch03(&rootfs, &["pause", "no-such-container"]));
    assert_eq!(
        t.text().matches("$ echo $?\n125\n").count(),
        5,
        "{}",
        t.text()
    );
    // The refused run left the running container with its name alone.
    assert!(running.engine.try_wait().unwrap().is_none());
    let cgroups = running.cgroups.clone();
    assert!(!cgroups.is_empty());
    // Only the running container has a record: the refused runs left none.
    let records = std::fs::read_dir(state(&rootfs).join("containers"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("record.json").exists())
        .count();
    assert_eq!(records, 1, "the refused runs left records");
    let removed = t.run(&mut ch03(&rootfs, &["rm", "-f", "taken"]));
    assert_eq!(removed.code, 0, "{}", removed.output);
    let text = scrub(
        t.text(),
        &[(r"container [0-9a-f]{12}", "container [SHORT ID]")],
    );
    snapshot_settings().bind(|| insta::assert_snapshot!("errors", text));
    drop(running);
    assert!(
        cgroups.iter().all(|dir| !dir.exists()),
        "cgroups left: {cgroups:?}"
    );
}

#[test]
fn exec_joins_the_containers_cgroups_and_cannot_escape_its_limits() {
    require_root();
    let rootfs = Rootfs::busybox();
    let mut running = Running::start(
        &rootfs,
        "limited",
        &["--pids-limit", "5"],
        &["sh", "-c", "echo ready; exec sleep 1000"],
    );
    assert_eq!(running.line(), "ready");
    // One task runs (sleep); the probe started by exec is a second, and
    // three more fit. (Its paused children outlive it in the container, as
    // in docker, and keep its stdout open: it goes to a file, not a pipe.)
    let report = rootfs.workdir().join("forks.txt");
    let status = ch03(&rootfs, &["exec", "limited", "probe", "forks", "10"])
        .stdout(std::fs::File::create(&report).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let out = std::fs::read_to_string(&report).unwrap();
    assert_eq!(out.trim(), "started 3 of 10: fork: EAGAIN");
    // The exec'd process was in every cgroup of the container.
    let (out, _, _) = output(ch03(
        &rootfs,
        &["exec", "limited", "cat", "/proc/self/cgroup"],
    ));
    for line in out.lines().filter(|l| !l.contains("name=")) {
        assert!(
            line.ends_with(":/"),
            "exec is outside the container's cgroup: {line}"
        );
    }
}

/// The container's process is in its cgroup in every hierarchy (on v1 it
/// moves itself in, on v2 the parent moves it), seen from the host.
#[test]
fn the_container_is_in_its_cgroup_in_every_hierarchy() {
    require_root();
    let rootfs = Rootfs::busybox();
    let mut running = Running::start(
        &rootfs,
        "joined",
        &["--memory", "64m"],
        &["sh", "-c", "echo ready; exec sleep 1000"],
    );
    assert_eq!(running.line(), "ready");
    let dirs = cgroups_of(&rootfs, "joined");
    assert!(!dirs.is_empty());
    for dir in &dirs {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap();
        assert_eq!(
            procs.lines().count(),
            1,
            "{} holds {procs:?}, not the container's one process",
            dir.display()
        );
    }
}

#[test]
fn a_failed_start_leaves_no_cgroup_and_no_record() {
    require_root();
    let rootfs = Rootfs::busybox();
    let (_, stderr, code) = output(ch03(
        &rootfs,
        &[
            "--explain",
            "run",
            "--rootfs",
            "rootfs",
            "--name",
            "broken",
            "--memory",
            "64m",
            "--",
            "no-such-command",
        ],
    ));
    assert_eq!(code, 127, "{stderr}");
    assert!(
        container_id(&state(&rootfs), "broken").is_none(),
        "a record was left"
    );
    // Its id, from the narration of its directory's creation.
    let id = stderr
        .lines()
        .find_map(|l| l.split("/containers/").nth(1))
        .map(|rest| rest[..64].to_string())
        .unwrap_or_else(|| panic!("no container directory in:\n{stderr}"));
    assert!(stderr.contains("mkdir"), "{stderr}");
    assert!(cgroup_dirs(&id).is_empty(), "a cgroup was left");
}
