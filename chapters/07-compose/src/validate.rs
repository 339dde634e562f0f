//! Checks that need the whole project: each file can be fine on its own
//! and the application still be impossible.
//!
//! - a service needs an image to run or a build that makes one;
//! - `depends_on` names services that exist and are enabled, and never
//!   goes round in a circle (`a` waits for `b` which waits for `a`: nothing
//!   would ever start);
//! - a service joins only declared networks and mounts only declared named
//!   volumes (a typo would otherwise create a new, empty volume);
//! - `container_name` names one container, so the service cannot have
//!   more than one; two ways of saying the same limit must agree;
//! - networks are bridges with IPv4 subnets chapter 6 can build.

use crate::error::{Invalid, Warning};
use crate::load::Sources;
use crate::model::{MountType, Service};
use crate::resolve::Project;
use ch06_network::subnet::Subnet;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// Checks the project; drops the optional dependencies (`required: false`)
/// that are missing, with a warning.
pub fn validate(project: &mut Project, sources: &Sources) -> Result<(), Invalid> {
    let names: Vec<String> = project.services.keys().cloned().collect();
    for name in &names {
        check_dependencies(project, name, sources)?;
        let service = &project.services[name];
        check_service(project, name, service, sources)?;
    }
    if let Some(cycle) = find_cycle(project) {
        let path = ["services", cycle[0].as_str(), "depends_on"];
        return Err(sources.invalid(
            &path,
            format!(
                "dependency cycle: {}: remove one of these depends_on",
                cycle.join(" -> ")
            ),
        ));
    }
    check_container_names(project, sources)?;
    for (key, network) in &project.networks {
        check_network(key, network, sources)?;
    }
    for (key, volume) in &project.volumes {
        if volume.driver.as_deref().is_some_and(|d| d != "local") {
            return Err(sources.invalid(
                &["volumes", key, "driver"],
                "only the `local` volume driver exists here",
            ));
        }
    }
    Ok(())
}

fn check_dependencies(project: &mut Project, name: &str, sources: &Sources) -> Result<(), Invalid> {
    let dependencies: Vec<(String, bool)> = project.services[name]
        .depends_on
        .iter()
        .map(|(d, dep)| (d.clone(), dep.required))
        .collect();
    for (dependency, required) in dependencies {
        if project.services.contains_key(&dependency) {
            continue;
        }
        let path = ["services", name, "depends_on", &dependency];
        let problem = match project.disabled_services.get(&dependency) {
            Some(disabled) => format!(
                "service {name:?} depends on {dependency:?}, which is only enabled with --profile {}",
                disabled.profiles.join(" or --profile ")
            ),
            None => {
                let known: Vec<&str> = project.services.keys().map(String::as_str).collect();
                let hint = crate::de::suggestion(&dependency, &known)
                    .map(|s| format!(": did you mean {s:?}?"))
                    .unwrap_or_default();
                format!("service {name:?} depends on undefined service {dependency:?}{hint}")
            }
        };
        if required {
            return Err(sources.invalid(&path, problem));
        }
        project.warnings.push(Warning {
            message: format!("{problem} (not required: ignored)"),
            at: sources.locate(&path),
        });
        if let Some(service) = project.services.get_mut(name) {
            service.depends_on.remove(&dependency);
        }
    }
    Ok(())
}

fn check_service(
    project: &Project,
    name: &str,
    service: &Service,
    sources: &Sources,
) -> Result<(), Invalid> {
    let at = |key: &str| sources.locate(&["services", name, key]);
    let fail = |key: &str, message: String| Invalid {
        message,
        path: if key.is_empty() {
            format!("services.{name}")
        } else {
            format!("services.{name}.{key}")
        },
        at: if key.is_empty() {
            sources.locate(&["services", name])
        } else {
            at(key)
        },
    };
    if !valid_service_name(name) {
        return Err(fail(
            "",
            format!("{name:?} is not a valid service name: use letters, digits, '.', '_' and '-'"),
        ));
    }
    if service.image.is_none() && service.build.is_none() {
        return Err(fail(
            "",
            format!(
                "service {name:?} has neither an image nor a build context: add `image:` or `build:`"
            ),
        ));
    }
    for network in service.networks.keys() {
        if !project.networks.contains_key(network) {
            let known: Vec<&str> = project.networks.keys().map(String::as_str).collect();
            let hint = crate::de::suggestion(network, &known)
                .map(|s| format!(" (did you mean {s:?}?)"))
                .unwrap_or_default();
            return Err(fail(
                "networks",
                format!(
                    "service {name:?} refers to undefined network {network:?}{hint}: declare it in the top-level `networks:`"
                ),
            ));
        }
    }
    for (network, settings) in &service.networks {
        let Some(address) = settings.as_ref().and_then(|s| s.ipv4_address) else {
            continue;
        };
        let subnets = subnets_of(project, network);
        if !subnets.iter().any(|s| s.contains(address)) {
            return Err(fail(
                "networks",
                format!(
                    "ipv4_address {address} is not in a subnet declared for network {network:?} (ipam.config)"
                ),
            ));
        }
    }
    for volume in &service.volumes {
        if let (MountType::Volume, Some(source)) = (volume.kind, &volume.source)
            && !project.volumes.contains_key(source)
        {
            return Err(fail(
                "volumes",
                format!(
                    "service {name:?} refers to undefined volume {source:?}: declare it in the top-level `volumes:`, or write ./{source} for a directory of the project"
                ),
            ));
        }
    }
    let replicas = service.deploy.as_ref().and_then(|d| d.replicas);
    if let (Some(scale), Some(replicas)) = (service.scale, replicas)
        && scale != replicas
    {
        return Err(fail(
            "scale",
            format!("scale ({scale}) and deploy.replicas ({replicas}) disagree: keep one"),
        ));
    }
    if let Some(container_name) = &service.container_name {
        if !valid_service_name(container_name) {
            return Err(fail(
                "container_name",
                format!("{container_name:?} is not a valid container name"),
            ));
        }
        let count = service.scale.or(replicas).unwrap_or(1);
        if count > 1 {
            return Err(fail(
                "container_name",
                format!(
                    "service {name:?} has container_name {container_name:?} and {count} replicas: a name is unique, remove container_name to scale"
                ),
            ));
        }
    }
    let limits = service
        .deploy
        .as_ref()
        .and_then(|d| d.resources.as_ref())
        .and_then(|r| r.limits.as_ref());
    if let Some(limits) = limits {
        let clash = [
            (
                "mem_limit",
                "memory",
                service
                    .mem_limit
                    .zip(limits.memory)
                    .is_some_and(|(a, b)| a != b),
            ),
            (
                "cpus",
                "cpus",
                service.cpus.zip(limits.cpus).is_some_and(|(a, b)| a != b),
            ),
            (
                "pids_limit",
                "pids",
                service
                    .pids_limit
                    .zip(limits.pids)
                    .is_some_and(|(a, b)| a != b),
            ),
        ];
        if let Some((key, limit, _)) = clash.iter().find(|c| c.2) {
            return Err(fail(
                key,
                format!("{key} and deploy.resources.limits.{limit} disagree: keep one"),
            ));
        }
    }
    Ok(())
}

