//! gettext PO catalogs: the part of the format the book needs.
//!
//! A catalog is a header (`msgid ""` with the `Language` and
//! `Content-Type` fields) and entries:
//!
//! ```text
//! # a translator's comment
//! #: 01-process.md:3
//! #, fuzzy
//! msgid "A container is a process."
//! msgstr "Контейнер — это процесс."
//! ```
//!
//! An obsolete entry (a message the English page no longer has, kept so its
//! translation is not lost) has every line prefixed with `#~ `. Any PO
//! editor (Poedit, Lokalize, Emacs po-mode, `msgfmt --check`) reads what
//! this module writes; what they write back is read again, with its
//! translator comments and flags kept. Plural forms and `msgctxt` are not
//! supported: the book has no use for them, and a catalog with them is
//! refused rather than half-read.

use std::fmt::Write as _;

/// One message and its translation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// `# ...` lines: the translator's own notes, kept as they are.
    pub translator_comments: Vec<String>,
    /// `#: page.md:LINE` references: where the message is in the English page.
    pub references: Vec<String>,
    /// `#, ...` flags, such as `fuzzy` (a guess the translator has not
    /// confirmed: gettext, and the book, do not use it).
    pub flags: Vec<String>,
    pub msgid: String,
    pub msgstr: String,
    /// `#~`: no longer in the English page.
    pub obsolete: bool,
}

impl Entry {
    /// Whether the translator marked the translation as a guess.
    pub fn is_fuzzy(&self) -> bool {
        self.flags.iter().any(|flag| flag == "fuzzy")
    }

    /// The translation to use, if there is one: not empty, not fuzzy,
    /// not obsolete. Line breaks a PO editor put in are spaces again.
    pub fn translation(&self) -> Option<String> {
        if self.obsolete || self.is_fuzzy() || self.msgstr.trim().is_empty() {
            return None;
        }
        Some(super::segment::join_lines(&self.msgstr))
    }
}

/// A parsed catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    /// The header entry's `msgstr` (`Language: ru\n...`), and the comments
    /// above it.
    pub header: String,
    pub header_comments: Vec<String>,
    pub entries: Vec<Entry>,
}

/// What is wrong with a catalog's text.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("line {line}: {problem}")]
pub struct PoError {
    pub line: usize,
    pub problem: String,
}

impl Catalog {
    /// A new catalog for a language, with the header gettext tools expect.
    pub fn new(language: &str) -> Catalog {
        Catalog {
            header: format!(
                "Project-Id-Version: skiff book\n\
                 Language: {language}\n\
                 MIME-Version: 1.0\n\
                 Content-Type: text/plain; charset=UTF-8\n\
                 Content-Transfer-Encoding: 8bit\n"
            ),
            header_comments: Vec::new(),
            entries: Vec::new(),
        }
    }

    /// The active (not obsolete) entry for a msgid.
    pub fn active(&self, msgid: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|entry| !entry.obsolete && entry.msgid == msgid)
    }

    /// The translation of a msgid, if the catalog has a usable one.
    pub fn translate(&self, msgid: &str) -> Option<String> {
        self.active(msgid).and_then(Entry::translation)
    }

    /// Reads a catalog.
    pub fn parse(text: &str) -> Result<Catalog, PoError> {
        Parser::default().parse(text)
    }

    /// Writes the catalog as PO text, long strings wrapped as gettext's
    /// tools wrap them (so a PO editor's save changes little).
    pub fn to_po(&self) -> String {
        let mut out = String::new();
        for comment in &self.header_comments {
            push_comment(&mut out, "#", comment);
        }
        out.push_str("msgid \"\"\n");
        write_string(&mut out, "", "msgstr", &self.header);
        for entry in &self.entries {
            out.push('\n');
            for comment in &entry.translator_comments {
                push_comment(&mut out, "#", comment);
            }
            if !entry.obsolete {
                for reference in &entry.references {
                    let _ = writeln!(out, "#: {reference}");
                }
            }
            if !entry.flags.is_empty() {
                let _ = writeln!(out, "#, {}", entry.flags.join(", "));
            }
            let prefix = if entry.obsolete { "#~ " } else { "" };
            write_string(&mut out, prefix, "msgid", &entry.msgid);
            write_string(&mut out, prefix, "msgstr", &entry.msgstr);
        }
        out
    }
}

fn push_comment(out: &mut String, marker: &str, comment: &str) {
    if comment.is_empty() {
        let _ = writeln!(out, "{marker}");
    } else {
        let _ = writeln!(out, "{marker} {comment}");
    }
}

/// The width gettext wraps at, quotes included.
const WIDTH: usize = 79;

