//! A small synchronous rtnetlink client: the requests `ip link`, `ip addr`
//! and `ip route` send, one at a time.
//!
//! **Netlink** is how a program talks to the kernel's network stack: a socket
//! of family `AF_NETLINK`, protocol `NETLINK_ROUTE`, on which we send
//! messages such as `RTM_NEWLINK` ("create or change a link") and read the
//! kernel's answers. Each request carries a sequence number and the flag
//! `NLM_F_ACK`; the kernel answers with an `NLMSG_ERROR` message whose code
//! is 0 for success or a negative errno. A *dump* request (`NLM_F_DUMP`)
//! gets many answers, ended by `NLMSG_DONE`.
//!
//! The socket talks to the network namespace it was **created** in, whatever
//! namespace the thread is in later: open a [`Netlink`] after stepping into a
//! container's namespace (see [`crate::netns`]) to configure its side.
//!
//! The supervisor that creates containers is single-threaded, so this client
//! is blocking and owns no thread or runtime: one request, one answer.
//! `netlink-packet-route` gives us the message formats; the socket is
//! `netlink-sys`'s plain synchronous one.

use ch01_process::explain;
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, BorrowedFd};

/// A netlink request that failed.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// The socket could not be opened, or sending/receiving failed.
    #[error("netlink socket: {0}")]
    Socket(#[source] io::Error),
    /// The kernel refused a request.
    #[error("{request} failed: {source}")]
    Refused {
        /// The request, as `--explain` shows it.
        request: String,
        /// The errno the kernel answered.
        source: io::Error,
    },
    /// The kernel's answer could not be decoded.
    #[error("cannot decode the kernel's answer to {request}: {detail}")]
    Decode {
        /// The request.
        request: String,
        /// What went wrong.
        detail: String,
    },
    /// A link we needed is not there.
    #[error("there is no network link named {0:?}")]
    NoSuchLink(String),
}

impl NetlinkError {
    /// The errno of a refused request.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetlinkError::Refused { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// Results of this module.
pub type Result<T, E = NetlinkError> = std::result::Result<T, E>;

/// One network link (interface), as a dump describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The kernel's index of the link in its namespace.
    pub index: u32,
    /// Its name: `eth0`, `skiff0`, ...
    pub name: String,
    /// Its MTU.
    pub mtu: u32,
    /// Administratively up.
    pub up: bool,
    /// The index of the bridge it is plugged into.
    pub master: Option<u32>,
    /// Its kind: `bridge`, `veth`, ...
    pub kind: Option<String>,
}

/// One IPv4 address on a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address {
    /// The link's index.
    pub index: u32,
    /// The address.
    pub address: Ipv4Addr,
    /// Its prefix length.
    pub prefix: u8,
}

/// One IPv4 route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The destination network (0.0.0.0 for the default route).
    pub destination: Ipv4Addr,
    /// Its prefix length (0 for the default route).
    pub prefix: u8,
    /// The routing table (254 is `main`, 255 is `local`).
    pub table: u32,
    /// The outgoing link.
    pub oif: Option<u32>,
    /// The next hop.
    pub gateway: Option<Ipv4Addr>,
}

/// A rtnetlink socket in the namespace it was opened in.
pub struct Netlink {
    socket: Socket,
    sequence: u32,
}

impl Netlink {
    /// Opens a socket on the calling thread's current network namespace.
    pub fn open() -> Result<Netlink> {
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(NetlinkError::Socket)?;
        socket.bind_auto().map_err(NetlinkError::Socket)?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(NetlinkError::Socket)?;
        Ok(Netlink {
            socket,
            sequence: 0,
        })
    }

