//! Tars of the user's own files, for `build` (the context) and `cp` (what
//! goes into a container): symbolic links stored as links (never
//! followed), files owned by root unless asked otherwise, as docker's
//! client sends them.

use anyhow::{Context, Result};
use ch05_images::dockerignore::{DockerIgnore, EntryKind, walk};
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Whose the files are in the tar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owners {
    /// Root's (uid and gid 0).
    Root,
    /// As on this machine (`docker cp -a`).
    Kept,
}

/// What kind of entry `meta` is, as a walk names it.
fn kind_of(meta: &std::fs::Metadata) -> EntryKind {
    let file_type = meta.file_type();
    if file_type.is_symlink() {
        EntryKind::Symlink
    } else if file_type.is_dir() {
        EntryKind::Dir
    } else if file_type.is_file() {
        EntryKind::File
    } else {
        EntryKind::Other
    }
}

/// Appends the entry at `path` (not following it if it is a link) to the
/// tar as `name`; a directory's entry only, not what it holds.
pub fn append_entry<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &Path,
    name: &str,
    owners: Owners,
) -> Result<()> {
    let meta =
        std::fs::symlink_metadata(path).with_context(|| format!("reading {}", path.display()))?;
    let mut header = tar::Header::new_gnu();
    header.set_mode(meta.mode() & 0o7777);
    let (uid, gid) = match owners {
        Owners::Root => (0, 0),
        Owners::Kept => (meta.uid(), meta.gid()),
    };
    header.set_uid(u64::from(uid));
    header.set_gid(u64::from(gid));
    header.set_mtime(meta.mtime().max(0) as u64);
    header.set_size(0);
    match kind_of(&meta) {
        EntryKind::Dir => {
            header.set_entry_type(tar::EntryType::Directory);
            let name = format!("{}/", name.trim_end_matches('/'));
            tar.append_data(&mut header, name, std::io::empty())?;
        }
        EntryKind::File => {
            let file =
                std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(meta.len());
            tar.append_data(&mut header, name, file.take(meta.len()))?;
        }
        EntryKind::Symlink => {
            header.set_entry_type(tar::EntryType::Symlink);
            let target = std::fs::read_link(path)?;
            tar.append_link(&mut header, name, target)?;
        }
        // Devices, fifos and sockets are not sent.
        EntryKind::Other => {}
    }
    Ok(())
}

/// Appends `path` as `name`, and, for a directory, everything below it
/// (named `name/...`) that `ignore` keeps.
pub fn append_tree<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &Path,
    name: &str,
    ignore: &DockerIgnore,
    owners: Owners,
) -> Result<()> {
    append_entry(tar, path, name, owners)?;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        for entry in walk(path, ignore)? {
            let inner = match name.trim_end_matches('/') {
                "" => entry.path.clone(),
                prefix => format!("{prefix}/{}", entry.path),
            };
            append_entry(tar, &path.join(&entry.path), &inner, owners)?;
        }
    }
    Ok(())
}
