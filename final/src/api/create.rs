//! `POST /containers/create`: docker's container configuration, turned
//! into the chapters' flags and from them into a spec.
//!
//! The body is what `docker run` sends: `Config` at the top level (image,
//! command, environment, terminal...) and `HostConfig` (limits, volumes,
//! capabilities, restart policy...). Each field becomes the flag a chapter
//! binary would take (`Memory` is `--memory`, `Binds` are `-v`), so that
//! the checks and defaults are the chapters' own: one implementation.

use super::{ApiError, ApiResult, blocking};
use crate::daemon::{Daemon, shims};
use crate::engine::{EngineSection, LogConfig, RestartPolicy, Spec};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ch01_process::cli::{ProcessArgs, ProcessFlags};
use ch02_namespaces::cli::{ContainerArgs, ContainerFlags};
use ch02_namespaces::namespaces::PidMode;
use ch02_namespaces::{Container, RunSpec};
use ch03_cgroups::cli::{CgroupArgs, LimitedFlags};
use ch04_overlayfs::cli::{StorageArgs, StorageFlags};
use ch05_images::image::HealthConfig;
use ch05_images::reference::{self, Reference};
use ch06_network::cli::NetworkArgs;
use ch06_network::request::ExtraNetwork;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A list that docker also accepts as one string (`Cmd`, `Entrypoint`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StrSlice {
    One(String),
    Many(Vec<String>),
}

impl StrSlice {
    fn into_vec(self) -> Vec<String> {
        match self {
            StrSlice::One(one) => vec![one],
            StrSlice::Many(many) => many,
        }
    }
}

/// The parts of `Config` the engine acts on.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateBody {
    pub hostname: String,
    pub user: String,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Option<Vec<String>>,
    pub cmd: Option<StrSlice>,
    pub entrypoint: Option<StrSlice>,
    pub image: String,
    pub labels: Option<BTreeMap<String, String>>,
    pub working_dir: String,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<i64>,
    /// `EXPOSE`d ports (`{"80/tcp": {}}`), published by `-P`.
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    /// Anonymous volumes (`{"/data": {}}`): the docker CLI's `-v /data`.
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    /// `--mac-address`, where older clients put it.
    pub mac_address: String,
    pub healthcheck: Option<HealthConfig>,
    pub host_config: HostConfig,
    pub networking_config: NetworkingConfig,
}

/// `--network-alias`, `--ip`, `--mac-address`: per network.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkingConfig {
    pub endpoints_config: Option<BTreeMap<String, EndpointSettings>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointSettings {
    pub aliases: Option<Vec<String>>,
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<EndpointIpam>,
    pub mac_address: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EndpointIpam {
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
}

/// One host side of a published port.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortBinding {
    pub host_ip: String,
    pub host_port: String,
}

/// The parts of `HostConfig` the engine acts on.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    pub binds: Option<Vec<String>>,
    pub mounts: Option<Vec<MountSpec>>,
    pub tmpfs: Option<BTreeMap<String, String>>,
    pub memory: i64,
    pub memory_swap: i64,
    pub nano_cpus: i64,
    pub cpu_shares: i64,
    pub cpuset_cpus: String,
    pub pids_limit: Option<i64>,
    pub pid_mode: String,
    /// `--group-add`: supplementary groups, by number.
    pub group_add: Option<Vec<String>>,
    pub network_mode: String,
    /// `-p`: `{"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}`.
    pub port_bindings: Option<BTreeMap<String, Option<Vec<PortBinding>>>>,
    /// `-P`: every exposed port, on a port the kernel picks.
    pub publish_all_ports: bool,
    pub dns: Option<Vec<String>>,
    pub extra_hosts: Option<Vec<String>>,
    pub restart_policy: Option<RestartBody>,
    pub auto_remove: bool,
    /// `--read-only`.
    pub readonly_rootfs: bool,
    /// `--init` (`null`: the daemon's default, no init).
    pub init: Option<bool>,
    pub cap_add: Option<Vec<String>>,
    pub cap_drop: Option<Vec<String>>,
    pub security_opt: Option<Vec<String>>,
    pub privileged: bool,
    pub log_config: Option<LogBody>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartBody {
    pub name: String,
    pub maximum_retry_count: u32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogBody {
    #[serde(rename = "Type")]
    pub kind: String,
    pub config: BTreeMap<String, String>,
}

/// `--mount type=bind|volume|tmpfs,source=...,target=...,readonly`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MountSpec {
    #[serde(rename = "Type")]
    pub kind: String,
    pub source: String,
    pub target: String,
    pub read_only: bool,
}

