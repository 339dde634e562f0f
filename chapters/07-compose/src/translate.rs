//! From a service to a run spec: each key of the file becomes the flag of
//! the chapter that implements it.
//!
//! A service is a `run` command written down. Rather than build the spec
//! by hand, this module fills in the same flag structures the chapter
//! binaries fill from their command lines (`ContainerArgs` for chapter 2,
//! `CgroupArgs` for chapter 3, `NetworkArgs` for chapter 6...), so that
//! every check and every default is the chapters' own: `mem_limit: 4m` is
//! refused with the very message `run --memory 4m` gets.
//!
//! | key | becomes | chapter |
//! |---|---|---|
//! | `command`, `entrypoint`, `environment`, `working_dir`, `user` | the process | 1 |
//! | `hostname`, `cap_add`, `cap_drop`, `security_opt` | `ContainerArgs` | 2 |
//! | `mem_limit`, `cpus`, `pids_limit`, `deploy.resources.limits` | `CgroupArgs` | 3 |
//! | `volumes`, `tmpfs` | chapter 4's mounts | 4 |
//! | `image`, `healthcheck` (over the image's) | the image's layers and config | 5 |
//! | `networks`, `ports`, `dns`, `extra_hosts` | `NetworkRequest` | 6 |
//! | labels, `stop_signal`, `stop_grace_period`, `restart` | the compose section | 7 |
//!
//! What no chapter implements is refused here, naming the service and the
//! key, rather than ignored.

use crate::engine::ComposeEngine;
use crate::model::{MountType, Service, ServiceVolume};
use crate::plan::PlannedContainer;
use crate::resolve::Project;
use crate::spec::{ServiceSection, Spec};
use ch01_process::cli::{ProcessArgs, ProcessFlags};
use ch02_namespaces::cli::{ContainerArgs, ContainerFlags};
use ch03_cgroups::cli::{CgroupArgs, LimitedFlags};
use ch04_overlayfs::cli::{StorageArgs, StorageFlags};
use ch04_overlayfs::volumes::{Mount, VolumeSource, parse_tmpfs};
use ch05_images::engine::ImageError;
use ch05_images::image::HealthConfig;
use ch05_images::reference::{self, Reference, ReferenceError};
use ch06_network::cli::{NetworkArgs, NetworkFlagError};
use ch06_network::ports::{PortRequest, Protocol};
use ch06_network::request::{ExtraNetwork, NetworkMode, RequestError};
use std::path::PathBuf;

/// Why a service cannot become a container's spec.
#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    /// A key whose meaning no chapter implements.
    #[error("service {service:?}: {message}")]
    Unsupported {
        /// The service.
        service: String,
        /// Which key, and what to do instead.
        message: String,
    },
    /// The image's name.
    #[error("service {service:?}: {source}")]
    Reference {
        /// The service.
        service: String,
        /// Why the name is not a reference.
        source: Box<ReferenceError>,
    },
    /// A chapter refused the flags the service became.
    #[error("service {service:?}: {source}")]
    Image {
        /// The service.
        service: String,
        /// What chapter 5 (and those below) said.
        source: Box<ImageError>,
    },
    /// Chapter 6 refused the network part.
    #[error("service {service:?}: {source}")]
    Network {
        /// The service.
        service: String,
        /// What chapter 6 said.
        source: Box<NetworkFlagError>,
    },
}

fn unsupported(service: &str, message: impl Into<String>) -> TranslateError {
    TranslateError::Unsupported {
        service: service.to_string(),
        message: message.into(),
    }
}

/// Docker's healthcheck defaults: a check every 30 s, 30 s to answer,
/// unhealthy after 3 failures in a row, every 5 s during the start period.
pub const HEALTH_INTERVAL_NS: i64 = 30_000_000_000;
/// See [`HEALTH_INTERVAL_NS`].
pub const HEALTH_TIMEOUT_NS: i64 = 30_000_000_000;
/// See [`HEALTH_INTERVAL_NS`].
pub const HEALTH_RETRIES: i64 = 3;
/// See [`HEALTH_INTERVAL_NS`].
pub const HEALTH_START_INTERVAL_NS: i64 = 5_000_000_000;

