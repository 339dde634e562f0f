//! What the build tests share: a registry with a busybox base image, an
//! engine root, a build context, and the snapshot filters of a build's
//! output.

#![allow(dead_code)]

use skiff_testkit::Transcript;
use skiff_testkit::registry::{Registry, RegistryAuth};
use skiff_testkit::transcript::Outcome;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_ch05-images");

/// A registry holding `test/busybox:v1` (busybox, the probe, `Cmd: sh`),
/// and a directory with the engine's root (`state/`) and build contexts.
pub struct Setup {
    pub registry: Registry,
    pub dir: tempfile::TempDir,
}

impl Setup {
    pub fn new() -> Setup {
        let registry = Registry::start(RegistryAuth::Open);
        let layout = skiff_testkit::images::busybox();
        registry.push(&layout.path(), "v1", "test/busybox");
        Setup {
            registry,
            dir: tempfile::Builder::new()
                .prefix("skiff-build-")
                .tempdir()
                .unwrap(),
        }
    }

    /// `127.0.0.1:PORT/test/busybox:v1`.
    pub fn base(&self) -> String {
        format!("{}/test/busybox:v1", self.registry.host())
    }

    /// A name in the registry: `127.0.0.1:PORT/NAME`.
    pub fn named(&self, name: &str) -> String {
        format!("{}/{name}", self.registry.host())
    }

    /// The engine's root.
    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// `ch05-images ARGS` on the engine root `state`, from the test's directory.
    pub fn ch05_in(&self, state: &str, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .env("SKIFF_ROOT", self.dir.path().join(state))
            .args(args)
            .current_dir(self.dir.path());
        command
    }

    pub fn ch05(&self, args: &[&str]) -> Command {
        self.ch05_in("state", args)
    }

    /// Writes a file of the test's directory (parents made).
    pub fn write(&self, path: &str, text: &str) {
        let path = self.dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub fn path(&self, path: &str) -> PathBuf {
        self.dir.path().join(path)
    }

    /// A setup step the transcript shows (`mkdir`, `echo`, `tar` ...), run
    /// with `sh -c` in the test's directory.
    pub fn shell(&self, t: &mut Transcript, script: &str) -> Outcome {
        t.setup(self.dir.path(), script)
    }

    /// Writes the file `path` of the test's directory (its directory must
    /// exist) as a step the transcript shows: `cat > PATH <<'EOF'`, the
    /// text, `EOF`. The quoted delimiter keeps `$BASE` as it is.
    pub fn write_shown(&self, t: &mut Transcript, path: &str, text: &str) -> Outcome {
        assert!(
            text.ends_with('\n') && !text.contains("\nEOF\n"),
            "{text:?}"
        );
        self.shell(t, &format!("cat > {path} <<'EOF'\n{text}EOF"))
    }

    /// Shows the switch to another engine root, as a learner makes it;
    /// the test then runs with the root `state` itself.
    pub fn switch_root(&self, t: &mut Transcript, state: &str) {
        t.typed(&format!("export SKIFF_ROOT=$PWD/{state}"), "");
    }

    /// Runs `ch05-images ARGS` (on the root `state`) into the transcript,
    /// shown with the registry's port as PORT.
    pub fn run(&self, t: &mut Transcript, state: &str, args: &[&str]) -> Outcome {
        let host = self.registry.host();
        let shown: Vec<String> = args
            .iter()
            .map(|a| a.replace(&host, "127.0.0.1:PORT"))
            .collect();
        t.run_shown(
            &skiff_testkit::transcript::command_line(Command::new("ch05-images").args(&shown)),
            &mut self.ch05_in(state, args),
            None,
        )
    }

    /// The ids of the containers of root `state`, running or not.
    pub fn containers(&self, state: &str) -> Vec<String> {
        list(&self.dir.path().join(state).join("containers"))
    }

    /// The unpacked layers of root `state`.
    pub fn layers(&self, state: &str) -> Vec<String> {
        list(&self.dir.path().join(state).join("layers"))
    }
}

impl Drop for Setup {
    /// A failed test may leave a container: remove it, with its mounts.
    fn drop(&mut self) {
        for state in ["state", "fresh", "third"] {
            for id in self.containers(state) {
                let _ = self.ch05_in(state, &["rm", "-f", &id]).output();
            }
        }
    }
}

/// The directories in a directory, sorted (none if it does not exist).
pub fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// What changes from run to run in a build transcript: the registry's
/// port, digests, short ids, sizes that depend on compression, and times.
pub const FILTERS: &[(&str, &str)] = &[
    (r"127\.0\.0\.1:\d+", "127.0.0.1:PORT"),
    (r"sha256:[0-9a-f]{64}", "sha256:[DIGEST]"),
    (r"\b[0-9a-f]{12}\b", "[SHORT-ID12]"),
    (r"(file|dir|multi):[0-9a-f]{16}…", "$1:[CONTENT-HASH16]…"),
    (r"\(\d+ bytes\)", "([N] bytes)"),
    (r"size: \d+", "size: [N]"),
    (
        r"(Less than a second|About a minute|\d+ seconds?|\d+ minutes?) ago",
        "[CREATED]",
    ),
];

/// The transcript as its snapshot holds it: [`FILTERS`] applied, tables
/// laid out again (see `skiff_testkit::scrub`).
pub fn scrubbed(text: &str) -> String {
    skiff_testkit::scrub(text, FILTERS)
}

/// The snapshot settings of build transcripts (give them [`scrubbed`]
/// text).
pub fn settings() -> insta::Settings {
    skiff_testkit::snapshot_settings()
}
