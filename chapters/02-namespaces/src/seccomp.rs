//! Seccomp: the system calls a container may make at all.
//!
//! A container shares the host's kernel, and every system call is a door
//! into it. Capabilities close the privileged doors, but many calls need no
//! capability: `keyctl` reads and fills kernel keyrings that are not
//! namespaced; `unshare(CLONE_NEWUSER)` gives any process every capability
//! inside a new user namespace, and with them kernel code (filesystems,
//! netfilter) that has been the way out of many containers; `bpf`,
//! `perf_event_open`, `userfaultfd` and `io_uring` are large and often buggy.
//! Docker's answer is a seccomp filter, and this module is ours.
//!
//! # What the kernel offers
//!
//! `seccomp(SECCOMP_SET_MODE_FILTER, flags, &program)` attaches a classic
//! BPF program to the calling thread. From then on, the kernel runs it
//! before every system call, on a small structure:
//!
//! ```text
//! struct seccomp_data { int nr; u32 arch; u64 instruction_pointer; u64 args[6]; };
//! ```
//!
//! and the program's return value decides: `ALLOW`, `ERRNO(n)` (fail
//! without running the call), `KILL_PROCESS`, `KILL_THREAD`, `TRAP`
//! (`SIGSYS`), `TRACE`, `LOG`, or `USER_NOTIF` (ask an agent).
//!
//! The kernel's rules, each of which shapes the code here:
//!
//! - **No new privileges, or `CAP_SYS_ADMIN`.** Installing a filter needs
//!   one of them. Otherwise an unprivileged process could make a setuid
//!   program's `setuid()` fail while the program goes on as root. So the
//!   engine installs the filter either while it still holds `CAP_SYS_ADMIN`
//!   or after `prctl(PR_SET_NO_NEW_PRIVS)` (see [`Filter::apply`]).
//! - **Forever, and inherited.** A filter cannot be removed. It is copied to
//!   every child at `fork`/`clone` and kept across `execve`; more filters
//!   can be stacked, and the strictest answer of all of them wins. Installed
//!   just before the container's `execve`, it binds the container's first
//!   process and everything that descends from it.
//! - **Numbers, not names, and per architecture.** The program sees `nr`,
//!   and the same number means different calls on different architectures
//!   (an x86_64 process can even make 32-bit x86 calls through `int 0x80`,
//!   with the 32-bit numbers). So a filter first checks `arch` (ours kills
//!   the process for any other), then compares numbers looked up for that
//!   architecture ([`number`]). x32 calls carry the same `arch` as x86_64
//!   but bit 30 set in `nr`: no allowed number matches them, so they get the
//!   default action.
//! - **Arguments are numbers too.** The program can compare the six
//!   argument registers (clone's flags, socket's family) but cannot read the
//!   memory they point to: a filter cannot judge paths, and cannot read
//!   `clone3`'s flags, which is why docker's profile answers `clone3` with
//!   `ENOSYS` (the C library then falls back to `clone`). And the filter
//!   sees all 64 bits of an argument where the kernel reads an `int` from
//!   the low 32 only: a comparison must hold on both, or a family of
//!   `AF_VSOCK | 1 << 32` slips through a "not AF_VSOCK" rule.
//! - **A program of at most 4096 instructions.**
//!
//! # Why an allow-list
//!
//! Every kernel release adds calls. A deny-list lets through whatever it
//! does not know yet (io_uring arrived in 5.1 and was allowed for years by
//! filters that listed what to refuse); an allow-list refuses it until
//! someone decides it is safe. Docker's default profile
//! ([`docker_default`]) is an allow-list: the default action is `EPERM`,
//! about 300 calls are allowed outright, a few only with given arguments,
//! and capabilities add the calls they make meaningful (`mount` with
//! `CAP_SYS_ADMIN`, `ptrace` with `CAP_SYS_PTRACE`...).
//!
//! # In this module
//!
//! - [`SeccompMode`]: docker's `--security-opt seccomp=...` as data.
//! - [`profile`]: docker's JSON profile format.
//! - [`compile`]: a mode and the container's capabilities become a
//!   [`Filter`], before `fork` (it allocates; the child must not).
//! - [`Filter::apply`]: one `seccomp` system call, in the child.
//!
//! Filters are built with seccompiler (pure Rust) for the machine's own
//! architecture, x86_64 or aarch64. Unlike docker, we add no other ABI: a
//! 32-bit x86 call from a container is fatal.

