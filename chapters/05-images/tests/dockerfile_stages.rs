//! What a stage's instructions do to the image config, and which stages
//! a build runs.

use ch05_images::dockerfile::{
    self, Base, BuildOptions, Dockerfile, ErrorKind, Position, StageState, Step,
};
use ch05_images::image::{HealthConfig, ImageConfig};
use std::collections::BTreeMap;

fn parse(text: &str) -> Dockerfile {
    dockerfile::parse("Dockerfile", text).unwrap_or_else(|e| panic!("{e}"))
}

fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Runs every instruction of the last stage on `base` and returns the
/// state and the steps that are not config-only.
fn build_on(text: &str, base: ImageConfig, build_args: &[(&str, &str)]) -> (StageState, Vec<Step>) {
    let file = parse(text);
    let build_args = args(build_args);
    let globals = file.global_values(&build_args).unwrap();
    let stage = file.stages.last().unwrap();
    let mut state = StageState::new(
        &file.file,
        file.directives.escape,
        base,
        &build_args,
        &globals,
    );
    let mut steps = Vec::new();
    for instruction in &stage.instructions {
        match state.apply(instruction).unwrap_or_else(|e| panic!("{e}")) {
            Step::Config => {}
            step => steps.push(step),
        }
    }
    (state, steps)
}

fn build(text: &str) -> StageState {
    build_on(text, ImageConfig::default(), &[]).0
}

fn apply_error(text: &str) -> (Position, ErrorKind) {
    let file = parse(text);
    let mut state = StageState::new(
        "Dockerfile",
        '\\',
        ImageConfig::default(),
        &BTreeMap::new(),
        &BTreeMap::new(),
    );
    for instruction in &file.stages[0].instructions {
        if let Err(e) = state.apply(instruction) {
            return (e.position.unwrap(), e.kind);
        }
    }
    panic!("no error in {text:?}");
}

fn env(state: &StageState) -> Vec<String> {
    state.config.config.env.clone().unwrap_or_default()
}

