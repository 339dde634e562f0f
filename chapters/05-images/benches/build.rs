//! Build time of a small ten-step Dockerfile: cold (every step runs: three
//! containers, three copies) and fully cached (every step a cache hit),
//! with `ch05-images build` as a learner runs it.
//!
//! Run as root: `cargo bench -p ch05-images --bench build`. The base image
//! comes from a registry on loopback and is pulled before the clock starts.

use skiff_testkit::registry::{OciLayout, Registry, RegistryAuth};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ch05-images");

const DOCKERFILE: &str = r#"ARG BASE
FROM $BASE
ENV APP=/app
WORKDIR /app
COPY src/ ./src/
RUN cat src/*.txt | wc -l > lines
RUN mkdir -p out && cp src/*.txt out/
COPY config.txt /etc/app.conf
ARG VERSION=1
RUN echo $VERSION > version
LABEL stage=bench
CMD ["cat", "lines"]
"#;

fn ch05(root: &Path, args: &[&str]) -> Duration {
    let start = Instant::now();
    let out = Command::new(BIN)
        .env("SKIFF_ROOT", root)
        .args(args)
        .output()
        .expect("run ch05-images");
    let elapsed = start.elapsed();
    assert!(
        out.status.success(),
        "ch05-images {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

fn main() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the bench runs containers: run it with sudo"
    );
    let registry = Registry::start(RegistryAuth::Open);
    let layout = OciLayout::new("v1");
    layout.add_layer(skiff_testkit::rootfs::build_busybox_rootfs);
    registry.push(&layout.path(), "v1", "bench/busybox");
    let base = format!("BASE={}/bench/busybox:v1", registry.host());

    let context = tempfile::tempdir().unwrap();
    std::fs::write(context.path().join("Dockerfile"), DOCKERFILE).unwrap();
    std::fs::create_dir(context.path().join("src")).unwrap();
    for n in 0..200 {
        let text = format!("line {n} of a source file\n").repeat(50);
        std::fs::write(context.path().join(format!("src/f{n}.txt")), text).unwrap();
    }
    std::fs::write(context.path().join("config.txt"), "key=value\n").unwrap();
    let context = context.path().to_str().unwrap().to_string();
    let build = ["build", "-q", "-t", "bench", "--build-arg", &base, &context];

    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for round in 0..3 {
        let root = tempfile::Builder::new()
            .prefix("skiff-bench-")
            .tempdir()
            .unwrap();
        ch05(root.path(), &["pull", &base[5..]]);
        cold.push(ch05(root.path(), &build));
        warm.push(ch05(root.path(), &build));
        eprintln!(
            "round {round}: cold {:?}, cached {:?}",
            cold[round], warm[round]
        );
    }
    let best = |times: &[Duration]| times.iter().min().copied().unwrap();
    let (cold, warm) = (best(&cold), best(&warm));
    println!("a ten-step build (FROM + 10 instructions: 3 RUN, 2 COPY, WORKDIR, 4 config)");
    println!(
        "cold, every step runs (best of 3):   {:>8.3} s",
        cold.as_secs_f64()
    );
    println!(
        "warm, every step cached (best of 3): {:>8.3} s",
        warm.as_secs_f64()
    );
    println!(
        "warm / cold:                          {:>8.3}",
        warm.as_secs_f64() / cold.as_secs_f64()
    );
}
