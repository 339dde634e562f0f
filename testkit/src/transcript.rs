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
        self.record(shown, outcome)
    }

    /// Runs `command` on a terminal of its own, as the learner's shell runs
    /// a command typed at its prompt, and records it: for commands whose
    /// output differs on a terminal (`--explain` shows the terminal handed
    /// to the container and back; `ls` prints columns). See
    /// [`crate::terminal`].
    pub fn run_in_terminal(&mut self, command: &mut Command) -> Outcome {
        let shown = command_line(command);
        let outcome = crate::terminal::run_on_terminal(command);
        self.record(&shown, outcome)
    }

    /// `$ shown`, the output, and `$ echo $?` with the exit code.
    fn record(&mut self, shown: &str, outcome: Outcome) -> Outcome {
        self.text += &format!("$ {shown}\n{}", outcome.output);
        if !outcome.output.is_empty() && !outcome.output.ends_with('\n') {
            self.text.push('\n');
        }
        self.text += &format!("$ echo $?\n{}\n", outcome.code);
        outcome
    }

    /// Runs a setup step (making a file, a directory, a device) through
    /// `sh -c` in `dir` and records it as typed: the transcript shows every
    /// command that made what it shows, so a learner who types them all
    /// sees the same. A heredoc (`cat > f <<'EOF'`) is shown whole. No
    /// `echo $?` follows; a step that fails fails the test.
    pub fn setup(&mut self, dir: &std::path::Path, script: &str) -> Outcome {
        let mut command = Command::new("sh");
        command.arg("-c").arg(script).current_dir(dir);
        let outcome = run_combined(&mut command, None);
        assert_eq!(
            outcome.code,
            0,
            "setup step failed in {}: {script}\n{}",
            dir.display(),
            outcome.output
        );
        self.text += &format!("$ {script}\n{}", outcome.output);
        if !outcome.output.is_empty() && !outcome.output.ends_with('\n') {
            self.text.push('\n');
        }
        outcome
    }

    /// Records `shown`, a command the test started itself in the
    /// background (it reads the command's output as it comes), as a learner
    /// starts it: `$ shown &`, then `first`, what it printed before the
    /// test went on.
    pub fn background(&mut self, shown: &str, first: &str) {
        self.typed(&format!("{shown} &"), first);
    }

    /// Records `shown` with `output`, for a step the test makes its own
    /// way (a variable a learner exports, which the test passes to each
    /// command instead): `$ shown`, then the output, and no `echo $?`.
    pub fn typed(&mut self, shown: &str, output: &str) {
        self.text += &format!("$ {shown}\n{output}");
        if !output.is_empty() && !output.ends_with('\n') {
            self.text.push('\n');
        }
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

/// What a snapshot holds of a transcript: [`FILTERS`] and `extra` (pattern,
/// replacement; `$1` refers to a group) applied to the text, and every
/// table laid out again after its cells were filtered.
///
/// Why tables: a chapter binary pads each column of `ps` or `images` to its
/// widest cell, so a cell whose text changes from run to run ("Less than a
/// second ago", "2 seconds ago") moves every column after it. A filter on
/// the whole text replaces the cell but keeps the padding of that run; this
/// cuts each table into cells by the positions of its header's words,
/// filters each cell, and pads the columns to the filtered widths (three
/// spaces apart, as the binaries do; a right-aligned column stays so). A
/// table no filter changed is left exactly as it was printed. A line that a
/// filter empties is left out (for lines only some kernels print).
pub fn scrub(text: &str, extra: &[(&str, &str)]) -> String {
    let rules: Vec<(regex::Regex, &str)> = FILTERS
        .iter()
        .chain(extra)
        .map(|(pattern, replacement)| {
            (
                regex::Regex::new(pattern).expect("a valid filter"),
                *replacement,
            )
        })
        .collect();
    let filter = |text: &str| {
        rules.iter().fold(text.to_string(), |text, (rule, to)| {
            rule.replace_all(&text, *to).into_owned()
        })
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        if let Some(columns) = table_header(line) {
            let rows = lines[index + 1..]
                .iter()
                .take_while(|row| is_table_row(row))
                .count();
            let table = &lines[index..=index + rows];
            out += &relayout(table, &columns, &filter);
            index += rows + 1;
        } else {
            let filtered = filter(line);
            if filtered.is_empty() == line.is_empty() {
                out += &filtered;
                out.push('\n');
            }
            index += 1;
        }
    }
    if !text.ends_with('\n') {
        out.pop();
    }
    out
}

/// The columns of a table's header line: its words in capitals (`CONTAINER
/// ID`, `MEM USAGE / LIMIT`, `CPU %`), two spaces or more apart, at least
/// two of them; `(start, end)` in characters.
fn table_header(line: &str) -> Option<Vec<(usize, usize)>> {
    let chars: Vec<char> = line.chars().collect();
    if chars.is_empty() || chars[0] == ' ' {
        return None;
    }
    let mut columns = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        let start = at;
        while at < chars.len() && !(chars[at] == ' ' && chars.get(at + 1).is_none_or(|c| *c == ' '))
        {
            at += 1;
        }
        let word: String = chars[start..at].iter().collect();
        let capitals = word
            .chars()
            .all(|c| c.is_ascii_uppercase() || " %/".contains(c));
        if !capitals || !word.chars().any(|c| c.is_ascii_uppercase()) {
            return None;
        }
        columns.push((start, at));
        while at < chars.len() && chars[at] == ' ' {
            at += 1;
        }
    }
    (columns.len() >= 2).then_some(columns)
}

/// Whether `line` can be a row of a table: not empty, not a command, a
/// comment or a narrated step of the transcript.
fn is_table_row(line: &str) -> bool {
    !line.trim().is_empty() && !["$ ", "# ", "+ "].iter().any(|p| line.starts_with(p))
}

