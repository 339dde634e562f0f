//! The engine's promises when processes die: the daemon, a shim; and when
//! clients crowd it.

mod harness;

use harness::{Daemon, eventually, stdout, text};
use std::collections::BTreeSet;

/// The pids of the shims of the running containers, by name.
fn shim_of(daemon: &Daemon, name: &str) -> i32 {
    let id = skiff_testkit::container_id(&daemon.root(), name).expect("a record");
    let record: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            daemon
                .root()
                .join("containers")
                .join(id)
                .join("record.json"),
        )
        .unwrap(),
    )
    .unwrap();
    record["state"]["supervisor"]["pid"]
        .as_i64()
        .expect("a supervisor") as i32
}

// ANCHOR: daemon_killed
#[test]
fn fifty_containers_survive_a_daemon_killed_with_sigkill() {
    let mut daemon = Daemon::start();
    daemon.pull();
    for n in 0..50 {
        let name = format!("c{n:02}");
        let out = daemon.skiff(&[
            "run",
            "-d",
            "--name",
            &name,
            &daemon.image,
            "sh",
            "-c",
            "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done",
        ]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let running = |daemon: &Daemon| stdout(&daemon.skiff(&["ps", "-q"])).lines().count();
    assert_eq!(running(&daemon), 50);

    daemon.kill9();
    daemon.launch();

    assert_eq!(running(&daemon), 50, "containers were lost with the daemon");
    // Their logs went on meanwhile, and keep going.
    let ticks = |name: &str| stdout(&daemon.skiff(&["logs", name])).lines().count();
    let before = ticks("c07");
    eventually("c07's log to grow", || ticks("c07") > before);
    let exec = daemon.skiff(&["exec", "c42", "sh", "-c", "echo still here"]);
    assert_eq!(stdout(&exec), "still here\n", "{}", text(&exec));
    let stop = daemon.skiff(&["stop", "-t", "1", "c13"]);
    assert!(stop.status.success(), "{}", text(&stop));
    assert_eq!(running(&daemon), 49);
}
// ANCHOR_END: daemon_killed

#[test]
fn a_killed_shim_stops_its_container_and_the_restart_policy_applies() {
    let daemon = Daemon::start();
    daemon.pull();
    for (name, policy) in [("keep", "always"), ("once", "no")] {
        let out = daemon.skiff(&[
            "run",
            "-d",
            "--name",
            name,
            "--restart",
            policy,
            &daemon.image,
            "sleep",
            "1000",
        ]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let id = skiff_testkit::container_id(&daemon.root(), "once").unwrap();
    let cgroups = skiff_testkit::cgroup_dirs(&id);
    assert!(!cgroups.is_empty());
    for name in ["keep", "once"] {
        let shim = shim_of(&daemon, name);
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(shim),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    }
    let status = |name: &str| {
        stdout(&daemon.skiff(&["inspect", "-f", "{{.State.Status}} {{.RestartCount}}", name]))
            .trim()
            .to_string()
    };
    eventually("once to be marked exited", || status("once") == "exited 0");
    eventually("keep to be restarted", || status("keep") == "running 1");
    // The dead shim's container left nothing running or mounted.
    assert!(
        cgroups.iter().all(|d| !d.exists()),
        "cgroups left: {cgroups:?}"
    );
    let code = stdout(&daemon.skiff(&["inspect", "-f", "{{.State.ExitCode}}", "once"]));
    assert_eq!(code.trim(), "137");
}

/// The processes whose command line holds every one of `words`, with
/// their parent pid.
fn processes_with(words: &[&str]) -> Vec<(i32, i32)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(line) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<String> = line
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if !words.iter().all(|w| args.iter().any(|a| a == w)) {
            continue;
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let parent = stat
            .rfind(')')
            .and_then(|i| stat[i + 2..].split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0);
        found.push((pid, parent));
    }
    found
}

#[test]
fn the_shim_launcher_is_replaced_when_killed_and_ends_with_its_daemon() {
    let mut daemon = Daemon::start();
    daemon.pull();
    let root = daemon.root().display().to_string();
    let run = |name: &str| {
        let out = daemon.skiff(&["run", "-d", "--name", name, &daemon.image, "sleep", "1000"]);
        assert!(out.status.success(), "{}", text(&out));
    };
    let launchers = || processes_with(&["--root", &root, "shim-launcher"]);
    assert!(launchers().is_empty(), "a launcher before the first start");
    run("first");
    let daemon_pid = daemon.process.as_ref().unwrap().id() as i32;
    let first = launchers();
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0].1, daemon_pid, "the launcher is the daemon's child");
    // A shim forked by the launcher names itself and its container.
    let id = skiff_testkit::container_id(&daemon.root(), "first").unwrap();
    let shim = shim_of(&daemon, "first");
    assert_eq!(processes_with(&["--root", &root, "shim", &id]).len(), 1);
    assert_ne!(
        processes_with(&["shim", &id])[0].1,
        first[0].0,
        "the shim left the launcher's tree"
    );
    let cmdline = std::fs::read(format!("/proc/{shim}/cmdline")).unwrap();
    assert_eq!(
        cmdline,
        format!("skiff\0--root\0{root}\0shim\0{id}\0").into_bytes()
    );

    // Killed: the next start gets a new launcher.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first[0].0),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    run("second");
    let second = launchers();
    assert_eq!(second.len(), 1, "{second:?}");
    assert_ne!(second[0].0, first[0].0);
    let running = stdout(&daemon.skiff(&["ps", "-q"])).lines().count();
    assert_eq!(running, 2);

    // The daemon killed: its launcher goes, the shims stay.
    daemon.kill9();
    eventually("the launcher to end with its daemon", || {
        launchers().is_empty()
    });
    assert_eq!(processes_with(&["--root", &root, "shim"]).len(), 2);
    daemon.launch();
    let out = daemon.skiff(&["rm", "-f", "first", "second"]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn twenty_clients_at_once_lose_and_duplicate_nothing() {
    let daemon = Daemon::start();
    daemon.pull();
    let results: Vec<(usize, bool, bool)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..20)
            .map(|n| {
                let daemon = &daemon;
                scope.spawn(move || {
                    // Everyone wants "shared"; each also makes its own.
                    let shared = daemon
                        .skiff(&["create", "--name", "shared", &daemon.image, "true"])
                        .status
                        .success();
                    let own = format!("own{n}");
                    let run = daemon.skiff(&["run", "--name", &own, &daemon.image, "true"]);
                    let removed = daemon.skiff(&["rm", &own]).status.success();
                    (n, shared, run.status.success() && removed)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert_eq!(
        results.iter().filter(|r| r.1).count(),
        1,
        "the name was given {:?}",
        results
    );
    assert!(results.iter().all(|r| r.2), "{results:?}");
    let names: Vec<String> = stdout(&daemon.skiff(&["ps", "-a", "--format", "{{.Names}}"]))
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(names, ["shared"]);
    let records: BTreeSet<String> = std::fs::read_dir(daemon.root().join("containers"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(records.len(), 1, "records left behind: {records:?}");
}

/// The daemon's resident memory, in KiB.
fn rss_kib(daemon: &Daemon) -> u64 {
    let pid = daemon.process.as_ref().expect("the daemon runs").id();
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// The `run --rm` cycles of the test below, as the issue asks.
const CYCLES: usize = 1000;

#[test]
fn run_rm_cycles_leave_nothing_and_the_daemon_does_not_grow() {
    let daemon = Daemon::start();
    daemon.pull();
    // Each cycle's container id: the cgroups are the machine's, and the
    // other tests' containers have theirs meanwhile. `-d` prints the id;
    // the daemon removes the container once `true` exited (`--rm`), and the
    // next cycle starts after `wait` saw it end.
    let ids = std::cell::RefCell::new(Vec::new());
    let cycle = |n: usize| {
        let out = daemon.skiff(&[
            "run",
            "-d",
            "--rm",
            "--memory",
            "32m",
            &daemon.image,
            "true",
        ]);
        assert!(out.status.success(), "cycle {n}: {}", text(&out));
        let id = stdout(&out).trim().to_string();
        // Gone already (removed) is as good as ended.
        let _ = daemon.skiff(&["wait", &id]);
        ids.borrow_mut().push(id);
    };
    for n in 0..30 {
        cycle(n);
    }
    let warm = rss_kib(&daemon);
    for n in 30..CYCLES {
        cycle(n);
    }
    let after = rss_kib(&daemon);
    assert!(
        after < warm + 4096,
        "the daemon grew from {warm} KiB to {after} KiB over {} runs",
        CYCLES - 30
    );
    // The last container may still be in its removal.
    eventually("every record removed", || {
        stdout(&daemon.skiff(&["ps", "-aq"])).is_empty()
    });
    let containers = std::fs::read_dir(daemon.root().join("containers"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .count();
    assert_eq!(containers, 0, "container directories left");
    let ids = ids.into_inner();
    assert_eq!(ids.len(), CYCLES);
    // In every hierarchy of either layout (v1: one per controller; v2: one).
    let cgroups: Vec<_> = ids
        .iter()
        .flat_map(|id| skiff_testkit::cgroup_dirs(id))
        .collect();
    assert!(cgroups.is_empty(), "cgroups left: {cgroups:?}");
}

#[test]
fn a_full_disk_stops_the_log_not_the_container() {
    // The engine's root on a 64 MiB tmpfs: the disk the test fills is its
    // own, never the machine's.
    let daemon = Daemon::start_on_tmpfs(64 << 20);
    daemon.pull();
    let out = daemon.skiff(&[
        "run",
        "-d",
        "--name",
        "chatty",
        &daemon.image,
        "sh",
        "-c",
        "i=0; while true; do echo line $i; i=$((i+1)); done",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let id = skiff_testkit::container_id(&daemon.root(), "chatty").unwrap();
    let log = daemon
        .root()
        .join("containers")
        .join(&id)
        .join(format!("{id}-json.log"));
    // Fill that tmpfs, from outside, with files of our own: the sizes
    // halve until nothing more fits.
    let filler = log.with_file_name("filler");
    let mut chunk: u64 = 32 << 20;
    let mut n = 0;
    while chunk >= 4096 {
        let part = filler.with_extension(n.to_string());
        n += 1;
        let fits = std::fs::File::create(&part)
            .and_then(|f| {
                nix::fcntl::fallocate(&f, nix::fcntl::FallocateFlags::empty(), 0, chunk as i64)
                    .map_err(Into::into)
            })
            .is_ok();
        if !fits {
            let _ = std::fs::remove_file(&part);
            chunk /= 2;
        }
    }
    let size = || std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let before = size();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let status = stdout(&daemon.skiff(&["inspect", "-f", "{{.State.Status}}", "chatty"]));
    assert_eq!(
        status.trim(),
        "running",
        "the container stopped with the disk full"
    );
    assert!(
        size() <= before + 4096,
        "the log kept growing on a full disk"
    );
    // Space again: the log says what it lost.
    for entry in std::fs::read_dir(log.parent().unwrap()).unwrap().flatten() {
        if entry.file_name().to_string_lossy().starts_with("filler") {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    eventually("the log to say lines were dropped", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("log lines were dropped: no space left on device")
    });
    let rm = daemon.skiff(&["rm", "-f", "chatty"]);
    assert!(rm.status.success(), "{}", text(&rm));
}
