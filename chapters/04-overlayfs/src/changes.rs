//! What a container changed: `diff` (like `docker diff`) and `commit` (its
//! writable layer as an OCI image layer tarball).
//!
//! Everything a container writes lands in its *upper directory*: the lower
//! layers never change. So the upper directory alone says what the container
//! did, once we know how overlayfs records each kind of change there
//! (Documentation/filesystems/overlayfs.rst):
//!
//! ```text
//!   in upper/                          means                  diff   OCI layer tar
//!   ─────────────────────────────────────────────────────────────────────────────
//!   a file, dir, symlink ...           added or changed       A / C  the entry itself
//!   character device 0/0 at `name`     `name` was deleted     D      empty file `.wh.name`
//!   dir with xattr                     lower contents hidden  A / C  `dir/` and an empty
//!     trusted.overlay.opaque = "y"     (dir deleted, remade)         file `dir/.wh..wh..opq`
//! ```
//!
//! The kernel's whiteout (a device node) cannot travel in an image: device
//! nodes are exactly what an image must not smuggle in, and not every
//! filesystem or tar reader keeps xattrs. So the OCI image spec (layer.md)
//! spells the same two facts as plain empty files with reserved names, and
//! [`commit`] translates one form into the other. Chapter 5 does the reverse
//! when it unpacks a layer.
//!
//! The upper directory cannot tell an *added* file from a *changed* one: a
//! copied-up file looks like any new file. [`diff`] asks the lower layers:
//! a path that the lower layers show is "C", anything else is "A".
//!
//! Two overlayfs features put part of a file or directory somewhere other than
//! upper: `metacopy=on` (a copy-up of the metadata only, the data stays in the
//! lower file) and `redirect_dir=on` (a renamed lower directory keeps its
//! contents at the old lower path). Our mounts use neither (both are off by
//! default, as docker uses them); if an upper directory has them, reading it
//! as a self-contained layer would be wrong, so [`diff`] and [`commit`] stop
//! with [`ChangesError::Unsupported`].
//!
//! Read the upper directory of a *stopped* container: a running one can change
//! files while they are read. A file that changes size under [`commit`] is an
//! error, never a corrupt tarball.

use ch01_process::explain;
use std::collections::HashMap;
use std::ffi::{CString, OsString};
use std::fmt;
use std::fs::{File, Metadata};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

/// The xattr overlayfs sets on an opaque directory (mounted by root).
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// The same xattr on overlays mounted with `userxattr` (in a user namespace).
pub const OPAQUE_USER_XATTR: &str = "user.overlay.opaque";
/// The OCI layer's prefix for a deleted name: `.wh.<name>`.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// The OCI layer's marker file for an opaque directory.
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// Why the changes of a container could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ChangesError {
    #[error("the upper directory {0:?} is not a directory")]
    NotADirectory(PathBuf),
    #[error("cannot read {path:?}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {path:?} to the layer tarball: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error(
        "{path:?} uses the overlayfs feature {feature} (its data lives in a lower layer): mount without it to diff or commit"
    )]
    Unsupported {
        path: PathBuf,
        feature: &'static str,
    },
}

type Result<T> = std::result::Result<T, ChangesError>;

fn read_err(path: &Path) -> impl FnOnce(io::Error) -> ChangesError + '_ {
    move |source| ChangesError::Read {
        path: path.to_path_buf(),
        source,
    }
}

/// One line of `diff`: what happened to which path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    /// Not in the lower layers: the container created it.
    Added,
    /// In the lower layers and in upper: copied up and changed (or, for a
    /// directory, something below it changed).
    Changed,
    /// In the lower layers, and a whiteout in upper hides it.
    Deleted,
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChangeKind::Added => "A",
            ChangeKind::Changed => "C",
            ChangeKind::Deleted => "D",
        })
    }
}

/// A change to one path, as the container sees it (`/etc/motd`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Change {
    pub kind: ChangeKind,
    /// Absolute inside the container.
    pub path: PathBuf,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.path.display())
    }
}

/// What [`commit`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitSummary {
    /// Every tar entry, the whiteout and opaque marker files included.
    pub entries: usize,
    /// `.wh.<name>` files: names deleted from the lower layers.
    pub whiteouts: usize,
    /// `.wh..wh..opq` files: directories whose lower contents are hidden.
    pub opaque_dirs: usize,
}

