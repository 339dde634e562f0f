//! The compose scenario (issue 13): one application of three services,
//! brought up and taken down by three clients with the same file:
//!
//! - `skiff compose` against skiff's daemon;
//! - `docker-compose` 1.29 (Debian's: Python and docker-py) against
//!   skiff's daemon;
//! - `docker-compose` against the bench's dockerd.
//!
//! Each round times `up -d` until the command returns, `up -d` until every
//! service is healthy, and `down -v`. docker-compose 1.29 has no `--wait`,
//! so the bench polls each container's `State.Health.Status` through the
//! API, every few milliseconds, the same way for both daemons (a CLI
//! started per poll would cost more than what it measures). The file's own
//! numbers are small (a check every 200 ms, SIGKILL to stop, so `down`
//! waits no grace period): what is left is what the engines and the
//! clients cost.
//!
//! What a round makes (three containers, a network, a volume) is gone at
//! its end: `down -v` removes it and the bench checks that it did. A round
//! that fails (or is interrupted) runs `down -v` again and then removes,
//! through the API, whatever still carries the project's name.

use super::dockerd::Dockerd;
use super::interrupt;
use super::options::Options;
use super::process::Cli;
use super::report::Column;
use super::scenarios::{self, Lane, Samples};
use super::skiffd::SkiffDaemon;
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use skiff::client::http::Endpoint;
use skiff::client::query;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The phases of a round, in the order of its samples.
pub const PHASES: [&str; 3] = [
    "compose up -d",
    "compose up -d -> all healthy",
    "compose down -v",
];

/// The services of the file, each with a healthcheck.
const SERVICES: [&str; 3] = ["store", "web", "worker"];

/// How often the bench asks the daemon for the services' health.
const POLL: Duration = Duration::from_millis(10);

/// No service of this file takes this long to be healthy unless
/// something is broken.
const HEALTHY_DEADLINE: Duration = Duration::from_secs(60);

/// The label compose puts on every container of a project.
const LABEL_PROJECT: &str = "com.docker.compose.project";

/// The application: its file, its image, its project name.
pub struct App {
    file: PathBuf,
    image: String,
    project: String,
    /// Rounds begun, for a new port each round.
    rounds: Cell<u16>,
}

impl App {
    /// The application of `image`, its file to be written in `dir`.
    pub fn new(dir: &Path, image: &str) -> Result<App> {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        Ok(App {
            file: dir.join("compose.yaml"),
            image: image.to_string(),
            // docker-compose 1.29 keeps only [-_a-z0-9] of a project name.
            project: format!("skiffbench{}", std::process::id()),
            rounds: Cell::new(0),
        })
    }

    /// (Re)writes the file with a free port of 127.0.0.1 to publish, a new
    /// one each round: after the bench's request through docker-proxy, the
    /// proxy's side of the connection waits in TIME_WAIT on the old port,
    /// and skiff reserves a host port by a `bind` that such a socket
    /// blocks (see chapter 6's `ports.rs`).
    fn write_file(&self) -> Result<u16> {
        let round = self.rounds.get();
        self.rounds.set(round.wrapping_add(1));
        let port = free_port(round)?;
        std::fs::write(&self.file, compose_file(&self.image, port))
            .with_context(|| format!("write {}", self.file.display()))?;
        Ok(port)
    }

