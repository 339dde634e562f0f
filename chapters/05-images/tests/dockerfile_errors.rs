//! What a learner sees for a broken Dockerfile: one snapshot of every
//! error message, each with the file, line and column it points at.

use ch05_images::dockerfile::{self, BuildOptions, StageState};
use ch05_images::image::ImageConfig;
use skiff_testkit::snapshot_settings;
use std::collections::BTreeMap;

/// (what is wrong, the Dockerfile, the --target if any)
const CASES: &[(&str, &str, Option<&str>)] = &[
    (
        "a typo in an instruction",
        "FROM busybox\nRUNN echo hi\n",
        None,
    ),
    (
        "an instruction nobody knows",
        "FROM busybox\n  FETCH http://x\n",
        None,
    ),
    ("no FROM at all", "# just a comment\nARG A=1\n", None),
    (
        "RUN before FROM",
        "ARG BASE=busybox\nRUN echo\nFROM $BASE\n",
        None,
    ),
    ("FROM with two words", "FROM busybox latest\n", None),
    (
        "a stage name with a space",
        "FROM busybox AS 2build\n",
        None,
    ),
    (
        "a stage name used twice",
        "FROM busybox AS build\nRUN true\nFROM alpine AS Build\n",
        None,
    ),
    (
        "an unknown flag",
        "FROM busybox\nCOPY --form=build /a /b\n",
        None,
    ),
    (
        "a flag without its value",
        "FROM busybox\nCOPY --from /a /b\n",
        None,
    ),
    (
        "a BuildKit mount",
        "FROM busybox\nRUN --mount=type=cache,target=/root/.cache \\\n    make\n",
        None,
    ),
    (
        "a bad network",
        "FROM busybox\nRUN --network=bridge true\n",
        None,
    ),
    ("a heredoc", "FROM busybox\nRUN <<EOF\necho hi\nEOF\n", None),
    (
        "an unterminated quote",
        "FROM busybox\nENV GREETING=\"hello\n",
        None,
    ),
    (
        "an unterminated quote on a continued line",
        "FROM busybox\nLABEL a=1 \\\n      b=\"2\n",
        None,
    ),
    (
        "a brace left open",
        "FROM busybox\nWORKDIR /srv/${APP\n",
        None,
    ),
    (
        "a pattern modifier",
        "FROM busybox\nARG V=1.2.3\nENV MAJOR=${V%%.*}\n",
        None,
    ),
    ("ENV without =", "FROM busybox\nENV A=1 B\n", None),
    ("ENV without a value", "FROM busybox\nENV A\n", None),
    ("COPY with one argument", "FROM busybox\nCOPY app\n", None),
    (
        "SHELL not in JSON",
        "FROM busybox\nSHELL /bin/bash -c\n",
        None,
    ),
    (
        "a bad healthcheck interval",
        "FROM busybox\nHEALTHCHECK --interval=10 CMD true\n",
        None,
    ),
    (
        "HEALTHCHECK NONE with options",
        "FROM busybox\nHEALTHCHECK --retries=3 NONE\n",
        None,
    ),
    (
        "ONBUILD ONBUILD",
        "FROM busybox\nONBUILD ONBUILD RUN true\n",
        None,
    ),
    ("a bad escape directive", "# escape=|\nFROM busybox\n", None),
    (
        "a directive twice",
        "# escape=`\n# escape=`\nFROM busybox\n",
        None,
    ),
    (
        "an unknown target",
        "FROM busybox AS build\nFROM scratch AS final\n",
        Some("test"),
    ),
    (
        "COPY --from a later stage by index",
        "FROM busybox\nCOPY --from=1 /a /a\nFROM scratch\n",
        None,
    ),
    ("FROM an empty variable", "ARG BASE\nFROM $BASE\n", None),
    ("a bad port", "FROM busybox\nEXPOSE 80/http\n", None),
    (
        "a bad stop signal",
        "FROM busybox\nSTOPSIGNAL SIGSTOPPLEASE\n",
        None,
    ),
    (
        "a required variable",
        "FROM busybox\nARG VERSION\nLABEL version=\"${VERSION:?pass --build-arg VERSION=...}\"\n",
        None,
    ),
    (
        "a bad chmod",
        "FROM busybox\nCOPY --chmod=rwx app /app\n",
        None,
    ),
];

/// The first error of parsing, planning or applying the last stage.
fn first_error(text: &str, target: Option<&str>) -> String {
    let file = match dockerfile::parse("Dockerfile", text) {
        Ok(file) => file,
        Err(e) => return e.to_string(),
    };
    let options = BuildOptions {
        target: target.map(str::to_string),
        build_args: BTreeMap::new(),
    };
    let plan = match file.plan(&options) {
        Ok(plan) => plan,
        Err(e) => return e.to_string(),
    };
    let stage = &file.stages[plan.target];
    let mut state = StageState::new(
        &file.file,
        file.directives.escape,
        ImageConfig::default(),
        &options.build_args,
        &plan.globals,
    );
    for instruction in &stage.instructions {
        if let Err(e) = state.apply(instruction) {
            return e.to_string();
        }
    }
    panic!("no error for {text:?}");
}

#[test]
fn error_messages() {
    let mut out = String::new();
    for (what, text, target) in CASES {
        out += &format!("--- {what}\n{text}");
        if let Some(target) = target {
            out += &format!("(--target {target})\n");
        }
        out += &format!("=> {}\n\n", first_error(text, *target));
    }
    snapshot_settings().bind(|| insta::assert_snapshot!("dockerfile_errors", out));
}
