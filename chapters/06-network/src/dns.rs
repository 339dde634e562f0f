//! The embedded DNS responder: containers on a user-defined network find
//! each other by name.
//!
//! Docker's design, which we follow: inside each container's network
//! namespace a resolver listens on `127.0.0.11:53`, and the container's
//! `/etc/resolv.conf` names it. It answers the names of the containers on
//! the same network from the network's records file (see [`crate::records`])
//! and forwards every other question to the host's resolvers. The default
//! bridge has no such resolver, as in docker: its containers get the host's
//! name servers and find each other only by address (the default bridge
//! predates DNS by name, and docker keeps it as it was; user networks are
//! where names work).
//!
//! Why 127.0.0.11 in the container's own namespace rather than one resolver
//! on each network's gateway (podman's aardvark-dns)? Nothing outside the
//! container can reach it, so no rule is needed to keep other networks from
//! asking it, and it works the same on internal networks. Its cost, a socket
//! per container, is paid by the container's own supervisor, which owns it:
//!
//! - The **listening** socket is created by the supervisor after `setns`
//!   into the container's namespace (a socket belongs to the namespace it
//!   was created in), then the supervisor steps back out. It listens on a
//!   port the kernel chooses, and a DNAT rule in the container's namespace
//!   sends what goes to 127.0.0.11:53 there, as docker does: port 53 stays
//!   free for a DNS server the container may run itself.
//! - The **forwarding** socket is created in the supervisor's own namespace,
//!   the host's: questions go out to the host's resolvers from the host, so
//!   a host resolver on loopback (systemd-resolved's 127.0.0.53) works, and
//!   so does forwarding from an internal network... except that, as docker
//!   does since version 26, we do not forward for internal networks: a
//!   network with no way out should not leak names out through its resolver.
//! - Both sockets are non-blocking and registered in one `epoll` descriptor:
//!   the supervisor, which is single-threaded, polls [`DnsServer::fd`] with
//!   its other descriptors and calls [`DnsServer::handle_ready`] when it is
//!   readable. No thread, no runtime.
//!
//! What is answered: `A` for a container's names (also under
//! [`DOMAIN`](crate::records::DOMAIN)), an empty answer for other types of a
//! known name (so that a client asking `AAAA` first does not wait), `PTR` for
//! a container's address, and "no such name" for unknown names under our
//! domain. The wire format is hickory-proto's; the decisions are ours.
//! Over UDP only: an answer too large for a datagram is truncated by the
//! upstream resolver and the client's retry over TCP is refused.

use crate::netns;
use crate::records::{DOMAIN, Records};
use ch01_process::explain;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Where the container sends its questions (a rule inside the container
/// redirects them to the responder's real port).
pub const LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 11)), 53);

/// The time to live of our answers. Short, because a container restarted
/// elsewhere gets another address.
pub const TTL: u32 = 60;

/// How long a forwarded question waits for its answer before it is
/// forgotten (and the next upstream server tried for later questions).
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(4);

/// The most forwarded questions waiting at once (ids are 16 bits).
pub const MAX_PENDING: usize = 4096;

/// How one responder behaves.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// The records files of the container's networks with DNS by name, its
    /// first network first.
    pub records: Vec<PathBuf>,
    /// The container's endpoint record, when the list of networks can
    /// change while it runs (`network connect`): its `dns_records` replace
    /// `records` whenever the file changes.
    pub follow: Option<PathBuf>,
    /// The resolvers to forward other questions to.
    pub upstreams: Vec<SocketAddr>,
    /// Whether to forward at all (not on internal networks).
    pub forward: bool,
}

/// What to do with one question.
#[derive(Debug, PartialEq)]
pub enum Decision {
    /// Send this answer back.
    Answer(Message),
    /// Not ours: ask an upstream resolver.
    Forward,
}

