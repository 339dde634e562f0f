//! `build`, end to end: a multi-stage Dockerfile built on an image of a
//! real registry, run, pushed, and pulled back into another engine; the
//! build cache; `--target`; ADD and COPY's flags; `FROM scratch`.

mod support;

use skiff_testkit::{Transcript, require_root};
use support::{Setup, settings};

/// The two-stage Dockerfile of the book: a builder stage writes a file, the
/// image copies it and the context's sources.
const TWO_STAGES: &str = r#"# syntax=docker/dockerfile:1
ARG BASE
FROM $BASE AS builder
ARG GREETING=hello
RUN echo "$GREETING from the builder" > /greeting.txt && echo "wrote /greeting.txt"

FROM $BASE
LABEL org.opencontainers.image.title=app
ENV APP_HOME=/app
WORKDIR $APP_HOME
COPY --from=builder /greeting.txt ./
COPY src/ ./
USER nobody
ENTRYPOINT ["cat"]
CMD ["greeting.txt", "hello.txt"]
"#;

fn two_stage_context(setup: &Setup) {
    setup.write("app/Dockerfile", TWO_STAGES);
    setup.write("app/.dockerignore", "secret.txt\n**/*.log\n");
    setup.write("app/src/hello.txt", "hello from the context\n");
    setup.write(
        "app/src/docs/readme.txt",
        "a directory's contents are copied\n",
    );
    setup.write("app/src/debug.log", "left out by .dockerignore\n");
    setup.write("app/secret.txt", "left out by .dockerignore\n");
}

#[test]
fn transcript_a_two_stage_build_runs_is_pushed_and_pulled_back_by_digest() {
    require_root();
    let setup = Setup::new();
    two_stage_context(&setup);
    let app = setup.named("test/app:v1");
    let base = format!("BASE={}", setup.base());
    let mut t = Transcript::new();

    let built = setup.run(
        &mut t,
        "state",
        &[
            "build",
            "-t",
            &app,
            "--build-arg",
            &base,
            "--build-arg",
            "GREETING=bonjour",
            "--label",
            "org.example.team=skiff",
            "app",
        ],
    );
    assert_eq!(built.code, 0, "{}", built.output);
    setup.run(&mut t, "state", &["images"]);
    let ran = setup.run(&mut t, "state", &["run", "--rm", &app]);
    assert_eq!(
        ran.output,
        "bonjour from the builder\nhello from the context\n"
    );
    t.comment("the command replaces CMD; ENTRYPOINT stays: cat docs/readme.txt");
    let ran = setup.run(&mut t, "state", &["run", "--rm", &app, "docs/readme.txt"]);
    assert_eq!(ran.output, "a directory's contents are copied\n");
    t.comment(".dockerignore kept these out of the build");
    let ran = setup.run(
        &mut t,
        "state",
        &["run", "--rm", &app, "secret.txt", "debug.log"],
    );
    assert_eq!(ran.code, 1, "{}", ran.output);
    setup.run(&mut t, "state", &["history", &app]);

    let pushed = setup.run(&mut t, "state", &["push", &app]);
    assert_eq!(pushed.code, 0, "{}", pushed.output);
    let digest = pushed
        .output
        .split_whitespace()
        .find(|w| w.starts_with("sha256:"))
        .unwrap()
        .to_string();
    let by_digest = format!("{}@{digest}", setup.named("test/app"));
    t.comment("another engine, with an empty root: pull by digest, run");
    let pulled = setup.run(&mut t, "fresh", &["pull", &by_digest]);
    assert_eq!(pulled.code, 0, "{}", pulled.output);
    let ran = setup.run(&mut t, "fresh", &["run", "--rm", &by_digest]);
    assert_eq!(
        ran.output,
        "bonjour from the builder\nhello from the context\n"
    );
    settings().bind(|| insta::assert_snapshot!("build_and_push", t.text()));

    // A client we did not write reads the pushed image's config.
    let out = std::process::Command::new("skopeo")
        .args(["inspect", "--config", "--tls-verify=false"])
        .arg(format!("docker://{app}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let config: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let run = &config["config"];
    assert_eq!(run["Entrypoint"], serde_json::json!(["cat"]));
    assert_eq!(run["Cmd"], serde_json::json!(["greeting.txt", "hello.txt"]));
    assert_eq!(run["WorkingDir"], "/app");
    assert_eq!(run["User"], "nobody");
    assert!(
        run["Env"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("APP_HOME=/app")),
        "{run}"
    );
    assert_eq!(run["Labels"]["org.example.team"], "skiff");
    assert_eq!(run["Labels"]["org.opencontainers.image.title"], "app");
    // Only the final stage's layers: the base, WORKDIR, and two COPYs.
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 4);
    let history = config["history"].as_array().unwrap();
    let layers = history
        .iter()
        .filter(|h| h["empty_layer"] != serde_json::json!(true))
        .count();
    assert_eq!(layers, 4, "{history:?}");
    assert!(setup.containers("state").is_empty());
    assert!(setup.containers("fresh").is_empty());
    skiff_testkit::assert_no_mounts_under(setup.dir.path());
}
