//! The check that a translated page is complete and current.
//!
//! A page listed in `TRANSLATED` promises a reader the whole page in that
//! language. The promise breaks when the English page changes (a new or
//! changed paragraph has no translation, the catalog keeps text the page
//! no longer has) or when the catalog itself is unfinished (an empty or
//! fuzzy translation, an obsolete entry nobody cleared). Each is one
//! [`Problem`], reported with the page and the start of the message, so
//! the fix is a search away in any PO editor.
//!
//! A translation must also keep the message's inline code and link
//! targets: they are identifiers, commands, flags and URLs, the same in
//! every language, and a translator who drops or edits one changes what the
//! page teaches.

use crate::book::Source;
use crate::po::{Catalog, Entry};
use crate::segment::mdbook_options;
use pulldown_cmark::{Event, Parser, Tag};
use std::collections::HashSet;

/// One thing wrong with a translated page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub page: String,
    /// The message concerned (empty for the page as a whole).
    pub msgid: String,
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.msgid.is_empty() {
            write!(f, "{}: {}", self.page, self.what)
        } else {
            write!(
                f,
                "{}: \"{}\": {}",
                self.page,
                excerpt(&self.msgid),
                self.what
            )
        }
    }
}

/// The first words of a message, enough to find it in a PO editor.
fn excerpt(msgid: &str) -> String {
    const LONGEST: usize = 48;
    if msgid.chars().count() <= LONGEST {
        return msgid.to_string();
    }
    let cut: String = msgid.chars().take(LONGEST).collect();
    // At a word's end, when there is one.
    let cut = cut
        .rsplit_once(' ')
        .map_or(cut.as_str(), |(words, _)| words);
    format!("{}...", cut.trim_end())
}

// ANCHOR: check_page
/// The problems of one translated page, given its English messages and
/// its catalog (`None` if it has none). `language` goes into the advice.
pub fn check_page(
    page: &str,
    messages: &[Source],
    catalog: Option<&Catalog>,
    language: &str,
) -> Vec<Problem> {
    let problem = |msgid: &str, what: String| Problem {
        page: page.to_string(),
        msgid: msgid.to_string(),
        what,
    };
    let Some(catalog) = catalog else {
        return vec![problem(
            "",
            format!("listed as translated but has no catalog: run book-i18n extract {language}"),
        )];
    };
    let mut problems = Vec::new();
    for message in messages {
        let msgid = message.msgid.as_str();
        match catalog.active(msgid) {
            None => problems.push(problem(
                msgid,
                format!("new English text, not in the catalog: run book-i18n extract {language}, then translate it"),
            )),
            Some(entry) if entry.is_fuzzy() => problems.push(problem(
                msgid,
                "fuzzy: confirm the translation and remove the fuzzy flag".into(),
            )),
            Some(entry) if entry.msgstr.trim().is_empty() => {
                problems.push(problem(msgid, "not translated".into()));
            }
            Some(entry) => problems.extend(
                markup_changes(entry)
                    .into_iter()
                    .map(|what| problem(msgid, what)),
            ),
        }
    }
    let current: HashSet<&str> = messages.iter().map(|m| m.msgid.as_str()).collect();
    for entry in &catalog.entries {
        if entry.obsolete {
            problems.push(problem(
                &entry.msgid,
                format!("obsolete entry left: reuse its translation, then delete it (book-i18n extract {language} --prune)"),
            ));
        } else if !current.contains(entry.msgid.as_str()) {
            problems.push(problem(
                &entry.msgid,
                format!("stale: the English page no longer has this text: run book-i18n extract {language}"),
            ));
        }
    }
    problems
}
// ANCHOR_END: check_page

/// What a translation changed of its message's inline code and link
/// targets, one line each.
fn markup_changes(entry: &Entry) -> Vec<String> {
    let english = fixed_parts(&entry.msgid);
    let mut translated = fixed_parts(&entry.msgstr);
    let mut changes = Vec::new();
    for part in english {
        match translated.iter().position(|other| *other == part) {
            Some(at) => {
                translated.remove(at);
            }
            None => changes.push(format!("the translation lost {part}")),
        }
    }
    changes.extend(
        translated
            .into_iter()
            .map(|part| format!("the translation adds {part}, which the English does not have")),
    );
    changes
}

/// The parts of a message no translation changes: inline code and the
/// targets of links and images, as they would be shown in a problem.
fn fixed_parts(text: &str) -> Vec<String> {
    Parser::new_ext(text, mdbook_options())
        .filter_map(|event| match event {
            Event::Code(code) => Some(format!("`{code}`")),
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                Some(format!("the link to {dest_url}"))
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(msgid: &str) -> Source {
        Source {
            msgid: msgid.into(),
            references: vec!["page.md:1".into()],
        }
    }

    fn entry(msgid: &str, msgstr: &str) -> Entry {
        Entry {
            msgid: msgid.into(),
            msgstr: msgstr.into(),
            ..Entry::default()
        }
    }

    fn whats(problems: &[Problem]) -> Vec<String> {
        problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_complete_page_has_no_problems() {
        let mut catalog = Catalog::new("ru");
        catalog.entries = vec![entry(
            "Run `ch01-process` ([how](intro.md#root)).",
            "Запустите `ch01-process` ([как](intro.md#root)).",
        )];
        let messages = [source("Run `ch01-process` ([how](intro.md#root)).")];
        assert_eq!(check_page("page.md", &messages, Some(&catalog), "ru"), []);
    }

    #[test]
    fn each_kind_of_problem_is_one_line() {
        let mut catalog = Catalog::new("ru");
        let mut fuzzy = entry("Fuzzy.", "Неточно.");
        fuzzy.flags.push("fuzzy".into());
        let mut old = entry("Old.", "Старое.");
        old.obsolete = true;
        catalog.entries = vec![
            entry("Empty.", ""),
            fuzzy,
            entry("Gone from the English.", "Ушло."),
            entry(
                "Keep `--rm` and [this](a.md).",
                "Без кода и [ссылки](b.md).",
            ),
            old,
        ];
        let messages = [
            source("Empty."),
            source("Fuzzy."),
            source("New in the English page, long enough to be cut short in the report."),
            source("Keep `--rm` and [this](a.md)."),
        ];
        assert_eq!(
            whats(&check_page("page.md", &messages, Some(&catalog), "ru")),
            [
                "page.md: \"Empty.\": not translated",
                "page.md: \"Fuzzy.\": fuzzy: confirm the translation and remove the fuzzy flag",
                "page.md: \"New in the English page, long enough to be cut...\": new English text, not in the catalog: run book-i18n extract ru, then translate it",
                "page.md: \"Keep `--rm` and [this](a.md).\": the translation lost `--rm`",
                "page.md: \"Keep `--rm` and [this](a.md).\": the translation lost the link to a.md",
                "page.md: \"Keep `--rm` and [this](a.md).\": the translation adds the link to b.md, which the English does not have",
                "page.md: \"Gone from the English.\": stale: the English page no longer has this text: run book-i18n extract ru",
                "page.md: \"Old.\": obsolete entry left: reuse its translation, then delete it (book-i18n extract ru --prune)",
            ]
        );
    }

    #[test]
    fn a_page_without_a_catalog_is_one_problem() {
        assert_eq!(
            whats(&check_page("page.md", &[source("Text.")], None, "ru")),
            ["page.md: listed as translated but has no catalog: run book-i18n extract ru"]
        );
    }
}
