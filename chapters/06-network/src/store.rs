//! The store of networks: `network create`, `ls`, `inspect`, `rm`, `prune`,
//! and the leases and names of the containers attached to each.
//!
//! On disk, under `<root>/networks/`:
//!
//! ```text
//! .lock                      flock'd around every change
//! <id>/network.json          the network: name, bridge, subnet, gateway, internal, labels
//! <id>/ipam.json             its leases (see crate::ipam)
//! <id>/records.json          who is attached, under which names (see crate::records)
//! endpoints/<container>/     one container's attachment (see crate::attachment)
//! ```
//!
//! Every file is written atomically, so a crash leaves each file old or new.
//! The network `bridge` (on the bridge `skiff0`) is created on first use, as
//! docker's default network; it cannot be removed by `rm`. User networks get
//! bridges named `skiff-` and 9 hex digits of their id: a link name has at
//! most 15 characters (`IFNAMSIZ` is 16 with the final NUL).

use crate::boot;
use crate::bridge;
use crate::ipam::{IpamError, Leases, Pool};
use crate::records::{Record, Records};
use crate::state::{self, Lock, StateError};
use crate::subnet::Subnet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// The name of the default network.
pub const DEFAULT_NETWORK: &str = "bridge";

/// Names that are not networks one can create: the default network and the
/// two modes that have no network of their own.
/// The least MTU of a network: IPv4's (RFC 791: a 60-byte header and 8
/// bytes of data).
pub const MIN_MTU: u32 = 68;

/// The most: a veth's and a bridge's (`ETH_MAX_MTU`).
pub const MAX_MTU: u32 = 65535;

pub const RESERVED_NAMES: [&str; 3] = [DEFAULT_NETWORK, "host", "none"];

