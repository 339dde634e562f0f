//! The container's root as a stack of layers: overlayfs.
//!
//! An image is a list of layers, each a directory tree of the files one
//! build step added, changed or deleted. A container needs them seen as one
//! tree, and it needs to write without changing them (other containers share
//! them). overlayfs does both, in the kernel:
//!
//! ```text
//!   merged/   what the container sees: the union, top layer winning
//!   ───────────────────────────────────────────────────────────────
//!   upper/    writable: every change the container makes lands here
//!   layer 3   read-only  ┐
//!   layer 2   read-only  ├ lowerdir=3:2:1 (the first listed is the top)
//!   layer 1   read-only  ┘
//! ```
//!
//! - Reading a file finds it in the highest layer that has it.
//! - Writing a file that lives in a lower layer first *copies it up* into
//!   `upper/`, whole; the lower layer never changes.
//! - Deleting a lower file creates a *whiteout* in `upper/` (a character
//!   device 0/0) that hides it; replacing a lower directory marks the new one
//!   *opaque* (xattr `trusted.overlay.opaque=y`), hiding the lower contents.
//! - `workdir` is scratch space on the same filesystem as `upper`, where the
//!   kernel prepares copy-ups so they appear atomically.
//!
//! The mount options must fit in one page (4096 bytes), which limits how
//! many long layer paths fit in `lowerdir=`. Like docker's overlay2 driver,
//! we give every layer a short symbolic link (`l/3f9a0c61b2d4`) and mount
//! from that directory with relative paths: 15 bytes per layer instead of
//! 60 or more, and hundreds of layers fit.

use ch01_process::explain;
use ch02_namespaces::mounts::mount_fs;
use nix::mount::MsFlags;
use std::path::{Path, PathBuf};

/// The kernel's limit for mount options: one page.
pub const MOUNT_OPTIONS_LIMIT: usize = 4096;

/// Why a layer stack could not be prepared or mounted.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("layer {0:?} is not a directory: give the unpacked directory of each layer")]
    NotADirectory(PathBuf),
    #[error("no layers given: a container needs at least one layer")]
    NoLayers,
    #[error("{0} layers do not fit in one page of mount options even with short links")]
    TooManyLayers(usize),
    #[error(transparent)]
    Mount(ch02_namespaces::mounts::MountError),
    #[error("{path:?}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the overlay mount failed: {source}; the engine's directory {state:?} is on {fstype}, which may not support an overlay upper layer: use one on ext4, xfs or tmpfs"
    )]
    Unsupported {
        state: PathBuf,
        fstype: String,
        source: ch02_namespaces::mounts::MountError,
    },
}

type Result<T> = std::result::Result<T, LayerError>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LayerError + '_ {
    move |source| LayerError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A container's layers: the read-only ones and its own writable one.
#[derive(Debug, Clone)]
pub struct LayerStack {
    /// The read-only layers, bottom first.
    pub lowers: Vec<PathBuf>,
    /// The engine's directory, which holds the short links (`l/`).
    pub state: PathBuf,
    /// The container's directory, holding `upper/`, `work/`, `merged/`.
    pub dir: PathBuf,
}

impl LayerStack {
    /// The stack of the container whose directory is `dir`, on `lowers`
    /// (bottom first); nothing is made until [`LayerStack::create`].
    pub fn new(state: &Path, dir: &Path, lowers: &[PathBuf]) -> LayerStack {
        LayerStack {
            lowers: lowers.to_vec(),
            state: state.to_path_buf(),
            dir: dir.to_path_buf(),
        }
    }

    /// Creates the writable layer in the container's directory, and the
    /// short links the mount will use. Fails, leaving nothing, when a layer
    /// is missing or the layers do not fit in one mount.
    pub fn create(&mut self) -> Result<()> {
        if self.lowers.is_empty() {
            return Err(LayerError::NoLayers);
        }
        let mut canonical = Vec::new();
        for layer in &self.lowers {
            if !layer.is_dir() {
                return Err(LayerError::NotADirectory(layer.clone()));
            }
            canonical.push(std::fs::canonicalize(layer).map_err(io(layer))?);
        }
        self.lowers = canonical;
        let made = self.make_dirs();
        if made.is_err() {
            let _ = self.remove();
        }
        made
    }

