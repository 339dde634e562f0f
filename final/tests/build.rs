//! `POST /build` through the docker CLI's legacy builder and `skiff build`:
//! chapter 5's builder in a helper process of the daemon.

#[path = "support/daemon.rs"]
mod daemon;

use daemon::{TestDaemon, TestImage, settings, shown};
use skiff_testkit::Transcript;
use std::process::Command;

const DOCKERFILE: &str = r#"ARG BASE
FROM $BASE
ARG TO=world
ENV TO=$TO
COPY . /ctx/
RUN echo "hello, $TO" > /srv/greeting && ls /ctx
CMD ["cat", "/srv/greeting"]
"#;

fn record(t: &mut Transcript, image: &TestImage, mut command: Command) -> i32 {
    let line = image.shown(&shown(&command));
    t.run_shown(&line, &mut command, None).code
}

/// What the build left in the store's work directory (the contexts).
fn leftovers(daemon: &TestDaemon) -> Vec<String> {
    names_in(daemon, "tmp")
}

/// The names in `dir` of the daemon's root, sorted.
fn names_in(daemon: &TestDaemon, dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(daemon.root().join(dir))
        .map(|dir| {
            dir.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Writes `text` as the Dockerfile of the context `dir` of the daemon's
/// work directory.
fn write_dockerfile(daemon: &TestDaemon, dir: &str, text: &str) {
    let dir = daemon.work().join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), text).unwrap();
}

#[test]
fn transcript_build_with_docker_and_skiff() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    let context = daemon.work().join("app");
    std::fs::create_dir(&context).unwrap();
    std::fs::write(context.join("Dockerfile"), DOCKERFILE).unwrap();
    std::fs::write(context.join("hello.txt"), "hi\n").unwrap();
    std::fs::write(context.join("secret.key"), "do not send\n").unwrap();
    std::fs::write(context.join(".dockerignore"), "*.key\n").unwrap();
    let base = format!("BASE={}", image.name);

    let mut t = Transcript::new();
    t.comment("the docker CLI's legacy builder: the context goes as a tar, .dockerignore applied");
    let code = record(
        &mut t,
        &image,
        daemon.docker(&["build", "-t", "app:1", "--build-arg", &base, "app"]),
    );
    assert_eq!(code, 0, "{}", t.text());
    record(&mut t, &image, daemon.docker(&["run", "--rm", "app:1"]));
    t.comment("skiff's own client, with a build arg, a label and a Dockerfile given with -f");
    std::fs::rename(context.join("Dockerfile"), context.join("app.Dockerfile")).unwrap();
    let code = record(
        &mut t,
        &image,
        daemon.skiff(&[
            "build",
            "-t",
            "app:2",
            "-f",
            "app/app.Dockerfile",
            "--build-arg",
            &base,
            "--build-arg",
            "TO=skiff",
            "--label",
            "built.by=skiff",
            "app",
        ]),
    );
    assert_eq!(code, 0, "{}", t.text());
    record(&mut t, &image, daemon.skiff(&["run", "--rm", "app:2"]));
    record(
        &mut t,
        &image,
        daemon.docker(&["inspect", "-f", "{{.Config.Labels}}", "app:2"]),
    );
    t.comment("-q: only the image id; the same steps come from the cache");
    record(
        &mut t,
        &image,
        daemon.docker(&[
            "build",
            "-q",
            "-f",
            "app/app.Dockerfile",
            "--build-arg",
            &base,
            "--build-arg",
            "TO=skiff",
            "app",
        ]),
    );
    settings().bind(|| insta::assert_snapshot!("build", t.text()));
    assert!(leftovers(&daemon).is_empty(), "{:?}", leftovers(&daemon));
}

#[test]
fn transcript_build_errors() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    let write = |dir: &str, text: &str| write_dockerfile(&daemon, dir, text);
    write("typo", &format!("FROM {}\nRUNN echo hi\n", image.name));
    write(
        "fails",
        &format!("FROM {}\nRUN echo failing; exit 3\n", image.name),
    );
    let missing = image.name.replace("busybox:v1", "nothere:v1");
    write("missing", &format!("FROM {missing}\nCMD [\"sh\"]\n"));
    // A Dockerfile that is a link to a file of this machine: the daemon
    // resolves it inside the context, where it leads nowhere.
    write(
        "outside",
        &format!("FROM {}\nLABEL leaked=yes\n", image.name),
    );
    std::fs::create_dir(daemon.work().join("linked")).unwrap();
    std::os::unix::fs::symlink(
        daemon.work().join("outside/Dockerfile"),
        daemon.work().join("linked/Dockerfile"),
    )
    .unwrap();

    let mut t = Transcript::new();
    t.comment("a Dockerfile that does not parse: an error answer, with line and column");
    for client in ["docker", "skiff"] {
        let command = match client {
            "docker" => daemon.docker(&["build", "typo"]),
            _ => daemon.skiff(&["build", "typo"]),
        };
        assert_ne!(record(&mut t, &image, command), 0);
    }
    t.comment("a RUN that fails: its exit code is the client's");
    assert_eq!(
        record(&mut t, &image, daemon.docker(&["build", "fails"])),
        3
    );
    assert_eq!(record(&mut t, &image, daemon.skiff(&["build", "fails"])), 3);
    t.comment("a base image that no registry has");
    assert_ne!(
        record(&mut t, &image, daemon.docker(&["build", "missing"])),
        0
    );
    t.comment("a Dockerfile that links out of the context is looked up inside it");
    assert_ne!(
        record(&mut t, &image, daemon.skiff(&["build", "linked"])),
        0
    );
    settings().bind(|| insta::assert_snapshot!("build_errors", t.text()));
    assert!(leftovers(&daemon).is_empty(), "{:?}", leftovers(&daemon));
    // Failed builds leave no container behind.
    assert_eq!(daemon.ok(daemon.skiff(&["ps", "-aq"])), "");
}