// ANCHOR: decide
/// Decides what to answer to `query`, from the records of the container's
/// networks (its first network first). A name is answered from the first
/// network that knows it: a neighbour on two networks is reached at its
/// address on the network the two share, not at one the asker cannot
/// route to.
pub fn decide(query: &Message, networks: &[Records], forward: bool) -> Decision {
    let mut answer = Message::response(query.metadata.id, query.metadata.op_code);
    answer.metadata.recursion_desired = query.metadata.recursion_desired;
    answer.metadata.recursion_available = true;
    answer.queries = query.queries.clone();
    if let Some(edns) = &query.edns {
        let mut ours = Edns::new();
        ours.set_max_payload(edns.max_payload());
        answer.set_edns(ours);
    }
    let refuse = |mut answer: Message, code: ResponseCode| {
        answer.metadata.response_code = code;
        Decision::Answer(answer)
    };
    if query.metadata.message_type != MessageType::Query || query.metadata.op_code != OpCode::Query
    {
        return refuse(answer, ResponseCode::NotImp);
    }
    let [question] = query.queries.as_slice() else {
        return refuse(answer, ResponseCode::FormErr);
    };
    let name = question
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let (short, in_our_domain) = match name.strip_suffix(DOMAIN) {
        Some("") => (name.as_str(), true),
        Some(rest) if rest.ends_with('.') => (rest.trim_end_matches('.'), true),
        _ => (name.as_str(), false),
    };

    if question.query_type() == RecordType::PTR
        && let Some(address) = reverse_name(&name)
        && let Some(owner) = networks.iter().find_map(|r| r.reverse(address))
        && let Ok(target) = Name::from_ascii(format!("{owner}.{DOMAIN}."))
    {
        answer.metadata.authoritative = true;
        answer.add_answer(Record::from_rdata(
            question.name().clone(),
            TTL,
            RData::PTR(PTR(target)),
        ));
        return Decision::Answer(answer);
    }
    let mut addresses = networks
        .iter()
        .map(|r| r.lookup(short))
        .find(|found| !found.is_empty())
        .unwrap_or_default();
    if !addresses.is_empty() {
        // Round-robin: the addresses of a name several containers share
        // (the replicas of a compose service) come in an order that turns
        // with the question's id, so that clients, which use the first
        // address, spread over the containers.
        let turn = usize::from(query.metadata.id) % addresses.len();
        addresses.rotate_left(turn);
        answer.metadata.authoritative = true;
        if matches!(question.query_type(), RecordType::A | RecordType::ANY) {
            for address in addresses {
                answer.add_answer(Record::from_rdata(
                    question.name().clone(),
                    TTL,
                    RData::A(A(address)),
                ));
            }
        }
        return Decision::Answer(answer);
    }
    if in_our_domain {
        answer.metadata.authoritative = true;
        return refuse(answer, ResponseCode::NXDomain);
    }
    if forward {
        Decision::Forward
    } else {
        refuse(answer, ResponseCode::Refused)
    }
}
// ANCHOR_END: decide

/// `4.3.2.1.in-addr.arpa` → 1.2.3.4.
fn reverse_name(name: &str) -> Option<Ipv4Addr> {
    let digits = name.strip_suffix(".in-addr.arpa")?;
    let mut octets: Vec<u8> = digits
        .split('.')
        .map(|d| d.parse().ok())
        .collect::<Option<_>>()?;
    if octets.len() != 4 {
        return None;
    }
    octets.reverse();
    Some(Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3]))
}

/// A question sent upstream, waiting for its answer.
#[derive(Debug)]
struct Pending {
    client: SocketAddr,
    client_id: u16,
    upstream: SocketAddr,
    since: Instant,
}

/// A file's identity and last change: how to tell it changed.
type Stamp = (u64, i64, i64);

fn stamp_of(path: &std::path::Path) -> Option<Stamp> {
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.ino(), m.mtime(), m.mtime_nsec()))
}

/// The records files as last read, and how to tell they changed.
#[derive(Debug, Default)]
struct RecordsCache {
    follow: Option<Stamp>,
    stamps: Vec<Option<Stamp>>,
    networks: Vec<Records>,
}

