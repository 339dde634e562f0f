//! Reading Dockerfiles: lines, directives and every instruction's forms.

use ch05_images::dockerfile::{
    self, CommandLine, Dockerfile, ErrorKind, Healthcheck, Instruction, Kind, Position, RunNetwork,
};

fn parse(text: &str) -> Dockerfile {
    dockerfile::parse("Dockerfile", text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// The instructions of the first stage of `FROM x` followed by `body`.
fn stage(body: &str) -> Vec<Instruction> {
    parse(&format!("FROM x\n{body}")).stages[0]
        .instructions
        .clone()
}

/// The only instruction of `FROM x` + `line`.
fn one(line: &str) -> Kind {
    let mut all = stage(line);
    assert_eq!(all.len(), 1, "{line:?}");
    all.remove(0).kind
}

fn error(text: &str) -> (Position, ErrorKind) {
    let e = dockerfile::parse("Dockerfile", text).expect_err(text);
    (e.position.unwrap_or_default(), e.kind)
}

fn shell(kind: &Kind) -> &str {
    match kind {
        Kind::Run(run) => match &run.command {
            CommandLine::Shell(s) => s,
            other => panic!("{other:?}"),
        },
        Kind::Cmd(CommandLine::Shell(s)) | Kind::Entrypoint(CommandLine::Shell(s)) => s,
        other => panic!("not a shell form: {other:?}"),
    }
}

fn raw(words: &[ch05_images::dockerfile::Word]) -> Vec<&str> {
    words.iter().map(|w| w.raw.as_str()).collect()
}

// ----- lines -----

#[test]
fn a_continuation_joins_lines_without_a_newline() {
    assert_eq!(shell(&one("RUN echo a \\\n  b")), "echo a   b");
}

#[test]
fn blanks_after_the_escape_still_continue() {
    assert_eq!(shell(&one("RUN echo a\\  \t\nb")), "echo ab");
}

#[test]
fn comments_inside_a_continuation_are_skipped() {
    assert_eq!(
        shell(&one(
            "RUN apt-get update && \\\n  # the tools\n  apt-get install x"
        )),
        "apt-get update &&   apt-get install x"
    );
}

#[test]
fn an_empty_continuation_line_is_skipped_with_a_warning() {
    let file = parse("FROM x\nRUN a \\\n\n  b\n");
    assert_eq!(shell(&file.stages[0].instructions[0].kind), "a   b");
    assert_eq!(file.warnings.len(), 1);
    assert_eq!(file.warnings[0].position, Position::new(3, 1));
}

#[test]
fn a_file_that_ends_in_a_continuation_ends_the_instruction() {
    assert_eq!(shell(&one("RUN echo a \\")), "echo a");
}

#[test]
fn a_hash_inside_a_line_is_not_a_comment() {
    assert_eq!(shell(&one("RUN echo #1")), "echo #1");
}

#[test]
fn indented_instructions_and_comments_are_fine() {
    let all = stage("   # a comment\n\t  RUN a\n\n    RUN b");
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].position, Position::new(3, 4));
}

#[test]
fn crlf_line_ends_and_a_byte_order_mark_are_accepted() {
    let file = parse("\u{feff}FROM x\r\nRUN a \\\r\n b\r\n");
    assert_eq!(shell(&file.stages[0].instructions[0].kind), "a  b");
}

#[test]
fn instructions_are_case_insensitive() {
    assert!(matches!(one("run a"), Kind::Run(_)));
    assert!(matches!(one("Env A=b"), Kind::Env(_)));
    let file = parse("from x as Build\nfrom build");
    assert_eq!(file.stages[0].name(), Some("build"));
}

#[test]
fn the_escape_directive_changes_the_escape_character() {
    let file = parse("# escape=`\nFROM x\nRUN dir c:\\\nRUN a `\n  b");
    assert_eq!(file.directives.escape, '`');
    let run: Vec<&str> = file.stages[0]
        .instructions
        .iter()
        .map(|i| shell(&i.kind))
        .collect();
    assert_eq!(run, ["dir c:\\", "a   b"]);
}

#[test]
fn directives_allow_blanks_and_any_case() {
    for line in [
        "#escape=`",
        "# escape =`",
        "#\tescape= `",
        "# ESCAPE = `",
        "  # EsCaPe=`",
    ] {
        assert_eq!(
            parse(&format!("{line}\nFROM x")).directives.escape,
            '`',
            "{line}"
        );
    }
}

