//! The book shows real code, tested transcripts and command lines the
//! binaries accept, and every page is reachable.

use skiff_tests::book::{Part, has_anchor, includes, markdown_pages};
use skiff_tests::clis::{BINARIES, cli};
use skiff_tests::commands::{check, shown_lines};
use skiff_tests::snapshots::unasserted;
use skiff_tests::workspace_root;

#[test]
fn every_include_points_at_an_existing_file_and_anchor() {
    let src = workspace_root().join("book/src");
    let found = includes(&src);
    assert!(
        !found.is_empty(),
        "the book includes nothing: the include scanner is broken"
    );
    let mut problems = Vec::new();
    for include in &found {
        let Ok(text) = std::fs::read_to_string(&include.file) else {
            problems.push(format!("{include}: the file does not exist"));
            continue;
        };
        match &include.part {
            Part::Anchor(name) if !has_anchor(&text, name) => {
                problems.push(format!(
                    "{include}: no ANCHOR/ANCHOR_END pair named {name:?}"
                ));
            }
            Part::Lines {
                start: Some(start), ..
            } if *start > text.lines().count() => {
                problems.push(format!(
                    "{include}: the file has only {} lines",
                    text.lines().count()
                ));
            }
            _ => {}
        }
    }
    assert!(
        problems.is_empty(),
        "broken includes:\n{}",
        problems.join("\n")
    );
}

