//! `skiff run`, `create`, `start -a`, `attach`, `exec`: the verbs that
//! stream a container's stdio through the daemon.

use super::stream::{RawTerminal, pump, stdin_is_terminal, terminal_size};
use crate::client::{Client, ClientError, query};
use anyhow::{Context, Result};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// `docker run`'s flags (and `create`'s).
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Run in the background and print the container's id
    #[arg(short, long)]
    pub detach: bool,
    /// The keys that detach a terminal, leaving the container running (default ctrl-p,ctrl-q)
    #[arg(long = "detach-keys", value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Keep stdin open
    #[arg(short, long)]
    pub interactive: bool,
    /// Give the container a terminal
    #[arg(short, long)]
    pub tty: bool,
    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Mount the container's root read-only
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Run an init as PID 1 that forwards signals and reaps zombies
    #[arg(long)]
    pub init: bool,
    #[arg(long)]
    pub name: Option<String>,
    /// Set an environment variable (KEY=VALUE, or KEY to pass ours on)
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read environment variables from a file (KEY=VALUE lines)
    #[arg(long = "env-file")]
    pub env_file: Vec<std::path::PathBuf>,
    /// Publish a port: [IP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp]
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Publish every exposed port on a port the kernel picks
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Another name the container answers to on a user-defined network
    #[arg(long = "network-alias")]
    pub network_alias: Vec<String>,
    /// The container's address on a user-defined network
    #[arg(long)]
    pub ip: Option<String>,
    /// A DNS server for the container
    #[arg(long)]
    pub dns: Vec<String>,
    /// A line for /etc/hosts: NAME:IP (IP may be host-gateway)
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// The MAC address of the container's eth0
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
    /// Mount a volume: SOURCE:TARGET[:ro]
    #[arg(short = 'v', long = "volume")]
    pub volumes: Vec<String>,
    /// Mount: type=bind|volume|tmpfs,source=...,target=...[,readonly]
    #[arg(long = "mount")]
    pub mounts: Vec<String>,
    /// Mount a tmpfs: PATH[:OPTIONS]
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// bridge (the default), none, host, container:NAME, or a network's name; again for one more network
    #[arg(long)]
    pub network: Vec<String>,
    /// no, always, unless-stopped, on-failure[:N]
    #[arg(long)]
    pub restart: Option<String>,
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    #[arg(long)]
    pub cpus: Option<f64>,
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<i64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    #[arg(long)]
    pub pid: Option<String>,
    #[arg(short, long)]
    pub user: Option<String>,
    #[arg(short, long)]
    pub workdir: Option<String>,
    #[arg(long)]
    pub hostname: Option<String>,
    #[arg(long)]
    pub entrypoint: Option<String>,
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Set a label (KEY=VALUE)
    #[arg(short, long)]
    pub label: Vec<String>,
    /// Log options: max-size=SIZE, max-file=N
    #[arg(long = "log-opt")]
    pub log_opt: Vec<String>,
    /// Supplementary groups of the container's process, by number
    #[arg(long = "group-add")]
    pub group_add: Vec<String>,
    /// The logging driver: json-file (what `logs` reads) or none
    #[arg(long = "log-driver", default_value = "json-file")]
    pub log_driver: String,
    #[arg(long = "stop-timeout")]
    pub stop_timeout: Option<i64>,
    /// A command that says whether the container works (exit code 0)
    #[arg(long = "health-cmd")]
    pub health_cmd: Option<String>,
    /// Time between healthchecks (e.g. 30s, 1m30s)
    #[arg(long = "health-interval")]
    pub health_interval: Option<String>,
    /// How long a healthcheck may take
    #[arg(long = "health-timeout")]
    pub health_timeout: Option<String>,
    /// Failures in a row that make the container unhealthy
    #[arg(long = "health-retries")]
    pub health_retries: Option<i64>,
    /// Time to start in, during which failures do not count
    #[arg(long = "health-start-period")]
    pub health_start_period: Option<String>,
    /// Time between healthchecks during the start period
    #[arg(long = "health-start-interval")]
    pub health_start_interval: Option<String>,
    /// No healthcheck, not even the image's
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// The image
    pub image: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

