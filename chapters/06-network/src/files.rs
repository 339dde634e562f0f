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
use std::fmt::{self, Write as _};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

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

/// The address of an `--add-host` line: an address, or `host-gateway`,
/// the host's address on the container's network (its gateway), as docker
/// resolves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostAddress {
    /// A literal address.
    Ip(IpAddr),
    /// `host-gateway`.
    HostGateway,
}

/// The special address `host-gateway`.
pub const HOST_GATEWAY: &str = "host-gateway";

/// A line `--add-host NAME:IP` adds to `/etc/hosts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraHost {
    /// The name.
    pub name: String,
    /// Its address.
    pub address: HostAddress,
}

/// A malformed `--add-host`, or `host-gateway` where there is no gateway.
#[derive(Debug, thiserror::Error)]
pub enum ExtraHostError {
    /// Not `NAME:IP`.
    #[error(
        "invalid extra host {0:?}: expected NAME:IP, e.g. db:10.0.0.5 or host.docker.internal:host-gateway"
    )]
    Syntax(String),
    /// `host-gateway` without a bridge network.
    #[error(
        "extra host {0:?}: host-gateway needs a bridge network (there is no gateway with this --network)"
    )]
    NoGateway(String),
}

impl FromStr for ExtraHost {
    type Err = ExtraHostError;

    /// Parses `NAME:IP` (or `NAME=IP`, as docker also accepts).
    ///
    /// ```
    /// use ch06_network::files::{ExtraHost, HostAddress};
    /// let h: ExtraHost = "host.docker.internal:host-gateway".parse().unwrap();
    /// assert_eq!(h.address, HostAddress::HostGateway);
    /// assert_eq!(h.to_string(), "host.docker.internal:host-gateway");
    /// ```
    fn from_str(text: &str) -> Result<ExtraHost, ExtraHostError> {
        let bad = || ExtraHostError::Syntax(text.to_string());
        let (name, address) = text.split_once(['=', ':']).ok_or_else(bad)?;
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(bad());
        }
        let address = if address == HOST_GATEWAY {
            HostAddress::HostGateway
        } else {
            HostAddress::Ip(
                address
                    .trim_matches(['[', ']'])
                    .parse()
                    .map_err(|_| bad())?,
            )
        };
        Ok(ExtraHost {
            name: name.to_string(),
            address,
        })
    }
}

impl fmt::Display for ExtraHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.address {
            HostAddress::Ip(ip) => write!(f, "{}:{ip}", self.name),
            HostAddress::HostGateway => write!(f, "{}:{HOST_GATEWAY}", self.name),
        }
    }
}

impl ExtraHost {
    /// The address to write, `host-gateway` replaced by `gateway`.
    pub fn resolve(&self, gateway: Option<IpAddr>) -> Result<(IpAddr, &str), ExtraHostError> {
        match self.address {
            HostAddress::Ip(ip) => Ok((ip, &self.name)),
            HostAddress::HostGateway => gateway
                .map(|g| (g, self.name.as_str()))
                .ok_or_else(|| ExtraHostError::NoGateway(self.to_string())),
        }
    }
}

impl Serialize for ExtraHost {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ExtraHost {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// What goes into a container's `/etc/hosts`.
#[derive(Debug, Clone, Default)]
pub struct HostsContent<'a> {
    /// The container's own address, with the names it answers to.
    pub own: Option<(IpAddr, Vec<&'a str>)>,
    /// The `--add-host` entries, resolved.
    pub extra: Vec<(IpAddr, &'a str)>,
}

// ANCHOR: hosts
/// The text of `/etc/hosts`.
///
/// ```
/// use ch06_network::files::{render_hosts, HostsContent};
/// let own = Some(("10.201.0.2".parse().unwrap(), vec!["abc123", "web"]));
/// let text = render_hosts(&HostsContent { own, extra: vec![] });
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
    for (address, name) in &content.extra {
        let _ = writeln!(text, "{address}\t{name}");
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
        // Written at each start: no need to survive a crash.
        state::write_scratch(&self.hosts, hosts.as_bytes())?;
        state::write_scratch(&self.hostname, format!("{hostname}\n").as_bytes())?;
        state::write_scratch(&self.resolv_conf, resolv_conf.render().as_bytes())
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
        let db: ExtraHost = "db:10.0.0.5".parse().unwrap();
        assert_eq!(db.resolve(None).unwrap().0.to_string(), "10.0.0.5");
        let h: ExtraHost = "h=host-gateway".parse().unwrap();
        assert_eq!(h.resolve(Some(gw)).unwrap().0, gw);
        assert!(matches!(h.resolve(None), Err(ExtraHostError::NoGateway(_))));
        assert!("nocolon".parse::<ExtraHost>().is_err());
        assert!(":1.2.3.4".parse::<ExtraHost>().is_err());
        let six: ExtraHost = "v6:[::1]".parse().unwrap();
        assert_eq!(six.address, HostAddress::Ip("::1".parse().unwrap()));
        let text = render_hosts(&HostsContent {
            own: None,
            extra: vec![db.resolve(None).unwrap()],
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
