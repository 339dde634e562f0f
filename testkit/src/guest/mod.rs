//! Runs test binaries inside a cgroup2-only Linux guest under qemu.
//!
//! Why a guest: a machine mounts its cgroups in one layout, and the tests
//! meet only that one. Some machines (the project's CI among them) boot in
//! the *hybrid* layout: v1 hierarchies under `/sys/fs/cgroup/<controller>`
//! hold the controllers, and a cgroup2 mount at `/sys/fs/cgroup/unified`
//! holds none (chapter 3's `layout.rs` tells the layouts apart, and the
//! book's chapter 3, "Two versions, and the machines in between", explains
//! them). Learners' machines boot with cgroup v2 only. A virtual machine
//! with its own kernel can mount cgroup2 alone, with every controller
//! (`cpuset cpu io memory hugetlb pids rdma misc`), whatever the host has.
//!
//! Two ways to use it:
//!
//! - [`run_in_cgroup2_guest`] runs one binary in a guest whose whole root
//!   is an initramfs: quick (2.5 to 4 s), for a test that drives the cgroup
//!   v2 code directly (chapter 3's `tests/cgroup_v2_guest.rs`).
//! - [`suite`] runs whole test suites in a guest booted from an ext4 disk
//!   image of the host's own files ([`disk`]): the test binaries, the tools
//!   they call and their libraries, at the paths they have on the host
//!   (`scripts/cgroup2-suite`).
//!
//! The guest:
//!
//! - kernel: Debian's `linux-image-6.1.0-*-cloud-amd64`, fetched once into
//!   [`GUEST_KERNEL`] (and its modules into [`GUEST_MODULES`]) by
//!   `scripts/fetch-guest-kernel` (run by `scripts/setup`). The serial
//!   console, initramfs support, ext4 and the cgroup controllers are built
//!   in; virtio's block driver, overlayfs and the loop driver are modules,
//!   which only the disk-booted guest loads.
//! - initramfs, built afresh for each run in a temporary directory: static
//!   busybox with a link per applet, an `/init` shell script, the binary at
//!   `/guest/NAME`, and the shared libraries `ldd` lists for it (with the
//!   dynamic loader) at the same paths as on the host.
//! - `/init` mounts proc, sysfs, devtmpfs, a tmpfs on /tmp and cgroup2 on
//!   /sys/fs/cgroup, runs the binary from `/` with [`IN_GUEST_VAR`]`=1` in its
//!   environment, prints its exit code after a marker line and powers off.
//! - qemu: `qemu-system-x86_64`, by default with TCG (software emulation):
//!   KVM inside a virtual machine (nested virtualisation) is often missing or
//!   hangs, and a run that does little takes 2.5 to 4 s without it. Two CPUs
//!   so cpuset tests have a choice, 512 MiB, no network device, the serial
//!   console on qemu's stdout.
//!
//! A missing kernel or qemu fails the test loudly with what to run: a
//! skipped test would hide the cgroup v2 path.

pub mod disk;
pub mod packages;
mod stage2;
pub mod suite;

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where `scripts/fetch-guest-kernel` puts the guest's kernel.
pub const GUEST_KERNEL: &str = "/var/cache/skiff/guest-kernel/vmlinuz";

/// Where `scripts/fetch-guest-kernel` puts the kernel's modules: the
/// package's `lib/modules/<version>/` with a `modules.dep` made by busybox's
/// `depmod`.
pub const GUEST_MODULES: &str = "/var/cache/skiff/guest-kernel/modules";

/// Set to `1` in the environment of the binary that runs in the guest. A
/// test binary that is both the host-side driver and the guest-side payload
/// checks it (see [`in_guest`]) to know which side it is on.
pub const IN_GUEST_VAR: &str = "SKIFF_IN_GUEST";

/// Whether this process runs inside the cgroup2 guest.
pub fn in_guest() -> bool {
    std::env::var_os(IN_GUEST_VAR).is_some_and(|value| value == "1")
}

/// What the binary did in the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestOutput {
    /// What the binary printed, stdout and stderr interleaved, with `\n`
    /// line ends (the serial console's `\r` removed).
    pub output: String,
    /// The binary's exit code inside the guest (128 + N when signal N killed it).
    pub code: i32,
}

