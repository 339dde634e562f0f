//! The bench's flags.

use std::path::PathBuf;

/// skiff's daemon against dockerd: run, exec, ps, compose and memory, with medians
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "bench-engine")]
pub struct Options {
    /// Measured rounds of each timed scenario (the median is reported)
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub iterations: u32,
    /// Rounds run first and thrown away: caches, lazy initialisation
    #[arg(long, default_value_t = 3)]
    pub warmup: u32,
    /// Containers kept running for `ps` and for the memory of the shims
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub containers: u32,
    /// Measure skiff alone: no dockerd (the comparison columns say so)
    #[arg(long)]
    pub skiff_only: bool,
    /// Also write the report as JSON to this file
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// The docker CLI used for both engines [default: /usr/local/bin/docker,
    /// else /usr/bin/docker]
    #[arg(long, value_name = "PATH")]
    pub docker_cli: Option<PathBuf>,
    /// docker-compose (1.29, Debian's) for the compose scenario's
    /// comparison lanes [default: /usr/bin/docker-compose]
    #[arg(long, value_name = "PATH")]
    pub docker_compose: Option<PathBuf>,
    /// Measured rounds of the compose scenario, whose rounds take seconds
    /// (after the same `--warmup`)
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub compose_iterations: u32,
    /// Leave out the compose scenario (`up -d` to healthy, `down -v`)
    #[arg(long)]
    pub no_compose: bool,
    /// Passed by `cargo bench` to every bench binary; nothing to do with it
    #[arg(long, hide = true)]
    pub bench: bool,
}

impl Options {
    /// The docker CLI to use, or why there is none.
    pub fn docker_cli(&self) -> Result<PathBuf, String> {
        let candidates = match &self.docker_cli {
            Some(path) => vec![path.clone()],
            None => vec![
                PathBuf::from("/usr/local/bin/docker"),
                PathBuf::from("/usr/bin/docker"),
            ],
        };
        candidates
            .iter()
            .find(|path| path.exists())
            .cloned()
            .ok_or_else(|| {
                format!(
                    "no docker CLI at {}: install Debian's docker.io (scripts/bench-engine does)",
                    candidates
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(" or ")
                )
            })
    }
}

impl Options {
    /// docker-compose, or why there is none.
    pub fn docker_compose(&self) -> Result<PathBuf, String> {
        let path = self
            .docker_compose
            .clone()
            .unwrap_or_else(|| PathBuf::from("/usr/bin/docker-compose"));
        if path.exists() {
            Ok(path)
        } else {
            Err(format!(
                "no docker-compose at {}: install Debian's docker-compose (scripts/bench-engine does)",
                path.display()
            ))
        }
    }
}
