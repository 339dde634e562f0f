//! `skiff build`: the context as a tar, sent to `POST /build`, and the
//! daemon's lines printed as they come.
//!
//! The client decides what the daemon sees: the files of the context that
//! `.dockerignore` keeps (chapter 5's matcher), owned by root, symbolic
//! links as links. The Dockerfile and `.dockerignore` always go, as docker
//! sends them; a `-f` file outside the context goes under a name of its
//! own (`.dockerfile.<hex>`).

use super::tarball::{Owners, append_entry};
use crate::client::{Client, query};
use anyhow::{Context, Result, bail};
use ch05_images::dockerignore::{DockerIgnore, EntryKind, walk};
use clap::Args;
use serde_json::{Map, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// `skiff build`.
#[derive(Debug, Clone, Args)]
pub struct BuildArgs {
    /// Name the image NAME[:TAG] (repeat for more names)
    #[arg(short = 't', long = "tag", value_name = "NAME[:TAG]")]
    pub tags: Vec<String>,
    /// The Dockerfile (default: CONTEXT/Dockerfile)
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Set a build-time variable: NAME=VALUE, or NAME to pass ours on
    #[arg(long = "build-arg", value_name = "NAME=VALUE")]
    pub build_args: Vec<String>,
    /// Build up to this stage and make it the image
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,
    /// Run every step, using no cached result
    #[arg(long)]
    pub no_cache: bool,
    /// Add a label to the image: KEY=VALUE
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// The network of RUN steps: default (none) or host
    #[arg(long, value_name = "MODE", default_value = "default")]
    pub network: String,
    /// Print only the image id
    #[arg(short, long)]
    pub quiet: bool,
    /// The build context: the directory COPY and ADD read from
    #[arg(value_name = "CONTEXT")]
    pub context: PathBuf,
}

/// `--build-arg`: `NAME=VALUE`, or `NAME` for our environment's value.
fn build_args(args: &[String]) -> Result<Map<String, Value>> {
    let mut map = Map::new();
    for arg in args {
        if arg.is_empty() || arg.starts_with('=') {
            bail!("--build-arg {arg}: a build arg needs a name (NAME=VALUE)");
        }
        let value = match arg.split_once('=') {
            Some((_, value)) => Value::String(value.into()),
            // docker: a bare NAME takes our value, and is unset without one.
            None => std::env::var(arg).map(Value::String).unwrap_or(Value::Null),
        };
        let name = arg.split('=').next().unwrap_or(arg);
        map.insert(name.into(), value);
    }
    Ok(map)
}

fn labels(labels: &[String]) -> Result<Map<String, Value>> {
    let mut map = Map::new();
    for label in labels {
        let (key, value) = label.split_once('=').unwrap_or((label, ""));
        if key.is_empty() {
            bail!("--label {label}: a label needs a key (KEY=VALUE)");
        }
        map.insert(key.into(), Value::String(value.into()));
    }
    Ok(map)
}

/// The Dockerfile: its name in the tar, and its path when it lies outside
/// the context (it is then added under that name).
fn dockerfile(args: &BuildArgs, context: &Path) -> Result<(String, Option<PathBuf>)> {
    let Some(file) = &args.file else {
        return Ok(("Dockerfile".into(), None));
    };
    let absolute = std::fs::canonicalize(file)
        .with_context(|| format!("cannot read the Dockerfile {}", file.display()))?;
    match absolute.strip_prefix(context) {
        Ok(inside) => Ok((inside.to_string_lossy().into_owned(), None)),
        Err(_) => {
            let name = format!(".dockerfile.{}", &ch02_namespaces::records::new_id()[..20]);
            Ok((name, Some(absolute)))
        }
    }
}

// ANCHOR: context_tar
/// The context as a tar: what `.dockerignore` keeps, plus the Dockerfile
/// and `.dockerignore` themselves, owned by root. A Dockerfile from
/// outside the context (`outside`) is added under the name `dockerfile`,
/// which `.dockerignore` then names, as docker's client does it.
pub fn context_tar(context: &Path, dockerfile: &str, outside: Option<&Path>) -> Result<Vec<u8>> {
    let ignore = DockerIgnore::read(context)?;
    let mut tar = tar::Builder::new(Vec::new());
    let always = [dockerfile, ".dockerignore"];
    let mut entries = walk(context, &ignore)?;
    for name in always {
        let kept = entries.iter().any(|e| e.path == name);
        if !kept && ignore.is_excluded(name) && context.join(name).is_file() {
            entries.push(ch05_images::dockerignore::ContextEntry {
                path: name.to_string(),
                kind: EntryKind::File,
            });
        }
    }
    for entry in &entries {
        // A Dockerfile from outside goes in with the context's
        // .dockerignore telling COPY to leave it out.
        if entry.path == ".dockerignore" && outside.is_some() {
            continue;
        }
        append_entry(
            &mut tar,
            &context.join(&entry.path),
            &entry.path,
            Owners::Root,
        )?;
    }
    if let Some(outside) = outside {
        append_entry(&mut tar, outside, dockerfile, Owners::Root)?;
        let mut text = std::fs::read(context.join(".dockerignore")).unwrap_or_default();
        text.extend_from_slice(format!("\n{dockerfile}\n").as_bytes());
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_size(text.len() as u64);
        tar.append_data(&mut header, ".dockerignore", &text[..])?;
    }
    Ok(tar.into_inner()?)
}
// ANCHOR_END: context_tar

// ANCHOR: build
/// `skiff build [-t NAME] [-f FILE] ... CONTEXT`.
pub fn build(client: &Client, args: &BuildArgs) -> Result<i32> {
    if !args.context.is_dir() {
        bail!(
            "the build context {} is not a directory: give the directory whose files COPY and ADD take",
            args.context.display()
        );
    }
    let context = std::fs::canonicalize(&args.context)?;
    let (name, outside) = dockerfile(args, &context)?;
    let tar = context_tar(&context, &name, outside.as_deref())?;
    if !args.quiet {
        println!(
            "Sending build context to skiff daemon  {}",
            ch05_images::history::human_size(tar.len() as u64)
        );
    }
    let mut pairs: Vec<(&str, String)> = args.tags.iter().map(|t| ("t", t.clone())).collect();
    pairs.extend([
        ("dockerfile", name),
        (
            "buildargs",
            Value::Object(build_args(&args.build_args)?).to_string(),
        ),
        ("labels", Value::Object(labels(&args.labels)?).to_string()),
        ("target", args.target.clone().unwrap_or_default()),
        ("nocache", if args.no_cache { "1" } else { "" }.into()),
        ("networkmode", args.network.clone()),
        ("q", if args.quiet { "1" } else { "" }.into()),
        ("rm", "1".into()),
    ]);
    let response = client.send_raw(
        "POST",
        &format!("/build{}", query(&pairs)),
        "application/x-tar",
        &tar,
        &[],
    )?;
    let mut out = std::io::stdout().lock();
    for line in BufReader::new(response).lines() {
        let line: Value = serde_json::from_str(&line?)?;
        if let Some(error) = line["error"].as_str() {
            drop(out);
            eprintln!("{error}");
            // A RUN command's own exit code, as docker's client gives it.
            let code = line["errorDetail"]["code"].as_i64().unwrap_or(1);
            return Ok(i32::try_from(code).unwrap_or(1));
        }
        if let Some(text) = line["stream"].as_str() {
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(0)
}
// ANCHOR_END: build

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerignore_leaves_files_out_but_never_the_dockerfile() {
        let dir = tempfile::tempdir().unwrap();
        let context = dir.path();
        std::fs::write(context.join("Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(context.join(".dockerignore"), "secret*\nDockerfile\n").unwrap();
        std::fs::write(context.join("secret.key"), "k").unwrap();
        std::fs::create_dir(context.join("src")).unwrap();
        std::fs::write(context.join("src/main.c"), "int main;").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", context.join("link")).unwrap();
        let tar = context_tar(context, "Dockerfile", None).unwrap();
        let mut archive = tar::Archive::new(&tar[..]);
        let mut names: Vec<(String, tar::EntryType, u64)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    h.entry_type(),
                    h.uid().unwrap(),
                )
            })
            .collect();
        names.sort_by(|a, b| a.0.cmp(&b.0));
        let paths: Vec<&str> = names.iter().map(|n| n.0.as_str()).collect();
        assert_eq!(
            paths,
            [".dockerignore", "Dockerfile", "link", "src/", "src/main.c"]
        );
        assert!(names.iter().all(|n| n.2 == 0));
        assert_eq!(names[2].1, tar::EntryType::Symlink);
    }

    #[test]
    fn build_args_take_our_value_or_none() {
        let args = build_args(&["A=1".into(), "SKIFF_SURELY_UNSET_VAR".into()]).unwrap();
        assert_eq!(args["A"], "1");
        assert_eq!(args["SKIFF_SURELY_UNSET_VAR"], Value::Null);
        assert!(build_args(&["=x".into()]).is_err());
    }
}