// ANCHOR: container_spec
/// The spec of one container of a service.
pub fn container_spec(
    engine: &ComposeEngine,
    project: &Project,
    planned: &PlannedContainer,
) -> Result<Spec, TranslateError> {
    let name = planned.service.as_str();
    let service = &project.services[name];
    let reference =
        reference::parse(&planned.image).map_err(|source| TranslateError::Reference {
            service: name.to_string(),
            source: Box::new(source),
        })?;
    let image_error = |source| TranslateError::Image {
        service: name.to_string(),
        source: Box::new(source),
    };
    let network_error = |source| TranslateError::Network {
        service: name.to_string(),
        source: Box::new(source),
    };

    // Chapters 1 to 4: the process, the container, its limits, its mounts.
    let flags = StorageFlags {
        below: LimitedFlags {
            below: ContainerFlags {
                container: container_args(name, planned, service)?,
                process: process_args(service),
            },
            limits: cgroup_args(service),
        },
        storage: StorageArgs {
            volumes: Vec::new(),
            tmpfs: service.tmpfs.clone(),
        },
    };
    let mounts = mounts(project, name, service)?;
    // Chapter 5: the image's layers, its command under ours.
    let command = service.command.clone().unwrap_or_default();
    let mut storage = engine
        .images()
        .spec_with_entrypoint(&flags, &reference, service.entrypoint.as_deref(), &command)
        .map_err(image_error)?;
    storage.storage.mounts.extend(mounts);
    // Chapter 6: the network, its aliases, the ports.
    let request = network_request(engine, project, name, service).map_err(network_error)?;
    let network = ch06_network::Spec::new(storage, request);
    // Chapter 7: what compose keeps for itself.
    let (_, config) = engine.images().image(&reference).map_err(image_error)?;
    let compose = ServiceSection {
        labels: planned.labels.clone(),
        stop_signal: service
            .stop_signal
            .clone()
            .or(config.config.stop_signal.clone()),
        stop_grace_period_ms: service
            .stop_grace_period
            .map(|d| d.std().as_millis() as u64),
        restart: service.restart.map(|r| r.to_string()),
        healthcheck: healthcheck(service, config.config.healthcheck.as_ref()),
    };
    Ok(Spec { network, compose })
}
// ANCHOR_END: container_spec

/// Refuses what no chapter implements in service `name`: `up` asks this
/// of every service before it makes anything.
pub fn check_service(project: &Project, name: &str) -> Result<(), TranslateError> {
    let service = &project.services[name];
    for volume in &service.volumes {
        check_volume(name, volume)?;
    }
    Ok(())
}

/// Chapter 2's flags.
fn container_args(
    name: &str,
    planned: &PlannedContainer,
    service: &Service,
) -> Result<ContainerArgs, TranslateError> {
    for opt in &service.security_opt {
        let known = opt.starts_with("no-new-privileges")
            || opt.starts_with("seccomp=")
            || opt.starts_with("seccomp:");
        if !known {
            return Err(unsupported(
                name,
                format!(
                    "security_opt {opt:?} is not supported: use no-new-privileges or seccomp=unconfined|PROFILE.json"
                ),
            ));
        }
    }
    Ok(ContainerArgs {
        name: Some(planned.name.clone()),
        hostname: service.hostname.clone(),
        cap_add: service.cap_add.clone(),
        cap_drop: service.cap_drop.clone(),
        userns: false,
        pid: None,
        // A network namespace of its own; chapter 6 plugs it in.
        network: "none".into(),
        security_opt: service
            .security_opt
            .iter()
            .map(|o| o.replacen("seccomp:", "seccomp=", 1))
            .collect(),
        rm: false,
        read_only: service.read_only == Some(true),
        init: service.init == Some(true),
    })
}

/// Chapter 1's flags: `-e` for each variable that has a value (one
/// without stays unset, as in docker compose), `-w`, `-u`.
fn process_args(service: &Service) -> ProcessArgs {
    ProcessArgs {
        flags: ProcessFlags {
            env: service
                .environment
                .iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
                .collect(),
            workdir: service.working_dir.as_ref().map(PathBuf::from),
            user: service.user.clone(),
        },
        stop_timeout: service
            .stop_grace_period
            .map(|d| d.std().as_secs_f64().ceil() as u64),
    }
}

/// Chapter 3's flags: the top-level keys, or `deploy.resources.limits`
/// (validation made sure the two agree).
fn cgroup_args(service: &Service) -> CgroupArgs {
    let limits = service
        .deploy
        .as_ref()
        .and_then(|d| d.resources.as_ref())
        .and_then(|r| r.limits.as_ref());
    let memory = service.mem_limit.or(limits.and_then(|l| l.memory));
    let cpus = service.cpus.or(limits.and_then(|l| l.cpus));
    CgroupArgs {
        memory: memory.map(|b| b.0.to_string()),
        cpus: cpus.map(|c| c.0.to_string()),
        pids_limit: service.pids_limit.or(limits.and_then(|l| l.pids)),
        ..CgroupArgs::default()
    }
}

