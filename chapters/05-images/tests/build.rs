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

/// Two stages, the second FROM the first: what the cache and `--target` do.
const CACHED: &str = r#"ARG BASE
FROM $BASE AS base
RUN echo "made in the base stage" > /stage.txt
COPY a.txt /a.txt

FROM base AS final
COPY b.txt /b.txt
RUN cat /stage.txt /a.txt /b.txt > /all.txt
CMD ["cat", "/all.txt"]
"#;

/// The image id a build printed last (`Successfully built ID`).
fn built_id(output: &str) -> String {
    output
        .lines()
        .find_map(|l| l.strip_prefix("Successfully built "))
        .unwrap_or_else(|| panic!("no image id in:\n{output}"))
        .to_string()
}

#[test]
fn transcript_the_cache_skips_what_did_not_change() {
    require_root();
    let setup = Setup::new();
    setup.write("app/Dockerfile", CACHED);
    setup.write("app/a.txt", "a, first version\n");
    setup.write("app/b.txt", "b, first version\n");
    let base = format!("BASE={}", setup.base());
    let build = |t: &mut Transcript, extra: &[&str]| {
        let mut args = vec!["build", "-t", "cached", "--build-arg", &base];
        args.extend(extra);
        args.push("app");
        let out = setup.run(t, "state", &args);
        assert_eq!(out.code, 0, "{}", out.output);
        out.output
    };
    let mut t = Transcript::new();
    let first = build(&mut t, &[]);
    assert_eq!(first.matches("Using cache").count(), 0);
    t.comment("nothing changed: every step comes from the cache, the same image");
    let second = build(&mut t, &[]);
    assert_eq!(second.matches("Using cache").count(), 5, "{second}");
    assert!(!second.contains("Running in"), "{second}");
    assert_eq!(built_id(&first), built_id(&second));

    setup.write("app/b.txt", "b, second version\n");
    t.comment("b.txt changed: the cache holds up to COPY b.txt, not after");
    let third = build(&mut t, &[]);
    assert_eq!(third.matches("Using cache").count(), 2, "{third}");
    assert_ne!(built_id(&third), built_id(&second));
    let ran = setup.run(&mut t, "state", &["run", "--rm", "cached"]);
    assert_eq!(
        ran.output,
        "made in the base stage\na, first version\nb, second version\n"
    );
    t.comment("--target: the base stage is the image (built already: cached)");
    let target = setup.run(
        &mut t,
        "state",
        &[
            "build",
            "--target",
            "base",
            "-t",
            "base-only",
            "--build-arg",
            &base,
            "app",
        ],
    );
    assert_eq!(target.code, 0, "{}", target.output);
    assert!(target.output.contains("Step 3/3 : COPY a.txt /a.txt"));
    let ran = setup.run(&mut t, "state", &["run", "--rm", "base-only", "ls", "/"]);
    assert!(ran.output.contains("stage.txt") && !ran.output.contains("b.txt"));
    settings().bind(|| insta::assert_snapshot!("build_cache", t.text()));

    // --no-cache runs every step again.
    let out = setup
        .ch05(&[
            "build",
            "--no-cache",
            "-t",
            "cached",
            "--build-arg",
            &base,
            "app",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text.matches("Using cache").count(), 0, "{text}");
    assert_eq!(text.matches("Running in").count(), 2, "{text}");
    assert!(setup.containers("state").is_empty());
    skiff_testkit::assert_no_mounts_under(setup.dir.path());
}

/// A one-file HTTP server on loopback for `ADD URL`: answers every GET
/// with `body`; stops when dropped.
struct FileServer {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FileServer {
    fn start(body: &'static str) -> FileServer {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        FileServer {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn transcript_add_and_copy_flags() {
    require_root();
    let setup = Setup::new();
    let server = FileServer::start("fetched over HTTP\n");
    setup.write(
        "app/Dockerfile",
        &format!(
            r#"ARG BASE
FROM $BASE
ADD tool.tar.gz /opt/unpacked/
ADD --checksum={} http://127.0.0.1:{}/files/remote.txt /opt/
COPY --chown=nobody:nogroup --chmod=640 conf/*.conf /etc/app/
COPY links/ /opt/links/
RUN stat -c '%n %u:%g %a' /opt/unpacked/tool/run.sh /opt/remote.txt /etc/app/*.conf && readlink /opt/links/out && ls /etc/app
"#,
            ch05_images::digest::sha256_of(b"fetched over HTTP\n"),
            server.port
        ),
    );
    setup.write("app/conf/a.conf", "a=1\n");
    setup.write("app/conf/b.conf", "b=2\n");
    setup.write("app/conf/notes.txt", "not a .conf\n");
    setup.write("tool/run.sh", "#!/bin/sh\necho run\n");
    let tar = std::process::Command::new("tar")
        .args(["czf", "app/tool.tar.gz", "--owner=1000", "--group=1000"])
        .args(["--numeric-owner", "--mode=755", "tool"])
        .current_dir(setup.dir.path())
        .status()
        .unwrap();
    assert!(tar.success());
    std::fs::create_dir_all(setup.path("app/links")).unwrap();
    std::os::unix::fs::symlink("../../../etc/shadow", setup.path("app/links/out")).unwrap();

    let base = format!("BASE={}", setup.base());
    let mut t = Transcript::new();
    t.comment("a local tar is unpacked; a URL is downloaded; a glob, --chown and --chmod; a link stays a link");
    let built = setup.run(
        &mut t,
        "state",
        &["build", "-t", "flags", "--build-arg", &base, "app"],
    );
    assert_eq!(built.code, 0, "{}", built.output);
    for line in [
        "/opt/unpacked/tool/run.sh 1000:1000 755",
        "/opt/remote.txt 0:0 600",
        "/etc/app/a.conf 65534:65534 640",
        "/etc/app/b.conf 65534:65534 640",
        "../../../etc/shadow",
        "a.conf\nb.conf\n",
    ] {
        assert!(built.output.contains(line), "{line:?} in\n{}", built.output);
    }
    let ran = setup.run(
        &mut t,
        "state",
        &["run", "--rm", "flags", "cat", "/opt/remote.txt"],
    );
    assert_eq!(ran.output, "fetched over HTTP\n");

    t.comment("FROM scratch: nothing but what COPY puts there, here from an image");
    setup.write(
        "tiny/Dockerfile",
        "FROM scratch\nARG BASE\nCOPY --from=$BASE /bin/busybox /bin/busybox\nENTRYPOINT [\"/bin/busybox\"]\nCMD [\"echo\", \"hello from scratch\"]\n",
    );
    let built = setup.run(
        &mut t,
        "state",
        &["build", "-q", "-t", "tiny", "--build-arg", &base, "tiny"],
    );
    assert_eq!(built.code, 0, "{}", built.output);
    assert!(
        built.output.trim().starts_with("sha256:"),
        "{}",
        built.output
    );
    let ran = setup.run(&mut t, "state", &["run", "--rm", "tiny"]);
    assert_eq!(ran.output, "hello from scratch\n");
    let ran = setup.run(&mut t, "state", &["run", "--rm", "tiny", "ls", "/"]);
    assert_eq!(ran.output, "bin\ndev\nproc\nsys\n", "{}", ran.output);
    settings().bind(|| insta::assert_snapshot!("build_add", t.text()));
    assert!(setup.containers("state").is_empty());
    skiff_testkit::assert_no_mounts_under(setup.dir.path());
}

#[test]
fn onbuild_triggers_user_shell_and_env_reach_the_next_build() {
    require_root();
    let setup = Setup::new();
    let base = format!("BASE={}", setup.base());
    setup.write(
        "parent/Dockerfile",
        "ARG BASE\nFROM $BASE\nONBUILD RUN echo \"triggered as $(id -u)\" > /tmp/trigger.txt\n",
    );
    setup.write(
        "child/Dockerfile",
        "FROM parent:v1\nENV WHO=builder\nSHELL [\"/bin/sh\", \"-e\", \"-c\"]\nUSER nobody\nRUN echo \"$WHO runs as $(id -u) in $PWD\" > /tmp/run.txt\nCMD [\"cat\", \"/tmp/trigger.txt\", \"/tmp/run.txt\"]\n",
    );
    let out = setup
        .ch05(&["build", "-t", "parent:v1", "--build-arg", &base, "parent"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = setup
        .ch05(&["build", "-t", "child", "child"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(text.contains("# Executing 1 build trigger"), "{text}");
    let out = setup.ch05(&["run", "--rm", "child"]).output().unwrap();
    // The trigger ran right after FROM, as root; the RUN as USER nobody,
    // through SHELL, with ENV, in / (no WORKDIR).
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "triggered as 0\nbuilder runs as 65534 in /\n"
    );
    // Triggers are not passed on to the grandchildren.
    let out = setup.ch05(&["inspect", "child"]).output().unwrap();
    let config: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(config[0]["config"]["OnBuild"].is_null(), "{config}");
    assert!(setup.containers("state").is_empty());
}

#[test]
fn run_steps_have_no_network_unless_the_build_asks_for_the_hosts() {
    require_root();
    let setup = Setup::new();
    let base = format!("BASE={}", setup.base());
    // The interfaces a RUN step sees, one a line, loopback left out.
    setup.write(
        "net/Dockerfile",
        "ARG BASE\nFROM $BASE\nRUN ls /sys/class/net | grep -v '^lo$' | wc -l > /interfaces\nCMD [\"cat\", \"/interfaces\"]\n",
    );
    let interfaces = |extra: &[&str]| {
        let mut args = vec!["build", "--no-cache", "-t", "net", "--build-arg", &base];
        args.extend(extra);
        args.push("net");
        let out = setup.ch05(&args).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        let out = setup.ch05(&["run", "--rm", "net"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<usize>()
            .unwrap()
    };
    assert_eq!(interfaces(&[]), 0, "a RUN step saw more than loopback");
    let host = std::fs::read_dir("/sys/class/net").unwrap().count() - 1;
    assert_eq!(interfaces(&["--network", "host"]), host);
    assert!(setup.containers("state").is_empty());
}