/// Why a network operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// An MTU the kernel refuses for a bridge or a veth.
    #[error("invalid MTU {0}: use a value from 68 (IPv4's least) to 65535 (a veth's most)")]
    Mtu(u32),
    /// The name is not usable.
    #[error(
        "invalid network name {0:?}: use letters, digits, '_', '.' and '-', starting with a letter or digit, at most 64 characters"
    )]
    InvalidName(String),
    /// The name is one of the predefined ones.
    #[error("network name {0:?} is reserved: choose another name")]
    Reserved(String),
    /// A network of that name exists.
    #[error("network {0} already exists")]
    Exists(String),
    /// No network of that name or id.
    #[error("network {0} not found: see `network ls`")]
    NotFound(String),
    /// The network has containers.
    #[error("network {name} is in use by {} container(s) ({}): remove them first", containers.len(), containers.join(", "))]
    InUse {
        /// The network.
        name: String,
        /// The names of the containers attached to it.
        containers: Vec<String>,
    },
    /// The default network cannot be removed.
    #[error("{0} is a pre-defined network and cannot be removed")]
    Predefined(String),
    /// The gateway is not a host address of the subnet.
    #[error("gateway {gateway} is not a host address of the subnet {subnet}")]
    GatewayOutside {
        /// The gateway asked for.
        gateway: Ipv4Addr,
        /// The subnet.
        subnet: Subnet,
    },
    /// A gateway was given without a subnet.
    #[error("a gateway needs a subnet: give --subnet too")]
    GatewayWithoutSubnet,
    /// The subnet is taken.
    #[error("subnet {subnet} overlaps {with}: choose another subnet")]
    Overlap {
        /// The subnet asked for.
        subnet: Subnet,
        /// What it overlaps.
        with: String,
    },
    /// Every subnet of the pool is taken.
    #[error(
        "no free subnet left in the pool {pool}: remove unused networks (`network prune`) or give --subnet"
    )]
    PoolExhausted {
        /// The pool.
        pool: Subnet,
    },
    /// Reading or writing the store failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// No address could be leased.
    #[error(transparent)]
    Ipam(#[from] IpamError),
    /// A netlink request failed.
    #[error(transparent)]
    Netlink(#[from] crate::netlink::NetlinkError),
    /// nftables failed.
    #[error(transparent)]
    Nat(#[from] crate::nat::NatError),
    /// A kernel switch could not be set.
    #[error(transparent)]
    Sysctl(#[from] crate::sysctl::SysctlError),
}

/// Results of this module.
pub type Result<T, E = NetworkError> = std::result::Result<T, E>;

/// Where networks come from on this engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The bridge of the default network.
    pub default_bridge: String,
    /// The subnet the default network takes when it is free.
    pub default_subnet: Subnet,
    /// Where subnets of networks created without `--subnet` come from (and
    /// the default network's, when its own is taken).
    pub pool: Subnet,
    /// The prefix length of the subnets taken from the pool.
    pub pool_prefix: u8,
}

/// The engine's default root directory, whose default network's bridge is
/// `skiff0`.
pub const DEFAULT_ROOT: &str = "/var/lib/skiff";

impl StoreConfig {
    /// The configuration of the engine whose state is under `root`: the
    /// default one, except the default network's bridge, which is `skiff0`
    /// for [`DEFAULT_ROOT`] and `skiff0-` with 8 hex digits of the sha256 of
    /// the root's path for any other. Two engines on one machine (a
    /// learner's second root, the tests' temporary ones) each have their own
    /// default network, and must never share its bridge.
    ///
    /// ```
    /// use ch06_network::store::StoreConfig;
    /// use std::path::Path;
    /// assert_eq!(StoreConfig::for_root(Path::new("/var/lib/skiff")).default_bridge, "skiff0");
    /// assert_eq!(StoreConfig::for_root(Path::new("/tmp/x")).default_bridge.len(), 15);
    /// ```
    pub fn for_root(root: &Path) -> StoreConfig {
        let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        let default_bridge = if root == Path::new(DEFAULT_ROOT) {
            "skiff0".to_string()
        } else {
            let digest = ch05_images::digest::sha256_of(root.as_os_str().as_encoded_bytes());
            format!("skiff0-{}", &digest.hex()[..8])
        };
        StoreConfig {
            default_bridge,
            ..StoreConfig::default()
        }
    }
}

impl Default for StoreConfig {
    /// `skiff0` on 10.201.0.0/16, user networks from 10.202.0.0/16 in /24s.
    /// Away from docker (172.17-31.0.0/16, 192.168.0.0/16), podman
    /// (10.88.0.0/16, 10.89.0.0/24 and up), Kubernetes' usual service and pod
    /// ranges (10.96.0.0/12, 10.244.0.0/16, k3s's 10.42-43.0.0/16) and
    /// libvirt (192.168.122.0/24). The host's routes are still checked
    /// before a subnet is used: a VPN may own any of 10/8.
    fn default() -> Self {
        StoreConfig {
            default_bridge: "skiff0".to_string(),
            default_subnet: "10.201.0.0/16".parse().expect("valid"),
            pool: "10.202.0.0/16".parse().expect("valid"),
            pool_prefix: 24,
        }
    }
}

/// One network's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// 64 hex digits.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its bridge.
    pub bridge: String,
    /// Its subnet.
    pub subnet: Subnet,
    /// The bridge's address, the containers' default route.
    pub gateway: Ipv4Addr,
    /// No route out, no published ports.
    pub internal: bool,
    /// Containers find each other by name (user networks).
    pub dns: bool,
    /// User labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// When it was created (RFC 3339, UTC).
    pub created: String,
    /// `--mtu`: its bridge's and its cables' MTU; the uplink's when `None`
    /// (see [`bridge::uplink_mtu`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
}

impl Network {
    /// Whether this is the default network.
    pub fn is_default(&self) -> bool {
        self.name == DEFAULT_NETWORK
    }
}

/// What `network create` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSpec {
    /// The name.
    pub name: String,
    /// The subnet; one from the pool when `None`.
    pub subnet: Option<Subnet>,
    /// The gateway; the subnet's first host when `None`.
    pub gateway: Option<Ipv4Addr>,
    /// `--internal`.
    pub internal: bool,
    /// `--label`.
    pub labels: BTreeMap<String, String>,
    /// `--mtu`.
    #[serde(default)]
    pub mtu: Option<u32>,
}

