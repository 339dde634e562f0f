//! Published ports: `-p [IP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp]`.
//!
//! Publishing a port makes a port of the host lead to a port of the
//! container. The packets themselves are redirected by a DNAT rule (see
//! [`crate::nat`]); this module parses what the user asked for and
//! **reserves** the host's ports:
//!
//! - `-p 8080:80` means host port 8080 on every host address, to port 80/tcp
//!   in the container; `-p 127.0.0.1:8080:80/udp` only on 127.0.0.1, UDP;
//!   `-p 80` or `-p 127.0.0.1::80` lets the kernel choose a free host port;
//!   `-p 8080-8081:80-81` publishes a range, pairwise.
//! - A reservation is a socket **bound** to the host address and port, kept
//!   open by the supervisor for the container's life. Binding is the test
//!   "is this port free?" that cannot race: if something else listens
//!   there, `bind` fails with `EADDRINUSE` and the container does not start.
//!   A TCP reservation also **listens** (it never accepts: the DNAT rule
//!   takes every packet for the port before a socket could see it), with
//!   `SO_REUSEADDR`, as servers and docker's proxy bind: a connection of a
//!   minute ago in `TIME_WAIT` on the port does not refuse the container,
//!   and a listening socket refuses every later `bind` of the port, so no
//!   program of the host can take it and be silently bypassed by our DNAT
//!   rule. Port 0 asks the kernel for a free port from
//!   `net.ipv4.ip_local_port_range`, which `getsockname` then tells us.
//!
//! The sockets are `CLOEXEC`: they never leak into the container's program.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, UdpSocket};
use std::os::fd::OwnedFd;
use std::str::FromStr;

/// A malformed `-p` or a port that cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// The text does not follow `[IP:][HOSTPORT:]CONTAINERPORT[/PROTO]`.
    #[error(
        "invalid port publication {text:?}: {why} (expected [IP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp], e.g. 127.0.0.1:8080:80)"
    )]
    Syntax {
        /// What was given.
        text: String,
        /// What is wrong with it.
        why: String,
    },
    /// Something else already uses the host port.
    #[error(
        "host port {port}/{protocol} on {address} is already in use: choose another host port, or stop what listens there"
    )]
    InUse {
        /// The host address.
        address: Ipv4Addr,
        /// The host port.
        port: u16,
        /// tcp or udp.
        protocol: Protocol,
    },
    /// Binding failed for another reason (an address the host does not have...).
    #[error("cannot reserve host port {port}/{protocol} on {address}: {source}")]
    Bind {
        /// The host address.
        address: Ipv4Addr,
        /// The host port (0: any).
        port: u16,
        /// tcp or udp.
        protocol: Protocol,
        /// What the kernel said.
        source: io::Error,
    },
}

/// The transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP, the default.
    Tcp,
    /// UDP.
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// One port to publish, as asked: the host port may be left to the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRequest {
    /// The host address to listen on; `0.0.0.0` means all of them.
    pub host_ip: Ipv4Addr,
    /// The host port; `None` for one the kernel chooses.
    pub host_port: Option<u16>,
    /// The port inside the container.
    pub container_port: u16,
    /// tcp or udp.
    pub protocol: Protocol,
}

/// One published port, with its host port known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PortMapping {
    /// The port inside the container.
    pub container_port: u16,
    /// tcp or udp.
    pub protocol: Protocol,
    /// The host address; `0.0.0.0` means all of them.
    pub host_ip: Ipv4Addr,
    /// The host port.
    pub host_port: u16,
}

impl fmt::Display for PortMapping {
    /// The line `docker port` prints: `80/tcp -> 0.0.0.0:8080`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} -> {}:{}",
            self.container_port, self.protocol, self.host_ip, self.host_port
        )
    }
}

