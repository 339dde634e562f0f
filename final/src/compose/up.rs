//! `skiff compose up`: chapter 7's plan, carried out through the API.
//!
//! ```text
//! images      pulled when missing (built first for a `build:` service)
//! resources   the project's networks and volumes, made unless they exist
//! containers  in start order; a service waits for what it depends on
//!             (started, healthy, or completed) before its containers start;
//!             one with the same config-hash is kept, a changed one made again,
//!             replicas beyond --scale removed
//! -d          returns; without it, the containers' output is followed
//!             until they end or Ctrl-C stops them
//! ```
//!
//! The daemon keeps the application: restart policies, healthchecks, and
//! the containers themselves outlive this process, as they outlive
//! `docker compose up -d`.

use super::{Member, body, logs, members};
use crate::cli::build::BuildArgs;
use crate::client::{Client, query};
use anyhow::{Result, bail};
use ch06_network::inspect::MTU_OPTION;
use ch07_compose::model::Condition;
use ch07_compose::plan::{self, LABEL_CONFIG_HASH};
use ch07_compose::runner::console::Console;
use ch07_compose::{PlannedContainer, Project};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// What `up` was asked.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    pub detach: bool,
    pub build: bool,
    pub scale: BTreeMap<String, u32>,
    pub services: Vec<String>,
}

// ANCHOR: up
/// Brings the project up; the exit code.
pub fn up(client: &Client, project: &Project, options: &UpOptions) -> Result<i32> {
    let services = if options.services.is_empty() {
        plan::start_order(project)
    } else {
        plan::with_dependencies(project, &options.services)?
    };
    // What no chapter implements is refused before anything is made.
    for service in &services {
        ch07_compose::translate::check_service(project, service)?;
    }
    let plan = plan::plan(project, &options.scale)?;
    let planned: Vec<&PlannedContainer> = plan
        .containers
        .iter()
        .filter(|c| services.contains(&c.service))
        .collect();
    let names: Vec<(String, String)> = planned
        .iter()
        .map(|c| (c.name.clone(), c.service.clone()))
        .collect();
    let console = Console::new(&names, Console::stdout_is_terminal() && !options.detach);

    images(client, project, &services, options.build)?;
    resources(client, project, &plan, &services, &console)?;
    let existing = members(client, &project.name, true)?;
    remove_extra(client, &existing, &planned, &services, &console)?;
    for service in &services {
        wait_for_dependencies(client, project, service, &console)?;
        for container in plan.containers_of(service) {
            ensure_started(client, project, container, &existing, &console)?;
        }
    }
    if options.detach {
        return Ok(0);
    }
    let running = members(client, &project.name, true)?
        .into_iter()
        .filter(|m| services.contains(&m.service))
        .collect::<Vec<_>>();
    logs::attach_until_stopped(client, &running, &console)
}
// ANCHOR_END: up

/// Pulls the images that are missing; builds those of `build:` services
/// that are missing (or all of them with `--build`).
fn images(client: &Client, project: &Project, services: &[String], build: bool) -> Result<()> {
    for name in services {
        let service = &project.services[name];
        let image = project.image_of(name);
        let present = match client.get(&format!("/images/{image}/json")) {
            Ok(_) => true,
            Err(e) if e.status() == Some(404) => false,
            Err(e) => return Err(e.into()),
        };
        if let Some(recipe) = &service.build {
            if present && !build {
                continue;
            }
            let context = project
                .working_dir
                .join(recipe.context.as_deref().unwrap_or("."));
            let args = BuildArgs {
                tags: vec![image.clone()],
                file: recipe.dockerfile.as_ref().map(|f| context.join(f)),
                build_args: recipe
                    .args
                    .iter()
                    .map(|(k, v)| v.as_ref().map_or(k.clone(), |v| format!("{k}={v}")))
                    .collect(),
                target: recipe.target.clone(),
                no_cache: false,
                labels: Vec::new(),
                network: "default".into(),
                quiet: false,
                context,
            };
            let code = crate::cli::build::build(client, &args)?;
            if code != 0 {
                bail!("service {name:?}: the build of {image} failed");
            }
        } else if !present {
            crate::cli::images::pull(client, &image, true)?;
        }
    }
    Ok(())
}