fn created_by(state: &StageState) -> Vec<String> {
    state
        .config
        .history
        .iter()
        .map(|h| h.created_by.clone().unwrap())
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// ----- ENV and ARG -----

#[test]
fn env_values_see_the_variables_from_before_the_instruction() {
    let state = build("FROM x\nENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc");
    assert_eq!(env(&state), ["abc=bye", "def=hello", "ghi=bye"]);
}

#[test]
fn env_replaces_a_base_image_variable_in_place() {
    let mut base = ImageConfig::default();
    base.config.env = Some(strings(&["PATH=/usr/bin", "HOME=/root"]));
    let (state, _) = build_on("FROM x\nENV PATH=/opt/bin:$PATH LANG=C.UTF-8", base, &[]);
    assert_eq!(
        env(&state),
        ["PATH=/opt/bin:/usr/bin", "HOME=/root", "LANG=C.UTF-8"]
    );
}

#[test]
fn env_quotes_and_escapes_are_removed() {
    let state =
        build("FROM x\nENV MY_NAME=\"John Doe\" MY_DOG=Rex\\ The\\ Dog\nENV OLD  some  value ");
    assert_eq!(
        env(&state),
        ["MY_NAME=John Doe", "MY_DOG=Rex The Dog", "OLD=some  value"]
    );
}

#[test]
fn a_global_arg_is_visible_in_a_stage_only_when_declared_again() {
    let text =
        "ARG VERSION=1.0\nFROM x\nENV BEFORE=${VERSION:-unset}\nARG VERSION\nENV AFTER=$VERSION";
    assert_eq!(env(&build(text)), ["BEFORE=unset", "AFTER=1.0"]);
    let (state, _) = build_on(text, ImageConfig::default(), &[("VERSION", "2.0")]);
    assert_eq!(env(&state), ["BEFORE=unset", "AFTER=2.0"]);
}

#[test]
fn an_arg_takes_the_build_arg_then_its_default() {
    let text = "FROM x\nARG A=default B\nENV A=$A B=${B-unset}";
    assert_eq!(env(&build(text)), ["A=default", "B=unset"]);
    let (state, _) = build_on(text, ImageConfig::default(), &[("A", "given"), ("B", "")]);
    assert_eq!(env(&state), ["A=given", "B="]);
}

#[test]
fn an_arg_is_in_effect_from_its_line_on() {
    let (state, _) = build_on(
        "FROM x\nUSER ${username:-some_user}\nARG username\nLABEL u=$username",
        ImageConfig::default(),
        &[("username", "what_user")],
    );
    assert_eq!(state.config.config.user.as_deref(), Some("some_user"));
    assert_eq!(state.config.config.labels.unwrap()["u"], "what_user");
}

#[test]
fn env_wins_over_an_arg_of_the_same_name() {
    let text = "FROM x\nARG V\nENV V=v1.0.0\nLABEL v=$V\nRUN echo $V";
    let (state, steps) = build_on(text, ImageConfig::default(), &[("V", "v2.0.1")]);
    assert_eq!(state.config.config.labels.unwrap()["v"], "v1.0.0");
    let Step::Run {
        env, created_by, ..
    } = &steps[0]
    else {
        panic!()
    };
    assert_eq!(env, &strings(&["V=v1.0.0"]));
    assert_eq!(created_by, "/bin/sh -c echo $V");
}

#[test]
fn run_sees_args_in_its_environment_and_history() {
    let text = "FROM x\nENV PATH=/bin\nARG B=2 A=1\nRUN make";
    let (_, steps) = build_on(
        text,
        ImageConfig::default(),
        &[("http_proxy", "http://proxy:3128")],
    );
    let Step::Run {
        argv,
        env,
        created_by,
        ..
    } = &steps[0]
    else {
        panic!()
    };
    assert_eq!(argv, &strings(&["/bin/sh", "-c", "make"]));
    assert_eq!(
        env,
        &strings(&["PATH=/bin", "A=1", "B=2", "http_proxy=http://proxy:3128"])
    );
    // The proxy is in the environment but not in the history.
    assert_eq!(created_by, "|2 A=1 B=2 /bin/sh -c make");
}

#[test]
fn an_arg_declared_without_value_is_unset() {
    let (_, steps) = build_on("FROM x\nARG NOTHING\nRUN true", ImageConfig::default(), &[]);
    let Step::Run {
        env, created_by, ..
    } = &steps[0]
    else {
        panic!()
    };
    assert!(env.is_empty());
    assert_eq!(created_by, "/bin/sh -c true");
}

// ----- config instructions -----

#[test]
fn workdir_chains_relative_paths() {
    let (state, steps) = build_on(
        "FROM x\nWORKDIR /a\nWORKDIR b\nWORKDIR c/../d\nENV D=/x\nWORKDIR $D/y",
        ImageConfig::default(),
        &[],
    );
    let paths: Vec<&str> = steps
        .iter()
        .map(|s| match s {
            Step::Workdir { path, .. } => path.as_str(),
            _ => panic!(),
        })
        .collect();
    assert_eq!(paths, ["/a", "/a/b", "/a/b/d", "/x/y"]);
    assert_eq!(state.config.config.working_dir.as_deref(), Some("/x/y"));
    assert_eq!(
        build("FROM x\nWORKDIR rel")
            .config
            .config
            .working_dir
            .as_deref(),
        Some("/rel")
    );
}

#[test]
fn entrypoint_resets_an_inherited_cmd() {
    let mut base = ImageConfig::default();
    base.config.cmd = Some(strings(&["sh"]));
    let (state, _) = build_on("FROM x\nENTRYPOINT [\"/app\"]", base.clone(), &[]);
    assert_eq!(state.config.config.cmd, None);
    assert_eq!(state.config.config.entrypoint, Some(strings(&["/app"])));
    // A CMD of the stage's own survives a later ENTRYPOINT.
    let (state, _) = build_on(
        "FROM x\nCMD [\"--help\"]\nENTRYPOINT [\"/app\"]",
        base.clone(),
        &[],
    );
    assert_eq!(state.config.config.cmd, Some(strings(&["--help"])));
    let (state, _) = build_on("FROM x\nENTRYPOINT [\"/app\"]\nCMD [\"serve\"]", base, &[]);
    assert_eq!(state.config.config.cmd, Some(strings(&["serve"])));
}

// ANCHOR: entrypoint_cmd_table
/// Docker's table of ENTRYPOINT and CMD ("Understand how CMD and ENTRYPOINT
/// interact"): each cell is the command a container of the image runs.
#[test]
fn entrypoint_and_cmd_combine_as_docker_s_table_says() {
    let entrypoints = [
        "",
        "ENTRYPOINT exec_entry p1_entry",
        "ENTRYPOINT [\"exec_entry\", \"p1_entry\"]",
    ];
    let cmds = ["", "CMD [\"exec_cmd\", \"p1_cmd\"]", "CMD exec_cmd p1_cmd"];
    let mut table = String::new();
    for cmd in cmds {
        let row: Vec<String> = entrypoints
            .iter()
            .map(|entrypoint| {
                let text = format!("FROM x\n{entrypoint}\n{cmd}");
                let state = build(&text);
                let argv = ch05_images::image::command(&state.config.config, &[]);
                format!("{argv:?}")
            })
            .collect();
        table += &format!("{}\n", row.join(" | "));
    }
    assert_eq!(
        table,
        r#"[] | ["/bin/sh", "-c", "exec_entry p1_entry"] | ["exec_entry", "p1_entry"]
["exec_cmd", "p1_cmd"] | ["/bin/sh", "-c", "exec_entry p1_entry", "exec_cmd", "p1_cmd"] | ["exec_entry", "p1_entry", "exec_cmd", "p1_cmd"]
["/bin/sh", "-c", "exec_cmd p1_cmd"] | ["/bin/sh", "-c", "exec_entry p1_entry", "/bin/sh", "-c", "exec_cmd p1_cmd"] | ["exec_entry", "p1_entry", "/bin/sh", "-c", "exec_cmd p1_cmd"]
"#
    );
}
// ANCHOR_END: entrypoint_cmd_table

#[test]
fn shell_forms_use_the_stage_shell() {
    let state = build("FROM x\nCMD echo hi\nSHELL [\"/bin/bash\", \"-c\"]\nENTRYPOINT exec app");
    assert_eq!(
        state.config.config.entrypoint,
        Some(strings(&["/bin/bash", "-c", "exec app"]))
    );
    assert_eq!(
        state.config.config.cmd,
        Some(strings(&["/bin/sh", "-c", "echo hi"]))
    );
    assert_eq!(
        state.config.config.shell,
        Some(strings(&["/bin/bash", "-c"]))
    );
}

#[test]
fn labels_merge_with_the_base_image_labels() {
    let mut base = ImageConfig::default();
    base.config.labels =
        Some([("a".to_string(), "1".to_string()), ("b".into(), "1".into())].into());
    let (state, _) = build_on("FROM x\nLABEL b=2 \"c d\"=\"e f\"", base, &[]);
    let labels = state.config.config.labels.unwrap();
    assert_eq!(
        labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>(),
        ["a=1", "b=2", "c d=e f"]
    );
}

#[test]
fn expose_records_each_port_with_its_protocol() {
    let (state, _) = build_on(
        "FROM x\nARG P=53\nEXPOSE 80 $P/udp 8000-8002/TCP\nEXPOSE 80/tcp",
        ImageConfig::default(),
        &[],
    );
    let ports: Vec<String> = state
        .config
        .config
        .exposed_ports
        .unwrap()
        .into_keys()
        .collect();
    assert_eq!(
        ports,
        ["53/udp", "80/tcp", "8000/tcp", "8001/tcp", "8002/tcp"]
    );
    let (state, _) = build_on(
        "FROM x\nARG PORTS=\"80 443\"\nEXPOSE $PORTS",
        ImageConfig::default(),
        &[],
    );
    assert_eq!(state.config.config.exposed_ports.unwrap().len(), 2);
}

#[test]
fn bad_ports_signals_and_empty_values_fail_at_their_instruction() {
    for port in ["http", "80/icmp", "0", "90-80", "70000", "1.2.3.4:80:80"] {
        let (at, kind) = apply_error(&format!("FROM x\nEXPOSE {port}"));
        assert_eq!(at, Position::new(2, 8));
        assert_eq!(kind, ErrorKind::BadPort { value: port.into() });
    }
    assert_eq!(
        apply_error("FROM x\nSTOPSIGNAL SIGNOPE").1,
        ErrorKind::BadSignal {
            value: "SIGNOPE".into()
        }
    );
    assert_eq!(
        apply_error("FROM x\nUSER $NOBODY").1,
        ErrorKind::EmptyValue {
            instruction: "USER"
        }
    );
    assert_eq!(
        apply_error("FROM x\nVOLUME [\"\"]").1,
        ErrorKind::EmptyValue {
            instruction: "VOLUME"
        }
    );
    // The value is quoted: LABEL splits its pairs at blanks outside quotes.
    let (at, kind) = apply_error("FROM x\nLABEL a=\"${NEEDED:?set NEEDED}\"");
    assert_eq!(at, Position::new(2, 10));
    assert_eq!(
        kind,
        ErrorKind::Substitution {
            reason: "NEEDED: set NEEDED".into()
        }
    );
}

#[test]
fn stop_signals_docker_accepts() {
    for signal in ["SIGTERM", "term", "9", "SIGRTMIN+3", "RTMAX-1", "SIGWINCH"] {
        assert!(dockerfile::values::valid_signal(signal), "{signal}");
    }
    for signal in ["0", "65", "SIGRTMIN+16", "TERMINATE", ""] {
        assert!(!dockerfile::values::valid_signal(signal), "{signal}");
    }
}

#[test]
fn volumes_user_stopsignal_maintainer_onbuild() {
    let state = build(
        "FROM x\nVOLUME /data [\"/logs\"]\nVOLUME [\"/cache\"]\nUSER 1000:1000\nSTOPSIGNAL SIGQUIT\nMAINTAINER me\nONBUILD RUN make",
    );
    let volumes: Vec<String> = state
        .config
        .config
        .volumes
        .clone()
        .unwrap()
        .into_keys()
        .collect();
    // Not JSON after a plain path: the word is `["/logs"]`, quotes removed.
    assert_eq!(volumes, ["/cache", "/data", "[/logs]"]);
    assert_eq!(state.config.config.user.as_deref(), Some("1000:1000"));
    assert_eq!(state.config.config.stop_signal.as_deref(), Some("SIGQUIT"));
    assert_eq!(state.config.author.as_deref(), Some("me"));
    assert_eq!(state.config.config.on_build, Some(strings(&["RUN make"])));
}

#[test]
fn healthcheck_goes_into_the_config_as_docker_writes_it() {
    let state = build(
        "FROM x\nHEALTHCHECK --interval=5m --timeout=3s CMD curl -f http://localhost/ || exit 1",
    );
    assert_eq!(
        state.config.config.healthcheck,
        Some(HealthConfig {
            test: strings(&["CMD-SHELL", "curl -f http://localhost/ || exit 1"]),
            interval: 300_000_000_000,
            timeout: 3_000_000_000,
            ..HealthConfig::default()
        })
    );
    let json = serde_json::to_value(&state.config.config.healthcheck).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"Test": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"], "Interval": 300_000_000_000_i64, "Timeout": 3_000_000_000_i64})
    );
    let state = build("FROM x\nHEALTHCHECK CMD [\"/check\", \"-q\"]\nHEALTHCHECK NONE");
    assert_eq!(state.config.config.healthcheck.unwrap().test, ["NONE"]);
}

