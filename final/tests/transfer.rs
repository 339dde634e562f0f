//! `push`, `save`, `load` and `history` through the daemon, with the
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
fn transcript_push_save_load_history() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    let registry = image.registry.host();
    let pushed = format!("{registry}/test/pushed:v2");
    daemon.ok(daemon.docker(&["pull", &image.name]));

    let mut t = Transcript::new();
    t.comment("push: a new name in the same registry; the layer is mounted, not sent again");
    record(
        &mut t,
        &image,
        daemon.docker(&["tag", &image.name, &pushed]),
    );
    assert_eq!(record(&mut t, &image, daemon.docker(&["push", &pushed])), 0);
    assert_eq!(record(&mut t, &image, daemon.skiff(&["push", &pushed])), 0);
    t.comment("the registry has it: pulled back by another name after an rmi");
    record(&mut t, &image, daemon.skiff(&["rmi", &pushed]));
    assert_eq!(record(&mut t, &image, daemon.skiff(&["pull", &pushed])), 0);

    t.comment("save and load, both ways between the two clients");
    assert_eq!(
        record(
            &mut t,
            &image,
            daemon.docker(&["save", "-o", "image.tar", &pushed])
        ),
        0
    );
    let mut skiff_save = daemon.skiff(&["save", &pushed]);
    skiff_save.stdout(std::fs::File::create(daemon.work().join("skiff.tar")).unwrap());
    assert!(skiff_save.status().unwrap().success());
    // The same images make the same archive.
    assert_eq!(
        std::fs::read(daemon.work().join("image.tar")).unwrap(),
        std::fs::read(daemon.work().join("skiff.tar")).unwrap()
    );
    record(&mut t, &image, daemon.docker(&["rmi", &pushed]));
    assert_eq!(
        record(&mut t, &image, daemon.skiff(&["load", "-i", "image.tar"])),
        0
    );
    record(&mut t, &image, daemon.docker(&["rmi", &pushed]));
    assert_eq!(
        record(&mut t, &image, daemon.docker(&["load", "-i", "skiff.tar"])),
        0
    );
    let listed = daemon.ok(daemon.docker(&["images", "--format", "{{.Repository}}:{{.Tag}}"]));
    let mut names: Vec<&str> = listed.lines().collect();
    names.sort();
    assert_eq!(names, [image.name.as_str(), pushed.as_str()]);

    t.comment("history: one row per step, the layer's size on the step that made it");
    record(&mut t, &image, daemon.docker(&["history", &pushed]));
    record(&mut t, &image, daemon.skiff(&["image", "history", &pushed]));

    t.comment("what is not there");
    let nothere = format!("{registry}/test/nothere:v1");
    assert_ne!(
        record(&mut t, &image, daemon.docker(&["push", &nothere])),
        0
    );
    assert_ne!(
        record(
            &mut t,
            &image,
            daemon.skiff(&["save", "-o", "x.tar", &nothere])
        ),
        0
    );
    assert!(!daemon.work().join("x.tar").exists());
    std::fs::write(daemon.work().join("garbage.tar"), "not a tar at all").unwrap();
    assert_ne!(
        record(
            &mut t,
            &image,
            daemon.docker(&["load", "-i", "garbage.tar"])
        ),
        0
    );
    assert_ne!(
        record(&mut t, &image, daemon.skiff(&["history", "nothere"])),
        0
    );
    settings().bind(|| insta::assert_snapshot!("transfer", t.text()));
}

/// `docker import`: a container's exported root as an image of one layer,
/// with `--change`; skiff's own client, gzip'd; and what is refused.
#[test]
fn transcript_export_and_import() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    let mut t = Transcript::new();
    t.comment("a container's files, exported, become an image of their own");
    daemon.ok(daemon.docker(&[
        "run",
        "--name",
        "source",
        &image.name,
        "sh",
        "-c",
        "echo imported > /hello",
    ]));
    record(
        &mut t,
        &image,
        daemon.docker(&["export", "-o", "rootfs.tar", "source"]),
    );
    let code = record(
        &mut t,
        &image,
        daemon.docker(&[
            "import",
            "--change",
            "CMD [\"cat\", \"/hello\"]",
            "--change",
            "WORKDIR /srv",
            "-m",
            "from source",
            "rootfs.tar",
            "imported:1",
        ]),
    );
    assert_eq!(code, 0, "{}", t.text());
    record(
        &mut t,
        &image,
        daemon.docker(&["run", "--rm", "imported:1"]),
    );
    record(
        &mut t,
        &image,
        daemon.docker(&[
            "image",
            "inspect",
            "-f",
            "{{.Config.Cmd}} {{.Config.WorkingDir}} {{len .RootFS.Layers}}",
            "imported:1",
        ]),
    );
    record(
        &mut t,
        &image,
        daemon.docker(&["history", "--format", "{{.Comment}}", "imported:1"]),
    );
    t.comment("skiff's client, from a gzip'd tar on stdin");
    let gz = daemon.work().join("rootfs.tar.gz");
    let status = Command::new("sh")
        .arg("-c")
        .arg("gzip -c rootfs.tar > rootfs.tar.gz")
        .current_dir(daemon.work())
        .status()
        .unwrap();
    assert!(status.success() && gz.exists());
    let skiff = daemon.skiff(&[]);
    let mut import = Command::new("sh");
    import
        .arg("-c")
        .arg(format!(
            "{} import - imported:gz < rootfs.tar.gz",
            skiff.get_program().to_string_lossy()
        ))
        .env("SKIFF_HOST", daemon.host())
        .current_dir(daemon.work());
    let code = t
        .run_shown(
            "skiff import - imported:gz < rootfs.tar.gz",
            &mut import,
            None,
        )
        .code;
    assert_eq!(code, 0, "{}", t.text());
    record(
        &mut t,
        &image,
        daemon.skiff(&["run", "--rm", "imported:gz", "cat", "/hello"]),
    );
    t.comment("what is not a tar, and an image without a name");
    std::fs::write(daemon.work().join("notes.txt"), "not a tar\n").unwrap();
    let blobs = || {
        let found = Command::new("find")
            .arg(daemon.root())
            .args(["-path", "*/blobs/sha256/*", "-type", "f"])
            .output()
            .unwrap();
        String::from_utf8(found.stdout).unwrap().lines().count()
    };
    let before = blobs();
    assert!(before > 0, "the store's blobs are found");
    assert_ne!(
        record(
            &mut t,
            &image,
            daemon.docker(&["import", "notes.txt", "broken:1"])
        ),
        0
    );
    assert_ne!(
        record(&mut t, &image, daemon.docker(&["import", "rootfs.tar"])),
        0
    );
    assert_eq!(blobs(), before, "a refused import leaves no blob");
    t.comment("docker images NAME: a pattern of names and tags");
    record(
        &mut t,
        &image,
        daemon.docker(&[
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            "imported:g*",
        ]),
    );
    t.comment("no image was made of the broken one");
    record(&mut t, &image, daemon.docker(&["images", "-q", "broken"]));
    settings().bind(|| insta::assert_snapshot!("export_and_import", t.text()));
}
