//! `POST /commit`: a container's writable layer as a new image, with the
//! docker CLI and skiff.

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
fn transcript_commit() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    daemon.ok(daemon.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "-e",
        "MODE=live",
        &image.name,
        "sh",
        "-c",
        "echo written > /srv/state; rm /etc/group; exec sleep 1000",
    ]));
    // The container has written its file once `exec` shows `sleep`.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !daemon
        .ok(daemon.docker(&["exec", "web", "ls", "/srv"]))
        .contains("state")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the container wrote nothing"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    let mut t = Transcript::new();
    t.comment("commit a running container (frozen meanwhile), with config changes");
    assert_eq!(
        record(
            &mut t,
            &image,
            daemon.docker(&[
                "commit",
                "-a",
                "Jane <jane@example.com>",
                "-m",
                "the state file",
                "-c",
                "CMD [\"cat\", \"/srv/state\"]",
                "-c",
                "ENV STAGE=committed",
                "web",
                "snap:1",
            ]),
        ),
        0
    );
    record(
        &mut t,
        &image,
        daemon.docker(&["ps", "--format", "{{.Names}} {{.State}}"]),
    );
    record(&mut t, &image, daemon.docker(&["run", "--rm", "snap:1"]));
    record(
        &mut t,
        &image,
        daemon.docker(&[
            "inspect",
            "-f",
            "{{.Author}} | {{.Config.Cmd}} | {{.Config.Env}} | {{.Config.WorkingDir}}",
            "snap:1",
        ]),
    );
    t.comment("the deleted file stays deleted in the image (a whiteout in the new layer)");
    record(
        &mut t,
        &image,
        daemon.skiff(&[
            "run",
            "--rm",
            "snap:1",
            "sh",
            "-c",
            "ls /etc; echo $MODE $STAGE",
        ]),
    );
    t.comment("skiff commit, of a stopped container");
    daemon.ok(daemon.skiff(&["stop", "-t", "1", "web"]));
    assert_eq!(
        record(&mut t, &image, daemon.skiff(&["commit", "web", "snap:2"])),
        0
    );
    record(&mut t, &image, daemon.skiff(&["history", "snap:2"]));

    t.comment("what cannot be committed");
    assert_ne!(record(&mut t, &image, daemon.docker(&["commit", "web"])), 0);
    assert_ne!(
        record(
            &mut t,
            &image,
            daemon.docker(&["commit", "-c", "RUN rm -rf /", "web", "bad:1"])
        ),
        0
    );
    assert_ne!(
        record(&mut t, &image, daemon.skiff(&["commit", "nothere", "x:1"])),
        0
    );
    settings().bind(|| insta::assert_snapshot!("commit", t.text()));
}