/// The store of one root directory.
#[derive(Debug, Clone)]
pub struct NetworkStore {
    dir: PathBuf,
    config: StoreConfig,
}

impl NetworkStore {
    /// The store under `<root>/networks`, configured for that root
    /// ([`StoreConfig::for_root`]).
    pub fn open(root: &Path) -> NetworkStore {
        NetworkStore::with_config(root, StoreConfig::for_root(root))
    }

    /// The store under `<root>/networks`, with `config`.
    pub fn with_config(root: &Path, config: StoreConfig) -> NetworkStore {
        NetworkStore {
            dir: root.join("networks"),
            config,
        }
    }

    /// `<root>/networks`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The configuration.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Takes the store's lock. The first holder after a reboot also
    /// forgets the runtime state a previous boot left ([`boot`]): every
    /// change to leases, names or endpoints happens under this lock, so
    /// none is made on top of that state.
    pub fn lock(&self) -> Result<Lock> {
        let lock = Lock::acquire(&self.dir.join(".lock"))?;
        boot::forget_previous_boot(self)?;
        Ok(lock)
    }

    fn network_file(&self, id: &str) -> PathBuf {
        self.dir.join(id).join("network.json")
    }

    /// The leases file of a network.
    pub fn leases_path(&self, network: &Network) -> PathBuf {
        self.dir.join(&network.id).join("ipam.json")
    }

    /// The records file of a network, which its DNS responders read.
    pub fn records_path(&self, network: &Network) -> PathBuf {
        self.dir.join(&network.id).join("records.json")
    }

    /// Where the containers' attachments are written down.
    pub fn endpoints_dir(&self) -> PathBuf {
        self.dir.join("endpoints")
    }