/// Runs `binary` with `args` in a fresh cgroup2-only guest and returns what
/// it printed and its exit code.
///
/// `timeout` bounds the whole run, boot included (a run that does little
/// takes 2.5 to 4 s). Panics, with the console output so far, when the kernel or qemu is
/// missing, when the guest does not finish within `timeout` (qemu is killed),
/// or when it stops without reporting the binary's exit code. The temporary
/// files are removed and qemu is never left running, also on panic.
pub fn run_in_cgroup2_guest(binary: &Path, args: &[&str], timeout: Duration) -> GuestOutput {
    assert!(
        Path::new(GUEST_KERNEL).is_file(),
        "{GUEST_KERNEL} is missing: the cgroup2 guest needs Debian's cloud kernel; \
         run `sudo ./scripts/fetch-guest-kernel` (or `sudo ./scripts/setup`)"
    );
    assert!(
        binary.is_file(),
        "{} is not a file: nothing to run in the guest",
        binary.display()
    );
    let dir = tempfile::Builder::new()
        .prefix("skiff-guest-")
        .tempdir()
        .expect("tempdir");
    let nonce = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default()
    );
    let markers = Markers::new(&nonce);
    let root = dir.path().join("root");
    let initrd = dir.path().join("initrd.cpio");
    build_initramfs(&root, binary, args, &markers);
    pack_cpio(&root, &initrd);
    std::fs::remove_dir_all(&root).expect("remove the initramfs tree");

    let console = dir.path().join("console.log");
    let guest = boot(&initrd, &console);
    let (status, timed_out) = guest.wait(timeout);
    let raw = std::fs::read(&console).unwrap_or_default();
    let text = String::from_utf8_lossy(&raw).replace('\r', "");
    if timed_out {
        panic!(
            "the cgroup2 guest did not finish within {timeout:?}; qemu was killed. \
             Console so far:\n{text}"
        );
    }
    match markers.parse(&text) {
        Some(result) => result,
        None => panic!(
            "the cgroup2 guest stopped ({status}) without reporting the exit code of {}. \
             Console:\n{text}",
            binary.display()
        ),
    }
}

/// The lines `/init` prints around the binary's output. The nonce keeps the
/// binary from printing them by accident.
struct Markers {
    start: String,
    exit: String,
    failed: String,
}

impl Markers {
    fn new(nonce: &str) -> Markers {
        Markers {
            start: format!("SKIFF-GUEST-START {nonce}"),
            exit: format!("SKIFF-GUEST-EXIT {nonce} "),
            failed: format!("SKIFF-GUEST-SETUP-FAILED {nonce} "),
        }
    }

    /// The binary's output and exit code from the console text, or `None`
    /// when the guest did not get as far as reporting the code. The markers
    /// are searched in the text, not matched as whole lines: the firmware's
    /// terminal escapes end up on the start marker's line, and output without
    /// a final newline on the exit marker's.
    fn parse(&self, console: &str) -> Option<GuestOutput> {
        if let Some(at) = console.find(&self.failed) {
            let rest = &console[at + self.failed.len()..];
            panic!(
                "the cgroup2 guest could not set up ({}). Console:\n{console}",
                rest.lines().next().unwrap_or_default()
            );
        }
        let start = console.find(&self.start)? + self.start.len();
        let body = console[start..].strip_prefix('\n')?;
        let exit = body.find(&self.exit)?;
        let code = body[exit + self.exit.len()..]
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()?;
        Some(GuestOutput {
            output: body[..exit].to_string(),
            code,
        })
    }
}

/// Fills `root` with busybox, the binary and its libraries, and `/init`.
fn build_initramfs(root: &Path, binary: &Path, args: &[&str], markers: &Markers) {
    let busybox = Path::new(crate::rootfs::BUSYBOX);
    assert!(
        busybox.exists(),
        "{} is missing: install Debian's busybox-static (sudo ./scripts/setup)",
        busybox.display()
    );
    for dir in ["bin", "dev", "proc", "sys", "tmp", "root", "guest"] {
        std::fs::create_dir_all(root.join(dir)).expect("mkdir in initramfs");
    }
    std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777))
        .expect("chmod /tmp");
    std::fs::copy(busybox, root.join("bin/busybox")).expect("copy busybox");
    let list = Command::new(busybox)
        .arg("--list")
        .output()
        .expect("busybox --list");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            symlink("busybox", root.join("bin").join(applet)).expect("applet symlink");
        }
    }

    let name = binary
        .file_name()
        .and_then(|name| name.to_str())
        .filter(|name| !name.is_empty())
        .unwrap_or("binary");
    copy_executable(binary, &root.join("guest").join(name));
    for library in shared_libraries(binary) {
        let inside = root.join(library.strip_prefix("/").expect("absolute library path"));
        if !inside.exists() {
            std::fs::create_dir_all(inside.parent().expect("library directory"))
                .expect("mkdir for a library");
            copy_executable(&library, &inside);
        }
    }

    let init = root.join("init");
    std::fs::write(&init, init_script(&format!("/guest/{name}"), args, markers))
        .expect("write /init");
    std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o755)).expect("chmod /init");
}

