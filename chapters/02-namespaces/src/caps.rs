//! Capabilities: root's powers, cut into pieces, and the few a container keeps.
//!
//! Since Linux 2.2, "root" is not one privilege but about forty, each
//! checked separately: `CAP_SYS_ADMIN` to mount, `CAP_NET_ADMIN` to configure
//! interfaces, `CAP_KILL` to signal other users' processes, and so on. A
//! process holds five sets of them (see `capabilities(7)`):
//!
//! - **bounding**: the ceiling. A capability dropped from it can never come
//!   back, not even through a setuid-root program. Dropping needs `CAP_SETPCAP`.
//! - **permitted**: what the process may use.
//! - **effective**: what the kernel checks right now.
//! - **inheritable** and **ambient**: what survives `execve` for programs
//!   without file capabilities. Docker leaves both empty (since the fix for
//!   CVE-2022-24769); a root process still gets its bounding set back as
//!   permitted and effective at `execve`, because the kernel treats root's
//!   programs as if they had every file capability.
//!
//! Docker's default set is 14 capabilities: enough to run a typical program
//! as root (change file owners, bind port 80, use `ping`), not enough to mount,
//! load modules, change the clock or reconfigure the network. Inside a docker
//! container, `grep Cap /proc/self/status` shows `CapEff: 00000000a80425fb`.

use ch01_process::explain;
use std::collections::BTreeSet;
use std::fmt;

/// The capabilities the kernel knows, by number (`linux/capability.h`).
pub const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

// ANCHOR: default_caps
/// Docker's default capabilities (moby's `oci/caps/defaults.go`).
pub const DOCKER_DEFAULT: [&str; 14] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];
// ANCHOR_END: default_caps

/// A capability name that is not one the kernel knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown capability {0:?}: use a name from capabilities(7), such as NET_ADMIN or CAP_SYS_TIME, or ALL"
)]
pub struct UnknownCapability(pub String);

/// A set of capabilities, by number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapSet(BTreeSet<u8>);

impl CapSet {
    /// Docker's default set.
    pub fn docker_default() -> CapSet {
        CapSet(
            DOCKER_DEFAULT
                .iter()
                .map(|name| number(name).expect("a known name"))
                .collect(),
        )
    }

    /// Every capability this kernel has (up to `/proc/sys/kernel/cap_last_cap`).
    pub fn all() -> CapSet {
        CapSet((0..=last_cap()).collect())
    }

    /// The names of the set, as `capsh --print` shows them without the `cap_`.
    pub fn names(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|cap| {
                NAMES
                    .get(*cap as usize)
                    .map_or_else(|| format!("CAP_{cap}"), |name| name.to_string())
            })
            .collect()
    }

    /// Reads a set from its hex mask, as `/proc/PID/status` shows it.
    pub fn from_mask(mask: u64) -> CapSet {
        CapSet((0..64u8).filter(|bit| mask & (1 << bit) != 0).collect())
    }

    /// The set as a 64-bit mask (bit N = capability N).
    pub fn mask(&self) -> u64 {
        self.0.iter().fold(0, |mask, cap| mask | (1u64 << cap))
    }

    pub fn contains(&self, cap: u8) -> bool {
        self.0.contains(&cap)
    }

    /// Applies docker's `--cap-add` and `--cap-drop` lists: drops first, then
    /// adds, and `ALL` stands for every capability (so `--cap-drop ALL
    /// --cap-add NET_BIND_SERVICE` leaves one).
    pub fn with_changes(
        mut self,
        add: &[String],
        drop: &[String],
    ) -> Result<CapSet, UnknownCapability> {
        for name in drop {
            match parse(name)? {
                None => self.0.clear(),
                Some(cap) => {
                    self.0.remove(&cap);
                }
            }
        }
        for name in add {
            match parse(name)? {
                None => self.0.extend(CapSet::all().0),
                Some(cap) => {
                    self.0.insert(cap);
                }
            }
        }
        Ok(self)
    }
}

impl fmt::Display for CapSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.names().join(" "))
    }
}

/// In a run spec, a set is the list of its names: `["CHOWN", "KILL"]`.
impl serde::Serialize for CapSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.names())
    }
}

impl<'de> serde::Deserialize<'de> for CapSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut set = CapSet::default();
        for name in Vec::<String>::deserialize(deserializer)? {
            match parse(&name).map_err(serde::de::Error::custom)? {
                Some(cap) => {
                    set.0.insert(cap);
                }
                None => set = CapSet::all(),
            }
        }
        Ok(set)
    }
}

/// Parses `NET_ADMIN`, `net_admin` or `CAP_NET_ADMIN`; `ALL` gives `None`.
pub fn parse(name: &str) -> Result<Option<u8>, UnknownCapability> {
    let upper = name.to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(None);
    }
    number(upper.strip_prefix("CAP_").unwrap_or(&upper))
        .map(Some)
        .ok_or_else(|| UnknownCapability(name.to_string()))
}

fn number(name: &str) -> Option<u8> {
    NAMES
        .iter()
        .position(|known| *known == name)
        .map(|n| n as u8)
}

/// The highest capability number this kernel knows.
pub fn last_cap() -> u8 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(NAMES.len() as u8 - 1)
}

/// The arguments of `capset(2)`, version 3: two 32-bit halves of each set.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

