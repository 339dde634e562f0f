//! The record of a container's attachment, and undoing it.
//!
//! `<root>/networks/endpoints/<container id>/endpoint.json` says what an
//! attachment made: the network and address, the host end of the veth
//! pair, the published ports, the hosts files. It is written **before**
//! each of those things is made, and removed **after** all of them are
//! undone, so whoever reads it (the supervisor itself, or a later command
//! after the supervisor was killed) knows what to release.
//!
//! It also names its **owner**, the process that prepared it: the
//! container's supervisor. While the owner lives, the attachment is in use;
//! once it is gone, whatever it left is stale ([`release_orphans`]). The
//! directory appears with its record already in it (written in a hidden
//! directory, then renamed into place), so a directory without a record is
//! never one being made right now.

use crate::attachment::{AttachError, Result};
use crate::files::ContainerFiles;
use crate::nat;
use crate::netlink::Netlink;
use crate::ports::PortMapping;
use crate::request::{MacAddress, NetworkMode};
use crate::state;
use crate::store::{Network, NetworkStore};
use ch02_namespaces::records::ProcessId;
use serde::{Deserialize, Serialize};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// What a container's attachment holds, on disk: enough to undo it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The container's id.
    pub container: String,
    /// Its name.
    pub name: String,
    /// Its hostname.
    pub hostname: String,
    /// Its network mode.
    pub mode: NetworkMode,
    /// The network, in bridged modes.
    pub network: Option<Network>,
    /// Its address on the network, once leased.
    pub address: Option<Ipv4Addr>,
    /// The MAC address asked for.
    pub mac_address: Option<MacAddress>,
    /// The host end of its veth pair, in bridged modes.
    pub veth: Option<String>,
    /// Its published ports.
    pub ports: Vec<PortMapping>,
    /// Its network aliases.
    pub aliases: Vec<String>,
    /// Where its DNS responder forwards to.
    pub dns_upstreams: Vec<SocketAddr>,
    /// Its hosts files.
    pub files: ContainerFiles,
    /// Whether the files are its own (not another container's, shared).
    pub owns_files: bool,
    /// The process that prepared it, the container's supervisor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<ProcessId>,
    /// Its cables to the networks it is on besides the first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more: Vec<Link>,
    /// The records files its DNS responder answers from: those of its
    /// networks with DNS by name. The responder reads this list again when
    /// this record changes (`network connect` to a running container).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_records: Vec<PathBuf>,
}

// ANCHOR: link
/// A container's cable to one more network: the pair's host end on that
/// network's bridge, its container end named `inside` (`eth1`, `eth2`...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// The network.
    pub network: Network,
    /// The host end of the veth pair.
    pub veth: String,
    /// The container's end, inside its namespace.
    pub inside: String,
    /// Its address there, once leased.
    pub address: Option<Ipv4Addr>,
    /// Its aliases there.
    pub aliases: Vec<String>,
}
// ANCHOR_END: link

impl Endpoint {
    /// Whether the process that prepared it still runs.
    pub fn owner_alive(&self) -> bool {
        self.owner.is_some_and(|owner| owner.is_alive())
    }

    /// Every network the container is on, the first one first, with its
    /// address there (once leased).
    pub fn networks(&self) -> Vec<(&Network, Option<Ipv4Addr>)> {
        self.network
            .iter()
            .map(|n| (n, self.address))
            .chain(self.more.iter().map(|l| (&l.network, l.address)))
            .collect()
    }

    /// The name of the container's end of a new cable: the first `ethN`
    /// none of its cables has.
    pub fn next_inside_name(&self) -> String {
        (1..)
            .map(|n| format!("eth{n}"))
            .find(|name| self.more.iter().all(|l| &l.inside != name))
            .expect("an unused ethN")
    }
}

pub(crate) fn endpoint_dir(store: &NetworkStore, container: &str) -> PathBuf {
    store.endpoints_dir().join(container)
}

pub(crate) fn endpoint_file(store: &NetworkStore, container: &str) -> PathBuf {
    endpoint_dir(store, container).join("endpoint.json")
}

/// The hidden directory where an endpoint is written before it appears.
fn staging_dir(store: &NetworkStore, container: &str) -> PathBuf {
    store
        .endpoints_dir()
        .join(format!(".new-{}-{container}", std::process::id()))
}

/// Makes the directory of a new endpoint, its record already inside:
/// written in a hidden directory, then renamed into place. The rename
/// fails when the directory exists: the container is attached already.
pub(crate) fn create_endpoint(store: &NetworkStore, endpoint: &Endpoint) -> Result<()> {
    let staging = staging_dir(store, &endpoint.container);
    state::remove_dir_all(&staging)?;
    state::write_json_runtime(&staging.join("endpoint.json"), endpoint)?;
    let dir = endpoint_dir(store, &endpoint.container);
    match std::fs::rename(&staging, &dir) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = state::remove_dir_all(&staging);
            if matches!(e.raw_os_error(), Some(libc::EEXIST | libc::ENOTEMPTY)) {
                Err(AttachError::AlreadyAttached(endpoint.container.clone()))
            } else {
                Err(state::io_err("rename", &staging)(e).into())
            }
        }
    }
}

