//! Writing the translated book: every page of `book/src`, each message
//! with a translation replaced by it, the rest in English, and a
//! `book.toml` that mdbook builds from.
//!
//! A translation replaces the bytes of its message and nothing else, so
//! code blocks, `{{#include}}` lines, HTML and the blank lines between
//! blocks are the English page's, byte for byte. A translated paragraph
//! comes out on one line: Markdown does not care, and nobody edits these
//! files (they are generated, and ignored by git).

use crate::book::{Book, BookError, Language, SUMMARY, files_under, relative_name};
use crate::po::Catalog;
use crate::segment::segment;
use std::path::{Path, PathBuf};

/// A page in another language, and how much of it is translated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslatedPage {
    pub text: String,
    /// Messages replaced by their translation.
    pub translated: usize,
    /// Messages left in English (no translation, or a fuzzy one).
    pub english: usize,
}

// ANCHOR: translate_page
/// A page with every message the catalog translates replaced.
///
/// Headings keep the ids mdbook gives the English ones (see
/// [`crate::segment::Heading`]), except in `SUMMARY.md`, which mdbook reads
/// as a table of contents rather than renders.
pub fn translate_page(page: &str, english: &str, catalog: &Catalog) -> TranslatedPage {
    let segments = segment(english);
    // (where, what to put there): a translation replaces its range; a
    // pinned id is inserted (an empty range) just after a heading's text.
    let mut edits: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    let (mut translated, mut left) = (0, 0);
    for message in &segments.messages {
        match catalog.translate(&message.msgid) {
            Some(text) => {
                translated += 1;
                edits.push((message.range.clone(), text));
            }
            None => left += 1,
        }
    }
    if page != SUMMARY {
        for heading in &segments.headings {
            let at = heading.text_end;
            edits.push((at..at, format!(" {{#{}}}", heading.id)));
        }
    }
    edits.sort_by_key(|(range, _)| (range.start, range.end));

    let mut text = String::with_capacity(english.len() * 2);
    let mut done = 0;
    for (range, replacement) in edits {
        text.push_str(&english[done..range.start]);
        text.push_str(&replacement);
        done = range.end;
    }
    text.push_str(&english[done..]);
    TranslatedPage {
        text,
        translated,
        english: left,
    }
}
// ANCHOR_END: translate_page

/// What [`build`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// The translated book's directory: `mdbook build` it.
    pub root: PathBuf,
    /// Its sources.
    pub src: PathBuf,
    /// Pages with at least one translated message, and how many messages
    /// stayed in English on them.
    pub pages: Vec<(String, TranslatedPage)>,
}

/// Writes the translated book of a language: its sources in
/// `book/src-LANG` (replaced as a whole) and `book/LANG/book.toml`.
///
/// Only the pages listed as translated are translated, unless `partial`:
/// a reader gets a page in one language, and a translator who wants to
/// see a page in progress asks for it.
pub fn build(book: &Book, language: &Language, partial: bool) -> Result<Built, BookError> {
    let listed = book.translated_pages(language)?;
    let src = book.translated_src(language);
    if src.exists() {
        std::fs::remove_dir_all(&src).map_err(BookError::io("remove", &src))?;
    }
    let mut pages = Vec::new();
    let mut title = None;
    for file in files_under(&book.src)? {
        let name = relative_name(&book.src, &file);
        let target = src.join(&name);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(BookError::io("create", parent))?;
        }
        let translate = name.ends_with(".md") && (partial || listed.contains(&name));
        let catalog = if translate {
            book.read_catalog(language, &name)?
        } else {
            None
        };
        let Some(catalog) = catalog else {
            std::fs::copy(&file, &target).map_err(BookError::io("copy", &file))?;
            continue;
        };
        let english = book.read_page(&name)?;
        let page = translate_page(&name, &english, &catalog);
        std::fs::write(&target, &page.text).map_err(BookError::io("write", &target))?;
        if name == SUMMARY {
            title = book.title.as_deref().and_then(|t| catalog.translate(t));
        }
        if page.translated > 0 {
            pages.push((name, page));
        }
    }
    pages.sort_by(|a, b| a.0.cmp(&b.0));
    let root = book.translated_root(language);
    write_config(book, language, &root, &src, title)?;
    Ok(Built { root, src, pages })
}