fn size(text: &str) -> Result<i64> {
    if text == "-1" {
        return Ok(-1);
    }
    Ok(ch03_cgroups::parse_size(text)? as i64)
}

fn key_values(pairs: &[String]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (p.to_string(), String::new()),
        })
        .collect()
}

/// `-e KEY` copies our KEY; `--env-file` lines come first.
fn environment(args: &RunArgs) -> Result<Vec<String>> {
    let mut env = Vec::new();
    for file in &args.env_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("--env-file {}", file.display()))?;
        for line in text.lines().map(str::trim) {
            if !line.is_empty() && !line.starts_with('#') {
                ch01_process::cli::apply_env_flag(&mut env, line);
            }
        }
    }
    for flag in &args.env {
        ch01_process::cli::apply_env_flag(&mut env, flag);
    }
    Ok(env)
}

fn mounts(args: &RunArgs) -> Result<Vec<Value>> {
    args.mounts
        .iter()
        .map(|spec| {
            let mut mount = json!({"Type": "volume", "ReadOnly": false});
            for part in spec.split(',') {
                let (key, value) = part.split_once('=').unwrap_or((part, "true"));
                match key {
                    "type" => mount["Type"] = json!(value),
                    "source" | "src" => mount["Source"] = json!(value),
                    "target" | "destination" | "dst" => mount["Target"] = json!(value),
                    "readonly" | "ro" => mount["ReadOnly"] = json!(value != "false"),
                    other => anyhow::bail!("--mount {spec}: unknown key {other:?}"),
                }
            }
            Ok(mount)
        })
        .collect()
}

/// The `Healthcheck` of `--health-*` (`None`: the image's, if any).
fn healthcheck(args: &RunArgs) -> Result<Value> {
    if args.no_healthcheck {
        return Ok(json!({"Test": ["NONE"]}));
    }
    let nanos = |flag: &str, value: &Option<String>| -> Result<i64> {
        value
            .as_deref()
            .map(ch05_images::dockerfile::healthcheck::parse_duration)
            .transpose()
            .map_err(|why| anyhow::anyhow!("--{flag}: {why}"))
            .map(Option::unwrap_or_default)
    };
    let given = args.health_cmd.is_some()
        || args.health_interval.is_some()
        || args.health_timeout.is_some()
        || args.health_retries.is_some()
        || args.health_start_period.is_some()
        || args.health_start_interval.is_some();
    if !given {
        return Ok(Value::Null);
    }
    Ok(json!({
        "Test": args.health_cmd.as_ref().map_or_else(Vec::new, |c| vec!["CMD-SHELL".to_string(), c.clone()]),
        "Interval": nanos("health-interval", &args.health_interval)?,
        "Timeout": nanos("health-timeout", &args.health_timeout)?,
        "StartPeriod": nanos("health-start-period", &args.health_start_period)?,
        "StartInterval": nanos("health-start-interval", &args.health_start_interval)?,
        "Retries": args.health_retries.unwrap_or(0),
    }))
}

/// `-p` as docker sends it: the ports to expose, and their host sides
/// (`{"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}`).
fn port_bindings(args: &RunArgs) -> Result<(Value, Value)> {
    let mut exposed = serde_json::Map::new();
    let mut bindings = serde_json::Map::new();
    for spec in &args.publish {
        for port in ch06_network::parse_publish(spec)? {
            let key = format!("{}/{}", port.container_port, port.protocol);
            exposed.insert(key.clone(), json!({}));
            let host_ip = if port.host_ip.is_unspecified() {
                String::new()
            } else {
                port.host_ip.to_string()
            };
            let binding = json!({
                "HostIp": host_ip,
                "HostPort": port.host_port.map(|p| p.to_string()).unwrap_or_default(),
            });
            if let Some(list) = bindings
                .entry(key)
                .or_insert_with(|| json!([]))
                .as_array_mut()
            {
                list.push(binding);
            }
        }
    }
    Ok((Value::Object(exposed), Value::Object(bindings)))
}

