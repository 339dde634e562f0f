//! Bringing a catalog up to date with its English page (what `msgmerge`
//! does with a template, without the template).
//!
//! - A message the page still has keeps its translation, flags and the
//!   translator's comments; its references are the page's lines now.
//! - A new message (a new paragraph, or one whose English changed) gets an
//!   empty entry: the page falls back to English there until it is
//!   translated.
//! - A message the page no longer has becomes obsolete (`#~`) if it was
//!   translated, so a translator who retranslates a changed paragraph still
//!   has the old translation at hand; untranslated ones are dropped.
//!   `--prune` drops the obsolete ones too, once they are of no more use.
//!
//! There is deliberately no fuzzy matching: a changed English paragraph is
//! a stale entry plus a new one, and the check says so on the page that
//! changed.

use crate::book::Source;
use crate::po::{Catalog, Entry};
use std::collections::HashSet;

/// What an update changed, for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    /// Entries made for messages the catalog did not have.
    pub added: usize,
    /// Translated entries the page no longer has, now obsolete.
    pub obsoleted: usize,
    /// Entries dropped: untranslated ones the page no longer has, and the
    /// obsolete ones when pruning.
    pub dropped: usize,
}

// ANCHOR: update
/// The catalog a page's messages call for, keeping what `old` has.
pub fn update(old: &Catalog, messages: &[Source], prune: bool) -> (Catalog, Changes) {
    let mut changes = Changes::default();
    let mut catalog = Catalog {
        header: old.header.clone(),
        header_comments: old.header_comments.clone(),
        entries: Vec::with_capacity(messages.len()),
    };
    let wanted: HashSet<&str> = messages.iter().map(|m| m.msgid.as_str()).collect();

    for message in messages {
        // An active entry first; an obsolete one comes back to life when
        // its English text does (a paragraph changed, then changed back).
        let kept = old
            .active(&message.msgid)
            .or_else(|| {
                old.entries
                    .iter()
                    .find(|entry| entry.obsolete && entry.msgid == message.msgid)
            })
            .cloned();
        let entry = match kept {
            Some(entry) => Entry {
                references: message.references.clone(),
                obsolete: false,
                ..entry
            },
            None => {
                changes.added += 1;
                Entry {
                    references: message.references.clone(),
                    msgid: message.msgid.clone(),
                    ..Entry::default()
                }
            }
        };
        catalog.entries.push(entry);
    }

    let mut seen = HashSet::new();
    for entry in &old.entries {
        if wanted.contains(entry.msgid.as_str()) || !seen.insert((&entry.msgid, entry.obsolete)) {
            continue;
        }
        let translated = !entry.msgstr.trim().is_empty();
        if prune || !translated {
            changes.dropped += 1;
            continue;
        }
        if !entry.obsolete {
            changes.obsoleted += 1;
        }
        catalog.entries.push(Entry {
            references: Vec::new(),
            obsolete: true,
            ..entry.clone()
        });
    }
    (catalog, changes)
}
// ANCHOR_END: update

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::Book;
    use crate::segment::segment;

    fn sources(page: &str) -> Vec<Source> {
        let book = Book {
            root: "book".into(),
            src: "book/src".into(),
            title: None,
            config: toml::Table::new(),
        };
        book.messages_of("page.md", &segment(page))
    }

    fn translate(catalog: &mut Catalog, msgid: &str, msgstr: &str) {
        let entry = catalog
            .entries
            .iter_mut()
            .find(|entry| entry.msgid == msgid)
            .expect("the entry is there");
        entry.msgstr = msgstr.into();
    }

    #[test]
    fn a_changed_paragraph_is_a_stale_entry_and_a_new_empty_one() {
        let english = "# Title\n\nThe first paragraph.\n\nThe second one.\n";
        let (mut catalog, changes) = update(&Catalog::new("ru"), &sources(english), false);
        assert_eq!(changes.added, 3);
        translate(&mut catalog, "Title", "Заголовок");
        translate(&mut catalog, "The first paragraph.", "Первый абзац.");
        translate(&mut catalog, "The second one.", "Второй.");

        let changed = "# Title\n\nThe first paragraph,\nrewritten.\n\nThe second one.\n";
        let (updated, changes) = update(&catalog, &sources(changed), false);
        assert_eq!(
            changes,
            Changes {
                added: 1,
                obsoleted: 1,
                dropped: 0
            }
        );
        let summary: Vec<(&str, &str, bool)> = updated
            .entries
            .iter()
            .map(|e| (e.msgid.as_str(), e.msgstr.as_str(), e.obsolete))
            .collect();
        assert_eq!(
            summary,
            [
                ("Title", "Заголовок", false),
                ("The first paragraph, rewritten.", "", false),
                ("The second one.", "Второй.", false),
                ("The first paragraph.", "Первый абзац.", true),
            ]
        );
        assert_eq!(updated.entries[1].references, ["page.md:3"]);

        // Pruning drops the obsolete entry; nothing else changes.
        let (pruned, changes) = update(&updated, &sources(changed), true);
        assert_eq!(changes.dropped, 1);
        assert_eq!(pruned.entries.len(), 3);
    }

    #[test]
    fn rewrapping_the_english_changes_nothing() {
        let english = "A paragraph that is\nwrapped here.\n";
        let (mut catalog, _) = update(&Catalog::new("ru"), &sources(english), false);
        translate(&mut catalog, "A paragraph that is wrapped here.", "Абзац.");
        let rewrapped = "A paragraph\nthat is wrapped\nhere.\n";
        let (updated, changes) = update(&catalog, &sources(rewrapped), false);
        assert_eq!(changes, Changes::default());
        assert_eq!(updated, catalog);
    }

    #[test]
    fn an_obsolete_translation_comes_back_with_its_text() {
        let english = "Before.\n";
        let (mut catalog, _) = update(&Catalog::new("ru"), &sources(english), false);
        translate(&mut catalog, "Before.", "До.");
        let (without, _) = update(&catalog, &sources("After.\n"), false);
        let (back, changes) = update(&without, &sources(english), false);
        assert_eq!(changes.added, 0);
        assert_eq!(back.translate("Before.").as_deref(), Some("До."));
        assert!(back.entries.iter().all(|entry| entry.msgid != "After."));
    }

    #[test]
    fn untranslated_entries_the_page_lost_are_dropped() {
        let (catalog, _) = update(&Catalog::new("ru"), &sources("Old.\n"), false);
        let (updated, changes) = update(&catalog, &sources("New.\n"), false);
        assert_eq!(changes.dropped, 1);
        assert_eq!(updated.entries.len(), 1);
        assert_eq!(updated.entries[0].msgid, "New.");
    }
}
