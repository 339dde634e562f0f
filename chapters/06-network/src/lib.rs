//! # Chapter 6: the network
//!
//! Until now a container had either only loopback (a network namespace of
//! its own, empty) or the host's whole stack. This chapter gives it what
//! docker gives it: an interface of its own on a private network, a way out
//! to the world, ports of the host that lead to it, and neighbours it can
//! find by name.
//!
//! ```text
//!        host                                      containers (one netns each)
//!  ┌───────────────────────────────────────┐
//!  │ eth0 (uplink)                         │     ┌────────────────────────┐
//!  │   ▲ masquerade (nftables, inet skiff) │     │ eth0 10.201.0.2/16     │
//!  │   │                                   │  ┌──│ default via 10.201.0.1 │
//!  │ skiff0 10.201.0.1/16  (bridge)        │  │  └────────────────────────┘
//!  │   ├── veth3f2a… ═══════ veth pair ═════╪──┘
//!  │   └── veth91c0… ═══════ veth pair ═════╪──┐  ┌────────────────────────┐
//!  │ 127.0.0.1:8080 ─DNAT─► 10.201.0.3:80  │  └──│ eth0 10.201.0.3/16     │
//!  └───────────────────────────────────────┘     └────────────────────────┘
//! ```
//!
//! - [`netlink`]: the kernel's network configuration interface, spoken
//!   synchronously: bridges, veth pairs, addresses, routes.
//! - [`netns`]: stepping into a container's network namespace and back.
//! - [`subnet`], [`ipam`]: networks in CIDR notation, and addresses handed
//!   out once each.
//! - [`bridge`], [`store`], [`inspect`]: networks (`network create/ls/
//!   inspect/rm/prune`): a bridge, a subnet, rules; the default `bridge`
//!   network made on first use.
//! - [`nat`], [`sysctl`]: nftables rules for the way out (masquerade), the
//!   way in (DNAT of published ports) and isolation between networks.
//! - [`ports`]: `-p [IP:][HOSTPORT:]CONTAINERPORT[/PROTO]`, host ports
//!   reserved by binding them.
//! - [`records`], [`dns`]: names on a network, and the DNS responder at
//!   127.0.0.11 that answers them.
//! - [`files`]: the container's `/etc/hosts`, `/etc/hostname`,
//!   `/etc/resolv.conf`.
//! - [`request`], [`attachment`], [`endpoint`]: the network section of the
//!   run spec, and the three steps of a container's life on the network:
//!   prepare before it exists, join once it exists, release after it ends
//!   (or after its supervisor was killed).
//! - [`state`]: files written atomically, under a lock.
//! - [`spec`], [`step`], [`engine`]: the network section of the run spec,
//!   the network as a step of chapter 2's run path, and the engine that
//!   adds it to chapter 5's.
//! - [`cli`], [`verbs`]: the binary's flags and verbs (`network`, `port`,
//!   `ps` with PORTS).
//!
//! Everything here runs in the container's supervisor, a single-threaded
//! process: no thread, no async runtime. The DNS responder is polled by the
//! supervisor's own loop.

pub mod attachment;
pub mod boot;
pub mod bridge;
pub mod cli;
pub mod dns;
pub mod endpoint;
pub mod engine;
pub mod files;
pub mod inspect;
pub mod ipam;
pub mod nat;
pub mod netlink;
pub mod netns;
pub mod ports;
pub mod records;
pub mod request;
pub mod spec;
pub mod state;
pub mod step;
pub mod store;
pub mod subnet;
pub mod sysctl;
pub mod verbs;

pub use attachment::{AttachError, Attachment, Identity, release, release_orphans, release_stale};
pub use endpoint::Endpoint;
pub use engine::NetworkEngine;
pub use files::ContainerFiles;
pub use ports::{PortMapping, PortRequest, parse_publish};
pub use request::{NetworkMode, NetworkRequest};
pub use spec::Spec;
pub use step::NetworkStep;
pub use store::{Network, NetworkError, NetworkSpec, NetworkStore, StoreConfig};
