//! `skiff update`, `skiff system df` and `system prune`, `skiff builder prune`.

use crate::client::Client;
use anyhow::{Context, Result, bail};
use ch05_images::history::human_size;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

/// `skiff update`: new limits or restart policy for containers.
#[derive(Debug, Clone, Args)]
pub struct UpdateArgs {
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Memory plus swap (-1: unlimited swap)
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    #[arg(long)]
    pub cpus: Option<f64>,
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<i64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// At most this many processes (0 or -1: no limit)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// no, always, unless-stopped, on-failure[:N]
    #[arg(long)]
    pub restart: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

fn size(flag: &str, text: &str) -> Result<i64> {
    if text == "-1" {
        return Ok(-1);
    }
    Ok(ch03_cgroups::parse_size(text).with_context(|| format!("--{flag} {text}"))? as i64)
}

impl UpdateArgs {
    /// The update body docker's client sends: every field, zero for the
    /// ones left as they are.
    pub fn body(&self) -> Result<Value> {
        if self.memory.is_none()
            && self.memory_swap.is_none()
            && self.cpus.is_none()
            && self.cpu_shares.is_none()
            && self.cpuset_cpus.is_none()
            && self.pids_limit.is_none()
            && self.restart.is_none()
        {
            bail!("you must provide one or more flags when using this command");
        }
        let restart = self.restart.as_deref().map(|r| {
            let (name, count) = r.split_once(':').unwrap_or((r, "0"));
            json!({"Name": name, "MaximumRetryCount": count.parse::<u32>().unwrap_or(0)})
        });
        Ok(json!({
            "Memory": self.memory.as_deref().map(|m| size("memory", m)).transpose()?.unwrap_or(0),
            "MemorySwap": self.memory_swap.as_deref().map(|m| size("memory-swap", m)).transpose()?.unwrap_or(0),
            "NanoCpus": self.cpus.map_or(0, |c| (c * 1e9) as i64),
            "CpuShares": self.cpu_shares.unwrap_or(0),
            "CpusetCpus": self.cpuset_cpus.clone().unwrap_or_default(),
            "PidsLimit": self.pids_limit,
            "RestartPolicy": restart.unwrap_or_else(|| json!({"Name": "", "MaximumRetryCount": 0})),
        }))
    }
}

/// `skiff update [--memory ...] CONTAINER...`: prints each name.
pub fn update(client: &Client, args: &UpdateArgs) -> Result<i32> {
    let body = args.body()?;
    super::containers::each(&args.containers, |c| {
        client
            .send("POST", &format!("/containers/{c}/update"), Some(&body), &[])
            .map(drop)
    })
}

/// `skiff system ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum SystemVerbs {
    /// Show what images, containers and volumes take on disk
    Df,
    /// Remove stopped containers, unused networks, dangling images (every
    /// unused one with --all) and the build cache (volumes with --volumes)
    Prune {
        #[arg(short, long)]
        all: bool,
        #[arg(long)]
        volumes: bool,
        /// Do not ask (skiff never asks: the flag is docker's)
        #[arg(short, long)]
        force: bool,
    },
}

impl SystemVerbs {
    pub fn execute(self, client: &Client) -> Result<i32> {
        match self {
            SystemVerbs::Df => df(client),
            SystemVerbs::Prune { all, volumes, .. } => system_prune(client, all, volumes),
        }
    }
}

/// `skiff builder ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum BuilderVerbs {
    /// Remove the build cache and the layers only it kept
    Prune {
        /// Do not ask (skiff never asks: the flag is docker's)
        #[arg(short, long)]
        force: bool,
    },
}

impl BuilderVerbs {
    pub fn execute(self, client: &Client) -> Result<i32> {
        match self {
            BuilderVerbs::Prune { .. } => {
                let reclaimed = build_prune(client)?;
                println!("Total reclaimed space: {}", human_size(reclaimed));
                Ok(0)
            }
        }
    }
}

/// Prints a section of a prune's report, as docker does: a heading and
/// one line per item, nothing when there is no item.
fn section(heading: &str, items: &[String]) {
    if !items.is_empty() {
        println!("{heading}:");
        for item in items {
            println!("{item}");
        }
        println!();
    }
}

