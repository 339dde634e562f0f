//! The tool on a tiny book (`tests/fixtures/tiny`), as the test command
//! uses it on the real one: `check`, `build`, then `mdbook build`.
//!
//! The fixture's Russian catalogs translate `SUMMARY.md` and `intro.md`
//! completely (both listed in `TRANSLATED`) and one heading of `later.md`,
//! which is not listed and so must stay all English.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A copy of the fixture in a temporary directory (the tool writes into
/// the book it is given), with the book's path.
struct Fixture {
    _dir: tempfile::TempDir,
    book: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny");
    copy_tree(&from, dir.path());
    Fixture {
        book: dir.path().join("book"),
        _dir: dir,
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Runs `book-i18n --book BOOK ARGS...`.
fn tool(book: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_book-i18n"))
        .arg("--book")
        .arg(book)
        .args(args)
        .output()
        .expect("run book-i18n")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn succeeds(output: Output) -> String {
    assert!(
        output.status.success(),
        "book-i18n failed:\n{}{}",
        stdout(&output),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout(&output)
}

/// `mdbook build DIR`, which must print no warning (the test command's rule).
fn mdbook_build(dir: &Path) {
    let output = Command::new("mdbook")
        .arg("build")
        .arg(dir)
        .output()
        .expect("mdbook 0.5 must be installed (scripts/setup installs it)");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "mdbook build failed:\n{log}");
    assert!(
        !log.contains("WARN") && !log.contains("ERROR"),
        "mdbook warned:\n{log}"
    );
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn the_russian_book_has_the_translations_and_english_where_there_are_none() {
    let fixture = fixture();
    succeeds(tool(&fixture.book, &["check", "ru"]));
    let report = succeeds(tool(&fixture.book, &["build", "ru"]));
    assert!(report.contains("next: mdbook build"), "{report}");
    mdbook_build(&fixture.book.join("ru"));

    let html = fixture.book.join("ru/book");
    let intro = read(&html.join("intro.html"));
    assert!(intro.contains("<html lang=\"ru\""), "{intro}");
    assert!(
        intro.contains("<title>Введение - Маленькая книга</title>"),
        "{intro}"
    );
    for translated in [
        "Контейнер — это обычный процесс, которому ядро показывает мир иначе",
        "<td>своё имя хоста</td>",
        "<strong>Сигналы.</strong> Движок передаёт их дальше через <code>kill</code>.",
        "Примечание в две строки.",
    ] {
        assert!(
            intro.contains(translated),
            "{translated} missing from:\n{intro}"
        );
    }
    // The code comes from the source file, through the same include.
    assert!(intro.contains("hello from the included source"), "{intro}");
    assert!(
        intro.contains("class=\"listing-file\">code/hello.rs</div>"),
        "{intro}"
    );
    // A cell with nothing to translate is there as it was.
    assert!(intro.contains("<td><code>[PID]</code></td>"), "{intro}");
    // A translated heading keeps its English id, which links point to.
    assert!(
        intro.contains("id=\"reading-the-transcripts\"><a class=\"header\" href=\"#reading-the-transcripts\">Как читать транскрипты</a>"),
        "{intro}"
    );
    assert!(
        intro.contains("href=\"later.html#reading-the-transcripts\""),
        "{intro}"
    );

    // The chapter not listed as translated is all English, even the
    // heading its catalog translates; its title in the table of contents
    // is the summary's translation.
    let later = read(&html.join("later.html"));
    assert!(later.contains("This chapter is not translated yet, so it stays in English."));
    assert!(later.contains(">A later chapter</a></h1>"), "{later}");
    assert!(!later.contains("Следующая глава</a></h1>"), "{later}");
    let toc = read(&html.join("toc.html"));
    assert!(toc.contains("Следующая глава"), "{toc}");
}

#[test]
fn with_no_translation_the_translated_book_is_the_english_book() {
    // Every page goes through the cutter and the writer (`--partial`), with
    // catalogs that translate nothing: the HTML must be the English HTML,
    // so cutting the pages, joining them again and pinning the headings'
    // ids lose nothing.
    let fixture = fixture();
    succeeds(tool(&fixture.book, &["extract", "de"]));
    succeeds(tool(&fixture.book, &["build", "de", "--partial"]));
    mdbook_build(&fixture.book);
    mdbook_build(&fixture.book.join("de"));
    for page in ["intro.html", "later.html", "print.html", "toc.html"] {
        let english = read(&fixture.book.join("book").join(page));
        let german = read(&fixture.book.join("de/book").join(page));
        assert_eq!(
            german.replace("lang=\"de\"", "lang=\"en\""),
            english,
            "{page} differs"
        );
    }
}

#[test]
fn the_check_catches_a_changed_paragraph_and_a_missing_translation() {
    let fixture = fixture();
    let intro = fixture.book.join("src/intro.md");
    let changed = read(&intro).replace(
        "Each transcript is a snapshot the tests check.",
        "Each transcript is a snapshot that the tests check.",
    );
    std::fs::write(&intro, changed).unwrap();

    // The catalog has the old text and not the new.
    let output = tool(&fixture.book, &["check", "ru"]);
    assert!(!output.status.success());
    assert_eq!(
        stdout(&output),
        "intro.md: \"Each transcript is a snapshot that the tests...\": new English text, not in the catalog: run book-i18n extract ru, then translate it\n\
         intro.md: \"Each transcript is a snapshot the tests check.\": stale: the English page no longer has this text: run book-i18n extract ru\n"
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("2 problem(s)"),
        "{output:?}"
    );

    // After extract: a new empty entry, the old translation kept obsolete.
    let report = succeeds(tool(&fixture.book, &["extract", "ru"]));
    assert!(
        report.contains("intro.po: 1 new, 1 obsolete, 0 dropped"),
        "{report}"
    );
    let output = tool(&fixture.book, &["check", "ru"]);
    assert!(!output.status.success());
    assert_eq!(
        stdout(&output),
        "intro.md: \"Each transcript is a snapshot that the tests...\": not translated\n\
         intro.md: \"Each transcript is a snapshot the tests check.\": obsolete entry left: reuse its translation, then delete it (book-i18n extract ru --prune)\n"
    );

    // The book still builds: the changed paragraph falls back to English.
    succeeds(tool(&fixture.book, &["build", "ru"]));
    let page = read(&fixture.book.join("src-ru/intro.md"));
    assert!(
        page.contains("Each transcript is a snapshot that the tests check."),
        "{page}"
    );
    assert!(page.contains("Контейнер — это обычный процесс"), "{page}");
}

#[test]
fn a_page_listed_as_translated_must_be_complete() {
    let fixture = fixture();
    let list = fixture.book.join("po/ru/TRANSLATED");
    std::fs::write(&list, "SUMMARY.md\nintro.md\nlater.md\nmissing.md\n").unwrap();
    let output = tool(&fixture.book, &["check", "ru"]);
    assert!(!output.status.success());
    let lines = stdout(&output);
    let lines: Vec<&str> = lines.lines().collect();
    assert_eq!(
        lines,
        [
            "later.md: \"This chapter is not translated yet, so it stays...\": not translated",
            "later.md: \"Reading the transcripts\": not translated",
            "later.md: \"Its own section with the same title.\": not translated",
            &format!(
                "missing.md: listed in {} but not a page of the book: fix the name or remove the line",
                fixture
                    .book
                    .canonicalize()
                    .unwrap()
                    .join("po/ru/TRANSLATED")
                    .display()
            ),
        ]
    );
}

#[test]
fn the_catalogs_are_valid_gettext() {
    // What we write, any gettext tool reads: msgfmt (Debian's gettext)
    // compiles every catalog.
    let fixture = fixture();
    succeeds(tool(&fixture.book, &["extract", "ru"]));
    succeeds(tool(&fixture.book, &["extract", "de"]));
    for language in ["ru", "de"] {
        for page in ["SUMMARY", "intro", "later"] {
            let catalog = fixture.book.join(format!("po/{language}/{page}.po"));
            let output = Command::new("msgfmt")
                .args(["--check-format", "--check-domain", "-o", "/dev/null"])
                .arg(&catalog)
                .output()
                .expect("msgfmt must be installed (Debian's gettext; scripts/setup installs it)");
            assert!(
                output.status.success() && output.stderr.is_empty(),
                "{}: {}",
                catalog.display(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}
