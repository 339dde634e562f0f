//! Chapter 5 end to end: a real registry on loopback, images pushed with
//! skopeo, pulled and run by `ch05-images` as a learner would.

use skiff_testkit::registry::{OciLayout, Registry, RegistryAuth};
use skiff_testkit::{Transcript, require_root, snapshot_settings, workspace_bin};
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ch05-images");

/// An image of two layers: busybox with the probe, then a change that
/// deletes a file and replaces a directory (a whiteout and an opaque dir).
fn two_layer_image() -> OciLayout {
    skiff_testkit::images::layered()
}

struct Setup {
    root: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        Setup {
            root: tempfile::Builder::new()
                .prefix("skiff-images-")
                .tempdir()
                .unwrap(),
        }
    }

    fn ch05(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .env("SKIFF_ROOT", self.root.path())
            .args(args)
            .current_dir(self.root.path());
        command
    }

    fn root(&self) -> &Path {
        self.root.path()
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        skiff_testkit::assert_no_mounts_under(self.root.path());
    }
}

/// A transcript against `registry` as its snapshot holds it: the
/// registry's port, the token server's port, digests, short ids and sizes
/// change from run to run.
fn scrubbed(registry: &Registry, text: &str) -> String {
    let host = registry.host().replace('.', r"\.");
    skiff_testkit::scrub(
        text,
        &[
            (&host, "127.0.0.1:PORT"),
            (r"127\.0\.0\.1:\d+/token", "127.0.0.1:TOKENPORT/token"),
            (r"sha256:[0-9a-f]{64}", "sha256:[DIGEST]"),
            (r"\b[0-9a-f]{12}\b", "[ID]"),
            (r"\(\d+ bytes\)", "([N] bytes)"),
        ],
    )
}

#[test]
fn transcript_pull_and_run() {
    require_root();
    let registry = Registry::start(RegistryAuth::Open);
    registry.push(&two_layer_image().path(), "v1", "test/layered");
    let setup = Setup::new();
    let image = format!("{}/test/layered:v1", registry.host());
    let mut t = Transcript::new();
    let shown = |args: &str| format!("ch05-images {args}");
    let pulled = t.run_shown(
        &shown("pull 127.0.0.1:PORT/test/layered:v1"),
        &mut setup.ch05(&["pull", &image]),
        None,
    );
    assert_eq!(pulled.code, 0, "{}", pulled.output);
    t.run_shown(&shown("images"), &mut setup.ch05(&["images"]), None);
    let ran = t.run_shown(
        &shown("run --rm --hostname box 127.0.0.1:PORT/test/layered:v1"),
        &mut setup.ch05(&["run", "--rm", "--hostname", "box", &image]),
        None,
    );
    assert_eq!(ran.output.trim_end(), "hostname: box", "{}", ran.output);
    let ran = t.run_shown(
        &shown("run --rm 127.0.0.1:PORT/test/layered:v1 sh -c 'echo $GREETING from $PWD; ls /srv/old; cat /etc/motd'"),
        &mut setup.ch05(&["run", "--rm", &image, "sh", "-c", "echo $GREETING from $PWD; ls /srv/old; cat /etc/motd"]),
        None,
    );
    assert!(ran.output.contains("hello from /srv"), "{}", ran.output);
    assert!(
        ran.output.lines().any(|l| l == "new") && !ran.output.lines().any(|l| l == "file"),
        "opaque directory: {}",
        ran.output
    );
    assert!(
        ran.output.contains("No such file"),
        "whiteout: {}",
        ran.output
    );
    let tagged = t.run_shown(
        &shown("tag 127.0.0.1:PORT/test/layered:v1 mine:latest"),
        &mut setup.ch05(&["tag", &image, "mine:latest"]),
        None,
    );
    assert_eq!(tagged.code, 0, "{}", tagged.output);
    t.run_shown(&shown("images"), &mut setup.ch05(&["images"]), None);
    let inspect = setup.ch05(&["inspect", "mine"]).output().unwrap();
    let found: serde_json::Value =
        serde_json::from_slice(&inspect.stdout).expect("inspect prints JSON");
    let config = &found[0];
    assert_eq!(
        config["config"]["Cmd"],
        serde_json::json!(["/bin/probe", "hostname"])
    );
    assert_eq!(config["config"]["WorkingDir"], "/srv");
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
    t.run_shown(&shown("rmi mine"), &mut setup.ch05(&["rmi", "mine"]), None);
    t.run_shown(
        &shown("rmi 127.0.0.1:PORT/test/layered:v1"),
        &mut setup.ch05(&["rmi", &image]),
        None,
    );
    let text = scrubbed(&registry, t.text());
    snapshot_settings().bind(|| insta::assert_snapshot!("pull_and_run", text));
    assert_eq!(
        std::fs::read_dir(setup.root().join("layers"))
            .unwrap()
            .count(),
        0,
        "rmi left layers"
    );
}

