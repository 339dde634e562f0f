//! `save` and `load`, checked with skopeo (a reader and writer we did not
//! write) and with archives made by hand, bad ones included.

use ch05_images::archive::{ArchiveError, load, load_file, save, save_to_file};
use ch05_images::digest::sha256_of;
use ch05_images::pull::pull;
use ch05_images::reference::{self, Reference};
use ch05_images::store::{ImageRecord, Store};
use skiff_testkit::registry::{OciLayout, Registry, RegistryAuth};
use skiff_testkit::require_root;
use std::process::Command;

fn image() -> OciLayout {
    let layout = OciLayout::new("v1");
    layout.add_layer(skiff_testkit::rootfs::build_busybox_rootfs);
    layout.add_layer(|root| std::fs::write(root.join("etc/motd"), "saved\n").unwrap());
    layout.configure(&["--config.cmd=cat", "--config.cmd=/etc/motd"]);
    layout
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::Builder::new()
        .prefix("skiff-archive-")
        .tempdir()
        .unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

fn parse(name: &str) -> Reference {
    reference::parse(name).unwrap()
}

/// A registry with the test image, pulled into a store.
struct Pulled {
    registry: Registry,
    _dir: tempfile::TempDir,
    store: Store,
    reference: Reference,
    record: ImageRecord,
}

fn pulled() -> Pulled {
    let registry = Registry::start(RegistryAuth::Open);
    registry.push(&image().path(), "v1", "test/archive");
    let (dir, store) = store();
    let reference = parse(&format!("{}/test/archive:v1", registry.host()));
    let record = pull(&store, &reference, None).unwrap();
    Pulled {
        registry,
        _dir: dir,
        store,
        reference,
        record,
    }
}

fn skopeo(args: &[&str]) -> String {
    let out = Command::new("/usr/bin/skopeo")
        .args(args)
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

/// Fails unless the store holds nothing at all.
fn assert_empty(store: &Store) {
    assert!(store.images().unwrap().is_empty(), "image records left");
    for dir in ["layers", "blobs/sha256", "tmp"] {
        let count = std::fs::read_dir(store.root().join(dir)).unwrap().count();
        assert_eq!(count, 0, "{dir} is not empty");
    }
}

#[test]
fn skopeo_reads_a_saved_archive_as_docker_and_as_oci() {
    require_root();
    let p = pulled();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("image.tar");
    save_to_file(&p.store, std::slice::from_ref(&p.reference), &file).unwrap();
    let file = file.display().to_string();

    // docker's manifest.json, as `docker load` reads it. (`dir:` keeps the
    // format; a copy to `oci:` would convert the config, changing its digest.)
    let copy = dir.path().join("copy");
    skopeo(&[
        "copy",
        "--quiet",
        &format!("docker-archive:{file}"),
        &format!("dir:{}", copy.display()),
    ]);
    let manifest = json(&std::fs::read_to_string(copy.join("manifest.json")).unwrap());
    assert_eq!(manifest["config"]["digest"], p.record.config.to_string());
    let config = json(&String::from_utf8(p.store.read_blob(&p.record.config).unwrap()).unwrap());
    let layers: Vec<&serde_json::Value> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| &l["digest"])
        .collect();
    let diff_ids: Vec<&serde_json::Value> = config["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(layers, diff_ids, "skopeo found every layer by its diff_id");

    // The OCI layout in the same tar: the manifest as it was pulled.
    let inspect = json(&skopeo(&["inspect", &format!("oci-archive:{file}")]));
    assert_eq!(inspect["Digest"], p.record.manifest.to_string());
    let docker = json(&skopeo(&["inspect", &format!("docker-archive:{file}")]));
    assert_eq!(docker["Layers"].as_array().unwrap().len(), 2);
}

#[test]
fn a_saved_archive_loads_back_as_the_same_image() {
    require_root();
    let p = pulled();
    let second = parse("example.com/team/app:2.0");
    p.store.tag(&p.reference, &second).unwrap();
    let mut archive = Vec::new();
    save(
        &p.store,
        &[p.reference.clone(), second.clone()],
        &mut archive,
    )
    .unwrap();

    // One image, two names: one entry in docker's list, two in the index.
    let mut names = Vec::new();
    let mut tar = tar::Archive::new(&archive[..]);
    let mut docker_list = None;
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        if name == "manifest.json" {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
            docker_list = Some(json(&text));
        }
        names.push(name);
    }
    for expected in ["oci-layout", "index.json", "manifest.json", "blobs/sha256/"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    let docker_list = docker_list.unwrap();
    assert_eq!(docker_list.as_array().unwrap().len(), 1);
    assert_eq!(
        docker_list[0]["RepoTags"],
        serde_json::json!([
            format!("{}/test/archive:v1", p.registry.host()),
            "example.com/team/app:2.0"
        ])
    );

    let (_dir, fresh) = store();
    let report = load(&fresh, &archive[..], "archive").unwrap();
    assert_eq!(report.images.len(), 2);
    for name in [&p.reference, &second] {
        let record = fresh.image(name).unwrap().expect("loaded");
        assert_eq!(
            record.manifest, p.record.manifest,
            "the same manifest digest"
        );
        assert_eq!(record.config, p.record.config);
        assert_eq!(record.layers, p.record.layers);
    }
    let top = fresh.layer_path(p.record.layers.last().unwrap());
    assert_eq!(
        std::fs::read_to_string(top.join("etc/motd")).unwrap(),
        "saved\n"
    );
    // Loading again changes nothing and fails nothing.
    load(&fresh, &archive[..], "archive").unwrap();
}

#[test]
fn archives_written_by_skopeo_load() {
    require_root();
    let p = pulled();
    let dir = tempfile::tempdir().unwrap();
    let source = format!("docker://{}", p.reference);
    let docker_file = dir.path().join("docker.tar");
    skopeo(&[
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        &source,
        &format!(
            "docker-archive:{}:example.com/from/skopeo:v1",
            docker_file.display()
        ),
    ]);
    let oci_file = dir.path().join("oci.tar");
    skopeo(&[
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        &source,
        &format!("oci-archive:{}:example.com/from/oci:v2", oci_file.display()),
    ]);

    let (_dir, fresh) = store();
    let report = load_file(&fresh, &docker_file).unwrap();
    assert_eq!(report.images[0].reference, "example.com/from/skopeo:v1");
    assert_eq!(
        report.images[0].config, p.record.config,
        "the same image id"
    );
    let record = fresh
        .image(&parse("example.com/from/skopeo:v1"))
        .unwrap()
        .unwrap();
    assert_eq!(record.layers, p.record.layers);
    let motd = fresh
        .layer_path(record.layers.last().unwrap())
        .join("etc/motd");
    assert_eq!(std::fs::read_to_string(motd).unwrap(), "saved\n");

    let report = load_file(&fresh, &oci_file).unwrap();
    assert_eq!(report.images[0].reference, "example.com/from/oci:v2");
    assert_eq!(report.images[0].config, p.record.config);
}

// ----- archives made by hand -----

/// An uncompressed layer with one file.
fn layer(content: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    builder
        .append_data(&mut header, "hello", content.as_bytes())
        .unwrap();
    builder.into_inner().unwrap()
}

fn config(diff_ids: &[String]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": { "Cmd": ["cat", "/hello"] },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    }))
    .unwrap()
}

enum Item {
    File(String, Vec<u8>),
    Symlink(String, String),
}

fn file(name: &str, bytes: Vec<u8>) -> Item {
    Item::File(name.to_string(), bytes)
}

fn symlink(name: &str, target: &str) -> Item {
    Item::Symlink(name.to_string(), target.to_string())
}

fn tar_of(items: &[Item]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for item in items {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        match item {
            Item::File(name, bytes) => {
                header.set_size(bytes.len() as u64);
                header.set_entry_type(tar::EntryType::Regular);
                // Set the name in the header directly, so that names tar-rs
                // would refuse to write (`../x`) can be tested too.
                header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
                header.set_cksum();
                builder.append(&header, &bytes[..]).unwrap();
            }
            Item::Symlink(name, target) => {
                header.set_size(0);
                header.set_entry_type(tar::EntryType::Symlink);
                builder
                    .append_link(&mut header, name, target.as_str())
                    .unwrap();
            }
        }
    }
    builder.into_inner().unwrap()
}

/// An old-style `docker save` archive: `<id>/layer.tar`, the same layer
/// twice (the second a symbolic link to the first), `<config hex>.json`.
fn legacy(repo_tags: serde_json::Value, tamper: impl Fn(&mut Vec<Item>)) -> Vec<u8> {
    let layer = layer("hi\n");
    let diff_id = sha256_of(&layer).to_string();
    let config = config(&[diff_id.clone(), diff_id]);
    let config_name = format!("{}.json", sha256_of(&config).hex());
    let list = serde_json::json!([{ "Config": config_name, "RepoTags": repo_tags, "Layers": ["aaa/layer.tar", "bbb/layer.tar"] }]);
    let mut items = vec![
        file("aaa/layer.tar", layer),
        symlink("bbb/layer.tar", "../aaa/layer.tar"),
        file("manifest.json", serde_json::to_vec(&list).unwrap()),
    ];
    items.push(Item::File(config_name, config));
    tamper(&mut items);
    tar_of(&items)
}

#[test]
fn an_old_docker_archive_with_linked_layers_loads() {
    require_root();
    let (_dir, store) = store();
    let archive = legacy(serde_json::json!(["legacy:1"]), |_| {});
    let report = load(&store, &archive[..], "legacy.tar").unwrap();
    assert_eq!(report.images[0].reference, "docker.io/library/legacy:1");
    assert_eq!(report.to_string(), "Loaded image: legacy:1\n");
    let record = store.image(&parse("legacy:1")).unwrap().unwrap();
    assert_eq!(
        record.layers.len(),
        2,
        "the same layer twice: two chain ids"
    );
    assert_eq!(
        std::fs::read_to_string(store.layer_path(&record.layers[0]).join("hello")).unwrap(),
        "hi\n"
    );
    // The made-up manifest names the uncompressed layer.
    let manifest = json(&String::from_utf8(store.read_blob(&record.manifest).unwrap()).unwrap());
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar"
    );
}

/// Loads `archive` into an empty store: the error, and the store untouched.
fn refused(archive: &[u8]) -> ArchiveError {
    let (_dir, store) = store();
    let error = load(&store, archive, "bad.tar").expect_err("a bad archive");
    assert_empty(&store);
    error
}

#[test]
fn bad_archives_are_refused_and_leave_nothing() {
    require_root();
    let not_tar =
        refused(b"this is not a tar file at all, just some text that goes on for a while");
    assert!(
        matches!(not_tar, ArchiveError::NotAnArchive { .. }),
        "{not_tar}"
    );

    let empty = refused(&tar_of(&[file("README", b"hi".to_vec())]));
    assert_eq!(
        empty.to_string(),
        "\"bad.tar\" is not an image archive: it has neither docker's manifest.json nor an OCI index.json"
    );

    // The layer's content does not match the config's diff_id.
    let tampered = refused(&legacy(serde_json::json!(["x:1"]), |items| {
        items[0] = file("aaa/layer.tar", layer("tampered\n"));
    }));
    assert!(
        tampered.to_string().contains("but its config says"),
        "{tampered}"
    );

    let missing = refused(&legacy(serde_json::json!(["x:1"]), |items| {
        items.remove(0);
    }));
    assert_eq!(
        missing.to_string(),
        "the archive is damaged: aaa/layer.tar is missing"
    );

    let escaping = refused(&legacy(serde_json::json!(["x:1"]), |items| {
        items.push(file("../escape", b"x".to_vec()));
    }));
    assert!(
        escaping.to_string().contains("points outside the archive"),
        "{escaping}"
    );

    let link_out = refused(&legacy(serde_json::json!(["x:1"]), |items| {
        items[1] = symlink("bbb/layer.tar", "../../../etc/passwd");
    }));
    assert!(
        link_out.to_string().contains("points outside the archive"),
        "{link_out}"
    );

    let unnamed = refused(&legacy(serde_json::Value::Null, |_| {}));
    assert!(matches!(unnamed, ArchiveError::Unnamed { .. }), "{unnamed}");

    let renamed = refused(&legacy(serde_json::json!(["x:1"]), |items| {
        let list = serde_json::json!([{ "Config": format!("{}.json", "0".repeat(64)), "RepoTags": ["x:1"], "Layers": ["aaa/layer.tar"] }]);
        items[2] = file("manifest.json", serde_json::to_vec(&list).unwrap());
        if let Item::File(_, config) = &items[3] {
            items.push(Item::File(
                format!("{}.json", "0".repeat(64)),
                config.clone(),
            ));
        }
    }));
    assert!(
        renamed.to_string().contains("does not match its digest"),
        "{renamed}"
    );

    let bad_name = refused(&legacy(serde_json::json!(["Not/Valid"]), |_| {}));
    assert!(
        bad_name.to_string().contains("the name \"Not/Valid\""),
        "{bad_name}"
    );
}

#[test]
fn saving_an_unknown_image_writes_no_file() {
    let (_dir, store) = store();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.tar");
    let error = save_to_file(&store, &[parse("nothing:here")], &file).unwrap_err();
    assert_eq!(
        error.to_string(),
        "docker.io/library/nothing:here is not an image here: pull or build it first"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no partial file left"
    );
}

#[test]
fn history_of_a_loaded_image_measures_its_layers() {
    require_root();
    let (_dir, store) = store();
    let archive = legacy(serde_json::json!(["legacy:1"]), |_| {});
    let report = load(&store, &archive[..], "legacy.tar").unwrap();
    let table = ch05_images::history::table(&store, &parse("legacy:1"), true).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        lines[1].starts_with(&report.images[0].config.hex()[..12]),
        "{table}"
    );
    assert!(lines[2].starts_with("<missing>"), "{table}");
    // Each layer holds one file of 3 bytes ("hi\n"); no date in that config.
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.contains("N/A") && l.contains("3B")),
        "{table}"
    );
}
