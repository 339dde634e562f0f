//! The command lines the book shows, and whether the binaries accept them.
//!
//! A learner types what the book shows. A flag renamed in the sources but
//! not on a page (or misspelled on the page) fails on the learner's machine
//! and nowhere else, so every command line of a chapter binary is parsed
//! with the binary's own clap definition:
//!
//! - `$ ...` lines of the transcripts the book includes (the tests ran them,
//!   but a transcript can be edited by hand). A transcript may show a
//!   binary refusing a command on purpose (a "before" transcript: chapter
//!   6's binary asked for chapter 7's `up`); such a line passes when what
//!   the transcript shows after it is the binary's own refusal, word for
//!   word;
//! - `# ...` and `$ ...` lines of ```` ```console ```` blocks;
//! - inline code that starts with a binary's name and has arguments
//!   (`` `ch03-cgroups exec web sh` ``): a *mention* of a command may leave
//!   out required arguments (`` `ch05-images run` ``), but what it has must
//!   be right;
//! - the synopsis lines at the top of a chapter (```` ```text ```` blocks,
//!   `ch03-cgroups run [chapter 2 flags] [--memory SIZE] ...`): they are
//!   not command lines, so only their flags are checked, each against every
//!   flag the binary knows.

use crate::book::{Part, includes, markdown_pages};
use crate::shell::{program_and_args, simple_commands};
use regex::Regex;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// How a shown line is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A command a learner types: it must parse.
    Command,
    /// A command named in prose: it may leave out required arguments.
    Mention,
    /// A synopsis: its flags must exist.
    Synopsis,
}

/// A line the book shows.
#[derive(Debug, Clone)]
pub struct Shown {
    /// Where the line is: a page, or a snapshot a page includes.
    pub file: PathBuf,
    pub line: usize,
    pub text: String,
    pub kind: Kind,
    /// What a transcript shows after the command, up to the next one
    /// (empty for lines of a page).
    pub output: String,
}

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.text)
    }
}

/// Why a binary refuses an argument list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Something is missing (a required argument, a subcommand): a mention
    /// in prose may do that.
    Incomplete(String),
    /// Something is wrong: an unknown flag or subcommand, a bad value.
    Wrong(String),
}

/// What the checker needs of a binary: whether it accepts an argument
/// list, and every flag it knows.
pub trait Cli {
    /// Why the binary would refuse `args` (`args[0]` is its name), with
    /// clap's message.
    fn parse(&self, args: &[String]) -> Result<(), Refusal>;
    /// Every `--long` and `-s` flag of the binary and its subcommands.
    fn flags(&self) -> BTreeSet<String>;
}

/// A binary's clap definition, checked with `try_parse_from`.
pub struct Clap<P>(std::marker::PhantomData<P>);

impl<P> Clap<P> {
    pub fn new() -> Clap<P> {
        Clap(std::marker::PhantomData)
    }
}

impl<P> Default for Clap<P> {
    fn default() -> Self {
        Clap::new()
    }
}

impl<P: clap::Parser> Cli for Clap<P> {
    fn parse(&self, args: &[String]) -> Result<(), Refusal> {
        use clap::error::ErrorKind;
        let err = match P::try_parse_from(args) {
            Ok(_) => return Ok(()),
            Err(err) => err,
        };
        let message = err
            .render()
            .to_string()
            .lines()
            .filter(|line| !line.trim().is_empty())
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        match err.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => Ok(()),
            ErrorKind::MissingRequiredArgument
            | ErrorKind::MissingSubcommand
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                Err(Refusal::Incomplete(message))
            }
            _ => Err(Refusal::Wrong(message)),
        }
    }

    fn flags(&self) -> BTreeSet<String> {
        fn walk(command: &clap::Command, flags: &mut BTreeSet<String>) {
            for arg in command.get_arguments() {
                if let Some(long) = arg.get_long() {
                    flags.insert(format!("--{long}"));
                }
                for alias in arg.get_all_aliases().into_iter().flatten() {
                    flags.insert(format!("--{alias}"));
                }
                if let Some(short) = arg.get_short() {
                    flags.insert(format!("-{short}"));
                }
            }
            flags.insert("--help".into());
            flags.insert("-h".into());
            for sub in command.get_subcommands() {
                walk(sub, flags);
            }
        }
        let mut flags = BTreeSet::new();
        walk(&P::command(), &mut flags);
        flags
    }
}