#[test]
fn config_steps_leave_docker_style_history() {
    let state = build(concat!(
        "FROM x\nENV A=1 B=\"two words\"\nLABEL k=v\nARG V=1 W\nEXPOSE 80\nVOLUME /data /logs\n",
        "USER app\nSTOPSIGNAL SIGINT\nCMD [\"sh\", \"-c\", \"echo \\\"hi\\\"\"]\nENTRYPOINT [\"/init\"]\n",
        "HEALTHCHECK --interval=1m30s --retries=3 CMD true\nONBUILD RUN make\nMAINTAINER me\nSHELL [\"/bin/bash\", \"-c\"]\nENV C=3"
    ));
    assert_eq!(
        created_by(&state),
        [
            "/bin/sh -c #(nop)  ENV A=1 B=two words",
            "/bin/sh -c #(nop)  LABEL k=v",
            "/bin/sh -c #(nop)  ARG V=1 W",
            "/bin/sh -c #(nop)  EXPOSE 80",
            "/bin/sh -c #(nop)  VOLUME [/data /logs]",
            "/bin/sh -c #(nop)  USER app",
            "/bin/sh -c #(nop)  STOPSIGNAL SIGINT",
            r#"/bin/sh -c #(nop)  CMD ["sh" "-c" "echo \"hi\""]"#,
            r#"/bin/sh -c #(nop)  ENTRYPOINT ["/init"]"#,
            r#"/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "true"] "1m30s" "0s" "0s" "0s" '\x03'}"#,
            "/bin/sh -c #(nop)  ONBUILD RUN make",
            "/bin/sh -c #(nop)  MAINTAINER me",
            "/bin/sh -c #(nop)  SHELL [/bin/bash -c]",
            "/bin/bash -c #(nop)  ENV C=3",
        ]
    );
    assert!(
        state
            .config
            .history
            .iter()
            .all(|h| h.empty_layer && h.created.is_some())
    );
}

