//! The device allow-list: which device nodes a container may open or create.
//!
//! Namespaces do not cover devices. A device node is a file that names a
//! driver by two numbers, *major:minor* (`b 8:0` is the first SCSI disk,
//! `c 1:11` is `/dev/kmsg`), and whoever opens it talks to that driver, in
//! any namespace. Chapter 2 gives the container a `/dev` with a few harmless
//! nodes, but that is not a wall: a node that ships in an image layer, or one
//! the container makes with `mknod(2)`, opens the host's disk all the same,
//! even as an unprivileged user when the node's mode allows it.
//!
//! The wall is the **devices cgroup**: the kernel asks it at every `open` of
//! a device node and at every `mknod`, with the device's type, numbers and
//! the access wanted (read, write, mknod), and refuses with `EPERM` what it
//! does not allow. It is the only check that does not depend on the
//! container's capabilities, its user, or where the node came from.
//!
//! ## Docker's default rules
//!
//! Everything is denied, then [`DEFAULT_RULES`] are allowed. They are what
//! `docker run` gives a container without `--device` or `--privileged`:
//! moby's default spec (`oci/defaults.go`) allows `null`, `zero`,
//! `random`, `urandom`, `tty` and `console`, and runc appends its own list
//! (`AllowedDevices` in `libcontainer/specconv`), which users cannot remove:
//! `full`, the ptys, `ptmx`, `/dev/net/tun`, and **`mknod` of any character
//! or block device**. Creating a node is harmless when opening it is
//! refused; images unpack with their nodes, and programs that `mknod` a
//! node they then never open keep working.
//!
//! The tun/tap device (`c 10:200`) has a history: runc 1.2.0 removed it
//! from the list as a mistake of Docker's early days (runc PR 3468), and
//! runc 1.2.4 put it back (PR 4555) because users depended on it. Docker
//! ships runc 1.2.4 or later, so containers may open `/dev/net/tun`. A tun
//! device lives in the network namespace of whoever creates it, and
//! creating one needs `CAP_NET_ADMIN`, which docker's default set lacks.
//!
//! ## Two mechanisms
//!
//! - **cgroup v1** has a `devices` controller with its own hierarchy.
//!   Writing `a` to a cgroup's `devices.deny` empties its list and denies
//!   everything; each line written to `devices.allow` (`c 1:3 rwm`) adds an
//!   exception. `devices.list` shows the result.
//! - **cgroup v2** has no devices controller and no files for it. The kernel
//!   runs an eBPF program of type `BPF_PROG_TYPE_CGROUP_DEVICE` attached to
//!   the cgroup instead, and denies when it returns 0. We generate that
//!   program from the same rules (see [`bpf`]).

use crate::cgroup::{Cgroup, CgroupError, write};
use crate::layout::{Controller, Version};
use ch01_process::explain;
use std::fmt;
use std::ops::BitOr;
use std::path::PathBuf;
use std::str::FromStr;

pub mod bpf;

/// Why a device rule is invalid, or the device program could not be put in
/// place.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// A rule is not in the kernel's `TYPE MAJOR:MINOR ACCESS` form.
    #[error("invalid device rule {rule:?}: {reason}")]
    InvalidRule {
        /// The rule as given.
        rule: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The cgroup's directory could not be opened (v2 attaches by fd).
    #[error("cannot open cgroup directory {path}: {source}")]
    OpenDir {
        /// The directory.
        path: PathBuf,
        /// What the kernel said.
        source: nix::Error,
    },
    /// `bpf(BPF_PROG_LOAD)` refused the program.
    #[error(
        "the kernel refused the device program (bpf BPF_PROG_LOAD: {source}){hint}{log}",
        hint = load_hint(*source),
        log = if log.is_empty() { String::new() } else { format!("; verifier log:\n{log}") }
    )]
    Load {
        /// What the kernel said.
        source: nix::Error,
        /// The verifier's explanation, when it gave one.
        log: String,
    },
    /// `bpf(BPF_PROG_ATTACH)` refused to attach the program to the cgroup.
    #[error("cannot attach the device program to {path} (bpf BPF_PROG_ATTACH: {source})")]
    Attach {
        /// The cgroup directory.
        path: PathBuf,
        /// What the kernel said.
        source: nix::Error,
    },
    /// `bpf(BPF_PROG_QUERY)` failed.
    #[error("cannot list the device programs of {path} (bpf BPF_PROG_QUERY: {source})")]
    Query {
        /// The cgroup directory.
        path: PathBuf,
        /// What the kernel said.
        source: nix::Error,
    },
}

