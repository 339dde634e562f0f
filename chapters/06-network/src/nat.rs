//! NAT and filtering in nftables: outbound masquerade, published ports
//! (DNAT), and isolation between networks.
//!
//! nftables organises rules in **tables** (ours: `inet skiff`, for IPv4 and
//! IPv6 alike), which hold **chains**. A *base* chain is attached to a
//! **hook** of the kernel's packet path and sees every packet that passes
//! there; a *regular* chain is only reached by a `jump`. We never touch
//! another table: each table sees the packets independently, and a `drop`
//! in any of them drops the packet.
//!
//! ```text
//!            prerouting (dstnat) ─► routing ─► forward ─► postrouting (srcnat) ─►
//!   packet ──┘                        │                         ▲
//!   arrives                           ▼                         │
//!                                   input ─► local process ─► output (dstnat)
//! ```
//!
//! - **MASQUERADE** (postrouting, for each network that is not internal): a
//!   container's packet leaving the host through another link gets the
//!   host's address of that link as its source. The outside world never
//!   sees the private container address, and the answers come back to the
//!   host, where **conntrack** (the kernel's table of connections) recognises
//!   them and rewrites the destination back to the container.
//! - **DNAT** (prerouting and output, `fib daddr type local`): a packet for
//!   a published port of one of the host's own addresses gets the
//!   container's address and port as its destination, in chain `published`.
//!   Prerouting sees packets from other machines and from containers (the
//!   *hairpin*: a container reaching a published port through the host);
//!   output sees the packets the host sends itself.
//! - **From 127.0.0.1**: the host's packet to 127.0.0.1:8080, once DNATed,
//!   leaves on the bridge with source 127.0.0.1: the bridge has
//!   `route_localnet` (see [`crate::sysctl`]) and the packet is masqueraded
//!   to the bridge's address so the container can answer it. The same rule
//!   masquerades hairpin traffic, so that the answer comes back through the
//!   host rather than straight over the bridge to a client that expects it
//!   from the host's address. (Docker's other way, a userland proxy that
//!   accepts on 127.0.0.1 and connects to the container, costs a process or
//!   a thread per port and hides the client's address.)
//! - **Isolation** (forward): a packet from one of our bridges to another is
//!   dropped, unless it was DNATed (a published port is public, from any
//!   network). An internal network's bridge forwards nothing in or out. And
//!   since `route_localnet` would also let a container talk to the host's
//!   127.0.0.1 services, input drops such packets unless they belong to a
//!   DNATed connection.
//!
//! Every rule carries a comment, `network <id>` or `container <id>`: removing
//! what a network or a container installed is deleting the rules with its
//! comment, by their handles. The scripts go to `nft -f -` as text, the
//! language `nft list` prints, and the kernel applies each script as one
//! transaction: all of it or nothing.

use crate::ports::PortMapping;
use crate::subnet::Subnet;
use ch01_process::explain;
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

/// The family and name of our table.
pub const TABLE: &str = "inet skiff";

/// Why nftables refused or could not be run.
#[derive(Debug, thiserror::Error)]
pub enum NatError {
    /// `nft` could not be started.
    #[error("cannot run nft ({0}): install the nftables package")]
    Spawn(#[source] io::Error),
    /// `nft` refused a script or a listing.
    #[error("nft failed: {stderr}\nthe script was:\n{script}")]
    Nft {
        /// What nft said.
        stderr: String,
        /// What we sent.
        script: String,
    },
    /// `nft -j` printed something we cannot read.
    #[error("cannot parse the output of nft -j: {0}")]
    Json(String),
}

/// Results of this module.
pub type Result<T, E = NatError> = std::result::Result<T, E>;

/// What the rules of one network need to know about it.
#[derive(Debug, Clone, Copy)]
pub struct NetworkRules<'a> {
    /// The network's id (its rules' comment is `network <id>`).
    pub id: &'a str,
    /// Its bridge.
    pub bridge: &'a str,
    /// Its subnet.
    pub subnet: Subnet,
    /// No way in or out.
    pub internal: bool,
}

