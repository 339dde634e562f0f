//! The files a COPY or ADD takes, and where each one lands.
//!
//! A source is a path in a *tree*: the build context (what .dockerignore
//! leaves of it), another stage or image (`--from`), or a downloaded file
//! (`ADD URL`). Docker's rules, which this module keeps:
//!
//! - Paths are relative to the tree's root, even when they start with `/`;
//!   a path that climbs above the root (`../secret`) is refused.
//! - A source may be a glob (`*.txt`, `src/[ab]*`): Go's `filepath.Match`,
//!   on the whole path, `*` never crossing a `/`.
//! - A directory is not copied itself: its *contents* are, into the
//!   destination.
//! - The destination is a directory when it ends with `/`, when it is an
//!   existing directory of the image, or when the source is a directory;
//!   then each file keeps its name in it. Several sources need a `/`.
//! - A symbolic link is copied as a link: a link in the context that points
//!   outside it is never followed.

use super::error::SourceError;
use crate::dockerignore::{ContextEntry, EntryKind, glob_match};
use sha2::{Digest as _, Sha256};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A tree a COPY reads from, listed (parents before children).
#[derive(Debug, Clone)]
pub struct Tree {
    /// Where it is on the host (the context; a stage's mounted view).
    pub root: PathBuf,
    /// What the build may see of it.
    pub entries: Vec<ContextEntry>,
}

/// A source as matched: a path of its tree (empty for the tree's root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub path: String,
    pub kind: EntryKind,
}

// ANCHOR: clean
/// A source path made relative and clean: `/a/./b/` is `a/b`, `.` is the
/// root (empty); `..` may not leave the root.
pub fn clean(source: &str) -> Result<String, SourceError> {
    let mut parts: Vec<&str> = Vec::new();
    for part in source.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(SourceError::OutsideContext(source.to_string()));
                }
            }
            part => parts.push(part),
        }
    }
    Ok(parts.join("/"))
}
// ANCHOR_END: clean

/// Whether a source is a pattern rather than a path.
pub fn is_glob(source: &str) -> bool {
    source.contains(['*', '?', '['])
}

/// The sources `source` (cleaned) names in `tree`: the entry with that
/// path, or every entry that the glob matches.
pub fn select(tree: &Tree, source: &str) -> Vec<Match> {
    if source.is_empty() {
        return vec![Match {
            path: String::new(),
            kind: EntryKind::Dir,
        }];
    }
    let glob = is_glob(source);
    tree.entries
        .iter()
        .filter(|entry| {
            if glob {
                glob_match(source, &entry.path)
            } else {
                entry.path == source
            }
        })
        .map(|entry| Match {
            path: entry.path.clone(),
            kind: entry.kind,
        })
        .collect()
}

/// The entries below the directory `dir` of `tree` (all, for the root).
pub fn below<'a>(tree: &'a Tree, dir: &str) -> impl Iterator<Item = &'a ContextEntry> {
    let prefix = format!("{dir}/");
    tree.entries
        .iter()
        .filter(move |entry| dir.is_empty() || entry.path.starts_with(&prefix))
}

/// Matched sources, each with the index of its tree.
pub type Matches = Vec<(usize, Match)>;

/// One entry to write into the image: from `source` (a path of tree
/// `tree`) to `target` (a path of the image, relative to its root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub tree: usize,
    pub source: String,
    pub target: String,
    pub kind: EntryKind,
}

/// The last component of a path.
fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn join(dir: &str, name: &str) -> String {
    match (dir.is_empty(), name.is_empty()) {
        (true, _) => name.to_string(),
        (_, true) => dir.to_string(),
        _ => format!("{dir}/{name}"),
    }
}

// ANCHOR: layout
/// Where every matched source lands. `matches` are (tree, match) pairs in
/// the order of the instruction; `dest` is absolute; `dest_is_dir` says
/// whether the image has a directory at `dest`. Returns the destination
/// as a directory to create (if the sources go into one) and the items.
pub fn layout(
    trees: &[Tree],
    matches: &[(usize, Match)],
    dest: &str,
    dest_is_dir: bool,
) -> Result<(Option<String>, Vec<Item>), SourceError> {
    let target_root = dest
        .trim_start_matches('/')
        .trim_end_matches('/')
        .to_string();
    let into_dir = dest.ends_with('/')
        || dest_is_dir
        || matches.len() > 1
        || matches.iter().any(|(_, m)| m.kind == EntryKind::Dir);
    if matches.len() > 1 && !dest.ends_with('/') && !dest_is_dir {
        return Err(SourceError::NotADirectory(dest.to_string()));
    }
    let mut items = Vec::new();
    for (tree, matched) in matches {
        if matched.kind == EntryKind::Dir {
            for entry in below(&trees[*tree], &matched.path) {
                let rest = match matched.path.is_empty() {
                    true => entry.path.as_str(),
                    false => &entry.path[matched.path.len() + 1..],
                };
                items.push(Item {
                    tree: *tree,
                    source: entry.path.clone(),
                    target: join(&target_root, rest),
                    kind: entry.kind,
                });
            }
        } else {
            let target = match into_dir {
                true => join(&target_root, base_name(&matched.path)),
                false => target_root.clone(),
            };
            items.push(Item {
                tree: *tree,
                source: matched.path.clone(),
                target,
                kind: matched.kind,
            });
        }
    }
    Ok((into_dir.then_some(target_root), items))
}
// ANCHOR_END: layout

