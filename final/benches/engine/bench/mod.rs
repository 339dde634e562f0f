//! The bench itself, a module so that a test can run it in a quick mode
//! (`final/tests/bench_engine.rs`) and it does not rot.

mod compose;
mod dockerd;
mod image;
mod interrupt;
pub mod memory;
pub mod options;
mod process;
pub mod report;
mod scenarios;
mod skiffd;
pub mod stats;

use anyhow::{Context, Result, bail};
use memory::Memory;
use options::Options;
use report::{Cell, Column, Report, Row, Unit};
use scenarios::{Lane, Samples};
use stats::Summary;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

/// Notes ctrl-C and SIGTERM so that the bench unwinds through its guards.
pub fn install_interrupt_handler() {
    interrupt::install();
}

/// Parses the flags, runs the bench, prints the table (and writes the
/// JSON): the exit code.
pub fn main_with(args: impl IntoIterator<Item = OsString>) -> i32 {
    use clap::Parser;
    let options = Options::parse_from(args);
    let report = match run(&options) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("bench-engine: {error:#}");
            return 1;
        }
    };
    print!("{}", report.table());
    if let Some(path) = &options.json {
        let text = serde_json::to_string_pretty(&report.json()).expect("a JSON value");
        if let Err(error) = std::fs::write(path, text + "\n") {
            eprintln!("bench-engine: write {}: {error}", path.display());
            return 1;
        }
    }
    0
}