// ANCHOR: apply_caps
/// Reduces the calling process to `keep`: bounding, permitted and effective
/// become `keep`; inheritable and ambient become empty. Docker's way, and
/// [`apply_sets`] with those five sets.
pub fn apply(keep: &CapSet) -> Result<(), nix::Error> {
    apply_sets(&CapSets::uniform(keep))
}

/// Sets the calling process's five capability sets to `sets`.
///
/// The order matters: dropping from the bounding set needs `CAP_SETPCAP` in
/// the effective set, so the bounding set goes first, `capset` after, and
/// the ambient set last (the kernel only lets a capability into it when it
/// is both permitted and inheritable). And when the process has just
/// switched to another user (chapter 1 keeps the permitted set across the
/// switch with `PR_SET_KEEPCAPS`, but the kernel still empties the
/// effective one), the effective set is raised back to the permitted one
/// first, for that drop.
pub fn apply_sets(sets: &CapSets) -> Result<(), nix::Error> {
    let permitted = permitted_mask()?;
    capset(permitted, permitted, 0)?;
    for cap in 0..=last_cap() {
        if !sets.bounding.contains(cap) {
            // SAFETY: prctl with integer arguments only.
            let done = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
            nix::errno::Errno::result(done)?;
        }
    }
    // SAFETY: as above.
    let done = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
    nix::errno::Errno::result(done)?;
    let effective = sets.effective.mask() & permitted;
    let kept = sets.permitted.mask() & permitted;
    capset(effective, kept, sets.inheritable.mask())?;
    for cap in sets.ambient.0.iter() {
        // SAFETY: prctl with integer arguments only.
        let done = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE,
                *cap as libc::c_ulong,
                0,
                0,
            )
        };
        nix::errno::Errno::result(done)?;
    }
    if *sets == CapSets::uniform(&sets.bounding) {
        explain!(
            "capset(bounding = permitted = effective = {:#018x}, inheritable = ambient = 0)",
            effective
        );
    } else {
        explain!(
            "capset(bounding = {:#018x}, permitted = {kept:#018x}, effective = {effective:#018x}, inheritable = {:#018x}, ambient = {:#018x})",
            sets.bounding.mask(),
            sets.inheritable.mask(),
            sets.ambient.mask()
        );
    }
    Ok(())
}
// ANCHOR_END: apply_caps

/// The five capability sets of a process, each given on its own (the OCI
/// runtime spec's `process.capabilities`). Docker's flags give one set
/// for bounding, permitted and effective, and empty inheritable and
/// ambient sets: [`CapSets::uniform`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct CapSets {
    pub bounding: CapSet,
    pub effective: CapSet,
    pub permitted: CapSet,
    pub inheritable: CapSet,
    pub ambient: CapSet,
}

impl CapSets {
    /// `keep` as bounding, permitted and effective; nothing inheritable.
    pub fn uniform(keep: &CapSet) -> CapSets {
        CapSets {
            bounding: keep.clone(),
            effective: keep.clone(),
            permitted: keep.clone(),
            inheritable: CapSet::default(),
            ambient: CapSet::default(),
        }
    }
}
// ANCHOR_END: apply_caps

/// The calling thread's permitted set, from `capget(2)`.
fn permitted_mask() -> Result<u64, nix::Error> {
    let header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: header and data are valid for the kernel's writes, in the v3 layout.
    let done = unsafe { libc::syscall(libc::SYS_capget, &header, data.as_mut_ptr()) };
    nix::errno::Errno::result(done)?;
    Ok(u64::from(data[0].permitted) | (u64::from(data[1].permitted) << 32))
}

/// Sets the effective, permitted and inheritable sets with `capset(2)`.
fn capset(effective: u64, permitted: u64, inheritable: u64) -> Result<(), nix::Error> {
    let half = |shift: u32| CapData {
        effective: (effective >> shift) as u32,
        permitted: (permitted >> shift) as u32,
        inheritable: (inheritable >> shift) as u32,
    };
    let header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [half(0), half(32)];
    // SAFETY: header and data are valid for the kernel's reads, in the v3 layout.
    let done = unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) };
    nix::errno::Errno::result(done).map(drop)
}

/// Sets `no_new_privs`: from here on, `execve` can never grant privileges
/// (setuid bits and file capabilities are ignored). It is inherited by every
/// child and cannot be unset.
pub fn set_no_new_privs() -> Result<(), nix::Error> {
    // SAFETY: prctl with integer arguments only.
    let done = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    nix::errno::Errno::result(done)?;
    explain!("prctl(PR_SET_NO_NEW_PRIVS, 1)");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_default_is_the_mask_docker_shows() {
        assert_eq!(CapSet::docker_default().mask(), 0xa804_25fb);
    }

    #[test]
    fn names_parse_in_every_spelling() {
        assert_eq!(parse("NET_ADMIN"), Ok(Some(12)));
        assert_eq!(parse("cap_net_admin"), Ok(Some(12)));
        assert_eq!(parse("all"), Ok(None));
        assert!(parse("NET_ADMINISTRATOR").is_err());
    }

    #[test]
    fn drop_all_then_add_one() {
        let set = CapSet::docker_default()
            .with_changes(&["NET_BIND_SERVICE".into()], &["ALL".into()])
            .unwrap();
        assert_eq!(set.to_string(), "NET_BIND_SERVICE");
    }
}
