//! `--log-driver`: the shim keeps json-file logs, or none at all (`none`),
//! so another driver is refused with a clear error before anything is
//! made, not ignored.

#[path = "support/daemon.rs"]
mod daemon;

use daemon::{TestDaemon, TestImage};

#[test]
fn a_log_driver_other_than_json_file_is_refused() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    daemon.ok(daemon.docker(&["pull", &image.name]));
    let run = |driver: &str| {
        daemon
            .docker(&[
                "run",
                "--rm",
                "--network",
                "none",
                "--log-driver",
                driver,
                &image.name,
                "echo",
                "hi",
            ])
            .output()
            .unwrap()
    };
    let out = run("json-file");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");

    let out = run("syslog");
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("log driver \"syslog\" is not supported"),
        "{said}"
    );

    let out = run("nosuch");
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("logger: no log driver named 'nosuch' is registered"),
        "{said}"
    );
    // Nothing was made.
    let all = daemon.ok(daemon.docker(&["ps", "-aq"]));
    assert_eq!(all, "", "containers left: {all}");
}

#[test]
fn the_none_driver_keeps_no_log_and_attach_still_works() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    daemon.ok(daemon.docker(&["pull", &image.name]));
    let out = daemon.ok(daemon.docker(&[
        "run",
        "--name",
        "quiet",
        "--network",
        "none",
        "--log-driver",
        "none",
        &image.name,
        "echo",
        "hi",
    ]));
    assert_eq!(out, "hi\n", "the attached client gets the output");
    let driver = daemon.ok(daemon.docker(&[
        "inspect",
        "-f",
        "{{.HostConfig.LogConfig.Type}} [{{.LogPath}}]",
        "quiet",
    ]));
    assert_eq!(driver.trim(), "none []");
    let logs = daemon.docker(&["logs", "quiet"]).output().unwrap();
    assert!(!logs.status.success());
    let said = String::from_utf8_lossy(&logs.stderr);
    assert!(
        said.contains("configured logging driver does not support reading"),
        "{said}"
    );
    let id = skiff_testkit::container_id(&daemon.root(), "quiet").expect("a record");
    let dir = daemon.root().join("containers").join(&id);
    assert!(
        !dir.join(format!("{id}-json.log")).exists(),
        "a log was written"
    );
    daemon.ok(daemon.docker(&["rm", "quiet"]));
}