#[derive(Debug, Deserialize)]
pub struct CreateQuery {
    name: Option<String>,
}

// ANCHOR: create
/// `POST /containers/create?name=NAME`.
pub async fn create(
    State(daemon): State<Arc<Daemon>>,
    Query(query): Query<CreateQuery>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let raw: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    let parsed: CreateBody = serde_json::from_value(super::json::without_nulls(raw.clone()))
        .map_err(|e| ApiError::bad_request(format!("invalid container configuration: {e}")))?;
    let name = query
        .name
        .filter(|n| !n.is_empty())
        .map(|n| n.trim_start_matches('/').to_string());
    let worker = daemon.clone();
    let (id, warnings) = blocking(move || {
        let (spec, image, warnings) = spec_of(&worker, name, parsed, raw)?;
        let container = Container::create(&worker.engine, spec, Some(image))?;
        Ok((container.record().id().to_string(), warnings))
    })
    .await?;
    shims::publish(&daemon, "create", &id);
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "Id": id, "Warnings": warnings })),
    )
        .into_response())
}
// ANCHOR_END: create

/// The environment entries of a request (`Env` of a container or an exec)
/// without the bare names (`KEY` with no `=`).
///
/// The run path reads a bare name as a learner's `-e KEY`: "copy KEY from
/// my environment" (chapter 1's `apply_env_flag`), which is right for a
/// command line, where the environment is the user's. Here it would be the
/// daemon's: any client of the API could read the daemon's variables into
/// a container. (The docker CLI and skiff's own resolve `-e KEY` before they
/// send the request; dockerd reads a bare name that still comes as "unset
/// KEY".) So the daemon drops them: the container gets no value for KEY.
pub fn without_bare_names(env: Vec<String>) -> Vec<String> {
    env.into_iter()
        .filter(|entry| entry.contains('='))
        .collect()
}

/// `--group-add`: numeric group ids (docker also takes names, looked up in
/// the container's /etc/group; skiff asks for the number).
fn group_ids(groups: Option<&[String]>) -> ApiResult<Vec<u32>> {
    groups
        .unwrap_or_default()
        .iter()
        .map(|group| {
            group.trim().parse().map_err(|_| {
                ApiError::bad_request(format!(
                    "--group-add {group:?}: give the group's number (skiff does not look up group names)"
                ))
            })
        })
        .collect()
}

/// The log drivers dockerd has.
const DOCKER_LOG_DRIVERS: &[&str] = &[
    "none",
    "local",
    "json-file",
    "syslog",
    "journald",
    "gelf",
    "fluentd",
    "awslogs",
    "splunk",
    "etwlogs",
    "gcplogs",
    "logentries",
];

/// The shim writes docker's `json-file` logs (what `docker logs` reads),
/// or none at all (`none`), and nothing else: another driver is refused,
/// not ignored, or the logs would go where the user did not ask. A name no
/// docker knows gets dockerd's own message.
fn check_log_driver(kind: &str) -> ApiResult<()> {
    match kind {
        "" | "json-file" | "none" => Ok(()),
        known if DOCKER_LOG_DRIVERS.contains(&known) => Err(ApiError::bad_request(format!(
            "log driver {known:?} is not supported: skiff keeps json-file logs, or none (leave out --log-driver, or use none)"
        ))),
        unknown => Err(ApiError::bad_request(format!(
            "logger: no log driver named '{unknown}' is registered"
        ))),
    }
}

/// Finds an image by reference, or by (a prefix of) its id.
pub fn find_image(daemon: &Daemon, name: &str) -> ApiResult<Reference> {
    let store = daemon.engine.images().store();
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    if hex.len() >= 4 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        let images = store
            .images()
            .map_err(|e| ApiError::internal(e.to_string()))?;
        if let Some(record) = images.iter().find(|r| r.config.hex().starts_with(hex)) {
            return reference::parse(&record.reference)
                .map_err(|e| ApiError::internal(e.to_string()));
        }
    }
    let reference = reference::parse(name).map_err(|e| ApiError::bad_request(e.to_string()))?;
    match store.image(&reference) {
        Ok(Some(_)) => Ok(reference),
        Ok(None) => Err(ApiError::not_found(format!("No such image: {reference}"))),
        Err(e) => Err(ApiError::internal(e.to_string())),
    }
}

