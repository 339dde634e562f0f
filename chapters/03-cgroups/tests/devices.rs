//! The device allow-list on the real kernel.
//!
//! A loop device stands in for a host disk: a 1 MiB file in a temporary
//! directory, attached with `losetup` and detached by a guard, also when a
//! test fails. Each check forks a child, puts it in the cgroup and has it
//! open or mknod (see `support`), and compares with the same operation done
//! outside the cgroup, so that a refusal is known to be the cgroup's.
//!
//! /dev/kmsg is only ever *opened* here, never written: the point is that
//! the open is refused, and a successful write would put a line in the
//! host's kernel log.

mod support;

use ch03_cgroups::devices::bpf;
use ch03_cgroups::{Cgroup, CgroupGuard, Controller, DEFAULT_RULES, Layout, Limits, Version};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::SFlag;
use skiff_testkit::{
    Rootfs, Transcript, require_root, scrub, snapshot_settings, unique, workspace_bin,
};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::{Op, Outcome, attempt};

/// What the test disk holds at its start.
const DISK_DATA: &[u8] = b"skiff test disk: the host's data";

/// A loop device over a file of ours, detached on drop.
struct LoopDevice {
    path: PathBuf,
    major: u32,
    minor: u32,
    /// Whether drop still has to detach it (a shown step may have).
    attached: bool,
    _dir: Option<tempfile::TempDir>,
}

impl LoopDevice {
    fn attach() -> LoopDevice {
        let dir = tempfile::Builder::new()
            .prefix("skiff-loop-")
            .tempdir()
            .expect("tempdir");
        let image = dir.path().join("disk.img");
        let mut data = DISK_DATA.to_vec();
        data.resize(1 << 20, 0);
        std::fs::write(&image, data).expect("write the disk image");
        let out = Command::new("losetup")
            .args(["--find", "--show"])
            .arg(&image)
            .output()
            .expect("losetup (Debian's mount package)");
        assert!(
            out.status.success(),
            "losetup --find --show {}: {}",
            image.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut disk = LoopDevice::adopt(String::from_utf8_lossy(&out.stdout).trim());
        disk._dir = Some(dir);
        disk
    }

    /// Takes charge of the loop device `path`, attached by a command the
    /// test ran: it is detached on drop.
    fn adopt(path: &str) -> LoopDevice {
        let path = PathBuf::from(path);
        let rdev = std::fs::metadata(&path)
            .expect("stat the loop device")
            .rdev();
        LoopDevice {
            major: libc::major(rdev),
            minor: libc::minor(rdev),
            path,
            attached: true,
            _dir: None,
        }
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        if !self.attached {
            return;
        }
        match Command::new("losetup").arg("-d").arg(&self.path).output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "cannot detach {}: {}",
                self.path.display(),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => eprintln!("cannot run losetup -d {}: {e}", self.path.display()),
        }
    }
}

fn layout() -> Layout {
    require_root();
    Layout::detect().expect("detect the cgroup layout")
}

/// A container's cgroup with no limits: only the device rules.
fn container_cgroup(layout: &Layout, name: &str) -> CgroupGuard {
    CgroupGuard::new(
        Cgroup::create(layout, &unique(name), &Limits::default()).expect("create the cgroup"),
    )
}

fn in_cgroup(cgroup: &Cgroup, op: &Op) -> Outcome {
    attempt(op, |child| cgroup.add(child).expect("move the child in"))
}