impl fmt::Display for CommitSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        write!(
            f,
            "{}, {}, {}",
            count(self.entries, "entry", "entries"),
            count(self.whiteouts, "whiteout", "whiteouts"),
            count(self.opaque_dirs, "opaque directory", "opaque directories")
        )
    }
}

// ANCHOR: markers
/// Whether `meta` (from `symlink_metadata`) is an overlayfs whiteout: a
/// character device with device number 0/0.
///
/// A real device node can never be 0/0, so the kernel borrows that number to
/// mean "this name is deleted". Several whiteouts may even be hard links to
/// one inode (the kernel shares them), so only the type and number count.
pub fn is_whiteout(meta: &Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// Whether the directory `dir` is opaque: it replaced a lower directory, and
/// nothing of the lower directory's contents shows through.
///
/// The kernel marks it with the xattr `trusted.overlay.opaque` = `"y"`
/// (`user.overlay.opaque` on `userxattr` mounts). Only `"y"` counts: since
/// Linux 6.7 the value `"x"` means something else ("holds whiteouts of another
/// form"), not "opaque". The xattr is read with `lgetxattr`, which never
/// follows a symbolic link.
pub fn is_opaque(dir: &Path) -> bool {
    [OPAQUE_XATTR, OPAQUE_USER_XATTR]
        .iter()
        .any(|name| xattr(dir, name).as_deref() == Some(b"y".as_slice()))
}
// ANCHOR_END: markers

/// The value of the xattr `name` of `path` (not following a symlink), if set.
fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let path = CString::new(path.as_os_str().as_bytes()).ok()?;
    let name = CString::new(name).ok()?;
    let mut value = [0u8; 256];
    // SAFETY: both strings are NUL-terminated and live across the call; the
    // kernel writes at most `value.len()` bytes into `value`.
    let len = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    usize::try_from(len).ok().map(|len| value[..len].to_vec())
}

