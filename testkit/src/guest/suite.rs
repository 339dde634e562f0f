//! Whole test suites in a cgroup2-only guest: the proof that the tests pass
//! on a learner's machine, whatever layout the host has.
//!
//! `scripts/cgroup2-suite` builds the test binaries (`cargo test --no-run
//! --message-format=json`, the whole workspace unless `-p` chooses) and the
//! workspace's binaries, and hands cargo's messages to [`Plan::from_cargo`].
//! [`run`] then:
//!
//! 1. gathers a root filesystem ([`super::disk`]): the test binaries (debug
//!    information stripped), the workspace's binaries and build-script
//!    outputs (the static probe), the workspace's sources (snapshots,
//!    fixtures), the Debian packages whose tools the tests call
//!    ([`PACKAGES`]) with everything they depend on
//!    ([`super::packages`]: Python and its modules for docker-compose,
//!    containerd, runc and tini for dockerd), the docker CLI, every library
//!    they need, each at its path on the host, and the guest kernel's
//!    modules;
//! 2. writes it to an ext4 image with `mke2fs -d`;
//! 3. boots Debian's cloud kernel on it, with a network card whose cable is
//!    unplugged: a small initramfs loads the virtio drivers, overlayfs and
//!    loop, mounts the disk and `switch_root`s to it; the second stage
//!    ([`super::stage2`]) mounts cgroup2 alone on `/sys/fs/cgroup` (as
//!    systemd does, with `nsdelegate`), moves itself into a cgroup of its
//!    own (as a login session is), makes busybox the kernel's `modprobe`
//!    (veth, bridge, nf_tables and NAT load on demand, as on a machine),
//!    brings up `lo` and an uplink with the default route, and runs each
//!    test binary from its package's directory, as `cargo test` does, with
//!    `CI=true`; `/tmp` is a directory of the disk, as on Debian 12 (a tmpfs
//!    before Linux 6.6 refuses the `user.*` extended attributes layers may
//!    carry); then it lists what the tests left behind;
//! 4. reads the serial console as it comes, echoes it, and sums up: each
//!    binary, each package, the peak memory, the image's size, and what was
//!    left behind (which fails the run, as a failed test does).
//!
//! With KVM (`/dev/kvm`) a guest boots in about a second; where KVM is
//! missing or hangs (nested virtualisation), qemu emulates the CPU, several
//! times slower. [`AccelChoice::Auto`] tries KVM and falls back.

