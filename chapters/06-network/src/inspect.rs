//! `network inspect` and `network ls`: what a network is, in the shape
//! docker prints, so that scripts written for `docker network inspect`
//! (`{{range .IPAM.Config}}{{.Subnet}}{{end}}`) read ours.

use crate::store::{Network, NetworkStore, Result};
use serde::Serialize;
use std::collections::BTreeMap;

/// One network, as `docker network inspect` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInspect {
    /// The name.
    pub name: String,
    /// The id.
    pub id: String,
    /// When it was created.
    pub created: String,
    /// Always "local".
    pub scope: String,
    /// Always "bridge".
    pub driver: String,
    /// Always false: the engine is IPv4 only.
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    /// The subnet and gateway.
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    /// `--internal`.
    pub internal: bool,
    /// The containers attached, by id.
    pub containers: BTreeMap<String, ContainerOnNetwork>,
    /// The bridge's name, under docker's option key.
    pub options: BTreeMap<String, String>,
    /// User labels.
    pub labels: BTreeMap<String, String>,
}

/// The `IPAM` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ipam {
    /// Always "default".
    pub driver: String,
    /// One entry: the subnet and its gateway.
    pub config: Vec<IpamConfig>,
}

/// A subnet and its gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamConfig {
    /// `10.202.0.0/24`.
    pub subnet: String,
    /// `10.202.0.1`.
    pub gateway: String,
}

/// One attached container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerOnNetwork {
    /// Its name.
    pub name: String,
    /// Its address with the subnet's prefix: `10.202.0.2/24`.
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
}

/// The inspection of the network named (or whose id is) `name`.
pub fn inspect(store: &NetworkStore, name: &str) -> Result<NetworkInspect> {
    let network = store.get(name)?;
    let records = store.records(&network)?;
    let containers = records
        .records
        .iter()
        .map(|r| {
            (
                r.container.clone(),
                ContainerOnNetwork {
                    name: r.names.first().cloned().unwrap_or_default(),
                    ipv4_address: format!("{}/{}", r.address, network.subnet.prefix()),
                },
            )
        })
        .collect();
    Ok(describe(&network, containers))
}

fn describe(network: &Network, containers: BTreeMap<String, ContainerOnNetwork>) -> NetworkInspect {
    NetworkInspect {
        name: network.name.clone(),
        id: network.id.clone(),
        created: network.created.clone(),
        scope: "local".to_string(),
        driver: "bridge".to_string(),
        enable_ipv6: false,
        ipam: Ipam {
            driver: "default".to_string(),
            config: vec![IpamConfig {
                subnet: network.subnet.to_string(),
                gateway: network.gateway.to_string(),
            }],
        },
        internal: network.internal,
        containers,
        options: options(network),
        labels: network.labels.clone(),
    }
}

/// The `Options` docker shows: the bridge's name, and `--mtu` under the
/// key `docker network create --opt` takes it with.
fn options(network: &Network) -> BTreeMap<String, String> {
    let mut options = BTreeMap::from([(
        "com.docker.network.bridge.name".to_string(),
        network.bridge.clone(),
    )]);
    if let Some(mtu) = network.mtu {
        options.insert(MTU_OPTION.to_string(), mtu.to_string());
    }
    options
}

/// docker's option key for a network's MTU (`--opt
/// com.docker.network.driver.mtu=9000`).
pub const MTU_OPTION: &str = "com.docker.network.driver.mtu";

/// The lines of `network ls`: `NETWORK ID     NAME      DRIVER    SCOPE`,
/// then one per network with the first 12 digits of its id.
pub fn list_table(networks: &[Network]) -> String {
    let width = networks
        .iter()
        .map(|n| n.name.len())
        .max()
        .unwrap_or(0)
        .max(4)
        + 2;
    let mut text = format!(
        "{:<15}{:<width$}{:<10}{}\n",
        "NETWORK ID", "NAME", "DRIVER", "SCOPE"
    );
    for network in networks {
        text += &format!(
            "{:<15}{:<width$}{:<10}{}\n",
            &network.id[..12.min(network.id.len())],
            network.name,
            "bridge",
            "local"
        );
    }
    text
}
