//! `cgroup2-suite`: runs test binaries in a cgroup2-only qemu guest and sums
//! up. `scripts/cgroup2-suite` builds the tests and calls it; see
//! `skiff_testkit::guest::suite` for what the guest holds and does.

use skiff_testkit::guest::Accel;
use skiff_testkit::guest::suite::{
    AccelChoice, Plan, Suite, Toolchain, run, stop_on_signals, stopped,
};
use std::path::PathBuf;
use std::time::Duration;

const USAGE: &str =
    "usage: cgroup2-suite --cargo-json FILE --workspace DIR [--memory MIB] [--cpus N]
                     [--accel auto|kvm|tcg] [--module NAME]... [--per-binary SECONDS]
                     [--timeout SECONDS] [--log FILE] [--quiet]
                     [--toolchain SYSROOT --cargo-home DIR] [-- TEST-ARGS...]";

fn main() {
    match parse(std::env::args().skip(1).collect()) {
        Ok(suite) => std::process::exit(go(&suite)),
        Err(message) => {
            eprintln!("cgroup2-suite: {message}\n{USAGE}");
            std::process::exit(2);
        }
    }
}

fn go(suite: &Suite) -> i32 {
    if let Err(err) = stop_on_signals() {
        eprintln!(
            "cgroup2-suite: cannot handle SIGINT and SIGTERM ({err}): a Ctrl-C would leave the disk image behind"
        );
    }
    let report = match run(suite) {
        Ok(report) => report,
        Err(err) => {
            eprintln!("cgroup2-suite: {err}");
            return 1;
        }
    };
    println!("\n==> the cgroup2 guest ({})", report.accel.name());
    for fact in &report.facts {
        println!("  {fact}");
    }
    print!("{}", report.table());
    println!("\n  per package:");
    for package in report.packages() {
        let status = match package.failed {
            0 => "ok".to_string(),
            failed => format!("{failed} FAILED"),
        };
        println!(
            "  {status:<11} {:<20} {:>3} binaries {:>6} s",
            package.package, package.binaries, package.seconds
        );
    }
    if !report.leftovers.is_empty() {
        println!("\n  LEFT BEHIND by the tests (each test must clean up after itself):");
        for leftover in &report.leftovers {
            println!("    {leftover}");
        }
    }
    let tests: u64 = report.results.iter().map(|r| r.seconds).sum();
    println!(
        "\n  disk image: {} MiB of files, {} MiB on the host's disk (sparse)",
        report.files_bytes >> 20,
        report.image_bytes >> 20
    );
    println!(
        "  disk image and initramfs: {} s; tests: {tests} s; in all: {} s",
        report.prepare.as_secs(),
        report.total.as_secs()
    );
    if stopped() {
        println!("  stopped by a signal: the guest was killed before its end");
    } else if !report.completed {
        println!("  the guest did not run to its end (timeout, or a setup step failed)");
    }
    if let Some(log) = &suite.log {
        println!("  console log: {}", log.display());
    }
    if report.passed() {
        println!("cgroup2 suite passed");
        0
    } else {
        println!("cgroup2 suite FAILED");
        1
    }
}

fn parse(args: Vec<String>) -> Result<Suite, String> {
    let mut cargo_json = None;
    let mut workspace = None;
    let mut suite = Suite {
        plan: Plan::default(),
        workspace: PathBuf::new(),
        memory_mib: 3072,
        cpus: 2,
        accel: AccelChoice::Auto,
        modules: Vec::new(),
        test_args: Vec::new(),
        per_binary: Duration::from_secs(1800),
        timeout: Duration::from_secs(3 * 3600),
        kvm_probe: Duration::from_secs(30),
        log: None,
        echo: true,
        toolchain: None,
    };
    let mut sysroot = None;
    let mut cargo_home = None;
    let mut args = args.into_iter();
    let seconds = |value: Option<String>, flag: &str| -> Result<Duration, String> {
        value
            .and_then(|v| v.parse().ok())
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{flag} needs a number of seconds"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--cargo-json" => cargo_json = args.next(),
            "--workspace" => workspace = args.next(),
            "--memory" => {
                suite.memory_mib = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--memory needs a number of MiB")?
            }
            "--cpus" => {
                suite.cpus = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--cpus needs a number")?
            }
            "--accel" => {
                suite.accel = match args.next().as_deref() {
                    Some("auto") => AccelChoice::Auto,
                    Some("kvm") => AccelChoice::Only(Accel::Kvm),
                    Some("tcg") => AccelChoice::Only(Accel::Tcg),
                    _ => return Err("--accel takes auto, kvm or tcg".to_string()),
                }
            }
            "--module" => suite
                .modules
                .push(args.next().ok_or("--module needs a module name")?),
            "--per-binary" => suite.per_binary = seconds(args.next(), "--per-binary")?,
            "--timeout" => suite.timeout = seconds(args.next(), "--timeout")?,
            "--log" => suite.log = Some(args.next().ok_or("--log needs a file")?.into()),
            "--quiet" => suite.echo = false,
            "--toolchain" => sysroot = Some(args.next().ok_or("--toolchain needs a sysroot")?),
            "--cargo-home" => {
                cargo_home = Some(args.next().ok_or("--cargo-home needs a directory")?)
            }
            "--" => suite.test_args.extend(args.by_ref()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    suite.toolchain = match (sysroot, cargo_home) {
        (Some(sysroot), Some(cargo_home)) => Some(Toolchain {
            sysroot: sysroot.into(),
            cargo_home: cargo_home.into(),
        }),
        (None, None) => None,
        _ => return Err("--toolchain and --cargo-home go together".to_string()),
    };
    let cargo_json = cargo_json.ok_or("--cargo-json is required")?;
    suite.workspace = workspace.ok_or("--workspace is required")?.into();
    let messages =
        std::fs::read_to_string(&cargo_json).map_err(|e| format!("read {cargo_json}: {e}"))?;
    suite.plan = Plan::from_cargo(&messages).map_err(|e| e.to_string())?;
    Ok(suite)
}
