//! COPY and ADD: files into the image, as a tar through the safe extractor.
//!
//! The copy itself reuses what chapter 5 trusts to write into a layer: the
//! sources are written as a tar stream (names relative to the image's root,
//! owners and modes as COPY gives them), and [`crate::extract::unpack`]
//! applies it to the mounted stack (see [`super::scratch`]). The extractor
//! resolves every name with `RESOLVE_IN_ROOT`, creates missing parents,
//! replaces what is in the way without writing through a symbolic link,
//! and merges directories: exactly COPY's semantics, and no second way of
//! writing into an image to get wrong. ADD of a local tar archive is the
//! same extractor, on the archive, at the destination.
//!
//! Ownership: files from the context (and downloads) belong to root, files
//! from another stage or image keep their owners, and `--chown` overrides
//! both. `--chmod` sets the mode of files and directories.

use super::child::{Mounts, in_child};
use super::error::BuildError;
use super::scratch::Scratch;
use super::sources::{self, Item, Match, Matches, Tree};
use super::users::{self, Owner};
use crate::dockerignore::{ContextEntry, DockerIgnore, EntryKind, walk, walk_below};
use crate::extract::{self, Compression};
use ch04_overlayfs::resolve::{Create, open_creating, open_in_root};
use nix::fcntl::OFlag;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where a COPY's sources come from.
pub enum Origin<'a> {
    /// The context and downloads, matched already (in the parent).
    Trees {
        trees: &'a [Tree],
        matches: &'a [(usize, Match)],
        /// ADD: sources that are tar archives, unpacked at the destination.
        archives: &'a [PathBuf],
    },
    /// Another stage or an image, mounted in the child as `view`, where the
    /// sources are looked up.
    View {
        view: &'a Scratch,
        sources: &'a [String],
    },
}

/// What a COPY or ADD writes.
pub struct CopyRequest<'a> {
    pub origin: Origin<'a>,
    /// Absolute; a trailing `/` makes it a directory.
    pub dest: &'a str,
    pub chown: Option<&'a str>,
    pub chmod: Option<u32>,
}

// ANCHOR: copy_into
/// Copies into `target` (a writable layer on the stage's layers), in a
/// child with the stacks mounted.
pub fn copy_into(target: &Scratch, request: &CopyRequest) -> Result<(), BuildError> {
    let tar_path = target.work().join("copy.tar");
    in_child("copy", Mounts::Private, || {
        target.mount()?;
        if let Origin::View { view, .. } = request.origin {
            view.mount()?;
        }
        let merged = target.merged();
        let root = File::open(&merged).map_err(|e| format!("open {merged:?}: {e}"))?;
        let owned;
        let (trees, matches, archives): (&[Tree], &[(usize, Match)], &[PathBuf]) =
            match &request.origin {
                Origin::Trees {
                    trees,
                    matches,
                    archives,
                } => (trees, matches, archives),
                Origin::View { view, sources } => {
                    owned = look_up(&view.merged(), sources)?;
                    (&owned.0, &owned.1, &[])
                }
            };
        let dest = request.dest.trim_start_matches('/');
        let dest_is_dir = !dest.is_empty()
            && open_in_root(
                root.as_fd(),
                Path::new(dest),
                OFlag::O_PATH | OFlag::O_DIRECTORY,
            )
            .is_ok();
        let (dir, items) = sources::layout(trees, matches, request.dest, dest_is_dir)
            .map_err(|e| e.to_string())?;
        let chown = match request.chown {
            Some(spec) => Some(users::resolve(spec, root.as_fd()).map_err(|e| e.to_string())?),
            None => None,
        };
        let keep_owners = matches!(request.origin, Origin::View { .. });
        let new_dir = dir.filter(|d| !d.is_empty() && !dest_is_dir);
        write_tar(
            &tar_path,
            trees,
            &items,
            new_dir.as_deref(),
            chown,
            keep_owners,
            request.chmod,
        )?;
        let tar = File::open(&tar_path).map_err(|e| format!("open {tar_path:?}: {e}"))?;
        extract::unpack(tar, &merged, &extract::Limits::default()).map_err(|e| e.to_string())?;
        for archive in archives {
            unpack_archive(root.as_fd(), dest, archive)?;
        }
        Ok(())
    })
}
// ANCHOR_END: copy_into