/// The spec of the container `body` describes, the image as named, and
/// warnings about what was ignored.
fn spec_of(
    daemon: &Daemon,
    name: Option<String>,
    mut body: CreateBody,
    raw: serde_json::Value,
) -> ApiResult<(Spec, String, Vec<String>)> {
    if body.image.is_empty() {
        return Err(ApiError::bad_request(
            "no image given: Config.Image is empty",
        ));
    }
    if body.host_config.privileged {
        return Err(ApiError::bad_request(
            "privileged containers are not supported: add the capabilities they need instead",
        ));
    }
    let reference = find_image(daemon, &body.image)?;
    let (record, config) = daemon
        .engine
        .images()
        .image(&reference)
        .map_err(image_error)?;
    let network = network_args(&body, config.config.exposed_ports.as_ref())?;
    let also = extra_networks(daemon, &body)?;
    let healthcheck = healthcheck_of(body.healthcheck.take(), config.config.healthcheck.clone());
    let host = body.host_config;
    let mut warnings = Vec::new();
    let (security_opt, ignored): (Vec<String>, Vec<String>) = host
        .security_opt
        .unwrap_or_default()
        .into_iter()
        .map(|opt| seccomp_profile_inline(daemon, opt))
        .collect::<ApiResult<Vec<_>>>()?
        .into_iter()
        .partition(|opt| opt.starts_with("no-new-privileges") || opt.starts_with("seccomp"));
    warnings.extend(
        ignored
            .into_iter()
            .map(|o| format!("ignored security option {o:?}")),
    );

    let mut flags = StorageFlags {
        below: LimitedFlags {
            below: ContainerFlags {
                container: ContainerArgs {
                    name,
                    hostname: Some(body.hostname).filter(|h| !h.is_empty()),
                    cap_add: host.cap_add.unwrap_or_default(),
                    cap_drop: host.cap_drop.unwrap_or_default(),
                    userns: false,
                    pid: (host.pid_mode == "host").then_some(PidMode::Host),
                    network: match host.network_mode.as_str() {
                        "" | "default" => "bridge".to_string(),
                        mode => mode.to_string(),
                    },
                    security_opt,
                    rm: host.auto_remove,
                    read_only: host.readonly_rootfs,
                    init: host.init.unwrap_or(false),
                },
                process: ProcessArgs {
                    flags: ProcessFlags {
                        env: without_bare_names(body.env.unwrap_or_default()),
                        workdir: Some(body.working_dir)
                            .filter(|d| !d.is_empty())
                            .map(Into::into),
                        user: Some(body.user).filter(|u| !u.is_empty()),
                    },
                    stop_timeout: body.stop_timeout.and_then(|t| u64::try_from(t).ok()),
                },
            },
            limits: CgroupArgs {
                memory: (host.memory > 0).then(|| host.memory.to_string()),
                memory_swap: (host.memory_swap != 0).then(|| host.memory_swap.to_string()),
                cpus: (host.nano_cpus > 0).then(|| format!("{}", host.nano_cpus as f64 / 1e9)),
                cpu_shares: u64::try_from(host.cpu_shares).ok().filter(|s| *s > 0),
                cpuset_cpus: Some(host.cpuset_cpus).filter(|c| !c.is_empty()),
                pids_limit: host.pids_limit.filter(|p| *p != 0),
            },
        },
        storage: storage_args(host.binds, host.mounts, host.tmpfs, body.volumes)?,
    };
    let mut request = ch06_network::cli::network_request(
        daemon.engine.network(),
        &network,
        &mut flags.below.below.container,
    )
    .map_err(network_error)?;
    request.also = also;
    request
        .validate()
        .map_err(|e| ApiError::bad_request(ch01_process::exit::report(&e)))?;
    let entrypoint = body.entrypoint.map(StrSlice::into_vec);
    let cmd = body.cmd.map(StrSlice::into_vec).unwrap_or_default();
    let storage = daemon
        .engine
        .images()
        .spec_with_entrypoint(&flags, &reference, entrypoint.as_deref(), &cmd)
        .map_err(image_error)?;
    let base = ch06_network::Spec::new(storage, request);
    let log = host.log_config.unwrap_or_default();
    check_log_driver(&log.kind)?;
    let mut spec = Spec {
        base,
        engine: EngineSection {
            image_id: record.config.to_string(),
            labels: body.labels.unwrap_or_default(),
            tty: body.tty,
            open_stdin: body.open_stdin,
            stdin_once: body.stdin_once,
            restart: host
                .restart_policy
                .map(|r| RestartPolicy {
                    name: r.name,
                    maximum_retry_count: r.maximum_retry_count,
                })
                .unwrap_or_default(),
            log: LogConfig {
                none: log.kind == "none",
                max_size: log
                    .config
                    .get("max-size")
                    .map(|s| ch03_cgroups::parse_size(s))
                    .transpose()
                    .map_err(|e| ApiError::bad_request(format!("--log-opt max-size: {e}")))?,
                max_file: log
                    .config
                    .get("max-file")
                    .map(|n| n.parse())
                    .transpose()
                    .map_err(|_| ApiError::bad_request("--log-opt max-file: not a number"))?,
            },
            healthcheck,
            stop_signal: body.stop_signal,
            auto_remove: false,
            config: raw.clone(),
            host_config: raw.get("HostConfig").cloned().unwrap_or_default(),
        },
    };
    if !matches!(
        spec.engine.restart.name.as_str(),
        "" | "no" | "always" | "unless-stopped" | "on-failure"
    ) {
        return Err(ApiError::bad_request(format!(
            "invalid restart policy {:?}: use no, always, unless-stopped or on-failure[:N]",
            spec.engine.restart.name
        )));
    }
    if !spec.engine.restart.name.is_empty() && spec.engine.restart.name != "no" && spec.auto_remove
    {
        return Err(ApiError::bad_request(
            "conflicting options: cannot specify both --restart and --rm",
        ));
    }
    spec.container_mut().process.terminal = body.tty;
    spec.container_mut().process.additional_gids = group_ids(host.group_add.as_deref())?;
    spec.engine.auto_remove = spec.auto_remove;
    spec.container_mut().auto_remove = false;
    // As with docker, `rm` keeps anonymous volumes unless asked (`rm -v`),
    // and `--rm` takes them (`shims::remove_now`).
    spec.base.storage.storage.keep_anonymous = true;
    Ok((spec, reference.to_string(), warnings))
}

