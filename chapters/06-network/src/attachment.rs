//! A container's attachment to the network: everything of this chapter, in
//! the order a container's start and end need it.
//!
//! ```text
//!  host netns                                   container netns
//!  ──────────                                   ───────────────
//!  skiff0 10.201.0.1/16 ── veth1a2b3c ══cable══ eth0 10.201.0.2/16
//!     │  (the bridge: a switch)                  default via 10.201.0.1
//!     └─ nftables: masquerade out, DNAT in       lo 127.0.0.1 (+127.0.0.11:53 DNS)
//! ```
//!
//! 1. [`Attachment::prepare`], before the container's process exists: the
//!    network (the default one is created on first use), an address leased,
//!    the host ports reserved, the container's hosts files written. All of it
//!    recorded in `<root>/networks/endpoints/<id>/endpoint.json` first, so a
//!    later [`release`] can undo it whoever ran it.
//! 2. [`Attachment::join`], once the process exists in its new network
//!    namespace (and before it runs the container's program): the veth pair,
//!    one end on the bridge, the other created in the namespace as `eth0`
//!    and given the address and a default route; the DNS responder; the
//!    DNAT rules of the published ports.
//! 3. [`Attachment::release`] when the container has ended; [`release`] by
//!    id from another process, and [`release_stale`] for the containers
//!    whose supervisor died without releasing.

use crate::dns::{DnsConfig, DnsServer};
pub use crate::endpoint::{
    Endpoint, Link, endpoints, find_endpoint, release, release_orphans, release_stale, veth_name,
    veth_name_on,
};
use crate::endpoint::{Veth, create_endpoint, endpoint_dir, endpoint_file, release_endpoint};
use crate::files::{ContainerFiles, HostsContent, ResolvConf, render_hosts};
use crate::nat;
use crate::netlink::{Netlink, NetlinkError};
use crate::netns::{self, Entered};
use crate::ports::{self, PortMapping, Reservation};
use crate::records::Record;
use crate::request::{ExtraNetwork, NetworkMode, NetworkRequest};
use crate::state::{self, StateError};
use crate::store::{Network, NetworkError, NetworkStore};
use ch02_namespaces::records::ProcessId;
use nix::unistd::Pid;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd};