/// `--network-alias`, `--ip`, `--mac-address`: the settings of the first
/// network the container joins; one entry more for each further
/// `--network`, as the docker CLI sends them.
fn networking_config(args: &RunArgs) -> Value {
    let mut endpoints = serde_json::Map::new();
    let first_has_settings =
        !args.network_alias.is_empty() || args.ip.is_some() || args.mac_address.is_some();
    if first_has_settings || args.network.len() > 1 {
        let first = args
            .network
            .first()
            .cloned()
            .unwrap_or_else(|| "default".to_string());
        endpoints.insert(
            first,
            json!({
                "Aliases": args.network_alias,
                "IPAMConfig": args.ip.as_ref().map(|ip| json!({"IPv4Address": ip})),
                "MacAddress": args.mac_address.clone().unwrap_or_default(),
            }),
        );
    }
    for more in args.network.iter().skip(1) {
        endpoints.insert(more.clone(), json!({}));
    }
    json!({ "EndpointsConfig": endpoints })
}

// ANCHOR: body
/// The create request `docker run` sends for these flags.
pub fn create_body(args: &RunArgs) -> Result<Value> {
    let restart = args.restart.as_deref().map(|r| {
        let (name, count) = r.split_once(':').unwrap_or((r, "0"));
        json!({"Name": name, "MaximumRetryCount": count.parse::<u32>().unwrap_or(0)})
    });
    let tmpfs: BTreeMap<String, String> = args
        .tmpfs
        .iter()
        .map(|t| match t.split_once(':') {
            Some((p, o)) => (p.to_string(), o.to_string()),
            None => (t.to_string(), String::new()),
        })
        .collect();
    let attach = !args.detach;
    let (exposed, bindings) = port_bindings(args)?;
    Ok(json!({
        "Hostname": args.hostname.clone().unwrap_or_default(),
        "User": args.user.clone().unwrap_or_default(),
        "AttachStdin": attach && args.interactive,
        "AttachStdout": attach,
        "AttachStderr": attach,
        "Tty": args.tty,
        "OpenStdin": args.interactive,
        "StdinOnce": args.interactive && attach,
        "Env": environment(args)?,
        "Cmd": if args.command.is_empty() { Value::Null } else { json!(args.command) },
        "Entrypoint": args.entrypoint.as_ref().map(|e| json!([e])).unwrap_or(Value::Null),
        "Image": args.image,
        "Labels": key_values(&args.label),
        "WorkingDir": args.workdir.clone().unwrap_or_default(),
        "StopSignal": args.stop_signal,
        "StopTimeout": args.stop_timeout,
        "Healthcheck": healthcheck(args)?,
        "ExposedPorts": exposed,
        "NetworkingConfig": networking_config(args),
        "HostConfig": {
            "PortBindings": bindings,
            "PublishAllPorts": args.publish_all,
            "Dns": args.dns,
            "ExtraHosts": args.add_host,
            "Binds": args.volumes,
            "Mounts": mounts(args)?,
            "Tmpfs": tmpfs,
            "Memory": args.memory.as_deref().map(size).transpose()?.unwrap_or(0),
            "MemorySwap": args.memory_swap.as_deref().map(size).transpose()?.unwrap_or(0),
            "NanoCpus": args.cpus.map_or(0, |c| (c * 1e9) as i64),
            "CpuShares": args.cpu_shares.unwrap_or(0),
            "CpusetCpus": args.cpuset_cpus.clone().unwrap_or_default(),
            "PidsLimit": args.pids_limit,
            "PidMode": args.pid.clone().unwrap_or_default(),
            "NetworkMode": args.network.first().cloned().unwrap_or_default(),
            "RestartPolicy": restart,
            "AutoRemove": args.rm,
            "ReadonlyRootfs": args.read_only,
            "Init": args.init.then_some(true),
            "CapAdd": args.cap_add,
            "GroupAdd": args.group_add,
            "CapDrop": args.cap_drop,
            "SecurityOpt": args.security_opt,
            "LogConfig": {"Type": args.log_driver, "Config": key_values(&args.log_opt)},
        },
    }))
}
// ANCHOR_END: body

