//! IPAM, IP address management: which container has which address on a
//! network, so that no address is ever handed out twice.
//!
//! The state of one network is a small JSON file, `ipam.json`, beside the
//! network's record:
//!
//! ```json
//! { "last": "10.202.0.3", "leases": { "10.202.0.2": "4f1c...", "10.202.0.3": "9ab0..." } }
//! ```
//!
//! The rules:
//!
//! - The gateway (the bridge's own address), the network address and the
//!   broadcast address are never leased.
//! - A request for a specific address (`--ip`) gets it if it is a free host
//!   address of the subnet, and an error otherwise.
//! - Otherwise the next free address **after the last one handed out** is
//!   taken, wrapping around at the end. Handing out the lowest free address
//!   would give a new container the address of one that just ended, while
//!   its neighbours may still hold the old owner's MAC in their ARP caches;
//!   rolling forward, as docker's allocator does, leaves time for those
//!   entries to expire.
//!
//! [`Leases`] is plain data; the read-modify-write of the file happens under
//! the network store's lock (see [`crate::store`]), which is what makes 50
//! containers started at once get 50 different addresses.

use crate::subnet::Subnet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Why no address could be leased.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    /// The requested address is not in the network's subnet.
    #[error("address {address} is not in the subnet {subnet} of network {network}")]
    OutsideSubnet {
        /// The requested address.
        address: Ipv4Addr,
        /// The network's subnet.
        subnet: Subnet,
        /// The network's name.
        network: String,
    },
    /// The requested address is the network's gateway, network or broadcast address.
    #[error(
        "address {address} is reserved on network {network} (gateway, network or broadcast address)"
    )]
    Reserved {
        /// The requested address.
        address: Ipv4Addr,
        /// The network's name.
        network: String,
    },
    /// The requested address is leased to another container.
    #[error("address {address} is already in use on network {network}")]
    Taken {
        /// The requested address.
        address: Ipv4Addr,
        /// The network's name.
        network: String,
    },
    /// Every host address of the subnet is leased.
    #[error(
        "no free address left on network {network} ({subnet}): remove containers, or use a network with a larger subnet"
    )]
    Exhausted {
        /// The network's name.
        network: String,
        /// The network's subnet.
        subnet: Subnet,
    },
}

/// The leases of one network: address → the id of the container holding it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leases {
    /// The address handed out last; the search for a free one starts after it.
    #[serde(default)]
    pub last: Option<Ipv4Addr>,
    /// Every address in use, with its holder.
    #[serde(default)]
    pub leases: BTreeMap<Ipv4Addr, String>,
}

/// What a lease is taken on: the network's name (for messages), its subnet
/// and its gateway.
#[derive(Debug, Clone, Copy)]
pub struct Pool<'a> {
    /// The network's name.
    pub network: &'a str,
    /// The subnet.
    pub subnet: Subnet,
    /// The gateway, never leased.
    pub gateway: Ipv4Addr,
}

impl Leases {
    // ANCHOR: allocate
    /// Leases an address to `holder`: `requested` if given and free, else
    /// the next free one after the last handed out.
    pub fn allocate(
        &mut self,
        pool: Pool<'_>,
        holder: &str,
        requested: Option<Ipv4Addr>,
    ) -> Result<Ipv4Addr, IpamError> {
        // SOLUTION START: ch06-allocate lease an address to the holder: the one requested if it is in the subnet, not reserved and free; else the next free host after the last one handed out, never the gateway; an error when none is left (book: Networks > The code > IPAM: one address, once)
        let subnet = pool.subnet;
        if let Some(address) = requested {
            if !subnet.contains(address) {
                return Err(IpamError::OutsideSubnet {
                    address,
                    subnet,
                    network: pool.network.to_string(),
                });
            }
            if !subnet.is_host(address) || address == pool.gateway {
                return Err(IpamError::Reserved {
                    address,
                    network: pool.network.to_string(),
                });
            }
            if self.leases.contains_key(&address) {
                return Err(IpamError::Taken {
                    address,
                    network: pool.network.to_string(),
                });
            }
            self.leases.insert(address, holder.to_string());
            return Ok(address);
        }
        let start = self.last.unwrap_or(pool.gateway);
        let mut candidate = subnet.next_host(start);
        for _ in 0..subnet.host_count() {
            if candidate != pool.gateway && !self.leases.contains_key(&candidate) {
                self.leases.insert(candidate, holder.to_string());
                self.last = Some(candidate);
                return Ok(candidate);
            }
            candidate = subnet.next_host(candidate);
        }
        Err(IpamError::Exhausted {
            network: pool.network.to_string(),
            subnet,
        })
        // SOLUTION END
    }
    // ANCHOR_END: allocate