fn on_host(op: &Op) -> Outcome {
    attempt(op, |_| {})
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn create_installs_dockers_device_rules_in_the_leaf_only() {
    let layout = layout();
    let cgroup = container_cgroup(&layout, "dev-rules");
    let dir = cgroup
        .dir_of(Controller::Devices)
        .expect("a devices cgroup");
    match layout.version() {
        Version::V1 => {
            let expected: String = DEFAULT_RULES.iter().map(|r| format!("{r}\n")).collect();
            assert_eq!(read(&dir.join("devices.list")), expected);
            // The shared parent is left as the kernel made it.
            let parent = dir.parent().unwrap().join("devices.list");
            assert_eq!(read(&parent), "a *:* rwm\n");
        }
        Version::V2 => {
            let attached = bpf::attached(&dir).expect("query the cgroup's programs");
            assert_eq!(attached.ids.len(), 1, "{attached:?}");
            assert_eq!(attached.flags, bpf::BPF_F_ALLOW_MULTI);
        }
    }
    let dirs = cgroup.dirs();
    assert!(dirs.contains(&dir), "{dirs:?}");
    drop(cgroup);
    for dir in dirs {
        assert!(!dir.exists(), "{} was left behind", dir.display());
    }
}

#[test]
fn a_disk_is_refused_in_the_cgroup_even_to_root() {
    let layout = layout();
    let disk = LoopDevice::attach();
    let cgroup = container_cgroup(&layout, "dev-disk");

    // Outside the cgroup, root reads the disk: the test's control.
    let data = on_host(&Op::read(&disk.path)).expect("root reads the loop device on the host");
    assert!(data.starts_with(DISK_DATA), "{data:?}");

    for flags in [OFlag::O_RDONLY, OFlag::O_WRONLY, OFlag::O_RDWR] {
        assert_eq!(
            in_cgroup(&cgroup, &Op::open(&disk.path, flags)),
            Err(Errno::EPERM),
            "open({}, {flags:?})",
            disk.path.display()
        );
    }

    // Making a node is allowed (docker's `b *:* m`), opening it is not.
    let scratch = tempfile::tempdir().expect("tempdir");
    let node = scratch.path().join("disk");
    let made = in_cgroup(
        &cgroup,
        &Op::mknod(&node, SFlag::S_IFBLK, disk.major, disk.minor),
    );
    assert_eq!(
        made,
        Ok(Vec::new()),
        "mknod b {}:{}",
        disk.major,
        disk.minor
    );
    assert_eq!(in_cgroup(&cgroup, &Op::read(&node)), Err(Errno::EPERM));
    // The node itself is good: outside the cgroup it opens the disk.
    let data = on_host(&Op::read(&node)).expect("the node made in the cgroup opens on the host");
    assert!(data.starts_with(DISK_DATA), "{data:?}");
}

#[test]
fn kmsg_is_refused_in_the_cgroup() {
    let layout = layout();
    let cgroup = container_cgroup(&layout, "dev-kmsg");
    // Control: root on the host may open it (for reading only: never write).
    assert_eq!(
        on_host(&Op::open("/dev/kmsg", OFlag::O_RDONLY)),
        Ok(Vec::new())
    );
    // Opening is where the cgroup decides; nothing is written either way.
    for flags in [OFlag::O_RDONLY, OFlag::O_WRONLY] {
        assert_eq!(
            in_cgroup(&cgroup, &Op::open("/dev/kmsg", flags)),
            Err(Errno::EPERM),
            "open(/dev/kmsg, {flags:?})"
        );
    }
    // A node of its own for c 1:11 is no way around it.
    let scratch = tempfile::tempdir().expect("tempdir");
    let node = scratch.path().join("kmsg");
    assert_eq!(
        in_cgroup(&cgroup, &Op::mknod(&node, SFlag::S_IFCHR, 1, 11)),
        Ok(Vec::new())
    );
    assert_eq!(
        in_cgroup(&cgroup, &Op::open(&node, OFlag::O_RDONLY)),
        Err(Errno::EPERM)
    );
}

#[test]
fn the_default_devices_still_work_in_the_cgroup() {
    let layout = layout();
    let cgroup = container_cgroup(&layout, "dev-defaults");
    assert_eq!(
        in_cgroup(&cgroup, &Op::open("/dev/null", OFlag::O_RDWR)),
        Ok(Vec::new())
    );
    for zeros in ["/dev/zero", "/dev/full"] {
        assert_eq!(
            in_cgroup(&cgroup, &Op::read(zeros)),
            Ok(vec![0; 64]),
            "{zeros}"
        );
    }
    for random in ["/dev/urandom", "/dev/random"] {
        let bytes = in_cgroup(&cgroup, &Op::read(random)).expect(random);
        assert_eq!(bytes.len(), 64, "{random}");
    }
    assert_eq!(
        in_cgroup(
            &cgroup,
            &Op::open("/dev/ptmx", OFlag::O_RDWR | OFlag::O_NOCTTY)
        ),
        Ok(Vec::new())
    );
    // /dev/tty is allowed: the driver answers (ENXIO without a controlling
    // terminal), not the cgroup.
    let tty = in_cgroup(&cgroup, &Op::open("/dev/tty", OFlag::O_RDWR));
    assert_ne!(tty, Err(Errno::EPERM));
}

/// The `cgroup2` mount of this machine: `/sys/fs/cgroup` on v2, the
/// (controller-less) `/sys/fs/cgroup/unified` on a hybrid machine.
fn cgroup2_mount() -> PathBuf {
    let table = read(Path::new("/proc/self/mountinfo"));
    table
        .lines()
        .find_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let mount_point = before.split(' ').nth(4)?;
            after
                .starts_with("cgroup2 ")
                .then(|| PathBuf::from(mount_point))
        })
        .expect("no cgroup2 filesystem is mounted: the device program needs one")
}