#[test]
fn syntax_and_check_directives_are_recorded() {
    let file = parse("# syntax=docker/dockerfile:1\n# check=skip=all\nFROM x");
    assert_eq!(
        file.directives.syntax.as_deref(),
        Some("docker/dockerfile:1")
    );
    assert_eq!(file.directives.check.as_deref(), Some("skip=all"));
}

#[test]
fn a_directive_after_a_comment_is_a_comment() {
    let file = parse("# about this file\n# escape=`\nFROM x");
    assert_eq!(file.directives.escape, '\\');
}

#[test]
fn a_directive_after_an_empty_line_or_an_instruction_is_a_comment() {
    assert_eq!(parse("\n# escape=`\nFROM x").directives.escape, '\\');
    assert_eq!(parse("FROM x\n# escape=`").directives.escape, '\\');
}

#[test]
fn an_unknown_directive_ends_the_directives() {
    let file = parse("# unknown=1\n# escape=`\nFROM x");
    assert_eq!(file.directives.escape, '\\');
}

#[test]
fn a_directive_may_appear_once() {
    let (at, kind) = error("# escape=`\n# escape=\\\nFROM x");
    assert_eq!(at, Position::new(2, 1));
    assert!(matches!(kind, ErrorKind::DuplicateDirective { .. }));
}

#[test]
fn the_escape_character_is_backslash_or_backtick() {
    assert!(matches!(
        error("# escape=x\nFROM x").1,
        ErrorKind::BadEscape { .. }
    ));
}

// ----- structure -----

#[test]
fn a_dockerfile_needs_a_from() {
    assert_eq!(error("ARG A=1\n").1, ErrorKind::NoFrom);
    assert_eq!(error("# only a comment\n").1, ErrorKind::NoFrom);
}

#[test]
fn only_arg_may_come_before_from() {
    let file = parse("ARG A=1 B\nARG C\nFROM x");
    let names: Vec<&str> = file.global_args.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["A", "B", "C"]);
    let (at, kind) = error("ARG A\nRUN a\nFROM x");
    assert_eq!(at, Position::new(2, 1));
    assert_eq!(
        kind,
        ErrorKind::BeforeFrom {
            found: "RUN".into()
        }
    );
}

#[test]
fn stages_split_at_from() {
    let file = parse("FROM a AS one\nRUN x\nFROM one\nRUN y\nRUN z\nFROM scratch");
    let counts: Vec<usize> = file.stages.iter().map(|s| s.instructions.len()).collect();
    assert_eq!(counts, [1, 2, 0]);
    assert_eq!(file.stages[1].index, 1);
    assert_eq!(file.stages[2].from.image.raw, "scratch");
}

#[test]
fn stage_names_are_unique_ignoring_case() {
    let (at, kind) = error("FROM a AS one\nFROM b AS ONE");
    assert_eq!(at, Position::new(2, 1));
    assert_eq!(
        kind,
        ErrorKind::DuplicateStage {
            name: "one".into(),
            line: 1
        }
    );
}

#[test]
fn unknown_instructions_get_a_suggestion() {
    let cases = [
        ("RUNN a", Some("RUN")),
        ("CPOY a b", Some("COPY")),
        ("ENTRYPONT x", Some("ENTRYPOINT")),
        ("XYZZY a", None),
    ];
    for (line, suggestion) in cases {
        let (at, kind) = error(&format!("FROM x\n  {line}"));
        assert_eq!(at, Position::new(2, 3));
        let word = line.split(' ').next().unwrap().to_string();
        assert_eq!(
            kind,
            ErrorKind::UnknownInstruction { word, suggestion },
            "{line}"
        );
    }
}

// ----- FROM -----

#[test]
fn from_takes_an_image_a_name_and_a_platform() {
    let file = parse("FROM --platform=$BUILDPLATFORM golang:1.22 AS build");
    let from = &file.stages[0].from;
    assert_eq!(from.image.raw, "golang:1.22");
    assert_eq!(from.image.position, Position::new(1, 32));
    assert_eq!(from.platform.as_ref().unwrap().raw, "$BUILDPLATFORM");
    assert_eq!(from.name.as_deref(), Some("build"));
}

#[test]
fn from_takes_one_or_three_words() {
    assert!(matches!(error("FROM").1, ErrorKind::Arguments { .. }));
    assert!(matches!(error("FROM a b").1, ErrorKind::Arguments { .. }));
    assert!(matches!(error("FROM a AS").1, ErrorKind::Arguments { .. }));
    assert!(matches!(
        error("FROM a FOR b").1,
        ErrorKind::Arguments { .. }
    ));
}