const LISTENER: u64 = 0;
const UPSTREAM_V4: u64 = 1;
const UPSTREAM_V6: u64 = 2;

/// One container's DNS responder. See the module's documentation.
#[derive(Debug)]
pub struct DnsServer {
    config: DnsConfig,
    listener: UdpSocket,
    upstream_v4: UdpSocket,
    upstream_v6: Option<UdpSocket>,
    epoll: Epoll,
    pending: HashMap<u16, Pending>,
    next_id: u16,
    rotation: usize,
    cache: RecordsCache,
}

impl DnsServer {
    // ANCHOR: bind_in
    /// Creates the responder of the container whose network namespace is
    /// `netns`: listening on 127.0.0.11 in there (on a port the kernel
    /// chooses, with a rule sending port 53 to it), forwarding from here.
    pub fn bind_in(netns: BorrowedFd<'_>, config: DnsConfig) -> io::Result<DnsServer> {
        let listener = netns::run_in(netns, || {
            let socket = UdpSocket::bind((LISTEN.ip(), 0))?;
            let port = socket.local_addr()?.port();
            explain!("bind(udp {}:{port}) in the container's netns", LISTEN.ip());
            crate::nat::install_dns_redirect(port).map_err(io::Error::other)?;
            Ok::<_, io::Error>(socket)
        })??;
        DnsServer::with_listener(listener, config)
    }
    // ANCHOR_END: bind_in

    /// Creates the responder around a socket bound already (tests bind one
    /// on the host's loopback).
    pub fn with_listener(listener: UdpSocket, config: DnsConfig) -> io::Result<DnsServer> {
        listener.set_nonblocking(true)?;
        let upstream_v4 = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        upstream_v4.set_nonblocking(true)?;
        let upstream_v6 = if config.upstreams.iter().any(SocketAddr::is_ipv6) {
            let socket = UdpSocket::bind((std::net::Ipv6Addr::UNSPECIFIED, 0))?;
            socket.set_nonblocking(true)?;
            Some(socket)
        } else {
            None
        };
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        epoll.add(&listener, EpollEvent::new(EpollFlags::EPOLLIN, LISTENER))?;
        epoll.add(
            &upstream_v4,
            EpollEvent::new(EpollFlags::EPOLLIN, UPSTREAM_V4),
        )?;
        if let Some(socket) = &upstream_v6 {
            epoll.add(socket, EpollEvent::new(EpollFlags::EPOLLIN, UPSTREAM_V6))?;
        }
        Ok(DnsServer {
            config,
            listener,
            upstream_v4,
            upstream_v6,
            epoll,
            pending: HashMap::new(),
            next_id: std::process::id() as u16,
            rotation: 0,
            cache: RecordsCache::default(),
        })
    }

