//! Loading a project: which files, which variables, which name.
//!
//! `docker compose up` in a directory finds its file by itself: it looks
//! for `compose.yaml`, `compose.yml`, `docker-compose.yaml`,
//! `docker-compose.yml` in the current directory, then in each parent,
//! and adds `compose.override.yaml` (or `.yml`, or the `docker-` names)
//! found beside it. `-f` names the files instead (several: merged in
//! order), and so does `COMPOSE_FILE`.
//!
//! The variables for `${...}` come from the shell, then from the project
//! directory's `.env` (replaced by `--env-file`s when given); the shell
//! wins. The project's name comes from `-p`, else `COMPOSE_PROJECT_NAME`,
//! else the top-level `name:`, else the project directory's name made
//! valid (lowercase letters, digits, `_` and `-`). It prefixes everything
//! the project creates: containers `NAME-web-1`, networks `NAME_default`.
//!
//! Then, per file: parse ([`crate::node`]), substitute
//! ([`crate::interpolate`]), type ([`crate::de`]); then merge the files
//! ([`crate::merge`]), resolve ([`crate::resolve`]) and check
//! ([`crate::validate`]).

use crate::de::from_node;
use crate::error::{ComposeError, Invalid, Warning};
use crate::interpolate::{Unset, interpolate, substitute};
use crate::model::ComposeFile;
use crate::node::{self, Node, Origin, Value};
use crate::resolve::{Project, resolve};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The names `docker compose` looks for, in its order of preference.
pub const DEFAULT_FILES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// The override files it adds beside the one it found.
pub const OVERRIDE_FILES: [&str; 4] = [
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yaml",
    "docker-compose.override.yml",
];

/// What the command line and the shell say (the binary fills this from
/// its flags and `std::env::vars()`; tests fill it by hand).
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The directory the command runs in (relative paths start here).
    pub working_dir: PathBuf,
    /// `-f`: the files, in merge order (empty: look them up).
    pub files: Vec<PathBuf>,
    /// `--project-directory` (default: the first file's directory).
    pub project_directory: Option<PathBuf>,
    /// `-p`.
    pub project_name: Option<String>,
    /// `--env-file`, in order (empty: the project directory's `.env`).
    pub env_files: Vec<PathBuf>,
    /// `--profile`, each (empty: `COMPOSE_PROFILES`).
    pub profiles: Vec<String>,
    /// The shell's environment.
    pub environment: BTreeMap<String, String>,
}

/// The parsed files, kept to point errors found after the merge at the
/// place a key was written.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// One tree per file, in merge order.
    pub trees: Vec<Node>,
}

impl Sources {
    /// Where the key at `path` was written (in the last file that has it),
    /// or, failing that, the closest enclosing key that was.
    pub fn locate(&self, path: &[&str]) -> Option<Origin> {
        (1..=path.len()).rev().find_map(|len| {
            self.trees
                .iter()
                .rev()
                .find_map(|tree| tree.find_key(&path[..len]).map(|key| key.at.clone()))
        })
    }

    /// An [`Invalid`] about the key at `path`.
    pub fn invalid(&self, path: &[&str], message: impl Into<String>) -> Invalid {
        Invalid {
            message: message.into(),
            path: path.join("."),
            at: self.locate(path),
        }
    }
}