    fn make_dirs(&self) -> Result<()> {
        for sub in ["upper", "work", "merged"] {
            std::fs::create_dir(self.dir.join(sub)).map_err(io(&self.dir.join(sub)))?;
        }
        for layer in &self.lowers {
            self.link_for(layer)?;
        }
        // Fail now, not in the child, when the layers cannot fit.
        self.options().map(|_| ())
    }

    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }

    pub fn work(&self) -> PathBuf {
        self.dir.join("work")
    }

    /// Where the union appears; it becomes the container's root.
    pub fn merged(&self) -> PathBuf {
        self.dir.join("merged")
    }

    /// The directory of short links: `<state>/l`.
    pub fn links_dir(&self) -> PathBuf {
        self.state.join("l")
    }

    // ANCHOR: short_links
    /// The short link name of `layer`: 12 hex digits of a hash of its path,
    /// so the same layer always gets the same link and containers share it.
    pub fn link_name(layer: &Path) -> String {
        // FNV-1a: tiny, stable across Rust versions (unlike DefaultHasher).
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in layer.as_os_str().as_encoded_bytes() {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{:012x}", hash & 0xffff_ffff_ffff)
    }

    fn link_for(&self, layer: &Path) -> Result<()> {
        let links = self.links_dir();
        ch02_namespaces::records::private_dir(&links).map_err(io(&links))?;
        let link = links.join(Self::link_name(layer));
        match std::fs::read_link(&link) {
            Ok(existing) if existing == layer => Ok(()),
            Ok(_) => {
                // Two paths with the same 48-bit hash: vanishingly unlikely,
                // and refusing is safer than mounting the wrong layer.
                Err(LayerError::Io {
                    path: link,
                    source: std::io::Error::other("short link points at another layer"),
                })
            }
            Err(_) => std::os::unix::fs::symlink(layer, &link).map_err(io(&link)),
        }
    }

    /// The overlay mount options, with lower layers relative to the state
    /// directory (`l/<link>`).
    /// overlayfs lists the *top* layer first, so the order is reversed.
    pub fn options(&self) -> Result<String> {
        // SOLUTION START: ch04-options the overlay mount options: lowerdir lists the layers by their short links, the top layer first; then upperdir and workdir; refuse what does not fit in one page (book: Overlayfs > What and why > Hundreds of layers)
        let lowers: Vec<String> = self
            .lowers
            .iter()
            .rev()
            .map(|l| format!("l/{}", Self::link_name(l)))
            .collect();
        let options = format!(
            "lowerdir={},upperdir={},workdir={}",
            lowers.join(":"),
            self.upper().display(),
            self.work().display()
        );
        if options.len() >= MOUNT_OPTIONS_LIMIT {
            return Err(LayerError::TooManyLayers(self.lowers.len()));
        }
        Ok(options)
        // SOLUTION END
    }
    // ANCHOR_END: short_links

    // ANCHOR: mount
    /// Mounts the union at [`LayerStack::merged`]. Runs in the container's
    /// mount namespace (its private copy of the mount table), so the mount
    /// disappears with the container, even when it is killed.
    pub fn mount(&self) -> Result<()> {
        let options = self.options()?;
        // The relative `l/...` paths are resolved from the current directory.
        explain!("chdir({:?})", self.state.display());
        std::env::set_current_dir(&self.state).map_err(io(&self.state))?;
        mount_fs(
            "overlay",
            &self.merged(),
            Some("overlay"),
            MsFlags::empty(),
            Some(&options),
        )
        .map_err(|source| match source.errno {
            // EINVAL is how overlayfs refuses an upper layer it cannot use.
            nix::Error::EINVAL => LayerError::Unsupported {
                state: self.state.clone(),
                fstype: filesystem_name(&self.state),
                source,
            },
            _ => LayerError::Mount(source),
        })
    }
    // ANCHOR_END: mount

    /// Deletes the writable layer (`--rm`, or `rm NAME`); what is gone
    /// already is not an error. The short links stay: other containers may
    /// use the same layers.
    pub fn remove(&self) -> Result<()> {
        for sub in ["upper", "work", "merged"] {
            let path = self.dir.join(sub);
            match std::fs::remove_dir_all(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&path)(e)),
                _ => {}
            }
        }
        Ok(())
    }
}

/// The type of the filesystem holding `path`, for error messages.
fn filesystem_name(path: &Path) -> String {
    let Ok(stat) = nix::sys::statfs::statfs(path) else {
        return "an unknown filesystem".into();
    };
    let magic = stat.filesystem_type().0 as u64;
    match magic {
        0xEF53 => "ext4".into(),
        0x5846_5342 => "xfs".into(),
        0x0102_1994 => "tmpfs".into(),
        0x794C_7630 => "overlayfs (an overlay cannot be the upper layer of another)".into(),
        0x9123_683E => "btrfs".into(),
        0x6969 => "nfs".into(),
        other => format!("a filesystem of type {other:#x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_names_are_short_and_stable() {
        let name = LayerStack::link_name(Path::new("/var/lib/skiff/layers/sha256/abc"));
        assert_eq!(name.len(), 12);
        assert_eq!(
            name,
            LayerStack::link_name(Path::new("/var/lib/skiff/layers/sha256/abc"))
        );
        assert_ne!(
            name,
            LayerStack::link_name(Path::new("/var/lib/skiff/layers/sha256/abd"))
        );
    }
}