// ANCHOR: mounts
/// Chapter 4's mounts: a named volume by its engine name
/// (`PROJECT_KEY`), a bind by its absolute path (made, when missing, as
/// docker compose makes it for the short syntax), a tmpfs with its size.
fn mounts(project: &Project, name: &str, service: &Service) -> Result<Vec<Mount>, TranslateError> {
    service
        .volumes
        .iter()
        .map(|volume| mount(project, name, volume))
        .collect()
}

/// What chapter 4 cannot mount.
fn check_volume(name: &str, volume: &ServiceVolume) -> Result<(), TranslateError> {
    if volume.volume.as_ref().is_some_and(|v| v.subpath.is_some()) {
        return Err(unsupported(
            name,
            format!(
                "volume.subpath on {} is not supported: mount the whole volume",
                volume.target
            ),
        ));
    }
    if let Some(propagation) = volume.bind.as_ref().and_then(|b| b.propagation.as_deref())
        && !matches!(propagation, "private" | "rprivate")
    {
        return Err(unsupported(
            name,
            format!(
                "bind propagation {propagation:?} on {} is not supported: a container's mounts are private (chapter 2)",
                volume.target
            ),
        ));
    }
    match (volume.kind, &volume.source) {
        (MountType::Bind, None) => Err(unsupported(
            name,
            format!("the bind mount on {} has no source", volume.target),
        )),
        _ => Ok(()),
    }
}

fn mount(project: &Project, name: &str, volume: &ServiceVolume) -> Result<Mount, TranslateError> {
    check_volume(name, volume)?;
    let target = PathBuf::from(&volume.target);
    let source = match (volume.kind, &volume.source) {
        (MountType::Volume, Some(key)) => VolumeSource::Named(project.volume_name(key)),
        (MountType::Bind, Some(path)) => {
            let path = PathBuf::from(path);
            let create = volume.bind.as_ref().is_some_and(|b| b.create_host_path);
            if create && !path.exists() {
                std::fs::create_dir_all(&path).map_err(|e| {
                    unsupported(
                        name,
                        format!("cannot create the bind source {}: {e}", path.display()),
                    )
                })?;
            }
            VolumeSource::Bind(path)
        }
        // A volume without a source (`- /data`): an anonymous one.
        (MountType::Volume, None) => {
            return Mount::anonymous(&volume.target)
                .map_err(|e| unsupported(name, format!("the volume on {}: {e}", volume.target)));
        }
        (MountType::Bind, None) => {
            // check_volume refused it already.
            return Err(unsupported(
                name,
                format!("the mount on {} has no source", volume.target),
            ));
        }
        (MountType::Tmpfs, _) => {
            let size = volume
                .tmpfs
                .as_ref()
                .and_then(|t| t.size)
                .map(|s| format!(":size={}", s.0))
                .unwrap_or_default();
            let mut tmpfs = parse_tmpfs(&format!("{}{size}", volume.target))
                .map_err(|e| unsupported(name, format!("tmpfs {}: {e}", volume.target)))?;
            tmpfs.read_only = volume.read_only;
            return Ok(tmpfs);
        }
    };
    Ok(Mount {
        source,
        target,
        read_only: volume.read_only,
        options: None,
    })
}
// ANCHOR_END: mounts

// ANCHOR: network_request
/// Chapter 6's request: the project's networks (the first by name is the
/// container's first network, the others are `also`), on each under the
/// service's name and aliases (so that `web` finds every replica of
/// `web`), the ports.
fn network_request(
    engine: &ComposeEngine,
    project: &Project,
    name: &str,
    service: &Service,
) -> Result<ch06_network::NetworkRequest, NetworkFlagError> {
    let mut joined = Vec::new();
    for (key, settings) in &service.networks {
        let network = project.network_name(key);
        // Refused before anything is made, as chapter 6's run refuses it.
        engine.network().networks().get(&network)?;
        let settings = settings.clone().unwrap_or_default();
        let mut aliases = vec![name.to_string()];
        aliases.extend(settings.aliases.iter().cloned());
        joined.push(ExtraNetwork {
            network,
            ip: settings.ipv4_address,
            aliases,
        });
    }
    let mut joined = joined.into_iter();
    let first = joined
        .next()
        .expect("resolve gives every service a network");
    let args = NetworkArgs {
        publish: Vec::new(),
        ip: first.ip,
        aliases: first.aliases,
        dns: service
            .dns
            .iter()
            .map(|d| {
                d.parse().map_err(|_| {
                    NetworkFlagError::Request(RequestError(format!(
                        "dns {d:?} is not an IP address"
                    )))
                })
            })
            .collect::<Result<_, _>>()?,
        add_hosts: service
            .extra_hosts
            .iter()
            .map(|(host, address)| format!("{host}:{address}"))
            .collect(),
        mac_address: None,
    };
    let mut request = args.to_request(NetworkMode::Network(first.network))?;
    request.also = joined.collect();
    for port in &service.ports {
        request.publish.push(port_request(port)?);
    }
    request.validate()?;
    Ok(request)
}
// ANCHOR_END: network_request