/// `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, docker's rule for container names.
fn valid_service_name(name: &str) -> bool {
    crate::model::volumes::valid_volume_name(name)
}

fn subnets_of(project: &Project, network: &str) -> Vec<Subnet> {
    project.networks[network]
        .ipam
        .iter()
        .flat_map(|ipam| &ipam.config)
        .filter_map(|pool| pool.subnet.as_deref()?.parse().ok())
        .collect()
}

// ANCHOR: find_cycle
/// A cycle of `depends_on`, as the list of services around it (the first
/// one repeated at the end), or `None`. A depth-first walk: a service met
/// again while it is still on the walk's path closes a cycle.
pub fn find_cycle(project: &Project) -> Option<Vec<String>> {
    fn visit<'a>(
        project: &'a Project,
        name: &'a str,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| *n == name) {
            let mut cycle: Vec<String> = path[start..].iter().map(|n| n.to_string()).collect();
            cycle.push(name.to_string());
            return Some(cycle);
        }
        if !done.insert(name) {
            return None;
        }
        path.push(name);
        for dependency in project
            .services
            .get(name)
            .into_iter()
            .flat_map(|s| s.depends_on.keys())
        {
            if let Some(cycle) = visit(project, dependency, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    project
        .services
        .keys()
        .find_map(|name| visit(project, name, &mut Vec::new(), &mut done))
}
// ANCHOR_END: find_cycle

fn check_container_names(project: &Project, sources: &Sources) -> Result<(), Invalid> {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for (name, service) in &project.services {
        let Some(container_name) = service.container_name.as_deref() else {
            continue;
        };
        if let Some((other, _)) = seen.iter().find(|(_, c)| *c == container_name) {
            return Err(sources.invalid(
                &["services", name, "container_name"],
                format!(
                    "services {other:?} and {name:?} both have container_name {container_name:?}"
                ),
            ));
        }
        seen.push((name, container_name));
    }
    Ok(())
}

fn check_network(
    key: &str,
    network: &crate::model::NetworkDef,
    sources: &Sources,
) -> Result<(), Invalid> {
    let fail = |field: &str, message: String| sources.invalid(&["networks", key, field], message);
    if let Some(driver) = network.driver.as_deref().filter(|d| *d != "bridge") {
        return Err(fail(
            "driver",
            format!("network driver {driver:?} does not exist here: chapter 6 builds bridges"),
        ));
    }
    if network.enable_ipv6 {
        return Err(fail(
            "enable_ipv6",
            "IPv6 networks are not supported: chapter 6 is IPv4 only".into(),
        ));
    }
    let pools = network.ipam.iter().flat_map(|ipam| &ipam.config);
    for pool in pools {
        let Some(text) = pool.subnet.as_deref() else {
            return Err(fail("ipam", "each ipam.config entry needs a subnet".into()));
        };
        let subnet: Subnet = text.parse().map_err(|e| fail("ipam", format!("{e}")))?;
        let outside = |address: Ipv4Addr| !subnet.contains(address);
        if let Some(gateway) = pool.gateway.filter(|g| outside(*g)) {
            return Err(fail(
                "ipam",
                format!("gateway {gateway} is not in the subnet {subnet}"),
            ));
        }
        if let Some(range) = &pool.ip_range {
            let range: Subnet = range
                .parse()
                .map_err(|e| fail("ipam", format!("ip_range: {e}")))?;
            if outside(range.network()) {
                return Err(fail(
                    "ipam",
                    format!("ip_range {range} is not in the subnet {subnet}"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