#[test]
fn copy_steps_come_back_substituted_with_workdir_applied() {
    let text = "FROM x\nWORKDIR /app\nARG SRC=src STAGE=build\nCOPY --from=$STAGE --chown=app --chmod=644 $SRC/*.rs lib/\nADD a.tar .\nCOPY b /abs\nCOPY c d";
    let (_, steps) = build_on(text, ImageConfig::default(), &[]);
    type Copied = (bool, Vec<String>, String, Option<String>, Option<u32>);
    let copies: Vec<Copied> = steps
        .into_iter()
        .filter_map(|s| match s {
            Step::Copy {
                add,
                sources,
                dest,
                from,
                chmod,
                ..
            } => Some((add, sources, dest, from, chmod)),
            _ => None,
        })
        .collect();
    assert_eq!(
        copies,
        [
            (
                false,
                strings(&["src/*.rs"]),
                "/app/lib/".into(),
                Some("build".into()),
                Some(0o644)
            ),
            (true, strings(&["a.tar"]), "/app/".into(), None, None),
            (false, strings(&["b"]), "/abs".into(), None, None),
            (false, strings(&["c"]), "/app/d".into(), None, None),
        ]
    );
    assert!(matches!(
        apply_error("FROM x\nCOPY --chmod=u+x a b").1,
        ErrorKind::BadFlagValue { .. }
    ));
}

