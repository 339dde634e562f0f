//! Builds that fail: a RUN that exits non-zero leaves no container, no
//! layer of its own, no image; a malformed Dockerfile, a missing or
//! excluded source and an unknown stage say where and what.

mod support;

use skiff_testkit::{Transcript, require_root};
use support::{Setup, settings};

#[test]
fn transcript_a_failing_build_says_where_and_leaves_nothing() {
    require_root();
    let setup = Setup::new();
    let base = format!("BASE={}", setup.base());
    let mut t = Transcript::new();
    setup.shell(&mut t, "mkdir app");
    setup.write_shown(
        &mut t,
        "app/Dockerfile",
        "ARG BASE\nFROM $BASE\nRUN echo \"this step works\" > /ok.txt\nRUN echo \"compiling...\" && exit 3\nCMD [\"sh\"]\n",
    );
    setup.shell(
        &mut t,
        "echo secret.txt > app/.dockerignore && echo 'not for the image' > app/secret.txt",
    );
    t.comment("and four Dockerfiles with a mistake each");
    setup.write_shown(
        &mut t,
        "app/typo.Dockerfile",
        "ARG BASE\nFROM $BASE\nRUNN echo hello\n",
    );
    setup.write_shown(
        &mut t,
        "app/quote.Dockerfile",
        "ARG BASE\nFROM $BASE\nENV GREETING=\"hello\n",
    );
    setup.write_shown(
        &mut t,
        "app/secret.Dockerfile",
        "ARG BASE\nFROM $BASE\nCOPY secret.txt /\n",
    );
    setup.write_shown(
        &mut t,
        "app/missing.Dockerfile",
        &format!(
            "ARG BASE\nFROM $BASE AS builder\nFROM $BASE\nCOPY --from={} /out /out\n",
            setup.named("test/biulder:v1")
        ),
    );
    let failed = setup.run(
        &mut t,
        "state",
        &["build", "-t", "broken", "--build-arg", &base, "app"],
    );
    assert_eq!(failed.code, 125, "{}", failed.output);
    assert!(
        failed.output.contains("step 3/4 (RUN echo \"compiling...\" && exit 3): the command '/bin/sh -c echo \"compiling...\" && exit 3' returned a non-zero code: 3"),
        "{}",
        failed.output
    );
    t.comment("no container, and no image named broken");
    setup.run(&mut t, "state", &["ps", "-a"]);
    setup.run(&mut t, "state", &["images"]);
    // The base's layer and the step that worked (kept for the cache, as
    // docker keeps it); nothing of the failed step, nothing half-written.
    assert_eq!(
        setup.layers("state").len(),
        2,
        "{:?}",
        setup.layers("state")
    );
    assert!(support::list(&setup.state().join("tmp")).is_empty());
    let files = std::fs::read_dir(setup.state().join("tmp"))
        .unwrap()
        .count();
    assert_eq!(files, 0, "tmp/ is not empty");

    for (file, expected) in [
        (
            "typo.Dockerfile",
            "app/typo.Dockerfile:3:1: unknown instruction \"RUNN\"",
        ),
        ("quote.Dockerfile", "app/quote.Dockerfile:3:"),
        (
            "secret.Dockerfile",
            "file not found in build context or excluded by .dockerignore: secret.txt",
        ),
        (
            "missing.Dockerfile",
            "names no stage before this one (they are builder)",
        ),
    ] {
        let path = format!("app/{file}");
        let out = setup.run(
            &mut t,
            "state",
            &["build", "-f", &path, "--build-arg", &base, "app"],
        );
        assert_eq!(out.code, 125, "{}", out.output);
        assert!(
            out.output.contains(expected),
            "{expected:?} in\n{}",
            out.output
        );
    }
    let out = setup.run(
        &mut t,
        "state",
        &["build", "--target", "tests", "--build-arg", &base, "app"],
    );
    assert_eq!(out.code, 125, "{}", out.output);
    let text = support::scrubbed(t.text());
    settings().bind(|| insta::assert_snapshot!("build_errors", text));
    assert!(setup.containers("state").is_empty());
    skiff_testkit::assert_no_mounts_under(setup.dir.path());
}