    /// `-f FILE -p PROJECT` and then `args`.
    fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let file = self.file.to_str().expect("the bench's paths are UTF-8");
        let mut all = vec!["-f", file, "-p", &self.project];
        all.extend(args);
        all
    }

    /// One round with one client: up, wait for health, check the port,
    /// down, check that nothing is left.
    fn round(&self, compose: &Cli) -> Result<Vec<Duration>> {
        let port = self.write_file()?;
        let api = Api::of(compose)?;
        let mut guard = RoundGuard {
            app: self,
            compose,
            api: &api,
            finished: false,
        };
        let start = Instant::now();
        let (up, _) = compose.timed(&self.args(&["up", "-d"]))?;
        self.wait_healthy(&api)?;
        let healthy = start.elapsed();
        check_port(port)?;
        let (down, _) = compose.timed(&self.args(&["down", "-v"]))?;
        let left = self.leftovers(&api)?;
        if !left.is_empty() {
            bail!("`down -v` left {}", left.describe());
        }
        guard.finished = true;
        Ok(vec![up, healthy, down])
    }

    // ANCHOR: wait_healthy
    /// Polls the daemon until every service's container says `healthy`;
    /// fails at once when one says `unhealthy`.
    fn wait_healthy(&self, api: &Api) -> Result<()> {
        let deadline = Instant::now() + HEALTHY_DEADLINE;
        loop {
            interrupt::check()?;
            let states = self.health(api)?;
            if states.len() == SERVICES.len() && states.iter().all(|(_, s)| s == "healthy") {
                return Ok(());
            }
            if let Some((name, _)) = states.iter().find(|(_, s)| s == "unhealthy") {
                bail!("{name} became unhealthy: {states:?}");
            }
            if Instant::now() > deadline {
                bail!("not every service was healthy after {HEALTHY_DEADLINE:?}: {states:?}");
            }
            std::thread::sleep(POLL);
        }
    }

    /// The project's containers and their health (their state when they
    /// have no healthcheck, or are not running).
    fn health(&self, api: &Api) -> Result<Vec<(String, String)>> {
        let mut states = Vec::new();
        for id in self.containers(api)? {
            let inspect = api.get(&format!("/containers/{id}/json"))?;
            let state = &inspect["State"];
            let status = match state["Health"]["Status"].as_str() {
                Some(health) if state["Running"] == true => health,
                _ => state["Status"].as_str().unwrap_or("unknown"),
            };
            let name = inspect["Name"].as_str().unwrap_or(&id);
            states.push((name.trim_start_matches('/').to_string(), status.to_string()));
        }
        Ok(states)
    }
    // ANCHOR_END: wait_healthy

    /// The ids of the project's containers, running or not.
    fn containers(&self, api: &Api) -> Result<Vec<String>> {
        let filters = json!({"label": [format!("{LABEL_PROJECT}={}", self.project)]});
        let listed = api.get(&format!(
            "/containers/json{}",
            query(&[("all", "1".to_string()), ("filters", filters.to_string())])
        ))?;
        Ok(listed
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["Id"].as_str().map(String::from))
            .collect())
    }

    /// What of the project the daemon still has: containers by the
    /// project's label, networks and volumes by its name prefix.
    fn leftovers(&self, api: &Api) -> Result<Leftovers> {
        let prefix = format!("{}_", self.project);
        let named = |items: &Value| -> Vec<String> {
            items
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| item["Name"].as_str())
                .filter(|name| name.starts_with(&prefix))
                .map(String::from)
                .collect()
        };
        Ok(Leftovers {
            containers: self.containers(api)?,
            networks: named(&api.get("/networks")?),
            volumes: named(&api.get("/volumes")?["Volumes"]),
        })
    }

    /// Removes what is left of the project through the API.
    fn sweep(&self, api: &Api) {
        let left = match self.leftovers(api) {
            Ok(left) => left,
            Err(error) => {
                eprintln!("bench: could not list what compose left: {error:#}");
                return;
            }
        };
        if left.is_empty() {
            return;
        }
        eprintln!("bench: removing what compose left: {}", left.describe());
        let paths = (left.containers.iter())
            .map(|id| format!("/containers/{id}?force=1&v=1"))
            .chain(left.networks.iter().map(|n| format!("/networks/{n}")))
            .chain(left.volumes.iter().map(|v| format!("/volumes/{v}")));
        for path in paths {
            if let Err(error) = api.delete(&path) {
                eprintln!("bench: could not remove {path}: {error:#}");
            }
        }
    }
}

/// Every round of the compose scenario, lane by lane in each round.
pub fn up_down(lanes: &mut [Lane], options: &Options, app: &App) -> Result<Vec<Samples>> {
    scenarios::rounds(lanes, options, &PHASES, |compose| app.round(compose))
}

/// Runs `down -v` and sweeps when a round did not finish.
struct RoundGuard<'a> {
    app: &'a App,
    compose: &'a Cli,
    api: &'a Api,
    finished: bool,
}

impl Drop for RoundGuard<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if let Err(error) = self.compose.run(&self.app.args(&["down", "-v"])) {
            eprintln!("bench: compose down -v after a failed round: {error:#}");
        }
        self.app.sweep(self.api);
    }
}

struct Leftovers {
    containers: Vec<String>,
    networks: Vec<String>,
    volumes: Vec<String>,
}

impl Leftovers {
    fn is_empty(&self) -> bool {
        self.containers.is_empty() && self.networks.is_empty() && self.volumes.is_empty()
    }

    fn describe(&self) -> String {
        format!(
            "containers {:?}, networks {:?}, volumes {:?}",
            self.containers, self.networks, self.volumes
        )
    }
}

/// The daemon behind a client, spoken to directly: unversioned paths,
/// which skiff's daemon and dockerd 20.10 both take at their own version.
struct Api(Endpoint);

impl Api {
    fn of(cli: &Cli) -> Result<Api> {
        Endpoint::parse(cli.host())
            .map(Api)
            .map_err(anyhow::Error::msg)
    }

    fn request(&self, method: &str, path: &str) -> Result<Value> {
        let response = self
            .0
            .request(method, path, None, &[], false)
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status;
        let body = response
            .json()
            .with_context(|| format!("{method} {path}"))?;
        if status >= 400 {
            bail!("{method} {path}: {status} {body}");
        }
        Ok(body)
    }

    fn get(&self, path: &str) -> Result<Value> {
        self.request("GET", path)
    }

    fn delete(&self, path: &str) -> Result<Value> {
        self.request("DELETE", path)
    }
}

