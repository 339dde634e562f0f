//! What `up` and `down` of the example application cost, images present:
//!
//! - from `up` to every service started, and to every service healthy
//!   (`store` and `web` have healthchecks; `worker` has none, started
//!   counts for it);
//! - `down` while `up` runs (it asks `up` to stop everything, in order,
//!   then removes the containers and the network).
//!
//! Twice: the file as written, whose timings are set by its own numbers
//! (healthchecks every 2 and 5 s; httpd and sh as PID 1 ignore SIGTERM,
//! so each stop waits its 3 s grace period), and with an override that
//! makes those numbers small (checks every 100 ms, SIGKILL to stop), which
//! leaves what the engine itself costs. `docker compose` does the same
//! when a dockerd runs here with a `busybox` image (nothing is pulled).
//!
//! `cargo bench -p ch07-compose --bench up` (as root). Prints medians and
//! 90th percentiles; ROUNDS=N changes the number of rounds (default 5).

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{Background, Setup, free_port};

const LEAN: &str = r#"# The example, with the numbers that set its timings made small.
services:
  store:
    healthcheck:
      interval: 100ms
      start_period: 0s
    stop_signal: SIGKILL
  web:
    healthcheck:
      interval: 100ms
    stop_signal: SIGKILL
  worker:
    stop_signal: SIGKILL
"#;

fn rounds() -> usize {
    std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5)
}

/// Waits (polling every 5 ms) until `up`'s output holds every needle.
fn wait_all(up: &mut Background, needles: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let output = up.output();
        if needles.iter().all(|n| output.contains(n)) {
            return;
        }
        assert!(Instant::now() < deadline, "{needles:?} not seen:\n{output}");
        assert!(
            matches!(up.child.try_wait(), Ok(None)),
            "up ended:\n{output}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn report(what: &str, times: &mut [Duration]) {
    times.sort();
    let median = times[times.len() / 2];
    let p90 = times[(times.len() * 9 / 10).min(times.len() - 1)];
    println!("  {what:<40} median {median:>9.2?}   p90 {p90:>9.2?}");
}

/// One variant: `rounds()` times up, then down.
fn measure(setup: &Setup, dir: &Path, files: &[&str], env: &[(&str, &str)]) {
    let (mut started, mut healthy, mut down) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds() {
        let mut args = files.to_vec();
        args.push("up");
        let begin = Instant::now();
        let mut up = setup.background_env(dir, &args, env);
        wait_all(
            &mut up,
            &[
                "counter-store-1  Started",
                "counter-web-1  Started",
                "counter-worker-1  Started",
            ],
        );
        started.push(begin.elapsed());
        wait_all(
            &mut up,
            &["counter-store-1  Healthy", "counter-web-1  Healthy"],
        );
        healthy.push(begin.elapsed());
        let mut args = files.to_vec();
        args.push("down");
        let begin = Instant::now();
        let out = setup
            .compose(dir, &args)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        down.push(begin.elapsed());
        assert!(out.status.success(), "{out:?}");
        up.wait(Duration::from_secs(30));
    }
    report("up -> all started", &mut started);
    report("up -> all healthy", &mut healthy);
    report("down (while up runs)", &mut down);
}

/// `docker compose` (the plugin) or `docker-compose` (1.29), when a
/// dockerd answers and has a busybox image.
fn docker_compose() -> Option<Vec<&'static str>> {
    let ok = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ok("docker", &["image", "inspect", "busybox"]) {
        return None;
    }
    if ok("docker", &["compose", "version"]) {
        Some(vec!["docker", "compose"])
    } else if ok("docker-compose", &["version"]) {
        Some(vec!["docker-compose"])
    } else {
        None
    }
}

fn main() {
    let setup = Setup::new();
    let dir = setup.projects().join("app");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/app");
    assert!(
        Command::new("cp")
            .arg("-a")
            .arg(source)
            .arg(&dir)
            .status()
            .unwrap()
            .success()
    );
    std::fs::write(dir.join("bench.override.yaml"), LEAN).unwrap();
    let port = free_port().to_string();
    let env = [("WEB_PORT", port.as_str()), ("TICK", "3600")];
    let built = setup.compose(&dir, &["build"]).envs(env).output().unwrap();
    assert!(built.status.success(), "{built:?}");

    println!(
        "ch07-compose, the example app, images present ({} rounds)",
        rounds()
    );
    println!(" as written (checks every 2 s and 5 s, 3 s grace periods):");
    measure(&setup, &dir, &[], &env);
    println!(" lean (checks every 100 ms, SIGKILL to stop):");
    measure(
        &setup,
        &dir,
        &["-f", "compose.yaml", "-f", "bench.override.yaml"],
        &env,
    );
    let (output, code) = setup.output(&dir, &["down", "-v"]);
    assert_eq!(code, 0, "{output}");

    match docker_compose() {
        Some(program) => {
            println!("{} on the same file:", program.join(" "));
            for files in [
                &[][..],
                &["-f", "compose.yaml", "-f", "bench.override.yaml"][..],
            ] {
                let mut times = Vec::new();
                for _ in 0..rounds() {
                    let mut args: Vec<&str> = program[1..].to_vec();
                    args.extend(files);
                    args.extend(["up", "-d", "--wait"]);
                    let begin = Instant::now();
                    let out = Command::new(program[0])
                        .args(&args)
                        .current_dir(&dir)
                        .envs(env)
                        .output()
                        .unwrap();
                    times.push(begin.elapsed());
                    assert!(out.status.success(), "{out:?}");
                    let mut args: Vec<&str> = program[1..].to_vec();
                    args.extend(files);
                    args.extend(["down", "-v"]);
                    let _ = Command::new(program[0])
                        .args(&args)
                        .current_dir(&dir)
                        .output();
                }
                report(&format!("up -d --wait {files:?}"), &mut times);
            }
        }
        None => println!(
            "docker compose: skipped (no dockerd with a local busybox image here; nothing is pulled, and no dockerd is started by the bench)"
        ),
    }
}
