//! Writing a starter workspace for chapter N.

use crate::markers::{self, MarkerError, Solution};
use std::path::{Path, PathBuf};

/// The crates every starter holds besides its chapters: the static probe
/// and the test kit (the chapters' tests use them), the checker the
/// learner runs against their own binary, and this tool (the checker's
/// tests use it). None depends on a chapter.
pub const SHARED_CRATES: [&str; 4] = ["probe", "testkit", "checker", "tools/starter"];

/// Files of the source workspace's root that a starter keeps as they are:
/// the lock file makes the starter build offline with the crates already
/// in cargo's cache.
pub const ROOT_FILES: [&str; 2] = ["Cargo.lock", "rustfmt.toml"];

/// A chapter crate of the source workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chapter {
    pub number: u32,
    /// Relative to the workspace: `chapters/03-cgroups`.
    pub dir: PathBuf,
    /// The package and binary name: `ch03-cgroups`.
    pub package: String,
}

/// What [`write_starter`] wrote.
#[derive(Debug, Clone)]
pub struct Starter {
    pub chapter: Chapter,
    /// The chapters copied complete, below [`Starter::chapter`].
    pub complete: Vec<Chapter>,
    /// The bodies now `todo!()`: each file (relative to the starter) and
    /// its solution.
    pub todos: Vec<(PathBuf, Solution)>,
}