use super::disk::{DiskError, GuestTree, make_ext4};
use super::stage2::{self, LEFT_BEHIND, STAGE2, TOOLS};
use super::{Accel, GUEST_KERNEL, GUEST_MODULES, Guest, Machine};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What went wrong before the tests could run.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("building the guest's disk: {0}")]
    Disk(#[from] DiskError),
    #[error("cargo's messages: {0}")]
    Cargo(String),
    #[error("{0}")]
    Guest(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> SuiteError {
    let what = what.into();
    move |source| SuiteError::Io { what, source }
}

/// One test binary, and where `cargo test` would run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestBinary {
    /// `package/target`, e.g. `ch03-cgroups/limits`.
    pub name: String,
    pub path: PathBuf,
    /// The package's directory (cargo runs tests from there).
    pub dir: PathBuf,
}

/// What goes into the guest, from cargo's `--message-format=json` output.
#[derive(Debug, Default, Clone)]
pub struct Plan {
    pub tests: Vec<TestBinary>,
    /// The workspace's binaries (`target/debug/ch01-process`, ...): tests
    /// find them by their path.
    pub binaries: Vec<PathBuf>,
    /// Executables the workspace's build scripts made (the static probe).
    pub generated: Vec<PathBuf>,
}

impl Plan {
    /// Reads cargo's JSON messages, one per line. Artifacts of packages
    /// outside the workspace (registry crates) bring nothing but libraries,
    /// which the binaries carry.
    pub fn from_cargo(messages: &str) -> Result<Plan, SuiteError> {
        let mut plan = Plan::default();
        for line in messages.lines().filter(|l| l.starts_with('{')) {
            let message: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| SuiteError::Cargo(format!("not JSON ({e}): {line}")))?;
            let local = message["package_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("path+file://"));
            match message["reason"].as_str() {
                Some("compiler-artifact") if local => {
                    let Some(executable) = message["executable"].as_str() else {
                        continue;
                    };
                    let executable = PathBuf::from(executable);
                    if message["profile"]["test"] == true {
                        let manifest = message["manifest_path"].as_str().unwrap_or_default();
                        let dir = Path::new(manifest)
                            .parent()
                            .map(Path::to_path_buf)
                            .unwrap_or_default();
                        let package = package_name(&message["package_id"], &dir);
                        let target = message["target"]["name"].as_str().unwrap_or_default();
                        let kind = message["target"]["kind"][0].as_str().unwrap_or_default();
                        let name = match kind {
                            "test" => format!("{package}/{target}"),
                            other => format!("{package}/{target} ({other})"),
                        };
                        plan.tests.push(TestBinary {
                            name,
                            path: executable,
                            dir,
                        });
                    } else {
                        plan.binaries.push(executable);
                    }
                }
                Some("build-script-executed") if local => {
                    let Some(out) = message["out_dir"].as_str() else {
                        continue;
                    };
                    for entry in std::fs::read_dir(out).into_iter().flatten().flatten() {
                        let is_exe = entry
                            .metadata()
                            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
                        if is_exe {
                            plan.generated.push(entry.path());
                        }
                    }
                }
                _ => {}
            }
        }
        plan.tests.sort_by(|a, b| a.name.cmp(&b.name));
        plan.tests.dedup();
        if plan.tests.is_empty() {
            return Err(SuiteError::Cargo(
                "no test binary in cargo's messages: run `cargo test --no-run --message-format=json`"
                    .to_string(),
            ));
        }
        Ok(plan)
    }
}

/// A package's name from its id: `path+file:///w/chapters/03-cgroups#ch03-cgroups@0.1.0`,
/// or `path+file:///w/probe#0.1.0` when the name is the directory's.
fn package_name(id: &serde_json::Value, dir: &Path) -> String {
    let fragment = id
        .as_str()
        .and_then(|id| id.rsplit_once('#'))
        .map(|(_, fragment)| fragment);
    match fragment.and_then(|f| f.split_once('@')) {
        Some((name, _)) => name.to_string(),
        None => dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    }
}

/// The Debian packages whose programs the tests run on the host side, or
/// that those programs need (configuration, dlopen'ed libraries). The guest
/// gets them with everything they depend on
/// ([`super::packages::closure`]): `docker-compose` brings Python and its
/// modules, `docker.io` brings containerd, runc and tini.
pub const PACKAGES: &[&str] = &[
    "busybox-static",
    "coreutils",
    "dash",
    "bash",
    "sed",
    "grep",
    "mawk",
    "findutils",
    "diffutils",
    "tar",
    "gzip",
    "util-linux",
    "mount",
    "procps",
    "iproute2",
    "nftables",
    "libc-bin",
    "libc6",
    "libssl3",
    "openssl",
    "curl",
    "apache2-utils",
    "docker-registry",
    "skopeo",
    "umoci",
    "golang-github-containers-common",
    "golang-github-containers-image",
    // The engine's callers and comparisons (final/tests): dockerd and
    // containerd driving skiff-runc, runc beside it, docker-compose 1.29
    // against the skiff daemon.
    "docker.io",
    "containerd",
    "runc",
    "docker-compose",
    // msgfmt, which checks the book's translation catalogs (tools/book-i18n).
    "gettext",
];

/// Programs the tests run that no Debian package brings: `mdbook`
/// (tools/book-i18n builds books with it), installed by `cargo install`.
/// Each is taken from the `PATH` of the run, put at its own path, and
/// linked from the guest's tools directory, which is on the guest's `PATH`.
pub const PATH_PROGRAMS: &[&str] = &["mdbook"];

/// Single host files the guest needs besides the packages: the users and
/// groups the tests switch to, name resolution for `localhost`, Debian's
/// `awk` alternative, and the docker 28 CLI the engine's tests drive (not
/// a Debian package: docker's static build, installed by hand).
pub const HOST_FILES: &[&str] = &[
    "/etc/passwd",
    "/etc/group",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/usr/bin/awk",
    "/etc/ssl/openssl.cnf",
    "/usr/local/bin/docker",
];

/// The kernel modules the guest loads before it mounts its disk: the
/// drivers of its disk and of its (unplugged) network card. A machine's
/// udev loads drivers for the devices it finds; the guest has no udev.
pub const BOOT_MODULES: &[&str] = &["virtio_pci", "virtio_blk", "virtio_net"];

/// The modules loaded before the tests because nothing would load them on
/// demand: `loop` (`/dev/loop-control` appears only once it is loaded).
/// Everything else the tests use (overlay, veth, bridge, nf_tables and its
/// expressions, NAT) the kernel loads when it is first asked for, through
/// `modprobe`, as on any machine: the guest's disk holds the kernel's
/// modules, and busybox's `modprobe` answers the kernel's requests. As on a
/// fresh Debian machine, `br_netfilter` is not loaded (docker loads it; the
/// hybrid host has it built in): bridged traffic does not go through
/// nftables' `ip` tables, and the tests pass both ways.
pub const DEFAULT_MODULES: &[&str] = &["overlay", "loop"];

/// The room the guest's disk has beside its files: the tests write under
/// `/tmp` (image stores, layers, containers) and the checker builds
/// starter trees. The image is sparse: only what is written takes space
/// on the host.
const FREE_BYTES: u64 = 6 << 30;

/// Which accelerator to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccelChoice {
    /// KVM when `/dev/kvm` opens and a guest boots with it within
    /// [`Suite::kvm_probe`]; emulation otherwise.
    Auto,
    Only(Accel),
}

