//! Chapter 1, driven as a learner drives it: `ch01-process run -- ...`.

use skiff_testkit::{Transcript, require_root, snapshot_settings};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ch01-process");

/// `ch01-process ARGS...` with a fixed PATH, so transcripts do not depend on
/// the machine's.
fn ch01(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    command
}

fn run(args: &[&str]) -> std::process::Output {
    ch01(args).output().expect("run ch01-process")
}

#[test]
fn exit_codes_are_relayed_exactly() {
    require_root();
    for code in [0, 1, 2, 3, 42, 100, 125, 254, 255] {
        let out = run(&["run", "--", "sh", "-c", &format!("exit {code}")]);
        assert_eq!(out.status.code(), Some(code), "exit {code}");
    }
    // A few pseudo-random codes too, from the clock, so no fixed list is special.
    let seed = Instant::now().elapsed().subsec_nanos() as u64 ^ std::process::id() as u64;
    for i in 0..5u64 {
        let code = ((seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(i * 1442695040888963407))
            >> 33)
            % 256;
        let out = run(&["run", "--", "sh", "-c", &format!("exit {code}")]);
        assert_eq!(out.status.code(), Some(code as i32), "exit {code}");
    }
}

#[test]
fn death_by_signal_is_128_plus_the_signal() {
    require_root();
    for (signal, code) in [("KILL", 137), ("TERM", 143), ("INT", 130), ("SEGV", 139)] {
        let out = run(&["run", "--", "sh", "-c", &format!("kill -{signal} $$")]);
        assert_eq!(out.status.code(), Some(code), "SIG{signal}");
    }
}

#[test]
fn transcript_exit_codes() {
    require_root();
    let mut t = Transcript::new();
    t.run(&mut ch01(&["run", "--", "sh", "-c", "exit 3"]));
    t.run(&mut ch01(&["run", "--", "sh", "-c", "kill -TERM $$"]));
    t.run(&mut ch01(&["run", "--", "no-such-command"]));
    t.run(&mut ch01(&["run", "--", "/etc/passwd"]));
    t.run(&mut ch01(&["run", "-w", "/no/such/dir", "--", "true"]));
    snapshot_settings().bind(|| insta::assert_snapshot!("exit_codes", t.text()));
}

#[test]
fn missing_and_non_executable_commands() {
    require_root();
    let out = run(&["run", "--", "no-such-command"]);
    assert_eq!(out.status.code(), Some(127));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("executable file not found in $PATH"),
        "{stderr}"
    );

    let out = run(&["run", "--", "/no/such/program"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such file or directory"));

    let out = run(&["run", "--", "/etc/passwd"]);
    assert_eq!(out.status.code(), Some(126));
    assert!(String::from_utf8_lossy(&out.stderr).contains("permission denied"));

    // A file in PATH without the execute bit is 126, not 127 (when no later
    // PATH entry holds an executable of that name, as execvp(3) does).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("skiff-not-executable"),
        "#!/bin/sh\necho hi\n",
    )
    .unwrap();
    let path = format!("{}:/usr/bin:/bin", dir.path().display());
    let out = ch01(&["run", "--", "skiff-not-executable"])
        .env("PATH", path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(126));
}