/// web's page through the published port: one request on loopback.
fn check_port(port: u16) -> Result<()> {
    let address = (Ipv4Addr::LOCALHOST, port);
    let mut stream = TcpStream::connect(address)
        .with_context(|| format!("connect to the published port 127.0.0.1:{port}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .context("read web's answer through the published port")?;
    if !answer.starts_with("HTTP/1.") || !answer.contains("web") {
        bail!("127.0.0.1:{port} did not answer with web's page: {answer:?}");
    }
    Ok(())
}

/// A port of 127.0.0.1 for this round: below the kernel's range of
/// ephemeral ports (`net.ipv4.ip_local_port_range`), where no outgoing
/// connection of the machine takes one while the round runs; a new one
/// each round (`round` counts them), so that no socket of an earlier
/// round lingers on it; and free now (nothing listens there).
fn free_port(round: u16) -> Result<u16> {
    let range =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let ephemeral: u16 = (range.split_whitespace().next())
        .and_then(|low| low.parse().ok())
        .unwrap_or(32768);
    let low = ephemeral.saturating_sub(8000).max(1024);
    let span = ephemeral - low;
    let start = (std::process::id() as u16)
        .wrapping_mul(61)
        .wrapping_add(round.wrapping_mul(7))
        % span;
    (0..span)
        .map(|step| low + (start + step) % span)
        .find(|&port| TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok())
        .with_context(|| format!("no free port of 127.0.0.1 in {low}..{ephemeral}"))
}

// ANCHOR: compose_file
/// The application: `store` (a web server whose page lives in a named
/// volume), `web` (published on 127.0.0.1) and `worker`, on one user
/// network; `web` and `worker` wait for `store` to be healthy, and their
/// own checks reach it by name. Written out in full (no anchors, no
/// `name:`) so that docker-compose 1.29 reads it as skiff compose does.
fn compose_file(image: &str, port: u16) -> String {
    format!(
        r#"# Written by the engine bench (final/benches/engine/bench/compose.rs).
services:
  store:
    image: {image}
    command: ["sh", "-c", "echo stored > /data/index.html && exec httpd -f -p 6379 -h /data"]
    volumes: ["data:/data"]
    networks: [backend]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:6379/"]
      interval: 200ms
      timeout: 2s
      retries: 50
    stop_signal: SIGKILL

  web:
    image: {image}
    command: ["sh", "-c", "mkdir -p /www && echo web > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: ["127.0.0.1:{port}:8080"]
    networks: [backend]
    depends_on:
      store:
        condition: service_healthy
    healthcheck:
      test: ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/ && wget -q -O /dev/null http://store:6379/"]
      interval: 200ms
      timeout: 2s
      retries: 50
    stop_signal: SIGKILL

  worker:
    image: {image}
    command: ["sleep", "86400"]
    networks: [backend]
    depends_on:
      store:
        condition: service_healthy
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://store:6379/"]
      interval: 200ms
      timeout: 2s
      retries: 50
    stop_signal: SIGKILL

networks:
  backend:

volumes:
  data:
"#
    )
}
// ANCHOR_END: compose_file

/// The compose scenario's figures, and why a column has none.
pub struct Figures {
    /// One set of samples per phase of [`PHASES`].
    pub samples: Vec<Samples>,
    pub unavailable: BTreeMap<Column, String>,
}

/// Writes the file in `dir`, makes a lane per client that can run it, and
/// runs the rounds. `dockerd` is the bench's dockerd, or why there is none.
pub fn measure(
    options: &Options,
    dir: &Path,
    image: &str,
    skiff: &SkiffDaemon,
    dockerd: Result<&Dockerd, &String>,
) -> Result<Figures> {
    let app = App::new(dir, image)?;
    let mut unavailable = BTreeMap::new();
    let mut lanes = vec![Lane {
        column: Column::Skiff,
        cli: skiff.cli.clone().with_prefix(&["compose"]),
        broken: None,
    }];
    match options.docker_compose() {
        Ok(program) => {
            lanes.push(Lane {
                column: Column::DockerCliOnSkiff,
                cli: skiff.client(&program),
                broken: None,
            });
            match dockerd {
                Ok(dockerd) => lanes.push(Lane {
                    column: Column::Docker,
                    cli: dockerd.client(&program),
                    broken: None,
                }),
                Err(reason) => {
                    unavailable.insert(Column::Docker, reason.clone());
                }
            }
        }
        Err(reason) => {
            eprintln!("\n!!! DOCKER-COMPOSE IS UNAVAILABLE: {reason}\n");
            unavailable.insert(Column::DockerCliOnSkiff, reason.clone());
            unavailable.insert(Column::Docker, reason);
        }
    }
    let options = Options {
        iterations: options.compose_iterations,
        ..options.clone()
    };
    let samples = up_down(&mut lanes, &options, &app)?;
    for lane in &lanes {
        if let Some(reason) = &lane.broken {
            unavailable.insert(lane.column, reason.clone());
        }
    }
    Ok(Figures {
        samples,
        unavailable,
    })
}