    /// The descriptor to poll: readable when a question or an upstream
    /// answer waits.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.epoll.0.as_fd()
    }

    // ANCHOR: handle_ready
    /// Answers every question waiting, relays every upstream answer waiting,
    /// and forgets forwarded questions that timed out. Never blocks.
    ///
    /// A failed `recvfrom` ends the round for that socket: a resolver that
    /// cannot read one datagram should still answer the next, and must never
    /// take the container's supervisor down with it.
    pub fn handle_ready(&mut self) {
        let mut buffer = [0u8; 4096];
        while let Ok((length, client)) = self.listener.recv_from(&mut buffer) {
            self.question(&buffer[..length], client);
        }
        for v6 in [false, true] {
            loop {
                let socket = if v6 {
                    self.upstream_v6.as_ref()
                } else {
                    Some(&self.upstream_v4)
                };
                let Some(Ok((length, from))) = socket.map(|s| s.recv_from(&mut buffer)) else {
                    break;
                };
                self.upstream_answer(&mut buffer[..length], from);
            }
        }
        let now = Instant::now();
        let before = self.pending.len();
        self.pending
            .retain(|_, p| now.duration_since(p.since) < FORWARD_TIMEOUT);
        if self.pending.len() < before {
            // An upstream server did not answer: later questions try the next.
            self.rotation = self.rotation.wrapping_add(1);
        }
    }
    // ANCHOR_END: handle_ready

    /// The records of the container's networks, read again when a file
    /// changed (a neighbour started or ended, a network was connected).
    fn records(&mut self) -> &[Records] {
        if let Some(endpoint) = &self.config.follow {
            let stamp = stamp_of(endpoint);
            if stamp != self.cache.follow {
                if let Some(endpoint) =
                    crate::state::read_json::<crate::endpoint::Endpoint>(endpoint)
                        .ok()
                        .flatten()
                {
                    self.config.records = endpoint.dns_records;
                }
                self.cache.follow = stamp;
            }
        }
        let stamps: Vec<_> = self.config.records.iter().map(|p| stamp_of(p)).collect();
        if stamps != self.cache.stamps {
            self.cache.networks = self
                .config
                .records
                .iter()
                .map(|p| {
                    crate::state::read_json(p)
                        .ok()
                        .flatten()
                        .unwrap_or_default()
                })
                .collect();
            self.cache.stamps = stamps;
        }
        &self.cache.networks
    }

    fn question(&mut self, bytes: &[u8], client: SocketAddr) {
        // Not DNS, or not even a header: nothing sensible to answer.
        let Ok(query) = Message::from_vec(bytes) else {
            return;
        };
        let forward = self.config.forward && !self.config.upstreams.is_empty();
        let decision = decide(&query, self.records(), forward);
        let name = query
            .queries
            .first()
            .map(|q| q.name().to_ascii())
            .unwrap_or_default();
        match decision {
            Decision::Answer(answer) => {
                explain!("dns {name} -> {}", describe(&answer));
                if let Ok(out) = answer.to_vec() {
                    let _ = self.listener.send_to(&out, client);
                }
            }
            Decision::Forward => self.forward(bytes, query.metadata.id, client, &name),
        }
    }

    /// Sends the question upstream under an id of ours: two clients may use
    /// the same id, and the answer must find its way back to the right one.
    fn forward(&mut self, bytes: &[u8], client_id: u16, client: SocketAddr, name: &str) {
        let upstream = self.config.upstreams[self.rotation % self.config.upstreams.len()];
        let socket = match (&upstream, &self.upstream_v6) {
            (SocketAddr::V6(_), Some(v6)) => v6,
            _ => &self.upstream_v4,
        };
        if self.pending.len() >= MAX_PENDING {
            // Upstream is not answering and questions pile up: drop this
            // one (the client asks again) rather than grow without bound.
            return;
        }
        let mut id = self.next_id;
        while self.pending.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        self.next_id = id.wrapping_add(1);
        let mut out = bytes.to_vec();
        out[..2].copy_from_slice(&id.to_be_bytes());
        explain!("dns {name} -> forwarded to {upstream}");
        if socket.send_to(&out, upstream).is_ok() {
            self.pending.insert(
                id,
                Pending {
                    client,
                    client_id,
                    upstream,
                    since: Instant::now(),
                },
            );
        }
    }

    fn upstream_answer(&mut self, bytes: &mut [u8], from: SocketAddr) {
        if bytes.len() < 12 {
            return;
        }
        let id = u16::from_be_bytes([bytes[0], bytes[1]]);
        // Only the server we asked may answer: anyone else is spoofing.
        if self.pending.get(&id).is_none_or(|p| p.upstream != from) {
            return;
        }
        let pending = self.pending.remove(&id).expect("checked above");
        bytes[..2].copy_from_slice(&pending.client_id.to_be_bytes());
        let _ = self.listener.send_to(bytes, pending.client);
    }
}