/// A bare cgroup in the v2 tree, removed on drop (after its process is gone).
struct V2Cgroup(PathBuf);

impl Drop for V2Cgroup {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir(&self.0) {
            eprintln!("cannot remove {}: {e}", self.0.display());
        }
    }
}

/// The v2 path on any kernel: device programs run for the cgroup2 tree even
/// on a hybrid machine, where the unified tree holds no controller. So the
/// generated program is loaded, verified and enforced here too (the
/// cgroup2-only guest proves it through `Cgroup::create`).
#[test]
fn the_v2_device_program_is_enforced_by_this_kernel() {
    require_root();
    let disk = LoopDevice::attach();
    let cgroup = V2Cgroup(cgroup2_mount().join(unique("skiff-devices-test")));
    std::fs::create_dir(&cgroup.0).expect("mkdir in the cgroup2 tree");
    let program = bpf::load(&bpf::program(DEFAULT_RULES)).expect("load the device program");
    bpf::attach(&cgroup.0, &program).expect("attach it");
    drop(program);
    let attached = bpf::attached(&cgroup.0).unwrap();
    assert_eq!(attached.ids.len(), 1, "{attached:?}");
    assert_eq!(attached.flags, bpf::BPF_F_ALLOW_MULTI);

    let join = |child: nix::unistd::Pid| {
        std::fs::write(cgroup.0.join("cgroup.procs"), child.to_string()).expect("join")
    };
    assert_eq!(attempt(&Op::read(&disk.path), join), Err(Errno::EPERM));
    assert_eq!(
        attempt(&Op::open("/dev/kmsg", OFlag::O_RDONLY), join),
        Err(Errno::EPERM)
    );
    assert_eq!(attempt(&Op::read("/dev/zero"), join), Ok(vec![0; 64]));
    let scratch = tempfile::tempdir().expect("tempdir");
    let node = scratch.path().join("disk");
    assert_eq!(
        attempt(
            &Op::mknod(&node, SFlag::S_IFBLK, disk.major, disk.minor),
            join
        ),
        Ok(Vec::new())
    );
    assert_eq!(attempt(&Op::read(&node), join), Err(Errno::EPERM));
    // Control: the same node opens outside the cgroup.
    assert!(on_host(&Op::read(&node)).unwrap().starts_with(DISK_DATA));
}

/// An empty rule list denies everything, /dev/null included.
#[test]
fn a_program_without_rules_denies_even_dev_null() {
    require_root();
    let cgroup = V2Cgroup(cgroup2_mount().join(unique("skiff-devices-none")));
    std::fs::create_dir(&cgroup.0).expect("mkdir in the cgroup2 tree");
    let program = bpf::load(&bpf::program(&[])).expect("load");
    bpf::attach(&cgroup.0, &program).expect("attach");
    let join = |child: nix::unistd::Pid| {
        std::fs::write(cgroup.0.join("cgroup.procs"), child.to_string()).expect("join")
    };
    assert_eq!(
        attempt(&Op::open("/dev/null", OFlag::O_RDONLY), join),
        Err(Errno::EPERM)
    );
    assert_eq!(on_host(&Op::open("/dev/null", OFlag::O_RDONLY)), Ok(vec![]));
}