    /// Frees every address `holder` holds; the addresses freed.
    pub fn release(&mut self, holder: &str) -> Vec<Ipv4Addr> {
        let freed: Vec<_> = self
            .leases
            .iter()
            .filter(|(_, h)| h.as_str() == holder)
            .map(|(a, _)| *a)
            .collect();
        for address in &freed {
            self.leases.remove(address);
        }
        freed
    }

    /// The holders of leases.
    pub fn holders(&self) -> impl Iterator<Item = &str> {
        self.leases.values().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(subnet: &str) -> Pool<'static> {
        let subnet: Subnet = subnet.parse().unwrap();
        Pool {
            network: "test",
            subnet,
            gateway: subnet.first_host(),
        }
    }

    #[test]
    fn rolls_forward_and_skips_the_gateway() {
        let pool = pool("10.0.0.0/29");
        let mut leases = Leases::default();
        let a = leases.allocate(pool, "a", None).unwrap();
        let b = leases.allocate(pool, "b", None).unwrap();
        assert_eq!(
            (a, b),
            ("10.0.0.2".parse().unwrap(), "10.0.0.3".parse().unwrap())
        );
        leases.release("a");
        // .2 is free again, but the next lease goes forward to .4.
        assert_eq!(
            leases.allocate(pool, "c", None).unwrap(),
            "10.0.0.4".parse::<Ipv4Addr>().unwrap()
        );
    }

    #[test]
    fn exhausts_and_wraps() {
        let pool = pool("10.0.0.0/29"); // hosts .1-.6, .1 is the gateway
        let mut leases = Leases::default();
        for holder in ["a", "b", "c", "d", "e"] {
            leases.allocate(pool, holder, None).unwrap();
        }
        assert!(matches!(
            leases.allocate(pool, "f", None),
            Err(IpamError::Exhausted { .. })
        ));
        leases.release("b");
        assert_eq!(
            leases.allocate(pool, "f", None).unwrap(),
            "10.0.0.3".parse::<Ipv4Addr>().unwrap()
        );
    }

    #[test]
    fn requested_addresses() {
        let pool = pool("10.0.0.0/24");
        let mut leases = Leases::default();
        let want: Ipv4Addr = "10.0.0.50".parse().unwrap();
        assert_eq!(leases.allocate(pool, "a", Some(want)).unwrap(), want);
        assert!(matches!(
            leases.allocate(pool, "b", Some(want)),
            Err(IpamError::Taken { .. })
        ));
        for reserved in ["10.0.0.1", "10.0.0.0", "10.0.0.255"] {
            let err = leases
                .allocate(pool, "b", Some(reserved.parse().unwrap()))
                .unwrap_err();
            assert!(
                matches!(err, IpamError::Reserved { .. }),
                "{reserved}: {err}"
            );
        }
        let err = leases
            .allocate(pool, "b", Some("10.0.1.5".parse().unwrap()))
            .unwrap_err();
        assert!(matches!(err, IpamError::OutsideSubnet { .. }));
        assert_eq!(leases.release("a"), vec![want]);
        assert!(leases.leases.is_empty());
    }
}