// ANCHOR: content_hash
/// A digest of what the matched sources hold, for the cache key: for each
/// entry (a directory's contents included), its path, kind, mode, size and
/// the sha256 of its bytes (a link: its target). Times and owners are left
/// out, as docker leaves them out: touching a file does not invalidate the
/// cache, editing it does.
pub fn content_hash(trees: &[Tree], matches: &[(usize, Match)]) -> Result<String, std::io::Error> {
    let mut all = Sha256::new();
    for (tree, matched) in matches {
        let tree = &trees[*tree];
        let mut entries = vec![(matched.path.clone(), matched.kind)];
        if matched.kind == EntryKind::Dir {
            entries.extend(below(tree, &matched.path).map(|e| (e.path.clone(), e.kind)));
        }
        for (path, kind) in entries {
            let line = describe(&tree.root, &path, kind)?;
            all.update(line.as_bytes());
            all.update(b"\n");
        }
    }
    Ok(format!("sha256:{}", hex::encode(all.finalize())))
}
// ANCHOR_END: content_hash

/// One line of [`content_hash`]. The context is read without following a
/// symbolic link at the last component (the walk found no link above it).
fn describe(root: &Path, path: &str, kind: EntryKind) -> Result<String, std::io::Error> {
    let full = if path.is_empty() {
        root.to_path_buf()
    } else {
        root.join(path)
    };
    let meta = std::fs::symlink_metadata(&full)?;
    let mode = meta.mode() & 0o7777;
    let what = match kind {
        EntryKind::File => {
            let mut hasher = Sha256::new();
            let mut file = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&full)?;
            std::io::copy(&mut file, &mut hasher)?;
            hex::encode(hasher.finalize())
        }
        EntryKind::Symlink => std::fs::read_link(&full)?.display().to_string(),
        EntryKind::Dir | EntryKind::Other => String::new(),
    };
    // A directory's size is the file system's business, not its content.
    let size = if kind == EntryKind::Dir {
        0
    } else {
        meta.len()
    };
    Ok(format!("{kind:?} {path} {mode:o} {size} {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(paths: &[(&str, EntryKind)]) -> Tree {
        Tree {
            root: PathBuf::from("/ctx"),
            entries: paths
                .iter()
                .map(|(path, kind)| ContextEntry {
                    path: path.to_string(),
                    kind: *kind,
                })
                .collect(),
        }
    }

    #[test]
    fn sources_are_cleaned_and_may_not_climb_out() {
        assert_eq!(clean("/a/./b/").unwrap(), "a/b");
        assert_eq!(clean(".").unwrap(), "");
        assert_eq!(clean("a/../b").unwrap(), "b");
        assert_eq!(
            clean("../secret"),
            Err(SourceError::OutsideContext("../secret".into()))
        );
    }

    #[test]
    fn a_directory_copies_its_contents_and_files_keep_their_names_in_a_directory() {
        use EntryKind::{Dir, File};
        let t = tree(&[
            ("a.conf", File),
            ("b.conf", File),
            ("src", Dir),
            ("src/main.c", File),
            ("src/lib", Dir),
            ("src/lib/x.c", File),
        ]);
        let trees = [t];
        let pick = |source: &str| -> Matches {
            select(&trees[0], source)
                .into_iter()
                .map(|m| (0, m))
                .collect()
        };
        let targets = |matches: &Matches, dest: &str, is_dir: bool| {
            let (_, items) = layout(&trees, matches, dest, is_dir).unwrap();
            items.into_iter().map(|i| i.target).collect::<Vec<_>>()
        };
        assert_eq!(
            targets(&pick("src"), "/app", false),
            ["app/main.c", "app/lib", "app/lib/x.c"]
        );
        assert_eq!(
            targets(&pick("a.conf"), "/etc/app.conf", false),
            ["etc/app.conf"]
        );
        assert_eq!(targets(&pick("a.conf"), "/etc", true), ["etc/a.conf"]);
        assert_eq!(
            targets(&pick("*.conf"), "/etc/app/", false),
            ["etc/app/a.conf", "etc/app/b.conf"]
        );
        // Several sources, and the destination is no directory.
        assert_eq!(
            layout(&trees, &pick("*.conf"), "/etc/app", false).unwrap_err(),
            SourceError::NotADirectory("/etc/app".into())
        );
        assert!(pick("*.txt").is_empty());
        assert_eq!(pick("").len(), 1, "the root: the whole tree");
    }
}
