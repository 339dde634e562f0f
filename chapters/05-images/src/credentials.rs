//! `login`: credentials for registries, kept in `<root>/auth.json`.
//!
//! The file maps a registry (`127.0.0.1:5000`, `docker.io`) to a user and a
//! password, readable by root only (mode 0600 from the moment it exists:
//! it is written aside with that mode, then renamed into place). Docker
//! keeps the same in `~/.docker/config.json`, base64-encoded, which hides
//! nothing; a credential helper (the system keyring) is the safer place.

use crate::registry::Credentials;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Why credentials could not be read or stored.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("reading the stored credentials {path}: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("storing credentials in {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where `login` keeps credentials.
pub fn auth_file(root: &Path) -> PathBuf {
    root.join("auth.json")
}

/// The credentials stored for `registry`, if any.
pub fn load(root: &Path, registry: &str) -> Result<Option<Credentials>, CredentialsError> {
    let path = auth_file(root);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let all: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| CredentialsError::Corrupt { path, source })?;
    Ok(all[registry].as_object().map(|entry| Credentials {
        user: entry["username"].as_str().unwrap_or_default().to_string(),
        password: entry["password"].as_str().unwrap_or_default().to_string(),
    }))
}

// ANCHOR: store
/// Stores `user` and `password` for `registry`, keeping the others.
pub fn store(
    root: &Path,
    registry: &str,
    user: &str,
    password: &str,
) -> Result<(), CredentialsError> {
    let path = auth_file(root);
    let io = |source| CredentialsError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(root).map_err(io)?;
    let mut all: serde_json::Value = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_else(|| serde_json::json!({}));
    all[registry] = serde_json::json!({ "username": user, "password": password });
    let partial = path.with_extension("json.partial");
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&partial)?;
        file.write_all(serde_json::to_string_pretty(&all)?.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&partial, &path)
    })();
    written.map_err(io)
}
// ANCHOR_END: store
