//! The cgroup v2 code path, on a real cgroup2-only kernel.
//!
//! The test machines run a hybrid layout (v1 controllers), so the v2 path
//! cannot be exercised on the host. `v2_limits_hold_on_a_cgroup2_kernel`
//! boots Debian's cloud kernel in a small qemu guest whose only hierarchy is
//! cgroup2 (see `skiff_testkit::guest`), and runs this test binary there,
//! where `guest_side_v2` creates cgroups and proves each limit by its effect,
//! and `guest_side_v2_devices` proves the device program.
//!
//! The guest's initramfs holds static busybox (an applet link each), this
//! test binary and its shared libraries; `/dev` is the kernel's devtmpfs:
//! `null`, `zero`, `kmsg`, `mem`, ttys. The guest sides also run in the
//! guest of `scripts/cgroup2-suite`, which has a disk and the loop driver,
//! so the block node they make names a major number no driver holds.

mod support;

use ch03_cgroups::devices::bpf;
use ch03_cgroups::{Cgroup, CgroupGuard, Controller, Layout, Limits, Version};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::SFlag;
use skiff_testkit::guest::{in_guest, run_in_cgroup2_guest};
use skiff_testkit::require_root;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{Op, attempt};

#[test]
fn v2_limits_hold_on_a_cgroup2_kernel() {
    if in_guest() {
        return;
    }
    require_root();
    let exe = std::env::current_exe().expect("current_exe");
    let result = run_in_cgroup2_guest(
        &exe,
        &[
            // guest_side_v2 and guest_side_v2_devices
            "guest_side_v2",
            "--nocapture",
            "--test-threads",
            "1",
        ],
        Duration::from_secs(240),
    );
    assert_eq!(
        result.code, 0,
        "the v2 checks failed in the guest:\n{}",
        result.output
    );
    for proof in [
        "memory.max = 33554432",
        "oom_killed = true",
        "pids capped",
        "throttled",
        "frozen",
        "cpus 1",
        "device program attached",
        "kmsg: EPERM in the cgroup",
        "block node: EPERM in the cgroup, ENXIO outside",
        "/dev/null and /dev/zero work",
        "device program freed with the cgroup",
        "test result: ok. 2 passed",
    ] {
        assert!(
            result.output.contains(proof),
            "missing {proof:?} in:\n{}",
            result.output
        );
    }
}

