//! What a container asks of the network: the network section of the run
//! spec, plain serialisable data.
//!
//! The modes, as in docker:
//!
//! - `bridge` (the default): a network namespace of its own, plugged into
//!   the default network's bridge `skiff0`. No DNS by name.
//! - a network's name: the same on that user-defined network, where
//!   containers find each other by name.
//! - `none`: a network namespace with only loopback.
//! - `host`: no network namespace of its own, the host's stack.
//! - `container:NAME`: the network namespace of another, running container
//!   (and its hosts files): the two see the same interfaces and can talk
//!   over 127.0.0.1, as the containers of a Kubernetes pod do.

use crate::files::ExtraHost;
use crate::ports::PortRequest;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

/// How a container is networked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum NetworkMode {
    /// The default network.
    #[default]
    Bridge,
    /// Loopback only.
    None,
    /// The host's network namespace.
    Host,
    /// The network namespace of another container (its id, once the caller
    /// has resolved the name).
    Container(String),
    /// A user-defined network, by name or id.
    Network(String),
}

impl NetworkMode {
    /// Whether the container needs a network namespace of its own
    /// (`CLONE_NEWNET`): for `host` it keeps the host's, for `container:`
    /// it joins the other container's (`setns`).
    pub fn needs_own_netns(&self) -> bool {
        matches!(
            self,
            NetworkMode::Bridge | NetworkMode::None | NetworkMode::Network(_)
        )
    }

    /// Whether the container gets a veth pair on a bridge.
    pub fn is_bridged(&self) -> bool {
        matches!(self, NetworkMode::Bridge | NetworkMode::Network(_))
    }
}

/// An unusable `--network`.
#[derive(Debug, thiserror::Error)]
#[error("invalid network mode {0:?}: use bridge, none, host, container:NAME or a network's name")]
pub struct ModeError(pub String);

impl FromStr for NetworkMode {
    type Err = ModeError;

    fn from_str(text: &str) -> Result<NetworkMode, ModeError> {
        Ok(match text {
            "bridge" | "default" => NetworkMode::Bridge,
            "none" => NetworkMode::None,
            "host" => NetworkMode::Host,
            "" => return Err(ModeError(text.to_string())),
            _ => match text.strip_prefix("container:") {
                Some("") => return Err(ModeError(text.to_string())),
                Some(other) => NetworkMode::Container(other.to_string()),
                None => NetworkMode::Network(text.to_string()),
            },
        })
    }
}

impl fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkMode::Bridge => f.write_str("bridge"),
            NetworkMode::None => f.write_str("none"),
            NetworkMode::Host => f.write_str("host"),
            NetworkMode::Container(other) => write!(f, "container:{other}"),
            NetworkMode::Network(name) => f.write_str(name),
        }
    }
}

/// An Ethernet (MAC) address: `02:42:0a:c9:00:02`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacAddress(pub [u8; 6]);

/// An unusable `--mac-address`.
#[derive(Debug, thiserror::Error)]
#[error(
    "invalid MAC address {0:?}: six hex bytes separated by ':', not a multicast address (the lowest bit of the first byte clear), e.g. 02:42:0a:c9:00:02"
)]
pub struct MacError(pub String);

impl FromStr for MacAddress {
    type Err = MacError;

    fn from_str(text: &str) -> Result<MacAddress, MacError> {
        let bad = || MacError(text.to_string());
        let bytes: Vec<u8> = text
            .split(':')
            .map(|b| {
                (b.len() == 2)
                    .then(|| u8::from_str_radix(b, 16).ok())
                    .flatten()
            })
            .collect::<Option<_>>()
            .ok_or_else(bad)?;
        let bytes: [u8; 6] = bytes.try_into().map_err(|_| bad())?;
        // A multicast address cannot be a link's own; all zeros is "none".
        if bytes[0] & 1 == 1 || bytes == [0; 6] {
            return Err(bad());
        }
        Ok(MacAddress(bytes))
    }
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.map(|b| format!("{b:02x}")).join(":"))
    }
}

macro_rules! serde_as_string {
    ($type:ty) => {
        impl Serialize for $type {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer)?
                    .parse()
                    .map_err(serde::de::Error::custom)
            }
        }
    };
}
serde_as_string!(NetworkMode);
serde_as_string!(MacAddress);

/// The network section of a container's run spec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRequest {
    /// `--network`.
    #[serde(default)]
    pub mode: NetworkMode,
    /// `-p/--publish`, parsed by [`crate::ports::parse_publish`].
    #[serde(default)]
    pub publish: Vec<PortRequest>,
    /// `--ip` (user-defined networks only).
    #[serde(default)]
    pub ip: Option<Ipv4Addr>,
    /// `--network-alias` (user-defined networks only).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// `--dns`.
    #[serde(default)]
    pub dns: Vec<IpAddr>,
    /// `--add-host`.
    #[serde(default)]
    pub add_hosts: Vec<ExtraHost>,
    /// `--mac-address` (bridged modes only).
    #[serde(default)]
    pub mac_address: Option<MacAddress>,
    /// The networks the container is on besides the first (`mode`), each
    /// with a cable of its own: `eth1`, `eth2`... (a second `--network`,
    /// compose's second network, `network connect`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<ExtraNetwork>,
}

