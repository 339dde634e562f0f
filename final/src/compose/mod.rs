//! `skiff compose`: chapter 7's compose files, run by the daemon.
//!
//! Chapter 7 reads the file (interpolation, merging, validation), resolves
//! the project and plans its containers; this module sends the plan to the
//! daemon as API calls, the calls `docker-compose` makes. The containers
//! carry compose's labels (`com.docker.compose.project`, `.service`,
//! `.container-number`, `.config-hash`): that is how `ps`, `logs` and
//! `down` find them again, and how docker-compose and skiff compose see
//! each other's containers. After `up -d` nothing of the application is
//! in this process: the daemon keeps it running, restarts it by its
//! policies, and runs its healthchecks.

pub mod body;
pub mod logs;
pub mod up;

use crate::client::{Client, query};
use anyhow::{Context, Result};
use ch07_compose::cli::ProjectArgs;
use ch07_compose::plan::{
    LABEL_CONFIG_HASH, LABEL_CONTAINER_NUMBER, LABEL_ONEOFF, LABEL_PROJECT, LABEL_SERVICE,
    parse_scale,
};
use ch07_compose::runner::console::Console;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

/// `skiff compose [-f FILE]... [-p NAME] COMMAND`.
#[derive(Debug, Clone, Args)]
pub struct ComposeArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(subcommand)]
    pub command: ComposeCommand,
}

/// The verbs of `skiff compose`.
#[derive(Debug, Clone, Subcommand)]
pub enum ComposeCommand {
    /// Print the resolved project as YAML
    Config,
    /// Create and start the project's containers
    Up {
        /// Start them in the background and return
        #[arg(short, long)]
        detach: bool,
        /// Build images before starting, even when they exist
        #[arg(long)]
        build: bool,
        /// Run N containers of SERVICE
        #[arg(long = "scale", value_name = "SERVICE=N", value_parser = parse_scale)]
        scale: Vec<(String, u32)>,
        /// Start only these services (and what they depend on)
        #[arg(value_name = "SERVICE")]
        services: Vec<String>,
    },
    /// Stop and remove the project's containers and networks
    Down {
        /// Remove the project's named volumes too
        #[arg(short, long)]
        volumes: bool,
    },
    /// List the project's containers
    Ps {
        /// Show stopped containers too
        #[arg(short, long)]
        all: bool,
    },
    /// Show the output of the project's containers
    Logs {
        /// Follow the output as it comes
        #[arg(short, long)]
        follow: bool,
        /// Only these services
        #[arg(value_name = "SERVICE")]
        services: Vec<String>,
    },
}

/// One container of a project, as the daemon lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub name: String,
    pub service: String,
    pub number: u32,
    pub config_hash: Option<String>,
    pub running: bool,
}

// ANCHOR: members
/// The containers of project `project` (the running ones, or `all`), in
/// the order they were made, found by compose's labels; one-off
/// containers (`run`) are not members.
pub fn members(client: &Client, project: &str, all: bool) -> Result<Vec<Member>> {
    let filters = json!({"label": [format!("{LABEL_PROJECT}={project}")]}).to_string();
    let listed = client.get(&format!(
        "/containers/json{}",
        query(&[
            ("all", if all { "1".into() } else { String::new() }),
            ("filters", filters)
        ])
    ))?;
    let mut found: Vec<(i64, Member)> = listed
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["Labels"][LABEL_ONEOFF] != "True")
        .map(|c| {
            let label = |key: &str| c["Labels"][key].as_str().map(String::from);
            let member = Member {
                id: c["Id"].as_str().unwrap_or_default().to_string(),
                name: c["Names"][0]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_string(),
                service: label(LABEL_SERVICE).unwrap_or_default(),
                number: label(LABEL_CONTAINER_NUMBER)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0),
                config_hash: label(LABEL_CONFIG_HASH),
                running: c["State"] == "running",
            };
            (c["Created"].as_i64().unwrap_or(0), member)
        })
        .collect();
    found.sort_by(|(a, m), (b, n)| a.cmp(b).then(m.name.cmp(&n.name)));
    Ok(found.into_iter().map(|(_, m)| m).collect())
}
// ANCHOR_END: members