/// Everything the bench starts lives under one temporary directory and is
/// stopped and removed when this returns, by success or by error (the
/// guards drop in reverse order: dockerd, skiff's daemon, the registry,
/// the directory).
pub fn run(options: &Options) -> Result<Report> {
    if !nix::unistd::geteuid().is_root() {
        bail!("the bench runs daemons and containers: run it as root (sudo)");
    }
    let load_before = load_average();
    let tmp = tempfile::Builder::new()
        .prefix("skiff-bench-")
        .tempdir()
        .context("create the bench's temporary directory")?;
    eprintln!("bench: building the image and a registry on loopback");
    let image = image::BenchImage::build();
    let reference = image.reference.as_str();

    eprintln!("bench: starting skiff's daemon");
    let skiff = skiffd::SkiffDaemon::start(&tmp.path().join("skiff"))?;
    skiff.cli.run(&["pull", reference])?;

    let mut unavailable = BTreeMap::new();
    let docker_cli = options.docker_cli();
    let docker = if options.skiff_only {
        Err("not measured: --skiff-only".to_string())
    } else {
        match &docker_cli {
            Err(reason) => Err(reason.clone()),
            Ok(cli) => {
                eprintln!("bench: starting containerd and dockerd of the bench's own");
                start_docker(&tmp.path().join("docker"), cli, reference)
                    .map_err(|error| format!("{error:#}"))
            }
        }
    };
    if let Err(reason) = &docker {
        if !options.skiff_only {
            eprintln!(
                "\n!!! DOCKERD UNAVAILABLE: {reason}\n!!! the bench goes on with skiff's figures alone\n"
            );
        }
        unavailable.insert(Column::Docker, reason.clone());
    }

    let mut lanes = vec![Lane {
        column: Column::Skiff,
        cli: skiff.cli.clone(),
        broken: None,
    }];
    match &docker_cli {
        Ok(program) => lanes.push(Lane {
            column: Column::DockerCliOnSkiff,
            cli: skiff.client(program),
            broken: None,
        }),
        Err(reason) => {
            eprintln!("\n!!! THE DOCKER CLI IS UNAVAILABLE: {reason}\n");
            unavailable.insert(Column::DockerCliOnSkiff, reason.clone());
        }
    }
    if let Ok(docker) = &docker {
        lanes.push(Lane {
            column: Column::Docker,
            cli: docker.cli.clone(),
            broken: None,
        });
    }

    eprintln!("bench: idle memory of the daemons");
    std::thread::sleep(Duration::from_secs(2));
    let idle = Measured {
        skiff: Memory::settled(&[skiff.pid()], 5)?,
        docker: docker
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|d| Memory::settled(&d.pids(), 5).map_err(|e| format!("{e:#}"))),
    };

    let rounds = options.warmup + options.iterations;
    eprintln!("bench: run --rm true, {rounds} rounds");
    let run_rm = scenarios::run_rm(&mut lanes, options, reference)?;
    eprintln!("bench: run -d + exec + rm -f, {rounds} rounds");
    let lifecycle = scenarios::lifecycle(&mut lanes, options, reference)?;

    let compose = if options.no_compose {
        None
    } else {
        let rounds = options.warmup + options.compose_iterations;
        eprintln!("bench: compose up -d to healthy + down -v, {rounds} rounds");
        Some(compose::measure(
            options,
            &tmp.path().join("compose"),
            reference,
            &skiff,
            docker.as_ref(),
        )?)
    };

    let count = options.containers;
    eprintln!("bench: starting {count} containers in each engine");
    let skiff_ids = scenarios::fill(&skiff.cli, count, reference)?;
    let docker_ids = match &docker {
        Ok(docker) => scenarios::fill(&docker.cli, count, reference),
        Err(reason) => Err(anyhow::anyhow!("{reason}")),
    };
    if let (Err(error), Ok(_)) = (&docker_ids, &docker) {
        let reason = format!("could not start {count} containers: {error:#}");
        eprintln!("\n!!! DOCKERD IS LEFT OUT FROM HERE ON: {reason}\n");
        break_lane(&mut lanes, Column::Docker, reason);
    }
    eprintln!("bench: ps with {count} containers running, {rounds} rounds");
    let ps = scenarios::ps(&mut lanes, options, count)?;

    eprintln!("bench: memory of the shims and daemons with {count} containers running");
    let shims = Shims {
        skiff: scenarios::shims(&skiff.cli, &skiff_ids, "shim")?,
        docker: match (&docker, &docker_ids) {
            (Ok(docker), Ok(ids)) => scenarios::shims(&docker.cli, ids, "containerd-shim")
                .map_err(|error| format!("{error:#}")),
            (Err(reason), _) => Err(reason.clone()),
            (_, Err(error)) => Err(format!("{error:#}")),
        },
    };
    let busy = Measured {
        skiff: Memory::settled(&skiff.pids(), 5)?,
        docker: match (&docker, &docker_ids) {
            (Ok(docker), Ok(_)) => {
                Memory::settled(&docker.pids(), 5).map_err(|error| format!("{error:#}"))
            }
            (Err(reason), _) => Err(reason.clone()),
            (_, Err(error)) => Err(format!("{error:#}")),
        },
    };

    for lane in &lanes {
        if let Some(reason) = &lane.broken {
            unavailable.insert(lane.column, reason.clone());
        }
    }
    let mut context = vec![
        ("kernel".to_string(), kernel()),
        ("cpus".to_string(), cpus()),
        ("image".to_string(), reference.to_string()),
        (
            "rounds".to_string(),
            format!(
                "{} measured after {} warm-up ({} for compose); {count} containers for ps and shims",
                options.iterations, options.warmup, options.compose_iterations
            ),
        ),
        ("skiff".to_string(), version(Path::new(skiffd::SKIFF))),
    ];
    if let Ok(program) = &docker_cli {
        context.push(("docker CLI".to_string(), version(program)));
    }
    if docker.is_ok() {
        for tool in ["dockerd", "containerd", "runc"] {
            context.push((tool.to_string(), version(Path::new(tool))));
        }
    }
    if let Some(compose) = &compose {
        context.push((
            "compose".to_string(),
            "3 services, checks every 200 ms; columns: skiff compose, \
             docker-compose on skiff, docker-compose on dockerd"
                .to_string(),
        ));
        if let Ok(program) = options.docker_compose() {
            context.push(("docker-compose".to_string(), version(&program)));
        }
        for (column, reason) in &compose.unavailable {
            if unavailable.get(column) != Some(reason) {
                context.push((
                    "compose !!!".to_string(),
                    format!("{} left out: {reason}", column.heading()),
                ));
            }
        }
    }
    context.push(("load before".to_string(), load_before));
    context.push(("load after".to_string(), load_average()));

    let mut rows = vec![timing("run --rm true", &run_rm, &unavailable, Some(0.1))];
    for (name, samples) in scenarios::LIFECYCLE.iter().zip(&lifecycle) {
        rows.push(timing(name, samples, &unavailable, None));
    }
    if let Some(compose) = &compose {
        for (name, samples) in compose::PHASES.iter().zip(&compose.samples) {
            rows.push(timing(name, samples, &compose.unavailable, None));
        }
    }
    rows.push(timing(
        &format!("ps ({count} running)"),
        &ps,
        &unavailable,
        None,
    ));
    rows.extend(idle.rows("daemon idle", Some(0.1)));
    rows.extend(shims.rows(&format!("shim per container ({count} running)"), Some(0.2)));
    rows.extend(busy.rows(&format!("daemons with {count} running"), None));

    drop(docker);
    drop(skiff);
    drop(image);
    drop(tmp);
    Ok(Report {
        context,
        rows,
        unavailable,
    })
}

