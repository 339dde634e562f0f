//! The project's networks and volumes: made by `up` before any container
//! (a container joins a network and mounts a volume that must exist),
//! removed by `down` after every container (nothing may still use them).
//!
//! A network is chapter 6's user network, `PROJECT_KEY` on the engine,
//! labelled with the project so that `down` recognises it; a volume is
//! chapter 4's named volume. External ones belong to someone else: they
//! must exist, and are never made nor removed.

use crate::engine::ComposeEngine;
use crate::model::NetworkDef;
use crate::plan::{LABEL_PROJECT, Plan, Resource};
use crate::resolve::Project;
use crate::runner::console::Console;
use ch06_network::store::{NetworkError, NetworkSpec};
use ch06_network::subnet::{Subnet, SubnetError};
use std::collections::BTreeSet;

/// Why a network or volume could not be made or removed.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    #[error(
        "network {0} is declared as external, but could not be found: create it first (ch06-network network create {0})"
    )]
    ExternalNetwork(String),
    #[error(
        "volume {0} is declared as external, but could not be found: create it first (ch06-network volume create {0})"
    )]
    ExternalVolume(String),
    #[error(
        "a network named {name} exists and is not project {project}'s: remove it, or give the network another name (networks.KEY.name)"
    )]
    NotOurs { name: String, project: String },
    #[error("network {network}: {message}")]
    Unsupported { network: String, message: String },
    #[error("network {network}: {source}")]
    Subnet {
        network: String,
        source: SubnetError,
    },
    #[error("{0}")]
    Network(#[from] NetworkError),
    #[error("{0}")]
    Volume(#[from] ch04_overlayfs::volumes::VolumeError),
    #[error("{0}")]
    Run(#[from] ch02_namespaces::RunError),
}

/// The networks and volumes the services in `services` use.
pub fn used(project: &Project, services: &[String]) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut networks = BTreeSet::new();
    let mut volumes = BTreeSet::new();
    for name in services {
        let service = &project.services[name];
        networks.extend(service.networks.keys().cloned());
        for volume in &service.volumes {
            if volume.kind == crate::model::MountType::Volume
                && let Some(source) = &volume.source
            {
                volumes.insert(source.clone());
            }
        }
    }
    (networks, volumes)
}

// ANCHOR: create
/// Makes the networks and volumes that `services` use, unless they exist.
pub fn create(
    engine: &ComposeEngine,
    project: &Project,
    plan: &Plan,
    services: &[String],
    console: &Console,
) -> Result<(), ResourceError> {
    let (networks, volumes) = used(project, services);
    let store = engine.network().networks();
    for resource in plan.networks.iter().filter(|n| networks.contains(&n.key)) {
        let existing = store
            .find(&resource.name)?
            .filter(|n| n.name == resource.name);
        match existing {
            Some(network) if resource.external => drop(network),
            None if resource.external => {
                return Err(ResourceError::ExternalNetwork(resource.name.clone()));
            }
            Some(network) => {
                if network.labels.get(LABEL_PROJECT) != Some(&plan.project) {
                    return Err(ResourceError::NotOurs {
                        name: resource.name.clone(),
                        project: plan.project.clone(),
                    });
                }
            }
            None => {
                console.progress("Network", &resource.name, "Creating");
                store.create(&network_spec(resource, &project.networks[&resource.key])?)?;
                console.progress("Network", &resource.name, "Created");
            }
        }
    }
    let store = engine.images().overlay().volumes();
    for resource in plan.volumes.iter().filter(|v| volumes.contains(&v.key)) {
        match (store.path(&resource.name), resource.external) {
            (Some(_), _) => {}
            (None, true) => return Err(ResourceError::ExternalVolume(resource.name.clone())),
            (None, false) => {
                let shown = format!("{:?}", resource.name);
                console.progress("Volume", &shown, "Creating");
                store.create(&resource.name)?;
                console.progress("Volume", &shown, "Created");
            }
        }
    }
    Ok(())
}
// ANCHOR_END: create

/// What `network create` is asked for a network of the file.
pub fn network_spec(resource: &Resource, def: &NetworkDef) -> Result<NetworkSpec, ResourceError> {
    let unsupported = |message: &str| ResourceError::Unsupported {
        network: resource.name.clone(),
        message: message.to_string(),
    };
    let mtu_option = ch06_network::inspect::MTU_OPTION;
    if let Some(other) = def.driver_opts.keys().find(|k| *k != mtu_option) {
        return Err(unsupported(&format!(
            "driver_opts {other} is not supported: chapter 6 makes plain bridges, whose MTU ({mtu_option}) alone can be chosen"
        )));
    }
    let mtu = def
        .driver_opts
        .get(mtu_option)
        .map(|mtu| {
            mtu.parse::<u32>().map_err(|_| {
                unsupported(&format!("{mtu_option}: {mtu:?} is not a number of bytes"))
            })
        })
        .transpose()?;
    let pools = def
        .ipam
        .as_ref()
        .map(|i| i.config.as_slice())
        .unwrap_or(&[]);
    if pools.len() > 1 {
        return Err(unsupported(
            "several ipam.config entries: a chapter 6 network has one subnet",
        ));
    }
    let pool = pools.first();
    if pool.is_some_and(|p| p.ip_range.is_some()) {
        return Err(unsupported(
            "ipam ip_range is not supported: addresses come from the whole subnet",
        ));
    }
    let subnet = pool
        .and_then(|p| p.subnet.as_deref())
        .map(str::parse::<Subnet>)
        .transpose()
        .map_err(|source| ResourceError::Subnet {
            network: resource.name.clone(),
            source,
        })?;
    let mut labels = def.labels.clone();
    labels.extend(resource.labels.clone());
    Ok(NetworkSpec {
        name: resource.name.clone(),
        subnet,
        gateway: pool.and_then(|p| p.gateway),
        internal: def.internal,
        labels,
        mtu,
    })
}

// ANCHOR: remove
/// Removes the project's networks, and with `volumes` its volumes (not
/// the external ones, and only what exists). A network something still
/// uses (a container of another project) is left, with a word.
pub fn remove(
    engine: &ComposeEngine,
    plan: &Plan,
    volumes: bool,
    console: &Console,
) -> Result<(), ResourceError> {
    let store = engine.network().networks();
    for resource in plan.networks.iter().filter(|n| !n.external) {
        let Some(network) = store
            .find(&resource.name)?
            .filter(|n| n.name == resource.name)
        else {
            continue;
        };
        if network.labels.get(LABEL_PROJECT) != Some(&plan.project) {
            continue;
        }
        console.progress("Network", &resource.name, "Removing");
        match store.remove(&resource.name) {
            Ok(_) => console.progress("Network", &resource.name, "Removed"),
            Err(NetworkError::InUse { .. }) => {
                console.progress("Network", &resource.name, "Resource is still in use");
            }
            Err(e) => return Err(e.into()),
        }
    }
    if volumes {
        let overlay = engine.images().overlay();
        let in_use = overlay.volumes_in_use()?;
        for resource in plan.volumes.iter().filter(|v| !v.external) {
            if overlay.volumes().path(&resource.name).is_none() {
                continue;
            }
            let shown = format!("{:?}", resource.name);
            console.progress("Volume", &shown, "Removing");
            overlay.volumes().remove(&resource.name, &in_use)?;
            console.progress("Volume", &shown, "Removed");
        }
    }
    Ok(())
}
// ANCHOR_END: remove