// ANCHOR: load
/// Loads, merges, resolves and checks a project.
pub fn load(options: &LoadOptions) -> Result<Project, ComposeError> {
    let mut warnings = Vec::new();
    let files = compose_files(options, &mut warnings)?;
    let project_dir = match &options.project_directory {
        Some(dir) => options.working_dir.join(dir),
        None => files[0]
            .parent()
            .map_or_else(|| options.working_dir.clone(), Path::to_path_buf),
    };
    let mut vars = variables(options, &project_dir)?;
    let profiles = if options.profiles.is_empty() {
        split_list(vars.get("COMPOSE_PROFILES").map_or("", String::as_str), ',')
    } else {
        options.profiles.clone()
    };

    let mut trees = Vec::new();
    for path in &files {
        trees.push(read_tree(path, &options.working_dir, &mut warnings)?);
    }
    let name = project_name(options, &vars, &trees, &project_dir)?;
    vars.entry("COMPOSE_PROJECT_NAME".into())
        .or_insert_with(|| name.clone());

    let lookup = |variable: &str| vars.get(variable).cloned();
    let mut unset: Vec<Unset> = Vec::new();
    let mut merged = ComposeFile::default();
    for tree in &mut trees {
        interpolate(tree, &lookup, &mut unset)?;
        let file: ComposeFile = from_node(tree)?;
        merged = crate::merge::merge_files(merged, file);
    }
    let mut warned = Vec::new();
    for u in unset {
        if !warned.contains(&u.name) {
            warnings.push(Warning {
                message: format!(
                    "the {:?} variable is not set, defaulting to a blank string",
                    u.name
                ),
                at: Some(u.at),
            });
            warned.push(u.name);
        }
    }

    let sources = Sources { trees };
    let mut project = resolve(merged, name, project_dir, files, vars, profiles, &sources)?;
    crate::validate::validate(&mut project, &sources)?;
    project.warnings.splice(0..0, warnings);
    Ok(project)
}
// ANCHOR_END: load