/// Writes `keyword "string"`, on one line when it fits, else as `""`
/// followed by lines that end after a `\n` or after a space, as gettext's
/// tools write them.
fn write_string(out: &mut String, prefix: &str, keyword: &str, value: &str) {
    let one_line = format!("{prefix}{keyword} \"{}\"", escape(value));
    let inner_newline = value.trim_end_matches('\n').contains('\n');
    if !inner_newline && one_line.chars().count() <= WIDTH {
        out.push_str(&one_line);
        out.push('\n');
        return;
    }
    let _ = writeln!(out, "{prefix}{keyword} \"\"");
    let room = WIDTH - 2 - prefix.chars().count();
    for line in value.split_inclusive('\n') {
        let escaped = escape(line);
        for chunk in wrap(&escaped, room) {
            let _ = writeln!(out, "{prefix}\"{chunk}\"");
        }
    }
}

/// Cuts an escaped string into chunks of at most `room` characters,
/// each ending after a space where possible (never inside an escape).
fn wrap(escaped: &str, room: usize) -> Vec<&str> {
    let mut chunks = Vec::new();
    let mut rest = escaped;
    while rest.chars().count() > room {
        let limit = rest
            .char_indices()
            .nth(room)
            .map_or(rest.len(), |(at, _)| at);
        let cut = rest[..limit]
            .rfind(' ')
            .map(|space| space + 1)
            .unwrap_or_else(|| safe_cut(rest, limit));
        chunks.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    if !rest.is_empty() || chunks.is_empty() {
        chunks.push(rest);
    }
    chunks
}

/// A cut at or before `limit` that does not split a backslash escape.
fn safe_cut(text: &str, limit: usize) -> usize {
    let backslashes = text[..limit]
        .bytes()
        .rev()
        .take_while(|&b| b == b'\\')
        .count();
    if backslashes % 2 == 1 {
        limit - 1
    } else {
        limit
    }
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for ch in value.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            _ => out.push(ch),
        }
    }
    out
}

fn unescape(text: &str, line: usize) -> Result<String, PoError> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(ch) = chars.next() {
        if ch != '\\' {
            out.push(ch);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            other => {
                return Err(PoError {
                    line,
                    problem: format!("unknown escape \\{}", other.unwrap_or(' ')),
                });
            }
        }
    }
    Ok(out)
}

/// Which string a continuation line `"..."` adds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Msgid,
    Msgstr,
}

/// The entry being read, line by line.
#[derive(Default)]
struct Parser {
    catalog: Catalog,
    entry: Entry,
    /// Whether `entry` has a msgid yet (`msgid ""` is the header's).
    started: bool,
    field: Option<Field>,
    saw_header: bool,
}

impl Parser {
    fn parse(mut self, text: &str) -> Result<Catalog, PoError> {
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let raw = raw.trim_end();
            if raw.is_empty() {
                continue;
            }
            if let Some(rest) = raw.strip_prefix("#~") {
                let rest = rest.trim_start();
                if rest.is_empty() {
                    continue;
                }
                self.keyword_line(rest, line, true)?;
            } else if let Some(rest) = raw.strip_prefix("#:") {
                self.finish_if_complete();
                self.entry
                    .references
                    .extend(rest.split_whitespace().map(str::to_string));
            } else if let Some(rest) = raw.strip_prefix("#,") {
                self.finish_if_complete();
                self.entry.flags.extend(
                    rest.split(',')
                        .map(str::trim)
                        .filter(|flag| !flag.is_empty())
                        .map(str::to_string),
                );
            } else if raw.starts_with("#.") || raw.starts_with("#|") {
                // Extracted comments and previous msgids: we write neither,
                // and regenerate what matters from the English page.
                self.finish_if_complete();
            } else if let Some(rest) = raw.strip_prefix('#') {
                self.finish_if_complete();
                let comment = rest.strip_prefix(' ').unwrap_or(rest).to_string();
                self.entry.translator_comments.push(comment);
            } else {
                self.keyword_line(raw, line, false)?;
            }
        }
        self.finish(text.lines().count())?;
        Ok(self.catalog)
    }

    /// A `msgid`, `msgstr` or `"..."` line.
    fn keyword_line(&mut self, raw: &str, line: usize, obsolete: bool) -> Result<(), PoError> {
        let error = |problem: &str| PoError {
            line,
            problem: problem.to_string(),
        };
        if raw.starts_with('"') {
            let value = quoted(raw, line)?;
            match self.field {
                Some(Field::Msgid) => self.entry.msgid.push_str(&value),
                Some(Field::Msgstr) => self.entry.msgstr.push_str(&value),
                None => return Err(error("a string with no msgid or msgstr before it")),
            }
            return Ok(());
        }
        let (keyword, rest) = raw.split_once(char::is_whitespace).unwrap_or((raw, ""));
        match keyword {
            "msgid" => {
                self.finish_if_complete();
                if self.started {
                    return Err(error("a second msgid in one entry"));
                }
                self.started = true;
                self.entry.obsolete = obsolete;
                self.entry.msgid = quoted(rest.trim(), line)?;
                self.field = Some(Field::Msgid);
            }
            "msgstr" => {
                if !self.started || self.field != Some(Field::Msgid) {
                    return Err(error("msgstr without a msgid before it"));
                }
                self.entry.msgstr = quoted(rest.trim(), line)?;
                self.field = Some(Field::Msgstr);
            }
            "msgctxt" | "msgid_plural" => {
                return Err(error(&format!(
                    "{keyword} is not supported in the book's catalogs"
                )));
            }
            _ if keyword.starts_with("msgstr[") => {
                return Err(error(
                    "plural forms are not supported in the book's catalogs",
                ));
            }
            _ => return Err(error(&format!("unexpected line: {raw}"))),
        }
        Ok(())
    }

    /// A comment line after a complete entry starts the next one.
    fn finish_if_complete(&mut self) {
        if self.field == Some(Field::Msgstr) {
            self.push_entry();
        }
    }

    fn finish(&mut self, last_line: usize) -> Result<(), PoError> {
        match self.field {
            Some(Field::Msgstr) => {
                self.push_entry();
                Ok(())
            }
            Some(Field::Msgid) => Err(PoError {
                line: last_line,
                problem: "the last msgid has no msgstr".into(),
            }),
            None if self.entry != Entry::default() => Err(PoError {
                line: last_line,
                problem: "comments after the last entry".into(),
            }),
            None => Ok(()),
        }
    }

    fn push_entry(&mut self) {
        let entry = std::mem::take(&mut self.entry);
        self.started = false;
        self.field = None;
        if entry.msgid.is_empty() && !entry.obsolete && !self.saw_header {
            self.saw_header = true;
            self.catalog.header = entry.msgstr;
            self.catalog.header_comments = entry.translator_comments;
            return;
        }
        self.catalog.entries.push(entry);
    }
}

