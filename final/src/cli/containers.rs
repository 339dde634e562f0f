//! `ps`, `logs`, `inspect`, `stats`, `top`, `events`, and the one-line
//! verbs (`stop`, `kill`, `rm`...), as docker prints them.

use crate::client::{Client, query};
use crate::template::Template;
use anyhow::{Result, bail};
use ch01_process::shell::{human_duration, table};
use serde_json::{Value, json};
use std::time::Duration;

/// Now, in unix seconds.
fn now_seconds() -> i64 {
    (ch02_namespaces::records::now() / 1_000_000_000) as i64
}

fn ago(seconds: i64) -> String {
    human_duration(Duration::from_secs((now_seconds() - seconds).max(0) as u64))
}

/// docker's column names for the fields of `ps`, `images`...
fn header_name(field: &str) -> Option<&'static str> {
    Some(match field {
        "ID" => "CONTAINER ID",
        "Image" => "IMAGE",
        "Command" => "COMMAND",
        "RunningFor" => "CREATED",
        "CreatedAt" => "CREATED AT",
        "Status" => "STATUS",
        "Ports" => "PORTS",
        "Names" => "NAMES",
        "Name" => "NAME",
        "Service" => "SERVICE",
        "State" => "STATE",
        "Labels" => "LABELS",
        "Repository" => "REPOSITORY",
        "Tag" => "TAG",
        "Size" => "SIZE",
        "CreatedSince" => "CREATED",
        _ => return None,
    })
}

/// Prints `rows` with `format` (or the default table): a `table` format
/// gets a header and aligned columns.
pub fn print_formatted(rows: &[Value], format: &str) -> Result<()> {
    let template = Template::parse(format)?;
    let mut lines = Vec::new();
    if template.table {
        lines.push(template.header(&header_name));
    }
    for row in rows {
        lines.push(template.render(row)?);
    }
    if template.table {
        let cells: Vec<Vec<String>> = lines
            .iter()
            .map(|l| l.split('\t').map(String::from).collect())
            .collect();
        print!("{}", table(&cells));
    } else {
        for line in lines {
            println!("{line}");
        }
    }
    Ok(())
}

/// The PORTS column (chapter 6's), from the API's `Ports` entries.
fn ports_column(ports: &Value) -> String {
    use ch06_network::ports::{PortMapping, Protocol};
    let mappings: Vec<PortMapping> = ports
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some(PortMapping {
                container_port: u16::try_from(p["PrivatePort"].as_u64()?).ok()?,
                protocol: if p["Type"] == "udp" {
                    Protocol::Udp
                } else {
                    Protocol::Tcp
                },
                host_ip: p["IP"].as_str()?.parse().ok()?,
                host_port: u16::try_from(p["PublicPort"].as_u64()?).ok()?,
            })
        })
        .collect();
    ch06_network::verbs::ports_column(&mappings)
}

/// The fields `docker ps --format` knows, for one container.
pub fn ps_row(container: &Value) -> Value {
    let names: Vec<String> = container["Names"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str().map(|n| n.trim_start_matches('/').to_string()))
        .collect();
    let command = container["Command"].as_str().unwrap_or_default();
    let command = if command.chars().count() > 20 {
        format!("{}…", command.chars().take(19).collect::<String>())
    } else {
        command.to_string()
    };
    let created = container["Created"].as_i64().unwrap_or(0);
    let labels = container["Labels"]
        .as_object()
        .map(|l| {
            l.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "ID": container["Id"].as_str().unwrap_or_default().chars().take(12).collect::<String>(),
        "Image": container["Image"],
        "Command": format!("\"{command}\""),
        "CreatedAt": ch05_images::history::rfc3339(created.max(0) as u64),
        "RunningFor": format!("{} ago", ago(created)),
        "Ports": ports_column(&container["Ports"]),
        "Status": container["Status"],
        "State": container["State"],
        "Names": names.join(","),
        "Labels": labels,
        "Mounts": "",
        "Networks": container["NetworkSettings"]["Networks"]
            .as_object()
            .map(|n| n.keys().cloned().collect::<Vec<_>>().join(","))
            .unwrap_or_default(),
    })
}

const PS_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