// ANCHOR: extra_network
/// One more network for a container already on a bridged network: its own
/// veth pair, address and names there. The default route stays with the
/// first network; the others are reached through their subnet's route.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraNetwork {
    /// The network's name or id (`bridge` for the default network).
    pub network: String,
    /// `--ip` on this network.
    #[serde(default)]
    pub ip: Option<Ipv4Addr>,
    /// `--network-alias` on this network.
    #[serde(default)]
    pub aliases: Vec<String>,
}
// ANCHOR_END: extra_network

/// A request whose parts contradict each other.
#[derive(Debug, thiserror::Error)]
#[error("conflicting network options: {0}")]
pub struct RequestError(pub String);

impl NetworkRequest {
    /// Checks the request for contradictions, before anything is created.
    pub fn validate(&self) -> Result<(), RequestError> {
        let mode = &self.mode;
        let conflict = |what: &str| Err(RequestError(format!("{what} with --network {mode}")));
        if !self.publish.is_empty() && !mode.is_bridged() {
            return conflict("port publishing (-p) needs a bridge or user-defined network, not");
        }
        if self.ip.is_some() && !matches!(mode, NetworkMode::Network(_)) {
            return conflict("--ip is supported on user-defined networks only, not");
        }
        if !self.aliases.is_empty() && !matches!(mode, NetworkMode::Network(_)) {
            return conflict("--network-alias is supported on user-defined networks only, not");
        }
        if self.mac_address.is_some() && !mode.is_bridged() {
            return conflict("--mac-address needs a bridge or user-defined network, not");
        }
        if let NetworkMode::Container(_) = mode
            && (!self.dns.is_empty() || !self.add_hosts.is_empty())
        {
            return conflict(
                "--dns and --add-host cannot be set (the other container's files are shared)",
            );
        }
        if !self.also.is_empty() && !mode.is_bridged() {
            return conflict("a second network needs a bridge or user-defined first network, not");
        }
        let mut seen = vec![mode.to_string()];
        for extra in &self.also {
            let name = match extra.network.as_str() {
                "default" => "bridge",
                other => other,
            };
            if seen.iter().any(|n| n == name) {
                return Err(RequestError(format!(
                    "network {name} is given twice: a container has one cable per network"
                )));
            }
            if matches!(name, "none" | "host") || name.starts_with("container:") {
                return Err(RequestError(format!(
                    "--network {name} cannot be a second network: only the default bridge or user-defined networks can"
                )));
            }
            seen.push(name.to_string());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_round_trip() {
        for text in ["bridge", "none", "host", "container:web", "backend"] {
            assert_eq!(text.parse::<NetworkMode>().unwrap().to_string(), text);
        }
        assert!("container:".parse::<NetworkMode>().is_err());
        assert!(NetworkMode::Bridge.needs_own_netns());
        assert!(!NetworkMode::Host.needs_own_netns());
    }

    #[test]
    fn mac_addresses() {
        assert_eq!(
            "02:42:0A:c9:00:02"
                .parse::<MacAddress>()
                .unwrap()
                .to_string(),
            "02:42:0a:c9:00:02"
        );
        for bad in [
            "01:00:5e:00:00:01",
            "02:42",
            "zz:42:0a:c9:00:02",
            "00:00:00:00:00:00",
            "2:42:0a:c9:00:02:1",
        ] {
            assert!(bad.parse::<MacAddress>().is_err(), "{bad}");
        }
    }

    #[test]
    fn contradictions_are_refused() {
        let publish = crate::ports::parse_publish("8080:80").unwrap();
        let r = NetworkRequest {
            mode: NetworkMode::Host,
            publish,
            ..Default::default()
        };
        assert!(
            r.validate()
                .unwrap_err()
                .to_string()
                .contains("--network host")
        );
        let r = NetworkRequest {
            ip: Some(Ipv4Addr::new(10, 0, 0, 2)),
            ..Default::default()
        };
        assert!(r.validate().is_err());
        let r = NetworkRequest {
            mode: NetworkMode::Network("n".into()),
            ip: Some(Ipv4Addr::new(10, 0, 0, 2)),
            ..Default::default()
        };
        assert!(r.validate().is_ok());
    }

    #[test]
    fn second_networks() {
        let on = |mode: &str, also: &[&str]| NetworkRequest {
            mode: mode.parse().unwrap(),
            also: also
                .iter()
                .map(|n| ExtraNetwork {
                    network: n.to_string(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        assert!(on("front", &["back", "bridge"]).validate().is_ok());
        for (mode, also) in [
            ("none", &["back"][..]),
            ("host", &["back"]),
            ("front", &["front"]),
            ("bridge", &["default"]),
            ("front", &["back", "back"]),
            ("front", &["host"]),
            ("front", &["container:web"]),
        ] {
            assert!(on(mode, also).validate().is_err(), "{mode} {also:?}");
        }
    }

    #[test]
    fn serialises_as_plain_strings() {
        let r = NetworkRequest {
            mode: NetworkMode::Container("web".into()),
            add_hosts: vec!["db:10.0.0.5".parse().unwrap()],
            ..Default::default()
        };
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"mode\":\"container:web\""), "{json}");
        assert!(json.contains("\"db:10.0.0.5\""), "{json}");
        assert_eq!(serde_json::from_str::<NetworkRequest>(&json).unwrap(), r);
    }
}
