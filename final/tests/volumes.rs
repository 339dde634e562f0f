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

/// The anonymous volumes in the store, counted.
fn anonymous_count(daemon: &TestDaemon) -> usize {
    let listed = daemon.ok(daemon.docker(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        "label=com.docker.volume.anonymous",
    ]));
    listed.lines().count()
}

#[test]
fn transcript_anonymous_volumes() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    let context = daemon.work().join("conf");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        format!(
            "FROM {}\nRUN mkdir /conf && echo 'listen 80' > /conf/app.conf && chown -R 1000:1000 /conf\nVOLUME /conf\n",
            image.name
        ),
    )
    .unwrap();
    daemon.ok(daemon.docker(&["build", "-q", "-t", "conf:1", "conf"]));
    let mut t = Transcript::new();

    t.comment("-v with a container path alone: a volume of the container's own");
    let code = record(
        &mut t,
        &image,
        daemon.docker(&[
            "run",
            "--name",
            "anon",
            "-v",
            "/cache",
            &image.name,
            "sh",
            "-c",
            "echo warm > /cache/f; grep /cache /proc/mounts | wc -l",
        ]),
    );
    assert_eq!(code, 0, "{}", t.text());
    record(
        &mut t,
        &image,
        daemon.docker(&[
            "inspect",
            "-f",
            "{{range .Mounts}}{{.Type}} {{.Destination}} {{.RW}} {{len .Name}}{{end}}",
            "anon",
        ]),
    );
    assert_eq!(anonymous_count(&daemon), 1);
    t.comment("rm keeps it (dangling); rm -v takes a container's anonymous volumes with it");
    record(&mut t, &image, daemon.docker(&["rm", "anon"]));
    assert_eq!(anonymous_count(&daemon), 1);
    record(
        &mut t,
        &image,
        daemon.skiff(&[
            "run",
            "--name",
            "anon2",
            "-v",
            "/cache",
            &image.name,
            "true",
        ]),
    );
    assert_eq!(anonymous_count(&daemon), 2);
    record(&mut t, &image, daemon.skiff(&["rm", "-v", "anon2"]));
    assert_eq!(anonymous_count(&daemon), 1);
    record(&mut t, &image, daemon.docker(&["volume", "prune", "-f"]));
    assert_eq!(anonymous_count(&daemon), 0);

    t.comment("an image's VOLUME: a new volume gets what the image has there");
    record(
        &mut t,
        &image,
        daemon.docker(&[
            "run",
            "--rm",
            "conf:1",
            "sh",
            "-c",
            "cat /conf/app.conf; stat -c '%u %n' /conf/app.conf; grep -c ' /conf ' /proc/mounts",
        ]),
    );
    assert_eq!(
        anonymous_count(&daemon),
        0,
        "--rm takes its anonymous volumes"
    );
    t.comment("a named volume on it is filled once, then kept as the container left it");
    record(
        &mut t,
        &image,
        daemon.docker(&[
            "run",
            "--rm",
            "-v",
            "conf:/conf",
            "conf:1",
            "sh",
            "-c",
            "cat /conf/app.conf; echo 'listen 8080' > /conf/app.conf",
        ]),
    );
    record(
        &mut t,
        &image,
        daemon.docker(&[
            "run",
            "--rm",
            "-v",
            "conf:/conf",
            "conf:1",
            "cat",
            "/conf/app.conf",
        ]),
    );
    assert_eq!(
        anonymous_count(&daemon),
        0,
        "the named volume replaced the image's"
    );

    t.comment("docker cp into a volume of a container not yet started lands in the volume");
    std::fs::write(daemon.work().join("note.txt"), "copied in\n").unwrap();
    record(
        &mut t,
        &image,
        daemon.docker(&[
            "create",
            "--name",
            "reader",
            "-v",
            "/inbox",
            &image.name,
            "cat",
            "/inbox/note.txt",
        ]),
    );
    record(
        &mut t,
        &image,
        daemon.docker(&["cp", "note.txt", "reader:/inbox/"]),
    );
    let code = record(&mut t, &image, daemon.docker(&["start", "-a", "reader"]));
    assert_eq!(code, 0, "{}", t.text());
    record(
        &mut t,
        &image,
        daemon.docker(&["cp", "reader:/inbox/note.txt", "back.txt"]),
    );
    assert_eq!(
        std::fs::read_to_string(daemon.work().join("back.txt")).unwrap(),
        "copied in\n"
    );
    record(&mut t, &image, daemon.docker(&["rm", "-v", "reader"]));
    record(&mut t, &image, daemon.docker(&["volume", "rm", "conf"]));
    assert_eq!(daemon.ok(daemon.docker(&["volume", "ls", "-q"])), "");
    settings().bind(|| insta::assert_snapshot!("anonymous_volumes", t.text()));
}
