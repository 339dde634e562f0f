//! `skiff volume create|ls|inspect|rm|prune`, as docker prints them.

use super::containers::print_formatted;
use crate::client::{Client, query};
use anyhow::{Result, bail};
use ch05_images::history::human_size;
use clap::Subcommand;
use serde_json::{Map, Value, json};

/// The volume verbs.
#[derive(Debug, Clone, Subcommand)]
pub enum VolumeVerbs {
    /// Create a volume (a random name without one)
    Create {
        /// The volume driver (only `local`)
        #[arg(short, long, default_value = "local")]
        driver: String,
        /// Add a label: KEY=VALUE
        #[arg(long = "label")]
        labels: Vec<String>,
        name: Option<String>,
    },
    /// List volumes
    Ls {
        #[arg(short, long)]
        quiet: bool,
        /// Filter: name=, label=, dangling=true|false
        #[arg(short, long = "filter")]
        filter: Vec<String>,
        /// A Go template, or `table TEMPLATE`
        #[arg(long)]
        format: Option<String>,
    },
    /// Show volumes as JSON
    Inspect {
        #[arg(short, long)]
        format: Option<String>,
        #[arg(required = true)]
        volumes: Vec<String>,
    },
    /// Remove volumes (refused while a container uses them)
    Rm {
        /// No error for a volume that does not exist
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        volumes: Vec<String>,
    },
    /// Remove the volumes no container uses (anonymous ones, or all with -a)
    Prune {
        #[arg(short, long)]
        all: bool,
        /// Do not ask (nothing is asked: accepted for docker's sake)
        #[arg(short, long)]
        force: bool,
        #[arg(long = "filter")]
        filter: Vec<String>,
    },
}

/// `KEY=VALUE` filters as the API's JSON.
fn filters(list: &[String], extra: &[(&str, &str)]) -> Result<String> {
    let mut map = Map::new();
    let pairs = list
        .iter()
        .map(|f| {
            f.split_once('=')
                .ok_or_else(|| anyhow::anyhow!("bad filter {f:?}: use KEY=VALUE"))
        })
        .collect::<Result<Vec<_>>>()?;
    for (key, value) in pairs.into_iter().chain(extra.iter().copied()) {
        map.entry(key.to_string())
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .expect("an array")
            .push(json!(value));
    }
    Ok(if map.is_empty() {
        String::new()
    } else {
        Value::Object(map).to_string()
    })
}

impl VolumeVerbs {
    /// Carries out the verb.
    pub fn execute(self, client: &Client) -> Result<i32> {
        match self {
            VolumeVerbs::Create {
                driver,
                labels,
                name,
            } => {
                let mut label_map = Map::new();
                for label in labels {
                    let (key, value) = label.split_once('=').unwrap_or((&label, ""));
                    if key.is_empty() {
                        bail!("--label {label}: a label needs a key (KEY=VALUE)");
                    }
                    label_map.insert(key.into(), json!(value));
                }
                let body = json!({
                    "Name": name.unwrap_or_default(),
                    "Driver": driver,
                    "Labels": label_map,
                });
                let volume = client.post("/volumes/create", Some(&body))?;
                println!("{}", volume["Name"].as_str().unwrap_or_default());
                Ok(0)
            }
            VolumeVerbs::Ls {
                quiet,
                filter,
                format,
            } => {
                let path = format!("/volumes{}", query(&[("filters", filters(&filter, &[])?)]));
                let answer = client.get(&path)?;
                let rows: Vec<Value> = answer["Volumes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|v| {
                        json!({"Name": v["Name"], "Driver": v["Driver"], "Mountpoint": v["Mountpoint"],
                               "Labels": v["Labels"], "Scope": v["Scope"]})
                    })
                    .collect();
                if quiet {
                    for row in &rows {
                        println!("{}", row["Name"].as_str().unwrap_or_default());
                    }
                    return Ok(0);
                }
                if let Some(format) = format {
                    print_formatted(&rows, &format)?;
                    return Ok(0);
                }
                let mut table = vec![vec!["DRIVER".to_string(), "VOLUME NAME".to_string()]];
                for row in &rows {
                    let cell = |key: &str| row[key].as_str().unwrap_or_default().to_string();
                    table.push(vec![cell("Driver"), cell("Name")]);
                }
                print!("{}", ch01_process::shell::table(&table));
                Ok(0)
            }
            VolumeVerbs::Inspect { format, volumes } => {
                super::containers::inspect_each(&volumes, format.as_deref(), |name| {
                    client
                        .get(&format!("/volumes/{name}"))
                        .map_err(|error| error.to_string())
                })
            }
            VolumeVerbs::Rm { force, volumes } => super::containers::each(&volumes, |name| {
                let q = query(&[("force", if force { "1".into() } else { String::new() })]);
                client
                    .send("DELETE", &format!("/volumes/{name}{q}"), None, &[])
                    .map(drop)
            }),
            VolumeVerbs::Prune {
                all,
                force: _,
                filter,
            } => {
                let extra: &[(&str, &str)] = if all { &[("all", "true")] } else { &[] };
                let path = format!(
                    "/volumes/prune{}",
                    query(&[("filters", filters(&filter, extra)?)])
                );
                let pruned = client.post(&path, None)?;
                let deleted = pruned["VolumesDeleted"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if !deleted.is_empty() {
                    println!("Deleted Volumes:");
                    for name in deleted {
                        println!("{}", name.as_str().unwrap_or_default());
                    }
                    println!();
                }
                println!(
                    "Total reclaimed space: {}",
                    human_size(pruned["SpaceReclaimed"].as_u64().unwrap_or(0))
                );
                Ok(0)
            }
        }
    }
}