/// The healthcheck of a container: the client's, its empty fields taken
/// from the image's (`--health-interval` alone keeps the image's command),
/// as docker merges them.
fn healthcheck_of(
    asked: Option<HealthConfig>,
    image: Option<HealthConfig>,
) -> Option<HealthConfig> {
    let Some(mut asked) = asked else {
        return image;
    };
    let image = image.unwrap_or_default();
    if asked.test.is_empty() {
        asked.test = image.test;
    }
    for (field, default) in [
        (&mut asked.interval, image.interval),
        (&mut asked.timeout, image.timeout),
        (&mut asked.start_period, image.start_period),
        (&mut asked.start_interval, image.start_interval),
        (&mut asked.retries, image.retries),
    ] {
        if *field == 0 {
            *field = default;
        }
    }
    Some(asked)
}

/// `-p`, `-P`, `--network-alias`, `--ip`, `--mac-address`, `--dns` and
/// `--add-host` as chapter 6's flags.
fn network_args(
    body: &CreateBody,
    image_exposed: Option<&BTreeMap<String, serde_json::Value>>,
) -> ApiResult<NetworkArgs> {
    let host = &body.host_config;
    let mut publish = Vec::new();
    for (port, bindings) in host.port_bindings.iter().flatten() {
        let bindings = bindings.as_deref().unwrap_or_default();
        if bindings.is_empty() {
            publish.push(port.clone());
        }
        for binding in bindings {
            publish.push(format!("{}:{}:{port}", binding.host_ip, binding.host_port));
        }
    }
    if host.publish_all_ports {
        let bound: Vec<&String> = host
            .port_bindings
            .iter()
            .flatten()
            .map(|(p, _)| p)
            .collect();
        let exposed = body.exposed_ports.iter().chain(image_exposed).flatten();
        for (port, _) in exposed {
            if !bound.contains(&port) && !publish.contains(port) {
                publish.push(port.clone());
            }
        }
    }
    // The settings of the network the container joins (docker sends one).
    let endpoint = body
        .networking_config
        .endpoints_config
        .as_ref()
        .and_then(|all| all.get(&host.network_mode).or_else(|| all.values().next()));
    let first = endpoint
        .map(|e| endpoint_request(&host.network_mode, e))
        .transpose()?;
    let mac = endpoint
        .map(|e| e.mac_address.clone())
        .filter(|m| !m.is_empty())
        .or_else(|| Some(body.mac_address.clone()).filter(|m| !m.is_empty()));
    let dns = host
        .dns
        .iter()
        .flatten()
        .map(|server| {
            server
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid DNS server {server:?}")))
        })
        .collect::<ApiResult<_>>()?;
    let (ip, aliases) = first.map_or((None, Vec::new()), |f| (f.ip, f.aliases));
    Ok(NetworkArgs {
        publish,
        ip,
        aliases,
        dns,
        add_hosts: host.extra_hosts.clone().unwrap_or_default(),
        mac_address: mac,
    })
}

