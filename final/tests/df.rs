//! `docker system df` (`GET /system/df`): images, containers and volumes,
//! what they take and what could be reclaimed.

#[path = "support/daemon.rs"]
mod daemon;

use daemon::{TestDaemon, TestImage, settings, shown};
use serde_json::Value;
use skiff_testkit::Transcript;
use std::process::Command;

fn record(t: &mut Transcript, image: &TestImage, mut command: Command) -> i32 {
    let line = image.shown(&shown(&command));
    t.run_shown(&line, &mut command, None).code
}

#[test]
fn transcript_system_df() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    // An image in use, one that is not (same layers, another name), a
    // stopped container with a 4 KiB file of its own, a used volume and
    // an unused one.
    daemon.ok(daemon.docker(&["pull", &image.name]));
    daemon.ok(daemon.docker(&["tag", &image.name, "unused:1"]));
    // Two names of one image: `docker info` counts images, not names.
    let info = daemon.ok(daemon.docker(&["info", "--format", "{{.Images}}"]));
    assert_eq!(info, "1\n");
    daemon.ok(daemon.docker(&["volume", "create", "idle"]));
    daemon.ok(daemon.docker(&[
        "run",
        "--name",
        "writer",
        "-v",
        "data:/data",
        &image.name,
        "sh",
        "-c",
        "head -c 4096 /dev/zero > /srv/blob; head -c 1000 /dev/zero > /data/blob",
    ]));

    let mut t = Transcript::new();
    record(&mut t, &image, daemon.docker(&["system", "df"]));
    record(&mut t, &image, daemon.skiff(&["system", "df"]));
    settings().bind(|| insta::assert_snapshot!("df", t.text()));

    // The numbers behind the table.
    let out = daemon.ok(daemon.skiff(&["version"]));
    assert!(out.contains("Server"));
    let socket = daemon.host();
    let raw = daemon.ok({
        let mut curl = Command::new("curl");
        curl.args(["-s", "--unix-socket", socket.trim_start_matches("unix://")])
            .arg("http://skiff/v1.47/system/df");
        curl
    });
    let usage: Value = serde_json::from_str(&raw).unwrap();
    let containers = usage["Containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0]["SizeRw"], 4096);
    let volumes = usage["Volumes"].as_array().unwrap();
    let data = volumes.iter().find(|v| v["Name"] == "data").unwrap();
    assert_eq!(data["UsageData"]["Size"], 1000);
    assert_eq!(data["UsageData"]["RefCount"], 1);
    let images = usage["Images"].as_array().unwrap();
    // One image (one config) with two names, used by the container.
    assert_eq!(images.len(), 1);
    assert_eq!(images[0]["RepoTags"].as_array().unwrap().len(), 2);
    assert_eq!(images[0]["Containers"], 1);
    assert!(usage["LayersSize"].as_u64().unwrap() > 1_000_000);
}

/// `docker container prune` reports what the removed containers wrote
/// (docker-py's test_prune_containers checks it is above zero); a running
/// container stays.
#[test]
fn container_prune_reclaims_what_stopped_containers_wrote() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    daemon.ok(daemon.docker(&[
        "run",
        "--name",
        "writer",
        &image.name,
        "dd",
        "if=/dev/zero",
        "of=/written",
        "bs=1024",
        "count=64",
    ]));
    daemon.ok(daemon.docker(&["run", "-d", "--name", "runner", &image.name, "sleep", "60"]));
    let pruned = daemon.ok(daemon.docker(&["container", "prune", "-f"]));
    let lines: Vec<&str> = pruned.lines().collect();
    assert_eq!(lines[0], "Deleted Containers:", "{pruned}");
    assert_eq!(lines[1].len(), 64, "the writer's id: {pruned}");
    let reclaimed = lines.last().unwrap();
    assert!(reclaimed.starts_with("Total reclaimed space: "), "{pruned}");
    assert!(
        reclaimed.ends_with("kB") && !reclaimed.ends_with(" 0B"),
        "{pruned}"
    );
    assert_eq!(
        daemon.ok(daemon.docker(&["ps", "-a", "--format", "{{.Names}}"])),
        "runner\n"
    );
    daemon.ok(daemon.docker(&["rm", "-f", "runner"]));
}
