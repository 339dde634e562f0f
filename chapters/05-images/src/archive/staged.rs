//! The first pass of a load: the archive's files staged in a work
//! directory of the store, its links remembered, nothing outside it.

use super::ArchiveError;
use crate::digest::{Digest, sha256_of};
use crate::image;
use crate::store::{Store, WorkDir};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

pub(super) fn damaged(reason: impl Into<String>) -> ArchiveError {
    ArchiveError::Damaged(reason.into())
}

/// A file of the archive, or a link to another name in it.
enum Entry {
    File(PathBuf),
    Link(String),
}

/// The archive's files, staged in a work directory of the store.
pub(super) struct Staged {
    _dir: WorkDir,
    entries: HashMap<String, Entry>,
}

/// A name inside the archive, cleaned; `None` when it would leave it.
pub(super) fn clean(name: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    (!name.starts_with('/')).then(|| parts.join("/"))
}

impl Staged {
    // ANCHOR: stage
    pub(super) fn read(
        store: &Store,
        reader: impl Read,
        label: &str,
    ) -> Result<Staged, ArchiveError> {
        let dir = store.work_dir("load")?;
        let mut entries = HashMap::new();
        let mut archive = tar::Archive::new(reader);
        let not_tar = |e: io::Error| ArchiveError::NotAnArchive {
            archive: label.to_string(),
            reason: format!("it is not a tar file ({e})"),
        };
        for (n, entry) in archive.entries().map_err(not_tar)?.enumerate() {
            let mut entry = entry.map_err(|e| {
                if n == 0 {
                    not_tar(e)
                } else {
                    damaged(e.to_string())
                }
            })?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let name = clean(&raw)
                .ok_or_else(|| damaged(format!("the entry {raw:?} points outside the archive")))?;
            let link = |target: Option<std::borrow::Cow<[u8]>>, relative: bool| {
                let target = String::from_utf8_lossy(&target.unwrap_or_default()).into_owned();
                let joined = match (relative, name.rsplit_once('/')) {
                    (true, Some((parent, _))) => format!("{parent}/{target}"),
                    _ => target.clone(),
                };
                clean(&joined).ok_or_else(|| {
                    damaged(format!(
                        "the link {raw:?} -> {target:?} points outside the archive"
                    ))
                })
            };
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let path = dir.path().join(n.to_string());
                    let mut file = File::create(&path).map_err(|source| ArchiveError::Io {
                        action: "create",
                        path: path.clone(),
                        source,
                    })?;
                    io::copy(&mut entry, &mut file).map_err(|e| damaged(format!("{raw}: {e}")))?;
                    entries.insert(name, Entry::File(path));
                }
                tar::EntryType::Symlink => {
                    let target = link(entry.link_name_bytes(), true)?;
                    entries.insert(name, Entry::Link(target));
                }
                tar::EntryType::Link => {
                    let target = link(entry.link_name_bytes(), false)?;
                    entries.insert(name, Entry::Link(target));
                }
                tar::EntryType::Directory => {}
                other => return Err(damaged(format!("{raw} is a {other:?}, not a file"))),
            }
        }
        Ok(Staged { _dir: dir, entries })
    }
    // ANCHOR_END: stage

    /// The staged file of `name`, links followed (40 at most, as the kernel).
    pub(super) fn file(&self, name: &str) -> Result<&Path, ArchiveError> {
        let mut current = clean(name).unwrap_or_default();
        for _ in 0..40 {
            match self.entries.get(&current) {
                Some(Entry::File(path)) => return Ok(path),
                Some(Entry::Link(target)) => current = target.clone(),
                None => return Err(damaged(format!("{name} is missing"))),
            }
        }
        Err(damaged(format!("{name}: too many links")))
    }

    pub(super) fn bytes(&self, name: &str) -> Result<Vec<u8>, ArchiveError> {
        let path = self.file(name)?;
        std::fs::read(path).map_err(|source| ArchiveError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        })
    }

    pub(super) fn has(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// A blob of the OCI layout by digest, checked against its descriptor.
    pub(super) fn blob(
        &self,
        descriptor: &image::Descriptor,
    ) -> Result<(Digest, Vec<u8>), ArchiveError> {
        let digest = Digest::parse(&descriptor.digest)?;
        let bytes = self.bytes(&format!("blobs/{}/{}", digest.algorithm(), digest.hex()))?;
        if sha256_of(&bytes) != digest || bytes.len() as u64 != descriptor.size {
            return Err(damaged(format!(
                "blob {digest} does not match its digest or size"
            )));
        }
        Ok((digest, bytes))
    }
}
