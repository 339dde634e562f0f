//! Pull and unpack of a large multi-layer image from a local registry:
//! `ch05_images::pull` against `skopeo copy` to an OCI layout plus
//! `umoci unpack`, on the same image in the same run.
//!
//! Run as root: `cargo bench -p ch05-images --bench pull`. The image has
//! LAYERS layers of FILES files each (random-ish contents, so gzip has work
//! to do); set SKIFF_BENCH_SCALE=small for a quick run.

use ch05_images::reference;
use ch05_images::store::Store;
use skiff_testkit::registry::{OciLayout, Registry, RegistryAuth};
use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the bench unpacks images as root: run it with sudo"
    );
    let small = std::env::var("SKIFF_BENCH_SCALE").is_ok_and(|s| s == "small");
    let (layers, files, size) = if small {
        (4, 2_000, 2_048)
    } else {
        (6, 4_000, 8_192)
    };
    eprintln!("building an image of {layers} layers x {files} files x {size} bytes ...");
    let layout = OciLayout::new("big");
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for layer in 0..layers {
        layout.add_layer(|root| {
            let dir = root.join(format!("data/{layer}"));
            for sub in 0..(files / 500).max(1) {
                std::fs::create_dir_all(dir.join(sub.to_string())).unwrap();
            }
            for n in 0..files {
                let mut bytes = vec![0u8; size];
                for chunk in bytes.chunks_mut(8) {
                    // xorshift: cheap bytes that still compress only partly
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let word = (seed & 0x0f0f_0f0f_0f0f_0f0f).to_le_bytes();
                    chunk.copy_from_slice(&word[..chunk.len()]);
                }
                let path = dir.join((n / 500).to_string()).join(format!("f{n}"));
                std::fs::File::create(path)
                    .unwrap()
                    .write_all(&bytes)
                    .unwrap();
            }
        });
    }
    let registry = Registry::start(RegistryAuth::Open);
    registry.push(&layout.path(), "big", "bench/big");
    let image = format!("{}/bench/big:big", registry.host());
    let total_mb = (layers * files * size) as f64 / 1e6;

    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for round in 0..3 {
        let root = tempfile::tempdir().unwrap();
        let start = Instant::now();
        let store = Store::open(root.path()).unwrap();
        ch05_images::pull::pull(&store, &reference::parse(&image).unwrap(), None).unwrap();
        ours.push(start.elapsed());

        let work = tempfile::tempdir().unwrap();
        let start = Instant::now();
        run(Command::new("skopeo")
            .args(["copy", "--quiet", "--src-tls-verify=false"])
            .arg(format!("docker://{image}"))
            .arg(format!("oci:{}:big", work.path().join("oci").display())));
        run(Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:big", work.path().join("oci").display()))
            .arg(work.path().join("bundle")));
        theirs.push(start.elapsed());
        eprintln!(
            "round {round}: skiff {:?}, skopeo+umoci {:?}",
            ours[round], theirs[round]
        );
    }
    let best = |times: &[Duration]| times.iter().min().copied().unwrap();
    println!(
        "image: {layers} layers, {} files, {total_mb:.0} MB uncompressed",
        layers * files
    );
    println!(
        "ch05-images pull (best of 3):          {:>8.2} s",
        best(&ours).as_secs_f64()
    );
    println!(
        "skopeo copy + umoci unpack (best of 3): {:>8.2} s",
        best(&theirs).as_secs_f64()
    );
}

fn run(command: &mut Command) {
    let out = command.output().expect("run a tool");
    assert!(
        out.status.success(),
        "{:?}: {}",
        command,
        String::from_utf8_lossy(&out.stderr)
    );
}
