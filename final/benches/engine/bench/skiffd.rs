//! A skiff daemon of the bench's own: a root and a socket in the bench's
//! temporary directory, stopped (its containers removed first) on drop.

use super::process::{self, Cli};
use anyhow::{Context, Result};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The skiff binary built with this bench (release under `cargo bench`).
pub const SKIFF: &str = env!("CARGO_BIN_EXE_skiff");

pub struct SkiffDaemon {
    dir: PathBuf,
    process: Option<Child>,
    /// The skiff CLI pointed at this daemon.
    pub cli: Cli,
}

impl SkiffDaemon {
    /// `skiff --root DIR/root -H unix://DIR/skiff.sock daemon`, once it answers.
    pub fn start(dir: &Path) -> Result<SkiffDaemon> {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        let mut daemon = SkiffDaemon {
            dir: dir.to_path_buf(),
            process: None,
            cli: Cli::new(
                Path::new(SKIFF),
                &dir.join("skiff.sock"),
                &dir.join("docker-config"),
            ),
        };
        daemon.launch()?;
        Ok(daemon)
    }

    fn launch(&mut self) -> Result<()> {
        let log_path = self.dir.join("daemon.log");
        let log = std::fs::File::create(&log_path)?;
        let process = Command::new(SKIFF)
            .arg("--root")
            .arg(self.dir.join("root"))
            .arg("-H")
            .arg(format!("unix://{}", self.dir.join("skiff.sock").display()))
            .arg("daemon")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // Ctrl-C reaches the bench, whose guards stop the daemon.
            .process_group(0)
            .spawn()
            .context("start the skiff daemon")?;
        let process = self.process.insert(process);
        let cli = self.cli.clone();
        process::wait_until(
            "the skiff daemon",
            process,
            &log_path,
            Duration::from_secs(30),
            || {
                cli.command(&["version"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|status| status.success())
            },
        )
    }

    /// Another CLI (the docker CLI) pointed at this daemon.
    pub fn client(&self, program: &Path) -> Cli {
        Cli::new(
            program,
            &self.dir.join("skiff.sock"),
            &self.dir.join("docker-config"),
        )
    }

    pub fn pid(&self) -> i32 {
        self.process.as_ref().map_or(0, |p| p.id() as i32)
    }

    /// The daemon and, once a container has started, its shim launcher
    /// (the daemon's child that forks the shims): what skiff keeps
    /// running besides the shims, as dockerd and containerd are for docker.
    pub fn pids(&self) -> Vec<i32> {
        let daemon = self.pid();
        let mut pids = vec![daemon];
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for entry in entries.flatten() {
                let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                    continue;
                };
                if super::memory::parent(pid).is_ok_and(|parent| parent == daemon)
                    && super::memory::command_line(pid).ends_with(" shim-launcher")
                {
                    pids.push(pid);
                }
            }
        }
        pids
    }
}

impl Drop for SkiffDaemon {
    /// Removes every container through the daemon (which releases their
    /// cgroups, mounts and shims), then stops it. A daemon that died is
    /// started again first: its containers outlived it.
    fn drop(&mut self) {
        let alive = self.process.as_mut().is_some_and(process::running);
        if !alive
            && self.dir.join("root").exists()
            && let Err(error) = self.launch()
        {
            eprintln!("bench: could not restart the skiff daemon to clean up: {error:#}");
        }
        remove_all_containers(&self.cli);
        if let Some(process) = self.process.as_mut() {
            process::stop(process, Duration::from_secs(10));
        }
    }
}

/// `rm -f` of every container the daemon behind `cli` knows, fifty a
/// command; what one pass leaves (an engine that failed a removal) gets
/// two more tries.
pub fn remove_all_containers(cli: &Cli) {
    for pass in 0..3 {
        let ids = match cli.run(&["ps", "-aq"]) {
            Ok(ids) => ids,
            Err(error) => {
                eprintln!("bench: could not list containers to remove them: {error:#}");
                return;
            }
        };
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if ids.is_empty() {
            return;
        }
        if pass > 0 {
            std::thread::sleep(Duration::from_millis(500));
        }
        for chunk in ids.chunks(50) {
            let mut args = vec!["rm", "-f"];
            args.extend(chunk);
            if let Err(error) = cli.run(&args) {
                eprintln!("bench: could not remove containers (pass {pass}): {error:#}");
            }
        }
    }
}