/// The table's lines with each cell filtered and the columns padded again.
fn relayout(table: &[&str], header: &[(usize, usize)], filter: &dyn Fn(&str) -> String) -> String {
    let cut = |line: &str| -> Vec<String> {
        let chars: Vec<char> = line.chars().collect();
        let starts: Vec<usize> = header.iter().map(|(start, _)| *start).collect();
        let aligned = starts
            .iter()
            .skip(1)
            .all(|s| *s >= chars.len() || chars[s - 1] == ' ');
        if !aligned {
            // A cell wider than its column (a fixed-width layout overflowed):
            // the cells are the runs between wide gaps.
            return regex::Regex::new(" {2,}")
                .expect("a valid regex")
                .split(line.trim_end())
                .map(String::from)
                .collect();
        }
        starts
            .iter()
            .enumerate()
            .map(|(c, start)| {
                let end = starts.get(c + 1).copied().unwrap_or(chars.len());
                chars
                    .get(*start..end.min(chars.len()))
                    .map(|cell| cell.iter().collect::<String>().trim().to_string())
                    .unwrap_or_default()
            })
            .collect()
    };
    let raw: Vec<Vec<String>> = table.iter().map(|line| cut(line)).collect();
    let cells: Vec<Vec<String>> = raw
        .iter()
        .map(|row| row.iter().map(|cell| filter(cell)).collect())
        .collect();
    if raw == cells {
        return table.iter().map(|line| format!("{line}\n")).collect();
    }
    let columns = cells.iter().map(Vec::len).max().unwrap_or(0);
    let width = |c: usize| {
        cells
            .iter()
            .filter_map(|row| row.get(c))
            .map(|cell| cell.chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..columns).map(width).collect();
    // Right-aligned: every row's cell ends where the header's word ends,
    // and some cell starts after the header's word does.
    let right: Vec<bool> = (0..columns)
        .map(|c| {
            let Some((start, end)) = header.get(c) else {
                return false;
            };
            let mut later = false;
            let all_end = table[1..].iter().all(|line| {
                let chars: Vec<char> = line.chars().collect();
                let upto = (*end).min(chars.len());
                let before: String = chars[*start.min(&upto)..upto].iter().collect();
                later |= before.starts_with(' ') && !before.trim().is_empty();
                chars.get(*end).is_none_or(|c| *c == ' ') && !before.trim().is_empty()
            });
            all_end && later
        })
        .collect();
    let mut out = String::new();
    for row in &cells {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c].saturating_sub(cell.chars().count());
            if right[c] {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', pad));
            }
            line.push_str("   ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
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
/// cell, "1 second ago" or "Less than a second ago". [`scrub`] does the
/// same for every table and any filter, with the chapters' layout built in.
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
        // A cell that starts a little left of its title (a row laid out
        // with a cell one character narrower than counted) is cut at the
        // start of its word, not inside it.
        let cut = |row: &[char], at: usize| -> usize {
            let mut at = at.min(row.len());
            while at > 0 && at < row.len() && row[at] != ' ' && row[at - 1] != ' ' {
                at -= 1;
            }
            at
        };
        let cells = |row: &[char]| -> Vec<String> {
            starts
                .iter()
                .enumerate()
                .map(|(i, &from)| {
                    let to = starts.get(i + 1).map_or(row.len(), |&next| cut(row, next));
                    let from = cut(row, from).min(to);
                    let text: String = row[from..to].iter().collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_is_laid_out_again_after_its_cells_are_filtered() {
        let text = "$ ch03-cgroups ps -a\n\
CONTAINER ID   COMMAND          CREATED                  STATUS                                NAMES\n\
0123456789ab   \"probe hog 64\"   Less than a second ago   Exited (137) Less than a second ago   hog\n\
$ echo $?\n0\n";
        let scrubbed = scrub(
            text,
            &[
                (r"^[0-9a-f]{12}$", "[SHORT ID]"),
                (r"(Less than a second|\d+ seconds?) ago", "[WHEN]"),
            ],
        );
        assert_eq!(
            scrubbed,
            "$ ch03-cgroups ps -a\n\
CONTAINER ID   COMMAND          CREATED   STATUS                NAMES\n\
[SHORT ID]     \"probe hog 64\"   [WHEN]    Exited (137) [WHEN]   hog\n\
$ echo $?\n0\n"
        );
    }

    #[test]
    fn a_right_aligned_column_stays_right_aligned() {
        let text = format!(
            "{:<30} {:<14} {:>8}\n{:<30} {:<14} {:>8}\n",
            "REFERENCE", "IMAGE ID", "LAYERS", "127.0.0.1:41234/test/app:v1", "0123456789ab", 4
        );
        let scrubbed = scrub(
            &text,
            &[
                (r"127\.0\.0\.1:\d+", "127.0.0.1:PORT"),
                (r"^[0-9a-f]{12}$", "[ID]"),
            ],
        );
        assert_eq!(
            scrubbed,
            "REFERENCE                    IMAGE ID   LAYERS\n\
127.0.0.1:PORT/test/app:v1   [ID]            4\n"
        );
    }

    #[test]
    fn a_table_no_filter_changes_is_left_as_printed() {
        let text = "PID   USER     COMMAND\n    1 root     ps\n";
        assert_eq!(scrub(text, &[]), text);
        // Lines outside tables are filtered whole; an emptied one goes.
        assert_eq!(
            scrub(
                "+ fork() = 4242\n+ only here\n\nend",
                &[(r"^\+ only.*", "")]
            ),
            "+ fork() = [PID]\n\nend"
        );
    }
}
