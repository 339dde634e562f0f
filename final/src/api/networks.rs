//! `/networks`: chapter 6's networks through the API (`docker network
//! create/ls/inspect/rm/prune/connect/disconnect`), and a container's
//! network as `inspect` and `ps` show it.
//!
//! The networks are chapter 6's store: the same bridges, subnets and rules
//! as `ch06-network network create`. Besides them, docker always lists
//! `host` and `none`, which are modes rather than networks: no bridge, no
//! record, nothing to remove.

use super::containers::Filters;
use super::create::EndpointSettings;
use super::json::GoJson;
use super::{ApiError, ApiResult, blocking};
use crate::daemon::Daemon;
use crate::engine::Spec;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ch02_namespaces::Engine;
use ch02_namespaces::records::Record;
use ch06_network::attachment::find_endpoint;
use ch06_network::inspect::{MTU_OPTION, inspect as inspect_network};
use ch06_network::request::NetworkMode;
use ch06_network::store::{Network, NetworkError, NetworkSpec};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The modes docker lists beside the networks.
const MODES: [(&str, &str); 2] = [("host", "host"), ("none", "null")];

/// A mode's inspection: fixed ids, as docker's are per daemon.
fn mode_json(name: &str, driver: &str) -> Value {
    let id = ch05_images::digest::sha256_of(format!("skiff network mode {name}").as_bytes());
    json!({
        "Name": name, "Id": id.hex(), "Created": "0001-01-01T00:00:00Z",
        "Scope": "local", "Driver": driver, "EnableIPv6": false,
        "IPAM": {"Driver": "default", "Options": null, "Config": []},
        "Internal": false, "Attachable": false, "Ingress": false,
        "ConfigFrom": {"Network": ""}, "ConfigOnly": false,
        "Containers": {}, "Options": {}, "Labels": {},
    })
}

/// A network's inspection, in docker's shape.
fn network_json(daemon: &Daemon, network: &Network) -> ApiResult<Value> {
    let inspected = inspect_network(daemon.engine.network().networks(), &network.id)
        .map_err(network_store_error)?;
    let mut value = serde_json::to_value(inspected).expect("plain data");
    let object = value.as_object_mut().expect("an object");
    // What docker adds and clients read, with the values this engine has.
    object.insert("Attachable".into(), json!(false));
    object.insert("Ingress".into(), json!(false));
    object.insert("ConfigFrom".into(), json!({"Network": ""}));
    object.insert("ConfigOnly".into(), json!(false));
    // dockerd lists a user network's driver options as they were given
    // (the MTU's, if any, here); clients compare them with their own
    // configuration, and docker-compose recreates a network whose options
    // differ. The bridge's name is shown for the default network only, as
    // docker0's is.
    if !network.is_default() {
        let given = network.mtu.map(|mtu| (MTU_OPTION, mtu.to_string()));
        object.insert("Options".into(), json!(BTreeMap::from_iter(given)));
    }
    if let Some(containers) = object.get_mut("Containers").and_then(Value::as_object_mut) {
        for container in containers.values_mut() {
            if let Some(c) = container.as_object_mut() {
                c.entry("EndpointID").or_insert(json!(""));
                c.entry("MacAddress").or_insert(json!(""));
                c.entry("IPv6Address").or_insert(json!(""));
            }
        }
    }
    Ok(value)
}

/// Chapter 6's store errors as docker's status codes.
pub fn network_store_error(error: NetworkError) -> ApiError {
    let message = ch01_process::exit::report(&error);
    match error {
        NetworkError::NotFound(_) => ApiError::not_found(message),
        NetworkError::InUse { .. } | NetworkError::Predefined(_) => {
            ApiError::new(StatusCode::FORBIDDEN, message)
        }
        NetworkError::Exists(_) => ApiError::conflict(message),
        NetworkError::InvalidName(_) | NetworkError::Reserved(_) => ApiError::bad_request(message),
        NetworkError::GatewayOutside { .. } => ApiError::bad_request(message),
        _ => ApiError::internal(message),
    }
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    filters: Option<String>,
}