#[test]
fn transcript_before_chapter_4_has_no_images() {
    require_root();
    let registry = Registry::start(RegistryAuth::Open);
    registry.push(&two_layer_image().path(), "v1", "test/layered");
    let setup = Setup::new();
    let image = format!("{}/test/layered:v1", registry.host());
    let mut t = Transcript::new();
    t.comment("chapter 4: layers are directories on this machine; a name in a registry is none");
    let mut ch04 = Command::new(workspace_bin("ch04-overlayfs"));
    ch04.args(["run", "--rm", "--hostname", "box", &image])
        .env("SKIFF_ROOT", setup.root())
        .current_dir(setup.root());
    let before = t.run(&mut ch04);
    assert_eq!(before.code, 125, "{}", before.output);
    t.comment("chapter 5: the name is pulled, its layers unpacked, checked and stacked");
    let after = t.run(&mut setup.ch05(&["run", "--rm", "--hostname", "box", &image]));
    assert_eq!(after.code, 0, "{}", after.output);
    assert!(
        after.output.ends_with("hostname: box\n"),
        "{}",
        after.output
    );
    let text = scrubbed(&registry, t.text());
    snapshot_settings().bind(|| insta::assert_snapshot!("before", text));
}

/// The manifest of `repository:v1` as the registry serves it.
fn manifest(registry: &Registry, repository: &str) -> String {
    let (status, body) = registry.get(
        &format!("/v2/{repository}/manifests/v1"),
        "application/vnd.oci.image.manifest.v1+json",
    );
    assert_eq!(status, 200);
    String::from_utf8(body).unwrap()
}

#[test]
fn a_tampered_layer_fails_the_pull_and_keeps_nothing() {
    require_root();
    let registry = Registry::start(RegistryAuth::Open);
    registry.push(&two_layer_image().path(), "v1", "test/tampered");
    // Flip one bit of the last layer, in the registry's own storage.
    let text = manifest(&registry, "test/tampered");
    let digest = text
        .rsplit("\"digest\":\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let blob = registry.blob_file(&digest);
    let mut bytes = std::fs::read(&blob).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&blob, bytes).unwrap();

    let setup = Setup::new();
    let image = format!("{}/test/tampered:v1", registry.host());
    let out = setup.ch05(&["pull", &image]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{stderr}");
    assert!(stderr.contains("sha256"), "{stderr}");
    // No image record, no blob of that digest, nothing half-written.
    let out = setup.ch05(&["images"]).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        1,
        "only the header"
    );
    let hex = digest.trim_start_matches("sha256:");
    assert!(!setup.root().join("blobs/sha256").join(hex).exists());
    let tmp = setup.root().join("tmp");
    assert_eq!(
        std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0),
        0,
        "temp files left"
    );
}