// ANCHOR: parse_publish
/// Parses one `-p` value into the ports it publishes (several for a range).
///
/// ```
/// use ch06_network::ports::{parse_publish, Protocol};
/// let p = parse_publish("127.0.0.1:8080-8081:80-81/udp").unwrap();
/// assert_eq!(p.len(), 2);
/// assert_eq!((p[1].host_port, p[1].container_port, p[1].protocol), (Some(8081), 81, Protocol::Udp));
/// assert_eq!(parse_publish("80").unwrap()[0].host_port, None);
/// ```
pub fn parse_publish(text: &str) -> Result<Vec<PortRequest>, PortError> {
    let bad = |why: &str| PortError::Syntax {
        text: text.to_string(),
        why: why.to_string(),
    };
    let (spec, protocol) = match text.rsplit_once('/') {
        Some((spec, "tcp")) => (spec, Protocol::Tcp),
        Some((spec, "udp")) => (spec, Protocol::Udp),
        Some((_, other)) => {
            return Err(bad(&format!("unknown protocol {other:?}, use tcp or udp")));
        }
        None => (text, Protocol::Tcp),
    };
    if spec.starts_with('[') {
        return Err(bad("IPv6 host addresses are not supported"));
    }
    let parts: Vec<&str> = spec.split(':').collect();
    let (ip, host, container) = match parts.as_slice() {
        [container] => ("", "", *container),
        [host, container] => ("", *host, *container),
        [ip, host, container] => (*ip, *host, *container),
        _ => return Err(bad("too many ':'")),
    };
    let host_ip = if ip.is_empty() {
        Ipv4Addr::UNSPECIFIED
    } else {
        ip.parse()
            .map_err(|_| bad(&format!("{ip:?} is not an IPv4 address")))?
    };
    let container = port_range(container)
        .ok_or_else(|| bad("the container port must be 1-65535 or a range such as 80-81"))?;
    let host = if host.is_empty() {
        None
    } else {
        let range = port_range(host)
            .ok_or_else(|| bad("the host port must be 1-65535 or a range such as 8080-8081"))?;
        if range.1 - range.0 != container.1 - container.0 {
            return Err(bad("the host and container ranges differ in length"));
        }
        Some(range.0)
    };
    Ok((0..=container.1 - container.0)
        .map(|i| PortRequest {
            host_ip,
            host_port: host.map(|h| h + i),
            container_port: container.0 + i,
            protocol,
        })
        .collect())
}
// ANCHOR_END: parse_publish

fn port_range(text: &str) -> Option<(u16, u16)> {
    let (low, high) = match text.split_once('-') {
        Some((low, high)) => (low.parse::<u16>().ok()?, high.parse::<u16>().ok()?),
        None => {
            let port = text.parse::<u16>().ok()?;
            (port, port)
        }
    };
    (low != 0 && low <= high).then_some((low, high))
}

impl FromStr for PortRequest {
    type Err = PortError;

    /// One port (not a range): `127.0.0.1:8080:80/tcp`.
    fn from_str(text: &str) -> Result<PortRequest, PortError> {
        let mut ports = parse_publish(text)?;
        if ports.len() != 1 {
            return Err(PortError::Syntax {
                text: text.to_string(),
                why: "a range publishes several ports here, one was expected".to_string(),
            });
        }
        Ok(ports.remove(0))
    }
}

/// A host port held for a container: the bound socket, and what it maps to.
#[derive(Debug)]
pub struct Reservation {
    /// The published port.
    pub mapping: PortMapping,
    /// The bound socket, never read: the port is ours while it is open.
    _held: OwnedFd,
}

// ANCHOR: reserve
/// Reserves the host port of `request` by binding a socket to it.
pub fn reserve(request: &PortRequest) -> Result<Reservation, PortError> {
    let port = request.host_port.unwrap_or(0);
    let address = SocketAddr::V4(SocketAddrV4::new(request.host_ip, port));
    let fail = |source: io::Error| {
        if source.kind() == io::ErrorKind::AddrInUse {
            PortError::InUse {
                address: request.host_ip,
                port,
                protocol: request.protocol,
            }
        } else {
            PortError::Bind {
                address: request.host_ip,
                port,
                protocol: request.protocol,
                source,
            }
        }
    };
    ch01_process::explain!(
        "bind({address}/{}) to reserve the host port",
        request.protocol
    );
    let (socket, bound): (OwnedFd, SocketAddr) = match request.protocol {
        Protocol::Tcp => {
            let socket = bound_tcp(address).map_err(fail)?;
            let bound = socket.local_addr().map_err(fail)?;
            (socket.into(), bound)
        }
        Protocol::Udp => {
            let socket = UdpSocket::bind(address).map_err(fail)?;
            let bound = socket.local_addr().map_err(fail)?;
            (socket.into(), bound)
        }
    };
    Ok(Reservation {
        mapping: PortMapping {
            container_port: request.container_port,
            protocol: request.protocol,
            host_ip: request.host_ip,
            host_port: bound.port(),
        },
        _held: socket,
    })
}
// ANCHOR_END: reserve

/// Reserves every request, or none: on an error the ports already bound are
/// released (their sockets closed).
pub fn reserve_all(requests: &[PortRequest]) -> Result<Vec<Reservation>, PortError> {
    requests.iter().map(reserve).collect()
}

