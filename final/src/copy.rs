//! `docker cp` and `docker export`, the container's side: a path inside a
//! container's root, read as a tar or written from one, without ever
//! leaving that root.
//!
//! The paths come from the client, the files from the container: both are
//! untrusted. A container's `/data -> /etc` must lead to the container's
//! `/etc`, and its `/x -> ../../../../etc/shadow` nowhere outside. So every
//! lookup goes through chapter 4's [`open_in_root`] (the kernel resolves the
//! path with the root as `/`), and the walk that writes the tar goes from
//! descriptor to descriptor (`openat`, `fstatat` with `O_NOFOLLOW`): a
//! symbolic link inside the tree is stored as a link, never followed.
//! Writing goes through chapter 5's extractor, the one that unpacks layers.
//!
//! Where the root is:
//!
//! - a running container: `/proc/<pid>/root`, its root as its own mount
//!   namespace shows it (layers, and volumes mounted on them);
//! - a stopped one: its layers mounted here (chapter 4's [`LayerStack`])
//!   with its volumes on them, in a mount namespace of this process's
//!   own, gone with it.
//!
//! This runs in `skiff cp-helper`, a single-threaded process of its own
//! (a threaded daemon could not enter a new mount namespace).

use crate::engine::{SkiffEngine, Spec};
use ch02_namespaces::records::Record;
use ch04_overlayfs::resolve::open_in_root;
use ch04_overlayfs::volumes::{VolumeError, VolumeSource, mount_volumes};
use ch05_images::history::rfc3339_nanos;
use nix::dir::Dir;
use nix::fcntl::{AtFlags, OFlag, openat, readlinkat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat};
use serde::{Deserialize, Serialize};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Component, Path, PathBuf};

/// Why a copy failed, and the HTTP status docker gives it.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("Could not find the file {0} in container {1}")]
    NotFound(String, String),
    #[error("the root of container {0} cannot be opened: {1}")]
    Root(String, String),
    #[error("extraction point {0} is not a directory")]
    NotADirectory(String),
    #[error("{what} {path}: {errno}")]
    Sys {
        what: &'static str,
        path: String,
        errno: nix::Error,
    },
    #[error("writing the archive: {0}")]
    Write(io::Error),
    #[error("unpacking the archive into {0}: {1}")]
    Extract(String, ch05_images::extract::ExtractError),
}

impl CopyError {
    /// Docker's status code for the error.
    pub fn status(&self) -> u16 {
        match self {
            CopyError::NotFound(..) => 404,
            CopyError::NotADirectory(_) | CopyError::Extract(..) => 400,
            _ => 500,
        }
    }
}

type Result<T> = std::result::Result<T, CopyError>;

/// What `HEAD /containers/{id}/archive` tells of a path (docker's
/// `X-Docker-Container-Path-Stat` header, base64 of this as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    /// Go's `os.FileMode`: the permission bits and a bit per file type.
    pub mode: u32,
    pub mtime: String,
    /// For a symbolic link: where it leads, resolved inside the root.
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

/// Go's `os.FileMode` type bits, which docker's clients decode.
pub mod go_mode {
    pub const DIR: u32 = 1 << 31;
    pub const SYMLINK: u32 = 1 << 27;
    pub const DEVICE: u32 = 1 << 26;
    pub const NAMED_PIPE: u32 = 1 << 25;
    pub const SOCKET: u32 = 1 << 24;
    pub const SETUID: u32 = 1 << 23;
    pub const SETGID: u32 = 1 << 22;
    pub const CHAR_DEVICE: u32 = 1 << 21;
    pub const STICKY: u32 = 1 << 20;
}