mod compile;
mod default;
pub mod profile;
mod syscalls;

pub use compile::{MAX_INSTRUCTIONS, compile_profile as compile_for, number};
pub use default::{CLONE_NAMESPACE_FLAGS, docker_default};
pub use profile::{Profile, ProfileError};

use crate::caps::{CapSet, UnknownCapability};
use ch01_process::explain;
use nix::errno::Errno;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Which filter a container gets (`--security-opt seccomp=...`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeccompMode {
    /// Docker's default profile (`seccomp=builtin`, or no option at all).
    #[default]
    Default,
    /// No filter (`seccomp=unconfined`).
    Unconfined,
    /// A profile in docker's JSON format (`seccomp=PATH`).
    Profile(PathBuf),
}

impl FromStr for SeccompMode {
    type Err = SeccompError;

    /// Parses the value of `seccomp=VALUE`.
    fn from_str(value: &str) -> Result<SeccompMode, SeccompError> {
        match value {
            "" => Err(SeccompError::EmptyOption),
            "unconfined" => Ok(SeccompMode::Unconfined),
            "builtin" => Ok(SeccompMode::Default),
            path => Ok(SeccompMode::Profile(PathBuf::from(path))),
        }
    }
}

impl SeccompMode {
    /// The mode a list of docker security options asks for: the last
    /// `seccomp=VALUE` (or the older `seccomp:VALUE`); the default profile
    /// when none does. Other options (`no-new-privileges`...) are skipped.
    ///
    /// ```
    /// use ch02_namespaces::seccomp::SeccompMode;
    /// let opts = ["no-new-privileges", "seccomp=unconfined"];
    /// assert_eq!(SeccompMode::from_security_opts(&opts).unwrap(), SeccompMode::Unconfined);
    /// assert_eq!(SeccompMode::from_security_opts::<&str>(&[]).unwrap(), SeccompMode::Default);
    /// ```
    pub fn from_security_opts<S: AsRef<str>>(opts: &[S]) -> Result<SeccompMode, SeccompError> {
        let mut mode = SeccompMode::Default;
        for opt in opts {
            let opt = opt.as_ref();
            if let Some(value) = opt
                .strip_prefix("seccomp=")
                .or_else(|| opt.strip_prefix("seccomp:"))
            {
                mode = value.parse()?;
            }
        }
        Ok(mode)
    }
}

/// Why no filter could be built.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error("seccomp= needs a value: a profile file, unconfined or builtin")]
    EmptyOption,
    #[error(
        "seccomp profile: SCMP_ACT_NOTIFY needs a seccomp agent listening on a socket, which this engine does not have"
    )]
    Notify,
    #[error(
        "seccomp profile: errnoRet {0} is out of range (an errno is 0 to 4095, a trace message 0 to 65534)"
    )]
    BadErrno(u32),
    #[error(
        "seccomp profile: argument index {0} is out of range: a system call has arguments 0 to 5"
    )]
    BadArgIndex(u8),
    #[error(
        "seccomp profile: unknown flag {0:?}: use SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_LOG or SECCOMP_FILTER_FLAG_SPEC_ALLOW"
    )]
    UnknownFlag(String),
    #[error("seccomp profile: an entry has both \"name\" and \"names\": keep one of them")]
    NameAndNames,
    #[error("seccomp profile: an entry names no system call: give it \"names\": [...]")]
    NoNames,
    #[error("seccomp profile: {0}")]
    UnknownCapability(#[from] UnknownCapability),
    #[error("seccomp profile: minKernel {0:?} is not a kernel version such as \"4.8\"")]
    BadKernelVersion(String),
    #[error(
        "seccomp filters are built for x86_64 and aarch64, and this machine is {0}: run with seccomp=unconfined"
    )]
    UnsupportedArch(&'static str),
    #[error("reading the kernel's version (/proc/sys/kernel/osrelease): {0}")]
    KernelVersion(std::io::Error),
    #[error("compiling the seccomp filter: {0}")]
    Compile(seccompiler::BackendError),
    #[error(
        "the seccomp filter has {0} instructions, more than the kernel's limit of 4096: allow fewer system calls, or use fewer argument conditions"
    )]
    TooLarge(usize),
}