/// Every listing of code says which file it comes from: a
/// `<div class="listing-file">PATH</div>` line just above its fence, PATH
/// being the file the fence includes, from the workspace's root.
#[test]
fn every_listing_names_its_file() {
    let root = workspace_root();
    let src = root.join("book/src");
    let include = regex::Regex::new(r"\{\{#include ([^}:]+)").unwrap();
    let caption = regex::Regex::new(r#"^<div class="listing-file">([^<]+)</div>$"#).unwrap();
    let mut problems = Vec::new();
    let mut listings = 0;
    for page in markdown_pages(&src) {
        let text = std::fs::read_to_string(&page).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut index = 0;
        while index < lines.len() {
            if !lines[index].trim_start().starts_with("```") {
                index += 1;
                continue;
            }
            let open = index;
            index += 1;
            let mut files = Vec::new();
            while index < lines.len() && !lines[index].trim_start().starts_with("```") {
                if let Some(found) = include.captures(lines[index])
                    && !found[1].ends_with(".snap")
                {
                    files.push(found[1].to_string());
                }
                index += 1;
            }
            index += 1;
            let Some(file) = files.first() else {
                continue;
            };
            listings += 1;
            // The included path, from the workspace's root.
            let wanted = std::path::absolute(src.join(file))
                .ok()
                .and_then(|p| p.strip_prefix(&root).ok().map(|p| p.to_path_buf()))
                .map(|p| {
                    p.components()
                        .fold(std::path::PathBuf::new(), |mut acc, c| {
                            match c {
                                std::path::Component::ParentDir => {
                                    acc.pop();
                                }
                                other => acc.push(other),
                            }
                            acc
                        })
                        .display()
                        .to_string()
                });
            let shown = lines[..open]
                .iter()
                .rev()
                .find(|line| !line.trim().is_empty())
                .and_then(|line| caption.captures(line))
                .map(|found| found[1].to_string());
            if shown.is_none() || shown != wanted {
                problems.push(format!(
                    "{}:{}: the listing of {file} should follow <div class=\"listing-file\">{}</div>",
                    page.display(),
                    open + 1,
                    wanted.unwrap_or_default()
                ));
            }
        }
    }
    assert!(
        listings > 100,
        "only {listings} listings found: the scanner is broken"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Insta snapshots start with a `---` header of three lines; a transcript
/// shown in the book must skip exactly that header.
#[test]
fn transcripts_come_from_snapshots_without_their_header() {
    let src = workspace_root().join("book/src");
    let mut problems = Vec::new();
    for include in includes(&src) {
        if include.file.extension().is_none_or(|e| e != "snap") {
            continue;
        }
        let text = std::fs::read_to_string(&include.file).unwrap_or_default();
        let header_lines = text.lines().skip(1).position(|l| l == "---").map(|p| p + 2);
        let wanted = Part::Lines {
            start: header_lines.map(|n| n + 1),
            end: None,
        };
        if include.part != wanted {
            problems.push(format!(
                "{include}: should be `:{}:`",
                header_lines.unwrap_or(0) + 1
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_page_is_in_the_summary_and_every_summary_entry_exists() {
    let src = workspace_root().join("book/src");
    let summary = std::fs::read_to_string(src.join("SUMMARY.md")).expect("book/src/SUMMARY.md");
    let link = regex::Regex::new(r"\]\(([^)]+\.md)\)").unwrap();
    let linked: Vec<_> = link
        .captures_iter(&summary)
        .map(|c| src.join(&c[1]))
        .collect();
    for page in &linked {
        assert!(
            page.exists(),
            "SUMMARY.md links {} which does not exist",
            page.display()
        );
    }
    for page in markdown_pages(&src) {
        if page.ends_with("SUMMARY.md") {
            continue;
        }
        assert!(
            linked.contains(&page),
            "{} is not linked from SUMMARY.md",
            page.display()
        );
    }
}

#[test]
fn every_chapter_crate_has_a_book_chapter() {
    let root = workspace_root();
    let src = root.join("book/src");
    for entry in std::fs::read_dir(root.join("chapters")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let page = src.join(format!("{name}.md"));
        assert!(
            page.exists(),
            "chapter crate chapters/{name} has no page book/src/{name}.md"
        );
    }
}

#[test]
fn the_scanner_understands_every_include_form() {
    use skiff_tests::book::parse_target;
    assert_eq!(parse_target("a.rs"), ("a.rs".into(), Part::Whole));
    assert_eq!(
        parse_target("a.rs:spawn"),
        ("a.rs".into(), Part::Anchor("spawn".into()))
    );
    assert_eq!(
        parse_target("a.snap:4:"),
        (
            "a.snap".into(),
            Part::Lines {
                start: Some(4),
                end: None
            }
        )
    );
    assert_eq!(
        parse_target("a.rs:2:9"),
        (
            "a.rs".into(),
            Part::Lines {
                start: Some(2),
                end: Some(9)
            }
        )
    );
    assert_eq!(
        parse_target("a.rs::9"),
        (
            "a.rs".into(),
            Part::Lines {
                start: None,
                end: Some(9)
            }
        )
    );
    assert!(has_anchor(
        "// ANCHOR: x\nfn f() {}\n// ANCHOR_END: x\n",
        "x"
    ));
    assert!(!has_anchor("// ANCHOR: x\nfn f() {}\n", "x"));
}

#[test]
fn every_included_snapshot_is_asserted_by_a_test() {
    let root = workspace_root();
    let problems = unasserted(&root.join("book/src"), &root);
    assert!(
        problems.is_empty(),
        "transcripts no test checks:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_command_line_the_book_shows_parses() {
    let shown = shown_lines(&workspace_root().join("book/src"), BINARIES);
    assert!(
        shown.len() > 100,
        "only {} command lines found: the scanner is broken",
        shown.len()
    );
    let problems = check(&shown, &cli);
    assert!(
        problems.is_empty(),
        "command lines the binaries refuse:\n{}",
        problems.join("\n")
    );
}

/// The checker on a book with three faults: a misspelled flag in a console
/// block, another in a transcript, and a transcript whose snapshot no test
/// asserts. A refusal a transcript shows as the binary words it is no fault.
#[test]
fn the_checker_catches_a_misspelled_flag_and_an_unasserted_snapshot() {
    let root = workspace_root();
    let src = root.join("tests/fixtures/faulty-book/src");
    let problems = check(&shown_lines(&src, BINARIES), &cli);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].contains("--hostnme") && problems[0].contains("page.md:6"),
        "{}",
        problems[0]
    );
    assert!(
        problems[1].contains("--hostnam") && problems[1].contains("refused.snap:14"),
        "{}",
        problems[1]
    );
    let problems = unasserted(&src, &root);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("orphan.snap") && problems[0].contains("no test asserts it"),
        "{}",
        problems[0]
    );
}

/// A synopsis is checked flag by flag: a flag the binary lacks is caught,
/// placeholders and the command after `--` are not flags.
#[test]
fn synopsis_flags_are_checked_against_the_binary() {
    use skiff_tests::commands::{Kind, Shown};
    let line = |text: &str| Shown {
        file: "page.md".into(),
        line: 1,
        text: text.to_string(),
        kind: Kind::Synopsis,
        output: String::new(),
    };
    let good =
        line("ch03-cgroups run [chapter 2 flags] [--memory SIZE] [--pids-limit N] -- COMMAND [-x]");
    assert!(check(&[good], &cli).is_empty());
    let bad = line("ch03-cgroups run [--memory SIZE] [--cpu-quota N] -- COMMAND");
    let problems = check(&[bad], &cli);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("no flag --cpu-quota"),
        "{}",
        problems[0]
    );
}