/// A run of test binaries in a cgroup2 guest.
#[derive(Debug, Clone)]
pub struct Suite {
    pub plan: Plan,
    /// The workspace root: its sources go into the guest.
    pub workspace: PathBuf,
    pub memory_mib: u32,
    pub cpus: u32,
    pub accel: AccelChoice,
    /// Extra kernel modules to load (besides [`DEFAULT_MODULES`]).
    pub modules: Vec<String>,
    /// Arguments given to every test binary (a filter, `--test-threads`).
    pub test_args: Vec<String>,
    /// How long one test binary may run in the guest before it is killed.
    pub per_binary: Duration,
    /// How long the whole run may take, boot included.
    pub timeout: Duration,
    /// How long a KVM guest may take to reach its first stage.
    pub kvm_probe: Duration,
    /// Where to keep the console's text.
    pub log: Option<PathBuf>,
    /// Echo the console as it comes.
    pub echo: bool,
    /// The Rust toolchain, for the packages whose tests run cargo
    /// ([`CARGO_PACKAGES`]).
    pub toolchain: Option<Toolchain>,
}

/// The packages whose tests run cargo themselves: the checker builds each
/// chapter's starter tree (`cargo build --offline`) and checks what the
/// build gives. When the plan holds one of their tests, the guest gets the
/// toolchain, the crates' sources and a linker.
pub const CARGO_PACKAGES: &[&str] = &["skiff-check"];

/// The C toolchain rustc links with (`cc`), with the C library's files
/// for linking, as Debian packages.
pub const LINKER_PACKAGES: &[&str] = &["gcc", "libc6-dev"];

/// `cc` itself: Debian's alternatives link (`/usr/bin/cc ->
/// /etc/alternatives/cc -> /usr/bin/gcc`), which no package lists.
pub const LINKER_FILES: &[&str] = &["/usr/bin/cc"];

/// The target the toolchain builds for: the guest's, which is the host's.
const HOST_TARGET: &str = "x86_64-unknown-linux-gnu";

/// A Rust toolchain on the host, put in the guest at the same paths.
#[derive(Debug, Clone)]
pub struct Toolchain {
    /// `rustc --print sysroot`: its `bin/` (cargo, rustc) and `lib/`
    /// (rustc's libraries and the standard library) go in.
    pub sysroot: PathBuf,
    /// `$CARGO_HOME` (`~/.cargo`): its `registry/` (the index, the crates
    /// and their sources) goes in, for `cargo build --offline`.
    pub cargo_home: PathBuf,
}

impl Toolchain {
    /// The toolchain's cargo.
    pub fn cargo(&self) -> PathBuf {
        self.sysroot.join("bin/cargo")
    }

    /// The toolchain's rustc.
    pub fn rustc(&self) -> PathBuf {
        self.sysroot.join("bin/rustc")
    }
}

impl Plan {
    /// Whether a test of the plan runs cargo ([`CARGO_PACKAGES`]).
    pub fn needs_cargo(&self) -> bool {
        self.tests.iter().any(|test| {
            let package = test.name.split('/').next().unwrap_or_default();
            CARGO_PACKAGES.contains(&package)
        })
    }
}

/// How one test binary did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryResult {
    pub name: String,
    /// Its exit code; `None` when the guest stopped before it finished.
    pub code: Option<i32>,
    /// libtest's `test result: ...` line.
    pub summary: String,
    pub seconds: u64,
}

/// How the run went.
#[derive(Debug, Clone)]
pub struct Report {
    pub accel: Accel,
    /// What the guest said about itself: kernel, cgroup mounts, controllers.
    pub facts: Vec<String>,
    pub results: Vec<BinaryResult>,
    /// Building the disk, booting, and everything.
    pub prepare: Duration,
    pub total: Duration,
    /// Whether the guest ran to its end (every binary, then power off).
    pub completed: bool,
    /// What the tests left behind in the guest (cgroups, processes,
    /// mounts, links...), one line per kind; empty when nothing was left.
    pub leftovers: Vec<String>,
    /// The bytes of the files put on the disk image.
    pub files_bytes: u64,
    /// The bytes the (sparse) disk image takes on the host's disk.
    pub image_bytes: u64,
}

/// How one package's test binaries did, all together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageResult {
    pub package: String,
    pub binaries: usize,
    pub failed: usize,
    pub seconds: u64,
}

impl Report {
    /// Every binary ran and passed.
    pub fn passed(&self) -> bool {
        self.completed
            && self.leftovers.is_empty()
            && self.results.iter().all(|r| r.code == Some(0))
    }

    /// The results per package (the part of a binary's name before its
    /// `/`), in the order they ran.
    pub fn packages(&self) -> Vec<PackageResult> {
        let mut packages: Vec<PackageResult> = Vec::new();
        for result in &self.results {
            let package = result.name.split('/').next().unwrap_or_default();
            let index = match packages.iter().position(|p| p.package == package) {
                Some(index) => index,
                None => {
                    packages.push(PackageResult {
                        package: package.to_string(),
                        binaries: 0,
                        failed: 0,
                        seconds: 0,
                    });
                    packages.len() - 1
                }
            };
            let entry = &mut packages[index];
            entry.binaries += 1;
            entry.seconds += result.seconds;
            if result.code != Some(0) {
                entry.failed += 1;
            }
        }
        packages
    }

