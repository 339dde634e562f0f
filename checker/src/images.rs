//! Images for the binaries that run images (chapter 5 on): a registry of
//! the checker's own on loopback, and the images it serves.
//!
//! A chapter 5 binary runs `run IMAGE`, not `run --rootfs DIR`, so the
//! checker's root filesystem becomes an image: one layer, pushed to
//! Debian's `docker-registry` started on a free port of 127.0.0.1 with its
//! storage in a temporary directory (the testkit's [`Registry`]). Nothing
//! leaves the machine, and the registry and what it stored go when the
//! checks end. Chapter 5's own checks push more images to it: one with a
//! config to follow, one with whiteouts, one to tamper with.

use skiff_testkit::registry::{OciLayout, Registry, RegistryAuth};
use std::path::Path;
use std::process::Command;

/// The repository of the base image, and its tag.
const BASE: &str = "skiff-check/base";
const TAG: &str = "v1";
/// The repository of the images chapter 5's checks derive from it, one tag each.
const DERIVED: &str = "skiff-check/images";

/// The checker's registry and its base image.
pub struct Images {
    registry: Registry,
    /// The base image's layout: chapter 5's checks build on it.
    base: OciLayout,
}

impl Images {
    /// Starts the registry and pushes `rootfs` as the base image (one
    /// layer, `Cmd: sh`). The testkit's helpers panic when a tool is
    /// missing (docker-registry, umoci, skopeo): the panic becomes the error.
    pub fn start(rootfs: &Path) -> Result<Images, String> {
        let rootfs = rootfs.to_path_buf();
        std::panic::catch_unwind(move || {
            let registry = Registry::start(RegistryAuth::Open);
            let base = OciLayout::new(TAG);
            base.add_layer(|root| copy_into(&rootfs, root));
            base.configure(&["--config.cmd=sh"]);
            registry.push(&base.path(), TAG, BASE);
            Images { registry, base }
        })
        .map_err(|panic| {
            format!(
                "preparing the checker's registry and image: {}",
                panic_text(panic.as_ref())
            )
        })
    }

    /// The base image's reference: `127.0.0.1:PORT/skiff-check/base:v1`.
    pub fn base(&self) -> String {
        format!("{}/{BASE}:{TAG}", self.registry.host())
    }

    /// Pushes a new image, `127.0.0.1:PORT/skiff-check/images:NAME`: the
    /// base image under the tag `name`, changed by `change` (given the
    /// layout and the tag: more layers, another config). Returns its
    /// reference. A tool that fails is the checker's error (the machine
    /// lacks a tool), not the binary's.
    pub fn derive(
        &self,
        name: &str,
        change: impl FnOnce(&OciLayout, &str),
    ) -> Result<String, String> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.base.copy_tag(TAG, name);
            change(&self.base, name);
            self.registry.push(&self.base.path(), name, DERIVED);
        }))
        .map_err(|panic| {
            format!(
                "the checker could not build the image {name}: {}",
                panic_text(panic.as_ref())
            )
        })?;
        Ok(format!("{}/{DERIVED}:{name}", self.registry.host()))
    }

    /// The registry, to read a manifest or tamper with a blob.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

/// The text of a panic of the testkit's helpers (an `assert!`'s message).
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic".into())
}

/// Copies the tree `from` into the directory `to`, keeping modes, links
/// and owners (`cp -a`).
fn copy_into(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from.join("."))
        .arg(to)
        .status()
        .expect("run cp");
    assert!(
        status.success(),
        "cp -a {} {}",
        from.display(),
        to.display()
    );
}
