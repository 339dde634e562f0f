//! `docker volume create|ls|inspect|rm|prune` through the daemon, with
//! both clients: a volume a container names is in use, running or not.

#[path = "support/daemon.rs"]
mod daemon;

use daemon::{TestDaemon, TestImage, settings, shown};
use skiff_testkit::Transcript;
use std::process::Command;

fn record(t: &mut Transcript, image: &TestImage, mut command: Command) -> i32 {
    let line = image.shown(&shown(&command));
    t.run_shown(&line, &mut command, None).code
}

#[test]
fn transcript_volumes() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    let mut t = Transcript::new();
    t.comment("create, with both clients; a label; ls and inspect");
    record(&mut t, &image, daemon.docker(&["volume", "create", "data"]));
    record(
        &mut t,
        &image,
        daemon.skiff(&["volume", "create", "--label", "tier=cache", "cache"]),
    );
    record(&mut t, &image, daemon.skiff(&["volume", "create", "spare"]));
    record(&mut t, &image, daemon.docker(&["volume", "ls"]));
    record(
        &mut t,
        &image,
        daemon.skiff(&["volume", "ls", "--filter", "label=tier=cache"]),
    );
    record(
        &mut t,
        &image,
        daemon.docker(&[
            "volume",
            "inspect",
            "-f",
            "{{.Name}} {{.Driver}} {{.Labels}} {{.Scope}}",
            "cache",
        ]),
    );

    t.comment("a container writes to a volume; a second one reads it");
    record(
        &mut t,
        &image,
        daemon.docker(&[
            "run",
            "--name",
            "writer",
            "-v",
            "data:/data",
            &image.name,
            "sh",
            "-c",
            "echo kept > /data/file",
        ]),
    );
    record(
        &mut t,
        &image,
        daemon.skiff(&[
            "run",
            "--rm",
            "-v",
            "data:/data",
            &image.name,
            "cat",
            "/data/file",
        ]),
    );

    t.comment("--read-only: the root refuses writes, the volume takes them");
    record(
        &mut t,
        &image,
        daemon.docker(&[
            "run",
            "--rm",
            "--read-only",
            "-v",
            "data:/data",
            &image.name,
            "sh",
            "-c",
            "touch /srv/new 2>&1; echo more >> /data/file && cat /data/file",
        ]),
    );

    t.comment("in use while a container (even a stopped one) names it");
    assert_ne!(
        record(&mut t, &image, daemon.docker(&["volume", "rm", "data"])),
        0
    );
    record(
        &mut t,
        &image,
        daemon.docker(&["volume", "ls", "--filter", "dangling=true", "-q"]),
    );
    t.comment("prune: anonymous volumes only, unless -a (docker since API 1.42)");
    record(&mut t, &image, daemon.docker(&["volume", "prune", "-f"]));
    record(
        &mut t,
        &image,
        daemon.skiff(&["volume", "prune", "-a", "-f"]),
    );
    record(&mut t, &image, daemon.skiff(&["volume", "ls", "-q"]));
    record(&mut t, &image, daemon.docker(&["rm", "writer"]));
    record(&mut t, &image, daemon.skiff(&["volume", "rm", "data"]));

    t.comment("what is not there, and what is not a name");
    assert_ne!(
        record(
            &mut t,
            &image,
            daemon.docker(&["volume", "inspect", "data"])
        ),
        0
    );
    assert_ne!(
        record(&mut t, &image, daemon.skiff(&["volume", "rm", "data"])),
        0
    );
    assert_eq!(
        record(
            &mut t,
            &image,
            daemon.docker(&["volume", "rm", "-f", "data"])
        ),
        0
    );
    assert_ne!(
        record(
            &mut t,
            &image,
            daemon.docker(&["volume", "create", "../escape"])
        ),
        0
    );
    settings().bind(|| insta::assert_snapshot!("volumes", t.text()));
    assert!(!daemon.root().join("escape").exists());
}