    /// The summary table.
    pub fn table(&self) -> String {
        let mut text = String::new();
        let width = self.results.iter().map(|r| r.name.len()).max().unwrap_or(0);
        for result in &self.results {
            let status = match result.code {
                Some(0) => "ok".to_string(),
                Some(code) => format!("FAILED ({code})"),
                None => "UNFINISHED".to_string(),
            };
            let summary = result
                .summary
                .strip_prefix("test result: ")
                .unwrap_or(&result.summary);
            let _ = writeln!(
                text,
                "  {status:<11} {:<width$}  {:>5} s  {summary}",
                result.name, result.seconds
            );
        }
        text
    }
}

/// How a run's work directory (the disk image, gigabytes) is named in
/// `TMPDIR`: this prefix, the pid of the run, a dash, a random part.
const WORK_PREFIX: &str = "skiff-cgroup2-suite-";

/// Removes the work directories of runs that are gone. A run removes its
/// own at its end, on Ctrl-C too ([`stop_on_signals`]); a SIGKILL leaves it,
/// and with it a disk image of several GiB. The pid in the name tells whose
/// it is: one whose process no longer exists is stale. (A pid used again by
/// another process keeps its directory until that process ends: wrong only
/// in the safe direction.)
pub fn remove_stale_work_dirs(tmp: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return removed;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix(WORK_PREFIX))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        if std::fs::remove_dir_all(entry.path()).is_ok() {
            removed.push(entry.path());
        }
    }
    removed
}

/// Builds the guest, runs every test binary of the plan in it, and reports.
pub fn run(suite: &Suite) -> Result<Report, SuiteError> {
    let started = Instant::now();
    let version = module_version()?;
    for stale in remove_stale_work_dirs(&std::env::temp_dir()) {
        eprintln!(
            "cgroup2-suite: removed {}, left by a run that was killed",
            stale.display()
        );
    }
    let work = tempfile::Builder::new()
        .prefix(&format!("{WORK_PREFIX}{}-", std::process::id()))
        .tempdir()
        .map_err(io_error("create a temporary directory"))?;
    let nonce = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|t| t.as_millis())
            .unwrap_or_default()
    );
    let markers = SuiteMarkers::new(&nonce);

    let image = work.path().join("disk.ext4");
    let files_bytes;
    {
        let mut tree = GuestTree::new(&work.path().join("root"))?;
        fill(&mut tree, suite, &version, &markers)?;
        // /tmp is on the disk, as on a Debian machine: room for what the
        // tests write there (the image is sparse: only what is written
        // takes space).
        make_ext4(&tree, &image, FREE_BYTES)?;
        files_bytes = tree.bytes();
    }
    let image_bytes = std::fs::metadata(&image)
        .map(|meta| std::os::unix::fs::MetadataExt::blocks(&meta) * 512)
        .unwrap_or(0);
    std::fs::remove_dir_all(work.path().join("root"))
        .map_err(io_error("remove the staging tree"))?;

    let mut modules: Vec<String> = BOOT_MODULES.iter().map(|m| m.to_string()).collect();
    modules.extend(DEFAULT_MODULES.iter().map(|m| m.to_string()));
    modules.extend(suite.modules.iter().cloned());
    let initrd = work.path().join("initrd.cpio");
    build_stage1(
        &work.path().join("initramfs"),
        &initrd,
        &version,
        &modules,
        &markers,
    )?;

    let accels = match suite.accel {
        AccelChoice::Only(accel) => vec![accel],
        AccelChoice::Auto if kvm_opens() => vec![Accel::Kvm, Accel::Tcg],
        AccelChoice::Auto => vec![Accel::Tcg],
    };
    let mut log = match &suite.log {
        Some(path) => Some(
            std::fs::File::create(path).map_err(io_error(format!("create {}", path.display())))?,
        ),
        None => None,
    };
    let deadline = started + suite.timeout;
    for (index, accel) in accels.iter().enumerate() {
        let machine = Machine {
            memory_mib: suite.memory_mib,
            cpus: suite.cpus,
            accel: *accel,
            disk: Some(image.clone()),
            append: "rdinit=/init".to_string(),
            unplugged_nic: true,
        };
        let last = index + 1 == accels.len();
        let probe = (*accel == Accel::Kvm && !last).then_some(suite.kvm_probe);
        let prepare = started.elapsed();
        match watch(
            &machine, &initrd, &markers, probe, deadline, suite.echo, &mut log,
        )? {
            Watched::NoBoot => {
                eprintln!(
                    "cgroup2-suite: a KVM guest did not boot within {:?}; using software emulation (tcg)",
                    suite.kvm_probe
                );
            }
            Watched::Console { lines, timed_out } => {
                let mut report = markers.parse(&lines, *accel);
                report.files_bytes = files_bytes;
                report.image_bytes = image_bytes;
                report.prepare = prepare;
                report.total = started.elapsed();
                if timed_out {
                    report.completed = false;
                }
                return Ok(report);
            }
        }
    }
    Err(SuiteError::Guest(
        "no accelerator booted the guest".to_string(),
    ))
}

