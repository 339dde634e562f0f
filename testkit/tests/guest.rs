//! The cgroup2 guest harness boots and runs a test: this test binary runs
//! itself in the guest, where `guest_side_reports_cgroup2` checks the
//! unified hierarchy.

use std::time::Duration;

use skiff_testkit::guest::{in_guest, run_in_cgroup2_guest};

#[test]
fn cgroup2_guest_boots_and_runs_a_test() {
    if in_guest() {
        // This side only drives the guest; in the guest it would recurse.
        return;
    }
    let exe = std::env::current_exe().expect("current_exe");
    let result = run_in_cgroup2_guest(
        &exe,
        &["--exact", "guest_side_reports_cgroup2", "--nocapture"],
        Duration::from_secs(120),
    );
    assert_eq!(
        result.code, 0,
        "the guest-side test failed:\n{}",
        result.output
    );
    assert!(result.output.contains("memory"), "{}", result.output);
    assert!(result.output.contains("1 passed"), "{}", result.output);
}

/// Meaningful only inside the guest: there cgroup2 is mounted alone on
/// /sys/fs/cgroup with its controllers.
#[test]
fn guest_side_reports_cgroup2() {
    if !in_guest() {
        return;
    }
    let controllers = std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
        .expect("/sys/fs/cgroup/cgroup.controllers: cgroup2 is not mounted in the guest");
    println!("cgroup.controllers: {}", controllers.trim());
    assert!(
        controllers.split_whitespace().any(|c| c == "memory"),
        "no memory controller in {controllers:?}"
    );
}

#[test]
fn cgroup2_guest_is_killed_on_timeout() {
    if in_guest() {
        return;
    }
    let exe = std::env::current_exe().expect("current_exe");
    let panic = std::panic::catch_unwind(|| {
        run_in_cgroup2_guest(
            &exe,
            &["--exact", "guest_side_hangs", "--nocapture"],
            Duration::from_secs(15),
        )
    })
    .expect_err("a guest that hangs must fail the test");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("did not finish within 15s"), "{message}");
    // The output streams: what the binary printed before it hung is there.
    assert!(message.contains("guest_side_hangs: sleeping"), "{message}");
}

/// Meaningful only inside the guest, run by name: hangs, so that the
/// harness times out. `scripts/cgroup2-suite` also runs this binary in a
/// guest, whole: there nothing asks for this test by name, and it returns.
#[test]
fn guest_side_hangs() {
    let asked_for = std::env::args().any(|arg| arg == "guest_side_hangs");
    if !in_guest() || !asked_for {
        return;
    }
    println!("guest_side_hangs: sleeping");
    std::thread::sleep(Duration::from_secs(3600));
}