/// `GET /networks`: `docker network ls`.
pub async fn list(
    State(daemon): State<Arc<Daemon>>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Vec<Value>>> {
    blocking(move || {
        let filters = Filters::parse(query.filters.as_deref());
        let mut out = Vec::new();
        let networks = daemon
            .engine
            .network()
            .networks()
            .list()
            .map_err(network_store_error)?;
        for network in &networks {
            out.push(network_json(&daemon, network)?);
        }
        out.extend(MODES.iter().map(|(name, driver)| mode_json(name, driver)));
        out.retain(|n| network_matches(&filters, n));
        Ok(Json(out))
    })
    .await
}

/// `name=`, `id=` (prefixes, as docker matches them), `driver=`, `label=`,
/// `type=custom|builtin` (docker's predefined networks are the builtin ones:
/// `bridge`, `host` and `none`; every network a user made is custom).
fn network_matches(filters: &Filters, network: &Value) -> bool {
    let field = |key: &str| network[key].as_str().unwrap_or_default().to_string();
    let any = |key: &str, test: &dyn Fn(&str) -> bool| {
        filters
            .get(key)
            .is_none_or(|wanted| wanted.iter().any(|w| test(w)))
    };
    let labels: BTreeMap<String, String> =
        serde_json::from_value(network["Labels"].clone()).unwrap_or_default();
    any("name", &|w| field("Name").contains(w))
        && any("id", &|w| field("Id").starts_with(w))
        && any("driver", &|w| field("Driver") == w)
        && any("type", &|w| {
            let builtin = PREDEFINED.contains(&field("Name").as_str());
            (w == "builtin" && builtin) || (w == "custom" && !builtin)
        })
        && filters.labels_match(&labels)
}

/// The networks every docker host has, which `type=builtin` lists.
const PREDEFINED: [&str; 3] = ["bridge", "host", "none"];

/// `GET /networks/{id}`: `docker network inspect`.
pub async fn inspect(
    State(daemon): State<Arc<Daemon>>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    blocking(move || {
        if let Some((mode, driver)) = MODES.iter().find(|(mode, _)| *mode == name) {
            return Ok(Json(mode_json(mode, driver)));
        }
        let network = daemon
            .engine
            .network()
            .networks()
            .get(&name)
            .map_err(network_store_error)?;
        Ok(Json(network_json(&daemon, &network)?))
    })
    .await
}

/// The body of `POST /networks/create`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateBody {
    pub name: String,
    pub driver: String,
    pub internal: bool,
    #[serde(rename = "IPAM")]
    pub ipam: Option<IpamBody>,
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    /// `--opt KEY=VALUE`: the driver's options; skiff reads the MTU's.
    pub options: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpamBody {
    pub config: Option<Vec<IpamConfigBody>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpamConfigBody {
    pub subnet: String,
    pub gateway: String,
}

// ANCHOR: create
/// `POST /networks/create`: a bridge, a subnet and its rules (chapter 6).
pub async fn create(
    State(daemon): State<Arc<Daemon>>,
    GoJson(body): GoJson<CreateBody>,
) -> ApiResult<Response> {
    if !matches!(body.driver.as_str(), "" | "bridge") {
        return Err(ApiError::bad_request(format!(
            "network driver {:?} is not supported: skiff's networks are bridges",
            body.driver
        )));
    }
    if body.enable_ipv6 {
        return Err(ApiError::bad_request(
            "IPv6 networks are not supported: skiff's networks are IPv4 only",
        ));
    }
    let configs = body.ipam.and_then(|i| i.config).unwrap_or_default();
    if configs.len() > 1 {
        return Err(ApiError::bad_request(
            "a network has one subnet here: give at most one --subnet",
        ));
    }
    let config = configs.into_iter().next().unwrap_or_default();
    let mtu = body
        .options
        .as_ref()
        .and_then(|o| o.get(MTU_OPTION))
        .map(|mtu| {
            mtu.parse::<u32>().map_err(|_| {
                ApiError::bad_request(format!("{MTU_OPTION}: {mtu:?} is not a number of bytes"))
            })
        })
        .transpose()?;
    let spec = NetworkSpec {
        name: body.name,
        subnet: Some(config.subnet)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse())
            .transpose()
            .map_err(|e| ApiError::bad_request(format!("--subnet: {e}")))?,
        gateway: Some(config.gateway)
            .filter(|g| !g.is_empty())
            .map(|g| g.parse())
            .transpose()
            .map_err(|_| ApiError::bad_request("--gateway: not an IPv4 address"))?,
        internal: body.internal,
        labels: body.labels.unwrap_or_default(),
        mtu,
    };
    let worker = daemon.clone();
    let network = blocking(move || {
        worker
            .engine
            .network()
            .networks()
            .create(&spec)
            .map_err(network_store_error)
    })
    .await?;
    publish(&daemon, "create", &network);
    Ok((
        StatusCode::CREATED,
        Json(json!({"Id": network.id, "Warning": ""})),
    )
        .into_response())
}
// ANCHOR_END: create

fn publish(daemon: &Daemon, action: &str, network: &Network) {
    let attributes = BTreeMap::from([
        ("name".to_string(), network.name.clone()),
        ("type".to_string(), "bridge".to_string()),
    ]);
    daemon
        .events
        .publish("network", action, &network.id, attributes);
}

/// `DELETE /networks/{id}`: refused while containers use it.
pub async fn remove(
    State(daemon): State<Arc<Daemon>>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    if MODES.iter().any(|(mode, _)| *mode == name) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("{name} is a pre-defined network and cannot be removed"),
        ));
    }
    let worker = daemon.clone();
    let network = blocking(move || {
        worker
            .engine
            .network()
            .networks()
            .remove(&name)
            .map_err(network_store_error)
    })
    .await?;
    publish(&daemon, "destroy", &network);
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /networks/prune`: every network no container uses.
pub async fn prune(State(daemon): State<Arc<Daemon>>) -> ApiResult<Json<Value>> {
    let worker = daemon.clone();
    let removed = blocking(move || {
        worker
            .engine
            .network()
            .networks()
            .prune()
            .map_err(network_store_error)
    })
    .await?;
    Ok(Json(json!({ "NetworksDeleted": removed })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ConnectBody {
    pub container: String,
    /// `--alias`, `--ip`: the container's settings on this network.
    pub endpoint_config: Option<EndpointSettings>,
}

// ANCHOR: connect
/// `POST /networks/{id}/connect`.
///
/// A container of chapter 6 has a first network (its `--network`) and may
/// have others (its spec's `also`), one cable each. Connecting a container
/// whose spec has none (created with `--network none`, or left its networks
/// with `disconnect`) gives it its first network, its published ports made
/// again from its `HostConfig`, as dockerd does on connect: docker-compose
/// 1.x does this to every container it creates. Connecting one that has a
/// network adds another to its spec. Either way the container joins the
/// network at every start, and, if it runs, the cable is plugged in now
/// (chapter 6's `attachment::connect`). Asking a container that does not
/// run for a network it is on already is accepted; one that runs is
/// refused, as dockerd refuses a second endpoint on one network.
pub async fn connect(
    State(daemon): State<Arc<Daemon>>,
    Path(name): Path<String>,
    GoJson(body): GoJson<ConnectBody>,
) -> ApiResult<StatusCode> {
    blocking(move || {
        let (network, record) = network_and_container(&daemon, &name, &body.container)?;
        if place(&record, &network) != Place::Off {
            // dockerd refuses a second cable to one network; a container
            // that does not run is only asked again what it has.
            if record.is_running() {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!(
                        "endpoint with name {} already exists in network {}",
                        record.name(),
                        network.name
                    ),
                ));
            }
            return Ok(StatusCode::OK);
        }
        let endpoint = body.endpoint_config.unwrap_or_default();
        let mode = &record.spec.base.network.mode;
        let extra = super::create::endpoint_request(&key_of(&network), &endpoint)?;
        let mut request = record.spec.base.network.clone();
        if *mode == NetworkMode::None {
            // No network in its spec: this one becomes its first.
            request.mode = if network.is_default() {
                NetworkMode::Bridge
            } else {
                NetworkMode::Network(network.name.clone())
            };
            request.aliases = extra.aliases.clone();
            request.ip = extra.ip;
            request.publish = super::create::published_ports(&daemon, &record)?;
        } else if mode.is_bridged() {
            request.also.push(extra.clone());
        } else {
            return Err(ApiError::bad_request(format!(
                "container {} shares the network namespace of {} (--network {mode}): it cannot be connected to any other network",
                record.name(),
                if *mode == NetworkMode::Host { "the host" } else { "another container" },
            )));
        }
        update_network(&daemon, &record, request)?;
        if let Some(pid) = running_pid(&record) {
            let store = daemon.engine.network().networks();
            if let Err(e) = ch06_network::attachment::connect(store, record.id(), pid, &extra) {
                // The spec as it was: the container did not join.
                update_network(&daemon, &record, record.spec.base.network.clone())?;
                return Err(attach_error(e));
            }
        }
        publish_container(&daemon, "connect", &network, record.id());
        Ok(StatusCode::OK)
    })
    .await
}
// ANCHOR_END: connect

/// The network `name` and the record of `container`, for connect and
/// disconnect.
fn network_and_container(
    daemon: &Daemon,
    name: &str,
    container: &str,
) -> ApiResult<(Network, Record<Spec>)> {
    let network = daemon
        .engine
        .network()
        .networks()
        .get(name)
        .map_err(network_store_error)?;
    let record = daemon.engine.containers().find::<Spec>(container)?;
    Ok((network, record))
}

/// `POST /networks/{id}/disconnect`: the network leaves the container's
/// spec, and, if it runs, its cable is unplugged now. Its first network:
/// its next network, if it has one, becomes its first; otherwise its mode
/// becomes `none`, without aliases, address and published ports, which
/// `connect` sets again.
pub async fn disconnect(
    State(daemon): State<Arc<Daemon>>,
    Path(name): Path<String>,
    GoJson(body): GoJson<ConnectBody>,
) -> ApiResult<StatusCode> {
    blocking(move || {
        let (network, record) = network_and_container(&daemon, &name, &body.container)?;
        let mut request = record.spec.base.network.clone();
        match place(&record, &network) {
            Place::Off => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!(
                        "container {} is not connected to network {}",
                        record.name(),
                        network.name
                    ),
                ));
            }
            Place::Also(index) => {
                request.also.remove(index);
                unplug(&daemon, &record, &network)?;
            }
            Place::First if !request.also.is_empty() => {
                unplug(&daemon, &record, &network)?;
                let next = request.also.remove(0);
                request.mode = match next.network.as_str() {
                    "bridge" | "default" => NetworkMode::Bridge,
                    name => NetworkMode::Network(name.to_string()),
                };
                request.aliases = next.aliases;
                request.ip = next.ip;
            }
            Place::First => {
                unplug(&daemon, &record, &network)?;
                request.mode = NetworkMode::None;
                request.aliases.clear();
                request.ip = None;
                request.mac_address = None;
                request.publish.clear();
            }
        }
        update_network(&daemon, &record, request)?;
        publish_container(&daemon, "disconnect", &network, record.id());
        Ok(StatusCode::OK)
    })
    .await
}

/// Unplugs a running container's cable to `network` now (chapter 6's
/// `attachment::disconnect`); nothing to do for one that does not run.
fn unplug(daemon: &Daemon, record: &Record<Spec>, network: &Network) -> ApiResult<()> {
    if running_pid(record).is_none() {
        return Ok(());
    }
    let store = daemon.engine.network().networks();
    ch06_network::attachment::disconnect(store, record.id(), &network.id).map_err(attach_error)
}

/// Writes `request` as the network section of `record`'s spec, once it is
/// checked.
fn update_network(
    daemon: &Daemon,
    record: &Record<Spec>,
    request: ch06_network::NetworkRequest,
) -> ApiResult<()> {
    request
        .validate()
        .map_err(|e| ApiError::bad_request(ch01_process::exit::report(&e)))?;
    daemon
        .engine
        .containers()
        .update::<Spec>(record.id(), |r| r.spec.base.network = request)?;
    Ok(())
}

/// The first process of a running container, whose network namespace a
/// cable is plugged into.
fn running_pid(record: &Record<Spec>) -> Option<nix::unistd::Pid> {
    record
        .state
        .pid
        .filter(|_| record.is_running())
        .map(|pid| nix::unistd::Pid::from_raw(pid.pid))
}

/// Chapter 6's refusal of a connect or disconnect, as the API's error.
fn attach_error(error: ch06_network::AttachError) -> ApiError {
    let message = ch01_process::exit::report(&error);
    match error {
        ch06_network::AttachError::Unsupported(_) | ch06_network::AttachError::Request(_) => {
            ApiError::bad_request(message)
        }
        ch06_network::AttachError::Network(e) => network_store_error(e),
        _ => ApiError::internal(message),
    }
}

/// A `network` event about a container (`connect`, `disconnect`), as
/// dockerd sends them: the network's id, the container in the attributes.
fn publish_container(daemon: &Daemon, action: &str, network: &Network, container: &str) {
    let attributes = BTreeMap::from([
        ("container".to_string(), container.to_string()),
        ("name".to_string(), network.name.clone()),
        ("type".to_string(), "bridge".to_string()),
    ]);
    daemon
        .events
        .publish("network", action, &network.id, attributes);
}

/// Where a container's spec puts it with respect to a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Its first network (`--network`).
    First,
    /// One of its others (`also`), at this index.
    Also(usize),
    /// Not on it.
    Off,
}

/// Whether `name` (a network's name or id, `bridge`) names `network`.
fn names(name: &str, network: &Network) -> bool {
    match name {
        "bridge" | "default" => network.is_default(),
        _ => name == network.name || name == network.id,
    }
}

/// Where `record`'s spec puts it with respect to `network`.
fn place(record: &Record<Spec>, network: &Network) -> Place {
    let request = &record.spec.base.network;
    let first = match &request.mode {
        NetworkMode::Bridge => network.is_default(),
        NetworkMode::Network(name) => names(name, network),
        _ => false,
    };
    if first {
        return Place::First;
    }
    match request.also.iter().position(|e| names(&e.network, network)) {
        Some(index) => Place::Also(index),
        None => Place::Off,
    }
}

/// The name a container's spec and `NetworkSettings` use for a network:
/// `bridge` for the default one.
fn key_of(network: &Network) -> String {
    if network.is_default() {
        "bridge".to_string()
    } else {
        network.name.clone()
    }
}

/// The name docker gives a container's network mode: `bridge`, `host`,
/// `none`, `container:<id>`, or the network's name.
pub fn mode_name(record: &Record<Spec>) -> String {
    record.spec.base.network.mode.to_string()
}

// ANCHOR: settings
/// `NetworkSettings` of `inspect` (and, shorter, of `ps`): the address,
/// gateway and ports of a running container, read from its endpoint (the
/// record chapter 6's step keeps while the container runs).
pub fn settings(daemon: &Daemon, record: &Record<Spec>) -> Value {
    let store = daemon.engine.network().networks();
    let endpoint = record
        .is_running()
        .then(|| find_endpoint(store, record.id()).ok().flatten())
        .flatten();
    let request = &record.spec.base.network;
    let mode = &request.mode;
    let mut networks = serde_json::Map::new();
    if !matches!(mode, NetworkMode::Container(_)) {
        let network = match mode {
            NetworkMode::Bridge | NetworkMode::Network(_) => endpoint
                .as_ref()
                .and_then(|e| e.network.clone())
                .or_else(|| store.find(&mode.to_string()).ok().flatten()),
            _ => None,
        };
        let mac = endpoint
            .as_ref()
            .and_then(|e| e.mac_address.map(|m| m.to_string()))
            .unwrap_or_default();
        let first = Joined {
            network: network.as_ref(),
            address: endpoint.as_ref().and_then(|e| e.address),
            mac,
            aliases: &request.aliases,
            ip: request.ip,
            live: endpoint.is_some(),
        };
        networks.insert(mode.to_string(), first.settings(record));
    }
    for extra in &request.also {
        let network = store.find(&extra.network).ok().flatten();
        let address = endpoint.as_ref().and_then(|e| {
            e.more
                .iter()
                .find(|l| network.as_ref().is_some_and(|n| n.id == l.network.id))
                .and_then(|l| l.address)
        });
        let joined = Joined {
            network: network.as_ref(),
            address,
            mac: String::new(),
            aliases: &extra.aliases,
            ip: extra.ip,
            live: address.is_some(),
        };
        let key = network.as_ref().map_or(extra.network.clone(), key_of);
        networks.insert(key, joined.settings(record));
    }
    let mut ports = serde_json::Map::new();
    for port in endpoint.iter().flat_map(|e| e.ports.iter()) {
        let entry = ports
            .entry(format!("{}/{}", port.container_port, port.protocol))
            .or_insert_with(|| json!([]));
        if let Some(list) = entry.as_array_mut() {
            list.push(
                json!({"HostIp": port.host_ip.to_string(), "HostPort": port.host_port.to_string()}),
            );
        }
    }
    let default = networks.get("bridge").cloned().unwrap_or(json!({}));
    json!({
        "Bridge": "", "SandboxID": "", "SandboxKey": "", "HairpinMode": false,
        "Ports": ports,
        "Networks": networks,
        // The top-level fields describe the default network only, as docker's.
        "IPAddress": default["IPAddress"].as_str().unwrap_or_default(),
        "IPPrefixLen": default["IPPrefixLen"].as_u64().unwrap_or(0),
        "Gateway": default["Gateway"].as_str().unwrap_or_default(),
        "MacAddress": default["MacAddress"].as_str().unwrap_or_default(),
        "EndpointID": default["EndpointID"].as_str().unwrap_or_default(),
    })
}
// ANCHOR_END: settings

/// A container on one of its networks, for `NetworkSettings.Networks`.
struct Joined<'a> {
    network: Option<&'a Network>,
    address: Option<std::net::Ipv4Addr>,
    mac: String,
    aliases: &'a [String],
    ip: Option<std::net::Ipv4Addr>,
    /// Whether the container is plugged in (it runs).
    live: bool,
}

impl Joined<'_> {
    fn settings(&self, record: &Record<Spec>) -> Value {
        let network = self.network;
        let address = self.address;
        let prefix = network.map(|n| n.subnet.prefix()).unwrap_or(0);
        let dns = network.is_some_and(|n| n.dns);
        json!({
            "IPAMConfig": self.ip.map(|ip| json!({"IPv4Address": ip.to_string()})),
            "Links": null,
            "Aliases": if self.aliases.is_empty() { Value::Null } else { json!(self.aliases) },
            "DNSNames": if dns { dns_names(record, self.aliases) } else { Vec::new() },
            "NetworkID": network.map(|n| n.id.clone()).unwrap_or_default(),
            "EndpointID": if self.live { record.id().to_string() } else { String::new() },
            "Gateway": if address.is_some() { network.map(|n| n.gateway.to_string()).unwrap_or_default() } else { String::new() },
            "IPAddress": address.map(|a| a.to_string()).unwrap_or_default(),
            "IPPrefixLen": if address.is_some() { prefix } else { 0 },
            "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "MacAddress": self.mac,
        })
    }
}

/// The names chapter 6's resolver answers for a container on a network
/// with DNS by name (not the default bridge: docker's default network has
/// none): its name, its aliases there, its short id and its hostname.
fn dns_names(record: &Record<Spec>, aliases: &[String]) -> Vec<String> {
    let mut names = vec![record.name().to_string()];
    for name in aliases
        .iter()
        .map(String::as_str)
        .chain([record.spec.short_id(), record.spec.hostname.as_str()])
    {
        if !name.is_empty() && !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    names
}

/// Before API 1.45, dockerd listed a container's short id among the
/// `Aliases` of its user-defined networks (1.45 moved the names the
/// resolver answers to `DNSNames`). Clients of that time rely on it:
/// docker-compose 1.x reconnects a container to its networks, to set its
/// aliases, unless its short id is there already.
pub fn with_short_id_alias(inspected: &mut Value, short_id: &str) {
    let Some(networks) = inspected
        .pointer_mut("/NetworkSettings/Networks")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for (name, endpoint) in networks.iter_mut() {
        if matches!(name.as_str(), "bridge" | "host" | "none") || name.starts_with("container:") {
            continue;
        }
        let mut aliases: Vec<Value> = endpoint["Aliases"].as_array().cloned().unwrap_or_default();
        if !aliases.iter().any(|a| a == short_id) {
            aliases.push(json!(short_id));
        }
        endpoint["Aliases"] = json!(aliases);
    }
}

/// The `Ports` of `GET /containers/json`: one entry per published port.
pub fn ports_list(daemon: &Daemon, record: &Record<Spec>) -> Vec<Value> {
    if !record.is_running() {
        return Vec::new();
    }
    let mut ports = find_endpoint(daemon.engine.network().networks(), record.id())
        .ok()
        .flatten()
        .map(|e| e.ports)
        .unwrap_or_default();
    ports.sort();
    ports
        .iter()
        .map(|p| {
            json!({"IP": p.host_ip.to_string(), "PrivatePort": p.container_port,
                   "PublicPort": p.host_port, "Type": p.protocol.to_string()})
        })
        .collect()
}