#[test]
fn onbuild_triggers_of_the_base_run_first_and_are_not_inherited() {
    let mut base = ImageConfig::default();
    base.config.on_build = Some(strings(&["ENV FROM_TRIGGER=1", "COPY . /src"]));
    let file = parse("FROM base\nENV A=1");
    let mut state = StageState::new("Dockerfile", '\\', base, &BTreeMap::new(), &BTreeMap::new());
    assert_eq!(
        state.config.config.on_build, None,
        "triggers are not passed on"
    );
    let triggers = state.take_triggers(file.stages[0].position).unwrap();
    assert_eq!(
        triggers.iter().map(|t| t.keyword).collect::<Vec<_>>(),
        ["ENV", "COPY"]
    );
    state.apply(&triggers[0]).unwrap();
    assert_eq!(env(&state), ["FROM_TRIGGER=1"]);
    assert!(state.take_triggers(Position::new(1, 1)).unwrap().is_empty());
}

#[test]
fn a_stage_built_from_a_stage_inherits_its_args_and_config() {
    let file = parse(
        "FROM x AS base\nARG V=1\nENV E=2\nCMD [\"a\"]\nFROM base\nENTRYPOINT [\"/b\"]\nRUN echo",
    );
    let mut parent = StageState::new(
        "Dockerfile",
        '\\',
        ImageConfig::default(),
        &BTreeMap::new(),
        &BTreeMap::new(),
    );
    for instruction in &file.stages[0].instructions {
        parent.apply(instruction).unwrap();
    }
    let mut child = StageState::inherit(&parent);
    child.apply(&file.stages[1].instructions[0]).unwrap();
    assert_eq!(
        child.config.config.cmd, None,
        "the parent's CMD is the child's inherited CMD"
    );
    let Step::Run {
        env, created_by, ..
    } = child.apply(&file.stages[1].instructions[1]).unwrap()
    else {
        panic!()
    };
    assert_eq!(env, strings(&["E=2", "V=1"]));
    assert_eq!(created_by, "|1 V=1 /bin/sh -c echo");
}

// ----- plans -----

