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

fn two_stage_context(setup: &Setup, t: &mut Transcript) {
    setup.shell(t, "mkdir -p app/src/docs");
    setup.write_shown(t, "app/Dockerfile", TWO_STAGES);
    setup.shell(t, "printf 'secret.txt\\n**/*.log\\n' > app/.dockerignore");
    setup.shell(t, "echo 'hello from the context' > app/src/hello.txt");
    setup.shell(
        t,
        "echo \"a directory's contents are copied\" > app/src/docs/readme.txt",
    );
    setup.shell(
        t,
        "echo 'left out by .dockerignore' | tee app/src/debug.log > app/secret.txt",
    );
}

#[test]
fn transcript_a_two_stage_build_runs_is_pushed_and_pulled_back_by_digest() {
    require_root();
    let setup = Setup::new();
    let mut t = Transcript::new();
    two_stage_context(&setup, &mut t);
    let app = setup.named("test/app:v1");
    let base = format!("BASE={}", setup.base());

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
    setup.switch_root(&mut t, "fresh");
    let pulled = setup.run(&mut t, "fresh", &["pull", &by_digest]);
    assert_eq!(pulled.code, 0, "{}", pulled.output);
    let ran = setup.run(&mut t, "fresh", &["run", "--rm", &by_digest]);
    assert_eq!(
        ran.output,
        "bonjour from the builder\nhello from the context\n"
    );
    let text = support::scrubbed(t.text());
    settings().bind(|| insta::assert_snapshot!("build_and_push", text));

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
    let mut t = Transcript::new();
    setup.shell(&mut t, "mkdir app");
    setup.write_shown(&mut t, "app/Dockerfile", CACHED);
    setup.shell(
        &mut t,
        "echo 'a, first version' > app/a.txt && echo 'b, first version' > app/b.txt",
    );
    let base = format!("BASE={}", setup.base());
    let build = |t: &mut Transcript, extra: &[&str]| {
        let mut args = vec!["build", "-t", "cached", "--build-arg", &base];
        args.extend(extra);
        args.push("app");
        let out = setup.run(t, "state", &args);
        assert_eq!(out.code, 0, "{}", out.output);
        out.output
    };
    let first = build(&mut t, &[]);
    assert_eq!(first.matches("Using cache").count(), 0);
    t.comment("nothing changed: every step comes from the cache, the same image");
    let second = build(&mut t, &[]);
    assert_eq!(second.matches("Using cache").count(), 5, "{second}");
    assert!(!second.contains("Running in"), "{second}");
    assert_eq!(built_id(&first), built_id(&second));

    t.comment("b.txt changes: the cache holds up to COPY b.txt, not after");
    setup.shell(&mut t, "echo 'b, second version' > app/b.txt");
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
    // `ls -1`: one name a line, as on a terminal (where `ls` fills the width).
    let ran = setup.run(
        &mut t,
        "state",
        &["run", "--rm", "base-only", "ls", "-1", "/"],
    );
    assert!(ran.output.contains("stage.txt") && !ran.output.contains("b.txt"));
    let text = support::scrubbed(t.text());
    settings().bind(|| insta::assert_snapshot!("build_cache", text));

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

/// busybox's web server on a free loopback port, serving the directory
/// `www` of the test's directory (`busybox httpd -f -p 127.0.0.1:PORT -h
/// www`, as the transcript shows it); killed when dropped.
struct Httpd {
    child: std::process::Child,
    port: u16,
    shown: String,
}

impl Httpd {
    fn start(setup: &Setup) -> Httpd {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .expect("a free loopback port");
        let listen = format!("127.0.0.1:{port}");
        let mut command = std::process::Command::new(skiff_testkit::rootfs::BUSYBOX);
        command
            .args(["httpd", "-f", "-p", &listen, "-h", "www"])
            .current_dir(setup.dir.path());
        let shown = format!("busybox httpd -f -p {listen} -h www");
        let child = command.spawn().expect("start busybox httpd");
        let httpd = Httpd { child, port, shown };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "busybox httpd did not listen on {listen}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        httpd
    }
}

impl Drop for Httpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn transcript_add_and_copy_flags() {
    require_root();
    let setup = Setup::new();
    let mut t = Transcript::new();
    t.comment("a file on a web server of our own, for ADD URL");
    setup.shell(
        &mut t,
        "mkdir -p www/files && echo 'fetched over HTTP' > www/files/remote.txt",
    );
    let server = Httpd::start(&setup);
    t.background(&server.shown, "");
    let digest = setup.shell(&mut t, "sha256sum www/files/remote.txt");
    assert!(
        digest
            .output
            .starts_with(ch05_images::digest::sha256_of(b"fetched over HTTP\n").hex()),
        "{}",
        digest.output
    );
    t.comment("a context: a tar, files for a glob, a link out of the context");
    setup.shell(
        &mut t,
        "mkdir -p app/conf app/links tool && echo 'a=1' > app/conf/a.conf && echo 'b=2' > app/conf/b.conf && echo 'not a .conf' > app/conf/notes.txt",
    );
    setup.shell(
        &mut t,
        "printf '#!/bin/sh\\necho run\\n' > tool/run.sh && tar czf app/tool.tar.gz --owner=1000 --group=1000 --numeric-owner --mode=755 tool",
    );
    setup.shell(&mut t, "ln -s ../../../etc/shadow app/links/out");
    setup.write_shown(
        &mut t,
        "app/Dockerfile",
        &format!(
            r#"ARG BASE
FROM $BASE
ADD tool.tar.gz /opt/unpacked/
ADD --checksum={} http://127.0.0.1:{}/files/remote.txt /opt/
COPY --chown=nobody:nogroup --chmod=640 conf/*.conf /etc/app/
COPY links/ /opt/links/
RUN stat -c '%n %u:%g %a' /opt/unpacked/tool/run.sh /opt/remote.txt /etc/app/*.conf && readlink /opt/links/out && ls -1 /etc/app
"#,
            ch05_images::digest::sha256_of(b"fetched over HTTP\n"),
            server.port
        ),
    );

    let base = format!("BASE={}", setup.base());
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
    setup.shell(&mut t, "mkdir tiny");
    setup.write_shown(
        &mut t,
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
    let ran = setup.run(&mut t, "state", &["run", "--rm", "tiny", "ls", "-1", "/"]);
    assert_eq!(ran.output, "bin\ndev\nproc\nsys\n", "{}", ran.output);
    // The learner's web server is the shell's job 1; the test's is dropped.
    t.comment("the web server is no longer needed");
    t.typed("kill %1", "");
    drop(server);
    let text = support::scrubbed(t.text());
    settings().bind(|| insta::assert_snapshot!("build_add", text));
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
        "ARG BASE\nFROM $BASE\nRUN ls /sys/class/net | grep -v '^lo$' > /interfaces; true\nCMD [\"cat\", \"/interfaces\"]\n",
    );
    let interfaces = |extra: &[&str]| {
        let mut args = vec!["build", "--no-cache", "-t", "net", "--build-arg", &base];
        args.extend(extra);
        args.push("net");
        let out = setup.ch05(&args).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        let out = setup.ch05(&["run", "--rm", "net"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        interfaces(&[]),
        Vec::<String>::new(),
        "a RUN step saw more than loopback"
    );
    // The host's own uplink (not a link that parallel tests make and
    // remove, such as veth pairs and bridges) is seen with the host's network.
    let uplink = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|name| {
            name != "lo"
                && std::path::Path::new("/sys/class/net")
                    .join(name)
                    .join("device")
                    .exists()
        })
        .expect("the host has a network device");
    let seen = interfaces(&["--network", "host"]);
    assert!(seen.contains(&uplink), "{uplink} not in {seen:?}");
    assert!(setup.containers("state").is_empty());
}