/// A stat's mode as Go's `os.FileMode`.
///
/// ```
/// use skiff::copy::{go_file_mode, go_mode};
/// assert_eq!(go_file_mode(0o040755), go_mode::DIR | 0o755);
/// assert_eq!(go_file_mode(0o104755), go_mode::SETUID | 0o755);
/// assert_eq!(go_file_mode(0o120777), go_mode::SYMLINK | 0o777);
/// ```
pub fn go_file_mode(st_mode: u32) -> u32 {
    let mut mode = st_mode & 0o777;
    let kind = SFlag::from_bits_truncate(st_mode & SFlag::S_IFMT.bits());
    mode |= match kind {
        SFlag::S_IFDIR => go_mode::DIR,
        SFlag::S_IFLNK => go_mode::SYMLINK,
        SFlag::S_IFBLK => go_mode::DEVICE,
        SFlag::S_IFCHR => go_mode::DEVICE | go_mode::CHAR_DEVICE,
        SFlag::S_IFIFO => go_mode::NAMED_PIPE,
        SFlag::S_IFSOCK => go_mode::SOCKET,
        _ => 0,
    };
    for (bit, go) in [
        (0o4000, go_mode::SETUID),
        (0o2000, go_mode::SETGID),
        (0o1000, go_mode::STICKY),
    ] {
        if st_mode & bit != 0 {
            mode |= go;
        }
    }
    mode
}

// ANCHOR: open_root
/// The root of the container of `record`, opened: a running container's
/// as its first process sees it, a stopped one's layers and volumes
/// mounted in a mount namespace of this process's own (call this once,
/// before any thread).
pub fn open_root(engine: &SkiffEngine, record: &Record<Spec>) -> Result<OwnedFd> {
    use nix::fcntl::open;
    let id = record.id().to_string();
    let failed =
        |what: &str, e: &dyn std::fmt::Display| CopyError::Root(id.clone(), format!("{what}: {e}"));
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    if record.is_running()
        && let Some(pid) = record.state.pid.filter(|p| p.is_alive())
    {
        let root = open(
            format!("/proc/{}/root", pid.pid).as_str(),
            flags,
            Mode::empty(),
        )
        .map_err(|e| failed("open /proc/PID/root", &e))?;
        // Still the same process: the pid was not reused meanwhile.
        if pid.is_alive() {
            return Ok(root);
        }
    }
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .map_err(|e| failed("unshare(CLONE_NEWNS)", &e))?;
    ch02_namespaces::mounts::make_private().map_err(|e| failed("make / private", &e))?;
    let overlay = engine.images().overlay();
    let stack = overlay.stack(&record.spec.base);
    stack.mount().map_err(|e| failed("mount the layers", &e))?;
    // Its volumes too, as its process would see them (docker does the
    // same): a file copied to `/data` of a stopped container whose `/data`
    // is a volume lands in the volume. A tmpfs is left out: a new one
    // would be gone with this process, and so would what is copied in.
    let volumes = record
        .spec
        .storage()
        .mounts
        .iter()
        .filter(|mount| mount.source != VolumeSource::Tmpfs)
        .map(|mount| Ok((mount.clone(), overlay.volumes().resolve(mount)?)))
        .collect::<std::result::Result<Vec<_>, VolumeError>>()
        .map_err(|e| failed("find the volumes", &e))?;
    mount_volumes(&stack.merged(), &volumes).map_err(|e| failed("mount the volumes", &e))?;
    open(&stack.merged(), flags, Mode::empty()).map_err(|e| failed("open the layers", &e))
}
// ANCHOR_END: open_root

/// A path asked for, split as the copy needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// The path as given, for messages.
    pub given: String,
    /// The directory that holds the entry (relative to the root;
    /// symbolic links in it are followed, inside the root).
    pub parent: PathBuf,
    /// The entry's name in it: not followed when it is a symbolic link.
    /// Empty for the root itself.
    pub name: OsString,
    /// `dir/.`: the directory's contents, under the name `.`.
    pub contents: bool,
    /// `link/` or `link/.`: a final symbolic link is followed.
    pub follow: bool,
}

