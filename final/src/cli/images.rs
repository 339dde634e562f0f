//! `pull`, `images`, `rmi`, `tag`, `login`, `info`, `version`.

use crate::client::{Client, query};
use anyhow::{Result, bail};
use ch01_process::shell::{human_duration, table};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

/// `skiff pull IMAGE`: the daemon's progress lines, printed as they come
/// (on stderr when `quiet_stdout`, for `run`'s implicit pull).
pub fn pull(client: &Client, image: &str, quiet_stdout: bool) -> Result<i32> {
    let (name, tag) = split_tag(image);
    let path = format!(
        "/images/create{}",
        query(&[("fromImage", name.to_string()), ("tag", tag.to_string())])
    );
    let response = client.send("POST", &path, None, &[])?;
    for line in BufReader::new(response).lines() {
        let line: Value = serde_json::from_str(&line?)?;
        if let Some(error) = line["error"].as_str() {
            bail!("{error}");
        }
        let status = line["status"].as_str().unwrap_or_default();
        let text = match line["id"].as_str() {
            Some(id) => format!("{id}: {status}"),
            None => status.to_string(),
        };
        if quiet_stdout {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }
    if !quiet_stdout {
        println!("{image}");
    }
    Ok(0)
}

/// `busybox:1.36` is (busybox, 1.36); a registry's port is not a tag.
pub(super) fn split_tag(image: &str) -> (&str, &str) {
    if let Some((name, digest)) = image.split_once('@') {
        return (name, digest);
    }
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (image, "latest"),
    }
}

fn human_size(bytes: u64) -> String {
    ch05_images::history::human_size(bytes)
}

/// `skiff images [-q]`.
pub fn images(client: &Client, quiet: bool) -> Result<i32> {
    let images = client.get("/images/json")?;
    let mut rows = vec![
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
            .map(String::from)
            .to_vec(),
    ];
    let now = (ch02_namespaces::records::now() / 1_000_000_000) as i64;
    for image in images.as_array().into_iter().flatten() {
        let id: String = image["Id"]
            .as_str()
            .unwrap_or_default()
            .trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect();
        if quiet {
            println!("{id}");
            continue;
        }
        let created = image["Created"].as_i64().unwrap_or(0);
        let since = human_duration(Duration::from_secs((now - created).max(0) as u64));
        for tag in image["RepoTags"].as_array().into_iter().flatten() {
            let tag = tag.as_str().unwrap_or_default();
            let (repository, tag) = split_tag(tag);
            rows.push(vec![
                repository
                    .trim_start_matches("docker.io/library/")
                    .to_string(),
                tag.to_string(),
                id.clone(),
                format!("{since} ago"),
                human_size(image["Size"].as_u64().unwrap_or(0)),
            ]);
        }
    }
    if !quiet {
        print!("{}", table(&rows));
    }
    Ok(0)
}

/// `skiff rmi [-f] IMAGE...`.
pub fn rmi(client: &Client, images: &[String], force: bool) -> Result<i32> {
    let mut code = 0;
    for image in images {
        let path = format!(
            "/images/{image}{}",
            query(&[("force", if force { "1".into() } else { String::new() })])
        );
        match client.delete(&path) {
            Ok(removed) => {
                for item in removed.as_array().into_iter().flatten() {
                    for (key, value) in item.as_object().into_iter().flatten() {
                        println!("{key}: {}", value.as_str().unwrap_or_default());
                    }
                }
            }
            Err(error) => {
                eprintln!("{error}");
                code = 1;
            }
        }
    }
    Ok(code)
}

/// `skiff tag SOURCE TARGET`.
pub fn tag(client: &Client, source: &str, target: &str) -> Result<i32> {
    let (repo, tag) = split_tag(target);
    client.send(
        "POST",
        &format!(
            "/images/{source}/tag{}",
            query(&[("repo", repo.into()), ("tag", tag.into())])
        ),
        None,
        &[],
    )?;
    Ok(0)
}

/// `skiff login REGISTRY -u USER` (the password on stdin, or -p).
pub fn login(client: &Client, registry: &str, user: &str, password: Option<&str>) -> Result<i32> {
    let password = match password {
        Some(p) => p.to_string(),
        None => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text)?;
            text.trim_end_matches(['\n', '\r']).to_string()
        }
    };
    if password.is_empty() {
        bail!("no password: give it on stdin (--password-stdin) or with -p");
    }
    let body = json!({"username": user, "password": password, "serveraddress": registry});
    let answer = client.post("/auth", Some(&body))?;
    println!("{}", answer["Status"].as_str().unwrap_or("Login Succeeded"));
    Ok(0)
}

/// `skiff version`.
pub fn version(client: &Client) -> Result<i32> {
    println!(
        "Client: skiff\n Version:       {}\n API version:   {}",
        env!("CARGO_PKG_VERSION"),
        crate::api::API_VERSION
    );
    let server = client.get("/version")?;
    println!(
        "\nServer: skiff\n Engine:\n  Version:      {}\n  API version:  {} (minimum version {})\n  OS/Arch:      {}/{}\n  Kernel:       {}",
        server["Version"].as_str().unwrap_or_default(),
        server["ApiVersion"].as_str().unwrap_or_default(),
        server["MinAPIVersion"].as_str().unwrap_or_default(),
        server["Os"].as_str().unwrap_or_default(),
        server["Arch"].as_str().unwrap_or_default(),
        server["KernelVersion"].as_str().unwrap_or_default(),
    );
    Ok(0)
}

/// `skiff info`.
pub fn info(client: &Client) -> Result<i32> {
    let info = client.get("/info")?;
    let field = |key: &str| match &info[key] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    println!("Server:");
    for (label, key) in [
        ("Containers", "Containers"),
        (" Running", "ContainersRunning"),
        (" Paused", "ContainersPaused"),
        (" Stopped", "ContainersStopped"),
        ("Images", "Images"),
        ("Server Version", "ServerVersion"),
        ("Storage Driver", "Driver"),
        ("Logging Driver", "LoggingDriver"),
        ("Cgroup Driver", "CgroupDriver"),
        ("Cgroup Version", "CgroupVersion"),
        ("Kernel Version", "KernelVersion"),
        ("Operating System", "OperatingSystem"),
        ("Architecture", "Architecture"),
        ("CPUs", "NCPU"),
        ("Total Memory", "MemTotal"),
        ("Name", "Name"),
        ("ID", "ID"),
        ("Docker Root Dir", "DockerRootDir"),
        ("Live Restore Enabled", "LiveRestoreEnabled"),
    ] {
        println!(" {label}: {}", field(key));
    }
    Ok(0)
}