#[test]
fn stage_names_must_be_valid() {
    let (at, kind) = error("FROM a AS 1st");
    assert_eq!(at, Position::new(1, 11));
    assert!(matches!(kind, ErrorKind::BadStageName { .. }));
    assert!(matches!(
        error("FROM a AS $NAME").1,
        ErrorKind::BadStageName { .. }
    ));
    assert_eq!(
        parse("FROM a AS my-stage_2.x").stages[0].name(),
        Some("my-stage_2.x")
    );
}

#[test]
fn from_knows_only_platform() {
    let (at, kind) = error("FROM --plat=x a");
    assert_eq!(at, Position::new(1, 6));
    assert!(matches!(kind, ErrorKind::UnknownFlag { .. }));
}

// ----- RUN, CMD, ENTRYPOINT -----

#[test]
fn run_has_a_shell_form_and_an_exec_form() {
    assert_eq!(shell(&one("RUN make -j4 all")), "make -j4 all");
    let Kind::Run(run) = one(r#"RUN ["/bin/make", "-C", "a b"]"#) else {
        panic!()
    };
    assert_eq!(
        run.command,
        CommandLine::Exec(vec!["/bin/make".into(), "-C".into(), "a b".into()])
    );
    assert_eq!(run.network, RunNetwork::Default);
}