/// The comment on a network's rules.
pub fn network_tag(id: &str) -> String {
    format!("network {id}")
}

/// The comment on a container's rules.
pub fn container_tag(id: &str) -> String {
    format!("container {id}")
}

// ANCHOR: table
/// The skeleton of our table: the set of our bridges, the base chains on
/// their hooks, and the dispatch to `published` for local destinations.
/// Created once (the caller holds the machine-wide network lock).
fn table_script() -> String {
    format!(
        "add table {TABLE}
add set {TABLE} bridges {{ type ifname; }}
add chain {TABLE} prerouting {{ type nat hook prerouting priority dstnat; policy accept; }}
add chain {TABLE} output {{ type nat hook output priority -100; policy accept; }}
add chain {TABLE} postrouting {{ type nat hook postrouting priority srcnat; policy accept; }}
add chain {TABLE} forward {{ type filter hook forward priority filter; policy accept; }}
add chain {TABLE} input {{ type filter hook input priority filter; policy accept; }}
add chain {TABLE} published
add rule {TABLE} prerouting fib daddr type local jump published
add rule {TABLE} output fib daddr type local jump published
"
    )
}
// ANCHOR_END: table

// ANCHOR: network_rules
/// The rules of one network (see the module's documentation).
fn network_script(net: &NetworkRules<'_>) -> String {
    let (br, subnet, tag) = (net.bridge, net.subnet, network_tag(net.id));
    let mut script = format!("add element {TABLE} bridges {{ \"{br}\" }}\n");
    if net.internal {
        script += &format!(
            "add rule {TABLE} forward iifname \"{br}\" oifname != \"{br}\" drop comment \"{tag}\"
add rule {TABLE} forward oifname \"{br}\" iifname != \"{br}\" drop comment \"{tag}\"
"
        );
    } else {
        script += &format!(
            "add rule {TABLE} postrouting ip saddr {subnet} oifname != \"{br}\" masquerade comment \"{tag}\"
add rule {TABLE} postrouting oifname \"{br}\" ct status dnat ip saddr {{ 127.0.0.0/8, {subnet} }} masquerade comment \"{tag}\"
add rule {TABLE} forward iifname \"{br}\" oifname != \"{br}\" oifname @bridges ct status ! dnat drop comment \"{tag}\"
add rule {TABLE} input iifname \"{br}\" ip daddr 127.0.0.0/8 ct status ! dnat drop comment \"{tag}\"
add rule {TABLE} input iifname \"{br}\" ip saddr 127.0.0.0/8 ct status ! dnat drop comment \"{tag}\"
"
        );
    }
    script
}
// ANCHOR_END: network_rules

// ANCHOR: port_rules
/// The DNAT rules of a container's published ports.
fn ports_script(container_id: &str, address: Ipv4Addr, ports: &[PortMapping]) -> String {
    // SOLUTION START: ch06-port-rules the DNAT rules of a container's published ports, one per port in the chain published: the host address when one was given, the protocol and host port, to the container's address and port, with the container's comment (book: Networks > What and why > NAT: the way out and the way in)
    let tag = container_tag(container_id);
    let mut script = String::new();
    for port in ports {
        let daddr = if port.host_ip.is_unspecified() {
            String::new()
        } else {
            format!("ip daddr {} ", port.host_ip)
        };
        script += &format!(
            "add rule {TABLE} published {daddr}{} dport {} dnat ip to {address}:{} comment \"{tag}\"\n",
            port.protocol, port.host_port, port.container_port
        );
    }
    script
    // SOLUTION END
}
// ANCHOR_END: port_rules

// ANCHOR: dns_redirect
/// The rules, in the *container's* namespace, that send its questions to
/// 127.0.0.11:53 to where the DNS responder really listens,
/// 127.0.0.11:`port`. Docker's trick: port 53 stays free for a DNS server of
/// the container's own (on 0.0.0.0:53), and the responder's port is one the
/// kernel chose. The table dies with the namespace.
fn dns_redirect_script(port: u16) -> String {
    let dns = crate::files::EMBEDDED_DNS;
    format!(
        "add table ip skiff-dns
add chain ip skiff-dns output {{ type nat hook output priority -100; policy accept; }}
add rule ip skiff-dns output ip daddr {dns} udp dport 53 dnat to {dns}:{port}
"
    )
}
// ANCHOR_END: dns_redirect

