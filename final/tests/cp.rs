//! `docker cp` and `docker export` (`/containers/{id}/archive` and
//! `/export`), with both clients, on running and stopped containers; links
//! inside the container never lead outside it, reading or writing.

#[path = "support/daemon.rs"]
mod daemon;

use daemon::{TestDaemon, TestImage, settings, shown};
use skiff_testkit::Transcript;
use std::path::Path;
use std::process::Command;

fn record(t: &mut Transcript, image: &TestImage, mut command: Command) -> i32 {
    let line = image.shown(&shown(&command));
    t.run_shown(&line, &mut command, None).code
}

/// Runs `sh -c SCRIPT` in the test's work directory, recorded.
fn sh(t: &mut Transcript, daemon: &TestDaemon, script: &str) {
    let mut command = Command::new("sh");
    command.args(["-c", script]).current_dir(daemon.work());
    t.run_shown(script, &mut command, None);
}

/// The container's files (made once: the container is started again).
const SETUP: &str = "[ -e /srv/up ] || { mkdir -p /srv/dir && echo one > /srv/dir/a \
    && echo state > /srv/file && ln -s /etc /srv/escape && ln -s ../../../../../../.. /srv/up; }; \
    exec sleep 1000";

#[test]
fn transcript_cp_both_ways() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    daemon.ok(daemon.docker(&["run", "-d", "--name", "web", &image.name, "sh", "-c", SETUP]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !daemon
        .ok(daemon.docker(&["exec", "web", "ls", "/srv"]))
        .contains("up")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the container set nothing up"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Names that exist nowhere on this machine: found after the test only
    // if a copy wrote outside the container.
    let marker = "cp-marker-of-the-skiff-tests";
    std::fs::write(daemon.work().join("marker"), "from the host\n").unwrap();
    std::fs::create_dir(daemon.work().join("tree")).unwrap();
    std::fs::write(daemon.work().join("tree/b"), "two\n").unwrap();

    let mut t = Transcript::new();
    t.comment("out of a running container: a file, a directory, a directory's contents");
    record(
        &mut t,
        &image,
        daemon.docker(&["cp", "web:/srv/file", "file"]),
    );
    record(&mut t, &image, daemon.skiff(&["cp", "web:/srv/dir", "."]));
    record(
        &mut t,
        &image,
        daemon.skiff(&["cp", "web:/srv/.", "contents"]),
    );
    sh(&mut t, &daemon, "cat file dir/a; ls -A contents");
    t.comment("links are the container's: /srv/escape is its /etc, /srv/up its /");
    record(
        &mut t,
        &image,
        daemon.docker(&["cp", "web:/srv/escape/hostname", "hostname"]),
    );
    record(
        &mut t,
        &image,
        daemon.skiff(&["cp", "web:/srv/up/etc/passwd", "passwd"]),
    );
    record(
        &mut t,
        &image,
        daemon.skiff(&["cp", "-L", "web:/srv/escape", "etc-copy"]),
    );
    sh(&mut t, &daemon, "cat hostname; head -1 passwd; ls etc-copy");
    // The container's /etc/hostname (its network's file, with its own
    // name), not the host's.
    let own = daemon.ok(daemon.docker(&["inspect", "-f", "{{.Config.Hostname}}", "web"]));
    assert_eq!(
        std::fs::read_to_string(daemon.work().join("hostname")).unwrap(),
        own
    );

    t.comment("into it: into a directory, under a new name, through its links");
    record(
        &mut t,
        &image,
        daemon.docker(&["cp", "marker", "web:/srv/"]),
    );
    record(
        &mut t,
        &image,
        daemon.skiff(&["cp", "marker", "web:/srv/renamed"]),
    );
    record(
        &mut t,
        &image,
        daemon.skiff(&["cp", "tree", "web:/srv/newtree"]),
    );
    let into_etc = format!("web:/srv/escape/{marker}");
    let into_tmp = format!("web:/srv/up/tmp/{marker}");
    record(&mut t, &image, daemon.docker(&["cp", "marker", &into_etc]));
    record(&mut t, &image, daemon.skiff(&["cp", "marker", &into_tmp]));
    let check = format!("cat /srv/marker /srv/renamed /srv/newtree/b /etc/{marker} /tmp/{marker}");
    record(
        &mut t,
        &image,
        daemon.docker(&["exec", "web", "sh", "-c", &check]),
    );
    assert!(
        !Path::new("/etc").join(marker).exists(),
        "a copy wrote to the host's /etc"
    );
    assert!(
        !Path::new("/tmp").join(marker).exists(),
        "a copy wrote to the host's /tmp"
    );

    t.comment("a stopped container: its layers are mounted for the copy");
    daemon.ok(daemon.docker(&["stop", "-t", "1", "web"]));
    record(
        &mut t,
        &image,
        daemon.docker(&["cp", "web:/srv/renamed", "stopped"]),
    );
    record(
        &mut t,
        &image,
        daemon.skiff(&["cp", "marker", "web:/srv/while-stopped"]),
    );
    daemon.ok(daemon.docker(&["start", "web"]));
    record(
        &mut t,
        &image,
        daemon.docker(&["exec", "web", "cat", "/srv/while-stopped"]),
    );
    sh(&mut t, &daemon, "cat stopped");

    t.comment("what is not there");
    assert_ne!(
        record(&mut t, &image, daemon.docker(&["cp", "web:/nothere", "x"])),
        0
    );
    assert_ne!(
        record(&mut t, &image, daemon.skiff(&["cp", "web:/nothere", "x"])),
        0
    );
    assert_ne!(
        record(
            &mut t,
            &image,
            daemon.skiff(&["cp", "marker", "web:/no/dir/"])
        ),
        0
    );
    assert_ne!(
        record(
            &mut t,
            &image,
            daemon.docker(&["cp", "marker", "nothere:/srv"])
        ),
        0
    );
    settings().bind(|| insta::assert_snapshot!("cp", t.text()));
}

#[test]
fn export_is_the_root_without_the_kernels_files() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    daemon.ok(daemon.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        &image.name,
        "sh",
        "-c",
        "echo x > /srv/x; exec sleep 1000",
    ]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !daemon
        .ok(daemon.docker(&["exec", "web", "ls", "/srv"]))
        .contains('x')
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the container wrote nothing"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    daemon.ok(daemon.docker(&["export", "-o", "web.tar", "web"]));
    let bytes = std::fs::read(daemon.work().join("web.tar")).unwrap();
    let mut archive = tar::Archive::new(&bytes[..]);
    let names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    for wanted in ["bin/busybox", "etc/passwd", "srv/x", "proc/", "sys/"] {
        assert!(
            names.iter().any(|n| n == wanted),
            "{wanted} missing from {names:?}"
        );
    }
    // /proc and /sys are there as directories, without the kernel's files.
    assert!(!names.iter().any(|n| n.starts_with("proc/") && n != "proc/"));
    assert!(!names.iter().any(|n| n.starts_with("sys/") && n != "sys/"));
    // No entry climbs out of the archive's root.
    assert!(
        names
            .iter()
            .all(|n| !n.starts_with('/') && !n.contains(".."))
    );
}
