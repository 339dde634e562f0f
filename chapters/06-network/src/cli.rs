//! The command line of `ch06-network`: chapter 5's, with the network flags
//! of `run`, the verbs `network` and `port`, and a PORTS column in `ps`.

use crate::engine::NetworkEngine;
use crate::files::{ExtraHost, ExtraHostError};
use crate::ports::{PortError, parse_publish};
use crate::request::{MacAddress, MacError, ModeError, NetworkMode, NetworkRequest, RequestError};
use crate::spec::{Spec, namespace_of};
use crate::store::{NetworkError, NetworkSpec};
use crate::subnet::{Subnet, SubnetError};
use crate::verbs::{self, NetworkVerbError};
use ch02_namespaces::cli::{ContainerArgs, Globals, Verbs as ContainerVerbs};
use ch02_namespaces::records::RecordError;
use ch02_namespaces::{Engine, ExitReport, RunError};
use ch03_cgroups::cli::Verbs as CgroupVerbs;
use ch04_overlayfs::cli::{StorageFlags, Verbs as OverlayVerbs};
use ch05_images::cli::{VerbError as ImageVerbs, Verbs as ImageCommand};
use ch05_images::engine::ImageError;
use ch05_images::reference::Reference;
use ch05_images::verbs::ImageVerbError;
use clap::builder::NonEmptyStringValueParser;
use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

/// The network flags of `run`, beside `--network` (chapter 2's flag, whose
/// values this chapter widens).
#[derive(Debug, Clone, Default, Args)]
pub struct NetworkArgs {
    /// Publish a container's port on the host: [IP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp]
    #[arg(short = 'p', long = "publish", value_name = "SPEC")]
    pub publish: Vec<String>,

    /// The container's address on a user-defined network
    #[arg(long, value_name = "ADDR")]
    pub ip: Option<Ipv4Addr>,

    /// Another name the container answers to on a user-defined network
    #[arg(long = "network-alias", value_name = "NAME")]
    pub aliases: Vec<String>,

    /// A DNS server for the container (replaces the host's)
    #[arg(long, value_name = "IP")]
    pub dns: Vec<IpAddr>,

    /// A line for /etc/hosts: NAME:IP (IP may be host-gateway)
    #[arg(long = "add-host", value_name = "NAME:IP")]
    pub add_hosts: Vec<String>,

    /// The MAC address of the container's eth0 (bridged modes)
    #[arg(long = "mac-address", value_name = "MAC")]
    pub mac_address: Option<String>,
}

/// The flags of `run` from chapters 1 to 6. `--network` is chapter 2's
/// flag, given chapter 6's values here: `bridge` (the default, as docker's),
/// `none`, `host`, `container:NAME` or a network's name.
#[derive(Debug, Clone, Args)]
#[command(mut_arg("network", |arg| arg
    .value_parser(NonEmptyStringValueParser::new())
    .default_value("bridge")
    .help("bridge (the default network), none, host, container:NAME (share its network), or a network's name")
    .long_help(None)))]
pub struct NetworkFlags {
    #[command(flatten)]
    pub below: StorageFlags,

    #[command(flatten)]
    pub network: NetworkArgs,
}

