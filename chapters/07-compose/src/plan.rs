//! What a runner needs from a project: what to create, in which order,
//! under which names, with which labels.
//!
//! - **Order.** `depends_on` is a graph; services start in a topological
//!   order of it (dependencies first) and stop in the reverse order.
//! - **Containers.** A service runs `scale` (or `deploy.replicas`, or
//!   `--scale SERVICE=N`) containers named `PROJECT-SERVICE-N`, N from 1.
//! - **Resources.** Networks and volumes are `PROJECT_KEY` on the engine;
//!   external ones keep their own names and are never created or removed.
//! - **Labels.** Every container carries `com.docker.compose.*` labels:
//!   the engine keeps no other record of which containers make up which
//!   application, so `ps`, `down`, a later `up` (and docker compose
//!   itself) find them by label.
//! - **Config hash.** A digest of the service's resolved configuration,
//!   stored in a label: a later `up` recreates a container only when the
//!   hash of what the file now says differs from the one it was made with.

use crate::error::Invalid;
use crate::model::Service;
use crate::resolve::Project;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// The project a container belongs to.
pub const LABEL_PROJECT: &str = "com.docker.compose.project";
/// Its service.
pub const LABEL_SERVICE: &str = "com.docker.compose.service";
/// Its number within the service (1, 2, ...).
pub const LABEL_CONTAINER_NUMBER: &str = "com.docker.compose.container-number";
/// `True` for `compose run` containers, `False` for the service's own.
pub const LABEL_ONEOFF: &str = "com.docker.compose.oneoff";
/// The service's [`config_hash`].
pub const LABEL_CONFIG_HASH: &str = "com.docker.compose.config-hash";
/// The project directory.
pub const LABEL_WORKING_DIR: &str = "com.docker.compose.project.working_dir";
/// The compose files, comma-separated.
pub const LABEL_CONFIG_FILES: &str = "com.docker.compose.project.config_files";
/// The version of the tool that made the container.
pub const LABEL_VERSION: &str = "com.docker.compose.version";
/// The service's dependencies: `db:service_healthy:false,...`.
pub const LABEL_DEPENDS_ON: &str = "com.docker.compose.depends_on";
/// Networks and volumes: the name the file gives them.
pub const LABEL_NETWORK: &str = "com.docker.compose.network";
/// See [`LABEL_NETWORK`].
pub const LABEL_VOLUME: &str = "com.docker.compose.volume";

/// A network or volume to create (unless external).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// The name in the file (`default`, `data`).
    pub key: String,
    /// The name on the engine (`shop_default`).
    pub name: String,
    /// Created outside the project: check it exists, never create or remove it.
    pub external: bool,
    /// The labels to create it with (project and key).
    pub labels: BTreeMap<String, String>,
}

/// One container to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedContainer {
    /// `PROJECT-SERVICE-N`, or the service's `container_name`.
    pub name: String,
    /// The service it runs.
    pub service: String,
    /// N, from 1.
    pub number: u32,
    /// The image to run.
    pub image: String,
    /// The service's labels and compose's.
    pub labels: BTreeMap<String, String>,
}

/// Everything a runner creates for a project, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The project's name.
    pub project: String,
    /// Services, dependencies first.
    pub start_order: Vec<String>,
    /// Networks to create (or check, when external).
    pub networks: Vec<Resource>,
    /// Volumes to create (or check, when external).
    pub volumes: Vec<Resource>,
    /// Containers, in start order (each service's in number order).
    pub containers: Vec<PlannedContainer>,
}

impl Plan {
    /// Services in the order to stop them: dependents first.
    pub fn stop_order(&self) -> Vec<String> {
        self.start_order.iter().rev().cloned().collect()
    }

    /// The containers of one service.
    pub fn containers_of<'a>(
        &'a self,
        service: &'a str,
    ) -> impl Iterator<Item = &'a PlannedContainer> {
        self.containers.iter().filter(move |c| c.service == service)
    }
}

/// Parses a `--scale SERVICE=N`.
pub fn parse_scale(text: &str) -> Result<(String, u32), String> {
    let (service, count) = text
        .split_once('=')
        .ok_or_else(|| format!("invalid --scale {text:?}: write SERVICE=NUMBER, e.g. web=3"))?;
    let count = count.parse().map_err(|_| {
        format!("invalid --scale {text:?}: {count:?} is not a number of containers")
    })?;
    Ok((service.to_string(), count))
}

/// How many containers a service runs: `scale`, else `deploy.replicas`,
/// else 1.
pub fn replicas(service: &Service) -> u32 {
    service
        .scale
        .or_else(|| service.deploy.as_ref().and_then(|d| d.replicas))
        .unwrap_or(1)
}

/// The name of container `number` of a service.
pub fn container_name(project: &str, service_name: &str, service: &Service, number: u32) -> String {
    match &service.container_name {
        Some(name) => name.clone(),
        None => format!("{project}-{service_name}-{number}"),
    }
}

// ANCHOR: start_order
/// The services in an order where each comes after all it depends on
/// (Kahn's algorithm; among services ready at the same time, by name, so
/// the order is the same every time). The project is free of cycles
/// ([`crate::validate`]).
pub fn start_order(project: &Project) -> Vec<String> {
    // SOLUTION START: ch07-start-order the services in an order where each comes after all it depends on: Kahn's algorithm, the services ready at the same time by name (book: Compose > What and why > The dependency graph, and health)
    let mut waiting: BTreeMap<&str, BTreeSet<&str>> = project
        .services
        .iter()
        .map(|(name, s)| {
            let deps = s
                .depends_on
                .keys()
                .map(String::as_str)
                .filter(|d| project.services.contains_key(*d));
            (name.as_str(), deps.collect())
        })
        .collect();
    let mut order = Vec::new();
    while !waiting.is_empty() {
        let ready: Vec<&str> = waiting
            .iter()
            .filter(|(_, deps)| deps.is_empty())
            .map(|(n, _)| *n)
            .collect();
        if ready.is_empty() {
            // Only with a cycle: keep the rest in name order rather than loop.
            order.extend(waiting.keys().map(|n| n.to_string()));
            break;
        }
        for name in ready {
            waiting.remove(name);
            for deps in waiting.values_mut() {
                deps.remove(name);
            }
            order.push(name.to_string());
        }
    }
    order
    // SOLUTION END
}
// ANCHOR_END: start_order