    // ANCHOR: request
    /// Sends one request and collects the answers: for a change, until the
    /// kernel's acknowledgement; for a dump, until `NLMSG_DONE`.
    fn request(
        &mut self,
        message: RouteNetlinkMessage,
        flags: u16,
        what: &str,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        explain!("netlink {what}");
        self.sequence = self.sequence.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.sequence;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(message));
        packet.finalize();
        let mut buffer = vec![0; packet.buffer_len()];
        packet.serialize(&mut buffer);
        self.socket.send(&buffer, 0).map_err(NetlinkError::Socket)?;

        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut answers = Vec::new();
        loop {
            let (datagram, _) = self.socket.recv_from_full().map_err(NetlinkError::Socket)?;
            let mut offset = 0;
            while offset < datagram.len() {
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&datagram[offset..])
                    .map_err(|e| NetlinkError::Decode {
                        request: what.to_string(),
                        detail: e.to_string(),
                    })?;
                let length = reply.header.length as usize;
                if reply.header.sequence_number == self.sequence {
                    match reply.payload {
                        NetlinkPayload::Error(error) => match error.code {
                            None if !dump => return Ok(answers),
                            None => {}
                            Some(_) => {
                                return Err(NetlinkError::Refused {
                                    request: what.to_string(),
                                    source: error.to_io(),
                                });
                            }
                        },
                        NetlinkPayload::Done(_) => return Ok(answers),
                        NetlinkPayload::InnerMessage(inner) => answers.push(inner),
                        _ => {}
                    }
                }
                if length == 0 {
                    break;
                }
                offset += length;
            }
        }
    }
    // ANCHOR_END: request

    fn change(&mut self, message: RouteNetlinkMessage, flags: u16, what: &str) -> Result<()> {
        self.request(message, NLM_F_ACK | flags, what).map(|_| ())
    }

    // ----- links -----

    /// Every link of the namespace.
    pub fn links(&mut self) -> Result<Vec<Link>> {
        let answers = self.request(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
            "RTM_GETLINK (dump)",
        )?;
        Ok(answers
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(link) => Some(describe_link(&link)),
                _ => None,
            })
            .collect())
    }

    /// The link named `name`, if there is one.
    pub fn link(&mut self, name: &str) -> Result<Option<Link>> {
        Ok(self.links()?.into_iter().find(|l| l.name == name))
    }

    /// The index of the link named `name`, or [`NetlinkError::NoSuchLink`].
    pub fn index_of(&mut self, name: &str) -> Result<u32> {
        self.link(name)?
            .map(|l| l.index)
            .ok_or_else(|| NetlinkError::NoSuchLink(name.to_string()))
    }

    // ANCHOR: create_bridge
    /// Creates a bridge: a virtual switch. Links plugged into it (their
    /// *master* is the bridge) exchange Ethernet frames as the ports of a
    /// switch do; the bridge itself is also the host's own port on that
    /// switch, so an address on the bridge is the host's address on the
    /// containers' network, and the containers' gateway.
    ///
    /// We give the bridge its Ethernet address, `mac`. Without one, the
    /// kernel gives a bridge the lowest address of its ports and changes it
    /// whenever a port with a lower one is plugged in: the containers'
    /// gateway would change its MAC under their ARP caches each time a
    /// container starts. An address set by hand is kept.
    pub fn create_bridge(&mut self, name: &str, mac: [u8; 6], mtu: u32) -> Result<()> {
        let mut link = LinkMessage::default();
        link.attributes
            .push(LinkAttribute::IfName(name.to_string()));
        link.attributes.push(LinkAttribute::Address(mac.to_vec()));
        link.attributes.push(LinkAttribute::Mtu(mtu));
        link.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        self.change(
            RouteNetlinkMessage::NewLink(link),
            NLM_F_CREATE | NLM_F_EXCL,
            &format!("RTM_NEWLINK {name} type bridge mtu {mtu}"),
        )
    }
    // ANCHOR_END: create_bridge

    // ANCHOR: create_veth
    /// Creates a veth pair: two links joined like the ends of a cable, what
    /// goes in one comes out of the other. One end stays on the host,
    /// plugged into the bridge; the other goes into the container's
    /// namespace and becomes its `eth0`. The two ends may live in different
    /// namespaces: that is the whole point.
    pub fn create_veth(&mut self, name: &str, peer: &str, mtu: u32) -> Result<()> {
        let mut peer_link = LinkMessage::default();
        peer_link
            .attributes
            .push(LinkAttribute::IfName(peer.to_string()));
        peer_link.attributes.push(LinkAttribute::Mtu(mtu));
        let mut link = LinkMessage::default();
        link.attributes
            .push(LinkAttribute::IfName(name.to_string()));
        link.attributes.push(LinkAttribute::Mtu(mtu));
        link.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_link))),
        ]));
        self.change(
            RouteNetlinkMessage::NewLink(link),
            NLM_F_CREATE | NLM_F_EXCL,
            &format!("RTM_NEWLINK {name} type veth peer {peer} mtu {mtu}"),
        )
    }
    // ANCHOR_END: create_veth

    // ANCHOR: create_veth_into
    /// Like [`create_veth`](Self::create_veth), with the peer created
    /// directly in the namespace behind `netns` (`IFLA_NET_NS_FD` on the
    /// peer): one request instead of a create and a move, and no grace
    /// period to wait for (see [`move_to_netns`](Self::move_to_netns)).
    pub fn create_veth_into(
        &mut self,
        name: &str,
        peer: &str,
        mtu: u32,
        netns: BorrowedFd<'_>,
    ) -> Result<()> {
        let mut peer_link = LinkMessage::default();
        peer_link
            .attributes
            .push(LinkAttribute::IfName(peer.to_string()));
        peer_link.attributes.push(LinkAttribute::Mtu(mtu));
        peer_link
            .attributes
            .push(LinkAttribute::NetNsFd(netns.as_raw_fd()));
        let mut link = LinkMessage::default();
        link.attributes
            .push(LinkAttribute::IfName(name.to_string()));
        link.attributes.push(LinkAttribute::Mtu(mtu));
        link.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_link))),
        ]));
        self.change(
            RouteNetlinkMessage::NewLink(link),
            NLM_F_CREATE | NLM_F_EXCL,
            &format!(
                "RTM_NEWLINK {name} type veth peer {peer} netns fd {} mtu {mtu}",
                netns.as_raw_fd()
            ),
        )
    }
    // ANCHOR_END: create_veth_into

    fn set_link(&mut self, index: u32, attributes: Vec<LinkAttribute>, what: &str) -> Result<()> {
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.attributes = attributes;
        self.change(RouteNetlinkMessage::SetLink(link), 0, what)
    }

    /// Plugs link `index` into the bridge `bridge` (sets its master).
    pub fn set_master(&mut self, index: u32, bridge: u32) -> Result<()> {
        self.set_link(
            index,
            vec![LinkAttribute::Controller(bridge)],
            &format!("RTM_SETLINK {index} master {bridge}"),
        )
    }

    /// Brings link `index` up.
    pub fn set_up(&mut self, index: u32) -> Result<()> {
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.header.flags = LinkFlags::Up;
        link.header.change_mask = LinkFlags::Up;
        self.change(
            RouteNetlinkMessage::SetLink(link),
            0,
            &format!("RTM_SETLINK {index} up"),
        )
    }

    /// Sets the MTU of link `index`.
    pub fn set_mtu(&mut self, index: u32, mtu: u32) -> Result<()> {
        self.set_link(
            index,
            vec![LinkAttribute::Mtu(mtu)],
            &format!("RTM_SETLINK {index} mtu {mtu}"),
        )
    }

    /// Renames link `index` (it must be down).
    pub fn set_name(&mut self, index: u32, name: &str) -> Result<()> {
        self.set_link(
            index,
            vec![LinkAttribute::IfName(name.to_string())],
            &format!("RTM_SETLINK {index} name {name}"),
        )
    }

    /// Sets the Ethernet address of link `index`.
    pub fn set_mac(&mut self, index: u32, mac: [u8; 6]) -> Result<()> {
        let text = mac.map(|b| format!("{b:02x}")).join(":");
        self.set_link(
            index,
            vec![LinkAttribute::Address(mac.to_vec())],
            &format!("RTM_SETLINK {index} address {text}"),
        )
    }

    // ANCHOR: move_to_netns
    /// Moves link `index` into the network namespace behind `netns` (an open
    /// `/proc/PID/ns/net`). It disappears from this namespace and appears
    /// there, down, with no address: the kernel drops its configuration.
    ///
    /// The kernel waits for an RCU grace period while it unhooks the link
    /// from the old namespace (`synchronize_net`): 10 to 30 ms on a small
    /// virtual machine. Creating a link where it belongs is cheaper.
    pub fn move_to_netns(&mut self, index: u32, netns: BorrowedFd<'_>) -> Result<()> {
        self.set_link(
            index,
            vec![LinkAttribute::NetNsFd(netns.as_raw_fd())],
            &format!("RTM_SETLINK {index} netns fd {}", netns.as_raw_fd()),
        )
    }
    // ANCHOR_END: move_to_netns

    /// Deletes link `index`. Deleting one end of a veth pair deletes both.
    /// Like a move, a deletion waits for an RCU grace period.
    pub fn delete_link(&mut self, index: u32, name: &str) -> Result<()> {
        let mut link = LinkMessage::default();
        link.header.index = index;
        self.change(
            RouteNetlinkMessage::DelLink(link),
            0,
            &format!("RTM_DELLINK {name}"),
        )
    }

    /// Deletes the link named `name` if it exists; whether it did.
    pub fn delete_link_named(&mut self, name: &str) -> Result<bool> {
        let Some(link) = self.link(name)? else {
            return Ok(false);
        };
        match self.delete_link(link.index, name) {
            Ok(()) => Ok(true),
            // Gone in between: its container's namespace died, taking it along.
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(false),
            Err(e) => Err(e),
        }
    }

    // ----- addresses -----

    /// Adds `address/prefix` to link `index`, with its broadcast address.
    pub fn add_address(&mut self, index: u32, address: Ipv4Addr, prefix: u8) -> Result<()> {
        let subnet = crate::subnet::Subnet::containing(address, prefix);
        let mut message = AddressMessage::default();
        message.header.family = AddressFamily::Inet;
        message.header.prefix_len = prefix;
        message.header.index = index;
        message
            .attributes
            .push(AddressAttribute::Local(IpAddr::V4(address)));
        message
            .attributes
            .push(AddressAttribute::Address(IpAddr::V4(address)));
        message
            .attributes
            .push(AddressAttribute::Broadcast(subnet.broadcast()));
        self.change(
            RouteNetlinkMessage::NewAddress(message),
            NLM_F_CREATE | NLM_F_EXCL,
            &format!("RTM_NEWADDR {address}/{prefix} dev {index}"),
        )
    }

    /// Every IPv4 address of the namespace.
    pub fn addresses(&mut self) -> Result<Vec<Address>> {
        let mut request = AddressMessage::default();
        request.header.family = AddressFamily::Inet;
        let answers = self.request(
            RouteNetlinkMessage::GetAddress(request),
            NLM_F_DUMP,
            "RTM_GETADDR (dump)",
        )?;
        let mut addresses = Vec::new();
        for answer in answers {
            let RouteNetlinkMessage::NewAddress(message) = answer else {
                continue;
            };
            let local = message.attributes.iter().find_map(|a| match a {
                AddressAttribute::Local(IpAddr::V4(ip)) => Some(*ip),
                _ => None,
            });
            let address = local.or_else(|| {
                message.attributes.iter().find_map(|a| match a {
                    AddressAttribute::Address(IpAddr::V4(ip)) => Some(*ip),
                    _ => None,
                })
            });
            if let Some(address) = address {
                addresses.push(Address {
                    index: message.header.index,
                    address,
                    prefix: message.header.prefix_len,
                });
            }
        }
        Ok(addresses)
    }

    // ----- routes -----

    // ANCHOR: default_route
    /// Adds the default route: "anything I have no better route for, send to
    /// `gateway` through link `index`". The container's only other route is
    /// the one the kernel made for its own subnet when the address was added.
    pub fn add_default_route(&mut self, gateway: Ipv4Addr, index: u32) -> Result<()> {
        let mut route = RouteMessage::default();
        route.header.address_family = AddressFamily::Inet;
        route.header.table = RouteHeader::RT_TABLE_MAIN;
        route.header.protocol = RouteProtocol::Boot;
        route.header.scope = RouteScope::Universe;
        route.header.kind = RouteType::Unicast;
        route
            .attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        route.attributes.push(RouteAttribute::Oif(index));
        self.change(
            RouteNetlinkMessage::NewRoute(route),
            NLM_F_CREATE | NLM_F_EXCL,
            &format!("RTM_NEWROUTE default via {gateway} dev {index}"),
        )
    }
    // ANCHOR_END: default_route

    /// Every IPv4 route of the namespace, in every table.
    pub fn routes(&mut self) -> Result<Vec<Route>> {
        let mut request = RouteMessage::default();
        request.header.address_family = AddressFamily::Inet;
        let answers = self.request(
            RouteNetlinkMessage::GetRoute(request),
            NLM_F_DUMP,
            "RTM_GETROUTE (dump)",
        )?;
        let mut routes = Vec::new();
        for answer in answers {
            let RouteNetlinkMessage::NewRoute(message) = answer else {
                continue;
            };
            if message.header.address_family != AddressFamily::Inet {
                continue;
            }
            let mut route = Route {
                destination: Ipv4Addr::UNSPECIFIED,
                prefix: message.header.destination_prefix_length,
                table: u32::from(message.header.table),
                oif: None,
                gateway: None,
            };
            for attribute in &message.attributes {
                match attribute {
                    RouteAttribute::Destination(RouteAddress::Inet(ip)) => route.destination = *ip,
                    RouteAttribute::Gateway(RouteAddress::Inet(ip)) => route.gateway = Some(*ip),
                    RouteAttribute::Oif(index) => route.oif = Some(*index),
                    RouteAttribute::Table(table) => route.table = *table,
                    _ => {}
                }
            }
            routes.push(route);
        }
        Ok(routes)
    }
}

fn describe_link(message: &LinkMessage) -> Link {
    let mut link = Link {
        index: message.header.index,
        name: String::new(),
        mtu: 0,
        up: message.header.flags.contains(LinkFlags::Up),
        master: None,
        kind: None,
    };
    for attribute in &message.attributes {
        match attribute {
            LinkAttribute::IfName(name) => link.name = name.clone(),
            LinkAttribute::Mtu(mtu) => link.mtu = *mtu,
            LinkAttribute::Controller(master) => link.master = Some(*master),
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    if let LinkInfo::Kind(kind) = info {
                        link.kind = Some(kind.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    link
}
