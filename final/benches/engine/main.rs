//! The engine benchmark of issue 14: skiff's daemon against dockerd, on the
//! same image and the same machine, in one run.
//!
//! - `run --rm IMAGE true`: the whole round trip a user waits for
//!   (target: skiff at most 0.1x of docker);
//! - `run -d` + `exec` + `rm -f`: a detached container's life;
//! - compose (issue 13): `up -d` of a three-service application (a user
//!   network, a named volume, a published port, healthchecks, a
//!   `service_healthy` dependency) until every service is healthy, and
//!   `down -v`; by `skiff compose` and by docker-compose 1.29 on skiff,
//!   against docker-compose on dockerd (`--no-compose` leaves it out);
//! - `ps` with N containers running;
//! - the daemons' idle memory: skiff's daemon against dockerd + containerd
//!   (target at most 0.1x);
//! - the memory of each running container's shim: skiff's shim against
//!   containerd-shim-runc-v2 (target at most 0.2x).
//!
//! skiff is measured with its own CLI and with the docker CLI; dockerd with
//! the docker CLI. dockerd runs with everything of its own (a temporary
//! root, its own containerd, a private mount namespace, no network), so it
//! touches nothing of the host's but the bridges of compose's networks,
//! which `down` removes (and the bench checks).
//!
//! Run as root: `scripts/bench-engine` (installs docker.io), or
//! `cargo bench -p skiff --bench engine -- --help` for the flags.

mod bench;

fn main() {
    bench::install_interrupt_handler();
    std::process::exit(bench::main_with(std::env::args_os()));
}
