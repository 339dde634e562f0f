//! `ADD URL`: a file downloaded into the build, in a child process.
//!
//! The HTTP client runs its connections on threads, and the builder must
//! stay single-threaded to start containers (see [`super::child`]), so the
//! download happens in a forked child: its threads die with it. The file
//! lands in the step's work directory with mode 0600, as docker gives it;
//! its sha256 goes into the step's cache key, so a changed file at the same
//! URL is a cache miss, and `--checksum` is checked against it.

use super::child::{Mounts, in_child};
use super::error::{BuildError, SourceError};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Whether an ADD source is a URL.
pub fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

/// The file name a URL gives: its path's last part, if it has one.
pub fn file_name(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = rest.split(['?', '#']).next().unwrap_or_default();
    let (_, path) = path.split_once('/')?;
    let name = path.rsplit('/').next()?;
    (!name.is_empty()).then(|| name.to_string())
}

// ANCHOR: download
/// Downloads `url` to `dir/name` in a child process.
pub fn download(url: &str, dir: &Path, name: &str) -> Result<PathBuf, BuildError> {
    let path = dir.join(name);
    let failed = |reason: String| SourceError::Download {
        url: url.to_string(),
        reason,
    };
    in_child(&format!("ADD {url}"), Mounts::Host, || {
        let response =
            reqwest::blocking::get(url).map_err(|e| failed(e.to_string()).to_string())?;
        let status = response.status();
        if !status.is_success() {
            return Err(failed(format!("the server answered {status}")).to_string());
        }
        let bytes = response
            .bytes()
            .map_err(|e| failed(e.to_string()).to_string())?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| format!("create {path:?}: {e}"))?;
        file.write_all(&bytes)
            .map_err(|e| format!("write {path:?}: {e}"))
    })?;
    Ok(path)
}
// ANCHOR_END: download

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_names_its_file_by_the_last_part_of_its_path() {
        assert_eq!(
            file_name("http://127.0.0.1:8080/files/hello.txt?x=1").as_deref(),
            Some("hello.txt")
        );
        assert_eq!(file_name("https://example.com/").as_deref(), None);
        assert_eq!(file_name("https://example.com").as_deref(), None);
        assert!(is_url("https://example.com/a") && !is_url("src/a"));
    }
}