fn load_hint(errno: nix::Error) -> &'static str {
    match errno {
        nix::Error::EPERM => {
            ": loading a cgroup device program needs CAP_SYS_ADMIN (or CAP_BPF); run as root"
        }
        nix::Error::ENOSYS => {
            ": this kernel was built without the bpf syscall (CONFIG_BPF_SYSCALL)"
        }
        _ => "",
    }
}

impl DeviceError {
    /// The kernel's errno behind this error, if there is one.
    pub fn errno(&self) -> Option<nix::Error> {
        match self {
            DeviceError::InvalidRule { .. } => None,
            DeviceError::OpenDir { source, .. }
            | DeviceError::Load { source, .. }
            | DeviceError::Attach { source, .. }
            | DeviceError::Query { source, .. } => Some(*source),
        }
    }
}

// ANCHOR: rule
/// Character or block: the two kinds of device node. The same numbers name
/// different drivers in each (`c 1:3` is `/dev/null`, `b 1:3` a RAM disk).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    /// A character device (`c`): terminals, `/dev/null`, `/dev/kmsg`.
    Char,
    /// A block device (`b`): disks, partitions, loop devices.
    Block,
}

/// What a process wants to do with a device: a set of `r`, `w`, `m`.
///
/// The bits are the kernel's (`BPF_DEVCG_ACC_*`), which the v2 program
/// compares with directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Access(u8);

impl Access {
    /// Create a node with `mknod(2)` (`m`).
    pub const MKNOD: Access = Access(1);
    /// Open for reading (`r`).
    pub const READ: Access = Access(2);
    /// Open for writing (`w`).
    pub const WRITE: Access = Access(4);
    /// All three: `rwm`.
    pub const ALL: Access = Access(7);

    /// The kernel's bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every access in `other` is in `self`.
    pub const fn contains(self, other: Access) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for Access {
    type Output = Access;
    fn bitor(self, other: Access) -> Access {
        Access(self.0 | other.0)
    }
}

/// One allowed device, or range of devices: `c 1:3 rwm`, `c 136:* rwm`,
/// `b *:* m`. `None` for a number is the wildcard `*`.
///
/// A rule allows an operation when the kind and both numbers match and
/// *every* access the operation wants is in the rule: opening `/dev/null`
/// read-write asks for `rw` at once, and a rule with `r` alone does not
/// allow it (this is how both the v1 controller and our v2 program decide).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeviceRule {
    /// Character or block.
    pub kind: DeviceKind,
    /// The major number (the driver), or any.
    pub major: Option<u32>,
    /// The minor number (the device of that driver), or any.
    pub minor: Option<u32>,
    /// What is allowed.
    pub access: Access,
}
// ANCHOR_END: rule

impl DeviceRule {
    /// A rule for character devices.
    pub const fn char(major: Option<u32>, minor: Option<u32>, access: Access) -> DeviceRule {
        DeviceRule {
            kind: DeviceKind::Char,
            major,
            minor,
            access,
        }
    }

    /// A rule for block devices.
    pub const fn block(major: Option<u32>, minor: Option<u32>, access: Access) -> DeviceRule {
        DeviceRule {
            kind: DeviceKind::Block,
            major,
            minor,
            access,
        }
    }

    /// Whether this rule allows `access` to the device `kind major:minor`.
    pub fn allows(&self, kind: DeviceKind, major: u32, minor: u32, access: Access) -> bool {
        self.kind == kind
            && self.major.is_none_or(|m| m == major)
            && self.minor.is_none_or(|m| m == minor)
            && self.access.contains(access)
    }
}

// ANCHOR: default_rules
/// Docker's default device rules: everything not listed here is denied.
pub const DEFAULT_RULES: &[DeviceRule] = &[
    // mknod of any node: creating is harmless when opening is refused.
    DeviceRule::char(None, None, Access::MKNOD),
    DeviceRule::block(None, None, Access::MKNOD),
    DeviceRule::char(Some(1), Some(3), Access::ALL), // /dev/null
    DeviceRule::char(Some(1), Some(5), Access::ALL), // /dev/zero
    DeviceRule::char(Some(1), Some(7), Access::ALL), // /dev/full
    DeviceRule::char(Some(1), Some(8), Access::ALL), // /dev/random
    DeviceRule::char(Some(1), Some(9), Access::ALL), // /dev/urandom
    DeviceRule::char(Some(5), Some(0), Access::ALL), // /dev/tty
    DeviceRule::char(Some(5), Some(1), Access::ALL), // /dev/console
    DeviceRule::char(Some(5), Some(2), Access::ALL), // /dev/ptmx
    DeviceRule::char(Some(136), None, Access::ALL),  // /dev/pts/*
    DeviceRule::char(Some(10), Some(200), Access::ALL), // /dev/net/tun
];
// ANCHOR_END: default_rules

