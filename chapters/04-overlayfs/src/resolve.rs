//! Resolving a path inside a root, the kernel's way: `openat2` with
//! `RESOLVE_IN_ROOT`.
//!
//! Joining a root and a path from an image (`root.join("data")`) and handing
//! it to the kernel follows symbolic links as the *host* sees them: an
//! image's `/data -> /etc` leads to the host's `/etc`. Checking the path
//! first (canonicalize, then compare prefixes) is racy: the link can change
//! between the check and the use. `openat2(root_fd, path, RESOLVE_IN_ROOT)`
//! makes the kernel treat `root_fd` as `/` for the whole lookup: absolute
//! links, `..` and absolute paths all stay inside. Volumes (this chapter)
//! and layer extraction (chapter 5) resolve every path this way, and both
//! create what is missing with [`open_creating`], the one walk that makes
//! directories inside a root.

use ch01_process::explain;
use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat, openat2, readlinkat};
use nix::sys::stat::{Mode, mkdirat};
use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

// ANCHOR: open_in_root
/// Opens `path` (relative; empty means the root itself) with `root` as `/`.
/// RESOLVE_NO_MAGICLINKS also refuses the `/proc/<pid>/fd` kind of link,
/// which could jump anywhere. `flags` are the open flags, such as `O_PATH`
/// for a handle good for `*at` calls and for mounting on.
pub fn open_in_root(root: BorrowedFd<'_>, path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    // EAGAIN means a rename or mount elsewhere raced with a `..` lookup;
    // trying again is the documented response.
    let mut tries = 0;
    loop {
        match openat2(root, path, how) {
            Err(Errno::EAGAIN) if tries < 32 => tries += 1,
            result => return result,
        }
    }
}
// ANCHOR_END: open_in_root

/// What [`open_creating`] makes of the last component when it is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// A directory, mode 0755.
    Dir,
    /// An empty file, mode 0644 (a mount point for a bind of a file).
    File,
}

/// Where [`open_creating`] failed: the path inside the root (relative) and
/// what the kernel said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkError {
    /// The call that failed, as `--explain` would show it.
    pub step: String,
    /// The path it was about, relative to the root.
    pub path: PathBuf,
    pub errno: Errno,
}

/// The most symbolic links [`open_creating`] follows, as the kernel's
/// own limit for one lookup (`ELOOP` past it).
pub const MAX_LINKS: usize = 40;

// ANCHOR: open_creating
/// Opens `path` inside `root` (with `flags`, such as `O_PATH`), creating
/// what is missing one component at a time: directories (0755) on the way,
/// and `last` at the end.
///
/// Every lookup starts again from `root` with RESOLVE_IN_ROOT, and every
/// creation is a `*at` call in a directory found that way, so nothing is
/// ever created outside the root. A dangling symbolic link on the way (an
/// image's `/data -> /srv/data`, with no `/srv`) is followed the way the
/// kernel would follow it with `root` as `/`: its target is created, inside
/// the root, not the host's `/srv`.
pub fn open_creating(
    root: BorrowedFd<'_>,
    path: &Path,
    last: Create,
    flags: OFlag,
) -> Result<OwnedFd, WalkError> {
    let fail = |step: &str, path: &Path| {
        let (step, path) = (step.to_string(), path.to_path_buf());
        move |errno| WalkError { step, path, errno }
    };
    // Most of the time everything exists: one lookup.
    match open_in_root(root, path, flags) {
        Err(Errno::ENOENT) => {}
        result => return result.map_err(fail("openat2", path)),
    }
    // Components still to walk, the next one last (a stack), and the
    // prefix already known to exist, relative to the root.
    let mut todo = components(path);
    todo.reverse();
    let mut done = PathBuf::new();
    let mut links = 0;
    while let Some(name) = todo.pop() {
        let next = done.join(&name);
        let is_last = todo.is_empty();
        let wanted = if is_last { flags } else { OFlag::O_PATH };
        match open_in_root(root, &next, wanted) {
            Ok(fd) if is_last => return Ok(fd),
            Ok(_) => done = next,
            Err(Errno::ENOENT) => {
                let parent = open_in_root(root, &done, OFlag::O_PATH | OFlag::O_DIRECTORY)
                    .map_err(fail("openat2", &done))?;
                let created = if is_last && last == Create::File {
                    explain!(
                        "openat(/{}, {name:?}, O_CREAT|O_EXCL, 0644)",
                        done.display()
                    );
                    openat(
                        parent.as_fd(),
                        name.as_os_str(),
                        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW,
                        Mode::from_bits_truncate(0o644),
                    )
                    .map(drop)
                } else {
                    explain!("mkdirat(/{}, {name:?}, 0755)", done.display());
                    mkdirat(&parent, name.as_os_str(), Mode::from_bits_truncate(0o755))
                };
                match created {
                    // Walk into what was just made, from the root again.
                    Ok(()) => todo.push(name),
                    // It exists, yet the lookup found nothing: a symbolic
                    // link to a missing path. Go on with its target.
                    Err(Errno::EEXIST) => {
                        let link = readlinkat(&parent, name.as_os_str())
                            .map_err(fail("readlinkat", &next))?;
                        links += 1;
                        if links > MAX_LINKS {
                            return Err(fail("follow symbolic links", path)(Errno::ELOOP));
                        }
                        let link = PathBuf::from(link);
                        explain!(
                            "{next:?} is a dangling symlink to {link:?}: create its target inside the root"
                        );
                        if link.is_absolute() {
                            done = PathBuf::new();
                        }
                        let mut rest = components(&link);
                        rest.reverse();
                        todo.extend(rest);
                    }
                    Err(errno) => return Err(fail("create", &next)(errno)),
                }
            }
            Err(errno) => return Err(fail("openat2", &next)(errno)),
        }
    }
    // An empty path, or one of only `/` and `.`: the root itself.
    open_in_root(root, Path::new(""), flags).map_err(fail("openat2", Path::new("")))
}
// ANCHOR_END: open_creating

/// The components of a path to walk: `..` kept (the kernel resolves it
/// inside the root), `/` and `.` dropped.
fn components(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_owned()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}
