//! `.dockerignore` patterns, as docker applies them.

use ch05_images::dockerignore::{
    ContextEntry, DockerIgnore, EntryKind, IgnoreError, glob_match, walk,
};

fn ignore(text: &str) -> DockerIgnore {
    DockerIgnore::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// Asserts which of `paths` the patterns exclude (`true`) or keep.
fn check(patterns: &str, cases: &[(&str, bool)]) {
    let ignore = ignore(patterns);
    for (path, excluded) in cases {
        assert_eq!(
            ignore.is_excluded(path),
            *excluded,
            "{patterns:?} on {path:?}"
        );
    }
}

#[test]
fn comments_start_in_the_first_column_only() {
    let parsed = ignore("# a comment\n  # not a comment\n\n   \nfoo  \n");
    let texts: Vec<&str> = parsed.patterns.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(texts, ["# not a comment", "foo"]);
}

#[test]
fn patterns_are_cleaned_as_paths_from_the_root() {
    let parsed = ignore("./a/\n/b\nc//d\ne/../f\n/\n!/g/\n");
    let texts: Vec<(&str, bool)> = parsed
        .patterns
        .iter()
        .map(|p| (p.text.as_str(), p.exception))
        .collect();
    assert_eq!(
        texts,
        [
            ("a", false),
            ("b", false),
            ("c/d", false),
            ("f", false),
            ("/", false),
            ("g", true)
        ]
    );
}

#[test]
fn a_plain_name_is_only_at_the_root() {
    check(
        "foo/bar\n",
        &[
            ("foo/bar", true),
            ("foo/bar/baz", true),
            ("x/foo/bar", false),
            ("foo", false),
            ("bar", false),
        ],
    );
    check("/foo/bar", &[("foo/bar", true), ("a/foo/bar", false)]);
}

#[test]
fn a_star_stays_inside_one_directory() {
    check(
        "*.go\n",
        &[("main.go", true), ("cmd/main.go", false), (".go", true)],
    );
    check(
        "*/temp*\n",
        &[
            ("somedir/temporary.txt", true),
            ("somedir/temp", true),
            ("temp", false),
            ("a/b/temp", false),
        ],
    );
    check(
        "*/*/temp*",
        &[("somedir/subdir/temporary.txt", true), ("a/temp", false)],
    );
    check(
        "temp?",
        &[
            ("tempa", true),
            ("tempb", true),
            ("temp", false),
            ("tempab", false),
            ("temp/", false),
        ],
    );
}

#[test]
fn double_star_is_any_number_of_directories() {
    check(
        "**/*.go",
        &[
            ("a.go", true),
            ("x/a.go", true),
            ("x/y/z/a.go", true),
            ("a.gox", false),
        ],
    );
    check(
        "a/**/b",
        &[
            ("a/b", true),
            ("a/x/b", true),
            ("a/x/y/b", true),
            ("a/xb", false),
            ("b", false),
        ],
    );
    check(
        "a/**",
        &[("a/x", true), ("a/x/y", true), ("a", false), ("ab", false)],
    );
    check("**", &[("anything", true), ("a/b/c", true)]);
    check(
        "**/node_modules",
        &[("node_modules/x", true), ("a/node_modules/y/z", true)],
    );
}

#[test]
fn a_matched_directory_takes_its_contents_along() {
    check(
        "node_modules\nbuild/*",
        &[
            ("node_modules", true),
            ("node_modules/a/b.js", true),
            ("build/out/x", true),
            ("build", false),
            ("src/node_modules", false),
        ],
    );
}

#[test]
fn the_last_matching_line_wins() {
    check(
        "*.md\n!README.md",
        &[
            ("CHANGES.md", true),
            ("README.md", false),
            ("docs/README.md", false),
        ],
    );
    check(
        "*.md\n!README*.md\nREADME-secret.md",
        &[
            ("README.md", false),
            ("README-other.md", false),
            ("README-secret.md", true),
            ("x.md", true),
        ],
    );
    check(
        "*.md\nREADME-secret.md\n!README*.md",
        &[("README-secret.md", false), ("x.md", true)],
    );
}

#[test]
fn include_only_what_is_named() {
    check(
        "*\n!src\n!Dockerfile\nsrc/*.tmp",
        &[
            ("README.md", true),
            ("src", false),
            ("src/main.rs", false),
            ("src/a.tmp", true),
            ("Dockerfile", false),
            ("target/x", true),
        ],
    );
}

#[test]
fn an_exception_inside_an_excluded_directory() {
    check(
        "logs\n!logs/keep.txt",
        &[
            ("logs/a.txt", true),
            ("logs/keep.txt", false),
            ("logs", true),
        ],
    );
}

#[test]
fn classes_and_escapes() {
    check(
        "file[0-9].txt\nlog[^a].txt\nstar\\*\nq\\?",
        &[
            ("file1.txt", true),
            ("filex.txt", false),
            ("logb.txt", true),
            ("loga.txt", false),
            ("star*", true),
            ("starx", false),
            ("q?", true),
            ("qx", false),
        ],
    );
    check("[ab]/x", &[("a/x", true), ("b/x", true), ("c/x", false)]);
}

#[test]
fn bad_patterns_are_errors_with_their_line() {
    for (text, line) in [
        ("ok\n!\n", 2),
        ("a[b\n", 1),
        ("x\ny\ntrailing\\\n", 3),
        ("[]\n", 1),
        ("[z-a]\n", 1),
    ] {
        match DockerIgnore::parse(text) {
            Err(IgnoreError::Pattern { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
            other => panic!("{text:?}: {other:?}"),
        }
    }
    let message = DockerIgnore::parse("a[b").unwrap_err().to_string();
    assert_eq!(
        message,
        ".dockerignore line 1: invalid pattern \"a[b\": a [ is not closed with ]"
    );
}

#[test]
fn paths_are_cleaned_before_matching() {
    check("a/b", &[("./a/b", true), ("a//b", true), ("a/./b/", true)]);
}

#[test]
fn exceptions_make_a_walk_look_inside_excluded_directories() {
    let parsed = ignore("vendor\n!vendor/keep/**\n!**/important\n");
    assert!(parsed.may_include_below("vendor"));
    assert!(parsed.may_include_below("vendor/keep"));
    assert!(
        parsed.may_include_below("anything"),
        "**/important may match anywhere"
    );
    let parsed = ignore("vendor\n!src/main.rs\n");
    assert!(!parsed.may_include_below("vendor"));
    assert!(parsed.may_include_below("src"));
}

#[test]
fn a_missing_dockerignore_excludes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        DockerIgnore::read(dir.path()).unwrap(),
        DockerIgnore::default()
    );
}

#[test]
fn walking_a_context() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for file in [
        "Dockerfile",
        ".dockerignore",
        "app.py",
        "notes.md",
        "logs/a.log",
        "logs/keep/b.log",
        "src/lib.py",
        "src/x.tmp",
    ] {
        let path = root.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, file).unwrap();
    }
    std::fs::write(
        root.join(".dockerignore"),
        "# build inputs only\n*.md\nlogs\n!logs/keep\n**/*.tmp\nDockerfile\n.dockerignore\n",
    )
    .unwrap();
    // A link that points out of the context is listed, not followed.
    std::os::unix::fs::symlink("/etc", root.join("src/etc")).unwrap();
    let ignore = DockerIgnore::read(root).unwrap();
    let entries = walk(root, &ignore).unwrap();
    let kind = |path: &str, kind| ContextEntry {
        path: path.into(),
        kind,
    };
    assert_eq!(
        entries,
        [
            kind("app.py", EntryKind::File),
            kind("logs/keep", EntryKind::Dir),
            kind("logs/keep/b.log", EntryKind::File),
            kind("src", EntryKind::Dir),
            kind("src/etc", EntryKind::Symlink),
            kind("src/lib.py", EntryKind::File),
        ]
    );
}

#[test]
fn copy_globs_are_go_filepath_match() {
    assert!(glob_match("*.rs", "main.rs"));
    assert!(!glob_match("*.rs", "src/main.rs"));
    assert!(glob_match("src/*.rs", "src/main.rs"));
    assert!(!glob_match("**/*.rs", "main.rs"), "no ** in COPY globs");
    assert!(glob_match("**/*.rs", "src/main.rs"));
    assert!(glob_match("file?.txt", "file1.txt"));
    assert!(glob_match("[a-c]*", "banana"));
    assert!(
        !glob_match("a[", "a["),
        "an invalid pattern matches nothing"
    );
}
