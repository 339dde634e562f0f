//! The one image both engines run: busybox (static) built locally with
//! umoci, served by a registry on loopback (Debian's docker-registry).
//! skiff and dockerd pull the same manifest from it, so they run the same
//! layer; docker allows plain HTTP to a registry on 127.0.0.1.

use skiff_testkit::registry::{OciLayout, Registry, RegistryAuth};

pub struct BenchImage {
    /// `127.0.0.1:PORT/bench/busybox:v1`.
    pub reference: String,
    // Stopped and removed on drop.
    _registry: Registry,
}

impl BenchImage {
    /// Builds the image and pushes it to a fresh registry on loopback.
    pub fn build() -> BenchImage {
        let layout = OciLayout::new("v1");
        layout.add_layer(skiff_testkit::rootfs::build_busybox_rootfs);
        layout.configure(&["--config.cmd=sh"]);
        let registry = Registry::start(RegistryAuth::Open);
        registry.push(&layout.path(), "v1", "bench/busybox");
        BenchImage {
            reference: format!("{}/bench/busybox:v1", registry.host()),
            _registry: registry,
        }
    }
}