/// Puts everything the tests need into the tree, and the second stage.
fn fill(
    tree: &mut GuestTree,
    suite: &Suite,
    version: &str,
    markers: &SuiteMarkers,
) -> Result<(), SuiteError> {
    tree.add_packages_with_dependencies(PACKAGES)?;
    // The kernel's modules where modprobe looks for them
    // (/lib/modules/VERSION, under /usr on a merged-/usr system), and
    // busybox as the modprobe the kernel runs.
    let lib = std::fs::canonicalize("/lib").unwrap_or_else(|_| PathBuf::from("/lib"));
    tree.add_tree_at(
        &Path::new(GUEST_MODULES).join(version),
        &lib.join("modules").join(version),
    )?;
    tree.add(Path::new(crate::rootfs::BUSYBOX))?;
    tree.symlink(
        Path::new(crate::rootfs::BUSYBOX),
        &Path::new(TOOLS).join("modprobe"),
    )?;
    for file in HOST_FILES {
        if Path::new(file).exists() {
            tree.add(Path::new(file))?;
        }
    }
    for program in PATH_PROGRAMS {
        if let Some(path) = on_path(program) {
            tree.add(&path)?;
            tree.symlink(&path, &Path::new(TOOLS).join(program))?;
        }
    }
    tree.add_tree(&suite.workspace, &["target", ".git"])?;
    for test in &suite.plan.tests {
        tree.add_stripped(&test.path)?;
    }
    for binary in &suite.plan.binaries {
        tree.add_stripped(binary)?;
    }
    for generated in &suite.plan.generated {
        tree.add(generated)?;
    }
    if suite.plan.needs_cargo() {
        let toolchain = suite.toolchain.as_ref().ok_or_else(|| {
            SuiteError::Guest(format!(
                "the tests of {} run cargo: give the guest a toolchain (--toolchain SYSROOT \
                 --cargo-home DIR; scripts/cgroup2-suite does)",
                CARGO_PACKAGES.join(", ")
            ))
        })?;
        // The programs first, with the system's libraries they need
        // (libz, libgcc_s...); then the rest as it is: the toolchain's
        // programs find its libraries through $ORIGIN.
        let linker = toolchain
            .sysroot
            .join("lib/rustlib")
            .join(HOST_TARGET)
            .join("bin/rust-lld");
        for program in [toolchain.cargo(), toolchain.rustc(), linker] {
            if program.exists() {
                tree.add(&program)?;
            }
        }
        for dir in ["bin", "lib"] {
            tree.add_tree_plain(&toolchain.sysroot.join(dir))?;
        }
        tree.add_tree(&toolchain.cargo_home.join("registry"), &[])?;
        tree.add_packages_with_dependencies(LINKER_PACKAGES)?;
        for file in LINKER_FILES {
            tree.add(Path::new(file))?;
        }
    }
    stage2::write(tree, suite, markers)?;
    Ok(())
}

