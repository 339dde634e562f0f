//! skiff-runc and Debian's runc, side by side: the same bundle, the same
//! commands, and the same answers where the runtime specification or
//! runc define them: the exit code of each command, and the state JSON's
//! keys and status after it.

mod support;

use serde_json::Value;
use std::collections::BTreeSet;
use support::{Bundle, Runtime, runc, skiff_runc};

/// What a runtime answered to one step: the command's exit code, then the
/// state's status (or "-" when `state` failed) and its keys, and whether
/// its pid names a live process.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    step: String,
    code: i32,
    status: String,
    keys: BTreeSet<String>,
    live_pid: bool,
}

fn answer(rt: &Runtime, step: &str, code: i32, id: &str) -> Answer {
    let state = rt.state(id);
    let (status, keys, live_pid) = match &state {
        None => ("-".to_string(), BTreeSet::new(), false),
        Some(state) => (
            state["status"].as_str().unwrap_or("?").to_string(),
            state.as_object().unwrap().keys().cloned().collect(),
            state["pid"].as_i64().is_some_and(|pid| {
                pid > 0 && std::path::Path::new(&format!("/proc/{pid}")).exists()
            }),
        ),
    };
    Answer {
        step: step.to_string(),
        code,
        status,
        keys,
        live_pid,
    }
}

/// The lifecycle, step by step, with the answer after each.
fn lifecycle(rt: &Runtime, bundle: &Bundle, id: &str) -> Vec<Answer> {
    let dir = bundle.write().to_str().unwrap().to_string();
    let mut answers = Vec::new();
    let step = |name: &str, args: &[&str], detached: bool| {
        let code = if detached {
            rt.run_detached(args).1
        } else {
            rt.run(args).2
        };
        answer(rt, name, code, id)
    };
    answers.push(step("state of an unknown container", &["state", id], false));
    answers.push(step("create", &["create", "--bundle", &dir, id], true));
    answers.push(step(
        "create again",
        &["create", "--bundle", &dir, id],
        true,
    ));
    answers.push(step("kill 0 (is it there?)", &["kill", id, "0"], false));
    answers.push(step("start", &["start", id], false));
    answers.push(step("start again", &["start", id], false));
    answers.push(step("delete while running", &["delete", id], false));
    answers.push(step("pause", &["pause", id], false));
    answers.push(step("pause again", &["pause", id], false));
    answers.push(step("resume", &["resume", id], false));
    answers.push(step("resume again", &["resume", id], false));
    // The process ends a little after the signal: the answer is read once
    // the state says so.
    let code = rt.run(&["kill", id, "KILL"]).2;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while rt.state(id).is_some_and(|s| s["status"] != "stopped") {
        assert!(std::time::Instant::now() < deadline, "{id} did not stop");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut killed = step("kill KILL", &["state", id], false);
    killed.code = code;
    answers.push(killed);
    answers.push(step(
        "kill a stopped container",
        &["kill", id, "KILL"],
        false,
    ));
    answers.push(step("start a stopped container", &["start", id], false));
    answers.push(step("delete", &["delete", id], false));
    answers.push(step("delete again", &["delete", id], false));
    answers.push(step(
        "delete --force of nothing",
        &["delete", "--force", id],
        false,
    ));
    answers
}

#[test]
fn skiff_runc_answers_as_runc_does() {
    let skiff = Runtime::new(skiff_runc(), "cmp-skiff");
    let runc = Runtime::new(runc(), "cmp-runc");
    let ours = lifecycle(
        &skiff,
        &Bundle::new(&["sleep", "300"], &skiff.cgroup_parent, "cmp"),
        "cmp",
    );
    let theirs = lifecycle(
        &runc,
        &Bundle::new(&["sleep", "300"], &runc.cgroup_parent, "cmp"),
        "cmp",
    );
    for (ours, theirs) in ours.iter().zip(&theirs) {
        assert_eq!(
            ours, theirs,
            "skiff-runc (left) and runc (right) differ at {:?}",
            ours.step
        );
    }
    assert_eq!(ours.len(), theirs.len());
}

/// The state's values, not only its keys, side by side.
#[test]
fn the_state_json_has_runcs_values() {
    let skiff = Runtime::new(skiff_runc(), "state-skiff");
    let runc = Runtime::new(runc(), "state-runc");
    let mut states = Vec::new();
    for rt in [&skiff, &runc] {
        let mut bundle = Bundle::new(&["sleep", "300"], &rt.cgroup_parent, "st");
        bundle.config["annotations"] = serde_json::json!({"org.example/a": "b"});
        let dir = bundle.write().to_str().unwrap().to_string();
        assert_eq!(rt.run_detached(&["create", "--bundle", &dir, "st"]).1, 0);
        let state = rt.state("st").unwrap();
        let (listed, _, code) = rt.run(&["list", "--format", "json"]);
        assert_eq!(code, 0);
        let listed: Value = serde_json::from_str(&listed).unwrap();
        assert_eq!(listed[0]["id"], "st");
        assert_eq!(listed[0]["status"], "created");
        assert_eq!(rt.run(&["delete", "--force", "st"]).2, 0);
        states.push((state, dir, bundle));
    }
    let (ours, our_dir, _) = &states[0];
    let (theirs, their_dir, _) = &states[1];
    for (state, dir) in [(ours, our_dir), (theirs, their_dir)] {
        assert_eq!(state["id"], "st");
        assert_eq!(state["status"], "created");
        assert_eq!(state["bundle"], dir.as_str());
        assert_eq!(state["rootfs"], format!("{dir}/rootfs").as_str());
        assert_eq!(state["annotations"]["org.example/a"], "b");
        assert_eq!(state["owner"], "");
        let created = state["created"].as_str().unwrap();
        assert!(created.ends_with('Z') && created.contains('T'), "{created}");
    }
}