/// Looks the sources up in a mounted stage or image: a glob against the
/// whole tree, a path resolved inside it (symbolic links followed as the
/// image sees them, never to the host).
fn look_up(view: &Path, sources: &[String]) -> Result<(Vec<Tree>, Matches), String> {
    let root = File::open(view).map_err(|e| format!("open {view:?}: {e}"))?;
    let none = DockerIgnore::default();
    let cleaned = sources
        .iter()
        .map(|s| sources::clean(s).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let whole = cleaned.iter().any(|c| c.is_empty() || sources::is_glob(c));
    let mut entries: Vec<ContextEntry> = match whole {
        true => walk(view, &none).map_err(|e| e.to_string())?,
        false => Vec::new(),
    };
    let mut wanted = Vec::new();
    for (source, path) in sources.iter().zip(cleaned) {
        if path.is_empty() || sources::is_glob(&path) {
            wanted.push((source, path));
            continue;
        }
        let fd = open_in_root(root.as_fd(), Path::new(&path), OFlag::O_PATH)
            .map_err(|e| format!("{source} not found in the image: {e}"))?;
        let real = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .map_err(|e| e.to_string())?;
        let rel = real
            .strip_prefix(view)
            .map_err(|_| format!("{source} resolves outside the image"))?
            .to_string_lossy()
            .into_owned();
        if !whole && !rel.is_empty() && !entries.iter().any(|e| e.path == rel) {
            let meta = std::fs::symlink_metadata(&real).map_err(|e| e.to_string())?;
            let kind = if meta.is_dir() {
                EntryKind::Dir
            } else if meta.is_file() {
                EntryKind::File
            } else {
                EntryKind::Other
            };
            entries.push(ContextEntry {
                path: rel.clone(),
                kind,
            });
            if kind == EntryKind::Dir {
                entries.extend(walk_below(view, &rel, &none).map_err(|e| e.to_string())?);
            }
        }
        wanted.push((source, rel));
    }
    let tree = Tree {
        root: view.to_path_buf(),
        entries,
    };
    let mut matches = Vec::new();
    for (source, path) in wanted {
        let found = sources::select(&tree, &path);
        if found.is_empty() {
            return Err(format!("{source} matches nothing in the image"));
        }
        matches.extend(found.into_iter().map(|m| (0, m)));
    }
    Ok((vec![tree], matches))
}

/// Seconds since the epoch, for the directories COPY makes.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

// ANCHOR: write_tar
/// Writes the items as a tar: names relative to the image's root, the
/// destination directory first when it must be made.
fn write_tar(
    path: &Path,
    trees: &[Tree],
    items: &[Item],
    new_dir: Option<&str>,
    chown: Option<Owner>,
    keep_owners: bool,
    chmod: Option<u32>,
) -> Result<(), String> {
    let file = File::create(path).map_err(|e| format!("create {path:?}: {e}"))?;
    let mut tar = tar::Builder::new(BufWriter::new(file));
    let failed = |item: &str| {
        let item = item.to_string();
        move |e: io::Error| format!("copy {item}: {e}")
    };
    if let Some(dir) = new_dir {
        let owner = chown.unwrap_or(Owner::ROOT);
        let mut header = header(tar::EntryType::Directory, 0o755, owner, now());
        tar.append_data(&mut header, format!("{dir}/"), io::empty())
            .map_err(failed(dir))?;
    }
    for item in items {
        let source = trees[item.tree].root.join(&item.source);
        let meta = std::fs::symlink_metadata(&source).map_err(failed(&item.source))?;
        let owner = match (chown, keep_owners) {
            (Some(owner), _) => owner,
            (None, true) => Owner {
                uid: meta.uid(),
                gid: meta.gid(),
            },
            (None, false) => Owner::ROOT,
        };
        let mtime = u64::try_from(meta.mtime()).unwrap_or(0);
        let mode = chmod.unwrap_or(meta.mode() & 0o7777);
        match item.kind {
            EntryKind::Dir => {
                let mut header = header(tar::EntryType::Directory, mode, owner, mtime);
                tar.append_data(&mut header, format!("{}/", item.target), io::empty())
                    .map_err(failed(&item.source))?;
            }
            EntryKind::File => {
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&source)
                    .map_err(failed(&item.source))?;
                let mut header = header(tar::EntryType::Regular, mode, owner, mtime);
                header.set_size(meta.len());
                // Exactly the size the header says, even if the file grows.
                tar.append_data(&mut header, &item.target, file.take(meta.len()))
                    .map_err(failed(&item.source))?;
            }
            EntryKind::Symlink => {
                let link = std::fs::read_link(&source).map_err(failed(&item.source))?;
                let mut header = header(tar::EntryType::Symlink, 0o777, owner, mtime);
                tar.append_link(&mut header, &item.target, &link)
                    .map_err(failed(&item.source))?;
            }
            // Devices, fifos and sockets are not copied.
            EntryKind::Other => {}
        }
    }
    tar.into_inner()
        .and_then(|mut out| out.flush())
        .map_err(|e| format!("write {path:?}: {e}"))
}
// ANCHOR_END: write_tar

fn header(kind: tar::EntryType, mode: u32, owner: Owner, mtime: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_uid(u64::from(owner.uid));
    header.set_gid(u64::from(owner.gid));
    header.set_mtime(mtime);
    header.set_size(0);
    header
}

/// ADD of a local archive: unpacked into `dest` (made if missing) with
/// chapter 5's extractor, owners as the archive says.
fn unpack_archive(root: BorrowedFd<'_>, dest: &str, archive: &Path) -> Result<(), String> {
    let dir = open_creating(
        root,
        Path::new(dest),
        Create::Dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY,
    )
    .map_err(|e| format!("create {dest:?} in the image: {}", e.errno))?;
    let at = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    let file = File::open(archive).map_err(|e| format!("open {archive:?}: {e}"))?;
    extract::unpack(file, &at, &extract::Limits::default())
        .map(drop)
        .map_err(|e| format!("unpack {}: {e}", archive.display()))
}

/// Whether a file is a tar archive ADD unpacks: a tar, or a gzip'd tar
/// (docker also knows bzip2 and xz, which this builder copies as files).
pub fn is_archive(path: &Path) -> io::Result<bool> {
    let mut head = Vec::new();
    File::open(path)?.take(4).read_to_end(&mut head)?;
    let file = File::open(path)?;
    let mut block = Vec::with_capacity(512);
    match Compression::detect(&head) {
        Ok(Compression::Gzip) => {
            let _ = flate2::read::GzDecoder::new(file)
                .take(512)
                .read_to_end(&mut block);
        }
        Ok(Compression::None) => {
            file.take(512).read_to_end(&mut block)?;
        }
        Err(_) => return Ok(false),
    }
    Ok(block.len() == 512 && &block[257..262] == b"ustar")
}