/// Where `program` is on this process's `PATH`, if anywhere.
fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// The kernel version whose modules `scripts/fetch-guest-kernel` kept.
fn module_version() -> Result<String, SuiteError> {
    let missing = || {
        SuiteError::Guest(format!(
            "{GUEST_KERNEL} or {GUEST_MODULES} is missing: run `sudo ./scripts/fetch-guest-kernel`"
        ))
    };
    if !Path::new(GUEST_KERNEL).is_file() {
        return Err(missing());
    }
    std::fs::read_dir(GUEST_MODULES)
        .map_err(|_| missing())?
        .flatten()
        .find(|entry| entry.path().join("modules.dep").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .ok_or_else(missing)
}

/// The modules to load for `wanted`, dependencies first, as paths under the
/// version's directory, from `modules.dep` (`path: dependency...`).
pub fn load_order(modules_dep: &str, wanted: &[String]) -> Result<Vec<String>, String> {
    let mut deps: HashMap<String, (String, Vec<String>)> = HashMap::new();
    let module_name = |path: &str| {
        Path::new(path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
            .split(".ko")
            .next()
            .unwrap_or_default()
            .replace('-', "_")
    };
    for line in modules_dep.lines() {
        let Some((path, rest)) = line.split_once(':') else {
            continue;
        };
        let requires = rest.split_whitespace().map(module_name).collect();
        deps.insert(module_name(path), (path.to_string(), requires));
    }
    fn visit(
        name: &str,
        deps: &HashMap<String, (String, Vec<String>)>,
        order: &mut Vec<String>,
        seen: &mut Vec<String>,
    ) -> Result<(), String> {
        if seen.iter().any(|s| s == name) {
            return Ok(());
        }
        seen.push(name.to_string());
        let (path, requires) = deps
            .get(name)
            .ok_or_else(|| format!("module {name} is not in modules.dep"))?;
        for dependency in requires {
            visit(dependency, deps, order, seen)?;
        }
        order.push(path.clone());
        Ok(())
    }
    let mut order = Vec::new();
    let mut seen = Vec::new();
    for name in wanted {
        visit(&name.replace('-', "_"), &deps, &mut order, &mut seen)?;
    }
    Ok(order)
}

/// The first stage: an initramfs with busybox and the modules, whose
/// `/init` loads them, mounts the disk and switches to it.
fn build_stage1(
    root: &Path,
    initrd: &Path,
    version: &str,
    modules: &[String],
    markers: &SuiteMarkers,
) -> Result<(), SuiteError> {
    let busybox = Path::new(crate::rootfs::BUSYBOX);
    if !busybox.exists() {
        return Err(SuiteError::Guest(format!(
            "{} is missing: install busybox-static (sudo ./scripts/setup)",
            busybox.display()
        )));
    }
    for dir in ["bin", "dev", "proc", "sys", "newroot"] {
        std::fs::create_dir_all(root.join(dir)).map_err(io_error("mkdir in the initramfs"))?;
    }
    std::fs::copy(busybox, root.join("bin/busybox")).map_err(io_error("copy busybox"))?;
    for applet in [
        "sh",
        "mount",
        "umount",
        "insmod",
        "switch_root",
        "poweroff",
        "sleep",
    ] {
        symlink("busybox", root.join("bin").join(applet)).map_err(io_error("applet link"))?;
    }
    let from = Path::new(GUEST_MODULES).join(version);
    let dep = std::fs::read_to_string(from.join("modules.dep"))
        .map_err(io_error(format!("read {}/modules.dep", from.display())))?;
    let order = load_order(&dep, modules).map_err(SuiteError::Guest)?;
    let mut script = format!(
        "#!/bin/busybox sh\nexport PATH=/bin\nfail() {{ echo \"{failed}$*\"; poweroff -f; }}\n\
         mount -t proc proc /proc\nmount -t sysfs sysfs /sys\n\
         mount -t devtmpfs devtmpfs /dev || fail \"mount devtmpfs\"\n\
         echo \"{stage1}\"\n",
        failed = markers.failed,
        stage1 = markers.stage1,
    );
    for path in &order {
        let inside = Path::new("lib/modules").join(version).join(path);
        let to = root.join(&inside);
        std::fs::create_dir_all(to.parent().expect("a module's directory"))
            .map_err(io_error("mkdir for a module"))?;
        std::fs::copy(from.join(path), &to).map_err(io_error(format!("copy module {path}")))?;
        let _ = writeln!(
            script,
            "insmod /{} || fail \"insmod {path}\"",
            inside.display()
        );
    }
    let _ = write!(
        script,
        "n=0\nwhile [ ! -b /dev/vda ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done\n\
         mount -t ext4 /dev/vda /newroot || fail \"mount /dev/vda\"\n\
         mount --move /dev /newroot/dev || fail \"move /dev\"\n\
         umount /proc /sys\n\
         exec switch_root /newroot {STAGE2}\n"
    );
    let init = root.join("init");
    std::fs::write(&init, script).map_err(io_error("write /init"))?;
    std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o755))
        .map_err(io_error("chmod /init"))?;
    super::pack_cpio(root, initrd);
    std::fs::remove_dir_all(root).map_err(io_error("remove the initramfs tree"))?;
    Ok(())
}

/// The lines the guest prints around each binary. The nonce keeps a test's
/// own output from being taken for one.
pub(super) struct SuiteMarkers {
    pub(super) stage1: String,
    pub(super) failed: String,
    pub(super) begin: String,
    pub(super) run: String,
    pub(super) end: String,
    pub(super) done: String,
}

impl SuiteMarkers {
    fn new(nonce: &str) -> SuiteMarkers {
        SuiteMarkers {
            stage1: format!("SKIFF-SUITE-STAGE1 {nonce}"),
            failed: format!("SKIFF-SUITE-SETUP-FAILED {nonce} "),
            begin: format!("SKIFF-SUITE-BEGIN {nonce}"),
            run: format!("SKIFF-SUITE-RUN {nonce} "),
            end: format!("SKIFF-SUITE-END {nonce} "),
            done: format!("SKIFF-SUITE-DONE {nonce}"),
        }
    }

    /// The report the console's lines make.
    fn parse(&self, lines: &[String], accel: Accel) -> Report {
        let mut report = Report {
            accel,
            facts: Vec::new(),
            results: Vec::new(),
            prepare: Duration::ZERO,
            files_bytes: 0,
            image_bytes: 0,
            leftovers: Vec::new(),
            total: Duration::ZERO,
            completed: false,
        };
        let mut in_facts = false;
        let mut current: Option<BinaryResult> = None;
        for line in lines {
            if line.contains(&self.begin) {
                in_facts = true;
            } else if let Some(at) = line.find(&self.failed) {
                report
                    .facts
                    .push(format!("setup failed: {}", &line[at + self.failed.len()..]));
            } else if let Some(at) = line.find(&self.run) {
                in_facts = false;
                if let Some(unfinished) = current.take() {
                    report.results.push(unfinished);
                }
                current = Some(BinaryResult {
                    name: line[at + self.run.len()..].trim().to_string(),
                    code: None,
                    summary: String::new(),
                    seconds: 0,
                });
            } else if let Some(at) = line.find(&self.end) {
                let mut words = line[at + self.end.len()..].split_whitespace().rev();
                let seconds = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
                let code = words.next().and_then(|w| w.parse().ok());
                if let Some(mut result) = current.take() {
                    result.code = code;
                    result.seconds = seconds;
                    report.results.push(result);
                }
            } else if line.contains(&self.done) {
                // What follows is the kernel powering off.
                in_facts = false;
                report.completed = true;
            } else if let Some(result) = current.as_mut() {
                if let Some(at) = line.find("test result: ") {
                    result.summary = line[at..].trim().to_string();
                }
            } else if in_facts {
                let fact = line.trim().to_string();
                if fact.starts_with(LEFT_BEHIND) && fact != format!("{LEFT_BEHIND}nothing") {
                    report.leftovers.push(fact[LEFT_BEHIND.len()..].to_string());
                }
                report.facts.push(fact);
            }
        }
        if let Some(unfinished) = current.take() {
            report.results.push(unfinished);
        }
        report
    }
}