/// Why a container could not be attached or released.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// The request contradicts itself.
    #[error(transparent)]
    Request(#[from] crate::request::RequestError),
    /// The request does not fit the network.
    #[error("{0}")]
    Unsupported(String),
    /// The container id cannot name a directory.
    #[error("invalid container id {0:?}")]
    InvalidId(String),
    /// The container is attached already.
    #[error("container {0} is attached already: release it first")]
    AlreadyAttached(String),
    /// `--network container:NAME` names no attached container.
    #[error("container {0} is not running with a network of its own: start it first")]
    NoSuchContainer(String),
    /// A network operation failed.
    #[error(transparent)]
    Network(#[from] NetworkError),
    /// A host port could not be reserved.
    #[error(transparent)]
    Ports(#[from] crate::ports::PortError),
    /// An `--add-host` could not be resolved.
    #[error(transparent)]
    ExtraHost(#[from] crate::files::ExtraHostError),
    /// A state file could not be read or written.
    #[error(transparent)]
    State(#[from] StateError),
    /// A netlink request failed.
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    /// nftables failed.
    #[error(transparent)]
    Nat(#[from] crate::nat::NatError),
    /// Entering the container's network namespace failed.
    #[error("cannot enter the network namespace of process {pid}: {source}")]
    Netns {
        /// The container's process.
        pid: Pid,
        /// What the kernel said.
        source: io::Error,
    },
    /// The DNS responder could not be started.
    #[error("cannot start the DNS responder on 127.0.0.11:53 in the container: {0}")]
    Dns(#[source] io::Error),
}

/// Results of this module.
pub type Result<T, E = AttachError> = std::result::Result<T, E>;

/// Who is attached: the container's id, name and hostname.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The container's id (a directory name: no '/').
    pub id: String,
    /// Its name, for DNS and `network inspect`.
    pub name: String,
    /// Its hostname, for `/etc/hostname`, `/etc/hosts` and DNS.
    pub hostname: String,
}

/// The name of the container's end of its veth pair, inside.
pub const CONTAINER_LINK: &str = "eth0";

/// A container's live attachment, owned by its supervisor.
#[derive(Debug)]
pub struct Attachment {
    store: NetworkStore,
    endpoint: Endpoint,
    reservations: Vec<Reservation>,
    dns: Option<DnsServer>,
}

impl Attachment {
    // ANCHOR: prepare
    /// Prepares the attachment of a container that does not run yet: see
    /// the module's documentation. On error nothing is left behind.
    pub fn prepare(
        store: &NetworkStore,
        who: &Identity,
        request: &NetworkRequest,
    ) -> Result<Attachment> {
        request.validate()?;
        if who.id.is_empty() || who.id.contains('/') || who.id.starts_with('.') {
            return Err(AttachError::InvalidId(who.id.clone()));
        }
        if endpoint_dir(store, &who.id).exists() {
            return Err(AttachError::AlreadyAttached(who.id.clone()));
        }
        let own_files = ContainerFiles::in_dir(&endpoint_dir(store, &who.id));
        let (network, files, owns_files) = match &request.mode {
            NetworkMode::Bridge => (Some(store.default_network()?), own_files, true),
            NetworkMode::Network(name) => {
                let network = store.get(name)?;
                store.ensure_up(&network)?;
                (Some(network), own_files, true)
            }
            NetworkMode::None | NetworkMode::Host => (None, own_files, true),
            NetworkMode::Container(other) => {
                let other = find_endpoint(store, other)?
                    .ok_or_else(|| AttachError::NoSuchContainer(other.clone()))?;
                (None, other.files, false)
            }
        };
        check_fits(request, network.as_ref())?;
        let mut more: Vec<Link> = Vec::new();
        for extra in &request.also {
            let joined = network_named(store, &extra.network)?;
            check_fits_extra(extra, &joined)?;
            let taken = network.as_ref().is_some_and(|n| n.id == joined.id)
                || more.iter().any(|l| l.network.id == joined.id);
            if taken {
                return Err(AttachError::Unsupported(format!(
                    "network {} is given twice: a container has one cable per network",
                    joined.name
                )));
            }
            more.push(Link {
                veth: veth_name_on(&who.id, &joined.id),
                inside: format!("eth{}", more.len() + 1),
                address: None,
                aliases: extra.aliases.clone(),
                network: joined,
            });
        }
        let host = ResolvConf::host();
        let any_dns = network
            .iter()
            .chain(more.iter().map(|l| &l.network))
            .any(|n| n.dns);
        let dns_upstreams = match &network {
            Some(_) if any_dns => {
                let servers = if request.dns.is_empty() {
                    &host.nameservers
                } else {
                    &request.dns
                };
                servers.iter().map(|ip| SocketAddr::new(*ip, 53)).collect()
            }
            _ => Vec::new(),
        };
        let dns_records = dns_records(store, network.iter().chain(more.iter().map(|l| &l.network)));
        let reservations = ports::reserve_all(&request.publish)?;
        let mut endpoint = Endpoint {
            container: who.id.clone(),
            name: who.name.clone(),
            hostname: who.hostname.clone(),
            mode: request.mode.clone(),
            veth: network.as_ref().map(|_| veth_name(&who.id)),
            network,
            address: None,
            mac_address: request.mac_address,
            ports: reservations.iter().map(|r| r.mapping).collect(),
            aliases: request.aliases.clone(),
            dns_upstreams,
            files,
            owns_files,
            owner: ProcessId::of(std::process::id() as i32),
            dns_records,
            more,
        };
        // The intent first: from here on, `release` knows what to undo.
        create_endpoint(store, &endpoint)?;
        let done = (|| {
            if let Some(network) = &endpoint.network {
                let record = Record::new(
                    &who.id,
                    Ipv4Addr::UNSPECIFIED,
                    &who.name,
                    &request.aliases,
                    &who.hostname,
                );
                endpoint.address = Some(store.lease(network, request.ip, record)?);
                state::write_json_runtime(&endpoint_file(store, &who.id), &endpoint)?;
            }
            for (link, extra) in endpoint.more.iter_mut().zip(&request.also) {
                let record = Record::new(
                    &who.id,
                    Ipv4Addr::UNSPECIFIED,
                    &who.name,
                    &link.aliases,
                    &who.hostname,
                );
                link.address = Some(store.lease(&link.network, extra.ip, record)?);
            }
            if !endpoint.more.is_empty() {
                state::write_json_runtime(&endpoint_file(store, &who.id), &endpoint)?;
            }
            if endpoint.owns_files {
                write_files(&endpoint, request, &host)?;
            }
            Ok(())
        })();
        if let Err(e) = done {
            let _ = release(store, &who.id);
            return Err(e);
        }
        Ok(Attachment {
            store: store.clone(),
            endpoint,
            reservations,
            dns: None,
        })
    }
    // ANCHOR_END: prepare

    /// What the attachment holds.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The container's hosts files, to bind-mount on `/etc/hosts`,
    /// `/etc/hostname` and `/etc/resolv.conf`.
    pub fn files(&self) -> &ContainerFiles {
        &self.endpoint.files
    }

    /// The published ports, with their host ports.
    pub fn ports(&self) -> &[PortMapping] {
        &self.endpoint.ports
    }

    // ANCHOR: join
    /// Plugs the container whose first process is `child` into its
    /// networks (see the module's documentation). Nothing to do for `none`,
    /// `host` and `container:`. On error, call [`release`](Self::release).
    pub fn join(&mut self, child: Pid) -> Result<()> {
        let (Some(network), Some(address), Some(veth)) = (
            self.endpoint.network.clone(),
            self.endpoint.address,
            self.endpoint.veth.clone(),
        ) else {
            return Ok(());
        };
        let netns_error = |source| AttachError::Netns { pid: child, source };
        let target = netns::open_of_process(child).map_err(netns_error)?;
        let mut cables = vec![Cable {
            network: &network,
            veth: &veth,
            inside: CONTAINER_LINK,
            address,
            mac: self.endpoint.mac_address,
        }];
        for link in &self.endpoint.more {
            cables.push(Cable {
                network: &link.network,
                veth: &link.veth,
                inside: &link.inside,
                address: link.address.expect("leased in prepare"),
                mac: None,
            });
        }
        plug(target.as_fd(), &cables, true).map_err(|e| match e {
            PlugError::Netns(source) => netns_error(source),
            PlugError::Attach(e) => e,
        })?;
        if !self.endpoint.dns_records.is_empty() {
            let config = DnsConfig {
                records: self.endpoint.dns_records.clone(),
                follow: Some(endpoint_file(&self.store, &self.endpoint.container)),
                upstreams: self.endpoint.dns_upstreams.clone(),
                forward: cables.iter().any(|c| !c.network.internal),
            };
            self.dns = Some(DnsServer::bind_in(target.as_fd(), config).map_err(AttachError::Dns)?);
        }
        nat::install_ports(&self.endpoint.container, address, &self.endpoint.ports)?;
        Ok(())
    }
    // ANCHOR_END: join

    /// The DNS responder's descriptor, for the supervisor's `poll`; `None`
    /// when the container has no responder (not on a user network).
    pub fn dns_fd(&self) -> Option<BorrowedFd<'_>> {
        self.dns.as_ref().map(DnsServer::fd)
    }

    /// Answers the DNS questions waiting; call when [`dns_fd`](Self::dns_fd)
    /// is readable. Never blocks, never fails.
    pub fn handle_dns(&mut self) {
        if let Some(dns) = &mut self.dns {
            dns.handle_ready();
        }
    }

    // ANCHOR: release_live
    /// Undoes everything, once the container's processes are gone: the
    /// responder, the rules, the address, the names, the files; then frees
    /// the host ports.
    ///
    /// The veth pair is left to the kernel, which destroys it with the
    /// container's namespace as soon as nothing holds the namespace: the
    /// responder's socket did, so it is closed first. Deleting the pair
    /// ourselves would cost the supervisor tens of milliseconds (the kernel
    /// waits for RCU grace periods while it unregisters a link) for what the
    /// kernel does anyway, off our path. Unless a container shares the
    /// namespace (`--network container:`): the pair is then deleted, as
    /// docker does, so that the address freed here is not still in use
    /// there.
    pub fn release(self) -> Result<()> {
        let Attachment {
            store,
            endpoint,
            reservations,
            dns,
        } = self;
        drop(dns);
        // Read again: `connect` may have added cables while it ran.
        let endpoint = state::read_json::<Endpoint>(&endpoint_file(&store, &endpoint.container))
            .ok()
            .flatten()
            .unwrap_or(endpoint);
        let sharer = NetworkMode::Container(endpoint.container.clone());
        let shared = endpoints(&store)?.iter().any(|e| e.mode == sharer);
        let veth = if shared {
            Veth::Delete
        } else {
            Veth::LeaveToKernel
        };
        let result = release_endpoint(&store, &endpoint, veth);
        drop(reservations);
        result
    }
    // ANCHOR_END: release_live
}

// ANCHOR: connect
/// Connects the running container `container`, whose first process is
/// `pid`, to one more network (`network connect`): a cable of its own
/// (`eth1`, `eth2`...), an address and its names there. Its default route
/// stays where it is; its DNS responder, if it has one, answers the new
/// network's names too (it follows the endpoint record's `dns_records`).
///
/// Each change of the endpoint record is made under the store's lock and
/// written before what it describes is made, as in [`Attachment::prepare`]:
/// if this process dies half-way, the container's release undoes it all.
pub fn connect(
    store: &NetworkStore,
    container: &str,
    pid: Pid,
    extra: &ExtraNetwork,
) -> Result<Link> {
    let network = network_named(store, &extra.network)?;
    check_fits_extra(extra, &network)?;
    // The intent first: the cable, without its address yet.
    let (mut link, name, hostname) = change_endpoint(store, container, |endpoint| {
        if !endpoint.mode.is_bridged() {
            return Err(AttachError::Unsupported(format!(
                "container {} has no network of its own (--network {}): only a container on a bridge or user-defined network can join another",
                endpoint.name, endpoint.mode
            )));
        }
        if endpoint.networks().iter().any(|(n, _)| n.id == network.id) {
            return Err(AttachError::Unsupported(format!(
                "container {} is already on network {}",
                endpoint.name, network.name
            )));
        }
        let link = Link {
            veth: veth_name_on(container, &network.id),
            inside: endpoint.next_inside_name(),
            address: None,
            aliases: extra.aliases.clone(),
            network: network.clone(),
        };
        endpoint.more.push(link.clone());
        if network.dns {
            endpoint.dns_records.push(store.records_path(&network));
        }
        Ok((link, endpoint.name.clone(), endpoint.hostname.clone()))
    })?;
    let plugged = (|| {
        let record = Record::new(
            container,
            Ipv4Addr::UNSPECIFIED,
            &name,
            &extra.aliases,
            &hostname,
        );
        let address = store.lease(&network, extra.ip, record)?;
        link.address = Some(address);
        change_endpoint(store, container, |endpoint| {
            for cable in endpoint.more.iter_mut().filter(|l| l.veth == link.veth) {
                cable.address = Some(address);
            }
            Ok(())
        })?;
        let netns_error = |source| AttachError::Netns { pid, source };
        let target = netns::open_of_process(pid).map_err(netns_error)?;
        let cable = Cable {
            network: &network,
            veth: &link.veth,
            inside: &link.inside,
            address,
            mac: None,
        };
        plug(target.as_fd(), &[cable], false).map_err(|e| match e {
            PlugError::Netns(source) => netns_error(source),
            PlugError::Attach(e) => e,
        })
    })();
    match plugged {
        Ok(()) => Ok(link),
        Err(e) => {
            let _ = disconnect(store, container, &network.id);
            Err(e)
        }
    }
}
// ANCHOR_END: connect

// ANCHOR: disconnect
/// Disconnects the running container `container` from `network`: the
/// cable is unplugged (the pair deleted by its host end), the address and
/// names freed. From its first network, also its published ports' rules
/// and its default route (which went through that cable); the host ports
/// stay reserved by its supervisor until it ends.
pub fn disconnect(store: &NetworkStore, container: &str, network: &str) -> Result<()> {
    let endpoint = state::read_json::<Endpoint>(&endpoint_file(store, container))?
        .ok_or_else(|| AttachError::NoSuchContainer(container.to_string()))?;
    let wanted = |n: &Network| n.id == network || n.name == network;
    let (veth, leaving) = match (&endpoint.network, &endpoint.veth) {
        (Some(first), Some(veth)) if wanted(first) => (veth.clone(), first.clone()),
        _ => match endpoint.more.iter().find(|l| wanted(&l.network)) {
            Some(link) => (link.veth.clone(), link.network.clone()),
            None => {
                return Err(AttachError::Unsupported(format!(
                    "container {} is not on network {network}",
                    endpoint.name
                )));
            }
        },
    };
    let first = endpoint.veth.as_ref() == Some(&veth);
    Netlink::open()?.delete_link_named(&veth)?;
    if first && !endpoint.ports.is_empty() {
        nat::remove_container(container)?;
    }
    store.unlease(&leaving.id, container)?;
    change_endpoint(store, container, |endpoint| {
        if first {
            endpoint.network = None;
            endpoint.address = None;
            endpoint.veth = None;
            endpoint.ports.clear();
        }
        endpoint.more.retain(|l| l.veth != veth);
        let records = store.records_path(&leaving);
        endpoint.dns_records.retain(|p| *p != records);
        Ok(())
    })
}
// ANCHOR_END: disconnect

/// Changes the endpoint record of `container` under the store's lock, so
/// that two changes at once (two `connect`s) do not lose one another.
fn change_endpoint<T>(
    store: &NetworkStore,
    container: &str,
    change: impl FnOnce(&mut Endpoint) -> Result<T>,
) -> Result<T> {
    let _lock = store.lock()?;
    let file = endpoint_file(store, container);
    let mut endpoint = state::read_json::<Endpoint>(&file)?
        .ok_or_else(|| AttachError::NoSuchContainer(container.to_string()))?;
    let value = change(&mut endpoint)?;
    state::write_json_runtime(&file, &endpoint)?;
    Ok(value)
}

/// Refuses what the chosen network cannot give.
/// One cable to plug: a veth pair between a network's bridge and the
/// container's namespace, and the container's address on it.
struct Cable<'a> {
    network: &'a Network,
    veth: &'a str,
    inside: &'a str,
    address: Ipv4Addr,
    mac: Option<crate::request::MacAddress>,
}

/// Why [`plug`] failed: entering the namespace, or a request.
enum PlugError {
    Netns(io::Error),
    Attach(AttachError),
}

impl<E: Into<AttachError>> From<E> for PlugError {
    fn from(e: E) -> PlugError {
        PlugError::Attach(e.into())
    }
}

// ANCHOR: plug
/// Plugs `cables` into the network namespace `target`: for each, the pair
/// is created with its container end born in `target` under its inside
/// name, the host end joins the network's bridge; then, inside, loopback
/// and each link come up with their addresses; with `route`, the default
/// route goes through the first cable whose network is not `--internal`.
fn plug(target: BorrowedFd<'_>, cables: &[Cable<'_>], route: bool) -> Result<(), PlugError> {
    // SOLUTION START: ch06-plug plug the cables into the container's namespace: a veth pair per cable with its inside end born there, the host end a port of the bridge and up; then inside, lo up, each link's address and up, and the default route through the gateway (book: Networks > What and why > A cable and a switch)
    let mut host = Netlink::open()?;
    for cable in cables {
        let bridge = host
            .link(&cable.network.bridge)?
            .ok_or_else(|| NetlinkError::NoSuchLink(cable.network.bridge.clone()))?;
        let mtu = if bridge.mtu == 0 { 1500 } else { bridge.mtu };
        // A pair left by a killed attempt with the same id would be in the way.
        host.delete_link_named(cable.veth)?;
        // The container's end is born in its namespace, already named: moving
        // a link between namespaces afterwards would cost the kernel an RCU
        // grace period (tens of milliseconds) for nothing.
        host.create_veth_into(cable.veth, cable.inside, mtu, target)?;
        let veth_index = host.index_of(cable.veth)?;
        host.set_master(veth_index, bridge.index)?;
        host.set_up(veth_index)?;
    }
    let _inside = Entered::enter(target).map_err(PlugError::Netns)?;
    // Opened inside: this socket speaks to the container's stack.
    let mut inside = Netlink::open()?;
    if let Some(lo) = inside.link("lo")?
        && !lo.up
    {
        inside.set_up(lo.index)?;
    }
    let mut routed = !route;
    for cable in cables {
        let index = inside.index_of(cable.inside)?;
        if let Some(mac) = cable.mac {
            inside.set_mac(index, mac.0)?;
        }
        inside.add_address(index, cable.address, cable.network.subnet.prefix())?;
        inside.set_up(index)?;
        if !routed && !cable.network.internal {
            inside.add_default_route(cable.network.gateway, index)?;
            routed = true;
        }
    }
    Ok(())
    // SOLUTION END
}
// ANCHOR_END: plug

/// The records files of those of `networks` with DNS by name: what the
/// container's responder answers from.
fn dns_records<'a>(
    store: &NetworkStore,
    networks: impl Iterator<Item = &'a Network>,
) -> Vec<std::path::PathBuf> {
    networks
        .filter(|n| n.dns)
        .map(|n| store.records_path(n))
        .collect()
}

/// The network `name` names, up: `bridge` (or `default`) is the default
/// network, created on first use.
fn network_named(store: &NetworkStore, name: &str) -> Result<Network> {
    let network = match name {
        "bridge" | "default" => store.default_network()?,
        _ => store.get(name)?,
    };
    store.ensure_up(&network)?;
    Ok(network)
}

/// Refuses what one more network cannot give.
fn check_fits_extra(extra: &ExtraNetwork, network: &Network) -> Result<()> {
    let unsupported = |what: &str| {
        Err(AttachError::Unsupported(format!(
            "{what} (network {})",
            network.name
        )))
    };
    if !network.dns && extra.ip.is_some() {
        return unsupported("--ip is supported on user-defined networks only");
    }
    if !network.dns && !extra.aliases.is_empty() {
        return unsupported("--network-alias is supported on user-defined networks only");
    }
    Ok(())
}

fn check_fits(request: &NetworkRequest, network: Option<&Network>) -> Result<()> {
    let Some(network) = network else {
        return Ok(());
    };
    let unsupported = |what: &str| {
        Err(AttachError::Unsupported(format!(
            "{what} (network {})",
            network.name
        )))
    };
    if network.internal && !request.publish.is_empty() {
        return unsupported(
            "published ports cannot reach an internal network: remove -p, or use a network that is not --internal",
        );
    }
    if !network.dns && request.ip.is_some() {
        return unsupported("--ip is supported on user-defined networks only");
    }
    if !network.dns && !request.aliases.is_empty() {
        return unsupported("--network-alias is supported on user-defined networks only");
    }
    Ok(())
}

// ANCHOR: write_files
/// Writes `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf` for the
/// container (see [`crate::files`]).
fn write_files(endpoint: &Endpoint, request: &NetworkRequest, host: &ResolvConf) -> Result<()> {
    let gateway = endpoint.network.as_ref().map(|n| IpAddr::V4(n.gateway));
    let extra = request
        .add_hosts
        .iter()
        .map(|h| h.resolve(gateway))
        .collect::<Result<Vec<_>, _>>()?;
    let own = endpoint
        .address
        .map(|a| (IpAddr::V4(a), vec![endpoint.hostname.as_str()]));
    let hosts = match endpoint.mode {
        // The host's own names, as docker copies them.
        NetworkMode::Host => {
            let mut text = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            for (address, name) in &extra {
                text += &format!("{address}\t{name}\n");
            }
            text
        }
        _ => render_hosts(&HostsContent { own, extra }),
    };
    let resolv = match (&endpoint.mode, &endpoint.network) {
        (_, Some(_)) if !endpoint.dns_records.is_empty() => {
            let mut options = vec!["ndots:0".to_string()];
            options.extend(
                host.options
                    .iter()
                    .filter(|o| !o.starts_with("ndots:"))
                    .cloned(),
            );
            ResolvConf {
                nameservers: vec![crate::files::EMBEDDED_DNS],
                search: host.search.clone(),
                options,
            }
        }
        (NetworkMode::Host, _) => ResolvConf {
            nameservers: if request.dns.is_empty() {
                host.nameservers.clone()
            } else {
                request.dns.clone()
            },
            ..host.clone()
        },
        _ => ResolvConf {
            nameservers: if request.dns.is_empty() {
                host.reachable_nameservers()
            } else {
                request.dns.clone()
            },
            ..host.clone()
        },
    };
    endpoint.files.write(&hosts, &endpoint.hostname, &resolv)?;
    Ok(())
}
// ANCHOR_END: write_files