/// The strings of the array `key` of `value`.
fn strings(value: &Value, key: &str) -> Vec<String> {
    value[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// `POST /build/prune`, its section printed; the bytes it reclaimed.
fn build_prune(client: &Client) -> Result<u64> {
    let pruned = client.post("/build/prune", None)?;
    section(
        "Deleted build cache objects",
        &strings(&pruned, "CachesDeleted"),
    );
    Ok(pruned["SpaceReclaimed"].as_u64().unwrap_or(0))
}

/// `skiff system prune`: each kind's prune in docker's order, and the
/// space they reclaimed together.
fn system_prune(client: &Client, all: bool, volumes: bool) -> Result<i32> {
    let containers = client.post("/containers/prune", None)?;
    section(
        "Deleted Containers",
        &strings(&containers, "ContainersDeleted"),
    );
    let networks = client.post("/networks/prune", None)?;
    section("Deleted Networks", &strings(&networks, "NetworksDeleted"));
    let mut reclaimed = containers["SpaceReclaimed"].as_u64().unwrap_or(0);
    if volumes {
        let pruned = client.post("/volumes/prune", None)?;
        section("Deleted Volumes", &strings(&pruned, "VolumesDeleted"));
        reclaimed += pruned["SpaceReclaimed"].as_u64().unwrap_or(0);
    }
    let dangling = if all { "false" } else { "true" };
    let filters = format!(r#"{{"dangling":["{dangling}"]}}"#);
    let images = client.post(
        &format!("/images/prune{}", super::query(&[("filters", filters)])),
        None,
    )?;
    let deleted: Vec<String> = images["ImagesDeleted"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|item| item.as_object().into_iter().flatten())
        .map(|(key, value)| {
            format!(
                "{}: {}",
                key.to_lowercase(),
                value.as_str().unwrap_or_default()
            )
        })
        .collect();
    section("Deleted Images", &deleted);
    reclaimed += images["SpaceReclaimed"].as_u64().unwrap_or(0);
    reclaimed += build_prune(client)?;
    println!("Total reclaimed space: {}", human_size(reclaimed));
    Ok(0)
}

/// docker's `SIZE (PERCENT%)` of what could be reclaimed.
fn reclaimable(reclaimable: u64, total: u64) -> String {
    match (reclaimable * 100).checked_div(total) {
        Some(percent) => format!("{} ({percent}%)", human_size(reclaimable)),
        None => human_size(reclaimable),
    }
}

fn list(usage: &Value, key: &str) -> Vec<Value> {
    usage[key].as_array().cloned().unwrap_or_default()
}

// ANCHOR: df
/// `skiff system df`: docker's summary table.
pub fn df(client: &Client) -> Result<i32> {
    let usage = client.get("/system/df")?;
    let number = |v: &Value, key: &str| v[key].as_u64().unwrap_or(0);
    let images = list(&usage, "Images");
    let total = number(&usage, "LayersSize");
    let used: u64 = images
        .iter()
        .filter(|i| number(i, "Containers") > 0)
        .map(|i| number(i, "Size").saturating_sub(number(i, "SharedSize")))
        .sum();
    let mut rows = vec![
        ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
            .map(String::from)
            .to_vec(),
    ];
    rows.push(vec![
        "Images".into(),
        images.len().to_string(),
        images
            .iter()
            .filter(|i| number(i, "Containers") > 0)
            .count()
            .to_string(),
        human_size(total),
        reclaimable(total.saturating_sub(used), total),
    ]);
    let containers = list(&usage, "Containers");
    let size: u64 = containers.iter().map(|c| number(c, "SizeRw")).sum();
    let running = |c: &&Value| c["State"] == "running" || c["State"] == "paused";
    let idle: u64 = containers
        .iter()
        .filter(|c| !running(c))
        .map(|c| number(c, "SizeRw"))
        .sum();
    rows.push(vec![
        "Containers".into(),
        containers.len().to_string(),
        containers.iter().filter(running).count().to_string(),
        human_size(size),
        reclaimable(idle, size),
    ]);
    let volumes = list(&usage, "Volumes");
    let in_use = |v: &&Value| number(&v["UsageData"], "RefCount") > 0;
    let size: u64 = volumes
        .iter()
        .map(|v| number(&v["UsageData"], "Size"))
        .sum();
    let idle: u64 = volumes
        .iter()
        .filter(|v| !in_use(v))
        .map(|v| number(&v["UsageData"], "Size"))
        .sum();
    rows.push(vec![
        "Local Volumes".into(),
        volumes.len().to_string(),
        volumes.iter().filter(in_use).count().to_string(),
        human_size(size),
        reclaimable(idle, size),
    ]);
    rows.push(
        ["Build Cache", "0", "0", "0B", "0B"]
            .map(String::from)
            .to_vec(),
    );
    print!("{}", ch01_process::shell::table(&rows));
    Ok(0)
}
// ANCHOR_END: df