#[test]
fn transcript_login_and_errors() {
    require_root();
    let registry = Registry::start(RegistryAuth::Htpasswd {
        user: "learner".into(),
        password: "s3cret".into(),
    });
    registry.push(&two_layer_image().path(), "v1", "private/app");
    let setup = Setup::new();
    let image = format!("{}/private/app:v1", registry.host());
    let mut t = Transcript::new();
    let shown = |args: &str| format!("ch05-images {args}");
    let refused = t.run_shown(
        &shown("pull 127.0.0.1:PORT/private/app:v1"),
        &mut setup.ch05(&["pull", &image]),
        None,
    );
    assert_eq!(refused.code, 125);
    let login = t.run_piped(
        "s3cret\n",
        &mut setup.ch05(&["login", &registry.host(), "-u", "learner"]),
    );
    assert_eq!(login.code, 0, "{}", login.output);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(setup.root().join("auth.json"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let pulled = t.run_shown(
        &shown("pull 127.0.0.1:PORT/private/app:v1"),
        &mut setup.ch05(&["pull", &image]),
        None,
    );
    assert_eq!(pulled.code, 0, "{}", pulled.output);
    let missing = format!("{}/private/app:v2", registry.host());
    t.run_shown(
        &shown("pull 127.0.0.1:PORT/private/app:v2"),
        &mut setup.ch05(&["pull", &missing]),
        None,
    );
    t.run(&mut setup.ch05(&["pull", "Not/Valid"]));
    t.run(&mut setup.ch05(&["pull", "127.0.0.1:9/nothing/here:v1"]));
    let text = scrubbed(&registry, t.text());
    snapshot_settings().bind(|| insta::assert_snapshot!("login_and_errors", text));
}

#[test]
fn parallel_pulls_of_the_same_image_both_succeed() {
    require_root();
    let registry = Registry::start(RegistryAuth::Open);
    registry.push(&two_layer_image().path(), "v1", "test/parallel");
    let image = format!("{}/test/parallel:v1", registry.host());
    // Three pulls into one store, started together.
    let setup = Setup::new();
    let children: Vec<_> = (0..3)
        .map(|_| {
            setup
                .ch05(&["pull", &image])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let layers = std::fs::read_dir(setup.root().join("layers"))
        .unwrap()
        .count();
    assert_eq!(layers, 2, "each layer unpacked once");
    let out = setup.ch05(&["images"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    let tmp = std::fs::read_dir(setup.root().join("tmp"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(tmp, 0, "temp files left");
}

/// Turns tags `amd64` and `arm64` of `layout` into one image index tagged
/// `multi`, as a multi-platform build would publish them.
fn make_index(layout: &OciLayout, platforms: &[&str]) {
    let dir = layout.path();
    let index_path = dir.join("index.json");
    let top: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&index_path).unwrap()).unwrap();
    let mut manifests = Vec::new();
    for entry in top["manifests"].as_array().unwrap() {
        let tag = entry["annotations"]["org.opencontainers.image.ref.name"]
            .as_str()
            .unwrap_or_default();
        if platforms.contains(&tag) {
            let mut manifest = entry.clone();
            manifest.as_object_mut().unwrap().remove("annotations");
            manifest["platform"] = serde_json::json!({ "architecture": tag, "os": "linux" });
            manifests.push(manifest);
        }
    }
    assert_eq!(manifests.len(), platforms.len(), "{top}");
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    }))
    .unwrap();
    let digest = ch05_images::digest::sha256_of(&index);
    std::fs::write(dir.join("blobs/sha256").join(digest.hex()), &index).unwrap();
    let mut top = top;
    top["manifests"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": digest.to_string(),
            "size": index.len(),
            "annotations": { "org.opencontainers.image.ref.name": "multi" },
        }));
    std::fs::write(&index_path, serde_json::to_vec(&top).unwrap()).unwrap();
}

#[test]
fn an_index_gives_this_machines_platform_or_a_clear_error() {
    require_root();
    let registry = Registry::start(RegistryAuth::Open);
    let layout = two_layer_image();
    layout.copy_tag("v1", "amd64");
    layout.copy_tag("v1", "arm64");
    layout.configure_tag(
        "amd64",
        &[
            "--architecture=amd64",
            "--config.cmd=echo",
            "--config.cmd=amd64 image",
        ],
    );
    layout.configure_tag(
        "arm64",
        &[
            "--architecture=arm64",
            "--config.cmd=echo",
            "--config.cmd=arm64 image",
        ],
    );
    make_index(&layout, &["amd64", "arm64"]);
    registry.push_index(&layout.path(), "multi", "test/multi");

    let setup = Setup::new();
    let image = format!("{}/test/multi:multi", registry.host());
    let out = setup.ch05(&["run", "--rm", &image]).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "amd64 image\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // An index without this machine's platform: a clear error, nothing kept.
    let arm_only = two_layer_image();
    arm_only.copy_tag("v1", "arm64");
    arm_only.configure_tag("arm64", &["--architecture=arm64"]);
    make_index(&arm_only, &["arm64"]);
    registry.push_index(&arm_only.path(), "multi", "test/arm-only");
    let image = format!("{}/test/arm-only:multi", registry.host());
    let out = setup.ch05(&["pull", &image]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr.contains("has no image for linux/amd64; it has: linux/arm64"),
        "{stderr}"
    );
}

#[test]
fn transcript_the_docker_hub_token_flow() {
    require_root();
    let registry = Registry::start(RegistryAuth::Token {
        user: "learner".into(),
        password: "s3cret".into(),
    });
    registry.push(&two_layer_image().path(), "v1", "hub/app");
    let setup = Setup::new();
    let image = format!("{}/hub/app:v1", registry.host());
    let mut t = Transcript::new();
    t.comment("anonymous: the token server issues a token that grants nothing");
    let refused = t.run_shown(
        "ch05-images --explain pull 127.0.0.1:PORT/hub/app:v1",
        &mut setup.ch05(&["--explain", "pull", &image]),
        None,
    );
    assert_eq!(refused.code, 125, "{}", refused.output);
    let login = t.run_piped(
        "s3cret\n",
        &mut setup.ch05(&["login", &registry.host(), "-u", "learner"]),
    );
    assert_eq!(login.code, 0, "{}", login.output);
    t.comment("after login: the token grants pull");
    let pulled = t.run_shown(
        "ch05-images pull 127.0.0.1:PORT/hub/app:v1",
        &mut setup.ch05(&["pull", &image]),
        None,
    );
    assert_eq!(pulled.code, 0, "{}", pulled.output);
    let text = scrubbed(&registry, t.text());
    snapshot_settings().bind(|| insta::assert_snapshot!("token_flow", text));
}

#[test]
fn the_images_user_is_applied_and_user_overrides_it() {
    require_root();
    let registry = Registry::start(RegistryAuth::Open);
    let layout = two_layer_image();
    layout.configure(&["--config.user=nobody"]);
    registry.push(&layout.path(), "v1", "test/user");
    let setup = Setup::new();
    let image = format!("{}/test/user:v1", registry.host());
    let out = setup
        .ch05(&["run", "--rm", &image, "probe", "ids", "caps"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("uid: 65534 65534 65534 65534"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A non-root user keeps the bounding set but no effective capabilities, as in docker.
    assert!(
        text.contains("cap.eff: 0000000000000000") && text.contains("cap.bnd: 00000000a80425fb"),
        "{text}"
    );
    let out = setup
        .ch05(&["run", "--rm", "--user", "0", &image, "probe", "ids"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("uid: 0 0 0 0"));
}

#[test]
fn a_docker_schema2_image_pulls_and_runs() {
    require_root();
    let registry = Registry::start(RegistryAuth::Open);
    registry.push_docker_v2s2(&two_layer_image().path(), "v1", "test/docker");
    let (status, body) = registry.get(
        "/v2/test/docker/manifests/v1",
        "application/vnd.docker.distribution.manifest.v2+json",
    );
    assert_eq!(status, 200);
    assert!(
        String::from_utf8_lossy(&body)
            .contains("application/vnd.docker.image.rootfs.diff.tar.gzip")
    );
    let setup = Setup::new();
    let image = format!("{}/test/docker:v1", registry.host());
    let out = setup
        .ch05(&["run", "--rm", "--hostname", "d", &image])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hostname: d\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Unmounts a test tmpfs when dropped, also when the test fails.
struct SmallDisk(std::path::PathBuf);

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

#[test]
fn a_full_disk_fails_the_pull_and_keeps_nothing() {
    require_root();
    let registry = Registry::start(RegistryAuth::Open);
    registry.push(&two_layer_image().path(), "v1", "test/big");
    let setup = Setup::new();
    // A store on a 1 MiB tmpfs: the busybox layer (about 3.5 MB) cannot fit.
    let root = setup.root().join("small");
    std::fs::create_dir(&root).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &root,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=1m"),
    )
    .unwrap();
    let _disk = SmallDisk(root.clone());
    let image = format!("{}/test/big:v1", registry.host());
    let out = setup
        .ch05(&["--root", &root.to_string_lossy(), "pull", &image])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{stderr}");
    assert!(
        stderr.to_lowercase().contains("no space left on device"),
        "{stderr}"
    );
    eprintln!("{stderr}");
    // No image, nothing half-written; a layer that was complete before the
    // disk filled stays, verified, for the next pull (as docker keeps them).
    assert_eq!(std::fs::read_dir(root.join("images")).unwrap().count(), 0);
    assert!(std::fs::read_dir(root.join("layers")).unwrap().count() < 2);
    assert_eq!(
        std::fs::read_dir(root.join("tmp")).unwrap().count(),
        0,
        "temp files left"
    );
}

/// `size` bytes that gzip cannot shrink (xorshift), so that the compressed
/// download is as big as what it unpacks to.
fn incompressible(size: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[test]
fn an_image_over_its_size_cap_fails_the_pull_and_keeps_nothing() {
    use ch05_images::extract::{ExtractError, Limits};
    use ch05_images::pull::{PullError, pull, pull_with_limits};
    require_root();
    let registry = Registry::start(RegistryAuth::Open);
    // Two layers of 600 KiB: each fits a 1 MiB cap, both together do not.
    let layout = OciLayout::new("v1");
    for (name, seed) in [("one", 1), ("two", 2)] {
        layout.add_layer(|root| {
            std::fs::write(root.join(name), incompressible(600 << 10, seed)).unwrap()
        });
    }
    registry.push(&layout.path(), "v1", "test/heavy");
    let setup = Setup::new();
    let store = ch05_images::store::Store::open(setup.root()).unwrap();
    let reference =
        ch05_images::reference::parse(&format!("{}/test/heavy:v1", registry.host())).unwrap();

    let limits = Limits {
        max_image_bytes: 1 << 20,
        ..Limits::default()
    };
    let err = pull_with_limits(&store, &reference, None, &limits).unwrap_err();
    assert!(
        matches!(
            err,
            PullError::Extract {
                source: ExtractError::ImageTooLarge { limit: 1_048_576 },
                ..
            }
        ),
        "{err:?}"
    );
    // No image, nothing half-written; a layer that completed before the
    // other passed the cap may stay, verified, as after a full disk.
    assert!(store.images().unwrap().is_empty());
    assert!(
        std::fs::read_dir(setup.root().join("layers"))
            .unwrap()
            .count()
            < 2
    );
    assert_eq!(
        std::fs::read_dir(setup.root().join("tmp")).unwrap().count(),
        0,
        "temp files left"
    );

    // The image itself is fine: with the default caps it pulls.
    let record = pull(&store, &reference, None).unwrap();
    assert_eq!(record.layers.len(), 2);
}
