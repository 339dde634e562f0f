//! `--chown=USER[:GROUP]`: names looked up in the image, not on the host.
//!
//! A name means whatever the *image's* `/etc/passwd` and `/etc/group` say:
//! `www-data` is uid 33 in Debian and 82 in Alpine. Numbers are taken as
//! they are. Without a group, the gid is the uid's number (docker's rule,
//! even for a name: `--chown=app` is `app`'s uid, twice).

use super::error::SourceError;
use ch04_overlayfs::resolve::open_in_root;
use nix::fcntl::OFlag;
use std::io::Read;
use std::os::fd::BorrowedFd;
use std::path::Path;

/// An owner: uid and gid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

impl Owner {
    /// root:root, what COPY gives files from the context.
    pub const ROOT: Owner = Owner { uid: 0, gid: 0 };
}

// ANCHOR: chown
/// Resolves `--chown` in the image whose root is `root`.
pub fn resolve(spec: &str, root: BorrowedFd<'_>) -> Result<Owner, SourceError> {
    let (user, group) = match spec.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (spec, None),
    };
    let uid = match user.parse::<u32>() {
        Ok(uid) => uid,
        Err(_) => lookup(root, "etc/passwd", user)
            .ok_or_else(|| SourceError::UnknownUser(user.to_string()))?,
    };
    let gid = match group {
        None => uid,
        Some(group) => match group.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => lookup(root, "etc/group", group)
                .ok_or_else(|| SourceError::UnknownGroup(group.to_string()))?,
        },
    };
    Ok(Owner { uid, gid })
}
// ANCHOR_END: chown

/// The id (third field) of `name` in a passwd-style file of the image.
fn lookup(root: BorrowedFd<'_>, file: &str, name: &str) -> Option<u32> {
    let fd = open_in_root(root, Path::new(file), OFlag::O_RDONLY).ok()?;
    let mut text = String::new();
    std::fs::File::from(fd).read_to_string(&mut text).ok()?;
    id_in(&text, name)
}

/// The id of `name` in the text of a passwd or group file.
pub fn id_in(text: &str, name: &str) -> Option<u32> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&name))
        .and_then(|fields| fields.get(2)?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_by_their_first_field() {
        let passwd =
            "root:x:0:0:root:/root:/bin/sh\n# a comment\napp:x:1000:1000::/home/app:/bin/sh\n";
        assert_eq!(id_in(passwd, "app"), Some(1000));
        assert_eq!(id_in(passwd, "root"), Some(0));
        assert_eq!(id_in(passwd, "ap"), None);
        assert_eq!(id_in("staff:x:50:\n", "staff"), Some(50));
    }
}