/// Reads and parses one file; its top level must be a mapping. The
/// obsolete `version:` is dropped with a warning, as docker compose does.
fn read_tree(
    path: &Path,
    working_dir: &Path,
    warnings: &mut Vec<Warning>,
) -> Result<Node, ComposeError> {
    let text = std::fs::read_to_string(path).map_err(|source| ComposeError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let shown = path
        .strip_prefix(working_dir)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned();
    let mut tree = node::parse(&text, &shown)?;
    match &mut tree.value {
        Value::Map(entries) => {
            if let Some(i) = entries.iter().position(|(k, _)| k.name == "version") {
                let (key, _) = entries.remove(i);
                warnings.push(Warning {
                    message: "the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion".into(),
                    at: Some(key.at),
                });
            }
        }
        Value::Null => {
            return Err(Invalid {
                message: "the file is empty: a compose file needs at least `services:`".into(),
                path: String::new(),
                at: Some(tree.at.clone()),
            }
            .into());
        }
        _ => {
            return Err(Invalid {
                message: format!(
                    "a compose file is a mapping (services:, networks:, ...), not {}",
                    tree.kind()
                ),
                path: String::new(),
                at: Some(tree.at.clone()),
            }
            .into());
        }
    }
    Ok(tree)
}

/// The files to load, absolute, in merge order.
pub fn compose_files(
    options: &LoadOptions,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<PathBuf>, ComposeError> {
    if !options.files.is_empty() {
        return Ok(options
            .files
            .iter()
            .map(|f| options.working_dir.join(f))
            .collect());
    }
    if let Some(list) = options
        .environment
        .get("COMPOSE_FILE")
        .filter(|l| !l.is_empty())
    {
        let separator = options
            .environment
            .get("COMPOSE_PATH_SEPARATOR")
            .and_then(|s| s.chars().next())
            .unwrap_or(':');
        return Ok(split_list(list, separator)
            .into_iter()
            .map(|f| options.working_dir.join(f))
            .collect());
    }
    find_default(&options.working_dir, warnings)
}

// ANCHOR: find_default
/// Looks for a compose file in `dir`, then in each parent directory; adds
/// the override file found beside it.
pub fn find_default(dir: &Path, warnings: &mut Vec<Warning>) -> Result<Vec<PathBuf>, ComposeError> {
    for candidate in dir.ancestors() {
        let found: Vec<PathBuf> = DEFAULT_FILES
            .iter()
            .map(|name| candidate.join(name))
            .filter(|path| path.is_file())
            .collect();
        let Some(main) = found.first() else { continue };
        if found.len() > 1 {
            warnings.push(Warning {
                message: format!(
                    "found multiple config files with supported names: {}; using {}",
                    found
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    main.display()
                ),
                at: None,
            });
        }
        let mut files = vec![main.clone()];
        if let Some(over) = OVERRIDE_FILES
            .iter()
            .map(|n| candidate.join(n))
            .find(|p| p.is_file())
        {
            files.push(over);
        }
        return Ok(files);
    }
    Err(ComposeError::NotFound {
        dir: dir.to_path_buf(),
    })
}
// ANCHOR_END: find_default

/// The variables for substitution: the env files (`--env-file`s, or the
/// project's `.env`), then the shell's environment over them.
fn variables(
    options: &LoadOptions,
    project_dir: &Path,
) -> Result<BTreeMap<String, String>, ComposeError> {
    let (files, required) = if options.env_files.is_empty() {
        (vec![project_dir.join(".env")], false)
    } else {
        (
            options
                .env_files
                .iter()
                .map(|f| options.working_dir.join(f))
                .collect(),
            true,
        )
    };
    let mut vars = BTreeMap::new();
    for path in files {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(ComposeError::Read { path, source }),
        };
        let shell = |name: &str| options.environment.get(name).cloned();
        let shown = path
            .strip_prefix(&options.working_dir)
            .unwrap_or(&path)
            .display()
            .to_string();
        for (key, value) in crate::dotenv::parse(&text, &shown, &shell)? {
            if let Some(value) = value.or_else(|| options.environment.get(&key).cloned()) {
                vars.insert(key, value);
            }
        }
    }
    vars.extend(
        options
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    Ok(vars)
}

/// Splits a `COMPOSE_FILE`- or `COMPOSE_PROFILES`-style list.
fn split_list(list: &str, separator: char) -> Vec<String> {
    list.split(separator)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

// ANCHOR: project_name
/// The project's name, by docker compose's precedence.
fn project_name(
    options: &LoadOptions,
    vars: &BTreeMap<String, String>,
    trees: &[Node],
    project_dir: &Path,
) -> Result<String, ComposeError> {
    let invalid = |name: &str, from: &str, at: Option<Origin>| {
        ComposeError::from(Invalid {
            message: format!(
                "invalid project name {name:?} (from {from}): use lowercase letters, digits, dashes and underscores, starting with a letter or digit, e.g. {:?}",
                normalize_project_name(name)
            ),
            path: String::new(),
            at,
        })
    };
    if let Some(name) = &options.project_name {
        return check_name(name).ok_or_else(|| invalid(name, "-p", None));
    }
    if let Some(name) = vars.get("COMPOSE_PROJECT_NAME").filter(|n| !n.is_empty()) {
        return check_name(name).ok_or_else(|| invalid(name, "COMPOSE_PROJECT_NAME", None));
    }
    if let Some(node) = trees.iter().rev().find_map(|t| t.get("name")) {
        let Value::Str(text) = &node.value else {
            return Err(invalid(
                &format!("{:?}", node.value),
                "name:",
                Some(node.at.clone()),
            ));
        };
        let lookup = |variable: &str| vars.get(variable).cloned();
        let name = substitute(text, &lookup, &mut Vec::new()).map_err(|source| {
            crate::interpolate::InterpolationError {
                at: node.at.clone(),
                path: "name".into(),
                source,
            }
        })?;
        return check_name(&name).ok_or_else(|| invalid(&name, "name:", Some(node.at.clone())));
    }
    let base = project_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = normalize_project_name(&base);
    if name.is_empty() {
        return Err(invalid(&base, "the project directory's name", None));
    }
    Ok(name)
}
// ANCHOR_END: project_name

fn check_name(name: &str) -> Option<String> {
    (!name.is_empty() && normalize_project_name(name) == name).then(|| name.to_string())
}

/// A directory name made into a project name: lowercase, only
/// `[a-z0-9_-]`, starting with a letter or digit.
///
/// ```
/// use ch07_compose::load::normalize_project_name;
/// assert_eq!(normalize_project_name("My App.v2"), "myappv2");
/// assert_eq!(normalize_project_name("_web-shop_"), "web-shop_");
/// ```
pub fn normalize_project_name(text: &str) -> String {
    let kept: String = text
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    kept.trim_start_matches(['_', '-']).to_string()
}

#[cfg(test)]
mod tests;
