//! The book in other languages, through gettext catalogs.
//!
//! The English pages stay the one source of the book. A translation is a
//! set of gettext PO catalogs, one per page and language
//! (`book/po/ru/01-process.po`), whose messages are the page's headings,
//! paragraphs, list items, table cells and quotes, with their inline
//! Markdown; code blocks, `{{#include}}`d code and transcripts are not
//! messages and stay exactly as the English page has them, so a
//! translated book shows the same tested code. Translators use any PO
//! editor; the tool keeps the catalogs in step with the English pages and
//! says when a translation falls behind.
//!
//! Why one catalog per page, updated in place, rather than a `.pot`
//! template and `msgmerge`: a change to one English page touches one
//! catalog (small diffs, few merge conflicts between people translating
//! different chapters); a page is the unit a translator finishes and the
//! unit the check holds to a promise; and the merge is ours, so the check
//! can compute in memory what an update would change, with no gettext
//! tools installed.
//!
//! - [`segment`]: a Markdown page cut into messages, as mdbook parses it.
//! - [`po`]: reading and writing PO catalogs.
//! - [`update`]: a catalog brought up to date with its page (`extract`).
//! - [`check`]: what is missing, fuzzy, stale or obsolete on a page listed
//!   as translated (`check`).
//! - [`render`]: the translated sources and `book.toml` mdbook builds (`build`).
//! - [`book`]: where the pages, catalogs and generated files are.
//!
//! Pages listed in `book/po/LANG/TRANSLATED` are complete: the check holds
//! them to it, and the translated book shows them translated. Every other
//! page is shown in English, whatever its catalog holds, until it is
//! listed: a new chapter falls back to English until someone translates it.

pub mod book;
pub mod check;
pub mod po;
pub mod render;
pub mod segment;
pub mod update;

pub use book::{Book, BookError, Language, Source};
pub use check::Problem;
pub use po::{Catalog, Entry, PoError};
pub use render::{Built, TranslatedPage, build, translate_page};
pub use update::Changes;

/// Brings every page's catalog of a language up to date with the English
/// pages. A catalog is written when its entries change, or when its text
/// is laid out differently from ours (as `msgmerge` does, a PO editor's
/// line wrapping is undone, so diffs show translations, not wrapping).
/// Returns the pages whose catalog was written and what changed in it.
pub fn extract(
    book: &Book,
    language: &Language,
    prune: bool,
) -> Result<Vec<(String, Changes)>, BookError> {
    let dir = book.catalog_dir(language);
    std::fs::create_dir_all(&dir).map_err(BookError::io("create", &dir))?;
    let list = dir.join(book::TRANSLATED);
    if !list.exists() {
        let text = "# The pages whose translation is complete, one a line (SUMMARY.md, introduction.md, ...).\n\
                    # `book-i18n check` holds each to it; the other pages are shown in English.\n";
        std::fs::write(&list, text).map_err(BookError::io("write", &list))?;
    }
    let mut changed = Vec::new();
    for page in book.pages()? {
        let path = book.catalog_path(language, &page);
        let old = book
            .read_catalog(language, &page)?
            .unwrap_or_else(|| Catalog::new(language.as_str()));
        let (new, changes) = update::update(&old, &book.messages(&page)?, prune);
        let after = new.to_po();
        if std::fs::read_to_string(&path).ok().as_deref() == Some(after.as_str()) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(BookError::io("create", parent))?;
        }
        std::fs::write(&path, after).map_err(BookError::io("write", &path))?;
        changed.push((page, changes));
    }
    Ok(changed)
}

/// Every problem of the pages a language lists as translated; an empty
/// list means the translated pages are complete and current.
pub fn check(book: &Book, language: &Language) -> Result<Vec<Problem>, BookError> {
    let pages = book.pages()?;
    let mut problems = Vec::new();
    for page in book.translated_pages(language)? {
        if !pages.contains(&page) {
            problems.push(Problem {
                page: page.clone(),
                msgid: String::new(),
                what: format!(
                    "listed in {} but not a page of the book: fix the name or remove the line",
                    book.catalog_dir(language).join(book::TRANSLATED).display()
                ),
            });
            continue;
        }
        let catalog = book.read_catalog(language, &page)?;
        problems.extend(check::check_page(
            &page,
            &book.messages(&page)?,
            catalog.as_ref(),
            language.as_str(),
        ));
    }
    // A catalog of a page that does not exist (renamed, deleted) would
    // otherwise sit there forever.
    for page in catalogs_without_pages(book, language, &pages)? {
        problems.push(Problem {
            page,
            msgid: String::new(),
            what: "a catalog for a page the book no longer has: rename or delete it".into(),
        });
    }
    Ok(problems)
}

/// The pages named by `.po` files in a language's directory that are not
/// pages of the book.
fn catalogs_without_pages(
    book: &Book,
    language: &Language,
    pages: &[String],
) -> Result<Vec<String>, BookError> {
    let dir = book.catalog_dir(language);
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut orphans = Vec::new();
    for file in book::files_under(&dir)? {
        let name = book::relative_name(&dir, &file);
        if let Some(stem) = name.strip_suffix(".po") {
            let page = format!("{stem}.md");
            if !pages.contains(&page) {
                orphans.push(page);
            }
        }
    }
    orphans.sort();
    Ok(orphans)
}

/// How far a page's translation is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub page: String,
    /// Messages of the English page with a usable translation.
    pub translated: usize,
    /// Messages of the English page.
    pub total: usize,
    /// Listed in `TRANSLATED`.
    pub listed: bool,
}

/// Each page's progress in a language.
pub fn status(book: &Book, language: &Language) -> Result<Vec<Status>, BookError> {
    let listed = book.translated_pages(language)?;
    let mut statuses = Vec::new();
    for page in book.pages()? {
        let messages = book.messages(&page)?;
        let catalog = book.read_catalog(language, &page)?;
        let translated = catalog.map_or(0, |catalog| {
            messages
                .iter()
                .filter(|message| catalog.translate(&message.msgid).is_some())
                .count()
        });
        statuses.push(Status {
            listed: listed.contains(&page),
            page,
            translated,
            total: messages.len(),
        });
    }
    Ok(statuses)
}