/// `skiff ps`.
pub fn ps(
    client: &Client,
    all: bool,
    quiet: bool,
    last: Option<i64>,
    filters: &[String],
    format: Option<&str>,
) -> Result<i32> {
    let mut filter_map = serde_json::Map::new();
    for filter in filters {
        let Some((key, value)) = filter.split_once('=') else {
            bail!(
                "bad filter {filter:?}: use KEY=VALUE (status=exited, name=web, label=k=v, ancestor=IMAGE)"
            );
        };
        filter_map
            .entry(key.to_string())
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .expect("an array")
            .push(json!(value));
    }
    let all = all || last.is_some();
    let path = format!(
        "/containers/json{}",
        query(&[
            ("all", if all { "1".into() } else { String::new() }),
            ("limit", last.map(|l| l.to_string()).unwrap_or_default()),
            (
                "filters",
                if filter_map.is_empty() {
                    String::new()
                } else {
                    Value::Object(filter_map).to_string()
                }
            ),
        ])
    );
    let containers = client.get(&path)?;
    let rows: Vec<Value> = containers
        .as_array()
        .into_iter()
        .flatten()
        .map(ps_row)
        .collect();
    if quiet {
        for row in &rows {
            println!("{}", row["ID"].as_str().unwrap_or_default());
        }
        return Ok(0);
    }
    print_formatted(&rows, format.unwrap_or(PS_TABLE))?;
    Ok(0)
}

/// `skiff inspect [-f FORMAT] NAME...`: containers, then images,
/// networks and volumes.
pub fn inspect(client: &Client, names: &[String], format: Option<&str>) -> Result<i32> {
    inspect_each(names, format, |name| {
        client
            .get(&format!("/containers/{name}/json"))
            .or_else(|_| client.get(&format!("/images/{name}/json")))
            .or_else(|_| client.get(&format!("/networks/{name}")))
            .or_else(|_| client.get(&format!("/volumes/{name}")))
            .map_err(|_| format!("Error: No such object: {name}"))
    })
}

/// The `inspect` verbs: each of `names` looked up with `lookup`, what was
/// found printed as a JSON array (or one line each with `format`), what
/// was not said on standard error; exit code 1 when anything was missing.
pub fn inspect_each(
    names: &[String],
    format: Option<&str>,
    lookup: impl Fn(&str) -> std::result::Result<Value, String>,
) -> Result<i32> {
    let mut found = Vec::new();
    let mut code = 0;
    for name in names {
        match lookup(name) {
            Ok(value) => found.push(value),
            Err(message) => {
                eprintln!("{message}");
                code = 1;
            }
        }
    }
    match format {
        Some(format) => {
            let template = Template::parse(format)?;
            for value in &found {
                println!("{}", template.render(value)?);
            }
        }
        None => println!("{}", serde_json::to_string_pretty(&found)?),
    }
    Ok(code)
}

/// `skiff logs`.
#[allow(clippy::too_many_arguments)]
pub fn logs(
    client: &Client,
    container: &str,
    follow: bool,
    tail: Option<&str>,
    since: Option<&str>,
    until: Option<&str>,
    timestamps: bool,
) -> Result<i32> {
    let inspect = client.get(&format!("/containers/{container}/json"))?;
    let tty = inspect["Config"]["Tty"].as_bool().unwrap_or(false);
    let flag = |on: bool| if on { "1".to_string() } else { String::new() };
    let path = format!(
        "/containers/{container}/logs{}",
        query(&[
            ("stdout", "1".into()),
            ("stderr", "1".into()),
            ("follow", flag(follow)),
            ("timestamps", flag(timestamps)),
            ("tail", tail.unwrap_or_default().to_string()),
            ("since", since.map(time_arg).unwrap_or_default()),
            ("until", until.map(time_arg).unwrap_or_default()),
        ])
    );
    let mut response = client.send("GET", &path, None, &[])?;
    if tty {
        std::io::copy(&mut response, &mut std::io::stdout())?;
    } else {
        super::stream::demultiplex(&mut response)?;
    }
    Ok(0)
}

/// `--since 10m`, `--since 2026-11-23T10:00:00Z` or unix seconds, as the
/// API wants it: unix seconds.
fn time_arg(text: &str) -> String {
    if let Some(seconds) = ch05_images::history::parse_rfc3339(text) {
        return seconds.to_string();
    }
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "" => return number.to_string(),
        _ => return text.to_string(),
    };
    (now_seconds() - number.parse::<i64>().unwrap_or(0) * scale).to_string()
}

