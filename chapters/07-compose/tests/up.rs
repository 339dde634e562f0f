//! `up` in the foreground: containers started in dependency order, their
//! output behind their names, exit codes, restarts, healthchecks.

mod support;

use std::time::Duration;
use support::Setup;

#[test]
fn a_one_shot_service_prints_and_exits() {
    let setup = Setup::new();
    let dir = setup.project(
        "hello",
        "services:\n  hello:\n    image: busybox\n    command: echo hello from compose\n",
    );
    let (output, code) = setup.output(&dir, &["up"]);
    eprintln!("{output}");
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("hello-hello-1  | hello from compose"),
        "{output}"
    );
    assert!(
        output.contains("hello-hello-1 exited with code 0"),
        "{output}"
    );
    let (output, code) = setup.output(&dir, &["down"]);
    eprintln!("{output}");
    assert_eq!(code, 0, "{output}");
    let _ = Duration::ZERO;
}