/// `book/LANG/book.toml`: the English configuration with the language,
/// the translated title and the translated sources; the English book's
/// extra CSS and JavaScript files are copied next to it, because mdbook
/// copies them to the output by the path the configuration gives, and a
/// `../` path would land outside the output.
fn write_config(
    book: &Book,
    language: &Language,
    root: &Path,
    src: &Path,
    title: Option<String>,
) -> Result<(), BookError> {
    std::fs::create_dir_all(root).map_err(BookError::io("create", root))?;
    let mut config = book.config.clone();
    let section = table(&mut config, "book");
    section.insert("language".into(), language.as_str().into());
    section.insert(
        "src".into(),
        format!("../{}", relative_name(&book.root, src)).into(),
    );
    if let Some(title) = title {
        section.insert("title".into(), title.into());
    }

    let html = table(table(&mut config, "output"), "html");
    let theme = html
        .get("theme")
        .and_then(toml::Value::as_str)
        .unwrap_or("theme")
        .to_string();
    if book.root.join(&theme).is_dir() && Path::new(&theme).is_relative() {
        html.insert("theme".into(), format!("../{theme}").into());
    }
    for key in ["additional-css", "additional-js"] {
        let files = html.get(key).and_then(toml::Value::as_array).cloned();
        for file in files.iter().flatten().filter_map(toml::Value::as_str) {
            let from = book.root.join(file);
            let to = root.join(file);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(BookError::io("create", parent))?;
            }
            std::fs::copy(&from, &to).map_err(BookError::io("copy", &from))?;
        }
    }

    let path = root.join("book.toml");
    let text = format!(
        "# Written by `book-i18n build {language}` from ../book.toml: edit that one.\n{config}"
    );
    std::fs::write(&path, text).map_err(BookError::io("write", &path))
}

/// The sub-table `key` of a table, made if missing.
fn table<'t>(parent: &'t mut toml::Table, key: &str) -> &'t mut toml::Table {
    let value = parent
        .entry(key)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if !value.is_table() {
        *value = toml::Value::Table(toml::Table::new());
    }
    value.as_table_mut().expect("made a table just above")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::po::Entry;

    fn catalog(pairs: &[(&str, &str)]) -> Catalog {
        let mut catalog = Catalog::new("ru");
        catalog.entries = pairs
            .iter()
            .map(|(msgid, msgstr)| Entry {
                msgid: (*msgid).into(),
                msgstr: (*msgstr).into(),
                ..Entry::default()
            })
            .collect();
        catalog
    }

    #[test]
    fn translations_replace_their_text_and_nothing_else() {
        let english = "# Reading the transcripts\n\nA transcript is what a\nterminal showed.\n\n```text\n{{#include ../../x.snap:4:}}\n```\n\n- one item\n  wrapped\n- untranslated\n";
        let page = translate_page(
            "intro.md",
            english,
            &catalog(&[
                ("Reading the transcripts", "Как читать транскрипты"),
                (
                    "A transcript is what a terminal showed.",
                    "Транскрипт — это то, что\nпоказал терминал.",
                ),
                ("one item wrapped", "один пункт"),
            ]),
        );
        assert_eq!(
            page.text,
            "# Как читать транскрипты {#reading-the-transcripts}\n\nТранскрипт — это то, что показал терминал.\n\n```text\n{{#include ../../x.snap:4:}}\n```\n\n- один пункт\n- untranslated\n"
        );
        assert_eq!((page.translated, page.english), (3, 1));
    }

    #[test]
    fn the_summary_keeps_its_headings_as_they_are() {
        let english = "# Summary\n\n- [The process](01-process.md)\n";
        let page = translate_page(
            SUMMARY,
            english,
            &catalog(&[("[The process](01-process.md)", "[Процесс](01-process.md)")]),
        );
        assert_eq!(page.text, "# Summary\n\n- [Процесс](01-process.md)\n");
    }
}