/// `up web`: the named services and everything they depend on, in start
/// order.
pub fn with_dependencies(project: &Project, names: &[String]) -> Result<Vec<String>, Invalid> {
    let mut wanted = BTreeSet::new();
    let mut stack: Vec<&str> = names.iter().map(String::as_str).collect();
    while let Some(name) = stack.pop() {
        let Some(service) = project.services.get(name) else {
            let message = match project.disabled_services.get(name) {
                Some(s) => format!(
                    "service {name:?} is only enabled with --profile {}",
                    s.profiles.join(" or --profile ")
                ),
                None => format!("no such service: {name:?}"),
            };
            return Err(Invalid {
                message,
                path: String::new(),
                at: None,
            });
        };
        if wanted.insert(name) {
            stack.extend(service.depends_on.keys().map(String::as_str));
        }
    }
    Ok(start_order(project)
        .into_iter()
        .filter(|n| wanted.contains(n.as_str()))
        .collect())
}

// ANCHOR: config_hash
/// A digest of what a service's containers are made from: the SHA-256 of
/// its resolved configuration as JSON (maps in key order, so the same
/// configuration always gives the same text). How many containers there
/// are and how the image is built do not change a container, so `scale`,
/// `deploy.replicas` and `build` are left out, as docker compose leaves
/// them out.
pub fn config_hash(service: &Service) -> String {
    let mut hashed = service.clone();
    hashed.build = None;
    hashed.scale = None;
    if let Some(deploy) = &mut hashed.deploy {
        deploy.replicas = None;
    }
    let json = serde_json::to_vec(&hashed).expect("a service serializes to JSON");
    Sha256::digest(&json)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
// ANCHOR_END: config_hash

// ANCHOR: labels
/// The labels of container `number` of a service: the service's own,
/// then compose's.
pub fn labels(
    project: &Project,
    service_name: &str,
    number: u32,
    oneoff: bool,
) -> BTreeMap<String, String> {
    let service = &project.services[service_name];
    let mut labels = service.labels.clone();
    let files: Vec<String> = project
        .config_files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    let depends_on: Vec<String> = service
        .depends_on
        .iter()
        .map(|(name, d)| {
            let condition = serde_json::to_value(d.condition).ok();
            let condition = condition
                .as_ref()
                .and_then(|c| c.as_str())
                .unwrap_or("service_started");
            format!("{name}:{condition}:{}", d.restart)
        })
        .collect();
    for (key, value) in [
        (LABEL_PROJECT, project.name.clone()),
        (LABEL_SERVICE, service_name.to_string()),
        (LABEL_CONTAINER_NUMBER, number.to_string()),
        (
            LABEL_ONEOFF,
            if oneoff { "True" } else { "False" }.to_string(),
        ),
        (LABEL_CONFIG_HASH, config_hash(service)),
        (LABEL_WORKING_DIR, project.working_dir.display().to_string()),
        (LABEL_CONFIG_FILES, files.join(",")),
        (LABEL_VERSION, env!("CARGO_PKG_VERSION").to_string()),
        (LABEL_DEPENDS_ON, depends_on.join(",")),
    ] {
        labels.insert(key.to_string(), value);
    }
    labels
}
// ANCHOR_END: labels

// ANCHOR: plan
/// The plan for `up`: `scale` overrides the file's replicas per service
/// (`--scale web=3`).
pub fn plan(project: &Project, scale: &BTreeMap<String, u32>) -> Result<Plan, Invalid> {
    for name in scale.keys() {
        if !project.services.contains_key(name) {
            return Err(Invalid {
                message: format!("--scale names no such service: {name:?}"),
                path: String::new(),
                at: None,
            });
        }
    }
    let order = start_order(project);
    let mut containers = Vec::new();
    for name in &order {
        let service = &project.services[name];
        let count = scale
            .get(name)
            .copied()
            .unwrap_or_else(|| replicas(service));
        if count > 1 && service.container_name.is_some() {
            return Err(Invalid {
                message: format!(
                    "service {name:?} has a container_name and cannot be scaled to {count}"
                ),
                path: format!("services.{name}.container_name"),
                at: None,
            });
        }
        for number in 1..=count {
            containers.push(PlannedContainer {
                name: container_name(&project.name, name, service, number),
                service: name.clone(),
                number,
                image: project.image_of(name),
                labels: labels(project, name, number, false),
            });
        }
    }
    let resource = |key: &String, name: String, external: bool, label: &str| Resource {
        key: key.clone(),
        name,
        external,
        labels: BTreeMap::from([
            (LABEL_PROJECT.to_string(), project.name.clone()),
            (label.to_string(), key.clone()),
        ]),
    };
    Ok(Plan {
        project: project.name.clone(),
        start_order: order,
        networks: project
            .networks
            .iter()
            .map(|(k, n)| resource(k, project.network_name(k), n.external, LABEL_NETWORK))
            .collect(),
        volumes: project
            .volumes
            .iter()
            .map(|(k, v)| resource(k, project.volume_name(k), v.external, LABEL_VOLUME))
            .collect(),
        containers,
    })
}
// ANCHOR_END: plan

#[cfg(test)]
mod tests;