/// Carries out `skiff compose ...` against the daemon at `host`.
pub fn execute(args: ComposeArgs, host: &str) -> Result<i32> {
    let client = Client::new(host).map_err(anyhow::Error::msg)?;
    let options = args
        .project
        .load_options()
        .context("reading the current directory")?;
    let project = ch07_compose::load(&options)?;
    for warning in &project.warnings {
        eprintln!("WARN[0000] {warning}");
    }
    match args.command {
        ComposeCommand::Config => {
            print!("{}", ch07_compose::to_yaml(&project));
            Ok(0)
        }
        ComposeCommand::Up {
            detach,
            build,
            scale,
            services,
        } => up::up(
            &client,
            &project,
            &up::UpOptions {
                detach,
                build,
                scale: scale.into_iter().collect(),
                services,
            },
        ),
        ComposeCommand::Down { volumes } => down(&client, &project, volumes),
        ComposeCommand::Ps { all } => ps(&client, &project.name, all),
        ComposeCommand::Logs { follow, services } => {
            let members: Vec<Member> = members(&client, &project.name, true)?
                .into_iter()
                .filter(|m| services.is_empty() || services.contains(&m.service))
                .collect();
            let names: Vec<(String, String)> = members
                .iter()
                .map(|m| (m.name.clone(), m.service.clone()))
                .collect();
            let console = Console::new(&names, Console::stdout_is_terminal());
            logs::print(&client, &members, follow, &console)?;
            Ok(0)
        }
    }
}

// ANCHOR: down
/// `down`: the project's containers stopped (dependents first: the
/// reverse of the order they were made in) and removed, then its
/// networks, and with `volumes` its volumes (never external ones: those
/// carry no project label).
fn down(client: &Client, project: &ch07_compose::Project, volumes: bool) -> Result<i32> {
    let console = Console::new(&[], false);
    let label = json!({"label": [format!("{LABEL_PROJECT}={}", project.name)]}).to_string();
    for member in members(client, &project.name, true)?.iter().rev() {
        console.progress("Container", &member.name, "Stopping");
        client.send(
            "POST",
            &format!("/containers/{}/stop", member.id),
            None,
            &[],
        )?;
        // With -v, the containers' anonymous volumes go with them, as
        // docker compose removes them.
        let v = if volumes { "1" } else { "" };
        client.delete(&format!(
            "/containers/{}{}",
            member.id,
            query(&[("v", v.into())])
        ))?;
        console.progress("Container", &member.name, "Removed");
    }
    let networks = client.get(&format!(
        "/networks{}",
        query(&[("filters", label.clone())])
    ))?;
    for network in networks.as_array().into_iter().flatten() {
        let name = network["Name"].as_str().unwrap_or_default();
        console.progress("Network", name, "Removing");
        client.delete(&format!("/networks/{name}"))?;
        console.progress("Network", name, "Removed");
    }
    if volumes {
        let listed = client.get(&format!("/volumes{}", query(&[("filters", label)])))?;
        for volume in listed["Volumes"].as_array().into_iter().flatten() {
            let name = volume["Name"].as_str().unwrap_or_default();
            console.progress("Volume", name, "Removing");
            client.delete(&format!("/volumes/{name}"))?;
            console.progress("Volume", name, "Removed");
        }
    }
    Ok(0)
}
// ANCHOR_END: down

/// `ps`: the project's containers as docker compose lists them.
fn ps(client: &Client, project: &str, all: bool) -> Result<i32> {
    let filters = json!({"label": [format!("{LABEL_PROJECT}={project}")]}).to_string();
    let listed = client.get(&format!(
        "/containers/json{}",
        query(&[
            ("all", if all { "1".into() } else { String::new() }),
            ("filters", filters)
        ])
    ))?;
    let mut rows: Vec<Value> = listed
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let mut row = crate::cli::containers::ps_row(c);
            row["Name"] = row["Names"].clone();
            row["Service"] = c["Labels"][LABEL_SERVICE].clone();
            row
        })
        .collect();
    rows.sort_by(|a, b| a["Names"].as_str().cmp(&b["Names"].as_str()));
    crate::cli::containers::print_formatted(
        &rows,
        "table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}",
    )?;
    Ok(0)
}