/// The architectures we build filters for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    /// The architecture this engine was built for (and so runs on).
    pub fn native() -> Result<Arch, SeccompError> {
        match std::env::consts::ARCH {
            "x86_64" => Ok(Arch::X86_64),
            "aarch64" => Ok(Arch::Aarch64),
            other => Err(SeccompError::UnsupportedArch(other)),
        }
    }

    fn target(self) -> seccompiler::TargetArch {
        match self {
            Arch::X86_64 => seccompiler::TargetArch::x86_64,
            Arch::Aarch64 => seccompiler::TargetArch::aarch64,
        }
    }

    /// Whether a profile's `arches` name means us: Go's names (`amd64`,
    /// `arm64`), as docker uses, or the kernel's.
    fn is_named(self, name: &str) -> bool {
        match self {
            Arch::X86_64 => matches!(name, "amd64" | "x86_64"),
            Arch::Aarch64 => matches!(name, "arm64" | "aarch64"),
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        })
    }
}

/// A kernel version, as `minKernel` compares it: major and minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KernelVersion {
    pub major: u32,
    pub minor: u32,
}

impl KernelVersion {
    /// The running kernel's version.
    pub fn running() -> Result<KernelVersion, SeccompError> {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_err(SeccompError::KernelVersion)?;
        KernelVersion::parse(release.trim())
    }

    /// Reads `"4.8"`, `"6.1.0-27-amd64"` and the like.
    pub fn parse(text: &str) -> Result<KernelVersion, SeccompError> {
        let bad = || SeccompError::BadKernelVersion(text.to_string());
        let mut parts = text.split(['.', '-']);
        let major = parts.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
        let minor = parts.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
        Ok(KernelVersion { major, minor })
    }
}

/// A compiled filter, ready for [`Filter::apply`].
#[derive(Debug, Clone)]
pub struct Filter {
    program: seccompiler::BpfProgram,
    flags: libc::c_ulong,
    unknown_syscalls: Vec<String>,
    allowed: usize,
}

// The kernel reads the program as `struct sock_filter`: seccompiler's type
// must have its layout (u16 code, u8 jt, u8 jf, u32 k).
const _: () = assert!(
    std::mem::size_of::<seccompiler::sock_filter>() == std::mem::size_of::<libc::sock_filter>()
);

impl Filter {
    /// The program's length, in BPF instructions.
    pub fn instructions(&self) -> usize {
        self.program.len()
    }

    /// How many system calls the filter allows (some only for given
    /// arguments).
    pub fn allowed_syscalls(&self) -> usize {
        self.allowed
    }

    /// Names in the profile this architecture has no call for (32-bit
    /// calls, other architectures' calls, typing errors). Like docker, we
    /// skip them: a profile is written for many architectures.
    pub fn unknown_syscalls(&self) -> &[String] {
        &self.unknown_syscalls
    }

    // ANCHOR: apply
    /// Attaches the filter to the calling thread, for good: its children
    /// and the programs it runs inherit it.
    ///
    /// One system call, no allocation: fit for the child between `fork`
    /// and `execve`. The kernel accepts it only if the thread has
    /// `no_new_privs` set or holds `CAP_SYS_ADMIN`, else `EACCES`. Every
    /// system call the process makes afterwards, up to and including
    /// `execve`, must be one the filter allows.
    pub fn apply(&self) -> Result<(), Errno> {
        let program = libc::sock_fprog {
            len: self.program.len() as libc::c_ushort,
            filter: self.program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: `program` points to `len` instructions in the layout the
        // kernel expects (checked above); the kernel copies them during the
        // call and does not write through the pointer.
        let done = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                self.flags,
                &program as *const libc::sock_fprog,
            )
        };
        Errno::result(done).map(drop)
    }
    // ANCHOR_END: apply
}

