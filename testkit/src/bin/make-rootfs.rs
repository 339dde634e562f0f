//! `make-rootfs DIR`: builds the busybox root filesystem the tests and the
//! book use (busybox, a link per tool, the probe at /bin/probe, and /etc
//! basics) in DIR, so a learner's container sees what the transcripts show.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir] = args.as_slice() else {
        eprintln!("usage: make-rootfs DIR");
        std::process::exit(2);
    };
    let root = std::path::Path::new(dir);
    if root.exists()
        && std::fs::read_dir(root)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        eprintln!("make-rootfs: {dir} exists and is not empty: give a new directory");
        std::process::exit(1);
    }
    skiff_testkit::rootfs::build_busybox_rootfs(root);
    println!("{dir}: a busybox root filesystem with /bin/probe");
}
