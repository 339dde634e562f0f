//! The solution markers in the chapter sources.
//!
//! A function body that a learner writes is wrapped, inside the function,
//! in two comment lines:
//!
//! ```text
//! pub fn add(&self, pid: Pid) -> Result<()> {
//!     // SOLUTION START: ch03-add move the process into the cgroup (book: ...)
//!     for dir in self.dirs() { ... }
//!     Ok(())
//!     // SOLUTION END
//! }
//! ```
//!
//! The markers are comments, so the reference code compiles and the book's
//! `{{#include}}` of an anchor around the function still shows all of it.
//! The region must be the *whole* body: the starter replaces it with one
//! `todo!("<id>: <text>")`, which has every type, so the function still
//! compiles and fails, when called, with the text that sends the learner to
//! the book.

use std::fmt;

/// The line that opens a solution: `// SOLUTION START: <id> <text>`.
pub const START: &str = "// SOLUTION START:";
/// The line that closes it.
pub const END: &str = "// SOLUTION END";

/// One marked body in a source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Solution {
    /// A short name, unique in the workspace: `ch03-add`.
    pub id: String,
    /// What to write and where the book explains it.
    pub todo: String,
    /// The 1-based lines of the two markers.
    pub start_line: usize,
    pub end_line: usize,
    /// The indentation of the markers, which the `todo!()` keeps.
    pub indent: String,
}

impl Solution {
    /// The message of the `todo!()` that replaces the body.
    pub fn message(&self) -> String {
        format!("{}: {}", self.id, self.todo)
    }

    /// The `todo!()` line that replaces the marked region.
    pub fn todo_line(&self) -> String {
        format!(
            "{}todo!(\"{}\")",
            self.indent,
            rust_format_literal(&self.message())
        )
    }
}

/// A marker that does not fit the rules above; `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MarkerError {
    pub line: usize,
    pub problem: String,
}

impl fmt::Display for MarkerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.problem)
    }
}

/// Every solution marked in `text`, in order.
///
/// ```
/// let text = "fn f() -> u8 {\n    // SOLUTION START: ch00-f return one (book: F)\n    1\n    // SOLUTION END\n}\n";
/// let found = skiff_starter::markers::solutions(text).unwrap();
/// assert_eq!(found[0].id, "ch00-f");
/// assert_eq!(found[0].todo, "return one (book: F)");
/// ```
pub fn solutions(text: &str) -> Result<Vec<Solution>, MarkerError> {
    let mut found = Vec::new();
    let mut open: Option<Solution> = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let error = |problem: String| MarkerError {
            line: number,
            problem,
        };
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if let Some(rest) = trimmed.strip_prefix(START) {
            if let Some(outer) = &open {
                return Err(error(format!(
                    "a solution starts inside {} (opened on line {}): close it first",
                    outer.id, outer.start_line
                )));
            }
            let (id, todo) = rest.trim().split_once(' ').unwrap_or((rest.trim(), ""));
            if id.is_empty() || todo.trim().is_empty() {
                return Err(error(format!(
                    "write `{START} <id> <what to do (book: section)>`"
                )));
            }
            if found.iter().any(|s: &Solution| s.id == id) {
                return Err(error(format!(
                    "solution id {id} is used twice in this file"
                )));
            }
            open = Some(Solution {
                id: id.to_string(),
                todo: todo.trim().to_string(),
                start_line: number,
                end_line: 0,
                indent: indent.to_string(),
            });
        } else if trimmed.starts_with(END) {
            let Some(mut solution) = open.take() else {
                return Err(error(format!("{END} without a {START} before it")));
            };
            if indent != solution.indent {
                return Err(error(format!(
                    "{END} of {} is not indented like its start: the markers must wrap a whole function body",
                    solution.id
                )));
            }
            if number == solution.start_line + 1 {
                return Err(error(format!("solution {} is empty", solution.id)));
            }
            solution.end_line = number;
            found.push(solution);
        } else if trimmed.contains("SOLUTION START") || trimmed.contains("SOLUTION END") {
            return Err(error(format!(
                "a misspelled marker: write `{START} <id> <text>` or `{END}`"
            )));
        }
    }
    match open {
        Some(solution) => Err(MarkerError {
            line: solution.start_line,
            problem: format!("solution {} is never closed with {END}", solution.id),
        }),
        None => Ok(found),
    }
}

/// `text` with each marked region (markers included) replaced by its
/// `todo!()` line.
pub fn with_todos(text: &str) -> Result<(String, Vec<Solution>), MarkerError> {
    let found = solutions(text)?;
    let mut out = String::with_capacity(text.len());
    let mut regions = found.iter().peekable();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        match regions.peek() {
            Some(s) if number == s.start_line => {
                out.push_str(&s.todo_line());
                out.push('\n');
            }
            Some(s) if number > s.start_line && number < s.end_line => {}
            Some(s) if number == s.end_line => {
                regions.next();
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if !text.ends_with('\n') {
        out.pop();
    }
    Ok((out, found))
}

/// `text` as the contents of a string literal that is also a format string:
/// quotes and backslashes escaped, braces doubled.
fn rust_format_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '{' => out.push_str("{{"),
            '}' => out.push_str("}}"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "\
fn pivot() -> Result<()> {
    // SOLUTION START: ch02-pivot pivot_root(\".\", \".\") {now} (book: Namespaces)
    chdir(root)?;
    Ok(())
    // SOLUTION END
}
fn other() {}
";

    #[test]
    fn a_marked_body_becomes_one_todo_with_its_text() {
        let (out, found) = with_todos(BODY).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].start_line, found[0].end_line), (2, 5));
        assert_eq!(
            out,
            "fn pivot() -> Result<()> {\n    todo!(\"ch02-pivot: pivot_root(\\\".\\\", \\\".\\\") {{now}} (book: Namespaces)\")\n}\nfn other() {}\n"
        );
    }

    #[test]
    fn text_without_markers_is_unchanged() {
        let text = "fn f() {}\nfn g() {}";
        assert_eq!(with_todos(text).unwrap().0, text);
    }

    #[test]
    fn broken_markers_name_their_line() {
        let unclosed = "fn f() {\n    // SOLUTION START: x do it\n    1\n}\n";
        assert_eq!(solutions(unclosed).unwrap_err().line, 2);
        let stray = "fn f() {\n    // SOLUTION END\n}\n";
        assert_eq!(solutions(stray).unwrap_err().line, 2);
        let nested = "// SOLUTION START: a x\n// SOLUTION START: b y\n";
        assert_eq!(solutions(nested).unwrap_err().line, 2);
        let misaligned = "    // SOLUTION START: a x\n    1\n        // SOLUTION END\n";
        assert!(
            solutions(misaligned)
                .unwrap_err()
                .problem
                .contains("indented")
        );
        let no_text = "// SOLUTION START: a\n1\n// SOLUTION END\n";
        assert_eq!(solutions(no_text).unwrap_err().line, 1);
        let typo = "// SOLUTION START a x\n";
        assert!(solutions(typo).unwrap_err().problem.contains("misspelled"));
    }
}
