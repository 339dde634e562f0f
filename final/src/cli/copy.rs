//! `skiff cp`: files between this machine and a container, both ways.
//!
//! The daemon only stats, archives and extracts (see `api::archive`); the
//! naming is the client's, as in docker: `cp a.txt c:/srv/` puts `a.txt`
//! into `/srv`, `cp a.txt c:/srv/b.txt` names it `b.txt`, `cp c:/etc .`
//! makes `./etc`, `cp c:/etc/. out` copies what `/etc` holds into `out`.
//!
//! What comes out of a container is untrusted: its tar is unpacked here
//! with chapter 5's extractor, which resolves every name inside the
//! destination directory, so that an entry `../../x` or one under a link
//! to `/etc` stays inside it.

use super::tarball::{Owners, append_tree};
use crate::client::{Client, ClientError, query};
use crate::copy::{PathStat, go_mode};
use anyhow::{Context, Result, bail};
use ch05_images::dockerignore::DockerIgnore;
use clap::Args;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

/// `skiff cp`.
#[derive(Debug, Clone, Args)]
pub struct CpArgs {
    /// Keep the files' owners (by default they become root's)
    #[arg(short, long)]
    pub archive: bool,
    /// Follow a symbolic link given as the source
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// CONTAINER:PATH, or a local path (`-`: a tar on stdin)
    pub source: String,
    /// CONTAINER:PATH, or a local path (`-`: a tar on stdout)
    pub destination: String,
}

/// `CONTAINER:PATH` as (container, path); a local path (with a `/` before
/// any `:`, or without `:`) as None.
pub fn split_container(arg: &str) -> Option<(&str, &str)> {
    let (container, path) = arg.split_once(':')?;
    if container.is_empty() || container.contains('/') || arg.starts_with('.') {
        return None;
    }
    Some((container, path))
}

/// The archive path for a container path: absolute (`c:etc` is `/etc`).
fn absolute(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    }
}

/// The last component of a path (`.` for `dir/.`).
fn base_name(path: &str) -> String {
    if path == "." || path.ends_with("/.") {
        return ".".into();
    }
    Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| ".".into())
}

/// The stat a daemon sends for `path` in `container` (None: no such path).
fn stat(client: &Client, container: &str, path: &str) -> Result<Option<PathStat>> {
    let answer = client.send(
        "HEAD",
        &format!(
            "/containers/{container}/archive{}",
            query(&[("path", path.to_string())])
        ),
        None,
        &[],
    );
    let response = match answer {
        Ok(response) => response,
        Err(ClientError::Daemon { status: 404, .. }) => {
            // A missing container is an error; a missing path is not.
            client.get(&format!("/containers/{container}/json"))?;
            return Ok(None);
        }
        Err(error) => return Err(error.into()),
    };
    let header = response
        .header(crate::api::archive::STAT_HEADER)
        .context("the daemon sent no path stat")?;
    let bytes = crate::base64::decode(header).context("the path stat is not base64")?;
    Ok(Some(serde_json::from_slice(&bytes)?))
}

fn is_dir(stat: &PathStat) -> bool {
    stat.mode & go_mode::DIR != 0
}

// ANCHOR: cp
/// `skiff cp SOURCE DESTINATION`.
pub fn cp(client: &Client, args: &CpArgs) -> Result<i32> {
    match (
        split_container(&args.source),
        split_container(&args.destination),
    ) {
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => bail!("one of the paths must name a container: CONTAINER:PATH"),
        (Some((container, path)), None) => from_container(client, args, container, path),
        (None, Some((container, path))) => into_container(client, args, container, path),
    }
}
// ANCHOR_END: cp