    /// Every network, by name.
    pub fn list(&self) -> Result<Vec<Network>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(state::io_err("list", &self.dir)(e).into()),
        };
        let mut networks = Vec::new();
        for entry in entries {
            let entry = entry.map_err(state::io_err("list", &self.dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.len() == 64
                && let Some(network) = state::read_json::<Network>(&self.network_file(&name))?
            {
                networks.push(network);
            }
        }
        networks.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(networks)
    }

    /// The network named `name`, or whose id is or starts with `name`.
    pub fn find(&self, name: &str) -> Result<Option<Network>> {
        let networks = self.list()?;
        if let Some(n) = networks.iter().find(|n| n.name == name || n.id == name) {
            return Ok(Some(n.clone()));
        }
        let mut by_prefix = networks
            .into_iter()
            .filter(|n| !name.is_empty() && n.id.starts_with(name));
        match (by_prefix.next(), by_prefix.next()) {
            (Some(n), None) => Ok(Some(n)),
            _ => Ok(None),
        }
    }

    /// Like [`find`](Self::find), with [`NetworkError::NotFound`].
    pub fn get(&self, name: &str) -> Result<Network> {
        self.find(name)?
            .ok_or_else(|| NetworkError::NotFound(name.to_string()))
    }

    // ANCHOR: create
    /// Creates a user network: checks the name and the subnet, writes its
    /// record, and creates its bridge and rules (undone on failure).
    pub fn create(&self, spec: &NetworkSpec) -> Result<Network> {
        validate_name(&spec.name)?;
        if RESERVED_NAMES.contains(&spec.name.as_str()) {
            return Err(NetworkError::Reserved(spec.name.clone()));
        }
        if spec.gateway.is_some() && spec.subnet.is_none() {
            return Err(NetworkError::GatewayWithoutSubnet);
        }
        if let Some(mtu) = spec.mtu.filter(|m| !(MIN_MTU..=MAX_MTU).contains(m)) {
            return Err(NetworkError::Mtu(mtu));
        }
        let _store = self.lock()?;
        if self.find(&spec.name)?.is_some_and(|n| n.name == spec.name) {
            return Err(NetworkError::Exists(spec.name.clone()));
        }
        let id = state::random_id();
        let bridge = format!("skiff-{}", &id[..9]);
        self.create_locked(spec, id, bridge, false)
    }
    // ANCHOR_END: create

    /// The default network, created (with its bridge) on first use, on
    /// [`StoreConfig::default_subnet`], or on the first free subnet of the
    /// pool when a route of the host covers that one. After a reboot its
    /// bridge is made again.
    pub fn default_network(&self) -> Result<Network> {
        let _store = self.lock()?;
        if let Some(network) = self.list()?.into_iter().find(Network::is_default) {
            drop(_store);
            self.ensure_up(&network)?;
            return Ok(network);
        }
        let spec = NetworkSpec {
            name: DEFAULT_NETWORK.to_string(),
            ..NetworkSpec::default()
        };
        self.create_locked(
            &spec,
            state::random_id(),
            self.config.default_bridge.clone(),
            true,
        )
    }

    fn create_locked(
        &self,
        spec: &NetworkSpec,
        id: String,
        bridge: String,
        default: bool,
    ) -> Result<Network> {
        let _machine = bridge::machine_lock()?;
        let ours = self.list()?;
        let subnet = match spec.subnet {
            Some(subnet) => {
                bridge::check_free(subnet, &ours, &bridge::host_routes()?)?;
                subnet
            }
            None if default => {
                bridge::choose_subnet(&self.config, Some(self.config.default_subnet), &ours)?
            }
            None => bridge::choose_subnet(&self.config, None, &ours)?,
        };
        let gateway = spec.gateway.unwrap_or_else(|| subnet.first_host());
        if !subnet.is_host(gateway) {
            return Err(NetworkError::GatewayOutside { gateway, subnet });
        }
        let network = Network {
            id,
            name: spec.name.clone(),
            bridge,
            subnet,
            gateway,
            internal: spec.internal,
            dns: !default,
            labels: spec.labels.clone(),
            created: state::rfc3339_now(),
            mtu: spec.mtu,
        };
        // The record first: if we are killed while the bridge is made, `rm`
        // or `prune` finds the record and removes what was made.
        state::write_json_atomic(&self.network_file(&network.id), &network)?;
        if let Err(e) = bridge::bring_up(&network) {
            let _ = bridge::tear_down(&network);
            let _ = state::remove_dir_all(&self.dir.join(&network.id));
            return Err(e);
        }
        Ok(network)
    }

    /// Makes sure the network's bridge exists (it does not after a reboot).
    /// Cheap when it does: one netlink dump, no lock.
    pub fn ensure_up(&self, network: &Network) -> Result<()> {
        if bridge::is_up(network)? {
            return Ok(());
        }
        let _machine = bridge::machine_lock()?;
        bridge::bring_up(network)
    }

    /// Removes a user network; refused while containers are attached.
    pub fn remove(&self, name: &str) -> Result<Network> {
        if name == DEFAULT_NETWORK {
            return Err(NetworkError::Predefined(name.to_string()));
        }
        let _store = self.lock()?;
        let network = self.get(name)?;
        if network.is_default() {
            return Err(NetworkError::Predefined(network.name));
        }
        self.remove_locked(&network)?;
        Ok(network)
    }

    fn remove_locked(&self, network: &Network) -> Result<()> {
        let attached = self.attached(network)?;
        if !attached.is_empty() {
            // By name, as the records know them (the id when they do not).
            let records = self.records(network)?;
            let containers = attached
                .iter()
                .map(|id| {
                    records
                        .records
                        .iter()
                        .find(|r| r.container == *id)
                        .and_then(|r| r.names.first().cloned())
                        .unwrap_or_else(|| id.chars().take(12).collect())
                })
                .collect();
            return Err(NetworkError::InUse {
                name: network.name.clone(),
                containers,
            });
        }
        {
            let _machine = bridge::machine_lock()?;
            bridge::tear_down(network)?;
        }
        state::remove_dir_all(&self.dir.join(&network.id))?;
        Ok(())
    }

    /// Removes every user network no container uses; their names.
    pub fn prune(&self) -> Result<Vec<String>> {
        self.remove_unused(false)
    }

    /// Removes every network no container uses, the default one too (for
    /// tests, and to reset an engine); their names.
    pub fn remove_all_unused(&self) -> Result<Vec<String>> {
        self.remove_unused(true)
    }

    /// Removes the default network (its bridge and rules) when no
    /// container uses it: what a daemon does as it stops, so that an engine
    /// that is not running leaves no interface behind. It is made again on
    /// first use. Whether it was removed.
    pub fn remove_default_if_unused(&self) -> Result<bool> {
        let _store = self.lock()?;
        for network in self.list()? {
            if network.is_default() && self.attached(&network)?.is_empty() {
                self.remove_locked(&network)?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn remove_unused(&self, with_default: bool) -> Result<Vec<String>> {
        let _store = self.lock()?;
        let mut removed = Vec::new();
        for network in self.list()? {
            if (with_default || !network.is_default()) && self.attached(&network)?.is_empty() {
                self.remove_locked(&network)?;
                removed.push(network.name);
            }
        }
        Ok(removed)
    }

    /// The ids of the containers holding an address on the network.
    pub fn attached(&self, network: &Network) -> Result<Vec<String>> {
        let leases: Leases = state::read_json(&self.leases_path(network))?.unwrap_or_default();
        let mut holders: Vec<String> = leases.holders().map(String::from).collect();
        holders.sort();
        holders.dedup();
        Ok(holders)
    }

    /// Who is attached to the network, under which names.
    pub fn records(&self, network: &Network) -> Result<Records> {
        Ok(state::read_json(&self.records_path(network))?.unwrap_or_default())
    }

    // ANCHOR: lease
    /// Leases an address on `network` to the container of `record` (its
    /// `address` is filled in) and publishes its names, in one step under
    /// the store's lock.
    pub fn lease(
        &self,
        network: &Network,
        requested: Option<Ipv4Addr>,
        mut record: Record,
    ) -> Result<Ipv4Addr> {
        let _store = self.lock()?;
        let mut leases: Leases = state::read_json(&self.leases_path(network))?.unwrap_or_default();
        let pool = Pool {
            network: &network.name,
            subnet: network.subnet,
            gateway: network.gateway,
        };
        let address = leases.allocate(pool, &record.container, requested)?;
        state::write_json_runtime(&self.leases_path(network), &leases)?;
        record.address = address;
        let mut records = self.records(network)?;
        records.upsert(record);
        state::write_json_runtime(&self.records_path(network), &records)?;
        Ok(address)
    }
    // ANCHOR_END: lease

    /// Frees the addresses and names of a container on the network with id
    /// `network_id` (nothing if the network is gone).
    pub fn unlease(&self, network_id: &str, container: &str) -> Result<()> {
        let _store = self.lock()?;
        let Some(network) = state::read_json::<Network>(&self.network_file(network_id))? else {
            return Ok(());
        };
        let mut leases: Leases = state::read_json(&self.leases_path(&network))?.unwrap_or_default();
        if !leases.release(container).is_empty() {
            state::write_json_runtime(&self.leases_path(&network), &leases)?;
        }
        let mut records = self.records(&network)?;
        if records.remove(container) {
            state::write_json_runtime(&self.records_path(&network), &records)?;
        }
        Ok(())
    }
}

fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(NetworkError::InvalidName(name.to_string()))
    }
}
