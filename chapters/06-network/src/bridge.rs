//! A network's side in the host's kernel: its bridge, the bridge's address,
//! the switches it needs, and its nftables rules.
//!
//! A **bridge** is a virtual Ethernet switch. Each container's veth pair
//! plugs one end into it; the bridge itself is the host's port on that
//! switch and holds the network's gateway address (`10.201.0.1/16`). Adding
//! that address also adds the route "10.201.0.0/16 is reachable directly on
//! the bridge": the host can reach every container, and packets from
//! containers to anywhere else reach the host, which routes them on.
//!
//! Bridges, subnets and our nftables table are shared by the whole machine
//! (every root directory, every test), so choosing a subnet and creating or
//! removing a bridge happen under one machine-wide lock,
//! [`MACHINE_LOCK`]: two engines never pick the same free subnet at once.

use crate::nat::{self, NetworkRules};
use crate::netlink::Netlink;
use crate::state::Lock;
use crate::store::{Network, NetworkError, StoreConfig};
use crate::subnet::Subnet;
use crate::sysctl;
use std::collections::HashMap;
use std::path::Path;

/// The machine-wide lock around subnet choices, bridges and our table.
pub const MACHINE_LOCK: &str = "/run/lock/skiff-network.lock";

/// Takes the machine-wide network lock.
pub fn machine_lock() -> Result<Lock, NetworkError> {
    Ok(Lock::acquire(Path::new(MACHINE_LOCK))?)
}

/// A route of the host that covers part of a subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRoute {
    /// The route's destination.
    pub subnet: Subnet,
    /// The link it goes through (or "?" when it has none).
    pub device: String,
}

/// The host's routes to specific networks (the default route aside: it
/// covers everything, and is what containers use to get out).
pub fn host_routes() -> Result<Vec<HostRoute>, NetworkError> {
    let mut netlink = Netlink::open()?;
    let names: HashMap<u32, String> = netlink
        .links()?
        .into_iter()
        .map(|l| (l.index, l.name))
        .collect();
    Ok(netlink
        .routes()?
        .into_iter()
        // Table 255 holds the host's own addresses, one /32 each: the
        // prefix routes in the other tables already cover them.
        .filter(|r| r.prefix > 0 && r.table != 255)
        .map(|r| HostRoute {
            subnet: Subnet::containing(r.destination, r.prefix),
            device: r
                .oif
                .and_then(|i| names.get(&i).cloned())
                .unwrap_or_else(|| "?".to_string()),
        })
        .collect())
}

// ANCHOR: check_free
/// Fails unless `subnet` overlaps none of our networks and none of the
/// host's routes.
pub fn check_free(
    subnet: Subnet,
    ours: &[Network],
    routes: &[HostRoute],
) -> Result<(), NetworkError> {
    if let Some(other) = ours.iter().find(|n| n.subnet.overlaps(&subnet)) {
        return Err(NetworkError::Overlap {
            subnet,
            with: format!("network {} ({})", other.name, other.subnet),
        });
    }
    if let Some(route) = routes.iter().find(|r| r.subnet.overlaps(&subnet)) {
        return Err(NetworkError::Overlap {
            subnet,
            with: format!("the host's route to {} on {}", route.subnet, route.device),
        });
    }
    Ok(())
}
// ANCHOR_END: check_free

/// The subnet for a new network: `preferred` if it is free, else the first
/// free one of the pool. The caller holds the machine lock.
pub fn choose_subnet(
    config: &StoreConfig,
    preferred: Option<Subnet>,
    ours: &[Network],
) -> Result<Subnet, NetworkError> {
    let routes = host_routes()?;
    if let Some(subnet) = preferred
        && check_free(subnet, ours, &routes).is_ok()
    {
        return Ok(subnet);
    }
    (0u32..)
        .map_while(|i| config.pool.nth_subnet(config.pool_prefix, i))
        .find(|s| check_free(*s, ours, &routes).is_ok())
        .ok_or(NetworkError::PoolExhausted { pool: config.pool })
}

