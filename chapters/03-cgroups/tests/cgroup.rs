//! Tests of chapter 3: the parsers on their own, then real cgroups on the
//! real kernel (as root). Every cgroup is named after the test and this
//! process, and is removed by a guard, also when the test fails.

use ch03_cgroups::{
    Cgroup, CgroupError, CgroupGuard, Controller, Layout, LayoutError, Limits, PARENT, SizeError,
    Version, parse_cpus, parse_memory_swap, parse_size, settings,
};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Parsers: no root needed.

#[test]
fn sizes_parse_like_docker() {
    assert_eq!(parse_size("64m"), Ok(64 << 20));
    assert_eq!(parse_size("64M"), Ok(64 << 20));
    assert_eq!(parse_size("64mb"), Ok(64 << 20));
    assert_eq!(parse_size("1g"), Ok(1 << 30));
    assert_eq!(parse_size("1GB"), Ok(1 << 30));
    assert_eq!(parse_size("512k"), Ok(512 << 10));
    assert_eq!(parse_size("1048576"), Ok(1_048_576));
    assert_eq!(parse_size("100b"), Ok(100));
    assert_eq!(parse_size("1.5g"), Ok(3 << 29));
    assert_eq!(parse_size(" 2m "), Ok(2 << 20));

    assert_eq!(parse_size(""), Err(SizeError::Empty));
    assert!(matches!(parse_size("m"), Err(SizeError::Invalid(_))));
    assert!(matches!(parse_size("-1"), Err(SizeError::Invalid(_))));
    assert!(matches!(parse_size("1.2.3m"), Err(SizeError::Invalid(_))));
    assert!(matches!(
        parse_size("64x"),
        Err(SizeError::UnknownUnit { unit, .. }) if unit == "x"
    ));
    assert!(matches!(
        parse_size("99999999999999999999"),
        Err(SizeError::TooLarge(_))
    ));
    assert!(matches!(
        parse_size("17179869184g"),
        Err(SizeError::TooLarge(_))
    ));
    assert_eq!(
        parse_size("64x").unwrap_err().to_string(),
        "invalid size \"64x\": unknown unit \"x\" (use b, k, m or g)"
    );
}

#[test]
fn swap_and_cpus_parse() {
    assert_eq!(parse_memory_swap("-1"), Ok(-1));
    assert_eq!(parse_memory_swap("1g"), Ok(1 << 30));
    assert!(matches!(
        parse_memory_swap("-2"),
        Err(SizeError::InvalidSwap(_))
    ));

    assert_eq!(parse_cpus("0.5"), Ok(0.5));
    assert_eq!(parse_cpus("1.25"), Ok(1.25));
    assert_eq!(parse_cpus("2"), Ok(2.0));
    for bad in ["", "0", "0.0", "-1", "abc", "inf", "NaN", "1e3", "1,5"] {
        assert_eq!(
            parse_cpus(bad),
            Err(SizeError::InvalidCpus(bad.to_string())),
            "{bad:?}"
        );
    }
    let message = parse_cpus("abc").unwrap_err().to_string();
    assert!(message.starts_with("invalid number of cpus"), "{message}");
}

/// The mount table of this course's test machines: v1 controllers on their
/// own hierarchies, and a v2 tree with no controller we use.
const HYBRID: &str = "\
22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

/// A systemd machine of the v1 era: cpu and cpuacct mounted together,
/// optional tags before the separator.
const HYBRID_COMOUNTED: &str = "\
25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,memory
31 25 0:28 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,pids
99 25 0:28 / /mnt/again rw,relatime shared:14 - cgroup cgroup rw,pids
";

/// A current distribution: cgroup2 only.
const PURE_V2: &str = "\
22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
26 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

#[test]
fn mountinfo_hybrid_is_v1_and_ignores_the_empty_v2_tree() {
    let layout = Layout::from_mountinfo(HYBRID).unwrap();
    let expected: BTreeMap<Controller, PathBuf> = Controller::ALL
        .into_iter()
        .map(|c| (c, PathBuf::from(format!("/sys/fs/cgroup/{c}"))))
        .collect();
    assert_eq!(layout, Layout::Legacy { mounts: expected });
    assert_eq!(layout.version(), Version::V1);
    assert_eq!(layout.roots().len(), 7);
}

