//! `lab [--port N]`: the registries of chapter 5's transcripts, on loopback,
//! for a learner to pull from while reading the chapter (`scripts/lab`).
//!
//! Three registries, as the tests start them (Debian's `docker-registry`,
//! storage in a temporary directory), on ports N, N+1 and N+2 (5000, 5001,
//! 5002 by default): an open one with the images the transcripts pull
//! (`skiff_testkit::images`), one that wants a password, and one that
//! works like Docker Hub, with tokens from a token server of its own. They
//! run until Ctrl-C; then everything they stored is removed.

use nix::sys::signal::{SigSet, Signal};
use skiff_testkit::images::{self, LEARNER};
use skiff_testkit::registry::{Registry, RegistryAuth};

fn main() {
    let base = match parse(std::env::args().skip(1).collect()) {
        Ok(port) => port,
        Err(message) => {
            eprintln!("lab: {message}\nusage: lab [--port N]   (N, N+1 and N+2; 5000 by default)");
            std::process::exit(2);
        }
    };
    for port in base..base + 3 {
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
            eprintln!(
                "lab: port {port} of 127.0.0.1 is in use (another registry, or a lab still running?): \
                 stop it, or choose other ports with --port N"
            );
            std::process::exit(1);
        }
    }
    // Ctrl-C and kill end the lab through sigwait below, so that the
    // registries are dropped (stopped, their storage removed).
    let mut ending = SigSet::empty();
    ending.add(Signal::SIGINT);
    ending.add(Signal::SIGTERM);
    ending.add(Signal::SIGHUP);
    if let Err(err) = ending.thread_block() {
        eprintln!("lab: cannot block SIGINT and SIGTERM: {err}");
        std::process::exit(1);
    }

    let (user, password) = LEARNER;
    let credentials = || (user.to_string(), password.to_string());
    println!("lab: starting three registries and pushing the chapter's images (a few seconds)");
    let open = Registry::start_on(RegistryAuth::Open, base);
    open.push(&images::busybox().path(), "v1", "test/busybox");
    open.push(&images::layered().path(), "v1", "test/layered");
    open.push(&images::web().path(), "v1", "test/web");
    let (u, p) = credentials();
    let private = Registry::start_on(
        RegistryAuth::Htpasswd {
            user: u,
            password: p,
        },
        base + 1,
    );
    private.push(&images::layered().path(), "v1", "private/app");
    let (u, p) = credentials();
    let hub = Registry::start_on(
        RegistryAuth::Token {
            user: u,
            password: p,
        },
        base + 2,
    );
    hub.push(&images::layered().path(), "v1", "hub/app");
    let token = hub.token_port().unwrap_or_default();

    println!(
        "
The registries of chapter 5 run on loopback until you press Ctrl-C:

  {open}   no password       test/busybox:v1  test/layered:v1  test/web:v1
  {private}   user {user}, password {password}     private/app:v1
  {hub}   tokens from 127.0.0.1:{token}, user {user}, password {password}     hub/app:v1

In the transcripts, PORT is {base}, except in \"A registry with a password\"
({private_port}) and \"Docker Hub's flow\" ({hub_port}); TOKENPORT is {token}.

In another terminal, as root, in an empty directory:

  export SKIFF_ROOT=$PWD/state
  ch05-images pull {open}/test/layered:v1
  ch05-images run --rm {open}/test/layered:v1
",
        open = open.host(),
        private = private.host(),
        hub = hub.host(),
        private_port = base + 1,
        hub_port = base + 2,
    );
    match ending.wait() {
        Ok(signal) => println!("lab: {signal}: stopping the registries"),
        Err(err) => eprintln!("lab: waiting for Ctrl-C failed ({err}): stopping the registries"),
    }
}

fn parse(args: Vec<String>) -> Result<u16, String> {
    match args.as_slice() {
        [] => Ok(5000),
        [flag, port] if flag == "--port" => port
            .parse::<u16>()
            .ok()
            .filter(|port| *port > 0 && *port < u16::MAX - 2)
            .ok_or_else(|| format!("--port takes a port number, not {port:?}")),
        other => Err(format!("unexpected arguments {other:?}")),
    }
}