/// Whether `rules` allow `access` to `kind major:minor`: what the kernel
/// will decide, computed here (for tests and for explaining a refusal).
pub fn allowed(
    rules: &[DeviceRule],
    kind: DeviceKind,
    major: u32,
    minor: u32,
    access: Access,
) -> bool {
    rules
        .iter()
        .any(|rule| rule.allows(kind, major, minor, access))
}

/// The largest major number: the kernel's `dev_t` keeps 12 bits for it.
pub const MAX_MAJOR: u32 = (1 << 12) - 1;
/// The largest minor number: 20 bits.
pub const MAX_MINOR: u32 = (1 << 20) - 1;

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (bit, letter) in [
            (Access::READ, 'r'),
            (Access::WRITE, 'w'),
            (Access::MKNOD, 'm'),
        ] {
            if self.contains(bit) {
                write!(f, "{letter}")?;
            }
        }
        Ok(())
    }
}

/// The kernel's syntax, as `devices.allow` takes and `devices.list` shows it:
/// `c 1:3 rwm`, `b *:* m`.
impl fmt::Display for DeviceRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            DeviceKind::Char => 'c',
            DeviceKind::Block => 'b',
        };
        let number = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
        write!(
            f,
            "{kind} {}:{} {}",
            number(self.major),
            number(self.minor),
            self.access
        )
    }
}

/// Reads a rule in the kernel's syntax (docker's `--device-cgroup-rule`).
///
/// ```
/// use ch03_cgroups::devices::{Access, DeviceRule};
/// let rule: DeviceRule = "c 136:* rw".parse().unwrap();
/// assert_eq!(rule, DeviceRule::char(Some(136), None, Access::READ | Access::WRITE));
/// assert_eq!(rule.to_string(), "c 136:* rw");
/// assert!("a *:* rwm".parse::<DeviceRule>().is_err());
/// ```
impl FromStr for DeviceRule {
    type Err = DeviceError;

    fn from_str(text: &str) -> Result<DeviceRule, DeviceError> {
        let invalid = |reason: &str| DeviceError::InvalidRule {
            rule: text.to_string(),
            reason: reason.to_string(),
        };
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [kind, numbers, access] = fields[..] else {
            return Err(invalid("write TYPE MAJOR:MINOR ACCESS, like c 1:3 rwm"));
        };
        let kind = match kind {
            "c" => DeviceKind::Char,
            "b" => DeviceKind::Block,
            // v1 reads `a` as "every device", whatever follows: an allow
            // list with it would allow everything.
            "a" => {
                return Err(invalid(
                    "type a (all) is not an allow rule: list c and b rules",
                ));
            }
            _ => return Err(invalid("the type is c (character) or b (block)")),
        };
        let (major, minor) = numbers
            .split_once(':')
            .ok_or_else(|| invalid("the numbers are MAJOR:MINOR, each a number or *"))?;
        let number = |n: &str, max: u32, what: &str| -> Result<Option<u32>, DeviceError> {
            if n == "*" {
                return Ok(None);
            }
            match n.parse::<u32>() {
                Ok(n) if n <= max => Ok(Some(n)),
                _ => Err(invalid(&format!(
                    "the {what} number is a number up to {max}, or *"
                ))),
            }
        };
        let major = number(major, MAX_MAJOR, "major")?;
        let minor = number(minor, MAX_MINOR, "minor")?;
        let mut bits = Access(0);
        for letter in access.chars() {
            bits = bits
                | match letter {
                    'r' => Access::READ,
                    'w' => Access::WRITE,
                    'm' => Access::MKNOD,
                    _ => return Err(invalid("the access is made of r, w and m")),
                };
        }
        if bits.0 == 0 {
            return Err(invalid("the access is made of r, w and m"));
        }
        Ok(DeviceRule {
            kind,
            major,
            minor,
            access: bits,
        })
    }
}

