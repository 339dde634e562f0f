//! `skiff network ...` and `skiff port`: chapter 6's verbs, through the API.

use super::containers::print_formatted;
use crate::client::{Client, query};
use anyhow::{Result, bail};
use clap::Subcommand;
use serde_json::{Value, json};

/// `skiff network`.
#[derive(Debug, Clone, Subcommand)]
pub enum NetworkVerbs {
    /// Create a network: a bridge, a subnet, containers found by name
    Create {
        /// bridge (the only driver)
        #[arg(short, long, default_value = "bridge")]
        driver: String,
        /// The subnet in CIDR notation (one from the pool when not given)
        #[arg(long)]
        subnet: Option<String>,
        /// The bridge's address (the subnet's first by default)
        #[arg(long)]
        gateway: Option<String>,
        /// No way out of the network, no published ports
        #[arg(long)]
        internal: bool,
        /// A driver option (KEY=VALUE): com.docker.network.driver.mtu=BYTES
        #[arg(short, long = "opt")]
        opt: Vec<String>,
        /// A label (KEY=VALUE)
        #[arg(long)]
        label: Vec<String>,
        name: String,
    },
    /// List networks
    #[command(alias = "list")]
    Ls {
        #[arg(short, long)]
        quiet: bool,
        /// Filter: name=, id=, driver=, label=
        #[arg(short, long = "filter")]
        filter: Vec<String>,
        /// A Go template, or `table TEMPLATE`
        #[arg(long)]
        format: Option<String>,
    },
    /// Show networks as JSON
    Inspect {
        #[arg(short, long)]
        format: Option<String>,
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Remove networks
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Remove every network no container uses
    Prune {
        #[arg(short, long)]
        force: bool,
    },
    /// Connect a container to one more network (now if it runs, and at every start)
    Connect {
        /// Another name the container answers to on this network
        #[arg(long = "alias", value_name = "NAME")]
        aliases: Vec<String>,
        /// Its address on this network
        #[arg(long, value_name = "IP")]
        ip: Option<String>,
        network: String,
        container: String,
    },
    /// Disconnect a container from a network
    Disconnect { network: String, container: String },
}

const LS_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";

/// `--filter K=V` flags as the API's `filters` JSON.
pub fn filters_json(filters: &[String], hint: &str) -> Result<String> {
    let mut map = serde_json::Map::new();
    for filter in filters {
        let Some((key, value)) = filter.split_once('=') else {
            bail!("bad filter {filter:?}: use KEY=VALUE ({hint})");
        };
        if let Some(list) = map
            .entry(key.to_string())
            .or_insert_with(|| json!([]))
            .as_array_mut()
        {
            list.push(json!(value));
        }
    }
    Ok(if map.is_empty() {
        String::new()
    } else {
        Value::Object(map).to_string()
    })
}

impl NetworkVerbs {
    pub fn execute(self, client: &Client) -> Result<i32> {
        match self {
            NetworkVerbs::Create {
                driver,
                subnet,
                gateway,
                internal,
                opt,
                label,
                name,
            } => {
                let pairs = |list: &[String]| -> serde_json::Map<String, Value> {
                    list.iter()
                        .map(|l| {
                            let (k, v) = l.split_once('=').unwrap_or((l, ""));
                            (k.to_string(), json!(v))
                        })
                        .collect()
                };
                let labels = pairs(&label);
                let options = pairs(&opt);
                let config: Vec<Value> = if subnet.is_some() || gateway.is_some() {
                    vec![json!({
                        "Subnet": subnet.unwrap_or_default(),
                        "Gateway": gateway.unwrap_or_default(),
                    })]
                } else {
                    Vec::new()
                };
                let created = client.post(
                    "/networks/create",
                    Some(&json!({
                        "Name": name, "Driver": driver, "Internal": internal,
                        "IPAM": {"Driver": "default", "Config": config},
                        "Labels": labels, "Options": options,
                    })),
                )?;
                println!("{}", created["Id"].as_str().unwrap_or_default());
                Ok(0)
            }
            NetworkVerbs::Ls {
                quiet,
                filter,
                format,
            } => {
                let filters = filters_json(&filter, "name=, id=, driver=, label=")?;
                let networks =
                    client.get(&format!("/networks{}", query(&[("filters", filters)])))?;
                let mut rows: Vec<Value> = networks
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|n| {
                        json!({
                            "ID": n["Id"].as_str().unwrap_or_default().chars().take(12).collect::<String>(),
                            "Name": n["Name"], "Driver": n["Driver"], "Scope": n["Scope"],
                            "Internal": n["Internal"], "CreatedAt": n["Created"],
                        })
                    })
                    .collect();
                rows.sort_by(|a, b| a["Name"].as_str().cmp(&b["Name"].as_str()));
                if quiet {
                    for row in &rows {
                        println!("{}", row["ID"].as_str().unwrap_or_default());
                    }
                    return Ok(0);
                }
                print_formatted(&rows, format.as_deref().unwrap_or(LS_TABLE))?;
                Ok(0)
            }
            NetworkVerbs::Inspect { format, networks } => {
                super::containers::inspect_each(&networks, format.as_deref(), |name| {
                    client
                        .get(&format!("/networks/{name}"))
                        .map_err(|error| format!("Error: {error}"))
                })
            }
            NetworkVerbs::Rm { networks } => super::containers::each(&networks, |n| {
                client.delete(&format!("/networks/{n}")).map(drop)
            }),
            NetworkVerbs::Prune { force: _ } => {
                let pruned = client.post("/networks/prune", None)?;
                println!("Deleted Networks:");
                for name in pruned["NetworksDeleted"].as_array().into_iter().flatten() {
                    println!("{}", name.as_str().unwrap_or_default());
                }
                Ok(0)
            }
            NetworkVerbs::Connect {
                aliases,
                ip,
                network,
                container,
            } => {
                let mut endpoint = json!({ "Aliases": aliases });
                if let Some(ip) = ip {
                    endpoint["IPAMConfig"] = json!({ "IPv4Address": ip });
                }
                client.post(
                    &format!("/networks/{network}/connect"),
                    Some(&json!({ "Container": container, "EndpointConfig": endpoint })),
                )?;
                Ok(0)
            }
            NetworkVerbs::Disconnect { network, container } => {
                client.post(
                    &format!("/networks/{network}/disconnect"),
                    Some(&json!({ "Container": container })),
                )?;
                Ok(0)
            }
        }
    }
}

/// `skiff port CONTAINER [PORT[/PROTO]]`, from `NetworkSettings.Ports`.
pub fn port(client: &Client, container: &str, wanted: Option<&str>) -> Result<i32> {
    let inspected = client.get(&format!("/containers/{container}/json"))?;
    let mut lines = Vec::new();
    let wanted = wanted.map(|w| {
        if w.contains('/') {
            w.to_string()
        } else {
            format!("{w}/tcp")
        }
    });
    for (port, bindings) in inspected["NetworkSettings"]["Ports"]
        .as_object()
        .into_iter()
        .flatten()
    {
        for binding in bindings.as_array().into_iter().flatten() {
            let host = format!(
                "{}:{}",
                binding["HostIp"].as_str().unwrap_or_default(),
                binding["HostPort"].as_str().unwrap_or_default()
            );
            match &wanted {
                Some(w) if w == port => lines.push(host),
                Some(_) => {}
                None => lines.push(format!("{port} -> {host}")),
            }
        }
    }
    if let Some(w) = &wanted
        && lines.is_empty()
    {
        bail!("no public port '{w}' published for {container}");
    }
    for line in lines {
        println!("{line}");
    }
    Ok(0)
}