/// Installs [`dns_redirect_script`]; the calling thread must be in the
/// container's network namespace (`nft` inherits it).
pub fn install_dns_redirect(port: u16) -> Result<()> {
    apply(&dns_redirect_script(port))
}

/// Runs `nft -f -` with `script` on its standard input.
pub fn apply(script: &str) -> Result<()> {
    for line in script.lines() {
        explain!("nft {line}");
    }
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(NatError::Spawn)?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let written = stdin.write_all(script.as_bytes());
    drop(stdin);
    let output = child.wait_with_output().map_err(NatError::Spawn)?;
    if !output.status.success() || written.is_err() {
        return Err(NatError::Nft {
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            script: script.to_string(),
        });
    }
    Ok(())
}

/// Runs `nft ARGS` and returns its output; `None` when our table does not exist.
fn query(args: &[&str]) -> Result<Option<String>> {
    let output = Command::new("nft")
        .args(args)
        .output()
        .map_err(NatError::Spawn)?;
    if output.status.success() {
        return Ok(Some(String::from_utf8_lossy(&output.stdout).into_owned()));
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("No such file or directory") {
        return Ok(None);
    }
    Err(NatError::Nft {
        stderr: stderr.trim().to_string(),
        script: format!("nft {}", args.join(" ")),
    })
}

/// Our table as `nft list table inet skiff` prints it, if it exists.
pub fn list_table() -> Result<Option<String>> {
    query(&["list", "table", "inet", "skiff"])
}

/// One rule of our table that carries a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedRule {
    /// Its chain.
    pub chain: String,
    /// The handle that names it for `delete rule`.
    pub handle: u64,
    /// Its comment.
    pub comment: String,
}

/// What our table holds: the rules with comments, and the bridges in the set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableContents {
    /// Rules with a comment.
    pub rules: Vec<TaggedRule>,
    /// Elements of the set `bridges`.
    pub bridges: Vec<String>,
}

/// Reads our table with `nft -j -a`; `None` when it does not exist.
pub fn contents() -> Result<Option<TableContents>> {
    let Some(json) = query(&["-j", "-a", "list", "table", "inet", "skiff"])? else {
        return Ok(None);
    };
    let value: serde_json::Value =
        serde_json::from_str(&json).map_err(|e| NatError::Json(e.to_string()))?;
    let items = value["nftables"]
        .as_array()
        .ok_or_else(|| NatError::Json("no \"nftables\" array".to_string()))?;
    let mut contents = TableContents::default();
    for item in items {
        if let Some(rule) = item.get("rule")
            && let (Some(chain), Some(handle), Some(comment)) = (
                rule["chain"].as_str(),
                rule["handle"].as_u64(),
                rule["comment"].as_str(),
            )
        {
            contents.rules.push(TaggedRule {
                chain: chain.to_string(),
                handle,
                comment: comment.to_string(),
            });
        }
        if let Some(set) = item.get("set")
            && set["name"] == "bridges"
        {
            match &set["elem"] {
                serde_json::Value::Array(elements) => contents
                    .bridges
                    .extend(elements.iter().filter_map(|e| e.as_str().map(String::from))),
                serde_json::Value::String(one) => contents.bridges.push(one.clone()),
                _ => {}
            }
        }
    }
    Ok(Some(contents))
}

/// The `delete rule` lines for every rule commented `tag`.
fn delete_tagged_script(contents: &TableContents, tag: &str) -> String {
    contents
        .rules
        .iter()
        .filter(|r| r.comment == tag)
        .map(|r| format!("delete rule {TABLE} {} handle {}\n", r.chain, r.handle))
        .collect()
}

/// Creates our table unless it exists. The caller holds the machine-wide
/// network lock, so that two processes never both create the skeleton.
pub fn ensure_table() -> Result<()> {
    if list_table()?.is_none() {
        apply(&table_script())?;
    }
    Ok(())
}

