//! The container's `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf`.
//!
//! These three files describe the container's place on the network, which
//! the image cannot know: its hostname, its own address, where to ask for
//! names. Docker writes them per container on the host and bind-mounts them
//! over the image's files, and so do we. The image's layers are never
//! changed, and the files can be rewritten while the container runs.
//!
//! - `/etc/hosts`: the localhost lines, the container's own address with its
//!   hostname (and name and aliases), and each `--add-host NAME:IP`.
//! - `/etc/hostname`: the hostname, one line.
//! - `/etc/resolv.conf`: on a user-defined network, `nameserver 127.0.0.11`,
//!   the embedded DNS responder (see [`crate::dns`]), with the host's
//!   `search` and `options` lines and `ndots:0` (as docker writes it: a name
//!   without a dot is first tried as it is, which is how containers are
//!   named). On the default bridge and with `--network none`, the host's
//!   name servers, minus the loopback ones: `127.0.0.53` inside the
//!   container would be the container's own loopback, where nothing
//!   answers. When none is left, docker's fallback: Google's public servers.
//!   `--dns IP` replaces the name servers (on a user-defined network, the
//!   responder forwards to them instead).

use crate::state::{self, StateError};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The address of the embedded DNS responder inside every container on a
/// user-defined network, as in docker.
pub const EMBEDDED_DNS: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 11));

/// Docker's name servers of last resort, when the host has none a container
/// can reach.
pub const FALLBACK_NAMESERVERS: [IpAddr; 2] = [
    IpAddr::V4(std::net::Ipv4Addr::new(8, 8, 8, 8)),
    IpAddr::V4(std::net::Ipv4Addr::new(8, 8, 4, 4)),
];

/// What the host's `/etc/resolv.conf` says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvConf {
    /// `nameserver` lines.
    pub nameservers: Vec<IpAddr>,
    /// The `search` domains.
    pub search: Vec<String>,
    /// The `options`.
    pub options: Vec<String>,
}

impl ResolvConf {
    /// Parses resolv.conf text; unknown lines and comments are skipped.
    ///
    /// ```
    /// use ch06_network::files::ResolvConf;
    /// let r = ResolvConf::parse("# x\nnameserver 127.0.0.53\nsearch lan\noptions edns0 trust-ad\n");
    /// assert_eq!(r.nameservers.len(), 1);
    /// assert_eq!(r.search, ["lan"]);
    /// assert_eq!(r.options, ["edns0", "trust-ad"]);
    /// ```
    pub fn parse(text: &str) -> ResolvConf {
        let mut conf = ResolvConf::default();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    if let Some(ip) = words.next().and_then(|w| w.parse().ok()) {
                        conf.nameservers.push(ip);
                    }
                }
                // The last search (or domain) line wins, as in the resolver.
                Some("search") | Some("domain") => conf.search = words.map(String::from).collect(),
                Some("options") => conf.options.extend(words.map(String::from)),
                _ => {}
            }
        }
        conf
    }

    /// Reads the host's `/etc/resolv.conf` (empty if there is none).
    pub fn host() -> ResolvConf {
        ResolvConf::parse(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default())
    }

    /// The name servers a container can reach: the loopback ones dropped,
    /// and the fallback when nothing is left.
    pub fn reachable_nameservers(&self) -> Vec<IpAddr> {
        let servers: Vec<IpAddr> = self
            .nameservers
            .iter()
            .copied()
            .filter(|ip| !ip.is_loopback())
            .collect();
        if servers.is_empty() {
            FALLBACK_NAMESERVERS.to_vec()
        } else {
            servers
        }
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut text = String::new();
        for server in &self.nameservers {
            let _ = writeln!(text, "nameserver {server}");
        }
        if !self.search.is_empty() {
            let _ = writeln!(text, "search {}", self.search.join(" "));
        }
        if !self.options.is_empty() {
            let _ = writeln!(text, "options {}", self.options.join(" "));
        }
        text
    }
}

/// A line `--add-host NAME:IP` adds to `/etc/hosts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraHost {
    /// The name.
    pub name: String,
    /// Its address.
    pub address: IpAddr,
}

/// A malformed `--add-host`.
#[derive(Debug, thiserror::Error)]
#[error(
    "invalid extra host {0:?}: expected NAME:IP, e.g. db:10.0.0.5 or host.docker.internal:host-gateway"
)]
pub struct ExtraHostError(pub String);

/// The special address `host-gateway`: the host's address on the
/// container's network (the gateway), as docker resolves it.
pub const HOST_GATEWAY: &str = "host-gateway";

