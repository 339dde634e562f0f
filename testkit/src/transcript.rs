//! Transcripts: what a learner's terminal shows, recorded for snapshots.
//!
//! A test runs a chapter binary the way the book tells learners to, and
//! records the command line and everything the terminal would show (stdout
//! and stderr through one pipe, so they interleave as on a screen), then the
//! exit status as `echo $?` would print it. The snapshot files are included
//! in the book, so what the book shows is what the tests check.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

/// A recorded terminal session.
#[derive(Debug, Default)]
pub struct Transcript {
    text: String,
}

/// What one command did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// stdout and stderr, interleaved as written.
    pub output: String,
    /// The exit code (128 + N for death by signal N, as a shell reports it).
    pub code: i32,
}

impl Transcript {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `command`, shown as the learner would type it, and records it.
    pub fn run(&mut self, command: &mut Command) -> Outcome {
        let shown = command_line(command);
        self.run_shown(&shown, command, None)
    }

    /// Runs `command` with `input` piped to its stdin, shown as
    /// `echo INPUT | command`.
    pub fn run_piped(&mut self, input: &str, command: &mut Command) -> Outcome {
        let shown = format!(
            "echo {} | {}",
            shell_quote(input.trim_end()),
            command_line(command)
        );
        self.run_shown(&shown, command, Some(input))
    }

    /// Runs `command`, shown as `shown`.
    pub fn run_shown(
        &mut self,
        shown: &str,
        command: &mut Command,
        input: Option<&str>,
    ) -> Outcome {
        let outcome = run_combined(command, input);
        self.text += &format!("$ {shown}\n{}", outcome.output);
        if !outcome.output.is_empty() && !outcome.output.ends_with('\n') {
            self.text.push('\n');
        }
        self.text += &format!("$ echo $?\n{}\n", outcome.code);
        outcome
    }

    /// Adds a line of commentary, shown as a shell comment.
    pub fn comment(&mut self, text: &str) {
        self.text += &format!("# {text}\n");
    }

    /// The transcript so far.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Runs `command` with stdout and stderr on one pipe.
pub fn run_combined(command: &mut Command, input: Option<&str>) -> Outcome {
    let (mut reader, writer) = std::io::pipe().expect("pipe");
    command
        .stdout(writer.try_clone().expect("dup pipe"))
        .stderr(writer)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
    // The Command holds copies of the pipe's write end; drop them so that
    // reading ends when the child (and its descendants) close theirs.
    command.stdout(Stdio::null()).stderr(Stdio::null());
    if let Some(input) = input {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).expect("write stdin");
    }
    let mut output = String::new();
    reader.read_to_string(&mut output).expect("read output");
    let status = child.wait().expect("wait");
    let code = status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        128 + status.signal().unwrap_or(0)
    });
    Outcome { output, code }
}

/// The command line as typed in a shell: program name (not its full path)
/// and arguments, quoted where needed.
pub fn command_line(command: &Command) -> String {
    let program = std::path::Path::new(command.get_program())
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut parts = vec![program];
    parts.extend(
        command
            .get_args()
            .map(|a| shell_quote(&a.to_string_lossy())),
    );
    parts.join(" ")
}

/// Quotes `word` for a POSIX shell when it needs it.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%^".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Snapshot settings every chapter uses: snapshots next to the tests, no
/// expression in the header (the book strips a three-line header), and
/// filters for what changes from run to run: pids and temporary paths.
pub fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    for (pattern, replacement) in FILTERS {
        settings.add_filter(pattern, *replacement);
    }
    settings
}

/// Run-dependent text and what the snapshots show instead.
pub const FILTERS: &[(&str, &str)] = &[
    (r"/tmp/skiff-[A-Za-z0-9_-]+", "[TMP]"),
    (r"/tmp/\.tmp[A-Za-z0-9]+", "[TMP]"),
    (r"(fork\(\)|clone\([A-Z_|]*\)) = \d+", "$1 = [PID]"),
    (r"waitpid\((-1|\d+)\) = \d+", "waitpid($1) = [PID]"),
    (r"kill\(-?\d+, ", "kill([PID], "),
    (r"tcsetpgrp\(0, \d+\)", "tcsetpgrp(0, [PGID])"),
    // Container ids (a digest keeps its `sha256:`, for the image filters).
    (r"(^|[^:0-9a-f])[0-9a-f]{64}", "${1}[ID]"),
];

/// How long ago, as a `ps` table says it.
pub const WHEN: &str = r"(Less than a second|About a minute|\d+ seconds?)( ago)?";

/// `ps` tables (a line starting `CONTAINER ID   `, and the rows after it up
/// to the next command or comment) with their times replaced by `[WHEN]`,
/// each cell passed through `cell`, and laid out again by `table` (the
/// chapters' own layout). A filter that replaced the times afterwards would
/// leave the run's padding behind: a column is as wide as its longest
/// cell, "1 second ago" or "Less than a second ago".
pub fn relayout_tables(
    text: &str,
    table: impl Fn(&[Vec<String>]) -> String,
    cell: impl Fn(&str) -> String,
) -> String {
    let when = regex::Regex::new(WHEN).expect("a valid pattern");
    let gaps = regex::Regex::new(r"\S+( \S+)*").expect("a valid pattern");
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if !line.starts_with("CONTAINER ID   ") {
            out.push(line.to_string());
            continue;
        }
        // The columns start where the header's titles do (in characters).
        let header: Vec<char> = line.chars().collect();
        let starts: Vec<usize> = gaps
            .find_iter(line)
            .map(|m| line[..m.start()].chars().count())
            .collect();
        let cells = |row: &[char]| -> Vec<String> {
            starts
                .iter()
                .enumerate()
                .map(|(i, &from)| {
                    let to = starts
                        .get(i + 1)
                        .copied()
                        .unwrap_or(row.len())
                        .min(row.len());
                    let text: String = row[from.min(row.len())..to].iter().collect();
                    cell(&when.replace_all(text.trim(), "[WHEN]"))
                })
                .collect()
        };
        let mut rows = vec![cells(&header)];
        while let Some(next) = lines.peek() {
            if next.starts_with("$ ") || next.starts_with("# ") {
                break;
            }
            rows.push(cells(&next.chars().collect::<Vec<_>>()));
            lines.next();
        }
        out.push(table(&rows).trim_end().to_string());
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}
