//! Cutting a Markdown page into the messages a translator sees.
//!
//! A message is the inline content of one block: a heading's text, a
//! paragraph, a tight list item, a table cell, a paragraph inside a block
//! quote. Its msgid is that content's Markdown *source*, so links, `code`
//! and **emphasis** stay in the text the translator edits and come back
//! exactly as they were written; only the line breaks inside a block (and
//! the indentation or `>` that continues a list item or a quote on the next
//! line) become single spaces, so re-wrapping an English paragraph does not
//! make its translation stale.
//!
//! What is never a message: fenced and indented code blocks (the book's
//! code and transcripts, `{{#include}}`d from tested sources), HTML blocks
//! (`<div class="listing-file">`), a paragraph that is only an mdbook
//! directive (`{{#include ...}}`), and text with nothing to translate (a
//! table cell holding a number or only inline code). Those stay in the
//! translated page byte for byte, because a translation only replaces the
//! byte ranges of its messages.
//!
//! The page is parsed with the options mdbook 0.5 uses (tables, footnotes,
//! GFM admonitions, heading attributes, smart punctuation, ...), so a block
//! here is a block there: without GFM, `> [!NOTE]` would be plain text of
//! the quote's first paragraph, and a translation on one line would break
//! the admonition.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use std::collections::HashSet;
use std::ops::Range;

/// One translatable piece of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The text as the catalog holds it: the Markdown source of the block's
    /// inline content, its line breaks joined with single spaces.
    pub msgid: String,
    /// The bytes of the page a translation replaces.
    pub range: Range<usize>,
    /// The 1-based line where the message starts, for the catalog's
    /// `#: page.md:LINE` references.
    pub line: usize,
}

/// A heading and the id mdbook gives it in the English page.
///
/// mdbook makes a heading's id from its text (`## Reading the transcripts`
/// is `#reading-the-transcripts`), and other pages link to these ids. A
/// translated heading would get an id made from the translation and every
/// such link would break, silently: the translated page pins the English
/// id with a heading attribute, `## Чтение транскриптов {#reading-the-transcripts}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heading {
    /// The id, as mdbook computes it (made unique within the page).
    pub id: String,
    /// Where the attribute goes: just after the heading's text.
    pub text_end: usize,
}

/// A page cut into messages, in the order they appear.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Segments {
    pub messages: Vec<Message>,
    /// The headings without an explicit `{#id}` of their own.
    pub headings: Vec<Heading>,
}

/// The parser options of mdbook 0.5 (`mdbook-markdown`'s defaults).
pub fn mdbook_options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES
        | Options::ENABLE_SMART_PUNCTUATION
        | Options::ENABLE_DEFINITION_LIST
        | Options::ENABLE_GFM
}