/// Refuses upper entries whose content overlayfs keeps in a lower layer.
fn check_self_contained(path: &Path, meta: &Metadata) -> Result<()> {
    let checks: &[(&str, &'static str)] = if meta.is_dir() {
        &[
            ("trusted.overlay.redirect", "redirect_dir"),
            ("user.overlay.redirect", "redirect_dir"),
        ]
    } else if meta.is_file() {
        &[
            ("trusted.overlay.metacopy", "metacopy"),
            ("user.overlay.metacopy", "metacopy"),
        ]
    } else {
        &[]
    };
    for (name, feature) in checks {
        if xattr(path, name).is_some() {
            return Err(ChangesError::Unsupported {
                path: path.to_path_buf(),
                feature,
            });
        }
    }
    Ok(())
}

/// The names in directory `dir`, sorted bytewise so that output and tarballs
/// are the same on every run.
fn sorted_names(dir: &Path) -> Result<Vec<OsString>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err(dir))? {
        names.push(entry.map_err(read_err(dir))?.file_name());
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

fn check_upper(upper: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(upper).map_err(read_err(upper))?;
    if meta.is_dir() {
        Ok(())
    } else {
        Err(ChangesError::NotADirectory(upper.to_path_buf()))
    }
}

// ANCHOR: diff
/// What the container changed, from its upper directory `upper` and the
/// read-only layers `lowers` (bottom first, as the overlay stacks them),
/// sorted by path.
///
/// Each entry of `upper` is one change:
/// - a whiteout is "D": the name was deleted (its subtree with it; the
///   deleted children are not listed one by one, as in `docker diff`);
/// - anything else is "C" when the lower layers show that path, else "A".
///   A directory that only holds changes is "C" too: it is in upper because
///   the kernel had to copy it up to hold them.
///
/// An opaque directory (the container deleted a lower directory and made a
/// new one with the same name) is "C" (or "A"), and everything in it is "A":
/// the lower contents are hidden, so each entry is new even when a lower file
/// of the same name existed. As in `docker diff`, the hidden lower entries
/// are not listed as "D": the opaque directory stands for all of them.
pub fn diff(upper: &Path, lowers: &[PathBuf]) -> Result<Vec<Change>> {
    check_upper(upper)?;
    explain!(
        "walk {upper:?}: whiteouts (char 0/0) are deletions, xattr {OPAQUE_XATTR}=y marks opaque dirs"
    );
    let mut changes = Vec::new();
    walk_diff(upper, Path::new(""), lowers, false, &mut changes)?;
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(changes)
}

/// Adds the changes under `upper/rel` to `changes`. `hidden` is true below an
/// opaque directory, where the lower layers do not show through.
fn walk_diff(
    upper: &Path,
    rel: &Path,
    lowers: &[PathBuf],
    hidden: bool,
    changes: &mut Vec<Change>,
) -> Result<()> {
    // SOLUTION START: ch04-diff list the changes under upper/rel: a whiteout (char device 0/0) is D, an entry the lower layers show is C, any other A; below an opaque directory the lower layers show nothing (book: Overlayfs > What and why > What a container changed)
    let dir = upper.join(rel);
    for name in sorted_names(&dir)? {
        let rel = rel.join(&name);
        let path = upper.join(&rel);
        let meta = std::fs::symlink_metadata(&path).map_err(read_err(&path))?;
        let inside = Path::new("/").join(&rel);
        if is_whiteout(&meta) {
            explain!(
                "stat({path:?}) = char device 0/0: {} deleted",
                inside.display()
            );
            changes.push(Change {
                kind: ChangeKind::Deleted,
                path: inside,
            });
            continue;
        }
        check_self_contained(&path, &meta)?;
        let in_lower = !hidden && in_lowers(lowers, &rel)?;
        let kind = if in_lower {
            ChangeKind::Changed
        } else {
            ChangeKind::Added
        };
        changes.push(Change { kind, path: inside });
        if meta.is_dir() {
            let opaque = is_opaque(&path);
            if opaque {
                explain!("lgetxattr({path:?}, {OPAQUE_XATTR:?}) = \"y\": lower contents hidden");
            }
            walk_diff(upper, &rel, lowers, hidden || opaque || !in_lower, changes)?;
        }
    }
    Ok(())
    // SOLUTION END
}
// ANCHOR_END: diff

/// What one lower layer says about a path.
enum Seen {
    /// The layer has it.
    Present,
    /// The layer hides it from the layers below: a whiteout at the path, or a
    /// whiteout or non-directory in place of one of its parents.
    Hidden,
    /// The layer does not have it; `opaque` if a parent is an opaque
    /// directory (then the layers below do not show it either).
    Absent { opaque: bool },
}

/// Whether the lower layers (bottom first), stacked as overlayfs stacks them,
/// show the path `rel`. The top layer that has a say decides.
fn in_lowers(lowers: &[PathBuf], rel: &Path) -> Result<bool> {
    for layer in lowers.iter().rev() {
        match look_in_layer(layer, rel)? {
            Seen::Present => return Ok(true),
            Seen::Hidden | Seen::Absent { opaque: true } => return Ok(false),
            Seen::Absent { opaque: false } => {}
        }
    }
    Ok(false)
}

/// Looks up `rel` in one layer one component at a time, never following a
/// symbolic link: a layer is untrusted, and `lib -> /usr/lib` in it must not
/// send us to the host's `/usr/lib`.
fn look_in_layer(layer: &Path, rel: &Path) -> Result<Seen> {
    let mut path = layer.to_path_buf();
    let mut opaque = false;
    let mut components = rel.components().peekable();
    while let Some(component) = components.next() {
        let Component::Normal(name) = component else {
            return Ok(Seen::Absent { opaque });
        };
        path.push(name);
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                return Ok(Seen::Absent { opaque });
            }
            Err(e) => return Err(ChangesError::Read { path, source: e }),
        };
        let last = components.peek().is_none();
        if is_whiteout(&meta) {
            return Ok(Seen::Hidden);
        }
        if last {
            return Ok(Seen::Present);
        }
        if !meta.is_dir() {
            // A file where the path needs a directory hides whatever lower
            // layers have below that name.
            return Ok(Seen::Hidden);
        }
        opaque = opaque || is_opaque(&path);
    }
    Ok(Seen::Absent { opaque })
}

