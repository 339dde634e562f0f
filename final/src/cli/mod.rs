//! The `skiff` CLI: docker's verbs and flags, each one a request (or a
//! few) to the daemon's API. The CLI holds no state and creates nothing
//! itself: `skiff run` works exactly like `docker run` against the same
//! daemon.

pub mod build;
pub mod command_line;
pub mod containers;
pub mod copy;
pub mod images;
pub mod networks;
pub mod run;
pub mod stream;
pub mod system;
pub mod tarball;
pub mod transfer;
pub mod volumes;

pub use command_line::{Cli, Command};

use crate::client::{Client, query};
use anyhow::Result;
use clap::Subcommand;

/// The client verbs.
#[derive(Debug, Clone, Subcommand)]
pub enum Verbs {
    /// Create and start a container
    Run(Box<run::RunArgs>),
    /// Create a container without starting it
    Create(Box<run::RunArgs>),
    /// Start containers
    Start {
        /// Attach to the container's output
        #[arg(short, long)]
        attach: bool,
        /// Attach stdin
        #[arg(short, long)]
        interactive: bool,
        /// The keys that detach a terminal (default ctrl-p,ctrl-q)
        #[arg(long = "detach-keys", value_name = "KEYS")]
        detach_keys: Option<String>,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Stop containers: the stop signal, then SIGKILL after a grace period
    Stop {
        #[arg(short = 't', long = "time")]
        time: Option<i64>,
        #[arg(short, long)]
        signal: Option<String>,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Restart containers
    Restart {
        #[arg(short = 't', long = "time")]
        time: Option<i64>,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Send a signal to containers (default SIGKILL)
    Kill {
        #[arg(short, long, default_value = "KILL")]
        signal: String,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Freeze containers
    Pause {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Thaw containers
    Unpause {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Remove containers
    Rm {
        #[arg(short, long)]
        force: bool,
        /// Remove the container's anonymous volumes too
        #[arg(short, long)]
        volumes: bool,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Rename a container
    Rename { container: String, name: String },
    /// Wait for containers to stop; print their exit codes
    Wait {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// List containers
    Ps {
        #[arg(short, long)]
        all: bool,
        #[arg(short, long)]
        quiet: bool,
        /// The last N containers (all states)
        #[arg(short = 'n', long = "last")]
        last: Option<i64>,
        /// Filter: status=, name=, label=, ancestor=, id=
        #[arg(short, long = "filter")]
        filter: Vec<String>,
        /// A Go template, or `table TEMPLATE`
        #[arg(long)]
        format: Option<String>,
        /// Show sizes (accepted; sizes are not computed)
        #[arg(short, long)]
        size: bool,
    },
    /// Show a container's logs
    Logs {
        #[arg(short, long)]
        follow: bool,
        #[arg(short = 'n', long)]
        tail: Option<String>,
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        until: Option<String>,
        #[arg(short, long)]
        timestamps: bool,
        container: String,
    },
    /// Run a command in a running container
    Exec(Box<run::ExecArgs>),
    /// Attach to a running container's stdio
    Attach {
        #[arg(long = "no-stdin")]
        no_stdin: bool,
        /// The keys that detach a terminal (default ctrl-p,ctrl-q)
        #[arg(long = "detach-keys", value_name = "KEYS")]
        detach_keys: Option<String>,
        container: String,
    },
    /// Show containers or images as JSON
    Inspect {
        #[arg(short, long)]
        format: Option<String>,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Show containers' resource usage
    Stats {
        /// One reading, then exit
        #[arg(long = "no-stream")]
        no_stream: bool,
        containers: Vec<String>,
    },
    /// Show a container's processes
    Top { container: String },
    /// Show what a container changed in its filesystem
    Diff { container: String },
    /// Show the engine's events as they happen
    Events {
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        until: Option<String>,
        #[arg(short, long = "filter")]
        filter: Vec<String>,
        #[arg(long)]
        format: Option<String>,
    },
    /// Download an image
    Pull { image: String },
    /// List images
    Images {
        #[arg(short, long)]
        quiet: bool,
    },
    /// Remove images
    Rmi {
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Give an image another name
    Tag { source: String, target: String },
    /// Store credentials for a registry
    Login {
        registry: String,
        #[arg(short, long)]
        username: String,
        #[arg(short, long)]
        password: Option<String>,
        /// Read the password from stdin
        #[arg(long = "password-stdin")]
        password_stdin: bool,
    },
    /// Show the daemon's view of the machine
    Info,
    /// Show the client's and the daemon's versions
    Version,
    /// Build an image from a Dockerfile and a context
    Build(Box<build::BuildArgs>),
    /// Upload an image to its registry
    Push { image: String },
    /// Write images to a tar archive
    Save(transfer::SaveArgs),
    /// Read images from a tar archive
    Load(transfer::LoadArgs),
    /// Make an image of a filesystem's tar (what export writes)
    Import(transfer::ImportArgs),
    /// Show how an image was made
    History(transfer::HistoryArgs),
    /// Run a compose file's application (up -d, down, ps, logs)
    Compose(crate::compose::ComposeArgs),
    /// Make an image of a container's changes
    Commit(transfer::CommitArgs),
    /// Copy files between a container and this machine
    Cp(copy::CpArgs),
    /// Change a container's limits or restart policy
    Update(system::UpdateArgs),
    /// Manage volumes
    #[command(subcommand)]
    Volume(volumes::VolumeVerbs),
    /// The engine as a whole
    #[command(subcommand)]
    System(system::SystemVerbs),
    /// Manage the build cache
    #[command(subcommand)]
    Builder(system::BuilderVerbs),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerVerbs),
    /// Manage images
    #[command(subcommand)]
    Image(ImageVerbs),
    /// Manage networks
    #[command(subcommand)]
    Network(networks::NetworkVerbs),
    /// Show a container's published ports
    Port {
        container: String,
        /// One port: PORT or PORT/tcp or PORT/udp
        port: Option<String>,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum ContainerVerbs {
    /// Remove every stopped container
    Prune {
        #[arg(short, long)]
        force: bool,
    },
    /// List containers
    Ls {
        #[arg(short, long)]
        all: bool,
        #[arg(short, long)]
        quiet: bool,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum ImageVerbs {
    /// Remove images no container uses (with --all)
    Prune {
        #[arg(short, long)]
        all: bool,
        #[arg(short, long)]
        force: bool,
    },
    /// List images
    Ls {
        #[arg(short, long)]
        quiet: bool,
    },
    /// Show how an image was made
    History(transfer::HistoryArgs),
}

impl Verbs {
    // ANCHOR: execute
    /// Carries out the verb against the daemon at `host`.
    pub fn execute(self, host: &str) -> Result<i32> {
        let client = Client::new(host).map_err(anyhow::Error::msg)?;
        let path = |c: &str, verb: &str, q: String| format!("/containers/{c}/{verb}{q}");
        match self {
            Verbs::Run(args) => run::run(&client, &args),
            Verbs::Create(args) => {
                println!("{}", run::create(&client, &args)?);
                Ok(0)
            }
            Verbs::Start {
                attach,
                interactive,
                detach_keys,
                containers,
            } => {
                if attach || interactive {
                    return run::start_attached(
                        &client,
                        &containers[0],
                        attach,
                        interactive,
                        detach_keys.as_deref(),
                    );
                }
                containers::each(&containers, |c| run::start(&client, c))
            }
            Verbs::Stop {
                time,
                signal,
                containers,
            } => containers::each(&containers, |c| {
                let q = query(&[
                    ("t", time.map(|t| t.to_string()).unwrap_or_default()),
                    ("signal", signal.clone().unwrap_or_default()),
                ]);
                client
                    .send("POST", &path(c, "stop", q), None, &[])
                    .map(drop)
            }),
            Verbs::Restart { time, containers } => containers::each(&containers, |c| {
                let q = query(&[("t", time.map(|t| t.to_string()).unwrap_or_default())]);
                client
                    .send("POST", &path(c, "restart", q), None, &[])
                    .map(drop)
            }),
            Verbs::Kill { signal, containers } => containers::each(&containers, |c| {
                let q = query(&[("signal", signal.clone())]);
                client
                    .send("POST", &path(c, "kill", q), None, &[])
                    .map(drop)
            }),
            Verbs::Pause { containers } => containers::each(&containers, |c| {
                client
                    .send("POST", &path(c, "pause", String::new()), None, &[])
                    .map(drop)
            }),
            Verbs::Unpause { containers } => containers::each(&containers, |c| {
                client
                    .send("POST", &path(c, "unpause", String::new()), None, &[])
                    .map(drop)
            }),
            Verbs::Rm {
                force,
                volumes,
                containers,
            } => containers::each(&containers, |c| {
                let flag = |on: bool| if on { "1".to_string() } else { String::new() };
                let q = query(&[("force", flag(force)), ("v", flag(volumes))]);
                client
                    .send("DELETE", &format!("/containers/{c}{q}"), None, &[])
                    .map(drop)
            }),
            Verbs::Rename { container, name } => {
                client.send(
                    "POST",
                    &path(&container, "rename", query(&[("name", name)])),
                    None,
                    &[],
                )?;
                Ok(0)
            }
            Verbs::Wait { containers } => {
                for container in containers {
                    let status = client.post(&path(&container, "wait", String::new()), None)?;
                    println!("{}", status["StatusCode"]);
                }
                Ok(0)
            }
            Verbs::Ps {
                all,
                quiet,
                last,
                filter,
                format,
                size: _,
            } => containers::ps(&client, all, quiet, last, &filter, format.as_deref()),
            Verbs::Logs {
                follow,
                tail,
                since,
                until,
                timestamps,
                container,
            } => containers::logs(
                &client,
                &container,
                follow,
                tail.as_deref(),
                since.as_deref(),
                until.as_deref(),
                timestamps,
            ),
            Verbs::Exec(args) => run::exec(&client, &args),
            Verbs::Attach {
                no_stdin,
                detach_keys,
                container,
            } => run::attach(&client, &container, no_stdin, detach_keys.as_deref()),
            Verbs::Inspect { format, names } => {
                containers::inspect(&client, &names, format.as_deref())
            }
            Verbs::Stats {
                no_stream: _,
                containers,
            } => containers::stats(&client, &containers),
            Verbs::Top { container } => containers::top(&client, &container),
            Verbs::Diff { container } => containers::diff(&client, &container),
            Verbs::Events {
                since,
                until,
                filter,
                format,
            } => containers::events(
                &client,
                since.as_deref(),
                until.as_deref(),
                &filter,
                format.as_deref(),
            ),
            Verbs::Pull { image } => images::pull(&client, &image, false),
            Verbs::Images { quiet } | Verbs::Image(ImageVerbs::Ls { quiet }) => {
                images::images(&client, quiet)
            }
            Verbs::Rmi { force, images } => images::rmi(&client, &images, force),
            Verbs::Tag { source, target } => images::tag(&client, &source, &target),
            Verbs::Login {
                registry,
                username,
                password,
                password_stdin,
            } => images::login(
                &client,
                &registry,
                &username,
                password.as_deref().filter(|_| !password_stdin),
            ),
            Verbs::Network(verb) => verb.execute(&client),
            Verbs::Port { container, port } => networks::port(&client, &container, port.as_deref()),
            Verbs::Build(args) => build::build(&client, &args),
            Verbs::Push { image } => transfer::push(&client, &image),
            Verbs::Save(args) => transfer::save(&client, &args),
            Verbs::Load(args) => transfer::load(&client, &args),
            Verbs::Import(args) => transfer::import(&client, &args),
            Verbs::History(args) | Verbs::Image(ImageVerbs::History(args)) => {
                transfer::history(&client, &args)
            }
            Verbs::Commit(args) => transfer::commit(&client, &args),
            Verbs::Compose(args) => crate::compose::execute(args, host),
            Verbs::Cp(args) => copy::cp(&client, &args),
            Verbs::Update(args) => system::update(&client, &args),
            Verbs::Volume(verb) => verb.execute(&client),
            Verbs::System(verb) => verb.execute(&client),
            Verbs::Builder(verb) => verb.execute(&client),
            Verbs::Info => images::info(&client),
            Verbs::Version => images::version(&client),
            Verbs::Container(ContainerVerbs::Prune { force: _ }) => {
                let pruned = client.post("/containers/prune", None)?;
                println!("Deleted Containers:");
                for id in pruned["ContainersDeleted"].as_array().into_iter().flatten() {
                    println!("{}", id.as_str().unwrap_or_default());
                }
                Ok(0)
            }
            Verbs::Container(ContainerVerbs::Ls { all, quiet }) => {
                containers::ps(&client, all, quiet, None, &[], None)
            }
            Verbs::Image(ImageVerbs::Prune { all, force: _ }) => {
                let filters = if all {
                    r#"{"dangling":["false"]}"#
                } else {
                    r#"{"dangling":["true"]}"#
                };
                let pruned = client.post(
                    &format!("/images/prune{}", query(&[("filters", filters.into())])),
                    None,
                )?;
                println!("Deleted Images:");
                for item in pruned["ImagesDeleted"].as_array().into_iter().flatten() {
                    for (key, value) in item.as_object().into_iter().flatten() {
                        println!("{key}: {}", value.as_str().unwrap_or_default());
                    }
                }
                Ok(0)
            }
        }
    }
    // ANCHOR_END: execute
}
