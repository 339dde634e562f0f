//! The kernel switches this chapter turns on, under `/proc/sys/net/ipv4/`.
//!
//! - `ip_forward`: a Linux host drops packets that are not addressed to it
//!   unless forwarding is on. A container's packet to the outside world
//!   arrives on the bridge addressed to a remote host: forwarding it out of
//!   the host's uplink is routing, so it needs `ip_forward = 1`. Docker and
//!   podman turn it on for the same reason, and we never turn it off again
//!   (other engines on the host may rely on it).
//! - `conf/<bridge>/route_localnet`: the kernel treats 127.0.0.0/8 as
//!   "martian" on any link but `lo`, and drops such packets. Reaching a
//!   published port from the host's own 127.0.0.1 means sending a packet
//!   whose source is 127.0.0.1 out of the bridge; this switch, set on *our*
//!   bridge only, lets it go (the source is then rewritten by masquerade
//!   before it leaves, see [`crate::nat`]).

use ch01_process::explain;
use std::fs;
use std::io;
use std::path::Path;

/// Why a switch could not be set.
#[derive(Debug, thiserror::Error)]
#[error("cannot set {path} to {value}: {source}")]
pub struct SysctlError {
    /// The file under /proc/sys.
    pub path: String,
    /// The value.
    pub value: String,
    /// What the kernel said.
    pub source: io::Error,
}

/// Writes `value` to `/proc/sys/<key>` unless it holds it already.
pub fn set(key: &str, value: &str) -> Result<(), SysctlError> {
    let path = format!("/proc/sys/{key}");
    if fs::read_to_string(&path).is_ok_and(|v| v.trim() == value) {
        return Ok(());
    }
    explain!("write {path} = {value}");
    fs::write(Path::new(&path), value).map_err(|source| SysctlError {
        path,
        value: value.to_string(),
        source,
    })
}

/// Turns IPv4 forwarding on.
pub fn enable_forwarding() -> Result<(), SysctlError> {
    set("net/ipv4/ip_forward", "1")
}

/// Lets packets from or to 127.0.0.0/8 through the link `bridge`.
pub fn enable_route_localnet(bridge: &str) -> Result<(), SysctlError> {
    set(&format!("net/ipv4/conf/{bridge}/route_localnet"), "1")
}
