//! `--group-add`: supplementary groups for the container's process, with
//! or without `--user`, for `exec` too; a group name is refused with a
//! clear error (skiff asks for the number).

#[path = "support/daemon.rs"]
mod daemon;

use daemon::{TestDaemon, TestImage};

#[test]
fn group_add_gives_the_process_its_groups() {
    let daemon = TestDaemon::start();
    let image = TestImage::push();
    daemon.ok(daemon.docker(&["pull", &image.name]));
    let groups = |extra: &[&str]| {
        let mut args = vec!["run", "--rm", "--network", "none", "--group-add", "1000"];
        args.extend(["--group-add", "1001"]);
        args.extend(extra);
        args.extend([image.name.as_str(), "id", "-G"]);
        daemon.ok(daemon.docker(&args))
    };
    let as_root = groups(&[]);
    let ids: Vec<&str> = as_root.split_whitespace().collect();
    assert_eq!(ids, ["0", "1000", "1001"], "as root: {as_root}");
    let as_user = groups(&["--user", "1234:1234"]);
    let ids: Vec<&str> = as_user.split_whitespace().collect();
    assert_eq!(ids, ["1234", "1000", "1001"], "as 1234: {as_user}");

    // A process that exec starts has them too.
    let id = daemon.ok(daemon.docker(&[
        "run",
        "-d",
        "--network",
        "none",
        "--group-add",
        "2000",
        &image.name,
        "sleep",
        "1000",
    ]));
    let exec = daemon.ok(daemon.docker(&["exec", id.trim(), "id", "-G"]));
    assert_eq!(exec.split_whitespace().collect::<Vec<_>>(), ["0", "2000"]);
    daemon.ok(daemon.docker(&["rm", "-f", id.trim()]));

    let out = daemon
        .docker(&["run", "--rm", "--group-add", "staff", &image.name, "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("give the group's number"), "{said}");
    let all = daemon.ok(daemon.docker(&["ps", "-aq"]));
    assert_eq!(all, "", "containers left: {all}");
}
