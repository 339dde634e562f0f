//! The checks, chapter by chapter.
//!
//! `skiff-check N` runs the checks of chapters 1 to N: a chapter's binary
//! keeps every behaviour of the chapters below, so the checks below must
//! stay green while a learner writes chapter N. Each check names the book
//! section that explains what it looks for.

mod ch1;
mod ch2;
mod ch3;
mod ch4;
mod ch5;
mod ch6;
mod ch7;

use crate::target::Target;

/// One behavioural check.
#[derive(Clone, Copy)]
pub struct Check {
    pub chapter: u32,
    /// `1.2`: chapter, then the check's number in it.
    pub id: &'static str,
    /// What the engine must do, as the line shows it.
    pub name: &'static str,
    /// The book section to read when it fails: `Chapter > Part > Section`.
    pub hint: &'static str,
    /// `Err(what went wrong)` when it fails.
    pub run: fn(&Target) -> Result<(), String>,
}

/// The checks of chapters 1 to `chapter`, in order.
pub fn checks(chapter: u32) -> Vec<Check> {
    [
        ch1::CHECKS.as_slice(),
        &ch2::CHECKS,
        &ch3::CHECKS,
        &ch4::CHECKS,
        &ch5::CHECKS,
        &ch6::CHECKS,
        &ch7::CHECKS,
    ]
    .into_iter()
    .flatten()
    .filter(|check| check.chapter <= chapter)
    .copied()
    .collect()
}

/// The last chapter that has checks.
pub const LAST: u32 = 7;

/// Fails unless `text` contains `wanted`, showing what it held instead.
fn expect_in(what: &str, text: &str, wanted: &str) -> Result<(), String> {
    if text.contains(wanted) {
        Ok(())
    } else {
        let text = crate::target::shorten(text.trim(), 200);
        Err(format!("{what} should contain {wanted:?}, it was {text:?}"))
    }
}
