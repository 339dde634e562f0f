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
//! and layer extraction (chapter 5) resolve every path this way.

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::Path;

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
