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
