//! `push`, `save`, `load`, `history` and `commit`, as docker prints them.

use super::images::split_tag;
use crate::client::{Client, query};
use anyhow::{Context, Result, bail};
use ch05_images::history::{HistoryRow, render};
use clap::Args;
use serde_json::Value;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::path::PathBuf;

/// Prints a stream of docker's JSON progress lines (`{"status", "id"}`,
/// `{"stream"}`); an `{"error"}` line ends it as a failure.
fn print_progress(response: impl Read) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for line in BufReader::new(response).lines() {
        let line: Value = serde_json::from_str(&line?)?;
        if let Some(error) = line["error"].as_str() {
            bail!("{error}");
        }
        if let Some(text) = line["stream"].as_str() {
            out.write_all(text.as_bytes())?;
        } else if let Some(status) = line["status"].as_str() {
            match line["id"].as_str() {
                Some(id) => writeln!(out, "{id}: {status}")?,
                None => writeln!(out, "{status}")?,
            }
        }
        out.flush()?;
    }
    Ok(())
}

/// `skiff push NAME[:TAG]`: with the credentials `login` stored.
pub fn push(client: &Client, image: &str) -> Result<i32> {
    let (name, tag) = split_tag(image);
    let response = client.send(
        "POST",
        &format!("/images/{name}/push{}", query(&[("tag", tag.to_string())])),
        None,
        &[],
    )?;
    print_progress(response)?;
    Ok(0)
}

/// `skiff save`.
#[derive(Debug, Clone, Args)]
pub struct SaveArgs {
    /// Write to this file instead of stdout
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[arg(required = true)]
    pub images: Vec<String>,
}

// ANCHOR: save
/// `skiff save [-o FILE] IMAGE...`: the daemon's tar, to the file (written
/// aside and renamed: never half an archive) or to stdout (never a
/// terminal).
pub fn save(client: &Client, args: &SaveArgs) -> Result<i32> {
    let pairs: Vec<(&str, String)> = args.images.iter().map(|i| ("names", i.clone())).collect();
    if args.output.is_none() && std::io::stdout().is_terminal() {
        bail!(
            "refusing to write an archive to a terminal: give a file with -o FILE, or redirect stdout"
        );
    }
    let mut response = client.send("GET", &format!("/images/get{}", query(&pairs)), None, &[])?;
    match &args.output {
        Some(path) => {
            let mut partial = path.as_os_str().to_owned();
            partial.push(".partial");
            let partial = PathBuf::from(partial);
            let written = std::fs::File::create(&partial)
                .and_then(|mut file| {
                    std::io::copy(&mut response, &mut file)?;
                    file.sync_all()
                })
                .and_then(|()| std::fs::rename(&partial, path));
            if let Err(error) = written {
                let _ = std::fs::remove_file(&partial);
                return Err(error).with_context(|| format!("writing {}", path.display()));
            }
        }
        None => {
            let mut out = std::io::stdout().lock();
            std::io::copy(&mut response, &mut out)?;
            out.flush()?;
        }
    }
    Ok(0)
}
// ANCHOR_END: save

/// `skiff load`.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Read from this file instead of stdin
    #[arg(short, long)]
    pub input: Option<PathBuf>,
    /// Print less
    #[arg(short, long)]
    pub quiet: bool,
}

/// `skiff load [-i FILE]`: `Loaded image: NAME` for each image.
pub fn load(client: &Client, args: &LoadArgs) -> Result<i32> {
    let archive = match &args.input {
        Some(path) => std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        None => {
            if std::io::stdin().is_terminal() {
                bail!("no archive on stdin: give a file with -i FILE, or redirect stdin");
            }
            let mut bytes = Vec::new();
            std::io::stdin().read_to_end(&mut bytes)?;
            bytes
        }
    };
    let quiet = if args.quiet { "1" } else { "" };
    let response = client.send_raw(
        "POST",
        &format!("/images/load{}", query(&[("quiet", quiet.into())])),
        "application/x-tar",
        &archive,
        &[],
    )?;
    print_progress(response)?;
    Ok(0)
}

/// `skiff import`.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// Apply a Dockerfile instruction to the image's config (CMD, ENV, USER...)
    #[arg(short, long = "change", value_name = "INSTRUCTION")]
    pub changes: Vec<String>,
    /// The history entry's comment
    #[arg(short, long)]
    pub message: Option<String>,
    /// The tar of a filesystem (plain or gzip'd), or - for stdin
    pub file: String,
    /// The new image's name
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub repository: String,
}