fn describe(answer: &Message) -> String {
    if answer.answers.is_empty() {
        return format!("{:?}, no records", answer.metadata.response_code);
    }
    let data: Vec<String> = answer.answers.iter().map(|r| r.data.to_string()).collect();
    data.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Record as Entry;
    use hickory_proto::op::Query;

    fn ask(name: &str, kind: RecordType) -> Message {
        let mut m = Message::query();
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), kind));
        m
    }

    fn records() -> Records {
        let mut r = Records::default();
        r.upsert(Entry::new(
            "abcdef0123456789",
            "10.202.0.2".parse().unwrap(),
            "web",
            &["api".into()],
            "web",
        ));
        r
    }

    fn answer(decision: Decision) -> Message {
        match decision {
            Decision::Answer(m) => m,
            Decision::Forward => panic!("forwarded"),
        }
    }

    #[test]
    fn answers_names_aliases_and_short_ids() {
        for name in ["web.", "API", "abcdef012345.", "web.dns.skiff."] {
            let a = answer(decide(&ask(name, RecordType::A), &[records()], true));
            assert_eq!(a.metadata.response_code, ResponseCode::NoError, "{name}");
            assert_eq!(a.answers.len(), 1, "{name}");
            assert_eq!(
                a.answers[0].data,
                RData::A(A("10.202.0.2".parse().unwrap()))
            );
        }
    }

    #[test]
    fn aaaa_of_a_known_name_is_empty_and_unknown_in_domain_is_nxdomain() {
        let a = answer(decide(&ask("web.", RecordType::AAAA), &[records()], true));
        assert_eq!(
            (a.metadata.response_code, a.answers.len()),
            (ResponseCode::NoError, 0)
        );
        let a = answer(decide(
            &ask("nobody.dns.skiff.", RecordType::A),
            &[records()],
            true,
        ));
        assert_eq!(a.metadata.response_code, ResponseCode::NXDomain);
    }

    #[test]
    fn others_are_forwarded_or_refused() {
        assert_eq!(
            decide(&ask("example.com.", RecordType::A), &[records()], true),
            Decision::Forward
        );
        let a = answer(decide(
            &ask("example.com.", RecordType::A),
            &[records()],
            false,
        ));
        assert_eq!(a.metadata.response_code, ResponseCode::Refused);
    }

    #[test]
    fn a_shared_name_is_answered_round_robin() {
        let mut shared = Records::default();
        for n in 2..5 {
            shared.upsert(Entry::new(
                &format!("{n:064}"),
                format!("10.202.0.{n}").parse().unwrap(),
                &format!("web-{n}"),
                &["web".into()],
                &format!("h{n}"),
            ));
        }
        let first: Vec<String> = (0..3u16)
            .map(|id| {
                let mut question = ask("web.", RecordType::A);
                question.metadata.id = id;
                let a = answer(decide(&question, std::slice::from_ref(&shared), true));
                assert_eq!(a.answers.len(), 3);
                a.answers[0].data.to_string()
            })
            .collect();
        assert_eq!(first, ["10.202.0.2", "10.202.0.3", "10.202.0.4"]);
    }

    #[test]
    fn reverse_lookup() {
        let a = answer(decide(
            &ask("2.0.202.10.in-addr.arpa.", RecordType::PTR),
            &[records()],
            true,
        ));
        assert_eq!(a.answers[0].data.to_string(), "web.dns.skiff.");
        assert_eq!(
            decide(
                &ask("9.0.202.10.in-addr.arpa.", RecordType::PTR),
                &[records()],
                true
            ),
            Decision::Forward
        );
    }

    #[test]
    fn a_name_is_answered_from_the_first_network_that_knows_it() {
        let mut back = Records::default();
        back.upsert(Entry::new(
            "abcdef0123456789",
            "10.203.0.7".parse().unwrap(),
            "web",
            &[],
            "web",
        ));
        back.upsert(Entry::new(
            "0123456789abcdef",
            "10.203.0.8".parse().unwrap(),
            "db",
            &[],
            "db",
        ));
        let networks = [records(), back];
        let first = |name: &str| {
            answer(decide(&ask(name, RecordType::A), &networks, true)).answers[0]
                .data
                .to_string()
        };
        assert_eq!(first("web."), "10.202.0.2");
        assert_eq!(first("db."), "10.203.0.8");
    }
}
