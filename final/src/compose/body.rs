//! A service of the compose file as the body of `POST /containers/create`:
//! what `docker-compose up` sends for it, so that the daemon makes the
//! container exactly as it makes one for `docker run`.
//!
//! What no chapter implements (an anonymous volume) is refused by chapter
//! 7's own check before anything is made: the engine and the chapter
//! accept the same files.

use anyhow::Result;
use ch07_compose::model::{MountType, ServiceVolume};
use ch07_compose::{PlannedContainer, Project, Service};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

// ANCHOR: create_body
/// The create body of `planned`, a container of `project`.
pub fn create_body(project: &Project, planned: &PlannedContainer) -> Result<Value> {
    let name = planned.service.as_str();
    let service = &project.services[name];
    ch07_compose::translate::check_service(project, name)?;
    // Every network of the service, each with the service's name among its
    // aliases (`web` finds every replica of `db` by the service's name); the
    // first by name is the container's first network, as in chapter 7.
    let mut endpoints = Map::new();
    for (key, settings) in &service.networks {
        let settings = settings.clone().unwrap_or_default();
        let mut aliases = vec![name.to_string()];
        aliases.extend(settings.aliases.iter().cloned());
        let mut endpoint = json!({"Aliases": aliases});
        if let Some(ip) = &settings.ipv4_address {
            endpoint["IPAMConfig"] = json!({"IPv4Address": ip});
        }
        endpoints.insert(project.network_name(key), endpoint);
    }
    let network = endpoints
        .keys()
        .next()
        .cloned()
        .expect("resolve gives every service a network");
    let (exposed, bindings) = ports(service);
    Ok(json!({
        "Image": planned.image,
        "Hostname": service.hostname.clone().unwrap_or_default(),
        "User": service.user.clone().unwrap_or_default(),
        "WorkingDir": service.working_dir.clone().unwrap_or_default(),
        "Env": service
            .environment
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect::<Vec<_>>(),
        "Cmd": service.command,
        "Entrypoint": service.entrypoint,
        "Labels": planned.labels,
        "StopSignal": service.stop_signal,
        "StopTimeout": service
            .stop_grace_period
            .map(|d| d.std().as_secs_f64().ceil() as i64),
        "Healthcheck": healthcheck(service),
        "ExposedPorts": exposed,
        "NetworkingConfig": {"EndpointsConfig": endpoints},
        "HostConfig": {
            "NetworkMode": network,
            "PortBindings": bindings,
            "Mounts": service
                .volumes
                .iter()
                .map(|v| mount(project, v))
                .collect::<Vec<_>>(),
            "Tmpfs": service
                .tmpfs
                .iter()
                .map(|t| match t.split_once(':') {
                    Some((path, options)) => (path.to_string(), options.to_string()),
                    None => (t.clone(), String::new()),
                })
                .collect::<BTreeMap<_, _>>(),
            "Dns": service.dns,
            "ExtraHosts": service
                .extra_hosts
                .iter()
                .map(|(host, address)| format!("{host}:{address}"))
                .collect::<Vec<_>>(),
            "Memory": limits_memory(service),
            "NanoCpus": limits_cpus(service).map_or(0, |c| (c * 1e9) as i64),
            "PidsLimit": limits_pids(service),
            "CapAdd": service.cap_add,
            "CapDrop": service.cap_drop,
            "SecurityOpt": service.security_opt,
            "RestartPolicy": restart_policy(service),
            "ReadonlyRootfs": service.read_only == Some(true),
            "Init": service.init,
        },
    }))
}
// ANCHOR_END: create_body

/// `ports:` as `ExposedPorts` and `PortBindings`; `expose:` adds ports
/// that are exposed and not published.
fn ports(service: &Service) -> (Value, Value) {
    let mut exposed = Map::new();
    let mut bindings: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for port in &service.ports {
        let key = format!("{}/{}", port.target, port.protocol);
        exposed.insert(key.clone(), json!({}));
        bindings.entry(key).or_default().push(json!({
            "HostIp": port.host_ip.clone().unwrap_or_default(),
            "HostPort": port.published.clone().unwrap_or_default(),
        }));
    }
    for port in &service.expose {
        let key = if port.contains('/') {
            port.clone()
        } else {
            format!("{port}/tcp")
        };
        exposed.entry(key).or_insert_with(|| json!({}));
    }
    (Value::Object(exposed), json!(bindings))
}

/// One entry of `volumes:` as a `Mounts` entry; a named volume by its
/// engine name (`PROJECT_KEY`).
fn mount(project: &Project, volume: &ServiceVolume) -> Value {
    let source = match volume.kind {
        MountType::Volume => volume
            .source
            .as_deref()
            .map(|key| project.volume_name(key))
            .unwrap_or_default(),
        _ => volume.source.clone().unwrap_or_default(),
    };
    let kind = match volume.kind {
        MountType::Volume => "volume",
        MountType::Bind => "bind",
        MountType::Tmpfs => "tmpfs",
    };
    let mut mount = json!({
        "Type": kind,
        "Source": source,
        "Target": volume.target,
        "ReadOnly": volume.read_only,
    });
    if let Some(size) = volume.tmpfs.as_ref().and_then(|t| t.size) {
        mount["TmpfsOptions"] = json!({"SizeBytes": size.0});
    }
    mount
}

/// The service's healthcheck as the API's `Healthcheck`: what the file
/// sets (zero fields are the image's, merged by the daemon), `NONE` when
/// the file disables it, absent (the image's) when the file says nothing.
fn healthcheck(service: &Service) -> Value {
    let Some(check) = &service.healthcheck else {
        return Value::Null;
    };
    if check.disabled() {
        return json!({"Test": ["NONE"]});
    }
    let ns = |d: Option<ch07_compose::model::Duration>| d.map_or(0, |d| d.0);
    json!({
        "Test": check.test.clone().unwrap_or_default(),
        "Interval": ns(check.interval),
        "Timeout": ns(check.timeout),
        "StartPeriod": ns(check.start_period),
        "StartInterval": ns(check.start_interval),
        "Retries": check.retries.unwrap_or(0),
    })
}

/// `restart:` as `{"Name": "on-failure", "MaximumRetryCount": 3}`.
fn restart_policy(service: &Service) -> Value {
    let text = service.restart.map(|r| r.to_string()).unwrap_or_default();
    let (name, count) = text.split_once(':').unwrap_or((text.as_str(), "0"));
    json!({"Name": name, "MaximumRetryCount": count.parse::<i64>().unwrap_or(0)})
}

/// The limits of a service: the top-level keys, or
/// `deploy.resources.limits` (chapter 7's validation made sure the two
/// agree).
fn limits(service: &Service) -> Option<&ch07_compose::model::resources::Limits> {
    service
        .deploy
        .as_ref()
        .and_then(|d| d.resources.as_ref())
        .and_then(|r| r.limits.as_ref())
}

fn limits_memory(service: &Service) -> u64 {
    service
        .mem_limit
        .or(limits(service).and_then(|l| l.memory))
        .map_or(0, |b| b.0)
}

fn limits_cpus(service: &Service) -> Option<f64> {
    service
        .cpus
        .or(limits(service).and_then(|l| l.cpus))
        .map(|c| c.0)
}

fn limits_pids(service: &Service) -> Option<i64> {
    service.pids_limit.or(limits(service).and_then(|l| l.pids))
}