/// Whether `/dev/kvm` can be opened for reading and writing.
fn kvm_opens() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
}

/// Set by SIGINT or SIGTERM once [`stop_on_signals`] is in place.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop_signal(_signal: std::ffi::c_int) {
    // An atomic store is async-signal-safe; the console loop looks at it.
    STOP.store(true, Ordering::Relaxed);
}

/// Makes SIGINT (Ctrl-C) and SIGTERM stop a run cleanly: qemu is killed,
/// the temporary disk image (gigabytes) is removed, and what ran so far is
/// reported. Without it, the signal would end this process at once and
/// leave the image behind. A handler, not `SIG_IGN`: an ignored signal
/// stays ignored in the programs this process starts (qemu would outlive
/// a Ctrl-C).
pub fn stop_on_signals() -> nix::Result<()> {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let action = SigAction::new(
        SigHandler::Handler(on_stop_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe, and touches nothing else of the process.
        unsafe { sigaction(signal, &action) }?;
    }
    Ok(())
}

/// Whether SIGINT or SIGTERM stopped the run.
pub fn stopped() -> bool {
    STOP.load(Ordering::Relaxed)
}

enum Watched {
    /// The guest did not reach its first stage within the probe time.
    NoBoot,
    Console {
        lines: Vec<String>,
        timed_out: bool,
    },
}

/// Boots the machine and reads its console to the end (or the deadline),
/// echoing and logging it.
fn watch(
    machine: &Machine,
    initrd: &Path,
    markers: &SuiteMarkers,
    probe: Option<Duration>,
    deadline: Instant,
    echo: bool,
    log: &mut Option<std::fs::File>,
) -> Result<Watched, SuiteError> {
    let mut command = machine.command(initrd);
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|e| {
        SuiteError::Guest(format!(
            "cannot start qemu-system-x86_64 ({e}): install it with `sudo ./scripts/setup`"
        ))
    })?;
    let (sender, lines) = mpsc::channel::<String>();
    for stream in [
        Box::new(child.stdout.take().expect("qemu's stdout")) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().expect("qemu's stderr")),
    ] {
        let sender = sender.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut buffer = Vec::new();
            while reader.read_until(b'\n', &mut buffer).unwrap_or(0) > 0 {
                let line = String::from_utf8_lossy(&buffer).replace('\r', "");
                buffer.clear();
                if sender
                    .send(line.trim_end_matches('\n').to_string())
                    .is_err()
                {
                    break;
                }
            }
        });
    }
    drop(sender);
    let guest = Guest { child };
    let booted_by = probe.map(|probe| Instant::now() + probe);
    let mut booted = false;
    let mut seen = Vec::new();
    loop {
        let now = Instant::now();
        let until = match booted_by {
            Some(by) if !booted => by.min(deadline),
            _ => deadline,
        };
        if now >= until || stopped() {
            drop(guest);
            if !booted && !stopped() && booted_by.is_some_and(|by| by <= deadline) {
                return Ok(Watched::NoBoot);
            }
            return Ok(Watched::Console {
                lines: seen,
                timed_out: true,
            });
        }
        // A second at most, to see a stop signal soon.
        match lines.recv_timeout((until - now).min(Duration::from_secs(1))) {
            Ok(line) => {
                booted |= line.contains(&markers.stage1);
                if echo {
                    println!("{line}");
                }
                if let Some(file) = log.as_mut() {
                    let _ = writeln!(file, "{line}");
                }
                seen.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                drop(guest);
                return Ok(Watched::Console {
                    lines: seen,
                    timed_out: false,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_work_dirs_of_ended_runs_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        // No pid reaches 999999999 (pid_max is at most 2^22).
        let stale = tmp.path().join(format!("{WORK_PREFIX}999999999-x1"));
        let live = tmp
            .path()
            .join(format!("{WORK_PREFIX}{}-x2", std::process::id()));
        let other = tmp.path().join("skiff-cgroup2-suite-notapid-x3");
        for dir in [&stale, &live, &other] {
            std::fs::create_dir_all(dir.join("root")).unwrap();
            std::fs::write(dir.join("disk.ext4"), b"image").unwrap();
        }
        assert_eq!(remove_stale_work_dirs(tmp.path()), vec![stale.clone()]);
        assert!(!stale.exists());
        assert!(live.exists() && other.exists());
    }

    #[test]
    fn modules_load_dependencies_first() {
        let dep = "kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko\n\
                   kernel/drivers/virtio/virtio_ring.ko:\n\
                   kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n\
                   kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n\
                   kernel/fs/overlayfs/overlay.ko:\n";
        let order = load_order(
            dep,
            &["virtio_pci".into(), "virtio-blk".into(), "overlay".into()],
        )
        .unwrap();
        assert_eq!(
            order,
            [
                "kernel/drivers/virtio/virtio_ring.ko",
                "kernel/drivers/virtio/virtio.ko",
                "kernel/drivers/virtio/virtio_pci.ko",
                "kernel/drivers/block/virtio_blk.ko",
                "kernel/fs/overlayfs/overlay.ko",
            ]
        );
        assert!(load_order(dep, &["nope".into()]).is_err());
    }

    #[test]
    fn the_console_makes_a_report() {
        let markers = SuiteMarkers::new("n");
        let lines: Vec<String> = [
            "noise",
            "SKIFF-SUITE-BEGIN n",
            "kernel: 6.1.0",
            "SKIFF-SUITE-RUN n a/one",
            "test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.00s",
            "SKIFF-SUITE-END n a/one 0 12",
            "SKIFF-SUITE-RUN n a/two",
            "test result: FAILED. 1 passed; 1 failed",
            "SKIFF-SUITE-END n a/two 101 3",
            "SKIFF-SUITE-RUN n a/three",
            "half",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let report = markers.parse(&lines, Accel::Tcg);
        assert_eq!(report.facts, ["kernel: 6.1.0"]);
        assert_eq!(report.results.len(), 3);
        assert_eq!(report.results[0].code, Some(0));
        assert_eq!(report.results[0].seconds, 12);
        assert_eq!(report.results[1].code, Some(101));
        assert_eq!(report.results[2].code, None);
        assert!(!report.completed);
        assert!(!report.passed());
        assert!(
            report.table().contains("FAILED (101)"),
            "{}",
            report.table()
        );
    }

    #[test]
    fn what_the_tests_left_behind_fails_the_run() {
        let markers = SuiteMarkers::new("n");
        let run = |after: &[&str]| {
            let mut lines = vec![
                "SKIFF-SUITE-BEGIN n",
                "SKIFF-SUITE-RUN n ch01-process/one",
                "SKIFF-SUITE-END n ch01-process/one 0 2",
                "SKIFF-SUITE-RUN n skiff/two",
                "SKIFF-SUITE-END n skiff/two 0 5",
                "SKIFF-SUITE-RUN n skiff/three",
                "SKIFF-SUITE-END n skiff/three 0 7",
                "SKIFF-SUITE-BEGIN n",
                "peak memory in use: 400 MiB",
            ];
            lines.extend(after);
            lines.extend(["SKIFF-SUITE-DONE n", "[ 9.1] reboot: Power down"]);
            let lines: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
            markers.parse(&lines, Accel::Kvm)
        };
        let clean = run(&["left behind: nothing"]);
        assert!(clean.passed(), "{clean:?}");
        assert_eq!(
            clean.facts,
            ["peak memory in use: 400 MiB", "left behind: nothing"]
        );
        assert_eq!(
            clean.packages(),
            [
                PackageResult {
                    package: "ch01-process".into(),
                    binaries: 1,
                    failed: 0,
                    seconds: 2
                },
                PackageResult {
                    package: "skiff".into(),
                    binaries: 2,
                    failed: 0,
                    seconds: 12
                },
            ]
        );
        let leaky = run(&[
            "left behind: cgroups: /sys/fs/cgroup/docker",
            "left behind: links: skiff0-1",
        ]);
        assert!(!leaky.passed());
        assert_eq!(
            leaky.leftovers,
            ["cgroups: /sys/fs/cgroup/docker", "links: skiff0-1"]
        );
    }

    #[test]
    fn cargo_messages_make_a_plan() {
        let messages = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/chapters/03-cgroups#ch03-cgroups@0.1.0","manifest_path":"/w/chapters/03-cgroups/Cargo.toml","target":{"kind":["test"],"name":"limits"},"profile":{"test":true},"executable":"/t/debug/deps/limits-1"}
{"reason":"compiler-artifact","package_id":"path+file:///w/chapters/03-cgroups#ch03-cgroups@0.1.0","manifest_path":"/w/chapters/03-cgroups/Cargo.toml","target":{"kind":["bin"],"name":"ch03-cgroups"},"profile":{"test":false},"executable":"/t/debug/ch03-cgroups"}
{"reason":"compiler-artifact","package_id":"registry+https://github.com/rust-lang/crates.io-index#libc@0.2.0","manifest_path":"/r/libc/Cargo.toml","target":{"kind":["lib"],"name":"libc"},"profile":{"test":false},"executable":null}
{"reason":"build-finished","success":true}"#;
        let plan = Plan::from_cargo(messages).unwrap();
        assert_eq!(
            plan.tests,
            [TestBinary {
                name: "ch03-cgroups/limits".into(),
                path: "/t/debug/deps/limits-1".into(),
                dir: "/w/chapters/03-cgroups".into(),
            }]
        );
        assert_eq!(plan.binaries, [PathBuf::from("/t/debug/ch03-cgroups")]);
        assert!(Plan::from_cargo("").is_err());
    }
}