// ANCHOR: extra_networks
/// The networks a container joins besides its first: the other entries of
/// `NetworkingConfig.EndpointsConfig` (`docker run --network a --network
/// b` sends both; docker-compose sends one and connects the others before
/// the start). Each must exist, as dockerd checks at create.
fn extra_networks(daemon: &Daemon, body: &CreateBody) -> ApiResult<Vec<ExtraNetwork>> {
    let Some(all) = body.networking_config.endpoints_config.as_ref() else {
        return Ok(Vec::new());
    };
    if all.len() < 2 {
        return Ok(Vec::new());
    }
    let first = match body.host_config.network_mode.as_str() {
        "" | "default" => "bridge",
        mode => mode,
    };
    let mut extra = Vec::new();
    for (name, settings) in all {
        let name = if name == "default" { "bridge" } else { name };
        if name == first {
            continue;
        }
        if name != "bridge" {
            let store = daemon.engine.network().networks();
            store
                .get(name)
                .map_err(super::networks::network_store_error)?;
        }
        extra.push(endpoint_request(name, settings)?);
    }
    Ok(extra)
}
// ANCHOR_END: extra_networks

/// One more network for a container, with the settings of its endpoint
/// (`--alias`, `--ip`), as chapter 6's request.
pub fn endpoint_request(network: &str, settings: &EndpointSettings) -> ApiResult<ExtraNetwork> {
    let ip = settings
        .ipam_config
        .as_ref()
        .map(|ipam| ipam.ipv4_address.as_str())
        .filter(|ip| !ip.is_empty())
        .map(|ip| {
            ip.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid IPv4 address {ip:?}")))
        })
        .transpose()?;
    let mut aliases: Vec<String> = Vec::new();
    for alias in settings.aliases.iter().flatten() {
        if !aliases.contains(alias) {
            aliases.push(alias.clone());
        }
    }
    Ok(ExtraNetwork {
        network: network.to_string(),
        ip,
        aliases,
    })
}

/// The ports a container publishes when it joins a network, made again
/// from the `HostConfig` it was created with: dockerd keeps `PortBindings`
/// in the container's configuration and makes an endpoint's ports from
/// them each time the container is connected.
pub fn published_ports(
    daemon: &Daemon,
    record: &ch02_namespaces::records::Record<Spec>,
) -> ApiResult<Vec<ch06_network::ports::PortRequest>> {
    let body: CreateBody = serde_json::from_value(super::json::without_nulls(
        record.spec.engine.config.clone(),
    ))
    .unwrap_or_default();
    // The image's `EXPOSE`, for `-P`; an image removed since has none.
    let exposed = record
        .image
        .as_deref()
        .and_then(|name| reference::parse(name).ok())
        .and_then(|reference| daemon.engine.images().image(&reference).ok())
        .and_then(|(_, config)| config.config.exposed_ports);
    let args = network_args(&body, exposed.as_ref())?;
    let mut ports = Vec::new();
    for spec in &args.publish {
        ports.extend(
            ch06_network::ports::parse_publish(spec)
                .map_err(|e| ApiError::bad_request(ch01_process::exit::report(&e)))?,
        );
    }
    Ok(ports)
}