/// A TCP socket bound to `address` with `SO_REUSEADDR`, listening with
/// an empty backlog. Made by hand rather than with `TcpListener::bind`, to
/// say each step: the option (the port may hold sockets in `TIME_WAIT`),
/// the bind (the test that the port is free), the listen (from then on no
/// other socket can bind the port, `SO_REUSEADDR` or not).
fn bound_tcp(address: SocketAddr) -> io::Result<TcpListener> {
    use std::os::fd::FromRawFd;
    let SocketAddr::V4(v4) = address else {
        return Err(io::Error::from(io::ErrorKind::Unsupported));
    };
    // SAFETY: a plain socket call; the descriptor is owned right away.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a new descriptor that nothing else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    // SAFETY: SO_REUSEADDR takes an int, whose address and size are given.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let sockaddr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: v4.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*v4.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: sockaddr is a valid sockaddr_in for the length given.
    let rc = unsafe {
        libc::bind(
            fd,
            (&sockaddr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: listen on our own bound socket.
    if unsafe { libc::listen(fd, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // A TcpListener is the typed owner of the descriptor: it is never asked
    // to accept, and `local_addr` tells the port.
    Ok(TcpListener::from(owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_of_publish() {
        let p = parse_publish("8080:80").unwrap();
        assert_eq!(
            p,
            vec![PortRequest {
                host_ip: Ipv4Addr::UNSPECIFIED,
                host_port: Some(8080),
                container_port: 80,
                protocol: Protocol::Tcp
            }]
        );
        let p = parse_publish("127.0.0.1::53/udp").unwrap();
        assert_eq!(
            (p[0].host_ip, p[0].host_port, p[0].protocol),
            (Ipv4Addr::LOCALHOST, None, Protocol::Udp)
        );
        assert_eq!(parse_publish("80-82").unwrap().len(), 3);
    }

    #[test]
    fn malformed_publish_says_why() {
        for (text, why) in [
            ("", "container port"),
            ("0", "container port"),
            ("8080:80/sctp", "unknown protocol"),
            ("a:b:c:d", "too many"),
            ("x.y:80:80", "not an IPv4"),
            ("8080-8082:80-81", "differ in length"),
            ("[::1]:80:80", "IPv6"),
            ("70000:80", "host port"),
        ] {
            let err = parse_publish(text).unwrap_err().to_string();
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }

    #[test]
    fn docker_port_format() {
        let m = PortMapping {
            container_port: 80,
            protocol: Protocol::Tcp,
            host_ip: Ipv4Addr::UNSPECIFIED,
            host_port: 8080,
        };
        assert_eq!(m.to_string(), "80/tcp -> 0.0.0.0:8080");
    }

    #[test]
    fn reserving_a_port_in_use_fails_clearly() {
        let busy = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = busy.local_addr().unwrap().port();
        let request = PortRequest {
            host_ip: Ipv4Addr::LOCALHOST,
            host_port: Some(port),
            container_port: 80,
            protocol: Protocol::Tcp,
        };
        let err = reserve(&request).unwrap_err();
        assert!(matches!(err, PortError::InUse { .. }), "{err}");
        assert!(err.to_string().contains("already in use"));
    }

    #[test]
    fn a_reservation_holds_the_port_and_an_ephemeral_one_is_chosen() {
        let request = PortRequest {
            host_ip: Ipv4Addr::LOCALHOST,
            host_port: None,
            container_port: 80,
            protocol: Protocol::Tcp,
        };
        let held = reserve(&request).unwrap();
        assert_ne!(held.mapping.host_port, 0);
        assert!(TcpListener::bind(("127.0.0.1", held.mapping.host_port)).is_err());
        drop(held);
    }

    #[test]
    fn a_port_with_a_connection_in_time_wait_can_be_reserved() {
        use std::io::Read;
        // A server on the port closes a connection first: its side stays in
        // TIME_WAIT for a minute, holding the port.
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (accepted, _) = server.accept().unwrap();
        drop(accepted);
        let mut end = [0u8; 1];
        assert_eq!(client.read(&mut end).unwrap(), 0);
        drop(client);
        drop(server);
        let request = PortRequest {
            host_ip: Ipv4Addr::LOCALHOST,
            host_port: Some(port),
            container_port: 80,
            protocol: Protocol::Tcp,
        };
        let held = reserve(&request).unwrap();
        assert_eq!(held.mapping.host_port, port);
    }
}