#[test]
fn mountinfo_comounted_controllers_share_a_root() {
    let layout = Layout::from_mountinfo(HYBRID_COMOUNTED).unwrap();
    let cpu = Path::new("/sys/fs/cgroup/cpu,cpuacct");
    assert_eq!(layout.root_of(Controller::Cpu), Some(cpu));
    assert_eq!(layout.root_of(Controller::Cpuacct), Some(cpu));
    // The first mount of a hierarchy wins over a second bind of it.
    assert_eq!(
        layout.root_of(Controller::Pids),
        Some(Path::new("/sys/fs/cgroup/pids"))
    );
    assert_eq!(layout.root_of(Controller::Cpuset), None);
    assert_eq!(layout.root_of(Controller::Freezer), None);
    let roots: Vec<&Path> = layout.roots();
    assert_eq!(
        roots,
        [
            Path::new("/sys/fs/cgroup/memory"),
            cpu,
            Path::new("/sys/fs/cgroup/pids")
        ]
    );
}

#[test]
fn mountinfo_pure_v2_is_unified() {
    let layout = Layout::from_mountinfo(PURE_V2).unwrap();
    assert_eq!(
        layout,
        Layout::Unified {
            root: PathBuf::from("/sys/fs/cgroup")
        }
    );
    assert_eq!(layout.version(), Version::V2);
    assert_eq!(
        layout.root_of(Controller::Memory),
        Some(Path::new("/sys/fs/cgroup"))
    );
}

#[test]
fn mountinfo_without_cgroups_is_an_error_and_paths_are_unescaped() {
    let none = "22 1 0:21 / /sys rw - sysfs sysfs rw\n";
    assert!(matches!(
        Layout::from_mountinfo(none),
        Err(LayoutError::NotFound)
    ));
    let spaced = "40 31 0:37 / /my\\040cgroups/mem rw - cgroup cgroup rw,memory\n";
    let layout = Layout::from_mountinfo(spaced).unwrap();
    assert_eq!(
        layout.root_of(Controller::Memory),
        Some(Path::new("/my cgroups/mem"))
    );
}

#[test]
fn detect_at_reads_the_given_mount_table_when_the_root_is_not_cgroup2() {
    // A plain directory is not a cgroup2 filesystem: the mount table decides.
    let dir = tempfile::tempdir().unwrap();
    let mountinfo = dir.path().join("mountinfo");
    std::fs::write(&mountinfo, HYBRID_COMOUNTED).unwrap();
    let layout = Layout::detect_at(dir.path(), &mountinfo).unwrap();
    assert_eq!(layout, Layout::from_mountinfo(HYBRID_COMOUNTED).unwrap());

    let missing = dir.path().join("nothing");
    let err = Layout::detect_at(dir.path(), &missing).unwrap_err();
    assert!(matches!(err, LayoutError::Read { .. }), "{err}");
    assert!(err.to_string().starts_with("cannot read "), "{err}");
}

fn files(version: Version, limits: &Limits) -> Vec<String> {
    settings(version, limits)
        .unwrap()
        .into_iter()
        .map(|s| format!("{}/{} = {}", s.controller, s.file, s.value))
        .collect()
}

#[test]
fn limits_translate_to_each_version() {
    let limits = Limits {
        memory: Some(64 << 20),
        memory_swap: Some(96 << 20),
        cpus: Some(0.5),
        cpu_shares: Some(1024),
        cpuset_cpus: Some("0".into()),
        pids_limit: Some(20),
    };
    assert_eq!(
        files(Version::V2, &limits),
        [
            "memory/memory.max = 67108864",
            "memory/memory.swap.max = 33554432",
            "cpu/cpu.max = 50000 100000",
            "cpu/cpu.weight = 39",
            "cpuset/cpuset.cpus = 0",
            "pids/pids.max = 20",
        ]
    );
    assert_eq!(
        files(Version::V1, &limits),
        [
            "memory/memory.limit_in_bytes = 67108864",
            "memory/memory.memsw.limit_in_bytes = 100663296",
            "cpu/cpu.cfs_period_us = 100000",
            "cpu/cpu.cfs_quota_us = 50000",
            "cpu/cpu.shares = 1024",
            "cpuset/cpuset.cpus = 0",
            "pids/pids.max = 20",
        ]
    );
    // The ends of the shares range map to the ends of the weight range.
    for (shares, weight) in [(2, "1"), (262_144, "10000"), (0, "1"), (1 << 40, "10000")] {
        let limits = Limits {
            cpu_shares: Some(shares),
            ..Limits::default()
        };
        assert_eq!(
            files(Version::V2, &limits),
            [format!("cpu/cpu.weight = {weight}")]
        );
    }
    let unlimited = Limits {
        memory: Some(1 << 30),
        memory_swap: Some(-1),
        pids_limit: Some(0),
        ..Limits::default()
    };
    assert_eq!(
        files(Version::V2, &unlimited),
        [
            "memory/memory.max = 1073741824",
            "memory/memory.swap.max = max",
            "pids/pids.max = max",
        ]
    );
    assert!(files(Version::V1, &Limits::default()).is_empty());
}

