//! Layers for a container in a user namespace (`--userns`).
//!
//! The overlay is mounted inside the container's user namespace, by its
//! root, which is an ordinary user on the host (uid 100000). overlayfs then
//! acts on the layers with that user's rights: it must be able to cross
//! every directory on the way to each layer, and to write in the container's
//! upper and work directories. The engine's directories are root's only
//! (0700: a layer holds setuid programs and device nodes no host user may
//! reach), so the mapped root is let in through their *group*: they become
//! 0710, group 100000, a group no host user is in. The writable layer
//! becomes the mapped root's own. Directories outside the engine's root
//! (a `--layer` of the user's) are left alone: one that the mapped root
//! cannot cross is an error that names it. Docker's `userns-remap` goes
//! further and gives the remapped root a whole engine directory of its own.

use crate::layers::LayerStack;
use ch01_process::explain;
use ch02_namespaces::userns::IdMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why the layers cannot be opened to a user namespace's root.
#[derive(Debug, thiserror::Error)]
pub enum UsernsError {
    #[error(
        "the layer {layer} cannot be reached by the container's root (uid {uid} on the host): {dir} is closed to other users; make it traversable (chmod o+x) or use a layer elsewhere"
    )]
    Unreachable {
        layer: PathBuf,
        dir: PathBuf,
        uid: u32,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> UsernsError + '_ {
    move |source| UsernsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

// ANCHOR: grant
/// Lets the root of the user namespace `map` use `stack`: the writable
/// layer becomes its own, and every directory on the way to a layer, inside
/// the engine's `root`, crossable by its group.
pub fn grant(root: &Path, stack: &LayerStack, map: IdMap) -> Result<(), UsernsError> {
    let (uid, gid) = (map.outside, map.outside);
    for dir in [stack.upper(), stack.work(), stack.merged()] {
        explain!(
            "chown {:?} {uid}:{gid} (the container's root)",
            dir.display()
        );
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).map_err(io(&dir))?;
    }
    let mut needed = vec![stack.dir.clone(), stack.links_dir()];
    needed.extend(stack.lowers.iter().cloned());
    for path in needed {
        for dir in path.ancestors().collect::<Vec<_>>().into_iter().rev() {
            if dir.starts_with(root) {
                let_cross(dir, gid)?;
            } else if !crossable_by_others(dir)? {
                return Err(UsernsError::Unreachable {
                    layer: path.clone(),
                    dir: dir.to_path_buf(),
                    uid,
                });
            }
        }
    }
    Ok(())
}
// ANCHOR_END: grant

/// Gives group `gid` the right to cross `dir`, unless everyone has it.
fn let_cross(dir: &Path, gid: u32) -> Result<(), UsernsError> {
    let meta = std::fs::metadata(dir).map_err(io(dir))?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o001 != 0 || (meta.gid() == gid && mode & 0o010 != 0) {
        return Ok(());
    }
    explain!(
        "chgrp {gid} {:?}; chmod g+x (the container's root may cross it)",
        dir.display()
    );
    std::os::unix::fs::chown(dir, None, Some(gid)).map_err(io(dir))?;
    std::fs::set_permissions(
        dir,
        std::fs::Permissions::from_mode((mode & !0o070) | 0o010),
    )
    .map_err(io(dir))
}

fn crossable_by_others(dir: &Path) -> Result<bool, UsernsError> {
    let meta = std::fs::metadata(dir).map_err(io(dir))?;
    Ok(meta.permissions().mode() & 0o001 != 0)
}
