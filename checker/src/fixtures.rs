//! The files the checks find in the container's root filesystem.
//!
//! They are written into the checker's busybox root before anything runs
//! (and so are in the image of chapter 5 on). Chapter 4's checks change,
//! delete and mount over them: an engine with layers does it in the
//! container's own writable layer, and the next container finds them as
//! they were. An engine without layers (chapter 3's) changes the directory
//! itself; [`restore`] puts them back, so that one check's failure does not
//! become the next one's.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

/// Read by chapter 2's check of the root.
pub const ROOT_MARK: &str = "/etc/skiff-check";
pub const ROOT_MARK_TEXT: &str = "the container's root\n";

/// What every fixture of the layer holds.
pub const FROM_THE_IMAGE: &str = "from the image\n";
/// A file a container changes.
pub const CHANGED: &str = "/check/changed";
/// A file a container deletes.
pub const DELETED: &str = "/check/deleted";
/// A directory a later layer replaces (chapter 5), holding [`OLD_FILE`].
pub const DIR: &str = "/check/dir";
pub const OLD_FILE: &str = "/check/dir/old";
/// A symbolic link to a host path that must never be made: a volume
/// mounted below it goes inside the root, not onto the host.
pub const ESCAPE: &str = "/check/escape";

/// The host path [`ESCAPE`] names, under the checker's scratch directory.
pub fn escape_target(work: &Path) -> PathBuf {
    work.join("escaped")
}

/// `path` (absolute inside the container) under `rootfs`.
pub fn on_host(rootfs: &Path, path: &str) -> PathBuf {
    rootfs.join(path.trim_start_matches('/'))
}

/// Writes the fixtures into `rootfs`, replacing whatever a run left there.
pub fn restore(rootfs: &Path, work: &Path) -> Result<(), String> {
    let io = |what: &Path| {
        let what = what.display().to_string();
        move |e: std::io::Error| format!("writing the fixture {what}: {e}")
    };
    let check = on_host(rootfs, "/check");
    if check.symlink_metadata().is_ok() {
        std::fs::remove_dir_all(&check).map_err(io(&check))?;
    }
    std::fs::create_dir_all(on_host(rootfs, DIR)).map_err(io(&check))?;
    for (path, text) in [
        (ROOT_MARK, ROOT_MARK_TEXT),
        (CHANGED, FROM_THE_IMAGE),
        (DELETED, FROM_THE_IMAGE),
        (OLD_FILE, FROM_THE_IMAGE),
    ] {
        let file = on_host(rootfs, path);
        std::fs::write(&file, text).map_err(io(&file))?;
    }
    let link = on_host(rootfs, ESCAPE);
    symlink(escape_target(work), &link).map_err(io(&link))
}