/// Whether the network's bridge exists with its gateway address.
pub fn is_up(network: &Network) -> Result<bool, NetworkError> {
    let mut netlink = Netlink::open()?;
    let Some(link) = netlink.link(&network.bridge)? else {
        return Ok(false);
    };
    Ok(netlink
        .addresses()?
        .iter()
        .any(|a| a.index == link.index && a.address == network.gateway))
}

// ANCHOR: bring_up
/// Creates what the network needs in the kernel, or what is missing of it
/// (after a reboot, everything): the bridge, its address, up; forwarding and
/// `route_localnet` unless the network is internal; its nftables rules.
/// The caller holds the machine lock.
pub fn bring_up(network: &Network) -> Result<(), NetworkError> {
    let mut netlink = Netlink::open()?;
    let link = match netlink.link(&network.bridge)? {
        Some(link) => link,
        None => {
            let mtu = match network.mtu {
                Some(mtu) => mtu,
                None => uplink_mtu(&mut netlink)?,
            };
            netlink.create_bridge(&network.bridge, bridge_mac(&network.id), mtu)?;
            netlink
                .link(&network.bridge)?
                .ok_or_else(|| crate::netlink::NetlinkError::NoSuchLink(network.bridge.clone()))?
        }
    };
    let has_address = netlink
        .addresses()?
        .iter()
        .any(|a| a.index == link.index && a.address == network.gateway);
    if !has_address {
        netlink.add_address(link.index, network.gateway, network.subnet.prefix())?;
    }
    if !link.up {
        netlink.set_up(link.index)?;
    }
    if !network.internal {
        sysctl::enable_forwarding()?;
        sysctl::enable_route_localnet(&network.bridge)?;
    }
    nat::install_network(&rules_of(network))?;
    Ok(())
}
// ANCHOR_END: bring_up

/// Removes the network's rules and its bridge. The caller holds the
/// machine lock.
pub fn tear_down(network: &Network) -> Result<(), NetworkError> {
    nat::remove_network(&network.id, &network.bridge)?;
    Netlink::open()?.delete_link_named(&network.bridge)?;
    Ok(())
}

// ANCHOR: uplink_mtu
/// The MTU for a new bridge whose network names none (`--mtu`): the MTU of
/// the link the host's default route goes through (as netavark chooses),
/// else Ethernet's 1500. A container whose packets are larger than what the
/// uplink carries would depend on path-MTU discovery, which firewalls often
/// break; cloud machines often have uplinks below 1500.
///
/// The price is paid between containers: each packet on the bridge carries
/// at most this much, where the host's loopback carries 64 KiB, and TCP
/// between two containers runs at about half of loopback's speed. A network
/// whose containers talk mostly to each other may choose a larger MTU
/// (`network create --mtu 65535`): what leaves through the uplink is then
/// cut to its size by TCP's MSS negotiation, or, for other protocols, by
/// the host itself, the first hop, whose "fragmentation needed" reaches
/// the container through no firewall.
pub fn uplink_mtu(netlink: &mut Netlink) -> Result<u32, NetworkError> {
    let uplink = netlink
        .routes()?
        .into_iter()
        .find(|r| r.prefix == 0 && r.table == 254)
        .and_then(|r| r.oif);
    let mtu = match uplink {
        Some(index) => netlink
            .links()?
            .into_iter()
            .find(|l| l.index == index)
            .map(|l| l.mtu),
        None => None,
    };
    Ok(mtu.filter(|m| *m >= 576).unwrap_or(1500))
}
// ANCHOR_END: uplink_mtu

/// The bridge's own Ethernet address, from its network's id: the first
/// byte 0x02 marks a locally administered, unicast address (never a
/// vendor's).
pub fn bridge_mac(network_id: &str) -> [u8; 6] {
    let mut mac = [0x02, 0, 0, 0, 0, 0];
    for (i, slot) in mac.iter_mut().enumerate().skip(1) {
        *slot = network_id
            .get(2 * i..2 * i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .unwrap_or(0);
    }
    mac
}

fn rules_of(network: &Network) -> NetworkRules<'_> {
    NetworkRules {
        id: &network.id,
        bridge: &network.bridge,
        subnet: network.subnet,
        internal: network.internal,
    }
}