/// Every line under `src` (pages and the snapshots they include) that
/// shows a command of one of `binaries`.
pub fn shown_lines(src: &Path, binaries: &[&str]) -> Vec<Shown> {
    let mut shown = Vec::new();
    let starts_with_binary = |text: &str| {
        simple_commands(text).iter().any(|words| {
            program_and_args(words)
                .first()
                .is_some_and(|program| binaries.contains(&program_name(program).as_str()))
        })
    };
    let inline = Regex::new(r"`([^`]+)`").expect("a valid regex");
    for page in markdown_pages(src) {
        let text = std::fs::read_to_string(&page).unwrap_or_default();
        let mut fence: Option<String> = None;
        for (index, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if let Some(info) = trimmed.strip_prefix("```") {
                fence = match fence {
                    Some(_) => None,
                    None => Some(info.trim().to_string()),
                };
                continue;
            }
            let mut push = |text: &str, kind| {
                shown.push(Shown {
                    file: page.clone(),
                    line: index + 1,
                    text: text.to_string(),
                    kind,
                    output: String::new(),
                })
            };
            match fence.as_deref() {
                Some("console" | "sh" | "shell" | "bash") => {
                    let command = trimmed
                        .strip_prefix("# ")
                        .or_else(|| trimmed.strip_prefix("$ "));
                    if let Some(command) = command.filter(|c| starts_with_binary(c)) {
                        push(command, Kind::Command);
                    }
                }
                Some("text") => {
                    let first = trimmed.split_whitespace().next().unwrap_or_default();
                    if binaries.contains(&first) {
                        push(trimmed, Kind::Synopsis);
                    }
                }
                Some(_) => {}
                None => {
                    for span in inline.captures_iter(line) {
                        // A binary's name alone names the program, not a command.
                        if starts_with_binary(&span[1]) && span[1].trim().contains(' ') {
                            push(&span[1], Kind::Mention);
                        }
                    }
                }
            }
        }
    }
    let mut snapshots: Vec<PathBuf> = includes(src)
        .into_iter()
        .filter(|include| include.file.extension().is_some_and(|e| e == "snap"))
        .filter(|include| matches!(include.part, Part::Lines { .. } | Part::Whole))
        .map(|include| include.file)
        .collect();
    snapshots.sort();
    snapshots.dedup();
    for snapshot in snapshots {
        let text = std::fs::read_to_string(&snapshot).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        for (index, line) in lines.iter().enumerate() {
            if let Some(command) = line.strip_prefix("$ ")
                && starts_with_binary(command)
            {
                let output = lines[index + 1..]
                    .iter()
                    .take_while(|l| !l.starts_with("$ ") && !l.starts_with("# "))
                    .copied()
                    .collect::<Vec<_>>()
                    .join("\n");
                shown.push(Shown {
                    file: snapshot.clone(),
                    line: index + 1,
                    text: command.to_string(),
                    kind: Kind::Command,
                    output,
                });
            }
        }
    }
    shown
}

/// A program word as the binary's name: `ch01-process`,
/// `./target/debug/ch01-process`, `$(which ch01-process)`.
fn program_name(word: &str) -> String {
    let word = word
        .strip_prefix("$(which ")
        .or_else(|| word.strip_prefix("$(command -v "))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or(word);
    word.rsplit('/').next().unwrap_or(word).to_string()
}

/// A transcript's output as [`Clap::parse`] words a refusal: its first two
/// lines that are not empty, joined by a space.
fn shown_refusal(output: &str) -> String {
    output
        .lines()
        .filter(|line| !line.trim().is_empty())
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The problems of the shown lines: commands a binary refuses, synopsis
/// flags it does not have. `cli` gives a binary's definition by name.
pub fn check(shown: &[Shown], cli: &dyn Fn(&str) -> Option<Box<dyn Cli>>) -> Vec<String> {
    let flag = Regex::new(r"(?:^|[\s\[|(])(--?[A-Za-z][A-Za-z0-9-]*)").expect("a valid regex");
    let mut problems = Vec::new();
    for line in shown {
        match line.kind {
            Kind::Command | Kind::Mention => {
                for words in simple_commands(&line.text) {
                    let args = program_and_args(&words);
                    let Some(program) = args.first() else {
                        continue;
                    };
                    let name = program_name(program);
                    let Some(binary) = cli(&name) else {
                        continue;
                    };
                    let mut argv = vec![name.clone()];
                    argv.extend(args[1..].iter().cloned());
                    let err = match binary.parse(&argv) {
                        Ok(()) => continue,
                        Err(Refusal::Incomplete(_)) if line.kind == Kind::Mention => continue,
                        Err(Refusal::Incomplete(err) | Refusal::Wrong(err))
                            if err == shown_refusal(&line.output) =>
                        {
                            continue;
                        }
                        Err(Refusal::Incomplete(err) | Refusal::Wrong(err)) => err,
                    };
                    problems.push(format!("{line}\n    {name} refuses it: {err}"));
                }
            }
            Kind::Synopsis => {
                let name = line.text.split_whitespace().next().unwrap_or_default();
                let Some(binary) = cli(name) else {
                    continue;
                };
                let known = binary.flags();
                // Flags end where the command's own arguments start.
                let options = line.text.split(" -- ").next().unwrap_or_default();
                for found in flag.captures_iter(options) {
                    let flag = &found[1];
                    if !known.contains(flag) {
                        problems.push(format!("{line}\n    {name} has no flag {flag}"));
                    }
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_names() {
        assert_eq!(program_name("ch01-process"), "ch01-process");
        assert_eq!(program_name("./target/debug/ch01-process"), "ch01-process");
        assert_eq!(program_name("$(which ch01-process)"), "ch01-process");
    }
}
