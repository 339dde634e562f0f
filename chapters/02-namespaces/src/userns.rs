//! User namespaces: root inside the container, nobody outside.
//!
//! A process in a new user namespace holds every capability *in that
//! namespace* (and in the namespaces it owns, such as the mount and network
//! namespaces created with it), and none outside. Which of its ids mean which
//! host ids is written, once, in `/proc/PID/uid_map` and `gid_map`: a line
//! `0 100000 65536` maps ids 0..65535 inside to 100000..165535 outside.
//!
//! The maps must be written from outside, by a process privileged in the
//! parent namespace: that is our parent's step, done while the child waits
//! (the handshake that chapter 1's `spawn` provides). Until then the child's
//! ids are unmapped and show as 65534 ("nobody"). Once the maps exist, the
//! child switches to uid 0 and gid 0 inside, which are 100000 on the host:
//! a process that escapes the container is an unprivileged user there.

use ch01_process::explain;
use nix::unistd::{Gid, Pid, Uid};

/// One line of a uid or gid map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdMap {
    /// The first id inside the namespace.
    pub inside: u32,
    /// The host id it stands for.
    pub outside: u32,
    /// How many consecutive ids are mapped.
    pub count: u32,
}

/// The range skiff maps a container's ids to: 65536 ids from 100000, the
/// first range `useradd` gives out in `/etc/subuid`. Containers share it;
/// an engine that isolates containers from each other gives each its own.
pub const DEFAULT_MAP: IdMap = IdMap {
    inside: 0,
    outside: 100_000,
    count: 65_536,
};

impl std::fmt::Display for IdMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.inside, self.outside, self.count)
    }
}

// ANCHOR: write_maps
/// The parent's step: writes the child's uid and gid maps.
pub fn write_maps(child: Pid, map: IdMap) -> std::io::Result<()> {
    for file in ["uid_map", "gid_map"] {
        let path = format!("/proc/{child}/{file}");
        explain!("write {path} = \"{map}\"");
        std::fs::write(&path, format!("{map}\n"))
            .map_err(|e| std::io::Error::new(e.kind(), format!("write {path}: {e}")))?;
    }
    Ok(())
}

/// The child's step once the maps exist: become uid 0 and gid 0 inside.
pub fn become_root() -> Result<(), nix::Error> {
    explain!("setresgid(0, 0, 0); setgroups([]); setresuid(0, 0, 0)");
    let root_gid = Gid::from_raw(0);
    nix::unistd::setresgid(root_gid, root_gid, root_gid)?;
    nix::unistd::setgroups(&[])?;
    let root_uid = Uid::from_raw(0);
    nix::unistd::setresuid(root_uid, root_uid, root_uid)
}
// ANCHOR_END: write_maps