/// The value of a `"..."` token.
fn quoted(token: &str, line: usize) -> Result<String, PoError> {
    let inner = token
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .filter(|_| token.len() >= 2)
        .ok_or_else(|| PoError {
            line,
            problem: format!("expected a quoted string, found {token}"),
        })?;
    unescape(inner, line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(msgid: &str, msgstr: &str) -> Entry {
        Entry {
            references: vec!["page.md:1".into()],
            msgid: msgid.into(),
            msgstr: msgstr.into(),
            ..Entry::default()
        }
    }

    #[test]
    fn a_catalog_survives_writing_and_reading() {
        let mut catalog = Catalog::new("ru");
        catalog.header_comments = vec!["The skiff book in Russian.".into()];
        catalog.entries = vec![
            entry("Short.", "Коротко."),
            Entry {
                translator_comments: vec!["check the term".into()],
                flags: vec!["fuzzy".into()],
                ..entry(
                    "A long paragraph with \"quotes\", a back\\slash and enough words to be wrapped over several lines by the writer, as gettext does.",
                    "",
                )
            },
            Entry {
                obsolete: true,
                references: Vec::new(),
                ..entry("Gone from the page.", "Больше нет на странице.")
            },
        ];
        let text = catalog.to_po();
        assert!(text.contains("#~ msgid \"Gone from the page.\""), "{text}");
        assert!(
            text.lines().all(|line| line.chars().count() <= WIDTH),
            "{text}"
        );
        assert_eq!(Catalog::parse(&text).unwrap(), catalog);
    }

    #[test]
    fn only_confirmed_translations_are_used() {
        let mut catalog = Catalog::new("ru");
        let mut fuzzy = entry("Fuzzy.", "Неточно.");
        fuzzy.flags.push("fuzzy".into());
        let mut old = entry("Old.", "Старое.");
        old.obsolete = true;
        catalog.entries = vec![entry("Done.", "Готово."), entry("Empty.", ""), fuzzy, old];
        assert_eq!(catalog.translate("Done.").as_deref(), Some("Готово."));
        assert_eq!(catalog.translate("Empty."), None);
        assert_eq!(catalog.translate("Fuzzy."), None);
        assert_eq!(catalog.translate("Old."), None);
    }

    #[test]
    fn a_po_editors_line_breaks_become_spaces() {
        let text = "msgid \"\"\nmsgstr \"Language: ru\\n\"\n\nmsgid \"One two.\"\nmsgstr \"\"\n\"Раз\\n\"\n\"два.\"\n";
        let catalog = Catalog::parse(text).unwrap();
        assert_eq!(catalog.translate("One two.").as_deref(), Some("Раз два."));
    }

    #[test]
    fn unsupported_and_broken_catalogs_are_refused() {
        let plural = "msgid \"a\"\nmsgid_plural \"as\"\nmsgstr[0] \"\"\n";
        assert_eq!(Catalog::parse(plural).unwrap_err().line, 2);
        let dangling = "msgid \"a\"\n";
        assert!(Catalog::parse(dangling).is_err());
        let unquoted = "msgid a\nmsgstr \"\"\n";
        assert_eq!(Catalog::parse(unquoted).unwrap_err().line, 1);
    }
}