/// A network error as docker words it.
pub fn network_error(error: ch06_network::cli::NetworkFlagError) -> ApiError {
    use ch06_network::cli::NetworkFlagError;
    use ch06_network::store::NetworkError;
    match &error {
        NetworkFlagError::Image(_) => ApiError::internal(ch01_process::exit::report(&error)),
        NetworkFlagError::Network(NetworkError::NotFound(name)) => {
            ApiError::not_found(format!("network {name} not found"))
        }
        NetworkFlagError::Container { name, .. } => {
            ApiError::not_found(format!("No such container: {name}"))
        }
        NetworkFlagError::NotRunning(name) => ApiError::conflict(format!(
            "cannot join the network of container {name}: it is not running"
        )),
        _ => ApiError::bad_request(ch01_process::exit::report(&error)),
    }
}

/// `-v`, `--mount`, `--tmpfs` and `Config.Volumes` as chapter 4's flags.
///
/// A path of `Config.Volumes` (the docker CLI's `-v /data`) becomes an
/// anonymous volume (`-v /data` of chapter 4), unless another mount has
/// that target; so does a `--mount type=volume` without a source.
fn storage_args(
    binds: Option<Vec<String>>,
    mounts: Option<Vec<MountSpec>>,
    tmpfs: Option<BTreeMap<String, String>>,
    anonymous: Option<BTreeMap<String, serde_json::Value>>,
) -> ApiResult<StorageArgs> {
    let mut volumes = binds.unwrap_or_default();
    let mut tmpfs: Vec<String> = tmpfs
        .unwrap_or_default()
        .into_iter()
        .map(|(path, options)| {
            if options.is_empty() {
                path
            } else {
                format!("{path}:{options}")
            }
        })
        .collect();
    for mount in mounts.unwrap_or_default() {
        let ro = if mount.read_only { ":ro" } else { "" };
        match mount.kind.as_str() {
            "volume" if mount.source.is_empty() => volumes.push(mount.target),
            "bind" | "volume" => volumes.push(format!("{}:{}{ro}", mount.source, mount.target)),
            "tmpfs" => tmpfs.push(mount.target),
            other => {
                return Err(ApiError::bad_request(format!(
                    "mount type {other:?} is not supported: use bind, volume or tmpfs"
                )));
            }
        }
    }
    let clean = |path: &str| path.trim_end_matches('/').to_string();
    let targets: Vec<String> = volumes
        .iter()
        .map(|v| clean(v.split(':').nth(1).unwrap_or(v)))
        .chain(
            tmpfs
                .iter()
                .map(|t| clean(t.split(':').next().unwrap_or(t))),
        )
        .collect();
    for path in anonymous.unwrap_or_default().into_keys() {
        if !targets.contains(&clean(&path)) {
            volumes.push(path);
        }
    }
    Ok(StorageArgs { volumes, tmpfs })
}

/// The docker CLI sends a seccomp profile's JSON itself, not its path:
/// such a profile is kept in `<root>/seccomp/`, named by its digest.
fn seccomp_profile_inline(daemon: &Daemon, opt: String) -> ApiResult<String> {
    let Some(json) = opt
        .strip_prefix("seccomp=")
        .or_else(|| opt.strip_prefix("seccomp:"))
        .filter(|v| v.trim_start().starts_with('{'))
    else {
        return Ok(opt);
    };
    let digest = ch05_images::digest::sha256_of(json.as_bytes());
    let dir = daemon.root.join("seccomp");
    ch02_namespaces::records::private_dir(&dir).map_err(|e| ApiError::internal(e.to_string()))?;
    let path = dir.join(format!("{}.json", digest.hex()));
    std::fs::write(&path, json).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(format!("seccomp={}", path.display()))
}

/// An image error as docker words it.
pub fn image_error(error: ch05_images::engine::ImageError) -> ApiError {
    use ch05_images::engine::ImageError;
    match &error {
        ImageError::NotHere(name) => ApiError::not_found(format!("No such image: {name}")),
        ImageError::Reference(_) | ImageError::NoCommand(_) | ImageError::Flags(_) => {
            ApiError::bad_request(ch01_process::exit::report(&error))
        }
        _ => ApiError::internal(ch01_process::exit::report(&error)),
    }
}