/// Copies a file, following symlinks, and makes it executable.
pub(crate) fn copy_executable(from: &Path, to: &Path) {
    std::fs::copy(from, to)
        .unwrap_or_else(|err| panic!("copy {} into the initramfs: {err}", from.display()));
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// The shared libraries and the dynamic loader `binary` needs, from `ldd`.
/// Empty for a static binary.
pub(crate) fn shared_libraries(binary: &Path) -> Vec<PathBuf> {
    let out = Command::new("ldd")
        .arg(binary)
        .output()
        .expect("ldd (Debian's libc-bin) to list the binary's libraries");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut libraries = Vec::new();
    for line in text.lines().map(str::trim) {
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)"
        // "/lib64/ld-linux-x86-64.so.2 (0x...)"
        // "linux-vdso.so.1 (0x...)": in the kernel, nothing to copy.
        let path = match line.split_once("=>") {
            Some((name, target)) => {
                let target = target.trim();
                assert!(
                    !target.starts_with("not found"),
                    "{} needs {} which ldd cannot find",
                    binary.display(),
                    name.trim()
                );
                target.split_whitespace().next().unwrap_or_default()
            }
            None => line.split_whitespace().next().unwrap_or_default(),
        };
        if path.starts_with('/') {
            libraries.push(PathBuf::from(path));
        }
    }
    libraries
}

/// Quotes `word` for the guest's shell.
pub(crate) fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The guest's `/init`: mounts, runs the binary, reports, powers off.
///
/// The binary's output goes through `cat` so that it does not see a
/// terminal (no colours, no terminal-only behaviour), and it streams to the
/// console as it comes, so a timeout still shows how far it got.
fn init_script(program: &str, args: &[&str], markers: &Markers) -> String {
    let mut command = shell_quote(program);
    for arg in args {
        command.push(' ');
        command.push_str(&shell_quote(arg));
    }
    let mut script = String::new();
    writeln!(
        script,
        r#"#!/bin/busybox sh
export PATH=/bin HOME=/root
fail() {{ echo "{failed}$*"; poweroff -f; }}
mount -t proc proc /proc || fail "mount proc"
mount -t sysfs sysfs /sys || fail "mount sysfs"
mount -t devtmpfs devtmpfs /dev || fail "mount devtmpfs"
mount -t tmpfs tmpfs /tmp || fail "mount tmpfs on /tmp"
mount -t cgroup2 cgroup2 /sys/fs/cgroup || fail "mount cgroup2 on /sys/fs/cgroup"
exec </dev/null >/dev/console 2>&1
cd /
echo "{start}"
( {IN_GUEST_VAR}=1 RUST_BACKTRACE=1 {command}; echo $? >/tmp/.skiff-guest-code ) 2>&1 | cat
echo "{exit}$(cat /tmp/.skiff-guest-code)"
poweroff -f"#,
        failed = markers.failed,
        start = markers.start,
        exit = markers.exit,
    )
    .expect("format /init");
    script
}

/// Packs the tree at `root` into a `newc` cpio archive, the format the
/// kernel unpacks as an initramfs.
pub(crate) fn pack_cpio(root: &Path, archive: &Path) {
    let mut names = Vec::new();
    list_tree(root, Path::new("."), &mut names);
    let mut cpio = Command::new("cpio")
        .args(["-o", "-H", "newc", "--quiet"])
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(File::create(archive).expect("create the initramfs archive"))
        .spawn()
        .expect("cpio (Debian's cpio package: sudo ./scripts/setup)");
    {
        let mut stdin = cpio.stdin.take().expect("cpio stdin");
        for name in &names {
            writeln!(stdin, "{}", name.display()).expect("write to cpio");
        }
    }
    let status = cpio.wait().expect("wait for cpio");
    assert!(status.success(), "cpio failed: {status}");
}

/// Every path under `dir`, relative to the archive root, parents first.
fn list_tree(dir: &Path, relative: &Path, names: &mut Vec<PathBuf>) {
    names.push(relative.to_path_buf());
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read initramfs tree")
        .map(|entry| entry.expect("initramfs tree entry"))
        .collect();
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let inner = relative.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            list_tree(&entry.path(), &inner, names);
        } else {
            names.push(inner);
        }
    }
}

/// A running qemu, killed and reaped on drop (also when a test panics).
pub(crate) struct Guest {
    pub(crate) child: Child,
}

