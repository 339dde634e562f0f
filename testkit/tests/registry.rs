//! The test registry starts, takes a pushed image, and serves it back.

use skiff_testkit::registry::{OciLayout, Registry, RegistryAuth};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn busybox_image() -> OciLayout {
    let layout = OciLayout::new("v1");
    layout.add_layer(skiff_testkit::rootfs::build_busybox_rootfs);
    layout.add_layer(|root| std::fs::write(root.join("etc/motd"), "second layer\n").unwrap());
    layout.configure(&["--config.cmd=/bin/sh"]);
    layout
}

#[test]
fn an_open_registry_serves_a_pushed_image() {
    skiff_testkit::require_root();
    let registry = Registry::start(RegistryAuth::Open);
    let image = busybox_image();
    registry.push(&image.path(), image.tag(), "test/busybox");
    let (status, body) = registry.get("/v2/test/busybox/manifests/v1", OCI_MANIFEST);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let manifest = String::from_utf8_lossy(&body);
    assert_eq!(
        manifest.matches("\"digest\"").count(),
        3,
        "a config and two layers: {manifest}"
    );
    // Without an Accept header naming OCI types, the registry does not
    // serve an OCI manifest (a fact chapter 5's client must handle).
    let (status, _) = registry.get("/v2/test/busybox/manifests/v1", "*/*");
    assert_ne!(status, 200);
    // The blob files are where tests can tamper with them.
    let digest = manifest
        .split("\"digest\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(registry.blob_file(digest).exists());
}

#[test]
fn an_htpasswd_registry_refuses_anonymous_pulls() {
    skiff_testkit::require_root();
    let registry = Registry::start(RegistryAuth::Htpasswd {
        user: "learner".into(),
        password: "s3cret".into(),
    });
    let image = busybox_image();
    registry.push(&image.path(), image.tag(), "private/busybox");
    let (status, _) = registry.get("/v2/private/busybox/manifests/v1", OCI_MANIFEST);
    assert_eq!(status, 401);
}

#[test]
fn a_token_registry_wants_a_bearer_token() {
    skiff_testkit::require_root();
    let registry = Registry::start(RegistryAuth::Token {
        user: "learner".into(),
        password: "s3cret".into(),
    });
    let image = busybox_image();
    // skopeo follows the Bearer flow with the credentials, as docker does.
    registry.push(&image.path(), image.tag(), "hub/busybox");
    let (status, _) = registry.get("/v2/hub/busybox/manifests/v1", OCI_MANIFEST);
    assert_eq!(status, 401);
}
