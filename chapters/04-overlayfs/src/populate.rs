//! Filling an empty volume with what the image has where it is mounted.
//!
//! `docker run -v conf:/etc/nginx nginx` gives nginx its own configuration
//! in the new volume, not an empty directory: when a volume (named or
//! anonymous) is empty and the container's root has a directory with
//! entries at the mount point, docker copies them into the volume before
//! mounting it, owners, modes and times kept. Later starts find the volume
//! non-empty and leave it alone, so the container's own changes are kept.
//! A bind mount is never filled: its directory is the user's.
//!
//! The tree copied comes from the image, which is untrusted: it is walked
//! from descriptor to descriptor (`openat` with `O_NOFOLLOW`), a symbolic
//! link is copied as a link and never followed, and entries other than
//! directories, files and links (devices, fifos, sockets) are left out.
//! The entries are created under the volume's own descriptor with
//! `O_EXCL`: nothing already there (another container may share the
//! volume) is followed or overwritten.

use crate::resolve::open_in_root;
use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat, readlinkat};
use nix::sys::stat::{FileStat, Mode, SFlag, fchmod, fstatat, mkdirat, utimensat};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, fchown, fchownat};
use std::ffi::{CStr, OsStr};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A step of the copy that failed, with the path it was on.
#[derive(Debug, thiserror::Error)]
#[error("copying the image's {} into the volume: {step} {}: {}", .target.display(), .path.display(), .errno.desc().to_lowercase())]
pub struct PopulateError {
    pub target: PathBuf,
    pub step: &'static str,
    pub path: PathBuf,
    pub errno: Errno,
}

// ANCHOR: populate
/// Copies what the root `root_fd` has at `target` (a path relative to the
/// root) into the volume directory `volume`, when the volume is empty and
/// the target is a directory with entries. Returns whether it copied.
pub fn populate_volume(
    root_fd: BorrowedFd<'_>,
    target: &Path,
    volume: &Path,
) -> Result<bool, PopulateError> {
    let failed = |step, path: &Path| {
        let target = target.to_path_buf();
        let path = path.to_path_buf();
        move |errno| PopulateError {
            target,
            step,
            path,
            errno,
        }
    };
    let flags = OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let destination = nix::fcntl::open(volume, flags | OFlag::O_RDONLY, Mode::empty())
        .map_err(failed("open", volume))?;
    if has_entries(destination.as_fd()).map_err(failed("readdir", volume))? {
        return Ok(false);
    }
    // The image's directory, resolved inside the root. A target the image
    // does not have, or has as a file, gives nothing to copy; one that
    // cannot be looked up (a loop of links) neither: the mount that
    // follows says what is wrong with it.
    let Ok(source) = open_in_root(root_fd, target, OFlag::O_RDONLY | OFlag::O_DIRECTORY) else {
        return Ok(false);
    };
    if !has_entries(source.as_fd()).map_err(failed("readdir", target))? {
        return Ok(false);
    }
    let mut copy = Copy {
        target,
        path: PathBuf::new(),
    };
    copy.directory(source.as_fd(), destination.as_fd())?;
    // The volume's root takes the owner and mode of the image's directory
    // (a database's data directory must stay its user's).
    let stat = nix::sys::stat::fstat(&source).map_err(failed("fstat", target))?;
    copy.attributes(destination.as_fd(), &stat, volume)?;
    Ok(true)
}
// ANCHOR_END: populate

/// Whether the directory open at `fd` has an entry besides `.` and `..`.
fn has_entries(fd: BorrowedFd<'_>) -> nix::Result<bool> {
    Ok(!entry_names(fd)?.is_empty())
}

/// The walk: where the copy is, for messages.
struct Copy<'a> {
    target: &'a Path,
    path: PathBuf,
}