/// How qemu emulates the guest's CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    /// Software emulation: slow, and works everywhere.
    Tcg,
    /// The host's hardware virtualisation (`/dev/kvm`): fast, when it works.
    Kvm,
}

impl Accel {
    /// qemu's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Accel::Tcg => "tcg",
            Accel::Kvm => "kvm",
        }
    }
}

/// The virtual machine a guest runs on.
#[derive(Debug, Clone)]
pub struct Machine {
    pub memory_mib: u32,
    pub cpus: u32,
    pub accel: Accel,
    /// A raw disk image, attached as the virtio disk `/dev/vda`.
    pub disk: Option<PathBuf>,
    /// The kernel's command line after the console settings.
    pub append: String,
    /// Give the guest a network card with no cable: a virtio NIC that
    /// qemu connects to nothing. The guest has a real uplink device, as a
    /// machine has (`/sys/class/net/eth0/device`), and no packet it sends
    /// leaves the guest.
    pub unplugged_nic: bool,
}

impl Machine {
    /// The small initramfs-only guest of [`run_in_cgroup2_guest`].
    fn small() -> Machine {
        Machine {
            memory_mib: 512,
            cpus: 2,
            accel: Accel::Tcg,
            disk: None,
            append: "rdinit=/init".to_string(),
            unplugged_nic: false,
        }
    }

    /// The qemu command that boots `initrd` on this machine, its serial
    /// console on qemu's stdout.
    pub(crate) fn command(&self, initrd: &Path) -> Command {
        let mut command = Command::new("qemu-system-x86_64");
        command
            .args(["-m", &self.memory_mib.to_string()])
            .args(["-smp", &self.cpus.to_string()])
            .args(["-nographic", "-no-reboot", "-nic", "none"])
            .args(["-accel", self.accel.name()]);
        if self.accel == Accel::Kvm {
            command.args(["-cpu", "host"]);
        }
        if self.unplugged_nic {
            // No -netdev: qemu warns that the card has no peer, and
            // drops what the guest sends through it.
            command.args(["-device", "virtio-net-pci,romfile="]);
        }
        if let Some(disk) = &self.disk {
            command.arg("-drive").arg(format!(
                "file={},format=raw,if=virtio,cache=unsafe",
                disk.display()
            ));
        }
        command
            .arg("-kernel")
            .arg(GUEST_KERNEL)
            .arg("-initrd")
            .arg(initrd)
            .arg("-append")
            .arg(format!("console=ttyS0 quiet panic=-1 {}", self.append))
            .stdin(Stdio::null());
        // SAFETY: prctl is async-signal-safe and touches no memory of ours. It
        // makes the kernel kill qemu when the thread that started it dies, even
        // by SIGKILL, where no destructor runs.
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                    .map_err(std::io::Error::from)
            });
        }
        command
    }
}

/// Starts qemu on `initrd` with the serial console written to `console`.
fn boot(initrd: &Path, console: &Path) -> Guest {
    let log = File::create(console).expect("create the console log");
    let mut command = Machine::small().command(initrd);
    command
        .stderr(log.try_clone().expect("dup the console log"))
        .stdout(log);
    let child = command.spawn().unwrap_or_else(|err| {
        panic!("cannot start qemu-system-x86_64 ({err}): install it with `sudo ./scripts/setup`")
    });
    Guest { child }
}

impl Guest {
    /// Waits for qemu to exit, at most `timeout`; on timeout kills it.
    /// Returns how it exited and whether it timed out.
    fn wait(mut self, timeout: Duration) -> (std::process::ExitStatus, bool) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for qemu") {
                return (status, false);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let status = self.child.wait().expect("reap qemu");
                return (status, true);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_extract_output_and_code() {
        let markers = Markers::new("n1");
        let console = "\x1bc\x1b[2JSKIFF-GUEST-START n1\nhello\nworld\nSKIFF-GUEST-EXIT n1 3\nreboot: Power down\n";
        let result = markers.parse(console).expect("parsed");
        assert_eq!(result.output, "hello\nworld\n");
        assert_eq!(result.code, 3);
        assert_eq!(markers.parse("SKIFF-GUEST-START n1\nhalf"), None);
        let unterminated = "SKIFF-GUEST-START n1\nno newlineSKIFF-GUEST-EXIT n1 0\n";
        let result = markers.parse(unterminated).expect("parsed");
        assert_eq!((result.output.as_str(), result.code), ("no newline", 0));
    }

    #[test]
    fn shell_quote_survives_quotes() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
