//! `book-i18n`: the book's gettext catalogs, its translated copy, and the
//! check that translated pages are complete.

use anyhow::{Context, Result, bail};
use book_i18n::{Book, Language};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// The book in other languages: one gettext catalog per page and language
/// in book/po/LANG/, a translated copy of the book for mdbook, and a check
#[derive(Debug, Parser)]
#[command(name = "book-i18n")]
struct Cli {
    /// The English book (the directory of its book.toml)
    #[arg(long, value_name = "DIR", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../book"))]
    book: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Bring the catalogs of a language up to date with the English pages:
    /// new messages added empty, translations of unchanged ones kept,
    /// translations of removed ones kept as obsolete (#~)
    Extract {
        language: Language,
        /// Also drop the obsolete entries
        #[arg(long)]
        prune: bool,
    },
    /// Fail, with one line per problem, if a page listed in
    /// book/po/LANG/TRANSLATED has a message without a translation, a
    /// fuzzy one, a stale or obsolete entry, or a translation that changed
    /// inline code or a link target
    Check { language: Language },
    /// Write the translated book (book/src-LANG and book/LANG/book.toml);
    /// then `mdbook build book/LANG` builds it
    Build {
        language: Language,
        /// Also translate pages not listed as translated (to see a page in
        /// progress)
        #[arg(long)]
        partial: bool,
    },
    /// How many messages of each page are translated
    Status { language: Language },
}

fn main() {
    let cli = Cli::parse();
    if let Err(error) = run(&cli) {
        eprintln!("book-i18n: {error:#}");
        std::process::exit(1);
    }
}

fn run(cli: &Cli) -> Result<()> {
    let root = cli
        .book
        .canonicalize()
        .with_context(|| format!("the book {}", cli.book.display()))?;
    let book = Book::open(&root)?;
    match &cli.command {
        Command::Extract { language, prune } => extract(&book, language, *prune),
        Command::Check { language } => check(&book, language),
        Command::Build { language, partial } => build(&book, language, *partial),
        Command::Status { language } => status(&book, language),
    }
}

fn extract(book: &Book, language: &Language, prune: bool) -> Result<()> {
    let changed = book_i18n::extract(book, language, prune)?;
    for (page, changes) in &changed {
        println!(
            "{}: {} new, {} obsolete, {} dropped",
            book.catalog_path(language, page).display(),
            changes.added,
            changes.obsoleted,
            changes.dropped
        );
    }
    if changed.is_empty() {
        println!("the {language} catalogs are up to date");
    }
    Ok(())
}

fn check(book: &Book, language: &Language) -> Result<()> {
    let problems = book_i18n::check(book, language)?;
    for problem in &problems {
        println!("{problem}");
    }
    if !problems.is_empty() {
        bail!(
            "{} problem(s) in the pages {} lists as translated",
            problems.len(),
            book.catalog_dir(language).join("TRANSLATED").display()
        );
    }
    let pages = book.translated_pages(language)?.len();
    println!("{language}: {pages} translated page(s), complete and current");
    Ok(())
}

fn build(book: &Book, language: &Language, partial: bool) -> Result<()> {
    let built = book_i18n::build(book, language, partial)?;
    for (page, translated) in &built.pages {
        if translated.english > 0 {
            println!(
                "{page}: {} message(s) translated, {} in English",
                translated.translated, translated.english
            );
        }
    }
    println!(
        "wrote {} ({} translated page(s)); next: mdbook build {}",
        built.src.display(),
        built.pages.len(),
        built.root.display()
    );
    Ok(())
}

fn status(book: &Book, language: &Language) -> Result<()> {
    for status in book_i18n::status(book, language)? {
        println!(
            "{:>4}/{:<4} {}{}",
            status.translated,
            status.total,
            status.page,
            if status.listed { "  (translated)" } else { "" }
        );
    }
    Ok(())
}