/// Why the flags of `run` could not become a spec.
#[derive(Debug, thiserror::Error)]
pub enum NetworkFlagError {
    #[error("--network: {0}")]
    Mode(#[from] ModeError),
    #[error("{0}")]
    Publish(#[from] PortError),
    #[error("--add-host: {0}")]
    ExtraHost(#[from] ExtraHostError),
    #[error("--mac-address: {0}")]
    Mac(#[from] MacError),
    #[error("{0}")]
    Request(#[from] RequestError),
    #[error(
        "conflicting options: --hostname with --network container:NAME (the container takes the hostname of the one whose network it shares)"
    )]
    HostnameWithContainer,
    #[error("--network container:{name}: {source}")]
    Container { name: String, source: RecordError },
    #[error("--network container:{0}: that container is not running: start it first")]
    NotRunning(String),
    #[error("{0}")]
    Network(#[from] NetworkError),
    #[error("{0}")]
    Image(#[from] ImageError),
}

fn container_args(flags: &mut StorageFlags) -> &mut ContainerArgs {
    &mut flags.below.below.container
}

impl NetworkArgs {
    /// The network section of the spec, for `mode`.
    pub fn to_request(&self, mode: NetworkMode) -> Result<NetworkRequest, NetworkFlagError> {
        let mut publish = Vec::new();
        for spec in &self.publish {
            publish.extend(parse_publish(spec)?);
        }
        Ok(NetworkRequest {
            mode,
            publish,
            ip: self.ip,
            aliases: self.aliases.clone(),
            dns: self.dns.clone(),
            add_hosts: self
                .add_hosts
                .iter()
                .map(|h| h.parse::<ExtraHost>())
                .collect::<Result<_, _>>()?,
            mac_address: self
                .mac_address
                .as_deref()
                .map(str::parse::<MacAddress>)
                .transpose()?,
            also: Vec::new(),
        })
    }
}

// ANCHOR: to_spec
/// The network section of a container's spec: `network`'s flags checked
/// against each other and against what exists, `--network container:NAME`
/// resolved to that container's id. Chapter 2's flags in `args` are
/// adjusted to match: its `--network` becomes `host` or `none` (a joined
/// namespace is set by [`Spec::new`]), and a container that shares
/// another's network takes its hostname, as docker does.
pub fn network_request(
    engine: &NetworkEngine,
    network: &NetworkArgs,
    args: &mut ContainerArgs,
) -> Result<NetworkRequest, NetworkFlagError> {
    let mut request = network.to_request(args.network.parse()?)?;
    request.validate()?;
    match &request.mode {
        // Refused before anything is made.
        NetworkMode::Network(name) => drop(engine.networks().get(name)?),
        NetworkMode::Container(name) => {
            let other = engine
                .containers()
                .find::<ch02_namespaces::Spec>(name)
                .map_err(|source| NetworkFlagError::Container {
                    name: name.clone(),
                    source,
                })?;
            if !other.is_running() {
                return Err(NetworkFlagError::NotRunning(name.clone()));
            }
            if args.hostname.is_some() {
                return Err(NetworkFlagError::HostnameWithContainer);
            }
            args.hostname = Some(other.spec.hostname.clone());
            request.mode = NetworkMode::Container(other.spec.id.clone());
        }
        _ => {}
    }
    let namespace = match namespace_of(&request.mode) {
        ch02_namespaces::namespaces::NetworkMode::Host => "host",
        _ => "none",
    };
    args.network = namespace.to_string();
    Ok(request)
}

impl NetworkFlags {
    /// The spec of `command` in a container of the image `reference`, on
    /// the network these flags ask for.
    pub fn to_spec(
        &self,
        engine: &NetworkEngine,
        reference: &Reference,
        command: &[String],
    ) -> Result<Spec, NetworkFlagError> {
        let mut below = self.below.clone();
        let request = network_request(engine, &self.network, container_args(&mut below))?;
        let storage = engine.images().spec(&below, reference, command)?;
        Ok(Spec::new(storage, request))
    }
}
// ANCHOR_END: to_spec

/// `ch06-network run IMAGE [COMMAND]`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub flags: NetworkFlags,

    /// Not a flag of this chapter: refused with an explanation
    #[arg(long, hide = true, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,

    /// The image to run
    pub image: String,

    /// The command, replacing the image's Cmd
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Why `run` failed before its container ran.
#[derive(Debug, thiserror::Error)]
pub enum RunFlagError {
    #[error(
        "--rootfs is not a flag of ch06-network: its containers run an image (ch06-network run IMAGE); to run a directory, use ch04-overlayfs run --rootfs {0}"
    )]
    Rootfs(String),
    #[error("{0}")]
    Flags(#[from] NetworkFlagError),
    #[error("{0}")]
    Image(#[from] ImageVerbError),
    #[error("{0}")]
    Run(#[from] RunError),
}

impl RunArgs {
    /// Runs the container in the foreground.
    pub fn run(&self, engine: &NetworkEngine) -> Result<ExitReport, RunFlagError> {
        if let Some(rootfs) = &self.rootfs {
            return Err(RunFlagError::Rootfs(rootfs.display().to_string()));
        }
        let reference = ch05_images::verbs::ensure_image(engine.images(), &self.image)?;
        let spec = self.flags.to_spec(engine, &reference, &self.command)?;
        Ok(ch02_namespaces::run::run(
            engine,
            spec,
            Some(reference.to_string()),
        )?)
    }
}

/// The verbs of chapters 2 to 5, and those on networks.
#[derive(Debug, Clone, Subcommand)]
pub enum Verbs {
    #[command(flatten)]
    Images(ImageCommand),
    /// Manage networks
    #[command(subcommand)]
    Network(NetworkCommand),
    /// List a container's published ports, or the host address of one
    Port {
        #[arg(value_name = "CONTAINER")]
        container: String,
        /// Only this port of the container: PORT[/tcp|/udp]
        #[arg(value_name = "PRIVATE_PORT")]
        port: Option<String>,
    },
}

/// `network ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum NetworkCommand {
    /// Create a network: a bridge of its own, a subnet, DNS by name
    Create {
        /// Its subnet in CIDR notation (default: a free /24 of 10.202.0.0/16)
        #[arg(long, value_name = "CIDR")]
        subnet: Option<String>,
        /// The bridge's address, the containers' gateway (default: the subnet's first host)
        #[arg(long, value_name = "IP")]
        gateway: Option<Ipv4Addr>,
        /// No way in or out: no outbound NAT, no published ports
        #[arg(long)]
        internal: bool,
        /// The MTU of its bridge and cables (default: the uplink's); 65535 for fast traffic between its containers
        #[arg(long, value_name = "BYTES")]
        mtu: Option<u32>,
        /// A label, KEY=VALUE
        #[arg(long = "label", value_name = "KEY=VALUE")]
        labels: Vec<String>,
        name: String,
    },
    /// List networks
    Ls,
    /// Show networks as JSON
    Inspect {
        #[arg(required = true, value_name = "NETWORK")]
        networks: Vec<String>,
    },
    /// Remove networks (refused while a container uses one)
    Rm {
        #[arg(required = true, value_name = "NETWORK")]
        networks: Vec<String>,
    },
    /// Remove every user-defined network no container uses
    Prune,
    /// Connect a running container to one more network (a cable of its own: eth1, eth2...)
    Connect {
        /// Another name the container answers to on this network
        #[arg(long = "alias", value_name = "NAME")]
        aliases: Vec<String>,
        /// Its address on this network
        #[arg(long, value_name = "IP")]
        ip: Option<Ipv4Addr>,
        network: String,
        container: String,
    },
    /// Disconnect a running container from a network it joined besides its first
    Disconnect { network: String, container: String },
}

/// Why a verb failed.
#[derive(Debug, thiserror::Error)]
pub enum VerbError {
    #[error("{0}")]
    Images(#[from] ImageVerbs),
    #[error("{0}")]
    Network(#[from] NetworkVerbError),
    #[error("{0}")]
    Store(#[from] NetworkError),
    #[error("--subnet: {0}")]
    Subnet(#[from] SubnetError),
    #[error("--label {0:?}: use KEY=VALUE")]
    Label(String),
}

impl Verbs {
    /// Whether the verb enters a running container (chapter 2's `exec`).
    pub fn enters_container(&self) -> bool {
        matches!(self, Verbs::Images(verb) if verb.enters_container())
    }

    /// Carries out the verb; returns the exit code.
    pub fn execute(self, engine: &NetworkEngine) -> Result<i32, VerbError> {
        match self {
            // `ps` shows the published ports.
            Verbs::Images(ImageCommand::Overlay(OverlayVerbs::Cgroup(CgroupVerbs::Container(
                ContainerVerbs::Ps { all, quiet },
            )))) => {
                print!("{}", verbs::ps(engine, all, quiet)?);
                Ok(0)
            }
            Verbs::Images(verb) => Ok(verb.execute_with(engine, engine.images())?),
            Verbs::Network(command) => network(engine, command),
            Verbs::Port { container, port } => {
                for line in verbs::port(engine, &container, port.as_deref())? {
                    println!("{line}");
                }
                Ok(0)
            }
        }
    }
}

fn network(engine: &NetworkEngine, command: NetworkCommand) -> Result<i32, VerbError> {
    let store = engine.networks();
    match command {
        NetworkCommand::Create {
            subnet,
            gateway,
            internal,
            mtu,
            labels,
            name,
        } => {
            let spec = NetworkSpec {
                name,
                subnet: subnet.as_deref().map(str::parse::<Subnet>).transpose()?,
                gateway,
                internal,
                labels: parse_labels(&labels)?,
                mtu,
            };
            println!("{}", store.create(&spec)?.id);
        }
        NetworkCommand::Ls => print!("{}", crate::inspect::list_table(&store.list()?)),
        NetworkCommand::Inspect { networks } => {
            let found = networks
                .iter()
                .map(|name| crate::inspect::inspect(store, name))
                .collect::<Result<Vec<_>, _>>()?;
            println!(
                "{}",
                serde_json::to_string_pretty(&found).expect("plain data")
            );
        }
        NetworkCommand::Rm { networks } => {
            for name in networks {
                store.remove(&name)?;
                println!("{name}");
            }
        }
        NetworkCommand::Connect {
            aliases,
            ip,
            network,
            container,
        } => {
            let extra = crate::request::ExtraNetwork {
                network,
                ip,
                aliases,
            };
            verbs::connect(engine, &container, &extra)?;
        }
        NetworkCommand::Disconnect { network, container } => {
            verbs::disconnect(engine, &network, &container)?;
        }
        NetworkCommand::Prune => {
            let removed = store.prune()?;
            println!("Deleted Networks:");
            for name in removed {
                println!("{name}");
            }
        }
    }
    Ok(0)
}

/// `--label KEY=VALUE` (a bare `KEY` has an empty value, as in docker).
fn parse_labels(labels: &[String]) -> Result<BTreeMap<String, String>, VerbError> {
    labels
        .iter()
        .map(|label| {
            let (key, value) = label.split_once('=').unwrap_or((label, ""));
            if key.is_empty() {
                return Err(VerbError::Label(label.clone()));
            }
            Ok((key.to_string(), value.to_string()))
        })
        .collect()
}

// The binary's whole command line: the global flags and one command.
// `main.rs` parses its arguments with it, and the book's checker (`tests/`)
// parses every command line the book shows with it, so that a page cannot
// show a flag the binary does not have. (The doc comment below is clap's
// `--help` text.)
/// Chapter 6 of skiff: networks: bridges, veth pairs, NAT, published ports, DNS by name
#[derive(Debug, clap::Parser)]
#[command(name = "ch06-network", version)]
pub struct Cli {
    #[command(flatten)]
    pub globals: Globals,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command in a new container of IMAGE, on a network
    Run(Box<RunArgs>),
    #[command(flatten)]
    Verbs(Verbs),
}

impl Command {
    /// Whether the command enters a container: it then runs from a sealed
    /// copy of this binary (see chapter 1's `sealed_exe`).
    pub fn enters_container(&self) -> bool {
        match self {
            Command::Run(_) => true,
            Command::Verbs(verbs) => verbs.enters_container(),
        }
    }
}
