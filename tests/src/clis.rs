//! The binaries the book's checker knows, by name, each with the clap
//! definition its `main.rs` parses with (the chapters and the engine
//! export it as `cli::Cli`).

use crate::commands::{Clap, Cli};

/// The binaries whose command lines the book's checker parses.
pub const BINARIES: &[&str] = &[
    "ch01-process",
    "ch02-namespaces",
    "ch03-cgroups",
    "ch04-overlayfs",
    "ch05-images",
    "ch06-network",
    "ch07-compose",
    "skiff",
];

/// The clap definition of the binary `name`.
pub fn cli(name: &str) -> Option<Box<dyn Cli>> {
    Some(match name {
        "ch01-process" => Box::new(Clap::<ch01_process::cli::Cli>::new()),
        "ch02-namespaces" => Box::new(Clap::<ch02_namespaces::cli::Cli>::new()),
        "ch03-cgroups" => Box::new(Clap::<ch03_cgroups::cli::Cli>::new()),
        "ch04-overlayfs" => Box::new(Clap::<ch04_overlayfs::cli::Cli>::new()),
        "ch05-images" => Box::new(Clap::<ch05_images::cli::Cli>::new()),
        "ch06-network" => Box::new(Clap::<ch06_network::cli::Cli>::new()),
        "ch07-compose" => Box::new(Clap::<ch07_compose::cli::Cli>::new()),
        "skiff" => Box::new(Clap::<skiff::cli::Cli>::new()),
        _ => return None,
    })
}