/// Formats changes for the `diff` command: one `KIND PATH` line each.
///
/// ```
/// use ch04_overlayfs::changes::{render, Change, ChangeKind};
/// let changes = [
///     Change { kind: ChangeKind::Changed, path: "/etc".into() },
///     Change { kind: ChangeKind::Added, path: "/etc/new".into() },
/// ];
/// assert_eq!(render(&changes), "C /etc\nA /etc/new\n");
/// ```
pub fn render(changes: &[Change]) -> String {
    changes.iter().map(|change| format!("{change}\n")).collect()
}

// ANCHOR: commit
/// Writes the upper directory `upper` to `out` as an OCI image layer: an
/// uncompressed tar with paths relative to the container's root.
///
/// - Directories (`etc/`), regular files, symbolic links, fifos and device
///   nodes are written with their mode (setuid bits included), owner and
///   modification time as upper has them; file contents byte for byte.
/// - A whiteout becomes an empty file `.wh.<name>` in the same directory.
/// - An opaque directory is followed by an empty file `<dir>/.wh..wh..opq`.
/// - A regular file with several names in upper is written once; its other
///   names are hard link entries to the first one (in tar order).
/// - Not written: sockets (a tar cannot hold them, docker drops them too),
///   and xattrs (upper has the kernel's own `trusted.overlay.*` ones, which
///   must not travel; file capabilities are therefore not kept either).
///
/// Entries come in a fixed order (bytewise by name, a directory before its
/// contents), so the same upper directory always gives the same tarball.
pub fn commit(upper: &Path, out: &mut impl Write) -> Result<CommitSummary> {
    check_upper(upper)?;
    explain!("walk {upper:?}: write it as an OCI layer tar, whiteouts as .wh. files");
    let mut writer = LayerWriter {
        builder: tar::Builder::new(out),
        upper,
        summary: CommitSummary::default(),
        links: HashMap::new(),
    };
    writer.walk(Path::new(""))?;
    writer
        .builder
        .into_inner()
        .and_then(|out| out.flush())
        .map_err(|source| ChangesError::Write {
            path: upper.to_path_buf(),
            source,
        })?;
    explain!(
        "wrote {} tar entries: {} whiteouts, {} opaque directories",
        writer.summary.entries,
        writer.summary.whiteouts,
        writer.summary.opaque_dirs
    );
    Ok(writer.summary)
}
// ANCHOR_END: commit

struct LayerWriter<'a, W: Write> {
    builder: tar::Builder<W>,
    upper: &'a Path,
    summary: CommitSummary,
    /// (device, inode) of regular files with several links, to the tar path
    /// of their first name.
    links: HashMap<(u64, u64), PathBuf>,
}

