//! Compose binaries (chapter 7): `up` and `down` a project, not `run` a
//! container.
//!
//! Chapter 7's binary runs no container itself: it drives chapter 6's
//! engine from a compose file. So the checks of chapters 1 to 6 run
//! against the engine binary it is built on (the chapter below's, beside
//! it in the same target directory, or `--engine PATH`), and chapter 7's
//! checks run the compose binary on projects of the checker's own, in the
//! same state directory: the engine's verbs see what compose made, and
//! remove it at the end if compose did not.

use crate::target::{DEADLINE, Finished, Target};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether `bin` is a compose binary: it has `up` with compose's
/// `--exit-code-from`.
pub fn is_compose(bin: &Path) -> bool {
    Command::new(bin)
        .args(["up", "--help"])
        .output()
        .is_ok_and(|out| {
            out.status.success()
                && String::from_utf8_lossy(&out.stdout).contains("--exit-code-from")
        })
}

/// The engine the compose binary `bin` is checked with: `engine` if given,
/// else the binary of the chapter below in `bin`'s directory
/// (`ch06-network` beside `ch07-compose`).
pub fn engine_for(bin: &Path, engine: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(engine) = engine {
        return engine
            .canonicalize()
            .map_err(|e| format!("{}: {e}", engine.display()));
    }
    let name = bin.file_name().unwrap_or_default().to_string_lossy();
    let chapter: u32 = name
        .strip_prefix("ch")
        .and_then(|rest| rest.get(..2))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| {
            format!("{name} is a compose binary: give the engine it is built on with --engine PATH")
        })?;
    let dir = bin.parent().unwrap_or(Path::new("."));
    let prefix = format!("ch{:02}-", chapter.saturating_sub(1));
    let found = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|entry| entry.path())
        .find(|path| {
            let file = path.file_name().unwrap_or_default().to_string_lossy();
            file.starts_with(&prefix) && !file.contains('.') && path.is_file()
        });
    found.ok_or_else(|| {
        format!(
            "{name} is a compose binary, checked with the engine of the chapter below: no {prefix}* in {}; build it (cargo build -p {prefix}...) or give --engine PATH",
            dir.display()
        )
    })
}

impl Target {
    /// The binary chapter 7's checks drive: the compose binary, or the
    /// binary under test when it is not one (it then fails them).
    pub fn compose_bin(&self) -> &Path {
        self.compose.as_deref().unwrap_or(self.bin())
    }

    /// Whether the checks below chapter 7 run against the engine under a
    /// compose binary rather than against the binary under test.
    pub fn checks_below_on_engine(&self) -> bool {
        self.compose.is_some()
    }

    /// Writes `compose.yaml` (and `.env`, if any) of project `name` into a
    /// directory of its own under the scratch directory.
    pub fn project(&self, name: &str, yaml: &str, dotenv: Option<&str>) -> Result<Project, String> {
        let dir = self.work().join("projects").join(name);
        let io = |e: std::io::Error| format!("{}: {e}", dir.display());
        std::fs::create_dir_all(&dir).map_err(io)?;
        std::fs::write(dir.join("compose.yaml"), yaml).map_err(io)?;
        if let Some(dotenv) = dotenv {
            std::fs::write(dir.join(".env"), dotenv).map_err(io)?;
        }
        Ok(Project {
            name: name.to_string(),
            dir,
        })
    }

    /// `COMPOSE --root STATE -f DIR/compose.yaml -p NAME ARGS...`, from
    /// the project's directory, run to its end.
    pub fn compose(&self, project: &Project, args: &[&str]) -> Result<Finished, String> {
        let mut command = Command::new(self.compose_bin());
        command
            .arg("--root")
            .arg(self.state())
            .arg("-f")
            .arg(project.dir.join("compose.yaml"))
            .args(["-p", &project.name])
            .args(args)
            .current_dir(&project.dir);
        self.spawn(command)?.finish(DEADLINE)
    }
}

/// A compose project of the checker's.
pub struct Project {
    pub name: String,
    pub dir: PathBuf,
}
