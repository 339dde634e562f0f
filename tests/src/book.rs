//! Reading the book's `{{#include}}` directives.
//!
//! mdbook's include forms: `{{#include FILE}}`, `{{#include FILE:ANCHOR}}`,
//! `{{#include FILE:START:END}}`, `{{#include FILE:START:}}` and
//! `{{#include FILE::END}}` (lines are 1-based). A missing anchor is not an
//! error for mdbook, it just includes nothing, which is why we check.

use regex::Regex;
use std::path::{Path, PathBuf};

/// What part of a file an include takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Whole,
    Anchor(String),
    Lines {
        start: Option<usize>,
        end: Option<usize>,
    },
}

/// One `{{#include}}` found in a page of the book.
#[derive(Debug, Clone)]
pub struct Include {
    /// The page holding the directive, and its line (1-based).
    pub page: PathBuf,
    pub line: usize,
    /// The included file, resolved against the page's directory.
    pub file: PathBuf,
    pub part: Part,
}

impl std::fmt::Display for Include {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: include of {} ({:?})",
            self.page.display(),
            self.line,
            self.file.display(),
            self.part
        )
    }
}

/// Every include on every Markdown page under `src`.
pub fn includes(src: &Path) -> Vec<Include> {
    let directive = Regex::new(r"\{\{#include\s+([^}\s]+)\s*\}\}").expect("valid regex");
    let mut found = Vec::new();
    for page in markdown_pages(src) {
        let text = std::fs::read_to_string(&page)
            .unwrap_or_else(|e| panic!("read {}: {e}", page.display()));
        for (index, line) in text.lines().enumerate() {
            for capture in directive.captures_iter(line) {
                let (file, part) = parse_target(&capture[1]);
                found.push(Include {
                    page: page.clone(),
                    line: index + 1,
                    file: page.parent().expect("a page has a directory").join(file),
                    part,
                });
            }
        }
    }
    found
}

/// Splits `path[:anchor | :start:end]`.
pub fn parse_target(target: &str) -> (String, Part) {
    let mut pieces = target.splitn(3, ':');
    let file = pieces.next().unwrap_or_default().to_string();
    let part = match (pieces.next(), pieces.next()) {
        (None, _) => Part::Whole,
        (Some(one), None) if !one.is_empty() && one.parse::<usize>().is_err() => {
            Part::Anchor(one.to_string())
        }
        (Some(start), end) => Part::Lines {
            start: start.parse().ok(),
            end: end.and_then(|e| e.parse().ok()),
        },
    };
    (file, part)
}

/// The Markdown files under `dir`, sorted.
pub fn markdown_pages(dir: &Path) -> Vec<PathBuf> {
    let mut pages = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                pages.push(path);
            }
        }
    }
    pages.sort();
    pages
}

/// Whether `text` has both `ANCHOR: name` and `ANCHOR_END: name`.
pub fn has_anchor(text: &str, name: &str) -> bool {
    let marker = |kind: &str| {
        text.lines().any(|line| {
            line.split_once(kind)
                .is_some_and(|(_, rest)| rest.trim() == name)
        })
    };
    marker("ANCHOR: ") && marker("ANCHOR_END: ")
}