// ANCHOR: segment
/// Cuts a page into its messages and headings.
pub fn segment(page: &str) -> Segments {
    let mut out = Segments::default();
    let lines = LineIndex::new(page);
    let mut run: Option<Run> = None;
    // Inside a code block or an HTML block, text is copied, never translated.
    let mut verbatim = 0usize;
    // Inside emphasis, a link, ...: a hard break there cannot end a message.
    let mut inline_depth = 0usize;
    let mut heading: Option<HeadingText> = None;
    let mut used_ids = HashSet::new();

    for (event, range) in Parser::new_ext(page, mdbook_options()).into_offset_iter() {
        match event {
            Event::Start(tag) if is_inline(&tag) => {
                inline_depth += 1;
                run.get_or_insert_with(|| Run::at(range.start))
                    .cover(&range);
            }
            Event::End(tag) if is_inline_end(tag) => {
                inline_depth = inline_depth.saturating_sub(1);
                run.get_or_insert_with(|| Run::at(range.start))
                    .cover(&range);
            }
            Event::Start(Tag::CodeBlock(_) | Tag::HtmlBlock | Tag::MetadataBlock(_)) => {
                flush(&mut run, page, &lines, &mut out.messages);
                verbatim += 1;
            }
            Event::End(TagEnd::CodeBlock | TagEnd::HtmlBlock | TagEnd::MetadataBlock(_)) => {
                verbatim = verbatim.saturating_sub(1);
            }
            Event::Start(Tag::Heading { id, .. }) => {
                flush(&mut run, page, &lines, &mut out.messages);
                heading = Some(HeadingText {
                    explicit_id: id.is_some(),
                    text: String::new(),
                });
            }
            Event::End(TagEnd::Heading(_)) => {
                let text_end = run.as_ref().map(|r| r.end);
                flush(&mut run, page, &lines, &mut out.messages);
                if let Some(done) = heading.take()
                    && !done.explicit_id
                {
                    // mdbook does not count explicit ids when it makes the
                    // others unique, so neither do we.
                    let id = unique_id(&id_from_content(&done.text), &mut used_ids);
                    if let Some(text_end) = text_end {
                        out.headings.push(Heading { id, text_end });
                    }
                }
            }
            Event::Start(_) | Event::End(_) | Event::Rule | Event::TaskListMarker(_) => {
                flush(&mut run, page, &lines, &mut out.messages);
            }
            Event::Html(_) => {}
            Event::Text(text) if verbatim == 0 => {
                if let Some(heading) = heading.as_mut() {
                    heading.text.push_str(&text);
                }
                let run = run.get_or_insert_with(|| Run::at(range.start));
                run.cover(&range);
                run.has_words |= text.chars().any(char::is_alphabetic);
            }
            Event::Code(code) if verbatim == 0 => {
                if let Some(heading) = heading.as_mut() {
                    heading.text.push_str(&code);
                }
                run.get_or_insert_with(|| Run::at(range.start))
                    .cover(&range);
            }
            Event::InlineHtml(_)
            | Event::InlineMath(_)
            | Event::DisplayMath(_)
            | Event::FootnoteReference(_)
            | Event::SoftBreak
                if verbatim == 0 =>
            {
                run.get_or_insert_with(|| Run::at(range.start))
                    .cover(&range);
            }
            Event::HardBreak if verbatim == 0 => {
                if inline_depth == 0 {
                    // The break (`\` or two spaces, then the next line's
                    // indentation) stays in the page; the lines around it
                    // are two messages.
                    flush(&mut run, page, &lines, &mut out.messages);
                } else {
                    run.get_or_insert_with(|| Run::at(range.start))
                        .cover(&range);
                }
            }
            Event::Text(_)
            | Event::Code(_)
            | Event::InlineHtml(_)
            | Event::InlineMath(_)
            | Event::DisplayMath(_)
            | Event::FootnoteReference(_)
            | Event::SoftBreak
            | Event::HardBreak => {}
        }
    }
    flush(&mut run, page, &lines, &mut out.messages);
    out
}
// ANCHOR_END: segment

/// The inline content of one block, as it is being read.
struct Run {
    start: usize,
    end: usize,
    /// Whether some text (not code) has a letter: a cell holding `2` or
    /// only `` `[PID]` `` has nothing to translate.
    has_words: bool,
}

impl Run {
    fn at(start: usize) -> Run {
        Run {
            start,
            end: start,
            has_words: false,
        }
    }

    fn cover(&mut self, range: &Range<usize>) {
        self.start = self.start.min(range.start);
        self.end = self.end.max(range.end);
    }
}

struct HeadingText {
    explicit_id: bool,
    text: String,
}

/// Ends the current run, and keeps it as a message if it has words.
fn flush(run: &mut Option<Run>, page: &str, lines: &LineIndex, messages: &mut Vec<Message>) {
    let Some(run) = run.take() else { return };
    let source = &page[run.start..run.end];
    let msgid = join_lines(source);
    if !run.has_words || msgid.is_empty() || is_directive(&msgid) {
        return;
    }
    // The range without the whitespace around the text, so the
    // translation takes the place of the text only.
    let leading = source.len() - source.trim_start().len();
    let trailing = source.len() - source.trim_end().len();
    messages.push(Message {
        msgid,
        range: run.start + leading..run.end - trailing,
        line: lines.line_of(run.start + leading),
    });
}

/// Joins the lines of a block's source into one: each line break, with
/// the whitespace before it and the indentation and `>` markers that
/// continue the block on the next line, becomes one space.
///
/// A `>` at the start of a continuation line is always a marker: as text it
/// would have started a block quote and ended the paragraph.
pub fn join_lines(source: &str) -> String {
    let mut joined = String::with_capacity(source.len());
    for (index, line) in source.split('\n').enumerate() {
        if index == 0 {
            joined.push_str(line.trim_end());
            continue;
        }
        let mut rest = line.trim_start();
        while let Some(after) = rest.strip_prefix('>') {
            rest = after.trim_start();
        }
        let rest = rest.trim_end();
        if rest.is_empty() {
            continue;
        }
        if !joined.is_empty() {
            joined.push(' ');
        }
        joined.push_str(rest);
    }
    joined.trim().to_string()
}

/// Whether a text is only an mdbook directive (`{{#include ...}}`,
/// `{{#rustdoc_include ...}}`, ...), which the preprocessor replaces.
fn is_directive(text: &str) -> bool {
    text.starts_with("{{#") && text.ends_with("}}") && !text[3..].contains("{{")
}

