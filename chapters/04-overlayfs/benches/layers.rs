//! How long it takes to set up and tear down a container's root for 1, 16
//! and 128 layers: create the writable layer and short links, mount the
//! overlay, unmount it, remove the writable layer.
//!
//! Run as root: `cargo bench -p ch04-overlayfs`. The mounts happen in a
//! private mount namespace of this process, so the host never sees them.

use ch04_overlayfs::layers::LayerStack;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, unshare};
use std::time::{Duration, Instant};

const ROUNDS: u32 = 50;

fn main() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the bench mounts overlays: run it as root"
    );
    unshare(CloneFlags::CLONE_NEWNS).expect("unshare(CLONE_NEWNS)");
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .expect("make / private");
    let work = tempfile::tempdir().expect("tempdir");
    println!(
        "{:>8} {:>14} {:>14} {:>14}",
        "layers", "create", "mount+umount", "remove"
    );
    for count in [1usize, 16, 128] {
        let layers: Vec<_> = (0..count)
            .map(|n| {
                let dir = work.path().join(format!("layer-{count}-{n}"));
                std::fs::create_dir_all(dir.join("files")).unwrap();
                std::fs::write(dir.join("files").join(n.to_string()), b"x").unwrap();
                dir
            })
            .collect();
        let state = work.path().join(format!("state-{count}"));
        let (mut create, mut mounting, mut remove) =
            (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        for round in 0..ROUNDS {
            let start = Instant::now();
            let dir = state.join("containers").join(format!("c{round}"));
            std::fs::create_dir_all(&dir).unwrap();
            let mut stack = LayerStack::new(&state, &dir, &layers);
            stack.create().unwrap();
            create += start.elapsed();
            let start = Instant::now();
            stack.mount().unwrap();
            umount2(&stack.merged(), MntFlags::MNT_DETACH).unwrap();
            mounting += start.elapsed();
            let start = Instant::now();
            stack.remove().unwrap();
            remove += start.elapsed();
        }
        let per =
            |total: Duration| format!("{:.3} ms", total.as_secs_f64() * 1000.0 / f64::from(ROUNDS));
        println!(
            "{count:>8} {:>14} {:>14} {:>14}",
            per(create),
            per(mounting),
            per(remove)
        );
    }
}