/// `skiff import FILE|- NAME[:TAG]`: a filesystem's tar (what `export`
/// writes) as an image of one layer; prints the image's id.
pub fn import(client: &Client, args: &ImportArgs) -> Result<i32> {
    let archive = if args.file == "-" {
        if std::io::stdin().is_terminal() {
            bail!("no archive on stdin: give a file, or redirect stdin");
        }
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes)?;
        bytes
    } else {
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file))?
    };
    let (repo, tag) = split_tag(&args.repository);
    let mut pairs = vec![
        ("fromSrc", "-".to_string()),
        ("repo", repo.to_string()),
        ("tag", tag.to_string()),
        ("message", args.message.clone().unwrap_or_default()),
    ];
    pairs.extend(args.changes.iter().map(|c| ("changes", c.clone())));
    let response = client.send_raw(
        "POST",
        &format!("/images/create{}", query(&pairs)),
        "application/x-tar",
        &archive,
        &[],
    )?;
    let mut last = Value::Null;
    for line in BufReader::new(response).lines() {
        let line: Value = serde_json::from_str(&line?)?;
        if let Some(error) = line["error"].as_str() {
            bail!("{error}");
        }
        last = line;
    }
    println!("{}", last["status"].as_str().unwrap_or_default());
    Ok(0)
}

/// `skiff history`.
#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// Show whole ids and commands
    #[arg(long)]
    pub no_trunc: bool,
    /// Only the ids
    #[arg(short, long)]
    pub quiet: bool,
    pub image: String,
}

/// `skiff history IMAGE`: docker's table (chapter 5's), newest step first.
pub fn history(client: &Client, args: &HistoryArgs) -> Result<i32> {
    let entries = client.get(&format!("/images/{}/history", args.image))?;
    let rows: Vec<HistoryRow> = entries
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| {
            let id = entry["Id"].as_str().unwrap_or("<missing>");
            let image = match id.strip_prefix("sha256:") {
                Some(hex) if !args.no_trunc => hex.chars().take(12).collect(),
                _ => id.to_string(),
            };
            HistoryRow {
                image,
                created: entry["Created"].as_i64().filter(|t| *t > 0),
                created_by: entry["CreatedBy"].as_str().unwrap_or_default().to_string(),
                size: entry["Size"].as_u64().unwrap_or(0),
                comment: entry["Comment"].as_str().unwrap_or_default().to_string(),
            }
        })
        .collect();
    if args.quiet {
        for row in &rows {
            println!("{}", row.image);
        }
        return Ok(0);
    }
    let now = (ch02_namespaces::records::now() / 1_000_000_000) as i64;
    print!("{}", render(&rows, now, !args.no_trunc));
    Ok(0)
}

/// `skiff commit`.
#[derive(Debug, Clone, Args)]
pub struct CommitArgs {
    /// Author ("Jane <jane@example.com>")
    #[arg(short, long)]
    pub author: Option<String>,
    /// Commit message
    #[arg(short, long)]
    pub message: Option<String>,
    /// A Dockerfile instruction for the image's config (CMD, ENV, ...)
    #[arg(short, long = "change")]
    pub changes: Vec<String>,
    /// Freeze the container meanwhile (accepted for docker's sake: the
    /// daemon always does, a layer read while it changes could read
    /// through a link swapped in meanwhile)
    #[arg(short, long, default_value_t = true, num_args = 0..=1,
          default_missing_value = "true", action = clap::ArgAction::Set)]
    pub pause: bool,
    pub container: String,
    /// NAME[:TAG] of the new image
    pub repository: Option<String>,
}

/// `skiff commit CONTAINER NAME[:TAG]`: prints the new image's id.
pub fn commit(client: &Client, args: &CommitArgs) -> Result<i32> {
    let mut pairs = vec![("container", args.container.clone())];
    if let Some(repository) = &args.repository {
        let (repo, tag) = split_tag(repository);
        pairs.extend([("repo", repo.to_string()), ("tag", tag.to_string())]);
    }
    pairs.push(("comment", args.message.clone().unwrap_or_default()));
    pairs.push(("author", args.author.clone().unwrap_or_default()));
    pairs.extend(args.changes.iter().map(|c| ("changes", c.clone())));
    let answer = client.post(&format!("/commit{}", query(&pairs)), None)?;
    println!("{}", answer["Id"].as_str().unwrap_or_default());
    Ok(0)
}