// ANCHOR: compile
/// The filter `mode` asks for, for a container whose bounding set is
/// `caps`; `None` when unconfined. Call it before `fork`: it reads files
/// and allocates.
pub fn compile(mode: &SeccompMode, caps: &CapSet) -> Result<Option<Filter>, SeccompError> {
    let (profile, what) = match mode {
        SeccompMode::Unconfined => {
            explain!("seccomp: unconfined, no filter");
            return Ok(None);
        }
        SeccompMode::Default => (docker_default(), "docker's default profile".to_string()),
        SeccompMode::Profile(path) => (Profile::load(path)?, format!("profile {}", path.display())),
    };
    let filter = compile_profile(&profile, caps)?;
    explain!(
        "seccomp: {what} for {}: {} system calls allowed, {} BPF instructions",
        Arch::native()?,
        filter.allowed_syscalls(),
        filter.instructions()
    );
    if !filter.unknown_syscalls().is_empty() {
        explain!(
            "seccomp: skipped, not system calls on {}: {}",
            Arch::native()?,
            filter.unknown_syscalls().join(" ")
        );
    }
    Ok(Some(filter))
}
// ANCHOR_END: compile

/// Compiles `profile` for this machine's architecture and kernel.
pub fn compile_profile(profile: &Profile, caps: &CapSet) -> Result<Filter, SeccompError> {
    compile::compile_profile(profile, caps, Arch::native()?, KernelVersion::running()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_options_name_the_mode() {
        let mode = |opts: &[&str]| SeccompMode::from_security_opts(opts).unwrap();
        assert_eq!(mode(&[]), SeccompMode::Default);
        assert_eq!(mode(&["no-new-privileges"]), SeccompMode::Default);
        assert_eq!(mode(&["seccomp=unconfined"]), SeccompMode::Unconfined);
        assert_eq!(mode(&["seccomp:unconfined"]), SeccompMode::Unconfined);
        assert_eq!(
            mode(&["seccomp=unconfined", "seccomp=builtin"]),
            SeccompMode::Default
        );
        assert_eq!(
            mode(&["seccomp=/etc/skiff/strict.json"]),
            SeccompMode::Profile("/etc/skiff/strict.json".into())
        );
        let empty = SeccompMode::from_security_opts(&["seccomp="]).unwrap_err();
        assert!(matches!(empty, SeccompError::EmptyOption), "{empty}");
    }

    #[test]
    fn the_mode_is_configuration_data() {
        let mode = SeccompMode::Profile("strict.json".into());
        let json = serde_json::to_string(&mode).unwrap();
        assert_eq!(json, r#"{"profile":"strict.json"}"#);
        assert_eq!(serde_json::from_str::<SeccompMode>(&json).unwrap(), mode);
        assert_eq!(
            serde_json::to_string(&SeccompMode::Unconfined).unwrap(),
            r#""unconfined""#
        );
    }

    #[test]
    fn kernel_versions_compare_by_major_then_minor() {
        let v = |text| KernelVersion::parse(text).unwrap();
        assert_eq!(v("6.1.0-27-amd64"), KernelVersion { major: 6, minor: 1 });
        assert!(v("4.8") < v("4.10"));
        assert!(v("6.18") > v("5.19.3"));
        assert!(KernelVersion::parse("four").is_err());
        assert!(KernelVersion::running().unwrap() >= v("3.17"));
    }

    #[test]
    fn unconfined_compiles_to_no_filter() {
        let caps = CapSet::docker_default();
        assert!(compile(&SeccompMode::Unconfined, &caps).unwrap().is_none());
        let filter = compile(&SeccompMode::Default, &caps).unwrap().unwrap();
        assert!(
            filter.allowed_syscalls() > 250,
            "{}",
            filter.allowed_syscalls()
        );
    }
}
