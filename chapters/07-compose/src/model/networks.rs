//! Networks and volumes: the ones a service joins and mounts, and the
//! top-level declarations that create them.
//!
//! A network or volume declared in a file is the project's: compose names
//! it `PROJECT_NAME` on the engine (`shop_default`, `shop_data`), so two
//! projects can both have a `data` volume. `external: true` means "it
//! already exists, under exactly this name (or `name:`); do not create it
//! and do not remove it with `down`".

use super::forms;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

/// How a service is attached to one network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceNetwork {
    /// More names the service answers to on this network (DNS).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// A fixed address (the network must declare a subnet that holds it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv4_address: Option<Ipv4Addr>,
}

/// The networks of a service: `None` for "joined with defaults" (the list
/// form, or `name:` with nothing after it).
pub type ServiceNetworks = BTreeMap<String, Option<ServiceNetwork>>;

// ANCHOR: service_networks
/// `networks: [front, back]` or `networks: {front: {aliases: [web]}}`.
pub fn service_networks<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<ServiceNetworks, D::Error> {
    struct NetworksVisitor;
    impl<'de> Visitor<'de> for NetworksVisitor {
        type Value = ServiceNetworks;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of networks or a mapping of networks to settings")
        }
        fn visit_unit<E>(self) -> Result<ServiceNetworks, E> {
            Ok(ServiceNetworks::new())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ServiceNetworks, A::Error> {
            let mut out = ServiceNetworks::new();
            while let Some(name) = seq.next_element::<String>()? {
                out.insert(name, None);
            }
            Ok(out)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ServiceNetworks, A::Error> {
            let mut out = ServiceNetworks::new();
            while let Some((name, settings)) = map.next_entry::<String, Option<ServiceNetwork>>()? {
                out.insert(name, settings);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_any(NetworksVisitor)
}
// ANCHOR_END: service_networks

/// A top-level network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkDef {
    /// The name on the engine (default: `PROJECT_KEY`; for an external
    /// network, the key itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `bridge`, the only driver of a single machine (chapter 6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Driver options (none are used by the bridge driver here).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: BTreeMap<String, String>,
    /// Not connected to the outside: no masquerade, no published ports.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
    /// Created outside the project: never created nor removed by it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
    /// Address management: the subnet(s) to use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipam: Option<Ipam>,
    /// Labels on the network.
    #[serde(
        default,
        deserialize_with = "forms::labels",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// IPv6 on this network (not supported by chapter 6: must stay false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub enable_ipv6: bool,
    /// Let containers outside the project join it (always true here).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub attachable: bool,
}

/// `ipam:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ipam {
    /// `default` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// The address pools.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config: Vec<IpamPool>,
}

/// One entry of `ipam.config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpamPool {
    /// The subnet in CIDR notation (`10.5.0.0/16`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    /// The bridge's address (default: the subnet's first host).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Ipv4Addr>,
    /// The part of the subnet that containers get addresses from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<String>,
}

/// A top-level volume.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeDef {
    /// The name on the engine (default: `PROJECT_KEY`; for an external
    /// volume, the key itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `local`, the only driver here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Driver options (none are used by the local driver here).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: BTreeMap<String, String>,
    /// Created outside the project: never created nor removed by it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
    /// Labels on the volume.
    #[serde(
        default,
        deserialize_with = "forms::labels",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::de::from_node;
    use crate::node::parse;

    #[derive(Deserialize)]
    struct Holder {
        #[serde(default, deserialize_with = "service_networks")]
        networks: ServiceNetworks,
        #[serde(default)]
        declared: BTreeMap<String, NetworkDef>,
        #[serde(default)]
        volumes: BTreeMap<String, VolumeDef>,
    }

    fn holder(text: &str) -> Result<Holder, crate::de::TypeError> {
        from_node(&parse(text, "c.yaml").unwrap())
    }

    #[test]
    fn service_networks_as_list_or_map() {
        let h = holder("networks: [front, back]\n").unwrap();
        assert_eq!(h.networks.keys().collect::<Vec<_>>(), ["back", "front"]);
        assert!(h.networks.values().all(Option::is_none));
        let h = holder(
            "networks:\n  front:\n    aliases: [web, www]\n    ipv4_address: 10.5.0.9\n  back:\n",
        )
        .unwrap();
        let front = h.networks["front"].clone().unwrap();
        assert_eq!(front.aliases, ["web", "www"]);
        assert_eq!(front.ipv4_address, Some(Ipv4Addr::new(10, 5, 0, 9)));
        assert_eq!(h.networks["back"], None);
        let err = holder("networks:\n  front:\n    ipv4_address: 10.5.0.300\n")
            .err()
            .unwrap();
        assert_eq!(err.path, "networks.front.ipv4_address");
    }

    #[test]
    fn top_level_declarations() {
        let h = holder(
            "declared:\n  front:\n  back:\n    internal: true\n    ipam:\n      config:\n        - subnet: 10.5.0.0/24\n          gateway: 10.5.0.1\n  outside:\n    external: true\n    name: shared-net\nvolumes:\n  data:\n  old:\n    external: true\n",
        )
        .unwrap();
        assert_eq!(h.declared["front"], NetworkDef::default());
        assert!(h.declared["back"].internal);
        let pool = &h.declared["back"].ipam.as_ref().unwrap().config[0];
        assert_eq!(pool.subnet.as_deref(), Some("10.5.0.0/24"));
        assert!(h.declared["outside"].external);
        assert_eq!(h.declared["outside"].name.as_deref(), Some("shared-net"));
        assert!(h.volumes["old"].external && !h.volumes["data"].external);
    }

    #[test]
    fn legacy_external_name_is_refused_clearly() {
        let err = holder("volumes:\n  old:\n    external:\n      name: x\n")
            .err()
            .unwrap();
        assert_eq!(err.path, "volumes.old.external");
        assert!(err.message.contains("expected a boolean"), "{err}");
    }
}
