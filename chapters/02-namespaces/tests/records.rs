//! Container records, as several commands see them at once.

use skiff_testkit::{Rootfs, output, require_root};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ch02-namespaces");

fn ch02(rootfs: &Rootfs, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .current_dir(rootfs.workdir())
        .env("SKIFF_ROOT", rootfs.workdir().join("state"));
    command
}

#[test]
fn eight_runs_racing_for_one_name_give_it_to_exactly_one() {
    require_root();
    let rootfs = Rootfs::busybox();
    let (_, stderr, code) = output(ch02(
        &rootfs,
        &["run", "--name", "web", "--rootfs", "rootfs", "--", "true"],
    ));
    assert_eq!(code, 0, "{stderr}");
    // Started together, not one after another.
    let children: Vec<_> = (0..8)
        .map(|_| {
            ch02(
                &rootfs,
                &["run", "--name", "race", "--rootfs", "rootfs", "--", "true"],
            )
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let outcomes: Vec<_> = children
        .into_iter()
        .map(|child| child.wait_with_output().unwrap())
        .collect();
    let won = outcomes.iter().filter(|o| o.status.success()).count();
    assert_eq!(won, 1, "{outcomes:?}");
    for lost in outcomes.iter().filter(|o| !o.status.success()) {
        let stderr = String::from_utf8_lossy(&lost.stderr);
        assert!(
            stderr.contains("the name \"race\" is already in use"),
            "{stderr}"
        );
    }
    let (ps, _, _) = output(ch02(&rootfs, &["ps", "-a", "-q"]));
    assert_eq!(ps.lines().count(), 2, "web and race: {ps}");
}

#[test]
fn a_reused_pid_is_not_mistaken_for_a_live_supervisor() {
    require_root();
    let rootfs = Rootfs::busybox();
    let (_, stderr, code) = output(ch02(
        &rootfs,
        &["run", "--name", "ghost", "--rootfs", "rootfs", "--", "true"],
    ));
    assert_eq!(code, 0, "{stderr}");
    // Rewrite the record as if the container ran, supervised by a process
    // whose pid is now ours (alive), but that started at another time.
    let state = rootfs.workdir().join("state");
    let id = skiff_testkit::container_id(&state, "ghost").unwrap();
    let path = state.join("containers").join(&id).join("record.json");
    let mut record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let me = std::process::id();
    record["state"] = serde_json::json!({
        "status": "running",
        "supervisor": {"pid": me, "start_time": 1},
        "pid": {"pid": me, "start_time": 1},
    });
    std::fs::write(&path, serde_json::to_vec(&record).unwrap()).unwrap();
    // A half-written record from a crash is not a container.
    std::fs::write(path.with_extension("json.partial"), "{\"spec\":").unwrap();

    let (ps, stderr, code) = output(ch02(&rootfs, &["ps", "-a"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(ps.contains("Exited (137)"), "{ps}");
    assert_eq!(ps.lines().count(), 2, "{ps}");
    let (_, stderr, code) = output(ch02(&rootfs, &["exec", "ghost", "true"]));
    assert_eq!(code, 125);
    assert!(
        stderr.contains("container ghost is not running"),
        "{stderr}"
    );
    let (_, stderr, code) = output(ch02(&rootfs, &["rm", "ghost"]));
    assert_eq!(code, 0, "{stderr}");
}