// ---------------------------------------------------------------------------
// Through the chapter binaries, as a learner runs them.

fn run_in(program: &Path, rootfs: &Rootfs, args: &[&str]) -> Command {
    let mut command = Command::new(program);
    // `--rm`: the transcript leaves no record behind for the ones typed
    // after it (chapter 3's `ps -a` shows only its own container).
    command
        .arg("run")
        .args(["--rm", "--rootfs", "rootfs"])
        .args(args)
        .current_dir(rootfs.workdir())
        .env("SKIFF_ROOT", rootfs.workdir().join("state"))
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    command
}

#[test]
fn transcript_a_disk_node_in_the_image_before_and_after() {
    require_root();
    let rootfs = Rootfs::busybox();
    let dir = rootfs.workdir();
    let mut t = Transcript::new();
    // The data ends with a newline (33 bytes), so that the terminal's
    // prompt comes on a line of its own after `head` prints it.
    t.comment("a disk of the host's: a file of data, attached as a loop device");
    t.setup(
        dir,
        "printf \"skiff test disk: the host's data\\n\" > disk.img && truncate -s 1M disk.img",
    );
    let attached = t.setup(dir, "losetup --find --show disk.img");
    let disk = LoopDevice::adopt(attached.output.trim());
    assert_eq!(disk.major, 7, "a loop device has major number 7");
    t.comment("an image that ships a node for it, open to everyone");
    t.setup(dir, &format!("mknod -m 666 rootfs/disk b 7 {}", disk.minor));
    let nobody = [
        "--user",
        "65534",
        "--security-opt",
        "no-new-privileges",
        "--",
        "head",
        "-c",
        "33",
        "/disk",
    ];
    let no_caps = [
        "--cap-drop",
        "ALL",
        "--user",
        "65534",
        "--",
        "head",
        "-c",
        "33",
        "/disk",
    ];
    let ch03 = Path::new(env!("CARGO_BIN_EXE_ch03-cgroups"));

    t.comment("chapter 2: the node reads the host's disk, even as nobody");
    let before = t.run(&mut run_in(
        &workspace_bin("ch02-namespaces"),
        &rootfs,
        &nobody,
    ));
    assert_eq!(before.code, 0, "{}", before.output);
    assert!(
        before
            .output
            .contains(std::str::from_utf8(DISK_DATA).unwrap()),
        "{}",
        before.output
    );

    t.comment("chapter 3: docker's device rules; the node is there, opening it is refused");
    for flags in [&nobody[..], &no_caps[..]] {
        let after = t.run(&mut run_in(ch03, &rootfs, flags));
        assert_ne!(after.code, 0, "{}", after.output);
        assert!(
            after.output.contains("Operation not permitted"),
            "{}",
            after.output
        );
        assert!(
            !after.output.contains("skiff test disk"),
            "{}",
            after.output
        );
    }

    t.comment("root in the container may make a node, not open it; /dev/null still works");
    let script = format!(
        "mknod /tmp/disk b {} {} && head -c 33 /tmp/disk; echo hidden >/dev/null && echo /dev/null works",
        disk.major, disk.minor
    );
    let inside = t.run(&mut run_in(ch03, &rootfs, &["--", "sh", "-c", &script]));
    assert_eq!(inside.code, 0, "{}", inside.output);
    assert!(
        inside.output.contains("Operation not permitted"),
        "{}",
        inside.output
    );
    assert!(
        inside.output.contains("/dev/null works"),
        "{}",
        inside.output
    );
    assert!(
        !inside.output.contains("skiff test disk"),
        "{}",
        inside.output
    );

    let mut disk = disk;
    t.setup(dir, &format!("losetup -d {}", disk.path.display()));
    disk.attached = false;
    let text = scrub(
        t.text(),
        &[(r"/dev/loop\d+", "/dev/loop[N]"), (r"b 7 \d+", "b 7 [N]")],
    );
    snapshot_settings().bind(|| insta::assert_snapshot!("devices", text));
}