/// Creates the container, pulling its image first when the daemon does
/// not have it (as the docker CLI does on a 404 "No such image").
pub fn create(client: &Client, args: &RunArgs) -> Result<String> {
    let body = create_body(args)?;
    let path = format!(
        "/containers/create{}",
        query(&[("name", args.name.clone().unwrap_or_default())])
    );
    let created = match client.post(&path, Some(&body)) {
        Err(ClientError::Daemon { status: 404, .. }) => {
            eprintln!("Unable to find image '{}' locally", args.image);
            super::images::pull(client, &args.image, true)?;
            client.post(&path, Some(&body))?
        }
        other => other?,
    };
    for warning in created["Warnings"].as_array().into_iter().flatten() {
        eprintln!("WARNING: {}", warning.as_str().unwrap_or_default());
    }
    Ok(created["Id"].as_str().unwrap_or_default().to_string())
}

/// The exit code the docker CLI gives a container that failed to start.
pub fn start_failure_code(error: &ClientError) -> i32 {
    let message = error.to_string();
    if message.contains("executable file not found")
        || message.contains("no such file or directory")
    {
        127
    } else if message.contains("permission denied") {
        126
    } else {
        125
    }
}

// ANCHOR: run
/// `skiff run`: create, then (unless detached) attach and wait before the
/// start, so that nothing the container prints is missed, then start.
pub fn run(client: &Client, args: &RunArgs) -> Result<i32> {
    let id = create(client, args)?;
    if args.detach {
        start(client, &id).map_err(|e| exit_error(&e))?;
        println!("{id}");
        return Ok(0);
    }
    let condition = if args.rm { "removed" } else { "next-exit" };
    let waiter = {
        let client = client.clone();
        let path = format!("/containers/{id}/wait?condition={condition}");
        // The answer's headers come at once; its body when the container exits.
        let response = client.send("POST", &path, None, &[])?;
        std::thread::spawn(move || response.json())
    };
    let attached = attach_stream(client, &id, args.interactive, args.detach_keys.as_deref())?;
    let _raw = (args.tty && stdin_is_terminal()).then(RawTerminal::enter);
    if let Err(error) = start(client, &id) {
        drop(_raw);
        eprintln!("skiff: {error}");
        return Ok(start_failure_code(&error));
    }
    if args.tty {
        resize(client, &format!("/containers/{id}/resize"));
    }
    pump(attached, args.tty, args.interactive)?;
    let status = waiter
        .join()
        .map_err(|_| anyhow::anyhow!("the wait failed"))??;
    Ok(status["StatusCode"].as_i64().unwrap_or(125) as i32)
}
// ANCHOR_END: run

fn exit_error(error: &ClientError) -> anyhow::Error {
    anyhow::anyhow!("{error}")
}

pub fn start(client: &Client, id: &str) -> crate::client::Result<()> {
    client.send("POST", &format!("/containers/{id}/start"), None, &[])?;
    Ok(())
}

fn attach_stream(
    client: &Client,
    id: &str,
    stdin: bool,
    detach_keys: Option<&str>,
) -> Result<crate::client::http::Response> {
    let mut path = format!(
        "/containers/{id}/attach?stream=1&stdout=1&stderr=1{}",
        if stdin { "&stdin=1" } else { "" }
    );
    if let Some(keys) = detach_keys {
        path += &format!(
            "&detachKeys={}",
            ch05_images::registry::percent_encode(keys)
        );
    }
    Ok(client.upgrade(&path, None)?)
}

/// Tells the daemon our terminal's size.
fn resize(client: &Client, path: &str) {
    if let Some((rows, cols)) = terminal_size() {
        let _ = client.send("POST", &format!("{path}?h={rows}&w={cols}"), None, &[]);
    }
}