#[test]
fn global_args_resolve_from_lines() {
    let text = "ARG REG=docker.io\nARG TAG=1.36\nARG IMAGE=$REG/busybox:$TAG\nFROM $IMAGE\nFROM --platform=${PLATFORM:-linux/amd64} scratch";
    let file = parse(text);
    let plan = file
        .plan(&BuildOptions {
            target: None,
            build_args: args(&[("TAG", "1.37")]),
        })
        .unwrap();
    assert_eq!(
        plan.stages.len(),
        1,
        "the first stage is not needed by the last"
    );
    assert_eq!(plan.stages[0].base, Base::Scratch);
    assert_eq!(plan.stages[0].platform.as_deref(), Some("linux/amd64"));
    let globals = file.global_values(&args(&[("TAG", "1.37")])).unwrap();
    assert_eq!(globals["IMAGE"].as_deref(), Some("docker.io/busybox:1.37"));
    let file = parse("ARG IMAGE\nFROM ${IMAGE:-busybox}");
    let plan = file.plan(&BuildOptions::default()).unwrap();
    assert_eq!(plan.stages[0].base, Base::Image("busybox".into()));
}

#[test]
fn the_target_and_what_it_needs_are_built_in_order() {
    let text = "FROM alpine AS base\nFROM base AS build\nCOPY --from=tools /t /t\nFROM busybox AS tools\nFROM scratch AS unrelated\nFROM build AS test\nCOPY --from=0 /x /x\nFROM scratch\nCOPY --from=build /app /app";
    let file = parse(text);
    let plan = file.plan(&BuildOptions::default()).unwrap();
    let order: Vec<usize> = plan.stages.iter().map(|s| s.index).collect();
    // `tools` comes after `build`, so `--from=tools` in `build` is an image named tools.
    assert_eq!(order, [0, 1, 5]);
    assert_eq!(plan.target, 5);
    assert_eq!(plan.stages[1].base, Base::Stage(0));
    assert!(plan.stages[1].copies_from.is_empty());
    assert_eq!(plan.stages[2].copies_from, [1]);
    let plan = file
        .plan(&BuildOptions {
            target: Some("TEST".into()),
            ..BuildOptions::default()
        })
        .unwrap();
    assert_eq!(
        plan.stages.iter().map(|s| s.index).collect::<Vec<_>>(),
        [0, 1, 4]
    );
    assert_eq!(plan.stages[2].copies_from, [0]);
}

#[test]
fn copy_from_may_use_stage_args() {
    let file =
        parse("FROM a AS one\nFROM a AS two\nFROM scratch\nARG SRC=one\nCOPY --from=$SRC /x /x");
    let plan = file.plan(&BuildOptions::default()).unwrap();
    assert_eq!(
        plan.stages.iter().map(|s| s.index).collect::<Vec<_>>(),
        [0, 2]
    );
    let plan = file
        .plan(&BuildOptions {
            build_args: args(&[("SRC", "two")]),
            ..BuildOptions::default()
        })
        .unwrap();
    assert_eq!(
        plan.stages.iter().map(|s| s.index).collect::<Vec<_>>(),
        [1, 2]
    );
}

#[test]
fn plan_errors() {
    let file = parse("FROM a AS one\nFROM b AS two");
    let e = file
        .plan(&BuildOptions {
            target: Some("three".into()),
            ..BuildOptions::default()
        })
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Dockerfile: target stage \"three\" could not be found: the stages are one, two"
    );
    let e = parse("FROM a\nCOPY --from=0 /x /x")
        .plan(&BuildOptions::default())
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::StageNotBefore { stage: "0".into() });
    assert_eq!(e.position, Some(Position::new(2, 13)));
    let e = parse("ARG B\nFROM $B")
        .plan(&BuildOptions::default())
        .unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::EmptyValue {
            instruction: "FROM"
        }
    );
}

#[test]
fn unused_build_args_are_reported_except_proxies() {
    let file = parse("ARG G\nFROM a AS one\nARG IN_ONE\nFROM b\nARG IN_LAST");
    let options = BuildOptions {
        target: None,
        build_args: args(&[
            ("G", "1"),
            ("IN_ONE", "1"),
            ("IN_LAST", "1"),
            ("TYPO", "1"),
            ("HTTPS_PROXY", "x"),
        ]),
    };
    let plan = file.plan(&options).unwrap();
    // `one` is not built, so its ARG does not count.
    assert_eq!(plan.unused_build_args, ["IN_ONE", "TYPO"]);
}