/// Whether a tag is inline (inside a block's text) rather than a block.
fn is_inline(tag: &Tag<'_>) -> bool {
    matches!(
        tag,
        Tag::Emphasis
            | Tag::Strong
            | Tag::Strikethrough
            | Tag::Superscript
            | Tag::Subscript
            | Tag::Link { .. }
            | Tag::Image { .. }
    )
}

fn is_inline_end(tag: TagEnd) -> bool {
    matches!(
        tag,
        TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Superscript
            | TagEnd::Subscript
            | TagEnd::Link
            | TagEnd::Image
    )
}

/// mdbook's id for a heading's text (`id_from_content` in mdbook-html
/// 0.5): lowercase; letters, digits, `_` and `-` kept; whitespace becomes
/// `-`; everything else dropped.
pub fn id_from_content(content: &str) -> String {
    content
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|ch| {
            if ch.is_alphanumeric() || ch == '_' || ch == '-' {
                Some(ch)
            } else if ch.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// mdbook's rule for a repeated id: `-1`, `-2`, ... until it is unused.
fn unique_id(id: &str, used: &mut HashSet<String>) -> String {
    if used.insert(id.to_string()) {
        return id.to_string();
    }
    (1u32..)
        .map(|counter| format!("{id}-{counter}"))
        .find(|candidate| used.insert(candidate.clone()))
        .expect("some suffix is unused")
}

/// Byte offsets to 1-based line numbers.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(at, _)| at + 1));
        LineIndex { starts }
    }

    fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgids(page: &str) -> Vec<String> {
        segment(page)
            .messages
            .into_iter()
            .map(|m| m.msgid)
            .collect()
    }

    #[test]
    fn code_fences_and_includes_are_not_messages() {
        let page = "# Title\n\nSome text.\n\n```rust\n{{#include ../../src/lib.rs:run}}\nlet words = 1;\n```\n\n{{#include ../../README.md}}\n\n    indented code\n";
        assert_eq!(msgids(page), ["Title", "Some text."]);
    }

    #[test]
    fn listing_file_divs_stay_out() {
        let page = "<div class=\"listing-file\">chapters/01-process/src/main.rs</div>\n\nAfter.\n";
        assert_eq!(msgids(page), ["After."]);
    }

    #[test]
    fn paragraph_lines_are_joined_and_inline_markdown_kept() {
        let page = "A [link](https://example.com) with `code`\nand **bold** over\ntwo lines.\n";
        let segments = segment(page);
        assert_eq!(
            segments.messages,
            [Message {
                msgid: "A [link](https://example.com) with `code` and **bold** over two lines."
                    .into(),
                range: 0..page.len() - 1,
                line: 1,
            }]
        );
    }

    #[test]
    fn list_items_quotes_and_admonitions() {
        let page = "- **One**: first\n  item, wrapped.\n- Two with `cargo build -p\n  ch01`.\n    - Nested.\n\n> [!NOTE]\n> A note over\n> two lines.\n";
        assert_eq!(
            msgids(page),
            [
                "**One**: first item, wrapped.",
                "Two with `cargo build -p ch01`.",
                "Nested.",
                "A note over two lines.",
            ]
        );
    }

    #[test]
    fn table_cells_with_words_are_messages() {
        let page = "| the process sees | chapter |\n|---|---|\n| its own `hostname` | 2 |\n| `[PID]`, `[PGID]` | a process id |\n";
        assert_eq!(
            msgids(page),
            [
                "the process sees",
                "chapter",
                "its own `hostname`",
                "a process id"
            ]
        );
    }

    #[test]
    fn ranges_are_what_a_translation_replaces() {
        let page = "Intro:\n\n1. **Zombies.** Make the loop\n   wait. *Hint:* a `Z`.\n";
        let segments = segment(page);
        let item = &segments.messages[1];
        assert_eq!(
            &page[item.range.clone()],
            "**Zombies.** Make the loop\n   wait. *Hint:* a `Z`."
        );
        assert_eq!(item.line, 3);
    }

    #[test]
    fn headings_get_mdbooks_ids() {
        let page = "# The `--explain` flag\n\n## Exercises\n\n## Exercises\n\n## Own {#mine}\n";
        let segments = segment(page);
        let ids: Vec<&str> = segments.headings.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["the---explain-flag", "exercises", "exercises-1"]);
        assert_eq!(
            &page[..segments.headings[0].text_end],
            "# The `--explain` flag"
        );
        // The explicit id is not pinned again, and not part of the text.
        assert_eq!(segments.messages[3].msgid, "Own");
    }

    #[test]
    fn join_lines_keeps_single_line_text() {
        assert_eq!(join_lines("one line"), "one line");
        assert_eq!(join_lines("a  \n   > b\n  c"), "a b c");
    }
}
