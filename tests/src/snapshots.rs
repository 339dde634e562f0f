//! Whether a snapshot file is asserted by a test.
//!
//! A transcript in the book is a promise that a test checks it. insta
//! writes the test's file into each snapshot's header (`source: ...`); the
//! snapshot is asserted when that file holds an insta assertion with the
//! snapshot's name, in a function that is not `#[ignore]`d, in a file that
//! has tests. An orphaned snapshot (its test renamed, deleted or ignored)
//! would show the book a transcript nothing checks any more.

use regex::Regex;
use std::path::{Path, PathBuf};

/// The snapshots the pages under `src` include that no test asserts, with
/// why.
pub fn unasserted(src: &Path, workspace: &Path) -> Vec<String> {
    let mut seen = Vec::new();
    let mut problems = Vec::new();
    for include in crate::book::includes(src) {
        if include.file.extension().is_none_or(|e| e != "snap") || seen.contains(&include.file) {
            continue;
        }
        seen.push(include.file.clone());
        if let Err(why) = asserted_by(&include.file, workspace) {
            problems.push(format!("{include}: {why}"));
        }
    }
    problems
}

/// Why a snapshot is not asserted, or `Ok` with the test file that does.
pub fn asserted_by(snapshot: &Path, workspace: &Path) -> Result<PathBuf, String> {
    let text =
        std::fs::read_to_string(snapshot).map_err(|e| format!("cannot read the snapshot: {e}"))?;
    let name = snapshot
        .file_stem()
        .and_then(|stem| stem.to_str())
        .ok_or("the snapshot has no name")?;
    let source = header(&text, "source")
        .ok_or("the snapshot has no `source:` header: insta did not write it")?;
    let file = workspace.join(source);
    let code = std::fs::read_to_string(&file)
        .map_err(|_| format!("its test file {source} does not exist"))?;
    let literal = regex::escape(name);
    let direct =
        Regex::new(&format!(r#"assert_\w*snapshot!\(\s*"{literal}""#)).expect("a valid regex");
    if let Some(found) = direct.find(&code) {
        if !code.contains("#[test]") {
            return Err(format!("{source} has no #[test]"));
        }
        return match enclosing_fn(&code[..found.start()]) {
            Some(function) if function.ignored => Err(format!(
                "the test {} that asserts it is #[ignore]d",
                function.name
            )),
            _ => Ok(file),
        };
    }
    // A helper that asserts a snapshot by a name it is given
    // (`fn assert_snapshot(&self, name: &str, ...)`): a test of the same
    // test directory calls a `...snapshot(...)` function with the name.
    let helper = Regex::new(r"assert_\w*snapshot!\(\s*[a-z_]").expect("a valid regex");
    let call = Regex::new(&format!(r#"\w*snapshot\w*\(\s*"{literal}""#)).expect("a valid regex");
    if helper.is_match(&code) {
        let tests = test_directory(&file);
        for candidate in rust_files(&tests) {
            let text = std::fs::read_to_string(&candidate).unwrap_or_default();
            if let Some(found) = call.find(&text)
                && text.contains("#[test]")
                && !enclosing_fn(&text[..found.start()]).is_some_and(|f| f.ignored)
            {
                return Ok(candidate);
            }
        }
    }
    Err(format!(
        "no test asserts it (no `assert_snapshot!(\"{name}\", ...)` in {source}, nor a call of a snapshot helper with \"{name}\" beside it)"
    ))
}

/// The `tests/` directory (or the directory) that holds `file`.
fn test_directory(file: &Path) -> PathBuf {
    file.ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "tests"))
        .or(file.parent())
        .unwrap_or(file)
        .to_path_buf()
}

/// The `.rs` files under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The value of a `key: value` line of an insta header (between the `---`
/// lines at the top).
fn header<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let mut lines = text.lines();
    if lines.next()? != "---" {
        return None;
    }
    lines
        .take_while(|line| *line != "---")
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
}

struct Function {
    name: String,
    ignored: bool,
}

/// The last `fn` item that starts in `before`, with whether an `#[ignore]`
/// attribute sits above it.
fn enclosing_fn(before: &str) -> Option<Function> {
    let item = Regex::new(r"(?m)^[ \t]*(?:pub(?:\([^)]*\))? )?(?:async )?fn (\w+)").ok()?;
    let last = item.captures_iter(before).last()?;
    let start = last.get(0)?.start();
    let attributes: Vec<&str> = before[..start]
        .lines()
        .rev()
        .map(str::trim)
        .skip_while(|line| line.is_empty())
        .take_while(|line| line.starts_with("#[") || line.starts_with("///"))
        .collect();
    Some(Function {
        name: last[1].to_string(),
        ignored: attributes.iter().any(|a| a.starts_with("#[ignore")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_read() {
        let text = "---\nsource: a/b.rs\nexpression: x\n---\nbody\nsource: no\n";
        assert_eq!(header(text, "source"), Some("a/b.rs"));
        assert_eq!(header(text, "nothing"), None);
        assert_eq!(header("body", "source"), None);
    }

    #[test]
    fn the_enclosing_function_and_its_attributes() {
        let code = "#[test]\n#[ignore]\nfn slow() {\n    let x = 1;\n";
        let function = enclosing_fn(code).unwrap();
        assert_eq!(function.name, "slow");
        assert!(function.ignored);
        let code = "#[test]\nfn quick() {\n";
        assert!(!enclosing_fn(code).unwrap().ignored);
    }
}