impl<W: Write> LayerWriter<'_, W> {
    fn walk(&mut self, rel: &Path) -> Result<()> {
        let dir = self.upper.join(rel);
        for name in sorted_names(&dir)? {
            let rel = rel.join(&name);
            let path = self.upper.join(&rel);
            let meta = std::fs::symlink_metadata(&path).map_err(read_err(&path))?;
            if is_whiteout(&meta) {
                let mut marker = OsString::from(WHITEOUT_PREFIX);
                marker.push(&name);
                explain!(
                    "stat({path:?}) = char device 0/0: write {:?}",
                    rel.with_file_name(&marker)
                );
                self.marker(&rel.with_file_name(marker), &meta, &path)?;
                self.summary.whiteouts += 1;
                continue;
            }
            check_self_contained(&path, &meta)?;
            self.entry(&rel, &path, &meta)?;
            if meta.is_dir() {
                if is_opaque(&path) {
                    explain!(
                        "lgetxattr({path:?}, {OPAQUE_XATTR:?}) = \"y\": write {:?}",
                        rel.join(OPAQUE_MARKER)
                    );
                    self.marker(&rel.join(OPAQUE_MARKER), &meta, &path)?;
                    self.summary.opaque_dirs += 1;
                }
                self.walk(&rel)?;
            }
        }
        Ok(())
    }

    /// A tar header with the mode, owner and time of `meta`.
    fn header(meta: &Metadata, kind: tar::EntryType) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(meta.mode() & 0o7777);
        header.set_uid(u64::from(meta.uid()));
        header.set_gid(u64::from(meta.gid()));
        header.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0));
        header.set_size(0);
        header
    }

    /// An empty regular file `rel` (a whiteout or opaque marker), owned and
    /// dated like `meta`, the upper entry it stands for.
    fn marker(&mut self, rel: &Path, meta: &Metadata, source: &Path) -> Result<()> {
        let mut header = Self::header(meta, tar::EntryType::Regular);
        header.set_mode(0o644);
        self.append(&mut header, rel, io::empty(), source)
    }

    fn entry(&mut self, rel: &Path, path: &Path, meta: &Metadata) -> Result<()> {
        let file_type = meta.file_type();
        if file_type.is_dir() {
            // tar names a directory with a trailing slash: `etc/`.
            let mut name = rel.as_os_str().to_os_string();
            name.push("/");
            let mut header = Self::header(meta, tar::EntryType::Directory);
            self.append(&mut header, Path::new(&name), io::empty(), path)
        } else if file_type.is_file() {
            self.regular(rel, path)
        } else if file_type.is_symlink() {
            let target = std::fs::read_link(path).map_err(read_err(path))?;
            let mut header = Self::header(meta, tar::EntryType::Symlink);
            let written = self.builder.append_link(&mut header, rel, &target);
            self.count(written, path)
        } else if file_type.is_socket() {
            explain!("skip {path:?}: a socket cannot be stored in a tar");
            Ok(())
        } else {
            let kind = if file_type.is_char_device() {
                tar::EntryType::Char
            } else if file_type.is_block_device() {
                tar::EntryType::Block
            } else {
                tar::EntryType::Fifo
            };
            let mut header = Self::header(meta, kind);
            let device = meta.rdev();
            header
                .set_device_major(libc::major(device))
                .and_then(|()| header.set_device_minor(libc::minor(device)))
                .map_err(|source| ChangesError::Write {
                    path: path.to_path_buf(),
                    source,
                })?;
            self.append(&mut header, rel, io::empty(), path)
        }
    }

    /// A regular file: its contents, or a hard link to a name written before.
    fn regular(&mut self, rel: &Path, path: &Path) -> Result<()> {
        // O_NOFOLLOW: if the name became a symlink since we looked, fail
        // instead of reading whatever it points to.
        let file = File::options()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(read_err(path))?;
        let meta = file.metadata().map_err(read_err(path))?;
        if meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.links.get(&key).cloned() {
                let mut header = Self::header(&meta, tar::EntryType::Link);
                let written = self.builder.append_link(&mut header, rel, &first);
                return self.count(written, path);
            }
            self.links.insert(key, rel.to_path_buf());
        }
        let mut header = Self::header(&meta, tar::EntryType::Regular);
        header.set_size(meta.len());
        let contents = Exact {
            file: file.take(meta.len()),
            left: meta.len(),
        };
        self.append(&mut header, rel, contents, path)
    }

    fn append(
        &mut self,
        header: &mut tar::Header,
        rel: &Path,
        data: impl Read,
        source: &Path,
    ) -> Result<()> {
        let written = self.builder.append_data(header, rel, data);
        self.count(written, source)
    }

    fn count(&mut self, written: io::Result<()>, source: &Path) -> Result<()> {
        written.map_err(|e| ChangesError::Write {
            path: source.to_path_buf(),
            source: e,
        })?;
        self.summary.entries += 1;
        Ok(())
    }
}

/// Reads exactly `left` bytes, or fails: the tar header already promised
/// that size, and a file that shrank meanwhile must not corrupt the archive.
struct Exact {
    file: io::Take<File>,
    left: u64,
}

impl Read for Exact {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was being read: stop the container before committing",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_display_as_docker_diff_letters() {
        let changes = [
            Change {
                kind: ChangeKind::Changed,
                path: "/etc".into(),
            },
            Change {
                kind: ChangeKind::Added,
                path: "/etc/new".into(),
            },
            Change {
                kind: ChangeKind::Deleted,
                path: "/etc/old".into(),
            },
        ];
        assert_eq!(render(&changes), "C /etc\nA /etc/new\nD /etc/old\n");
        assert_eq!(render(&[]), "");
    }
}