/// In a run spec, a rule is its text: `"c 1:3 rwm"`.
impl serde::Serialize for DeviceRule {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DeviceRule {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Cgroup {
    // ANCHOR: restrict_devices
    /// Denies every device to the cgroup's processes except `rules`.
    ///
    /// Called by [`Cgroup::create`] with [`DEFAULT_RULES`], before any
    /// process joins. On v1 it writes the rules into the cgroup's
    /// `devices.deny` and `devices.allow`; on v2 it attaches a device
    /// program made from them. Either way the rules last as long as the
    /// cgroup: removing the cgroup removes them.
    pub fn restrict_devices(&self, rules: &[DeviceRule]) -> Result<(), CgroupError> {
        let dir =
            self.dir_of(Controller::Devices)
                .ok_or_else(|| CgroupError::ControllerUnavailable {
                    controller: Controller::Devices,
                    needed_for: "the device allow-list".into(),
                })?;
        match self.layout().version() {
            Version::V1 => {
                // Denying `a` empties the list and makes "deny" the default;
                // only then do the allow lines mean "only these".
                write(&dir.join("devices.deny"), "a")?;
                for rule in rules {
                    write(&dir.join("devices.allow"), &rule.to_string())?;
                }
            }
            Version::V2 => {
                let program = bpf::program(rules);
                explain!(
                    "device program for {} ({} instructions):\n{}",
                    dir.display(),
                    program.len(),
                    bpf::listing(&program)
                );
                let loaded = bpf::load(&program)?;
                bpf::attach(&dir, &loaded)?;
                // The cgroup holds the program now; our descriptor can go.
            }
        }
        Ok(())
    }
    // ANCHOR_END: restrict_devices
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_rules_read_back_as_written() {
        let text: Vec<String> = DEFAULT_RULES.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            text,
            [
                "c *:* m",
                "b *:* m",
                "c 1:3 rwm",
                "c 1:5 rwm",
                "c 1:7 rwm",
                "c 1:8 rwm",
                "c 1:9 rwm",
                "c 5:0 rwm",
                "c 5:1 rwm",
                "c 5:2 rwm",
                "c 136:* rwm",
                "c 10:200 rwm",
            ]
        );
        for (rule, text) in DEFAULT_RULES.iter().zip(&text) {
            assert_eq!(text.parse::<DeviceRule>().unwrap(), *rule);
        }
    }

    #[test]
    fn the_default_rules_decide_as_docker_does() {
        use DeviceKind::{Block, Char};
        let rw = Access::READ | Access::WRITE;
        let yes = |kind, major, minor, access| allowed(DEFAULT_RULES, kind, major, minor, access);
        assert!(yes(Char, 1, 3, rw), "/dev/null");
        assert!(yes(Char, 136, 7, rw), "a pty");
        assert!(yes(Block, 8, 0, Access::MKNOD), "mknod of a disk node");
        assert!(!yes(Block, 8, 0, Access::READ), "reading a disk");
        assert!(!yes(Block, 7, 0, Access::WRITE), "writing a loop device");
        assert!(!yes(Char, 1, 11, Access::WRITE), "writing /dev/kmsg");
        assert!(!yes(Char, 1, 1, Access::READ), "reading /dev/mem");
        assert!(!yes(Char, 10, 229, rw), "/dev/fuse");
        assert!(yes(Char, 10, 200, rw), "/dev/net/tun");
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        let reason = |text: &str| match text.parse::<DeviceRule>() {
            Err(DeviceError::InvalidRule { reason, .. }) => reason,
            other => panic!("{text:?} gave {other:?}"),
        };
        assert_eq!(
            reason("c 1:3"),
            "write TYPE MAJOR:MINOR ACCESS, like c 1:3 rwm"
        );
        assert_eq!(
            reason("a 1:3 r"),
            "type a (all) is not an allow rule: list c and b rules"
        );
        assert_eq!(reason("x 1:3 r"), "the type is c (character) or b (block)");
        assert_eq!(
            reason("c 1-3 r"),
            "the numbers are MAJOR:MINOR, each a number or *"
        );
        assert_eq!(
            reason("c 4096:0 r"),
            "the major number is a number up to 4095, or *"
        );
        assert_eq!(
            reason("b 8:1048576 r"),
            "the minor number is a number up to 1048575, or *"
        );
        assert_eq!(reason("c 1:3 rx"), "the access is made of r, w and m");
        assert_eq!(
            "c 1:3 rx".parse::<DeviceRule>().unwrap_err().to_string(),
            "invalid device rule \"c 1:3 rx\": the access is made of r, w and m"
        );
    }
}