/// `skiff stats [--no-stream] [CONTAINER...]`.
pub fn stats(client: &Client, containers: &[String]) -> Result<i32> {
    let names: Vec<String> = if containers.is_empty() {
        client
            .get("/containers/json")?
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["Id"].as_str().map(String::from))
            .collect()
    } else {
        containers.to_vec()
    };
    let mut rows = vec![
        [
            "CONTAINER ID",
            "NAME",
            "CPU %",
            "MEM USAGE / LIMIT",
            "MEM %",
            "PIDS",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for name in names {
        let stats = client.get(&format!("/containers/{name}/stats?stream=0"))?;
        let cpu = stats["cpu_stats"]["cpu_usage"]["total_usage"]
            .as_f64()
            .unwrap_or(0.0)
            - stats["precpu_stats"]["cpu_usage"]["total_usage"]
                .as_f64()
                .unwrap_or(0.0);
        let system = stats["cpu_stats"]["system_cpu_usage"]
            .as_f64()
            .unwrap_or(0.0)
            - stats["precpu_stats"]["system_cpu_usage"]
                .as_f64()
                .unwrap_or(0.0);
        let cpus = stats["cpu_stats"]["online_cpus"].as_f64().unwrap_or(1.0);
        let percent = if system > 0.0 {
            cpu / system * cpus * 100.0
        } else {
            0.0
        };
        let usage = stats["memory_stats"]["usage"].as_u64().unwrap_or(0);
        let limit = stats["memory_stats"]["limit"].as_u64().unwrap_or(1).max(1);
        rows.push(vec![
            stats["id"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .take(12)
                .collect(),
            stats["name"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            format!("{percent:.2}%"),
            format!(
                "{} / {}",
                ch03_cgroups::stats::human(usage),
                ch03_cgroups::stats::human(limit)
            ),
            format!("{:.2}%", usage as f64 / limit as f64 * 100.0),
            stats["pids_stats"]["current"]
                .as_u64()
                .unwrap_or(0)
                .to_string(),
        ]);
    }
    print!("{}", table(&rows));
    Ok(0)
}

/// `skiff top CONTAINER`.
pub fn top(client: &Client, container: &str) -> Result<i32> {
    let top = client.get(&format!("/containers/{container}/top"))?;
    let mut rows = vec![
        top["Titles"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| t.as_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>(),
    ];
    for process in top["Processes"].as_array().into_iter().flatten() {
        rows.push(
            process
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| c.as_str().unwrap_or_default().to_string())
                .collect(),
        );
    }
    print!("{}", table(&rows));
    Ok(0)
}

/// `skiff diff CONTAINER`.
pub fn diff(client: &Client, container: &str) -> Result<i32> {
    for change in client
        .get(&format!("/containers/{container}/changes"))?
        .as_array()
        .into_iter()
        .flatten()
    {
        let kind = match change["Kind"].as_i64() {
            Some(1) => "A",
            Some(2) => "D",
            _ => "C",
        };
        println!("{kind} {}", change["Path"].as_str().unwrap_or_default());
    }
    Ok(0)
}

/// `skiff events [--since] [--until] [--filter K=V]...`.
pub fn events(
    client: &Client,
    since: Option<&str>,
    until: Option<&str>,
    filters: &[String],
    format: Option<&str>,
) -> Result<i32> {
    let mut filter_map = serde_json::Map::new();
    for filter in filters {
        if let Some((key, value)) = filter.split_once('=') {
            filter_map
                .entry(key.to_string())
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .expect("an array")
                .push(json!(value));
        }
    }
    let path = format!(
        "/events{}",
        query(&[
            ("since", since.map(time_arg).unwrap_or_default()),
            ("until", until.map(time_arg).unwrap_or_default()),
            (
                "filters",
                if filter_map.is_empty() {
                    String::new()
                } else {
                    Value::Object(filter_map).to_string()
                }
            ),
        ])
    );
    let response = client.send("GET", &path, None, &[])?;
    let template = format.map(Template::parse).transpose()?;
    let reader = std::io::BufReader::new(response);
    for line in std::io::BufRead::lines(reader) {
        let event: Value = serde_json::from_str(&line?)?;
        match &template {
            Some(template) => println!("{}", template.render(&event)?),
            None => {
                let nanos = event["timeNano"].as_u64().unwrap_or(0);
                let attributes = event["Actor"]["Attributes"]
                    .as_object()
                    .map(|a| {
                        a.iter()
                            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                println!(
                    "{} {} {} {} ({attributes})",
                    ch05_images::history::rfc3339_nanos(nanos),
                    event["Type"].as_str().unwrap_or_default(),
                    event["Action"].as_str().unwrap_or_default(),
                    event["Actor"]["ID"].as_str().unwrap_or_default(),
                );
            }
        }
    }
    Ok(0)
}

/// A one-line verb on each container (`stop`, `kill`, `rm`...): prints
/// each name as docker does; a failure is reported and the others go on.
pub fn each(
    containers: &[String],
    mut verb: impl FnMut(&str) -> crate::client::Result<()>,
) -> Result<i32> {
    let mut code = 0;
    for container in containers {
        match verb(container) {
            Ok(()) => println!("{container}"),
            Err(error) => {
                eprintln!(
                    "Error response from daemon: {}",
                    error
                        .to_string()
                        .trim_start_matches("Error response from daemon: ")
                );
                code = 1;
            }
        }
    }
    Ok(code)
}