#[test]
fn output_without_line_breaks_arrives_whole() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    let dir = daemon.work().join("long");
    std::fs::create_dir(&dir).unwrap();
    // 200000 bytes and no line break: the daemon sends it in pieces.
    std::fs::write(
        dir.join("Dockerfile"),
        format!(
            "FROM {}\nRUN head -c 200000 /dev/zero | tr '\\0' a; echo; echo end\n",
            image.name
        ),
    )
    .unwrap();
    for client in ["docker", "skiff"] {
        let command = match client {
            "docker" => daemon.docker(&["build", "--no-cache", "long"]),
            _ => daemon.skiff(&["build", "--no-cache", "long"]),
        };
        let out = daemon.ok(command);
        let line = out
            .lines()
            .find(|l| l.starts_with('a'))
            .unwrap_or_else(|| panic!("{client}: no long line in {out}"));
        assert_eq!(line.len(), 200_000, "{client}");
        assert!(line.bytes().all(|b| b == b'a'), "{client}");
        assert!(out.contains("\nend\n"), "{client}");
    }
}

#[test]
fn system_prune_takes_the_build_cache_and_what_no_image_uses() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    let write = |dir: &str, text: &str| write_dockerfile(&daemon, dir, text);
    write(
        "kept",
        &format!("FROM {}\nRUN echo kept > /kept\n", image.name),
    );
    write("untagged", "FROM kept:1\nRUN echo gone > /gone\n");
    daemon.ok(daemon.docker(&["build", "-q", "-t", "kept:1", "kept"]));
    let kept_layers = names_in(&daemon, "layers");
    // A build without a name: its step's layer is kept by nothing but
    // the cache.
    daemon.ok(daemon.docker(&["build", "-q", "untagged"]));
    assert_eq!(names_in(&daemon, "layers").len(), kept_layers.len() + 1);
    assert!(!names_in(&daemon, "build-cache").is_empty());

    let pruned = daemon.ok(daemon.docker(&["system", "prune", "-f"]));
    assert!(pruned.contains("Deleted build cache objects:"), "{pruned}");
    assert!(pruned.contains("Total reclaimed space:"), "{pruned}");
    assert!(names_in(&daemon, "build-cache").is_empty());
    assert_eq!(names_in(&daemon, "layers"), kept_layers);
    // What an image uses stays: it runs, and builds again from scratch.
    let out =
        daemon.ok(daemon.docker(&["run", "--rm", "--network", "none", "kept:1", "cat", "/kept"]));
    assert_eq!(out, "kept\n");
    daemon.ok(daemon.docker(&["build", "-q", "untagged"]));
    // skiff's own verbs: the same endpoint.
    let pruned = daemon.ok(daemon.skiff(&["system", "prune", "-f"]));
    assert!(pruned.contains("Deleted build cache objects:"), "{pruned}");
    assert!(pruned.ends_with("B\n"), "{pruned}");
    assert_eq!(names_in(&daemon, "layers"), kept_layers);
    daemon.ok(daemon.docker(&["build", "-q", "untagged"]));
    let pruned = daemon.ok(daemon.skiff(&["builder", "prune", "-f"]));
    assert!(
        pruned.starts_with("Deleted build cache objects:"),
        "{pruned}"
    );
    assert_eq!(names_in(&daemon, "layers"), kept_layers);
    assert!(names_in(&daemon, "build-cache").is_empty());
}

/// `docker rmi -f` of an image a stopped container was made from takes
/// the name, not the container's files: the container starts again, also
/// after a build cache prune, which takes only what nothing uses.
#[test]
fn a_forced_rmi_leaves_a_stopped_containers_layers() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    write_dockerfile(
        &daemon,
        "mine",
        &format!("FROM {}\nRUN echo mine > /mine\n", image.name),
    );
    daemon.ok(daemon.docker(&["build", "-q", "-t", "mine:1", "mine"]));
    let layers = names_in(&daemon, "layers");
    daemon.ok(daemon.docker(&[
        "create",
        "--name",
        "user",
        "--network",
        "none",
        "mine:1",
        "cat",
        "/mine",
    ]));
    let refused = daemon.docker(&["rmi", "mine:1"]).output().unwrap();
    assert!(!refused.status.success(), "{refused:?}");
    daemon.ok(daemon.docker(&["rmi", "-f", "mine:1"]));
    assert_eq!(
        names_in(&daemon, "layers"),
        layers,
        "the container's layers went"
    );
    daemon.ok(daemon.docker(&["builder", "prune", "-f"]));
    assert_eq!(names_in(&daemon, "layers"), layers, "a prune took them");
    let out = daemon.ok(daemon.docker(&["start", "-a", "user"]));
    assert_eq!(out, "mine\n");
    daemon.ok(daemon.docker(&["rm", "user"]));
    // With the container gone, a prune takes what no one uses any more.
    daemon.ok(daemon.docker(&["builder", "prune", "-f"]));
    assert!(names_in(&daemon, "layers").len() < layers.len());
}