/// containerd and dockerd of the bench's own, with the image pulled.
fn start_docker(dir: &Path, docker_cli: &Path, image: &str) -> Result<dockerd::Dockerd> {
    let docker = dockerd::Dockerd::start(dir, docker_cli)?;
    docker
        .cli
        .run(&["pull", "--quiet", image])
        .context("pull the image into dockerd")?;
    Ok(docker)
}

/// A row of durations: a summary per column, or why a column has none.
fn timing(
    name: &str,
    samples: &Samples,
    unavailable: &BTreeMap<Column, String>,
    target: Option<f64>,
) -> Row {
    let cell = |column: Column| match samples.get(&column) {
        Some(values) => Summary::of(values).map_or(Cell::NotApplicable, Cell::Measured),
        None => Cell::Unavailable(
            unavailable
                .get(&column)
                .cloned()
                .unwrap_or_else(|| "not measured".to_string()),
        ),
    };
    Row {
        name: name.to_string(),
        unit: Unit::Millis,
        cells: Column::ALL
            .into_iter()
            .map(|column| (column, cell(column)))
            .collect(),
        target,
    }
}

fn break_lane(lanes: &mut [Lane], column: Column, reason: String) {
    for lane in lanes.iter_mut().filter(|lane| lane.column == column) {
        lane.broken = Some(reason.clone());
    }
}

/// A daemon's memory at one moment, skiff's and dockerd + containerd's.
struct Measured {
    skiff: Memory,
    docker: Result<Memory, String>,
}

impl Measured {
    fn rows(&self, name: &str, target: Option<f64>) -> Vec<Row> {
        let docker = self.docker.clone();
        vec![
            memory_row(
                &format!("{name} RSS"),
                Ok(vec![self.skiff.rss]),
                docker.clone().map(|m| vec![m.rss]),
                target,
            ),
            memory_row(
                &format!("{name} PSS"),
                pss(&[self.skiff]),
                docker.and_then(|m| pss(&[m])),
                target,
            ),
        ]
    }
}

/// The memory of each running container's shim, per engine.
struct Shims {
    skiff: Vec<Memory>,
    docker: Result<Vec<Memory>, String>,
}

impl Shims {
    fn rows(&self, name: &str, target: Option<f64>) -> Vec<Row> {
        let docker = self.docker.clone();
        vec![
            memory_row(
                &format!("{name} RSS"),
                Ok(self.skiff.iter().map(|m| m.rss).collect()),
                docker
                    .clone()
                    .map(|all| all.iter().map(|m| m.rss).collect()),
                target,
            ),
            memory_row(
                &format!("{name} PSS"),
                pss(&self.skiff),
                docker.and_then(|all| pss(&all)),
                target,
            ),
        ]
    }
}

fn pss(memories: &[Memory]) -> Result<Vec<u64>, String> {
    memories
        .iter()
        .map(|m| m.pss)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| "no /proc/PID/smaps_rollup on this kernel".to_string())
}

fn memory_row(
    name: &str,
    skiff: Result<Vec<u64>, String>,
    docker: Result<Vec<u64>, String>,
    target: Option<f64>,
) -> Row {
    let cell = |bytes: Result<Vec<u64>, String>| match bytes {
        Ok(bytes) => {
            let mib: Vec<f64> = bytes.iter().map(|&b| b as f64 / 1048576.0).collect();
            Summary::of(&mib).map_or(Cell::NotApplicable, Cell::Measured)
        }
        Err(reason) => Cell::Unavailable(reason),
    };
    Row {
        name: name.to_string(),
        unit: Unit::MiB,
        cells: BTreeMap::from([
            (Column::Skiff, cell(skiff)),
            (Column::DockerCliOnSkiff, Cell::NotApplicable),
            (Column::Docker, cell(docker)),
        ]),
        target,
    }
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|text| text.trim().to_string())
        .unwrap_or_default()
}

fn cpus() -> String {
    std::thread::available_parallelism().map_or("?".to_string(), |n| n.to_string())
}

/// The 1, 5 and 15 minute load averages: how busy the machine was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// The first line of `PROGRAM --version`.
fn version(program: &Path) -> String {
    std::process::Command::new(program)
        .arg("--version")
        .output()
        .map(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .unwrap_or_else(|error| format!("unknown ({error})"))
}