/// Parses `NAME:IP` (or `NAME=IP`, as docker also accepts). `host-gateway`
/// becomes `gateway` (`None` outside a bridge network: an error then).
pub fn parse_extra_host(text: &str, gateway: Option<IpAddr>) -> Result<ExtraHost, ExtraHostError> {
    let bad = || ExtraHostError(text.to_string());
    let (name, address) = text.split_once(['=', ':']).ok_or_else(bad)?;
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(bad());
    }
    let address = if address == HOST_GATEWAY {
        gateway.ok_or_else(bad)?
    } else {
        address
            .trim_matches(['[', ']'])
            .parse()
            .map_err(|_| bad())?
    };
    Ok(ExtraHost {
        name: name.to_string(),
        address,
    })
}

/// What goes into a container's `/etc/hosts`.
#[derive(Debug, Clone, Default)]
pub struct HostsContent<'a> {
    /// The container's own address, with the names it answers to.
    pub own: Option<(IpAddr, Vec<&'a str>)>,
    /// The `--add-host` entries.
    pub extra: &'a [ExtraHost],
}

// ANCHOR: hosts
/// The text of `/etc/hosts`.
///
/// ```
/// use ch06_network::files::{render_hosts, HostsContent};
/// let text = render_hosts(&HostsContent { own: Some(("10.201.0.2".parse().unwrap(), vec!["abc123", "web"])), extra: &[] });
/// assert!(text.ends_with("10.201.0.2\tabc123 web\n"));
/// ```
pub fn render_hosts(content: &HostsContent<'_>) -> String {
    let mut text = String::from(
        "127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\n\
         ff00::0\tip6-mcastprefix\n\
         ff02::1\tip6-allnodes\n\
         ff02::2\tip6-allrouters\n",
    );
    for extra in content.extra {
        let _ = writeln!(text, "{}\t{}", extra.address, extra.name);
    }
    if let Some((address, names)) = &content.own {
        let _ = writeln!(text, "{address}\t{}", names.join(" "));
    }
    text
}
// ANCHOR_END: hosts

/// The three files of one container, in a directory of their own on the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerFiles {
    /// The file to mount on `/etc/hosts`.
    pub hosts: PathBuf,
    /// The file to mount on `/etc/hostname`.
    pub hostname: PathBuf,
    /// The file to mount on `/etc/resolv.conf`.
    pub resolv_conf: PathBuf,
}

impl ContainerFiles {
    /// The files' paths in `dir`.
    pub fn in_dir(dir: &Path) -> ContainerFiles {
        ContainerFiles {
            hosts: dir.join("hosts"),
            hostname: dir.join("hostname"),
            resolv_conf: dir.join("resolv.conf"),
        }
    }

    /// Writes the three files (atomically each: a container that reads them
    /// while they change sees the old or the new text).
    pub fn write(
        &self,
        hosts: &str,
        hostname: &str,
        resolv_conf: &ResolvConf,
    ) -> Result<(), StateError> {
        state::write_atomic(&self.hosts, hosts.as_bytes())?;
        state::write_atomic(&self.hostname, format!("{hostname}\n").as_bytes())?;
        state::write_atomic(&self.resolv_conf, resolv_conf.render().as_bytes())
    }

    /// `(source on the host, target in the container)` for each bind mount.
    pub fn mounts(&self) -> [(&Path, &'static str); 3] {
        [
            (&self.hosts, "/etc/hosts"),
            (&self.hostname, "/etc/hostname"),
            (&self.resolv_conf, "/etc/resolv.conf"),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_servers_are_dropped_with_a_fallback() {
        let r = ResolvConf::parse("nameserver 127.0.0.53\n");
        assert_eq!(r.reachable_nameservers(), FALLBACK_NAMESERVERS.to_vec());
        let r = ResolvConf::parse("nameserver 127.0.0.53\nnameserver 10.255.255.53\n");
        assert_eq!(
            r.reachable_nameservers(),
            vec!["10.255.255.53".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn extra_hosts() {
        let gw: IpAddr = "10.201.0.1".parse().unwrap();
        assert_eq!(
            parse_extra_host("db:10.0.0.5", None)
                .unwrap()
                .address
                .to_string(),
            "10.0.0.5"
        );
        assert_eq!(
            parse_extra_host("h=host-gateway", Some(gw))
                .unwrap()
                .address,
            gw
        );
        assert!(parse_extra_host("h:host-gateway", None).is_err());
        assert!(parse_extra_host("nocolon", None).is_err());
        assert!(parse_extra_host(":1.2.3.4", None).is_err());
        let text = render_hosts(&HostsContent {
            own: None,
            extra: &[parse_extra_host("db:10.0.0.5", None).unwrap()],
        });
        assert!(text.contains("10.0.0.5\tdb\n"));
    }

    #[test]
    fn resolv_conf_round_trip() {
        let r = ResolvConf {
            nameservers: vec![EMBEDDED_DNS],
            search: vec!["lan".into()],
            options: vec!["ndots:0".into()],
        };
        assert_eq!(
            r.render(),
            "nameserver 127.0.0.11\nsearch lan\noptions ndots:0\n"
        );
        assert_eq!(ResolvConf::parse(&r.render()), r);
    }
}