#[test]
fn contradictory_limits_are_refused() {
    let bad = [
        Limits {
            memory_swap: Some(1 << 20),
            ..Limits::default()
        },
        Limits {
            memory: Some(2 << 20),
            memory_swap: Some(1 << 20),
            ..Limits::default()
        },
        Limits {
            cpus: Some(0.001),
            ..Limits::default()
        },
        Limits {
            cpuset_cpus: Some("0;rm".into()),
            ..Limits::default()
        },
    ];
    for limits in bad {
        for version in [Version::V1, Version::V2] {
            let err = settings(version, &limits).unwrap_err();
            assert!(
                matches!(err, CgroupError::InvalidLimits(_)),
                "{limits:?}: {err}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Real cgroups: root, real kernel.

fn require_root() -> Layout {
    assert!(
        nix::unistd::geteuid().is_root(),
        "these tests create cgroups and must run as root (they never skip)"
    );
    Layout::detect().expect("a cgroup hierarchy must be mounted at /sys/fs/cgroup")
}

fn unique(test: &str) -> String {
    format!("test-{}-{test}", std::process::id())
}

/// A child process that waits for a line on its stdin before it runs
/// `script`, so that it can be put into a cgroup first. Killed and reaped
/// when dropped.
struct Held {
    child: Child,
}

impl Held {
    fn spawn(script: &str) -> Held {
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!("read _ || exit 1\n{script}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn sh");
        Held { child }
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    fn release(&mut self) {
        let stdin = self.child.stdin.as_mut().expect("stdin is piped");
        stdin.write_all(b"go\n").expect("release the child");
        stdin.flush().unwrap();
    }

    fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().expect("wait for the child")
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

fn file(cgroup: &Cgroup, controller: Controller, name: &str) -> String {
    read(cgroup.dir_of(controller).unwrap().join(name))
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn proc_state(pid: Pid) -> String {
    read(format!("/proc/{pid}/status"))
        .lines()
        .find_map(|l| l.strip_prefix("State:"))
        .unwrap_or("")
        .trim()
        .to_string()
}

fn assert_gone(dirs: &[PathBuf]) {
    for dir in dirs {
        assert!(!dir.exists(), "{} was left behind", dir.display());
    }
}

#[test]
fn detect_finds_this_machines_hierarchies() {
    let layout = require_root();
    eprintln!("{layout}");
    for controller in [
        Controller::Memory,
        Controller::Cpu,
        Controller::Cpuset,
        Controller::Pids,
    ] {
        let root = layout
            .root_of(controller)
            .unwrap_or_else(|| panic!("{controller} is not mounted"));
        assert!(root.join("cgroup.procs").exists(), "{}", root.display());
    }
}

/// Containers come and go at once: each removal tries to remove the shared
/// `skiff` parent, which another creation may be using that very moment
/// (it reads `cgroup.subtree_control` of a parent being removed: ENODEV;
/// or makes its directory in a parent just removed: ENOENT). No creation
/// may fail for it.
#[test]
fn creations_and_removals_at_once_share_the_parent() {
    let layout = require_root();
    let limits = Limits {
        memory: Some(64 << 20),
        pids_limit: Some(20),
        ..Limits::default()
    };
    std::thread::scope(|scope| {
        for worker in 0..4 {
            let (layout, limits) = (&layout, &limits);
            scope.spawn(move || {
                for round in 0..100 {
                    let name = unique(&format!("race-{worker}-{round}"));
                    let cgroup = Cgroup::create(layout, &name, limits)
                        .unwrap_or_else(|e| panic!("round {round} of worker {worker}: {e}"));
                    cgroup.remove().unwrap();
                }
            });
        }
    });
}

#[test]
fn create_writes_the_limits_and_remove_removes_the_cgroup() {
    let layout = require_root();
    let limits = Limits {
        memory: Some(64 << 20),
        memory_swap: Some(128 << 20),
        cpus: Some(0.5),
        cpu_shares: Some(512),
        cpuset_cpus: Some("0".into()),
        pids_limit: Some(20),
    };
    let cgroup = CgroupGuard::new(Cgroup::create(&layout, &unique("limits"), &limits).unwrap());
    let dirs = cgroup.dirs();
    for dir in &dirs {
        assert!(dir.is_dir(), "{}", dir.display());
        assert_eq!(dir.parent().unwrap().file_name().unwrap(), PARENT);
    }
    use Controller::*;
    match layout.version() {
        Version::V2 => {
            assert_eq!(file(&cgroup, Memory, "memory.max"), "67108864");
            assert_eq!(file(&cgroup, Cpu, "cpu.max"), "50000 100000");
            assert_eq!(file(&cgroup, Cpu, "cpu.weight"), "20");
            assert_eq!(file(&cgroup, Cpuset, "cpuset.cpus"), "0");
            assert_eq!(file(&cgroup, Pids, "pids.max"), "20");
            if cgroup
                .dir_of(Memory)
                .unwrap()
                .join("memory.swap.max")
                .exists()
            {
                assert_eq!(file(&cgroup, Memory, "memory.swap.max"), "67108864");
            }
        }
        Version::V1 => {
            assert_eq!(file(&cgroup, Memory, "memory.limit_in_bytes"), "67108864");
            assert_eq!(file(&cgroup, Cpu, "cpu.cfs_period_us"), "100000");
            assert_eq!(file(&cgroup, Cpu, "cpu.cfs_quota_us"), "50000");
            assert_eq!(file(&cgroup, Cpu, "cpu.shares"), "512");
            assert_eq!(file(&cgroup, Cpuset, "cpuset.cpus"), "0");
            assert!(!file(&cgroup, Cpuset, "cpuset.mems").is_empty());
            assert_eq!(file(&cgroup, Pids, "pids.max"), "20");
            let memsw = cgroup
                .dir_of(Memory)
                .unwrap()
                .join("memory.memsw.limit_in_bytes");
            if memsw.exists() {
                assert_eq!(read(memsw), "134217728");
            }
        }
    }

    // Changing limits of a live cgroup.
    cgroup
        .set_limits(&Limits {
            memory: Some(256 << 20),
            memory_swap: Some(512 << 20),
            pids_limit: Some(-1),
            ..Limits::default()
        })
        .unwrap();
    let stats = cgroup.stats().unwrap();
    assert_eq!(stats.memory_limit, Some(256 << 20));
    assert_eq!(stats.pids_limit, None);

    // Opening it by name gives the same cgroup.
    let opened = Cgroup::open(&layout, cgroup.name()).unwrap();
    assert_eq!(opened, *cgroup);

    cgroup.into_inner().remove().unwrap();
    assert_gone(&dirs);
    // Removing twice is fine.
    opened.remove().unwrap();
    assert!(matches!(
        Cgroup::open(&layout, opened.name()),
        Err(CgroupError::NotFound(_))
    ));
}

#[test]
fn a_process_joins_is_counted_frozen_thawed_and_killed_by_remove() {
    let layout = require_root();
    let name = unique("lifecycle");
    let limits = Limits {
        memory: Some(64 << 20),
        pids_limit: Some(20),
        ..Limits::default()
    };
    let cgroup = CgroupGuard::new(Cgroup::create(&layout, &name, &limits).unwrap());
    let dirs = cgroup.dirs();
    // Burn a little CPU and touch fresh memory inside the cgroup, then sleep.
    let mut child = Held::spawn("i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; exec sleep 30");
    cgroup.add(child.pid()).unwrap();

    let membership = read(format!("/proc/{}/cgroup", child.pid()));
    let ours = format!("/{PARENT}/{name}");
    match layout.version() {
        Version::V2 => assert!(membership.contains(&format!("0::{ours}")), "{membership}"),
        Version::V1 => {
            for controller in ["memory", "cpu", "cpuacct", "cpuset", "pids", "freezer"] {
                let line = format!("{controller}:{ours}");
                assert!(
                    membership.lines().any(|l| l.ends_with(&line)),
                    "{line} not in\n{membership}"
                );
            }
        }
    }
    assert_eq!(cgroup.procs().unwrap(), [child.pid()]);

    child.release();
    let comm = format!("/proc/{}/comm", child.pid());
    wait_until("the child to exec sleep", || read(&comm) == "sleep");

    let stats = cgroup.stats().unwrap();
    eprintln!("{stats:?}");
    assert!(stats.memory_usage > 0, "{stats:?}");
    assert!(stats.cpu_usage_usec > 0, "{stats:?}");
    assert_eq!(stats.pids_current, 1, "{stats:?}");
    assert_eq!(stats.memory_limit, Some(64 << 20));
    assert_eq!(stats.pids_limit, Some(20));
    assert!(!cgroup.oom_killed().unwrap());

    cgroup.freeze().unwrap();
    let state = proc_state(child.pid());
    eprintln!("frozen: State: {state}");
    match layout.version() {
        Version::V2 => {
            let events = read(cgroup.dirs()[0].join("cgroup.events"));
            assert!(events.lines().any(|l| l == "frozen 1"), "{events}");
        }
        Version::V1 => assert_eq!(
            file(&cgroup, Controller::Freezer, "freezer.state"),
            "FROZEN"
        ),
    }
    assert!(
        !state.starts_with('R'),
        "a frozen task is not running: {state}"
    );

    cgroup.thaw().unwrap();
    match layout.version() {
        Version::V2 => {
            let events = cgroup.dirs()[0].join("cgroup.events");
            wait_until("frozen 0", || {
                read(&events).lines().any(|l| l == "frozen 0")
            });
        }
        Version::V1 => assert_eq!(
            file(&cgroup, Controller::Freezer, "freezer.state"),
            "THAWED"
        ),
    }
    wait_until("the child to sleep again", || {
        proc_state(child.pid()).starts_with('S')
    });

    cgroup.into_inner().remove().unwrap();
    let status = child.wait();
    assert_eq!(status.signal(), Some(9), "{status:?}");
    assert_gone(&dirs);
}

#[test]
fn remove_kills_every_process_including_forked_ones() {
    let layout = require_root();
    let cgroup =
        CgroupGuard::new(Cgroup::create(&layout, &unique("forks"), &Limits::default()).unwrap());
    let dirs = cgroup.dirs();
    let mut child = Held::spawn("sleep 30 & sleep 30 & sleep 30 & wait");
    cgroup.add(child.pid()).unwrap();
    child.release();
    wait_until("four processes in the cgroup", || {
        cgroup.procs().unwrap().len() == 4
    });
    let pids = cgroup.procs().unwrap();

    cgroup.into_inner().remove().unwrap();
    assert_eq!(child.wait().signal(), Some(9));
    for pid in pids {
        // The grandchildren were reparented and reaped by init (or are
        // zombies of it for an instant): none of them still runs.
        wait_until(&format!("{pid} to be gone"), || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| s.contains(") Z "))
                .unwrap_or(true)
        });
    }
    assert_gone(&dirs);
}

#[test]
fn exceeding_the_memory_limit_is_an_oom_kill() {
    let layout = require_root();
    let limits = Limits {
        memory: Some(32 << 20),
        // No swap: the limit is reached, not paged out.
        memory_swap: Some(32 << 20),
        ..Limits::default()
    };
    let cgroup = CgroupGuard::new(Cgroup::create(&layout, &unique("oom"), &limits).unwrap());
    // The shell keeps 200 MiB of output in one variable.
    let mut child = Held::spawn(r#"x=$(head -c 200m /dev/zero | tr '\0' a)"#);
    cgroup.add(child.pid()).unwrap();
    child.release();
    let status = child.wait();
    eprintln!("{status:?}");
    assert_eq!(status.signal(), Some(9), "the shell is killed: {status:?}");
    assert!(cgroup.oom_killed().unwrap());
}

#[test]
fn the_pids_limit_stops_forks() {
    let layout = require_root();
    let limits = Limits {
        pids_limit: Some(4),
        ..Limits::default()
    };
    let cgroup = CgroupGuard::new(Cgroup::create(&layout, &unique("pids"), &limits).unwrap());
    let mut child =
        Held::spawn("exec 2>/dev/null; for i in 1 2 3 4 5 6 7 8; do sleep 30 & done; wait");
    cgroup.add(child.pid()).unwrap();
    child.release();
    let events = cgroup.dir_of(Controller::Pids).unwrap().join("pids.events");
    wait_until("a refused fork in pids.events", || read(&events) != "max 0");
    let stats = cgroup.stats().unwrap();
    assert!(stats.pids_current <= 4, "{stats:?}");
    assert_eq!(stats.pids_limit, Some(4));
}

#[test]
fn names_are_checked_and_never_reused() {
    let layout = require_root();
    for bad in ["", ".", "..", "../etc", "a/b", ".hidden", "a b"] {
        assert!(
            matches!(
                Cgroup::create(&layout, bad, &Limits::default()),
                Err(CgroupError::InvalidName(_))
            ),
            "{bad:?}"
        );
    }
    let name = unique("twice");
    let first = CgroupGuard::new(Cgroup::create(&layout, &name, &Limits::default()).unwrap());
    let again = Cgroup::create(&layout, &name, &Limits::default());
    assert!(
        matches!(again, Err(CgroupError::AlreadyExists(_))),
        "{again:?}"
    );
    // The failed attempt left the first cgroup alone.
    for dir in first.dirs() {
        assert!(dir.is_dir(), "{}", dir.display());
    }

    // A second container keeps the shared parent alive.
    let other = Cgroup::create(&layout, &unique("other"), &Limits::default()).unwrap();
    first.into_inner().remove().unwrap();
    for root in layout.roots() {
        assert!(root.join(PARENT).is_dir());
    }
    other.remove().unwrap();
}

#[test]
fn a_limit_rejected_by_the_kernel_leaves_nothing_behind() {
    let layout = require_root();
    let name = unique("rejected");
    // CPU 4095 does not exist on these machines: the kernel says EINVAL.
    let limits = Limits {
        memory: Some(64 << 20),
        cpuset_cpus: Some("4095".into()),
        ..Limits::default()
    };
    let err = Cgroup::create(&layout, &name, &limits).unwrap_err();
    assert!(matches!(err, CgroupError::Write { .. }), "{err}");
    assert!(err.to_string().contains("cpuset.cpus"), "{err}");
    for root in layout.roots() {
        assert!(!root.join(PARENT).join(&name).exists());
    }
}

/// The v2 tree of this machine: `/sys/fs/cgroup` on a unified machine, the
/// (controller-less) `cgroup2` mount on a hybrid one.
fn v2_layout(layout: Layout) -> Layout {
    if layout.version() == Version::V2 {
        return layout;
    }
    let mountinfo = read("/proc/self/mountinfo");
    let v2_lines: String = mountinfo
        .lines()
        .filter(|l| l.contains(" - cgroup2 "))
        .map(|l| format!("{l}\n"))
        .collect();
    Layout::from_mountinfo(&v2_lines)
        .expect("a cgroup2 tree is mounted (the hybrid layout has one)")
}

/// The v2 paths (freeze through `cgroup.freeze`, kill through `cgroup.kill`)
/// need no controller, so they run on a hybrid machine's v2 tree too.
#[test]
fn v2_freeze_thaw_and_kill_work_in_the_unified_tree() {
    let layout = v2_layout(require_root());
    let cgroup =
        CgroupGuard::new(Cgroup::create(&layout, &unique("v2"), &Limits::default()).unwrap());
    let dirs = cgroup.dirs();
    assert_eq!(dirs.len(), 1);
    let mut child = Held::spawn("sleep 30 & exec sleep 30");
    cgroup.add(child.pid()).unwrap();
    let membership = read(format!("/proc/{}/cgroup", child.pid()));
    assert!(
        membership.contains(&format!("0::/{PARENT}/{}", cgroup.name())),
        "{membership}"
    );
    child.release();
    wait_until("two processes in the cgroup", || {
        cgroup.procs().unwrap().len() == 2
    });

    cgroup.freeze().unwrap();
    let events = dirs[0].join("cgroup.events");
    assert!(read(&events).lines().any(|l| l == "frozen 1"));
    cgroup.thaw().unwrap();
    wait_until("frozen 0", || {
        read(&events).lines().any(|l| l == "frozen 0")
    });

    cgroup.into_inner().remove().unwrap();
    assert_eq!(child.wait().signal(), Some(9));
    assert_gone(&dirs);
}