impl Copy<'_> {
    fn error(&self, step: &'static str) -> impl FnOnce(Errno) -> PopulateError + '_ {
        move |errno| PopulateError {
            target: self.target.to_path_buf(),
            step,
            path: self.path.clone(),
            errno,
        }
    }

    /// Copies the entries of directory `from` into directory `to`.
    fn directory(&mut self, from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> Result<(), PopulateError> {
        let names = entry_names(from).map_err(self.error("readdir"))?;
        for name in names {
            self.path.push(OsStr::from_bytes(name.to_bytes()));
            let result = self.entry(from, to, &name);
            self.path.pop();
            result?;
        }
        Ok(())
    }

    /// Copies entry `name` of `from` into `to`, by its kind.
    fn entry(
        &mut self,
        from: BorrowedFd<'_>,
        to: BorrowedFd<'_>,
        name: &CStr,
    ) -> Result<(), PopulateError> {
        let stat = fstatat(from, name, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(self.error("stat"))?;
        let kind = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT;
        let nofollow = OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        match kind {
            SFlag::S_IFDIR => {
                let source = openat(
                    from,
                    name,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | nofollow,
                    Mode::empty(),
                )
                .map_err(self.error("open"))?;
                mkdirat(to, name, Mode::from_bits_truncate(0o700)).map_err(self.error("mkdir"))?;
                let made = openat(
                    to,
                    name,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | nofollow,
                    Mode::empty(),
                )
                .map_err(self.error("open"))?;
                self.directory(source.as_fd(), made.as_fd())?;
                let path = self.path.clone();
                self.attributes(made.as_fd(), &stat, &path)
            }
            SFlag::S_IFREG => {
                let source = openat(from, name, OFlag::O_RDONLY | nofollow, Mode::empty())
                    .map_err(self.error("open"))?;
                let made = openat(
                    to,
                    name,
                    OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | nofollow,
                    Mode::from_bits_truncate(0o600),
                )
                .map_err(self.error("create"))?;
                let (mut reader, mut writer) = (File::from(source), File::from(made));
                std::io::copy(&mut reader, &mut writer)
                    .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
                    .map_err(self.error("copy"))?;
                let path = self.path.clone();
                self.attributes(writer.as_fd(), &stat, &path)
            }
            SFlag::S_IFLNK => {
                let link = readlinkat(from, name).map_err(self.error("readlink"))?;
                nix::unistd::symlinkat(link.as_os_str(), to, name)
                    .map_err(self.error("symlink"))?;
                fchownat(
                    to,
                    name,
                    Some(Uid::from_raw(stat.st_uid)),
                    Some(Gid::from_raw(stat.st_gid)),
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                )
                .map_err(self.error("chown"))?;
                let (atime, mtime) = times(&stat);
                utimensat(
                    to,
                    name,
                    &atime,
                    &mtime,
                    nix::sys::stat::UtimensatFlags::NoFollowSymlink,
                )
                .map_err(self.error("utimensat"))
            }
            // Devices, fifos and sockets: not data a volume holds.
            _ => Ok(()),
        }
    }

    /// Gives `fd` the owner, mode and times of `stat`. The owner first:
    /// chown clears the set-user-id and set-group-id bits the mode sets.
    fn attributes(
        &self,
        fd: BorrowedFd<'_>,
        stat: &FileStat,
        path: &Path,
    ) -> Result<(), PopulateError> {
        let error = |step| {
            let target = self.target.to_path_buf();
            let path = path.to_path_buf();
            move |errno| PopulateError {
                target,
                step,
                path,
                errno,
            }
        };
        fchown(
            fd,
            Some(Uid::from_raw(stat.st_uid)),
            Some(Gid::from_raw(stat.st_gid)),
        )
        .map_err(error("chown"))?;
        fchmod(fd, Mode::from_bits_truncate(stat.st_mode & 0o7777)).map_err(error("chmod"))?;
        let (atime, mtime) = times(stat);
        nix::sys::stat::futimens(fd, &atime, &mtime).map_err(error("futimens"))
    }
}

fn times(stat: &FileStat) -> (TimeSpec, TimeSpec) {
    (
        TimeSpec::new(stat.st_atime, stat.st_atime_nsec),
        TimeSpec::new(stat.st_mtime, stat.st_mtime_nsec),
    )
}

/// The names in directory `fd`, `.` and `..` left out.
fn entry_names(fd: BorrowedFd<'_>) -> nix::Result<Vec<std::ffi::CString>> {
    let mut dir = Dir::openat(
        fd,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut names = Vec::new();
    for entry in dir.iter() {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_bytes() != b"." && name.to_bytes() != b".." {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}