/// The host end of a container's veth pair: `veth` and 11 hex digits of the
/// sha256 of its id, 15 characters, the most a link name can have.
pub fn veth_name(container: &str) -> String {
    let digest = ch05_images::digest::sha256_of(container.as_bytes());
    format!("veth{}", &digest.hex()[..11])
}

/// The host end of a container's cable to one more network: the same rule
/// as [`veth_name`], over the container's id and the network's.
pub fn veth_name_on(container: &str, network_id: &str) -> String {
    veth_name(&format!("{container}/{network_id}"))
}

/// What to do with the host end of a container's veth pair on release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Veth {
    /// Delete it (if it is still there).
    Delete,
    /// Leave it to the kernel: the container's namespace is ending, and the
    /// kernel destroys the pair with it, off our path.
    LeaveToKernel,
}

// ANCHOR: release
/// Undoes an attachment from its record: the DNAT rules, the veth pair (if
/// the container's namespace still exists: otherwise the kernel destroyed
/// the pair with it), the lease and the names, the files. Every step runs
/// even if one fails; the record is removed only when all succeeded, so
/// that a later attempt can finish the job.
pub(crate) fn release_endpoint(
    store: &NetworkStore,
    endpoint: &Endpoint,
    veth: Veth,
) -> Result<()> {
    let mut first_error: Option<AttachError> = None;
    let mut keep = |result: Result<()>| {
        if let Err(e) = result
            && first_error.is_none()
        {
            first_error = Some(e);
        }
    };
    if !endpoint.ports.is_empty() {
        keep(
            nat::remove_container(&endpoint.container)
                .map(drop)
                .map_err(Into::into),
        );
    }
    if veth == Veth::Delete {
        let pairs = endpoint
            .veth
            .iter()
            .chain(endpoint.more.iter().map(|l| &l.veth));
        for veth in pairs {
            keep(
                Netlink::open()
                    .and_then(|mut n| n.delete_link_named(veth))
                    .map(drop)
                    .map_err(Into::into),
            );
        }
    }
    for (network, _) in endpoint.networks() {
        keep(
            store
                .unlease(&network.id, &endpoint.container)
                .map_err(Into::into),
        );
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(state::remove_dir_all(&endpoint_dir(
            store,
            &endpoint.container,
        ))?),
    }
}
// ANCHOR_END: release

/// Releases the attachment of container `id` from its record; whether
/// there was one.
pub fn release(store: &NetworkStore, id: &str) -> Result<bool> {
    match state::read_json::<Endpoint>(&endpoint_file(store, id))? {
        Some(endpoint) => release_endpoint(store, &endpoint, Veth::Delete).map(|()| true),
        None => {
            // A directory without a record: a crash before the first write.
            state::remove_dir_all(&endpoint_dir(store, id))?;
            Ok(false)
        }
    }
}

/// Every attachment recorded.
pub fn endpoints(store: &NetworkStore) -> Result<Vec<Endpoint>> {
    let dir = store.endpoints_dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(state::io_err("list", &dir)(e).into()),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(state::io_err("list", &dir))?;
        if let Some(endpoint) = state::read_json::<Endpoint>(&entry.path().join("endpoint.json"))? {
            found.push(endpoint);
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// The attachment of the container with this id, or this name.
pub fn find_endpoint(store: &NetworkStore, id_or_name: &str) -> Result<Option<Endpoint>> {
    if let Some(endpoint) = state::read_json::<Endpoint>(&endpoint_file(store, id_or_name))
        .ok()
        .flatten()
    {
        return Ok(Some(endpoint));
    }
    Ok(endpoints(store)?.into_iter().find(|e| e.name == id_or_name))
}

// ANCHOR: release_stale
/// Releases the attachments of containers that are no longer alive
/// (`is_alive(id)` false: no record, or a dead supervisor): what a killed
/// supervisor could not release. The ids released.
pub fn release_stale(store: &NetworkStore, is_alive: impl Fn(&str) -> bool) -> Result<Vec<String>> {
    let dir = store.endpoints_dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(state::io_err("list", &dir)(e).into()),
    };
    let mut released = Vec::new();
    for entry in entries {
        let id = entry
            .map_err(state::io_err("list", &dir))?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if !id.starts_with('.') && !is_alive(&id) {
            release(store, &id)?;
            released.push(id);
        }
    }
    released.sort();
    Ok(released)
}
// ANCHOR_END: release_stale

/// Releases the attachments whose owner (the supervisor that prepared
/// them) is gone: what a killed supervisor could not release. Commands
/// call it before they look at the network. The ids released.
pub fn release_orphans(store: &NetworkStore) -> Result<Vec<String>> {
    // The lock's first holder after a reboot forgets the previous boot's
    // endpoints: none of them has a live owner.
    drop(store.lock()?);
    remove_abandoned_staging(store)?;
    release_stale(store, |id| {
        state::read_json::<Endpoint>(&endpoint_file(store, id))
            .ok()
            .flatten()
            .is_some_and(|endpoint| endpoint.owner_alive())
    })
}

/// Removes the hidden directories of endpoints whose writer died before it
/// renamed them into place.
fn remove_abandoned_staging(store: &NetworkStore) -> Result<()> {
    let dir = store.endpoints_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let writer = name
            .strip_prefix(".new-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<i32>().ok());
        if let Some(pid) = writer
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            state::remove_dir_all(&entry.path())?;
        }
    }
    Ok(())
}