/// A busybox shell that waits for a line on stdin before running `script`,
/// so the test can put it in a cgroup first.
fn waiting_shell(script: &str) -> Child {
    Command::new("/bin/busybox")
        .args(["sh", "-c", &format!("read go; {script}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("busybox sh")
}

fn go(child: &mut Child) {
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
}

fn pid(child: &Child) -> nix::unistd::Pid {
    nix::unistd::Pid::from_raw(child.id() as i32)
}

fn read(path: std::path::PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn guest_side_v2() {
    if !in_guest() {
        return;
    }
    let layout = Layout::detect().expect("detect the cgroup layout");
    assert_eq!(layout.version(), Version::V2, "{layout:?}");
    let dir = |name: &str| std::path::PathBuf::from("/sys/fs/cgroup/skiff").join(name);

    // Memory: the limit file, then an OOM kill of a hog, reported.
    let limits = Limits {
        memory: Some(32 << 20),
        memory_swap: Some(32 << 20),
        ..Limits::default()
    };
    let cgroup = CgroupGuard::new(Cgroup::create(&layout, "hog", &limits).unwrap());
    println!(
        "memory.max = {}",
        read(dir("hog").join("memory.max")).trim()
    );
    assert_eq!(read(dir("hog").join("memory.swap.max")).trim(), "0");
    let mut hog =
        waiting_shell("x=$(/bin/busybox head -c 128m /dev/zero | /bin/busybox tr '\\0' a)");
    cgroup.add(pid(&hog)).unwrap();
    go(&mut hog);
    let status = hog.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(9),
        "the hog was not killed: {status:?}"
    );
    println!("oom_killed = {}", cgroup.oom_killed().unwrap());
    assert!(cgroup.oom_killed().unwrap());
    drop(cgroup);
    assert!(!dir("hog").exists(), "the cgroup was not removed");

    // Pids: forks beyond the limit fail.
    let limits = Limits {
        pids_limit: Some(4),
        ..Limits::default()
    };
    let cgroup = CgroupGuard::new(Cgroup::create(&layout, "forks", &limits).unwrap());
    let mut forks = waiting_shell("for i in 1 2 3 4 5 6 7 8; do /bin/busybox sleep 3 & done; wait");
    cgroup.add(pid(&forks)).unwrap();
    go(&mut forks);
    std::thread::sleep(Duration::from_millis(500));
    let stats = cgroup.stats().unwrap();
    let events = read(dir("forks").join("pids.events"));
    assert!(stats.pids_current <= 4, "{stats:?}");
    assert!(!events.contains("max 0"), "no fork was refused: {events}");
    println!("pids capped at {} ({})", stats.pids_current, events.trim());
    drop(cgroup);
    let _ = forks.wait();

    // CPU: a quota of 0.2 cpus throttles a spinning shell.
    let limits = Limits {
        cpus: Some(0.2),
        cpuset_cpus: Some("1".into()),
        cpu_shares: Some(512),
        ..Limits::default()
    };
    let cgroup = CgroupGuard::new(Cgroup::create(&layout, "spin", &limits).unwrap());
    assert_eq!(read(dir("spin").join("cpu.max")).trim(), "20000 100000");
    assert_eq!(read(dir("spin").join("cpu.weight")).trim(), "20");
    let mut spin = waiting_shell("while :; do :; done");
    cgroup.add(pid(&spin)).unwrap();
    go(&mut spin);
    let deadline = Instant::now() + Duration::from_secs(20);
    let throttled = loop {
        let stat = read(dir("spin").join("cpu.stat"));
        let n: u64 = stat
            .lines()
            .find_map(|l| l.strip_prefix("nr_throttled "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if n > 0 || Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(throttled > 0, "never throttled");
    println!("throttled {throttled} times");
    let status = read(std::path::PathBuf::from(format!(
        "/proc/{}/status",
        spin.id()
    )));
    let cpus = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(cpus, "1");
    println!("cpus {cpus}");

    // Freezer: frozen, then thawed; the stats say so.
    cgroup.freeze().unwrap();
    assert!(read(dir("spin").join("cgroup.events")).contains("frozen 1"));
    assert!(cgroup.is_frozen().unwrap());
    let before = cgroup.stats().unwrap().cpu_usage_usec;
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        cgroup.stats().unwrap().cpu_usage_usec,
        before,
        "a frozen cgroup used CPU"
    );
    println!("frozen: no CPU used in 500 ms");
    cgroup.thaw().unwrap();
    assert!(!cgroup.is_frozen().unwrap());
    drop(cgroup);
    let _ = spin.wait();
    assert!(!dir("spin").exists());
}

/// Whether the kernel still has a BPF program with this id
/// (`BPF_PROG_GET_FD_BY_ID`; ENOENT once it is freed).
fn program_exists(id: u32) -> bool {
    const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
    #[repr(C)]
    struct Attr {
        prog_id: u32,
        next_id: u32,
        open_flags: u32,
    }
    let mut attr = Attr {
        prog_id: id,
        next_id: 0,
        open_flags: 0,
    };
    // SAFETY: the attr is BPF_PROG_GET_FD_BY_ID's layout and holds no
    // pointer; a returned descriptor is closed at once.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_GET_FD_BY_ID,
            &mut attr as *mut Attr,
            std::mem::size_of::<Attr>() as libc::c_uint,
        )
    };
    if fd >= 0 {
        // SAFETY: the kernel just gave us this descriptor.
        unsafe { libc::close(fd as i32) };
        return true;
    }
    let errno = Errno::last();
    assert_eq!(errno, Errno::ENOENT, "BPF_PROG_GET_FD_BY_ID({id})");
    false
}

#[test]
fn guest_side_v2_devices() {
    if !in_guest() {
        return;
    }
    let layout = Layout::detect().expect("detect the cgroup layout");
    assert_eq!(layout.version(), Version::V2, "{layout:?}");
    let cgroup = CgroupGuard::new(Cgroup::create(&layout, "devices", &Limits::default()).unwrap());
    let dir = cgroup.dir_of(Controller::Devices).unwrap();
    assert_eq!(dir, std::path::Path::new("/sys/fs/cgroup/skiff/devices"));
    let attached = bpf::attached(&dir).unwrap();
    assert_eq!(attached.ids.len(), 1, "{attached:?}");
    assert_eq!(attached.flags, bpf::BPF_F_ALLOW_MULTI);
    let id = attached.ids[0];
    println!("device program attached: id {id}");

    let inside = |op: &Op| attempt(op, |child| cgroup.add(child).unwrap());
    let outside = |op: &Op| attempt(op, |_| {});

    // Only opened, never written.
    let kmsg = Op::open("/dev/kmsg", OFlag::O_RDONLY);
    assert_eq!(outside(&kmsg), Ok(Vec::new()));
    assert_eq!(inside(&kmsg), Err(Errno::EPERM));
    println!("kmsg: EPERM in the cgroup");

    // A block node for a disk that has no driver here. The program answers
    // before any driver is looked up.
    let node = std::path::Path::new("/tmp/disk");
    let major = unused_block_major();
    assert_eq!(
        inside(&Op::mknod(node, SFlag::S_IFBLK, major, 0)),
        Ok(Vec::new())
    );
    assert_eq!(inside(&Op::read(node)), Err(Errno::EPERM));
    assert_eq!(outside(&Op::read(node)), Err(Errno::ENXIO));
    std::fs::remove_file(node).unwrap();
    println!("block node: EPERM in the cgroup, ENXIO outside");

    assert_eq!(
        inside(&Op::open("/dev/null", OFlag::O_RDWR)),
        Ok(Vec::new())
    );
    assert_eq!(inside(&Op::read("/dev/zero")), Ok(vec![0; 64]));
    println!("/dev/null and /dev/zero work");

    drop(cgroup);
    assert!(!dir.exists());
    // The kernel releases a removed cgroup's programs from a work queue.
    let deadline = Instant::now() + Duration::from_secs(10);
    while program_exists(id) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!program_exists(id), "program {id} outlived its cgroup");
    println!("device program freed with the cgroup");
}

/// A block major number no driver has registered (from the "Block devices"
/// part of /proc/devices), in the range Linux keeps for local use (240-254,
/// where dynamic majors are also given out, from 254 down).
fn unused_block_major() -> u32 {
    let devices = read("/proc/devices".into());
    let taken: Vec<u32> = devices
        .split("Block devices:")
        .nth(1)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_whitespace().next()?.parse().ok())
        .collect();
    (240..=254)
        .find(|major| !taken.contains(major))
        .expect("every block major from 240 to 254 is taken")
}
