//! IPv4 subnets in CIDR notation: `10.201.0.0/16`.
//!
//! A subnet is a network address and a prefix length: the first `prefix`
//! bits of an address say which network it is on, the rest which host. In
//! `10.201.0.0/16` the network is `10.201`, and the hosts go from
//! `10.201.0.1` to `10.201.255.254`: the all-zeros host is the network's own
//! name and the all-ones host (`10.201.255.255`) its broadcast address,
//! neither of which can be given to a container.
//!
//! Two subnets overlap when one contains the other's network address. A
//! bridge's subnet must not overlap any other route of the host: the kernel
//! would then have two ways to reach the same address, and one of the two
//! networks would stop working.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// The smallest network a container can use: a /30 has two hosts, the
/// gateway and one container.
pub const LONGEST_PREFIX: u8 = 30;

/// A malformed or unusable subnet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubnetError {
    /// Not `A.B.C.D/N`.
    #[error("invalid subnet {0:?}: write it as ADDRESS/PREFIX, e.g. 10.202.0.0/24")]
    Syntax(String),
    /// The prefix is larger than 32, or too long to hold a gateway and a container.
    #[error("invalid subnet {text:?}: the prefix must be between 1 and {LONGEST_PREFIX}")]
    Prefix {
        /// What was given.
        text: String,
    },
    /// Host bits are set: `10.1.2.3/24` names a host, not a network.
    #[error("invalid subnet {text:?}: host bits are set, did you mean {network}?")]
    HostBits {
        /// What was given.
        text: String,
        /// The network it lies in.
        network: Subnet,
    },
}

/// An IPv4 network: its first address and the length of its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subnet {
    network: Ipv4Addr,
    prefix: u8,
}

impl Subnet {
    /// The subnet of `prefix` bits that contains `address` (host bits cleared).
    ///
    /// ```
    /// use ch06_network::subnet::Subnet;
    /// let s = Subnet::containing("10.1.2.3".parse().unwrap(), 24);
    /// assert_eq!(s.to_string(), "10.1.2.0/24");
    /// ```
    pub fn containing(address: Ipv4Addr, prefix: u8) -> Subnet {
        let prefix = prefix.min(32);
        Subnet {
            network: Ipv4Addr::from(u32::from(address) & mask(prefix)),
            prefix,
        }
    }