#[test]
fn bad_usage_is_refused_before_anything_runs() {
    require_root();
    let out = run(&["run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("COMMAND"));
    let out = run(&["run", "--stop-timeout", "soon", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value 'soon'"));
}

#[test]
fn stdin_is_piped_through_and_stderr_stays_separate() {
    require_root();
    let mut t = Transcript::new();
    t.run_piped("qwe\n", &mut ch01(&["run", "--", "cat"]));
    t.run(&mut ch01(&[
        "run",
        "-e",
        "GREETING=hello",
        "-w",
        "/tmp",
        "--",
        "sh",
        "-c",
        "echo $GREETING from $PWD",
    ]));
    snapshot_settings().bind(|| insta::assert_snapshot!("stdio_env_workdir", t.text()));

    let out = run(&[
        "run",
        "--",
        "sh",
        "-c",
        "echo to-stdout; echo to-stderr >&2",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "to-stdout\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "to-stderr\n");
}

#[test]
fn environment_and_working_directory() {
    require_root();
    let out = ch01(&[
        "run",
        "-e",
        "A=1",
        "-e",
        "B=two words",
        "-e",
        "INHERITED",
        "-w",
        "/usr",
        "--",
        "sh",
        "-c",
        "echo \"$A|$B|$INHERITED|$PWD\"",
    ])
    .env("INHERITED", "from-parent")
    .output()
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "1|two words|from-parent|/usr\n"
    );
    // `-e KEY` for a variable we do not have removes it, as docker does.
    let out = ch01(&["run", "-e", "HOME", "--", "sh", "-c", "echo ${HOME-unset}"])
        .env_remove("HOME")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "unset\n");
}

#[test]
fn signals_sent_to_us_reach_the_child() {
    require_root();
    let mut child = Command::new(BIN)
        .args([
            "run",
            "--",
            skiff_testkit::probe().to_str().unwrap(),
            "signals",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    for (signal, expected) in [
        (nix::sys::signal::SIGUSR1, "got SIGUSR1"),
        (nix::sys::signal::SIGHUP, "got SIGHUP"),
        (nix::sys::signal::SIGINT, "got SIGINT"),
        (nix::sys::signal::SIGTERM, "got SIGTERM"),
    ] {
        nix::sys::signal::kill(pid, signal).unwrap();
        assert_eq!(lines.next().unwrap().unwrap(), expected);
    }
    // The probe exits 0 after SIGTERM: the status relayed is the child's.
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn orphans_are_adopted_reaped_and_waited_for() {
    require_root();
    // The shell starts `sleep 1` in the background and exits at once. The
    // sleep is orphaned, re-parented to ch01-process (the subreaper), which
    // must wait for it and reap it.
    // On a terminal, as a learner types it: `--explain` then also shows the
    // terminal handed to the child's process group and taken back.
    let started = Instant::now();
    let mut t = Transcript::new();
    let outcome = t.run_in_terminal(&mut ch01(&[
        "--explain",
        "run",
        "--",
        "sh",
        "-c",
        "sleep 1 & echo the parent exits; exit 0",
    ]));
    assert_eq!(outcome.code, 0);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "ch01-process did not wait for the orphan"
    );
    snapshot_settings().bind(|| insta::assert_snapshot!("orphans", t.text()));
}

#[test]
fn no_zombie_is_left_while_orphans_run() {
    require_root();
    // `true &` ends at once and becomes a zombie unless someone reaps it;
    // `sleep 2 &` keeps the tree alive meanwhile.
    let mut child = ch01(&["run", "--", "sh", "-c", "true & true & sleep 2 & exit 0"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let children =
        std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", child.id())).unwrap();
    let mut states = Vec::new();
    for pid in children.split_whitespace() {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The state is the field after the parenthesised command name.
        if let Some(state) = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next())
        {
            states.push(state);
        }
    }
    assert!(
        !states.contains(&'Z'),
        "zombies among {children}: {states:?}"
    );
    assert_eq!(states.len(), 1, "only the sleep should be left: {children}");
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn stop_timeout_escalates_to_sigkill() {
    require_root();
    // The child ignores SIGTERM: after the timeout it is killed, 128 + 9.
    let mut child = ch01(&[
        "--explain",
        "run",
        "--stop-timeout",
        "1",
        "--",
        "sh",
        "-c",
        "trap '' TERM; echo ready; while true; do sleep 0.1; done",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    let sent = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::SIGTERM,
    )
    .unwrap();
    let output = child.wait_with_output().unwrap();
    let waited = sent.elapsed();
    assert_eq!(output.status.code(), Some(137));
    assert!(
        waited >= Duration::from_millis(900),
        "killed too early: {waited:?}"
    );
    assert!(waited < Duration::from_secs(10), "not killed: {waited:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("stop timeout of 1s expired: sending SIGKILL"),
        "{stderr}"
    );

    // A child that honours SIGTERM ends at once, with 143.
    let mut child = ch01(&[
        "run",
        "--stop-timeout",
        "5",
        "--",
        "sh",
        "-c",
        "echo ready; exec sleep 30",
    ])
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    let sent = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(143));
    assert!(sent.elapsed() < Duration::from_secs(4));
}

#[test]
fn explain_narrates_each_step() {
    require_root();
    // On a terminal, as a learner types it: the child's process group gets
    // the terminal while it runs (`tcsetpgrp`), and we take it back.
    let mut t = Transcript::new();
    t.run_in_terminal(&mut ch01(&[
        "--explain",
        "run",
        "--",
        "sh",
        "-c",
        "echo hello from the child; exit 3",
    ]));
    snapshot_settings().bind(|| insta::assert_snapshot!("explain", t.text()));
}

#[test]
fn sigpipe_is_restored_for_the_child() {
    require_root();
    // With SIGPIPE left ignored (as the Rust runtime sets it), `yes` would
    // spin on EPIPE forever; with the default restored it dies at once.
    let out = run(&["run", "--", "sh", "-c", "yes | head -n 1"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "y\n");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn only_stdio_reaches_the_child() {
    require_root();
    let out = run(&["run", "--", skiff_testkit::probe().to_str().unwrap(), "fds"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "fds: 0 1 2\n");
}

#[test]
fn user_flag_runs_the_command_as_that_user() {
    require_root();
    let out = run(&[
        "run",
        "--user",
        "65534:65534",
        "--",
        "sh",
        "-c",
        "id -u; id -g",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "65534\n65534\n");
    let out = run(&["run", "--user", "no-such-user-here", "--", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user \"no-such-user-here\""));
}