/// `skiff start [-a] [-i] CONTAINER`.
pub fn start_attached(
    client: &Client,
    container: &str,
    attach: bool,
    interactive: bool,
    detach_keys: Option<&str>,
) -> Result<i32> {
    if !attach {
        start(client, container)?;
        println!("{container}");
        return Ok(0);
    }
    let inspect = client.get(&format!("/containers/{container}/json"))?;
    let tty = inspect["Config"]["Tty"].as_bool().unwrap_or(false);
    let waiter = {
        let response = client.send(
            "POST",
            &format!("/containers/{container}/wait?condition=next-exit"),
            None,
            &[],
        )?;
        std::thread::spawn(move || response.json())
    };
    let attached = attach_stream(client, container, interactive, detach_keys)?;
    let _raw = (tty && stdin_is_terminal()).then(RawTerminal::enter);
    start(client, container)?;
    pump(attached, tty, interactive)?;
    let status = waiter
        .join()
        .map_err(|_| anyhow::anyhow!("the wait failed"))??;
    Ok(status["StatusCode"].as_i64().unwrap_or(125) as i32)
}

/// `skiff attach CONTAINER` (ctrl-p ctrl-q, or `--detach-keys`, detaches
/// from a terminal).
pub fn attach(
    client: &Client,
    container: &str,
    no_stdin: bool,
    detach_keys: Option<&str>,
) -> Result<i32> {
    let inspect = client.get(&format!("/containers/{container}/json"))?;
    let tty = inspect["Config"]["Tty"].as_bool().unwrap_or(false);
    let stdin = !no_stdin && inspect["Config"]["OpenStdin"].as_bool().unwrap_or(false);
    let attached = attach_stream(client, container, stdin, detach_keys)?;
    let _raw = (tty && stdin_is_terminal()).then(RawTerminal::enter);
    pump(attached, tty, stdin)?;
    drop(_raw);
    let after = client.get(&format!("/containers/{container}/json"))?;
    Ok(after["State"]["ExitCode"].as_i64().unwrap_or(0) as i32)
}

/// `docker exec`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ExecArgs {
    #[arg(short, long)]
    pub interactive: bool,
    /// The keys that detach a terminal, leaving the command running (default ctrl-p,ctrl-q)
    #[arg(long = "detach-keys", value_name = "KEYS")]
    pub detach_keys: Option<String>,
    #[arg(short, long)]
    pub tty: bool,
    #[arg(short, long)]
    pub detach: bool,
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    #[arg(short, long)]
    pub workdir: Option<String>,
    #[arg(short, long)]
    pub user: Option<String>,
    pub container: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<String>,
}

// ANCHOR: exec
/// `skiff exec`: create the session, start it on a hijacked stream, then
/// ask for its exit code.
pub fn exec(client: &Client, args: &ExecArgs) -> Result<i32> {
    let mut env = Vec::new();
    for flag in &args.env {
        ch01_process::cli::apply_env_flag(&mut env, flag);
    }
    let body = json!({
        "AttachStdin": args.interactive && !args.detach,
        "AttachStdout": !args.detach,
        "AttachStderr": !args.detach,
        "Tty": args.tty,
        "Env": env,
        "Cmd": args.command,
        "DetachKeys": args.detach_keys.clone().unwrap_or_default(),
        "WorkingDir": args.workdir.clone().unwrap_or_default(),
        "User": args.user.clone().unwrap_or_default(),
    });
    let created = client.post(&format!("/containers/{}/exec", args.container), Some(&body))?;
    let exec_id = created["Id"].as_str().unwrap_or_default().to_string();
    let start = json!({"Detach": args.detach, "Tty": args.tty});
    if args.detach {
        client.post(&format!("/exec/{exec_id}/start"), Some(&start))?;
        return Ok(0);
    }
    let stream = client.upgrade(&format!("/exec/{exec_id}/start"), Some(&start))?;
    let _raw = (args.tty && stdin_is_terminal()).then(RawTerminal::enter);
    if args.tty {
        resize(client, &format!("/exec/{exec_id}/resize"));
    }
    pump(stream, args.tty, args.interactive)?;
    drop(_raw);
    let inspect = client.get(&format!("/exec/{exec_id}/json"))?;
    Ok(inspect["ExitCode"].as_i64().unwrap_or(126) as i32)
}
// ANCHOR_END: exec