impl Wanted {
    /// Splits `path` (absolute, or relative to the root).
    ///
    /// ```
    /// use skiff::copy::Wanted;
    /// let w = Wanted::parse("/etc/hostname");
    /// assert_eq!((w.parent.to_str(), w.name.to_str(), w.contents), (Some("etc"), Some("hostname"), false));
    /// let w = Wanted::parse("/srv/.");
    /// assert_eq!((w.parent.to_str(), w.name.to_str(), w.contents), (Some(""), Some("srv"), true));
    /// assert!(Wanted::parse("/").name.is_empty());
    /// ```
    pub fn parse(path: &str) -> Wanted {
        let contents = path == "." || path.ends_with("/.");
        let follow = contents || path.ends_with('/');
        let mut parts: Vec<OsString> = Path::new(path)
            .components()
            .filter_map(|c| match c {
                Component::Normal(part) => Some(part.to_owned()),
                Component::ParentDir => Some("..".into()),
                _ => None,
            })
            .collect();
        let name = parts.pop().unwrap_or_default();
        Wanted {
            given: path.to_string(),
            parent: parts.iter().collect(),
            name,
            contents,
            follow,
        }
    }

    /// Whether the path is looked up whole (the root, `..`, or a trailing
    /// `/`): then it must be a directory, found through any link.
    fn whole(&self) -> bool {
        self.name.is_empty() || self.follow || self.name == ".."
    }

    /// The path relative to the root.
    fn relative(&self) -> PathBuf {
        self.parent.join(&self.name)
    }

    /// The name the archive's entries start with: the entry's own, `.` for
    /// a directory's contents (and for the root).
    pub fn archive_name(&self) -> String {
        if self.contents || self.name.is_empty() {
            ".".into()
        } else {
            self.name.to_string_lossy().into_owned()
        }
    }
}

fn sys(what: &'static str, path: impl Into<String>) -> impl FnOnce(nix::Error) -> CopyError {
    let path = path.into();
    move |errno| CopyError::Sys { what, path, errno }
}

/// The entry `wanted` names in `root`: the directory holding it, and its
/// stat (a symbolic link's own, unless the directory's contents are asked).
fn look_up(root: BorrowedFd<'_>, wanted: &Wanted, container: &str) -> Result<(OwnedFd, FileStat)> {
    let missing = || CopyError::NotFound(wanted.given.clone(), container.to_string());
    let dir_flags = OFlag::O_PATH | OFlag::O_DIRECTORY;
    if wanted.whole() {
        let fd = open_in_root(root, &wanted.relative(), dir_flags).map_err(|_| missing())?;
        let stat = fstat(&fd).map_err(sys("fstat", &wanted.given))?;
        return Ok((fd, stat));
    }
    let parent = open_in_root(root, &wanted.parent, dir_flags).map_err(|_| missing())?;
    let stat = fstatat(
        &parent,
        wanted.name.as_os_str(),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(|_| missing())?;
    Ok((parent, stat))
}

/// Where a symbolic link at `path` (relative to the root) leads, resolved
/// as the kernel would with the root as `/`: an absolute path inside it.
fn link_target(root: BorrowedFd<'_>, path: &Path) -> String {
    let mut resolved: Vec<OsString> = Vec::new();
    let mut todo: Vec<OsString> = components(path);
    todo.reverse();
    let mut links = 0;
    while let Some(part) = todo.pop() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let parent: PathBuf = resolved.iter().collect();
        let target = open_in_root(root, &parent, OFlag::O_PATH | OFlag::O_DIRECTORY)
            .ok()
            .and_then(|dir| readlinkat(&dir, part.as_os_str()).ok());
        match target {
            Some(target) if links < ch04_overlayfs::resolve::MAX_LINKS => {
                links += 1;
                if Path::new(&target).is_absolute() {
                    resolved.clear();
                }
                let mut more = components(Path::new(&target));
                more.reverse();
                todo.extend(more);
            }
            _ => resolved.push(part),
        }
    }
    let inside: PathBuf = resolved.iter().collect();
    format!("/{}", inside.display())
}