/// Installs (or re-installs) the rules of a network, in one transaction
/// that first removes any left from before. Caller holds the machine lock.
pub fn install_network(net: &NetworkRules<'_>) -> Result<()> {
    ensure_table()?;
    let contents = contents()?.unwrap_or_default();
    let script = delete_tagged_script(&contents, &network_tag(net.id)) + &network_script(net);
    apply(&script)
}

/// Removes the rules of a network and its bridge from the set, then the
/// table if nothing of anyone's is left in it. Caller holds the machine lock.
pub fn remove_network(id: &str, bridge: &str) -> Result<()> {
    let Some(contents) = contents()? else {
        return Ok(());
    };
    let mut script = delete_tagged_script(&contents, &network_tag(id));
    if contents.bridges.iter().any(|b| b == bridge) {
        script += &format!("delete element {TABLE} bridges {{ \"{bridge}\" }}\n");
    }
    let remaining_rules = contents
        .rules
        .iter()
        .filter(|r| r.comment != network_tag(id))
        .count();
    let remaining_bridges = contents.bridges.iter().filter(|b| *b != bridge).count();
    if remaining_rules == 0 && remaining_bridges == 0 {
        script = format!("delete table {TABLE}\n");
    }
    if script.is_empty() {
        return Ok(());
    }
    apply(&script)
}

/// Installs the DNAT rules of a container's published ports.
pub fn install_ports(container_id: &str, address: Ipv4Addr, ports: &[PortMapping]) -> Result<()> {
    if ports.is_empty() {
        return Ok(());
    }
    apply(&ports_script(container_id, address, ports))
}

/// Removes every rule of a container; how many there were.
pub fn remove_container(container_id: &str) -> Result<usize> {
    let Some(contents) = contents()? else {
        return Ok(0);
    };
    let script = delete_tagged_script(&contents, &container_tag(container_id));
    if script.is_empty() {
        return Ok(0);
    }
    apply(&script)?;
    Ok(script.lines().count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Protocol;

    #[test]
    fn internal_networks_have_no_masquerade() {
        let net = NetworkRules {
            id: "n1",
            bridge: "br1",
            subnet: "10.1.0.0/24".parse().unwrap(),
            internal: true,
        };
        let script = network_script(&net);
        assert!(!script.contains("masquerade"), "{script}");
        assert!(script.contains("oifname \"br1\" iifname != \"br1\" drop"));
        let open = network_script(&NetworkRules {
            internal: false,
            ..net
        });
        assert!(
            open.contains(
                "ip saddr 10.1.0.0/24 oifname != \"br1\" masquerade comment \"network n1\""
            )
        );
    }

    #[test]
    fn port_rules_match_the_host_address_when_given() {
        let ports = [
            PortMapping {
                container_port: 80,
                protocol: Protocol::Tcp,
                host_ip: Ipv4Addr::LOCALHOST,
                host_port: 8080,
            },
            PortMapping {
                container_port: 53,
                protocol: Protocol::Udp,
                host_ip: Ipv4Addr::UNSPECIFIED,
                host_port: 5353,
            },
        ];
        let script = ports_script("c1", "10.1.0.2".parse().unwrap(), &ports);
        assert_eq!(
            script,
            "add rule inet skiff published ip daddr 127.0.0.1 tcp dport 8080 dnat ip to 10.1.0.2:80 comment \"container c1\"\n\
             add rule inet skiff published udp dport 5353 dnat ip to 10.1.0.2:53 comment \"container c1\"\n"
        );
    }

    #[test]
    fn deletes_only_the_tagged_rules() {
        let contents = TableContents {
            rules: vec![
                TaggedRule {
                    chain: "published".into(),
                    handle: 7,
                    comment: "container a".into(),
                },
                TaggedRule {
                    chain: "published".into(),
                    handle: 8,
                    comment: "container ab".into(),
                },
            ],
            bridges: vec![],
        };
        assert_eq!(
            delete_tagged_script(&contents, "container a"),
            "delete rule inet skiff published handle 7\n"
        );
    }
}