/// Creates the networks and volumes the services use, unless they exist
/// (chapter 7 decides which, and what a network of the file asks for).
fn resources(
    client: &Client,
    project: &Project,
    plan: &ch07_compose::Plan,
    services: &[String],
    console: &Console,
) -> Result<()> {
    use ch07_compose::runner::resources::{network_spec, used};
    let (networks, volumes) = used(project, services);
    for resource in plan.networks.iter().filter(|n| networks.contains(&n.key)) {
        match client.get(&format!("/networks/{}", resource.name)) {
            Ok(found) if !resource.external => {
                let owner = found["Labels"][plan::LABEL_PROJECT].as_str();
                if owner != Some(plan.project.as_str()) {
                    bail!(
                        "network {} exists and is not project {}'s: remove it, or declare it external",
                        resource.name,
                        plan.project
                    );
                }
            }
            Ok(_) => {}
            Err(e) if e.status() == Some(404) && resource.external => {
                bail!(
                    "network {} declared as external, could not be found: create it first (skiff network create {})",
                    resource.name,
                    resource.name
                );
            }
            Err(e) if e.status() == Some(404) => {
                let spec = network_spec(resource, &project.networks[&resource.key])?;
                let mut pool = serde_json::Map::new();
                if let Some(subnet) = &spec.subnet {
                    pool.insert("Subnet".into(), json!(subnet.to_string()));
                }
                if let Some(gateway) = spec.gateway {
                    pool.insert("Gateway".into(), json!(gateway.to_string()));
                }
                let ipam = if pool.is_empty() {
                    json!({"Driver": "default", "Config": []})
                } else {
                    json!({"Driver": "default", "Config": [pool]})
                };
                let options: serde_json::Map<String, Value> = spec
                    .mtu
                    .map(|mtu| (MTU_OPTION.to_string(), json!(mtu.to_string())))
                    .into_iter()
                    .collect();
                console.progress("Network", &spec.name, "Creating");
                client.post(
                    "/networks/create",
                    Some(&json!({
                        "Name": spec.name,
                        "Driver": "bridge",
                        "Internal": spec.internal,
                        "Labels": spec.labels,
                        "IPAM": ipam,
                        "Options": options,
                        "CheckDuplicate": true,
                    })),
                )?;
                console.progress("Network", &spec.name, "Created");
            }
            Err(e) => return Err(e.into()),
        }
    }
    for resource in plan.volumes.iter().filter(|v| volumes.contains(&v.key)) {
        match client.get(&format!("/volumes/{}", resource.name)) {
            Ok(_) => {}
            Err(e) if e.status() == Some(404) && resource.external => {
                bail!(
                    "volume {} declared as external, could not be found: create it first (skiff volume create {})",
                    resource.name,
                    resource.name
                );
            }
            Err(e) if e.status() == Some(404) => {
                let shown = format!("{:?}", resource.name);
                console.progress("Volume", &shown, "Creating");
                let mut labels = project.volumes[&resource.key].labels.clone();
                labels.extend(resource.labels.clone());
                client.post(
                    "/volumes/create",
                    Some(&json!({"Name": resource.name, "Labels": labels})),
                )?;
                console.progress("Volume", &shown, "Created");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Removes the containers of `services` that the plan no longer has
/// (`--scale web=1` after `--scale web=3`).
fn remove_extra(
    client: &Client,
    existing: &[Member],
    planned: &[&PlannedContainer],
    services: &[String],
    console: &Console,
) -> Result<()> {
    for member in existing {
        let kept = planned.iter().any(|p| p.name == member.name);
        if kept || !services.contains(&member.service) {
            continue;
        }
        console.progress("Container", &member.name, "Stopping");
        remove(client, &member.id)?;
        console.progress("Container", &member.name, "Removed");
    }
    Ok(())
}

/// Stops and removes a container (its stop signal, then SIGKILL after its
/// grace period: the daemon's `stop`).
fn remove(client: &Client, id: &str) -> Result<()> {
    client.send("POST", &format!("/containers/{id}/stop"), None, &[])?;
    client.delete(&format!(
        "/containers/{id}{}",
        query(&[("force", "1".into())])
    ))?;
    Ok(())
}

/// Makes `container` run: kept when it exists with the same configuration
/// (started if it is not running), made again when the file changed it,
/// created otherwise.
fn ensure_started(
    client: &Client,
    project: &Project,
    container: &PlannedContainer,
    existing: &[Member],
    console: &Console,
) -> Result<()> {
    let wanted_hash = container.labels.get(LABEL_CONFIG_HASH);
    let found = existing.iter().find(|m| m.name == container.name);
    match found {
        Some(member) if member.config_hash.as_ref() == wanted_hash => {
            if member.running {
                console.progress("Container", &container.name, "Running");
                return Ok(());
            }
        }
        Some(member) => {
            console.progress("Container", &container.name, "Recreate");
            remove(client, &member.id)?;
            create(client, project, container)?;
            console.progress("Container", &container.name, "Recreated");
        }
        None => {
            console.progress("Container", &container.name, "Creating");
            create(client, project, container)?;
            console.progress("Container", &container.name, "Created");
        }
    }
    console.progress("Container", &container.name, "Starting");
    client.send(
        "POST",
        &format!("/containers/{}/start", container.name),
        None,
        &[],
    )?;
    console.progress("Container", &container.name, "Started");
    Ok(())
}

fn create(client: &Client, project: &Project, container: &PlannedContainer) -> Result<()> {
    let body = body::create_body(project, container)?;
    let path = format!(
        "/containers/create{}",
        query(&[("name", container.name.clone())])
    );
    client.post(&path, Some(&body))?;
    Ok(())
}

// ANCHOR: wait_for_dependencies
/// Waits until every dependency of `service` is as its `depends_on` asks:
/// started, healthy (the daemon's healthcheck says so), or exited with 0.
/// An unhealthy or failed dependency is an error, as in docker compose.
fn wait_for_dependencies(
    client: &Client,
    project: &Project,
    service: &str,
    console: &Console,
) -> Result<()> {
    for (dependency, wanted) in &project.services[service].depends_on {
        if wanted.condition == Condition::ServiceStarted {
            continue;
        }
        let ours: Vec<Member> = members(client, &project.name, true)?
            .into_iter()
            .filter(|m| &m.service == dependency)
            .collect();
        for member in &ours {
            console.progress("Container", &member.name, "Waiting");
            loop {
                let state =
                    client.get(&format!("/containers/{}/json", member.id))?["State"].clone();
                if let Some(word) = ready(&member.name, dependency, wanted.condition, &state)? {
                    console.progress("Container", &member.name, word);
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    Ok(())
}

/// Whether a dependency in `state` (an inspect's `State`) is ready for
/// `condition`: the word to show when it is, `None` while to wait.
fn ready(
    name: &str,
    service: &str,
    condition: Condition,
    state: &Value,
) -> Result<Option<&'static str>> {
    let status = state["Status"].as_str().unwrap_or_default();
    let ended = matches!(status, "exited" | "dead");
    let code = state["ExitCode"].as_i64().unwrap_or(0);
    match condition {
        Condition::ServiceStarted => Ok(Some("Started")),
        Condition::ServiceHealthy => {
            let Some(health) = state["Health"]["Status"].as_str() else {
                bail!("dependency failed to start: container {name} has no healthcheck configured");
            };
            match health {
                "healthy" => Ok(Some("Healthy")),
                "unhealthy" => {
                    let last = state["Health"]["Log"]
                        .as_array()
                        .and_then(|l| l.last())
                        .and_then(|l| l["Output"].as_str())
                        .unwrap_or_default()
                        .trim()
                        .to_string();
                    bail!("dependency failed to start: container {name} is unhealthy ({last})")
                }
                _ if ended => {
                    bail!("dependency failed to start: container {name} exited ({code})")
                }
                _ => Ok(None),
            }
        }
        Condition::ServiceCompletedSuccessfully => match (ended, code) {
            (true, 0) => Ok(Some("Exited")),
            (true, code) => bail!("service {service:?} didn't complete successfully: exit {code}"),
            (false, _) => Ok(None),
        },
    }
}
// ANCHOR_END: wait_for_dependencies