/// A port of the file as chapter 6's request.
fn port_request(port: &crate::model::Port) -> Result<PortRequest, NetworkFlagError> {
    let bad = |why: String| {
        NetworkFlagError::Publish(ch06_network::ports::PortError::Syntax {
            text: port.merge_key(),
            why,
        })
    };
    let host_port = match port.published.as_deref() {
        None => None,
        Some(text) => match text.parse::<u16>() {
            Ok(p) => Some(p),
            Err(_) => {
                return Err(bad(format!(
                    "the host port range {text} for one container port is not supported: name one host port"
                )));
            }
        },
    };
    let host_ip = match port.host_ip.as_deref() {
        None => std::net::Ipv4Addr::UNSPECIFIED,
        Some(ip) => ip
            .parse()
            .map_err(|_| bad(format!("{ip} is not an IPv4 address")))?,
    };
    Ok(PortRequest {
        host_ip,
        host_port,
        container_port: port.target,
        protocol: if port.protocol == "udp" {
            Protocol::Udp
        } else {
            Protocol::Tcp
        },
    })
}

// ANCHOR: healthcheck
/// The healthcheck a container gets: the image's `HEALTHCHECK`, each field
/// the service sets replacing the image's; none when either disables it.
/// Durations left at zero mean docker's defaults.
pub fn healthcheck(service: &Service, image: Option<&HealthConfig>) -> Option<HealthConfig> {
    let mut config = image.cloned().unwrap_or_default();
    if let Some(own) = &service.healthcheck {
        if own.disabled() {
            return None;
        }
        if let Some(test) = &own.test {
            config.test = test.clone();
        }
        let ns = |d: Option<crate::model::Duration>, old: i64| d.map_or(old, |d| d.0);
        config.interval = ns(own.interval, config.interval);
        config.timeout = ns(own.timeout, config.timeout);
        config.start_period = ns(own.start_period, config.start_period);
        config.start_interval = ns(own.start_interval, config.start_interval);
        config.retries = own.retries.map_or(config.retries, |r| r as i64);
    }
    match config.test.first().map(String::as_str) {
        Some("CMD") | Some("CMD-SHELL") => Some(config),
        _ => None,
    }
}
// ANCHOR_END: healthcheck

/// The command a healthcheck runs: `CMD` as given, `CMD-SHELL` by
/// `/bin/sh -c`.
pub fn health_command(config: &HealthConfig) -> Vec<String> {
    match config.test.split_first() {
        Some((kind, rest)) if kind == "CMD-SHELL" => {
            vec!["/bin/sh".into(), "-c".into(), rest.join(" ")]
        }
        Some((_, rest)) => rest.to_vec(),
        None => Vec::new(),
    }
}

/// The reference a service's image is named by.
pub fn reference_of(project: &Project, service: &str) -> Result<Reference, TranslateError> {
    reference::parse(&project.image_of(service)).map_err(|source| TranslateError::Reference {
        service: service.to_string(),
        source: Box::new(source),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Healthcheck;

    fn image_check() -> HealthConfig {
        HealthConfig {
            test: vec!["CMD".into(), "probe".into()],
            interval: 1_000_000_000,
            retries: 7,
            ..HealthConfig::default()
        }
    }

    #[test]
    fn the_service_healthcheck_overrides_the_image_field_by_field() {
        let service = Service {
            healthcheck: Some(Healthcheck {
                interval: Some(crate::model::Duration(2_000_000_000)),
                ..Healthcheck::default()
            }),
            ..Service::default()
        };
        let merged = healthcheck(&service, Some(&image_check())).unwrap();
        assert_eq!(merged.test, ["CMD", "probe"]);
        assert_eq!((merged.interval, merged.retries), (2_000_000_000, 7));
        assert_eq!(healthcheck(&Service::default(), None), None);
        let disabled = Service {
            healthcheck: Some(Healthcheck {
                disable: true,
                ..Healthcheck::default()
            }),
            ..Service::default()
        };
        assert_eq!(healthcheck(&disabled, Some(&image_check())), None);
    }

    #[test]
    fn shell_tests_run_in_sh() {
        let config = HealthConfig {
            test: vec!["CMD-SHELL".into(), "wget -q http://x/".into()],
            ..HealthConfig::default()
        };
        assert_eq!(
            health_command(&config),
            ["/bin/sh", "-c", "wget -q http://x/"]
        );
        assert_eq!(health_command(&image_check()), ["probe"]);
    }
}
