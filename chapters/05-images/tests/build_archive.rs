//! A built image moves without a registry: `save` to a tar, `load` into
//! another engine, run there; and skopeo, a client we did not write, reads
//! the tar as a `docker-archive:`.

mod support;

use skiff_testkit::{Transcript, require_root};
use std::process::Command;
use support::{Setup, settings};

#[test]
fn transcript_save_load_and_run_elsewhere() {
    require_root();
    let setup = Setup::new();
    let mut t = Transcript::new();
    setup.shell(&mut t, "mkdir app");
    setup.write_shown(
        &mut t,
        "app/Dockerfile",
        "ARG BASE\nFROM $BASE\nRUN echo \"built here, run elsewhere\" > /motd\nCMD [\"cat\", \"/motd\"]\n",
    );
    let base = format!("BASE={}", setup.base());
    let built = setup.run(
        &mut t,
        "state",
        &["build", "-q", "-t", "app:v1", "--build-arg", &base, "app"],
    );
    assert_eq!(built.code, 0, "{}", built.output);
    let id = built.output.trim().to_string();
    let saved = setup.run(&mut t, "state", &["save", "-o", "app.tar", "app:v1"]);
    assert_eq!(saved.code, 0, "{}", saved.output);
    t.comment("another engine, with an empty root");
    setup.switch_root(&mut t, "fresh");
    let loaded = setup.run(&mut t, "fresh", &["load", "-i", "app.tar"]);
    assert_eq!(loaded.output, "Loaded image: app:v1\n");
    let ran = setup.run(&mut t, "fresh", &["run", "--rm", "app:v1"]);
    assert_eq!(ran.output, "built here, run elsewhere\n");
    setup.run(&mut t, "fresh", &["history", "app:v1"]);
    let text = support::scrubbed(t.text());
    settings().bind(|| insta::assert_snapshot!("build_save_load", text));

    // The same image, digest for digest, on both sides.
    let inspect = |state: &str| -> serde_json::Value {
        let out = setup
            .ch05_in(state, &["inspect", "app:v1"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert_eq!(inspect("state"), inspect("fresh"));

    // skopeo reads our tar as docker's archive, and writes one we load.
    let oci = setup.path("oci");
    let copy = |from: String, to: String| {
        let out = Command::new("skopeo")
            .args(["copy", "--quiet", &from, &to])
            .output()
            .unwrap();
        assert!(out.status.success(), "skopeo copy {from} {to}: {out:?}");
    };
    copy(
        format!("docker-archive:{}", setup.path("app.tar").display()),
        format!("oci:{}:app", oci.display()),
    );
    let out = Command::new("skopeo")
        .args(["inspect", "--config"])
        .arg(format!("oci:{}:app", oci.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let config: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["cat", "/motd"]));
    let back = setup.path("back.tar");
    copy(
        format!("oci:{}:app", oci.display()),
        format!("docker-archive:{}:back:v2", back.display()),
    );
    let out = setup
        .ch05_in("third", &["load", "-i", "back.tar"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = setup
        .ch05_in("third", &["run", "--rm", "back:v2"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "built here, run elsewhere\n"
    );
    assert!(id.starts_with("sha256:"), "{id}");
    for state in ["state", "fresh", "third"] {
        assert!(setup.containers(state).is_empty(), "{state}");
    }
    skiff_testkit::assert_no_mounts_under(setup.dir.path());
}