    /// The network address (all host bits zero).
    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The broadcast address (all host bits one).
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | !mask(self.prefix))
    }

    /// Whether `address` is in this subnet.
    pub fn contains(&self, address: Ipv4Addr) -> bool {
        u32::from(address) & mask(self.prefix) == u32::from(self.network)
    }

    /// Whether `address` can be given to a host: in the subnet, neither the
    /// network address nor the broadcast address.
    pub fn is_host(&self, address: Ipv4Addr) -> bool {
        self.contains(address) && address != self.network && address != self.broadcast()
    }

    /// Whether the two subnets share an address.
    pub fn overlaps(&self, other: &Subnet) -> bool {
        self.contains(other.network) || other.contains(self.network)
    }

    /// The first host address: the default gateway, as docker and podman choose.
    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }

    /// The last host address.
    pub fn last_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.broadcast()) - 1)
    }

    /// The host address after `address`, wrapping around to the first one.
    pub fn next_host(&self, address: Ipv4Addr) -> Ipv4Addr {
        if !self.contains(address) || address >= self.last_host() {
            self.first_host()
        } else {
            Ipv4Addr::from(u32::from(address) + 1)
        }
    }

    /// How many host addresses the subnet has.
    pub fn host_count(&self) -> u64 {
        (1u64 << (32 - u32::from(self.prefix))).saturating_sub(2)
    }

    /// The `index`-th subnet of `prefix` bits inside this one, if there is one:
    /// `10.202.0.0/16` split in /24s gives `10.202.0.0/24`, `10.202.1.0/24`...
    pub fn nth_subnet(&self, prefix: u8, index: u32) -> Option<Subnet> {
        if prefix < self.prefix || prefix > 32 {
            return None;
        }
        let bits = u32::from(prefix - self.prefix);
        if bits < 32 && index >= (1u32 << bits) {
            return None;
        }
        let step = if prefix == 0 {
            0
        } else {
            1u32 << (32 - u32::from(prefix))
        };
        let start = u32::from(self.network).checked_add(index.checked_mul(step)?)?;
        Some(Subnet::containing(Ipv4Addr::from(start), prefix))
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = SubnetError;

    /// Parses `A.B.C.D/N`, refusing host bits and prefixes too long for a
    /// gateway and a container.
    ///
    /// ```
    /// use ch06_network::subnet::Subnet;
    /// assert!("10.202.3.0/24".parse::<Subnet>().is_ok());
    /// let err = "10.202.3.7/24".parse::<Subnet>().unwrap_err();
    /// assert!(err.to_string().contains("did you mean 10.202.3.0/24"));
    /// ```
    fn from_str(text: &str) -> Result<Subnet, SubnetError> {
        let (address, prefix) = text
            .split_once('/')
            .ok_or_else(|| SubnetError::Syntax(text.to_string()))?;
        let address: Ipv4Addr = address
            .parse()
            .map_err(|_| SubnetError::Syntax(text.to_string()))?;
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| SubnetError::Syntax(text.to_string()))?;
        if prefix == 0 || prefix > LONGEST_PREFIX {
            return Err(SubnetError::Prefix {
                text: text.to_string(),
            });
        }
        let subnet = Subnet::containing(address, prefix);
        if subnet.network != address {
            return Err(SubnetError::HostBits {
                text: text.to_string(),
                network: subnet,
            });
        }
        Ok(subnet)
    }
}

impl Serialize for Subnet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Subnet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Subnet {
        text.parse().unwrap()
    }

    #[test]
    fn hosts_and_edges() {
        let net = s("10.202.0.0/24");
        assert_eq!(net.first_host(), Ipv4Addr::new(10, 202, 0, 1));
        assert_eq!(net.last_host(), Ipv4Addr::new(10, 202, 0, 254));
        assert_eq!(net.broadcast(), Ipv4Addr::new(10, 202, 0, 255));
        assert_eq!(net.host_count(), 254);
        assert!(!net.is_host(net.network()));
        assert!(!net.is_host(net.broadcast()));
        assert!(net.is_host(Ipv4Addr::new(10, 202, 0, 9)));
        assert!(!net.contains(Ipv4Addr::new(10, 202, 1, 9)));
        assert_eq!(net.next_host(net.last_host()), net.first_host());
    }

    #[test]
    fn overlaps_both_ways() {
        assert!(s("10.0.0.0/8").overlaps(&s("10.202.0.0/24")));
        assert!(s("10.202.0.0/24").overlaps(&s("10.0.0.0/8")));
        assert!(!s("10.202.0.0/24").overlaps(&s("10.202.1.0/24")));
    }

    #[test]
    fn splits_a_pool() {
        let pool = s("10.202.0.0/16");
        assert_eq!(pool.nth_subnet(24, 0), Some(s("10.202.0.0/24")));
        assert_eq!(pool.nth_subnet(24, 255), Some(s("10.202.255.0/24")));
        assert_eq!(pool.nth_subnet(24, 256), None);
        assert_eq!(pool.nth_subnet(8, 0), None);
    }

    #[test]
    fn refuses_bad_text() {
        assert!(matches!(
            "10.0.0.0".parse::<Subnet>(),
            Err(SubnetError::Syntax(_))
        ));
        assert!(matches!(
            "10.0.0.0/31".parse::<Subnet>(),
            Err(SubnetError::Prefix { .. })
        ));
        assert!(matches!(
            "10.0.0.0/x".parse::<Subnet>(),
            Err(SubnetError::Syntax(_))
        ));
        assert!(matches!(
            "300.0.0.0/8".parse::<Subnet>(),
            Err(SubnetError::Syntax(_))
        ));
    }
}