/// Why a starter could not be written.
#[derive(Debug, thiserror::Error)]
pub enum StarterError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Marker { path: PathBuf, source: MarkerError },
    #[error("there is no chapter {0}: the chapters are {1}")]
    NoSuchChapter(u32, String),
    #[error("chapter {0} marks no solution: there is nothing for the learner to write")]
    NothingToWrite(u32),
    #[error(
        "{0} exists and is not empty: choose a new directory (a starter never overwrites work)"
    )]
    NotEmpty(PathBuf),
    #[error("{0}: {1}")]
    Manifest(PathBuf, String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StarterError + '_ {
    move |source| StarterError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The chapter crates under `source/chapters`, by number.
pub fn chapters(source: &Path) -> Result<Vec<Chapter>, StarterError> {
    let dir = source.join("chapters");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
        let entry = entry.map_err(io(&dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((number, topic)) = name.split_once('-') else {
            continue;
        };
        let Ok(number) = number.parse::<u32>() else {
            continue;
        };
        found.push(Chapter {
            number,
            dir: Path::new("chapters").join(&name),
            package: format!("ch{number:02}-{topic}"),
        });
    }
    found.sort_by_key(|c| c.number);
    Ok(found)
}

/// The solutions marked in a chapter's sources, with their files
/// (relative to `source`), in file order.
pub fn solutions_of(
    source: &Path,
    chapter: &Chapter,
) -> Result<Vec<(PathBuf, Solution)>, StarterError> {
    let mut found = Vec::new();
    for file in rust_files(&source.join(&chapter.dir).join("src"))? {
        let text = std::fs::read_to_string(&file).map_err(io(&file))?;
        let relative = file.strip_prefix(source).unwrap_or(&file).to_path_buf();
        let solutions = markers::solutions(&text).map_err(|source| StarterError::Marker {
            path: relative.clone(),
            source,
        })?;
        found.extend(solutions.into_iter().map(|s| (relative.clone(), s)));
    }
    Ok(found)
}

/// Writes the starter of chapter `number` from the workspace at `source`
/// into `dest` (which must be missing or empty).
pub fn write_starter(source: &Path, number: u32, dest: &Path) -> Result<Starter, StarterError> {
    let all = chapters(source)?;
    let Some(chapter) = all.iter().find(|c| c.number == number).cloned() else {
        let numbers: Vec<String> = all.iter().map(|c| c.number.to_string()).collect();
        return Err(StarterError::NoSuchChapter(number, numbers.join(", ")));
    };
    if solutions_of(source, &chapter)?.is_empty() {
        return Err(StarterError::NothingToWrite(number));
    }
    if dest.exists() && std::fs::read_dir(dest).map_err(io(dest))?.next().is_some() {
        return Err(StarterError::NotEmpty(dest.to_path_buf()));
    }
    let complete: Vec<Chapter> = all.iter().filter(|c| c.number < number).cloned().collect();
    let mut crates: Vec<PathBuf> = complete.iter().map(|c| c.dir.clone()).collect();
    crates.push(chapter.dir.clone());
    crates.extend(SHARED_CRATES.iter().map(PathBuf::from));

    for dir in &crates {
        copy_tree(&source.join(dir), &dest.join(dir))?;
    }
    let mut todos = Vec::new();
    for file in rust_files(&dest.join(&chapter.dir).join("src"))? {
        let text = std::fs::read_to_string(&file).map_err(io(&file))?;
        let relative = file.strip_prefix(dest).unwrap_or(&file).to_path_buf();
        let (replaced, solutions) =
            markers::with_todos(&text).map_err(|source| StarterError::Marker {
                path: relative.clone(),
                source,
            })?;
        if !solutions.is_empty() {
            std::fs::write(&file, replaced).map_err(io(&file))?;
            todos.extend(solutions.into_iter().map(|s| (relative.clone(), s)));
        }
    }
    for name in ROOT_FILES {
        let from = source.join(name);
        std::fs::copy(&from, dest.join(name)).map_err(io(&from))?;
    }
    let manifest_path = source.join("Cargo.toml");
    let manifest = std::fs::read_to_string(&manifest_path).map_err(io(&manifest_path))?;
    let manifest = starter_manifest(&manifest, &crates)
        .map_err(|problem| StarterError::Manifest(manifest_path.clone(), problem))?;
    write(&dest.join("Cargo.toml"), &manifest)?;
    write(&dest.join(".gitignore"), "/target\n")?;
    let starter = Starter {
        chapter,
        complete,
        todos,
    };
    write(&dest.join("README.md"), &readme(&starter))?;
    Ok(starter)
}

fn write(path: &Path, text: &str) -> Result<(), StarterError> {
    std::fs::write(path, text).map_err(io(path))
}

/// The starter's `Cargo.toml`: the source workspace's, with only `crates`
/// as members, only their path dependencies, and the lints that a body
/// still to be written trips (unused helpers, unused parameters) allowed.
///
/// The source manifest is ours and simple, so this edits lines rather
/// than parsing TOML: `members = [...]` on one line, and each path
/// dependency on one line of `[workspace.dependencies]`.
pub fn starter_manifest(manifest: &str, crates: &[PathBuf]) -> Result<String, String> {
    let mut out = String::new();
    let mut members_seen = false;
    let mut lints_seen = false;
    for line in manifest.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("members") && trimmed.contains('[') {
            if !trimmed.ends_with(']') {
                return Err("the workspace members must be listed on one line".into());
            }
            let list: Vec<String> = crates
                .iter()
                .map(|c| format!("{:?}", c.to_string_lossy()))
                .collect();
            out.push_str(&format!("members = [{}]\n", list.join(", ")));
            members_seen = true;
            continue;
        }
        if let Some(path) = path_dependency(trimmed)
            && !crates.iter().any(|c| c == Path::new(path))
        {
            continue; // a crate the starter does not hold
        }
        out.push_str(line);
        out.push('\n');
        if trimmed == "[workspace.lints.rust]" {
            lints_seen = true;
            out.push_str(LINT_ALLOWANCES);
        }
    }
    if !members_seen {
        return Err("no `members = [...]` line in [workspace]".into());
    }
    if !lints_seen {
        out.push_str("\n[workspace.lints.rust]\n");
        out.push_str(LINT_ALLOWANCES);
    }
    Ok(out)
}

const LINT_ALLOWANCES: &str = "\
# The starter's todo!()s leave the helpers they will call unused, and their
# parameters too: remove this line once your chapter is done.
unused = { level = \"allow\", priority = -1 }
";

/// `name = { path = \"dir\" }` gives `dir`.
fn path_dependency(line: &str) -> Option<&str> {
    let rest = line.split_once("path = \"")?.1;
    rest.split_once('"').map(|(path, _)| path)
}

fn readme(starter: &Starter) -> String {
    let chapter = &starter.chapter;
    let mut todos = String::new();
    for (file, solution) in &starter.todos {
        todos.push_str(&format!(
            "- `{}` in `{}`: {}\n",
            solution.id,
            file.display(),
            solution.todo
        ));
    }
    let below = match starter.complete.len() {
        0 => "No chapter comes before this one.".to_string(),
        n => format!("Chapters 1 to {n} are complete: they are the engine you build on."),
    };
    format!(
        "# skiff, chapter {number}: your turn\n\n\
         {below} In chapter {number} (`{dir}`) the bodies below are `todo!()`:\n\
         write them, reading the book section each one names.\n\n\
         {todos}\n\
         Build and run (as root, like every chapter binary):\n\n\
         ```console\n\
         cargo build --offline\n\
         sudo target/debug/{package} --help\n\
         ```\n\n\
         The binary stops at the first `todo!()` it reaches, with the text above.\n\
         Check your engine from outside, as the course does:\n\n\
         ```console\n\
         cargo build --offline -p skiff-check\n\
         sudo target/debug/skiff-check {number}\n\
         ```\n\n\
         Each check prints `ok` or `FAIL` with the book section to read. The\n\
         checks of the chapters below must stay green.\n",
        number = chapter.number,
        dir = chapter.dir.display(),
        package = chapter.package,
    )
}

/// The `.rs` files under `dir`, sorted.
fn rust_files(dir: &Path) -> Result<Vec<PathBuf>, StarterError> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let path = entry.map_err(io(&dir))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Copies a crate's directory, leaving out build output and insta's
/// pending snapshots.
fn copy_tree(from: &Path, to: &Path) -> Result<(), StarterError> {
    std::fs::create_dir_all(to).map_err(io(to))?;
    for entry in std::fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        let name = entry.file_name();
        let name_text = name.to_string_lossy();
        if name_text == "target"
            || name_text.ends_with(".snap.new")
            || name_text.ends_with(".pending-snap")
        {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type().map_err(io(&path))?;
        if kind.is_dir() {
            copy_tree(&path, &to.join(&name))?;
        } else if kind.is_file() {
            std::fs::copy(&path, to.join(&name)).map_err(io(&path))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"[workspace]
resolver = "3"
members = ["chapters/*", "final", "probe", "testkit", "tests"]

[workspace.dependencies]
ch01-process = { path = "chapters/01-process" }
ch02-namespaces = { path = "chapters/02-namespaces" }
skiff = { path = "final" }
skiff-testkit = { path = "testkit" }
anyhow = "1"

[workspace.lints.rust]
unsafe_op_in_unsafe_fn = "deny"
"#;

    #[test]
    fn the_manifest_keeps_only_the_crates_of_the_starter() {
        let crates = [
            PathBuf::from("chapters/01-process"),
            PathBuf::from("testkit"),
        ];
        let out = starter_manifest(MANIFEST, &crates).unwrap();
        assert!(out.contains("members = [\"chapters/01-process\", \"testkit\"]\n"));
        assert!(out.contains("ch01-process = { path"));
        assert!(out.contains("skiff-testkit = { path"));
        assert!(!out.contains("ch02-namespaces"));
        assert!(!out.contains("skiff = "));
        assert!(out.contains("anyhow = \"1\""));
        assert!(out.contains("unsafe_op_in_unsafe_fn = \"deny\"\n"));
        assert!(out.contains("unused = { level = \"allow\", priority = -1 }"));
    }

    #[test]
    fn a_manifest_without_members_is_refused() {
        assert!(starter_manifest("[workspace]\n", &[]).is_err());
    }
}
