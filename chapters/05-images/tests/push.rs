//! Push against Debian's docker-registry on loopback: the result is read
//! back with our own pull (by digest, into a fresh store) and with skopeo.

use ch05_images::pull::pull;
use ch05_images::push::{BlobOutcome, PushError, PushOptions, push, push_with};
use ch05_images::reference::{self, Reference};
use ch05_images::registry::Credentials;
use ch05_images::store::Store;
use skiff_testkit::registry::{OciLayout, Registry, RegistryAuth};
use skiff_testkit::require_root;
use std::process::Command;

/// Busybox, then a small layer on top.
fn image() -> OciLayout {
    let layout = OciLayout::new("v1");
    layout.add_layer(skiff_testkit::rootfs::build_busybox_rootfs);
    layout.add_layer(|root| std::fs::write(root.join("etc/motd"), "pushed\n").unwrap());
    layout.configure(&["--config.cmd=cat", "--config.cmd=/etc/motd"]);
    layout
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::Builder::new()
        .prefix("skiff-push-")
        .tempdir()
        .unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

fn name(registry: &Registry, path: &str) -> Reference {
    reference::parse(&format!("{}/{path}", registry.host())).unwrap()
}

fn creds(user: &str, password: &str) -> Option<Credentials> {
    Some(Credentials {
        user: user.into(),
        password: password.into(),
    })
}

/// `skopeo inspect`'s digest of an image, a client we did not write.
fn skopeo_digest(image: &Reference, creds: Option<&str>) -> String {
    let mut command = Command::new("/usr/bin/skopeo");
    command.args(["inspect", "--tls-verify=false"]);
    if let Some(creds) = creds {
        command.arg(format!("--creds={creds}"));
    }
    let out = command
        .arg(format!("docker://{image}"))
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo inspect: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json["Digest"].as_str().unwrap().to_string()
}

/// Pulls `image@digest` into a fresh store and returns (manifest, config).
fn pull_back(image: &Reference, digest: &str, creds: Option<Credentials>) -> (String, String) {
    let (_dir, fresh) = store();
    let pinned = reference::parse(&format!("{}@{digest}", image.name())).unwrap();
    let record = pull(&fresh, &pinned, creds).unwrap();
    (record.manifest.to_string(), record.config.to_string())
}

#[test]
fn a_retagged_image_is_mounted_pulled_back_by_digest_and_a_second_push_sends_nothing() {
    require_root();
    let registry = Registry::start(RegistryAuth::Open);
    registry.push(&image().path(), "v1", "test/source");
    let (_dir, store) = store();
    let source = name(&registry, "test/source:v1");
    let pulled = pull(&store, &source, None).unwrap();
    let target = name(&registry, "test/copy:v2");
    store.tag(&source, &target).unwrap();

    let report = push(&store, &target, None).unwrap();
    assert_eq!(report.digest, pulled.manifest, "pushed as stored");
    assert_eq!(
        report.to_string(),
        format!("v2: digest: {} size: {}", report.digest, report.size)
    );
    assert_eq!(report.blobs.len(), 3, "two layers and the config");
    for (digest, outcome) in &report.blobs {
        assert_eq!(
            outcome,
            &BlobOutcome::Mounted {
                from: "test/source".into()
            },
            "{digest}"
        );
    }
    assert_eq!(skopeo_digest(&target, None), report.digest.to_string());
    let (manifest, config) = pull_back(&target, &report.digest.to_string(), None);
    assert_eq!(manifest, pulled.manifest.to_string());
    assert_eq!(config, pulled.config.to_string());

    let again = push(&store, &target, None).unwrap();
    assert!(
        again.blobs.iter().all(|(_, o)| *o == BlobOutcome::Exists),
        "{again:?}"
    );
    assert_eq!(again.digest, report.digest);
}

#[test]
fn blobs_a_registry_lacks_are_uploaded_whole_or_in_chunks() {
    require_root();
    let origin = Registry::start(RegistryAuth::Open);
    origin.push(&image().path(), "v1", "test/origin");
    let target = Registry::start(RegistryAuth::Open);
    let (_dir, store) = store();
    let source = name(&origin, "test/origin:v1");
    let pulled = pull(&store, &source, None).unwrap();

    // Another registry: nothing to mount from, every blob is uploaded.
    let whole = name(&target, "test/whole:v1");
    store.tag(&source, &whole).unwrap();
    let report = push(&store, &whole, None).unwrap();
    for (digest, outcome) in &report.blobs {
        assert!(
            matches!(outcome, BlobOutcome::Uploaded { requests: 1, .. }),
            "{digest}: {outcome:?}"
        );
    }
    assert_eq!(skopeo_digest(&whole, None), pulled.manifest.to_string());
    store.remove_image(&whole).unwrap();

    // Small chunks: the busybox layer goes in several PATCH requests.
    let chunked = name(&target, "test/chunked:v1");
    store.tag(&source, &chunked).unwrap();
    let options = PushOptions {
        chunk_threshold: 64 << 10,
        chunk_size: 512 << 10,
    };
    let report = push_with(&store, &chunked, None, &options).unwrap();
    let requests: Vec<usize> = report
        .blobs
        .iter()
        .map(|(_, o)| match o {
            BlobOutcome::Uploaded { requests, .. } => *requests,
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(requests[0] > 3, "the busybox layer in chunks: {requests:?}");
    let (manifest, _) = pull_back(&chunked, &report.digest.to_string(), None);
    assert_eq!(manifest, pulled.manifest.to_string());
    assert_eq!(skopeo_digest(&chunked, None), pulled.manifest.to_string());
}

#[test]
fn a_registry_with_basic_auth_needs_a_login_to_push() {
    require_root();
    let registry = Registry::start(RegistryAuth::Htpasswd {
        user: "learner".into(),
        password: "s3cret".into(),
    });
    registry.push(&image().path(), "v1", "private/app");
    let (_dir, store) = store();
    let source = name(&registry, "private/app:v1");
    pull(&store, &source, creds("learner", "s3cret")).unwrap();
    let target = name(&registry, "private/copy:v1");
    store.tag(&source, &target).unwrap();

    let error = push(&store, &target, None).unwrap_err();
    assert!(
        matches!(error, PushError::LoginRequired { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "the registry {0} needs a login to push {0}/private/copy:v1: log in with `ch05-images login {0}`",
            registry.host()
        )
    );
    let error = push(&store, &target, creds("learner", "wrong")).unwrap_err();
    assert!(matches!(error, PushError::Denied { .. }), "{error:?}");

    let report = push(&store, &target, creds("learner", "s3cret")).unwrap();
    assert_eq!(
        skopeo_digest(&target, Some("learner:s3cret")),
        report.digest.to_string()
    );
}

#[test]
fn a_token_registry_grants_push_and_mount_scopes() {
    require_root();
    let registry = Registry::start(RegistryAuth::Token {
        user: "learner".into(),
        password: "s3cret".into(),
    });
    registry.push(&image().path(), "v1", "hub/source");
    let (_dir, store) = store();
    let source = name(&registry, "hub/source:v1");
    let pulled = pull(&store, &source, creds("learner", "s3cret")).unwrap();
    let target = name(&registry, "hub/target:v1");
    store.tag(&source, &target).unwrap();

    // Anonymous: the token server's token grants nothing.
    let error = push(&store, &target, None).unwrap_err();
    assert!(
        matches!(error, PushError::LoginRequired { .. }),
        "{error:?}"
    );

    let report = push(&store, &target, creds("learner", "s3cret")).unwrap();
    assert!(
        report
            .blobs
            .iter()
            .all(|(_, o)| matches!(o, BlobOutcome::Mounted { .. })),
        "the token covered the source repository too: {report:?}"
    );
    let (manifest, _) = pull_back(
        &target,
        &report.digest.to_string(),
        creds("learner", "s3cret"),
    );
    assert_eq!(manifest, pulled.manifest.to_string());
}

#[test]
fn pushing_an_unknown_image_says_so() {
    let (_dir, store) = store();
    let image = reference::parse("127.0.0.1:9/nothing:v1").unwrap();
    let error = push(&store, &image, None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "127.0.0.1:9/nothing:v1 is not an image here: tag an image with that name first (ch05-images tag IMAGE 127.0.0.1:9/nothing:v1)"
    );
}