#[test]
fn run_keeps_dollars_and_quotes_for_the_shell() {
    assert_eq!(
        shell(&one(r#"RUN echo "$HOME" '$X' \$Y"#)),
        r#"echo "$HOME" '$X' \$Y"#
    );
}

#[test]
fn text_that_is_not_a_json_array_of_strings_is_the_shell_form() {
    for line in ["RUN ['a', 'b']", "RUN [\"a\", 1]", "RUN [\"a\""] {
        let file = parse(&format!("FROM x\n{line}"));
        let kind = &file.stages[0].instructions[0].kind;
        assert_eq!(shell(kind), &line[4..]);
        assert_eq!(file.warnings.len(), 1, "{line}");
    }
}

#[test]
fn an_empty_exec_form_is_allowed() {
    assert_eq!(one("CMD []"), Kind::Cmd(CommandLine::Exec(vec![])));
}

#[test]
fn run_network_flag() {
    for (flag, network) in [
        ("none", RunNetwork::None),
        ("host", RunNetwork::Host),
        ("default", RunNetwork::Default),
    ] {
        let Kind::Run(run) = one(&format!("RUN --network={flag} true")) else {
            panic!()
        };
        assert_eq!(run.network, network);
    }
    assert!(matches!(
        error("FROM x\nRUN --network=bridge a").1,
        ErrorKind::BadFlagValue { .. }
    ));
    assert!(matches!(
        error("FROM x\nRUN --network a").1,
        ErrorKind::FlagNeedsValue { .. }
    ));
}

#[test]
fn buildkit_only_run_flags_are_refused_clearly() {
    for flag in [
        "--mount=type=cache,target=/x",
        "--security=insecure",
        "--device=x",
    ] {
        let (at, kind) = error(&format!("FROM x\nRUN {flag} a"));
        assert_eq!(at, Position::new(2, 5));
        assert!(matches!(kind, ErrorKind::Unsupported { .. }), "{flag}");
    }
}

#[test]
fn heredocs_are_refused_clearly() {
    for line in [
        "RUN <<EOF",
        "RUN cat <<-'EOT' > /x",
        "COPY <<EOF /x",
        "RUN 3<<eof cat",
    ] {
        let (_, kind) = error(&format!("FROM x\n{line}\necho\nEOF"));
        assert!(matches!(kind, ErrorKind::Unsupported { .. }), "{line}");
    }
    // Not a heredoc: a here-string and an operator inside a word.
    assert_eq!(shell(&one("RUN cat <<< hi")), "cat <<< hi");
}

#[test]
fn commands_need_arguments() {
    for line in ["RUN", "CMD", "ENTRYPOINT", "RUN --network=none"] {
        assert!(
            matches!(
                error(&format!("FROM x\n{line}")).1,
                ErrorKind::Arguments { .. }
            ),
            "{line}"
        );
    }
}

#[test]
fn cmd_and_entrypoint_take_both_forms() {
    assert_eq!(
        one("ENTRYPOINT [\"/app\"]"),
        Kind::Entrypoint(CommandLine::Exec(vec!["/app".into()]))
    );
    assert_eq!(
        one("CMD exec app --flag"),
        Kind::Cmd(CommandLine::Shell("exec app --flag".into()))
    );
}

#[test]
fn commands_take_no_flags() {
    assert!(matches!(
        error("FROM x\nCMD --help").1,
        ErrorKind::UnknownFlag { .. }
    ));
}

// ----- ENV, LABEL, ARG -----

#[test]
fn env_takes_pairs() {
    let Kind::Env(pairs) =
        one(r#"ENV A=1 B="two words" C=three\ words D="" E"#.trim_end_matches(" E"))
    else {
        panic!()
    };
    let text: Vec<(&str, &str)> = pairs
        .iter()
        .map(|p| (p.key.raw.as_str(), p.value.raw.as_str()))
        .collect();
    assert_eq!(
        text,
        [
            ("A", "1"),
            ("B", "\"two words\""),
            ("C", "three\\ words"),
            ("D", "\"\"")
        ]
    );
    assert_eq!(pairs[1].value.position, Position::new(2, 11));
}

#[test]
fn env_keeps_the_old_one_pair_form() {
    let Kind::Env(pairs) = one("ENV ONE TWO= THREE=world") else {
        panic!()
    };
    assert_eq!(pairs.len(), 1);
    assert_eq!(
        (pairs[0].key.raw.as_str(), pairs[0].value.raw.as_str()),
        ("ONE", "TWO= THREE=world")
    );
}

#[test]
fn env_pairs_need_equals_and_names() {
    let (at, kind) = error("FROM x\nENV A=1 B");
    assert_eq!(at, Position::new(2, 9));
    assert_eq!(
        kind,
        ErrorKind::MissingEquals {
            instruction: "ENV",
            word: "B".into()
        }
    );
    assert_eq!(
        error("FROM x\nENV =1").1,
        ErrorKind::BlankName { instruction: "ENV" }
    );
    assert!(matches!(
        error("FROM x\nENV A").1,
        ErrorKind::Arguments { .. }
    ));
    assert!(matches!(
        error("FROM x\nENV").1,
        ErrorKind::Arguments { .. }
    ));
}

#[test]
fn label_keys_may_be_quoted_and_values_continued() {
    let Kind::Label(pairs) = one("LABEL \"com.example.vendor\"=\"ACME Inc\" \\\n  version=1.0")
    else {
        panic!()
    };
    assert_eq!(pairs[0].key.raw, "\"com.example.vendor\"");
    assert_eq!(pairs[1].key.raw, "version");
    assert_eq!(pairs[1].key.position, Position::new(3, 3));
}

#[test]
fn arg_takes_names_with_optional_defaults() {
    let Kind::Arg(args) = one("ARG A B=2 C=\"x y\"") else {
        panic!()
    };
    let names: Vec<(&str, Option<&str>)> = args
        .iter()
        .map(|a| (a.name.as_str(), a.default.as_ref().map(|d| d.raw.as_str())))
        .collect();
    assert_eq!(
        names,
        [("A", None), ("B", Some("2")), ("C", Some("\"x y\""))]
    );
    assert!(matches!(
        error("FROM x\nARG =1").1,
        ErrorKind::BlankName { .. }
    ));
}

#[test]
fn substitution_syntax_is_checked_at_parse_time() {
    let (at, kind) = error("FROM x\nENV A=\"unclosed");
    assert_eq!(at, Position::new(2, 7));
    assert!(matches!(kind, ErrorKind::Substitution { .. }));
    let (at, _) = error("FROM x\nWORKDIR /a/${B");
    assert_eq!(at, Position::new(2, 12));
    // RUN is not substituted by the builder, so it is not checked either.
    assert_eq!(shell(&one("RUN echo ${B")), "echo ${B");
}

// ----- the others -----

#[test]
fn expose_volume_workdir_user_stopsignal() {
    let Kind::Expose(ports) = one("EXPOSE 80 443/tcp $PORT") else {
        panic!()
    };
    assert_eq!(raw(&ports), ["80", "443/tcp", "$PORT"]);
    let Kind::Volume(paths) = one("VOLUME /a /b") else {
        panic!()
    };
    assert_eq!(raw(&paths), ["/a", "/b"]);
    let Kind::Volume(paths) = one("VOLUME [\"/a b\", \"/c\"]") else {
        panic!()
    };
    assert_eq!(raw(&paths), ["/a b", "/c"]);
    let Kind::Workdir(dir) = one("WORKDIR /path with spaces") else {
        panic!()
    };
    assert_eq!(dir.raw, "/path with spaces");
    let Kind::User(user) = one("USER app:app") else {
        panic!()
    };
    assert_eq!(user.raw, "app:app");
    let Kind::StopSignal(signal) = one("STOPSIGNAL SIGQUIT") else {
        panic!()
    };
    assert_eq!(signal.raw, "SIGQUIT");
    for line in [
        "EXPOSE",
        "VOLUME",
        "VOLUME []",
        "WORKDIR",
        "USER",
        "STOPSIGNAL",
    ] {
        assert!(
            matches!(
                error(&format!("FROM x\n{line}")).1,
                ErrorKind::Arguments { .. }
            ),
            "{line}"
        );
    }
}

#[test]
fn shell_needs_the_json_form() {
    assert_eq!(
        one("SHELL [\"/bin/bash\", \"-eo\", \"pipefail\", \"-c\"]"),
        Kind::Shell(vec![
            "/bin/bash".into(),
            "-eo".into(),
            "pipefail".into(),
            "-c".into()
        ])
    );
    for line in ["SHELL /bin/bash -c", "SHELL []"] {
        assert!(
            matches!(
                error(&format!("FROM x\n{line}")).1,
                ErrorKind::JsonRequired { .. }
            ),
            "{line}"
        );
    }
}

#[test]
fn healthcheck_none_and_cmd_with_options() {
    assert_eq!(
        one("HEALTHCHECK NONE"),
        Kind::Healthcheck(Healthcheck::None)
    );
    let Kind::Healthcheck(check) = one(
        "HEALTHCHECK --interval=5m --timeout=3s --start-period=1m30s --start-interval=500ms --retries=4 \\\n  CMD curl -f http://localhost/ || exit 1",
    ) else {
        panic!()
    };
    assert_eq!(
        check,
        Healthcheck::Check {
            command: CommandLine::Shell("curl -f http://localhost/ || exit 1".into()),
            interval: 300_000_000_000,
            timeout: 3_000_000_000,
            start_period: 90_000_000_000,
            start_interval: 500_000_000,
            retries: 4,
        }
    );
    let Kind::Healthcheck(Healthcheck::Check {
        command, interval, ..
    }) = one("HEALTHCHECK cmd [\"/check\"]")
    else {
        panic!()
    };
    assert_eq!(command, CommandLine::Exec(vec!["/check".into()]));
    assert_eq!(interval, 0);
}

#[test]
fn healthcheck_mistakes() {
    let cases = [
        "HEALTHCHECK",
        "HEALTHCHECK CMD",
        "HEALTHCHECK RUN x",
        "HEALTHCHECK NONE x",
        "HEALTHCHECK --retries=2 NONE",
    ];
    for line in cases {
        assert!(
            matches!(
                error(&format!("FROM x\n{line}")).1,
                ErrorKind::Arguments { .. }
            ),
            "{line}"
        );
    }
    for flag in [
        "--interval=5",
        "--interval=1x",
        "--timeout=10us",
        "--start-period=-1s",
    ] {
        let (at, kind) = error(&format!("FROM x\nHEALTHCHECK {flag} CMD true"));
        assert_eq!(at, Position::new(2, 13));
        assert!(matches!(kind, ErrorKind::BadDuration { .. }), "{flag}");
    }
    assert!(matches!(
        error("FROM x\nHEALTHCHECK --retries=-1 CMD true").1,
        ErrorKind::BadFlagValue { .. }
    ));
}

#[test]
fn onbuild_holds_a_parsed_trigger() {
    let Kind::Onbuild(onbuild) = one("ONBUILD copy --chown=app . /src") else {
        panic!()
    };
    assert_eq!(onbuild.expression, "copy --chown=app . /src");
    assert!(matches!(onbuild.trigger.kind, Kind::Copy(_)));
    assert_eq!(onbuild.trigger.position, Position::new(2, 9));
    for inner in ["ONBUILD RUN a", "FROM a", "MAINTAINER me"] {
        assert!(
            matches!(
                error(&format!("FROM x\nONBUILD {inner}")).1,
                ErrorKind::OnbuildNotAllowed { .. }
            ),
            "{inner}"
        );
    }
    let (at, kind) = error("FROM x\nONBUILD RUNN a");
    assert_eq!(at, Position::new(2, 9));
    assert!(matches!(kind, ErrorKind::UnknownInstruction { .. }));
}

#[test]
fn copy_and_add_forms_and_flags() {
    let Kind::Copy(copy) = one("COPY --from=build --chown=app:app --chmod=0755 --link a b /dst/")
    else {
        panic!()
    };
    assert_eq!(raw(&copy.sources), ["a", "b"]);
    assert_eq!(copy.dest.raw, "/dst/");
    assert_eq!(copy.from.unwrap().raw, "build");
    assert_eq!(copy.chown.unwrap().raw, "app:app");
    assert_eq!(copy.chmod.unwrap().raw, "0755");
    assert!(copy.link);
    let Kind::Copy(copy) = one("COPY [\"a file\", \"/d\"]") else {
        panic!()
    };
    assert_eq!(raw(&copy.sources), ["a file"]);
    let Kind::Copy(copy) = one("COPY --link=false a /d") else {
        panic!()
    };
    assert!(!copy.link);
    let Kind::Add(add) = one("ADD --checksum=sha256:abc https://example.com/x.tgz /x") else {
        panic!()
    };
    assert_eq!(add.checksum.unwrap().raw, "sha256:abc");
}

#[test]
fn copy_mistakes() {
    assert!(matches!(
        error("FROM x\nCOPY a").1,
        ErrorKind::Arguments { .. }
    ));
    assert!(matches!(
        error("FROM x\nCOPY [\"a\"]").1,
        ErrorKind::Arguments { .. }
    ));
    assert!(matches!(
        error("FROM x\nADD --from=a b c").1,
        ErrorKind::UnknownFlag { .. }
    ));
    assert!(matches!(
        error("FROM x\nCOPY --from a b").1,
        ErrorKind::FlagNeedsValue { .. }
    ));
    assert!(matches!(
        error("FROM x\nCOPY --link=maybe a b").1,
        ErrorKind::FlagNotBool { .. }
    ));
    assert!(matches!(
        error("FROM x\nCOPY --from=a --from=b c d").1,
        ErrorKind::DuplicateFlag { .. }
    ));
    assert!(matches!(
        error("FROM x\nCOPY --parents a b").1,
        ErrorKind::Unsupported { .. }
    ));
}

#[test]
fn maintainer_is_accepted() {
    assert_eq!(
        one("MAINTAINER Jane <jane@example.com>"),
        Kind::Maintainer("Jane <jane@example.com>".into())
    );
}

#[test]
fn instruction_text_is_kept_for_the_cache_and_the_step_lines() {
    let all = stage("RUN a \\\n  b");
    assert_eq!(all[0].text, "RUN a   b");
    assert_eq!(all[0].keyword, "RUN");
}

// ----- durations -----

#[test]
fn go_durations_parse_as_docker_reads_them() {
    use ch05_images::dockerfile::healthcheck::parse_duration;
    let cases = [
        ("0", 0),
        ("30s", 30_000_000_000),
        ("1m30s", 90_000_000_000),
        ("1.5h", 5_400_000_000_000),
        ("250ms", 250_000_000),
        ("10us", 10_000),
        ("10µs", 10_000),
        ("7ns", 7),
        ("-2s", -2_000_000_000),
        (".5s", 500_000_000),
    ];
    for (text, ns) in cases {
        assert_eq!(parse_duration(text), Ok(ns), "{text}");
    }
    for text in ["", "5", "1x", "s", "1.2.3s", "1s2", "9999999999h"] {
        assert!(parse_duration(text).is_err(), "{text}");
    }
}

#[test]
fn go_durations_print_as_go_prints_them() {
    use ch05_images::dockerfile::healthcheck::format_duration;
    let cases = [
        (0, "0s"),
        (300_000_000_000, "5m0s"),
        (3_000_000_000, "3s"),
        (1_500_000_000, "1.5s"),
        (3_600_000_000_000, "1h0m0s"),
        (3_723_000_000_000, "1h2m3s"),
        (500_000_000, "500ms"),
        (1_500_000, "1.5ms"),
        (2_000, "2µs"),
        (999, "999ns"),
        (-1_000_000_000, "-1s"),
    ];
    for (ns, text) in cases {
        assert_eq!(format_duration(ns), text, "{ns}");
    }
}