fn components(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part.to_owned()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

// ANCHOR: stat
/// `HEAD /containers/{id}/archive?path=PATH`: what PATH is, inside `root`.
pub fn stat(root: BorrowedFd<'_>, wanted: &Wanted, container: &str) -> Result<PathStat> {
    let (_, stat) = look_up(root, wanted, container)?;
    let mode = go_file_mode(stat.st_mode);
    let link_target = if mode & go_mode::SYMLINK != 0 {
        link_target(root, &wanted.relative())
    } else {
        String::new()
    };
    let name = if wanted.name.is_empty() {
        "/".to_string()
    } else if wanted.contents {
        ".".to_string()
    } else {
        wanted.name.to_string_lossy().into_owned()
    };
    let nanos = (stat.st_mtime.max(0) as u64) * 1_000_000_000 + stat.st_mtime_nsec.max(0) as u64;
    Ok(PathStat {
        name,
        size: stat.st_size,
        mode,
        mtime: rfc3339_nanos(nanos),
        link_target,
    })
}
// ANCHOR_END: stat

// ANCHOR: archive
/// `GET /containers/{id}/archive?path=PATH`: PATH as a tar, its entries
/// named from PATH's last component (`hostname`, `etc/`, `etc/passwd`).
pub fn archive(
    root: BorrowedFd<'_>,
    wanted: &Wanted,
    container: &str,
    out: impl Write,
) -> Result<()> {
    let (dir, stat) = look_up(root, wanted, container)?;
    let mut walk = Walk {
        tar: tar::Builder::new(out),
    };
    if wanted.whole() {
        walk.directory(dir.as_fd(), OsStr::new("."), &wanted.archive_name(), &stat)?;
    } else {
        walk.entry(dir.as_fd(), &wanted.name, &wanted.archive_name(), &stat)?;
    }
    walk.tar
        .into_inner()
        .and_then(|mut out| out.flush())
        .map_err(CopyError::Write)
}
// ANCHOR_END: archive

/// `GET /containers/{id}/export`: the whole root as a tar, its entries
/// named from the root (`bin/`, `bin/sh`, `etc/`...).
pub fn export(root: BorrowedFd<'_>, out: impl Write) -> Result<()> {
    let stat = fstat(root).map_err(sys("fstat", "/"))?;
    let mut walk = Walk {
        tar: tar::Builder::new(out),
    };
    walk.directory(root, OsStr::new("."), "", &stat)?;
    walk.tar
        .into_inner()
        .and_then(|mut out| out.flush())
        .map_err(CopyError::Write)
}

/// Filesystems whose files are the kernel's views, not the container's
/// files (`/proc`, `/sys`...): their directories are archived empty.
const VIRTUAL_FILESYSTEMS: &[i64] = &[
    0x9fa0,      // proc
    0x6265_6572, // sysfs
    0x0027_e0eb, // cgroup
    0x6367_7270, // cgroup2
    0x1cd1,      // devpts
    0x1980_0202, // mqueue
    0x6462_6720, // debugfs
    0x7363_6673, // securityfs
];

// The type of `f_type` differs between architectures.
#[allow(clippy::unnecessary_cast)]
fn is_virtual(dir: BorrowedFd<'_>) -> bool {
    nix::sys::statfs::fstatfs(dir)
        .is_ok_and(|s| VIRTUAL_FILESYSTEMS.contains(&(s.filesystem_type().0 as i64)))
}

/// The tar being written, by descriptors.
struct Walk<W: Write> {
    tar: tar::Builder<W>,
}

impl<W: Write> Walk<W> {
    fn header(stat: &FileStat, kind: tar::EntryType) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(stat.st_mode & 0o7777);
        header.set_uid(u64::from(stat.st_uid));
        header.set_gid(u64::from(stat.st_gid));
        header.set_mtime(stat.st_mtime.max(0) as u64);
        header.set_size(0);
        header
    }

    fn written(result: io::Result<()>) -> Result<()> {
        result.map_err(CopyError::Write)
    }

    /// Entry `name` of directory `parent`, archived as `path`.
    fn entry(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        path: &str,
        stat: &FileStat,
    ) -> Result<()> {
        let kind = SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits());
        match kind {
            SFlag::S_IFDIR => self.directory(parent, name, path, stat),
            SFlag::S_IFREG => self.regular(parent, name, path),
            SFlag::S_IFLNK => {
                let target = readlinkat(parent, name).map_err(sys("readlinkat", path))?;
                let mut header = Self::header(stat, tar::EntryType::Symlink);
                Self::written(self.tar.append_link(&mut header, path, &target))
            }
            SFlag::S_IFCHR | SFlag::S_IFBLK | SFlag::S_IFIFO => {
                let kind = match kind {
                    SFlag::S_IFCHR => tar::EntryType::Char,
                    SFlag::S_IFBLK => tar::EntryType::Block,
                    _ => tar::EntryType::Fifo,
                };
                let mut header = Self::header(stat, kind);
                Self::written(
                    header
                        .set_device_major(libc::major(stat.st_rdev))
                        .and_then(|()| header.set_device_minor(libc::minor(stat.st_rdev))),
                )?;
                Self::written(self.tar.append_data(&mut header, path, io::empty()))
            }
            // A socket cannot be stored in a tar.
            _ => Ok(()),
        }
    }

    fn directory(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        path: &str,
        stat: &FileStat,
    ) -> Result<()> {
        // The root of an export has no entry of its own.
        if !path.is_empty() {
            let mut header = Self::header(stat, tar::EntryType::Directory);
            Self::written(
                self.tar
                    .append_data(&mut header, format!("{path}/"), io::empty()),
            )?;
        }
        let mut dir = Dir::openat(
            parent,
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(sys("open the directory", path))?;
        if is_virtual(dir.as_fd()) {
            return Ok(());
        }
        let mut names: Vec<OsString> = Vec::new();
        for entry in dir.iter() {
            let bytes = entry
                .map_err(sys("readdir", path))?
                .file_name()
                .to_bytes()
                .to_vec();
            if bytes != b"." && bytes != b".." {
                names.push(OsString::from_vec(bytes));
            }
        }
        names.sort();
        for child in names {
            let child_path = if path.is_empty() {
                child.to_string_lossy().into_owned()
            } else {
                format!("{path}/{}", child.to_string_lossy())
            };
            // Gone since the listing: skipped, as a copy of a live tree must.
            let Ok(child_stat) = fstatat(&dir, child.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
            else {
                continue;
            };
            self.entry(dir.as_fd(), &child, &child_path, &child_stat)?;
        }
        Ok(())
    }

    /// A regular file: exactly the size its header says, padded with
    /// zeros if it shrinks while it is read, cut if it grows.
    fn regular(&mut self, parent: BorrowedFd<'_>, name: &OsStr, path: &str) -> Result<()> {
        let fd = openat(
            parent,
            name,
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(sys("open", path))?;
        let stat = fstat(&fd).map_err(sys("fstat", path))?;
        let size = stat.st_size.max(0) as u64;
        let mut header = Self::header(&stat, tar::EntryType::Regular);
        header.set_size(size);
        let contents = File::from(fd).take(size).chain(io::repeat(0)).take(size);
        Self::written(self.tar.append_data(&mut header, path, contents))
    }
}

// ANCHOR: extract
/// `PUT /containers/{id}/archive?path=DIR`: unpacks the tar `input` into
/// DIR (which must exist) with chapter 5's extractor, inside `root`.
pub fn extract(
    root: BorrowedFd<'_>,
    wanted: &Wanted,
    container: &str,
    input: impl Read,
) -> Result<()> {
    let dir = open_in_root(root, &wanted.relative(), OFlag::O_PATH)
        .map_err(|_| CopyError::NotFound(wanted.given.clone(), container.to_string()))?;
    let stat = fstat(&dir).map_err(sys("fstat", &wanted.given))?;
    if stat.st_mode & SFlag::S_IFMT.bits() != SFlag::S_IFDIR.bits() {
        return Err(CopyError::NotADirectory(wanted.given.clone()));
    }
    // The directory by its descriptor: the path resolved once, inside the
    // root, is the one the extractor starts from.
    let at = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    ch05_images::extract::unpack(input, &at, &ch05_images::extract::Limits::default())
        .map(drop)
        .map_err(|e| CopyError::Extract(wanted.given.clone(), e))
}
// ANCHOR_END: extract

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A container root: `/etc/passwd`, links out of `/srv`, and a host
    /// file next to the root that nothing may reach.
    fn root() -> (tempfile::TempDir, File) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("srv")).unwrap();
        std::fs::write(root.join("etc/passwd"), "container\n").unwrap();
        std::fs::write(dir.path().join("host-secret"), "host\n").unwrap();
        symlink("/etc", root.join("srv/escape")).unwrap();
        symlink("../../../../..", root.join("srv/up")).unwrap();
        symlink("escape", root.join("srv/chain")).unwrap();
        let fd = File::open(&root).unwrap();
        (dir, fd)
    }

    #[test]
    fn links_resolve_inside_the_root() {
        let (_dir, root) = root();
        let target = |path: &str| link_target(root.as_fd(), Path::new(path));
        assert_eq!(target("srv/escape"), "/etc");
        assert_eq!(target("srv/up"), "/");
        assert_eq!(target("srv/chain"), "/etc");
        assert_eq!(target("srv/up/host-secret"), "/host-secret");
        let stat = stat(root.as_fd(), &Wanted::parse("/srv/chain"), "c").unwrap();
        assert_eq!(stat.mode & go_mode::SYMLINK, go_mode::SYMLINK);
        assert_eq!(stat.link_target, "/etc");
    }

    #[test]
    fn an_archive_reads_through_links_only_inside_the_root() {
        let (_dir, root) = root();
        let mut tar = Vec::new();
        archive(
            root.as_fd(),
            &Wanted::parse("/srv/up/etc/passwd"),
            "c",
            &mut tar,
        )
        .unwrap();
        let mut entries = tar::Archive::new(&tar[..]);
        let mut entry = entries.entries().unwrap().next().unwrap().unwrap();
        let mut text = String::new();
        entry.read_to_string(&mut text).unwrap();
        assert_eq!(text, "container\n");
        // The host's file is not found through the link: it is outside.
        let missing = stat(root.as_fd(), &Wanted::parse("/srv/up/host-secret"), "c");
        assert!(matches!(missing, Err(CopyError::NotFound(..))));
        // A link inside the tree is archived as a link.
        let mut tar = Vec::new();
        archive(root.as_fd(), &Wanted::parse("/srv"), "c", &mut tar).unwrap();
        let mut entries = tar::Archive::new(&tar[..]);
        let kinds: Vec<(String, tar::EntryType)> = entries
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().entry_type(),
                )
            })
            .collect();
        assert!(kinds.contains(&("srv/escape".into(), tar::EntryType::Symlink)));
        assert!(!kinds.iter().any(|(name, _)| name.contains("passwd")));
    }

    #[test]
    fn an_extraction_writes_only_inside_the_root() {
        let (dir, root) = root();
        let mut tar = tar::Builder::new(Vec::new());
        for name in ["new", "srv/escape/through-link"] {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(0o644);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(0);
            header.set_size(3);
            tar.append_data(&mut header, name, &b"hi\n"[..]).unwrap();
        }
        let tar = tar.into_inner().unwrap();
        // Into /srv/up/, which is the root: never the directory above it.
        extract(root.as_fd(), &Wanted::parse("/srv/up/"), "c", &tar[..]).unwrap();
        assert!(dir.path().join("root/new").exists());
        assert!(!dir.path().join("new").exists());
        // `/srv/escape` is the root's /etc, not the host's.
        assert!(dir.path().join("root/etc/through-link").exists());
        let not_a_dir = extract(root.as_fd(), &Wanted::parse("/etc/passwd"), "c", &tar[..]);
        assert!(matches!(not_a_dir, Err(CopyError::NotADirectory(_))));
    }
}