fn from_container(client: &Client, args: &CpArgs, container: &str, path: &str) -> Result<i32> {
    let mut source = absolute(path);
    let mut stat = stat(client, container, &source)?
        .with_context(|| format!("Could not find the file {source} in container {container}"))?;
    if args.follow_link && stat.mode & go_mode::SYMLINK != 0 && !stat.link_target.is_empty() {
        source = stat.link_target.clone();
        stat = self::stat(client, container, &source)?
            .with_context(|| format!("the link {path} leads to {source}, which does not exist"))?;
    }
    let mut response = client.send(
        "GET",
        &format!(
            "/containers/{container}/archive{}",
            query(&[("path", source.clone())])
        ),
        None,
        &[],
    )?;
    if args.destination == "-" {
        if std::io::stdout().is_terminal() {
            bail!("refusing to write a tar to a terminal: redirect stdout");
        }
        let mut out = std::io::stdout().lock();
        std::io::copy(&mut response, &mut out)?;
        out.flush()?;
        return Ok(0);
    }
    let destination = PathBuf::from(&args.destination);
    let name = base_name(&source);
    let contents = name == ".";
    match std::fs::metadata(&destination) {
        // Into an existing directory: under its own name, or its contents.
        Ok(meta) if meta.is_dir() => unpack(response, &destination),
        Ok(_) if is_dir(&stat) => bail!(
            "cannot copy a directory to the file {}",
            destination.display()
        ),
        Ok(_) if args.destination.ends_with('/') => {
            bail!("{} is not a directory", destination.display())
        }
        // A file over an existing file, or a new name: unpacked aside,
        // then renamed into place.
        _ => {
            if args.destination.ends_with('/') && !is_dir(&stat) {
                bail!(
                    "the destination directory {} does not exist",
                    destination.display()
                );
            }
            let parent = match destination.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let aside = tempfile::Builder::new()
                .prefix(".skiff-cp-")
                .tempdir_in(&parent)
                .with_context(|| format!("creating a directory in {}", parent.display()))?;
            unpack(response, aside.path())?;
            let unpacked = if contents {
                aside.path().to_path_buf()
            } else {
                aside.path().join(&name)
            };
            std::fs::rename(&unpacked, &destination)
                .with_context(|| format!("moving the copy to {}", destination.display()))?;
            Ok(0)
        }
    }
}

/// Unpacks the tar `from` a container into `dir` with chapter 5's extractor.
fn unpack(from: impl Read, dir: &Path) -> Result<i32> {
    ch05_images::extract::unpack(from, dir, &ch05_images::extract::Limits::default())
        .with_context(|| format!("unpacking into {}", dir.display()))?;
    Ok(0)
}

fn into_container(client: &Client, args: &CpArgs, container: &str, path: &str) -> Result<i32> {
    let destination = absolute(path);
    let put = |dir: &str, tar: Vec<u8>| -> Result<i32> {
        client.send_raw(
            "PUT",
            &format!(
                "/containers/{container}/archive{}",
                query(&[("path", dir.to_string())])
            ),
            "application/x-tar",
            &tar,
            &[],
        )?;
        Ok(0)
    };
    if args.source == "-" {
        let mut tar = Vec::new();
        std::io::stdin().read_to_end(&mut tar)?;
        return put(&destination, tar);
    }
    let mut source = PathBuf::from(&args.source);
    if args.follow_link {
        source = std::fs::canonicalize(&source)
            .with_context(|| format!("following {}", source.display()))?;
    }
    let source_meta = std::fs::symlink_metadata(&source)
        .with_context(|| format!("no such file or directory: {}", source.display()))?;
    let owners = if args.archive {
        Owners::Kept
    } else {
        Owners::Root
    };
    let tar_of = |name: &str| -> Result<Vec<u8>> {
        let mut tar = tar::Builder::new(Vec::new());
        append_tree(&mut tar, &source, name, &DockerIgnore::default(), owners)?;
        Ok(tar.into_inner()?)
    };
    let name = base_name(&args.source);
    match stat(client, container, &destination)? {
        // Into an existing directory, under the source's name.
        Some(stat) if is_dir(&stat) => put(&destination, tar_of(&name)?),
        Some(_) if source_meta.is_dir() => {
            bail!("cannot copy a directory to the file {destination} in {container}")
        }
        // Over an existing file, or as a new name in an existing directory.
        found => {
            if found.is_none() && path.ends_with('/') {
                bail!("the destination directory {destination} does not exist in {container}");
            }
            let parent = Path::new(&destination)
                .parent()
                .map_or("/".to_string(), |p| p.display().to_string());
            let new_name = base_name(&destination);
            match self::stat(client, container, &parent)? {
                Some(stat) if is_dir(&stat) => put(&parent, tar_of(&new_name)?),
                _ => bail!("the destination directory {parent} does not exist in {container}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_paths_are_told_from_local_ones() {
        assert_eq!(split_container("web:/etc"), Some(("web", "/etc")));
        assert_eq!(split_container("web:etc"), Some(("web", "etc")));
        assert_eq!(split_container("./a:b"), None);
        assert_eq!(split_container("/tmp/a:b"), None);
        assert_eq!(split_container("file.txt"), None);
        assert_eq!(base_name("/srv/."), ".");
        assert_eq!(base_name("/etc/hostname"), "hostname");
        assert_eq!(absolute("etc"), "/etc");
    }
}
