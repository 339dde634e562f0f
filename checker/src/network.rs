//! Networks, for the binaries that have them (chapter 6 on): the checker's
//! own network, and what the host shows of a container's from outside.
//!
//! A chapter 6 binary puts a container on its default network unless told
//! otherwise, and keeps that network (a bridge, nftables rules) for as
//! long as the engine lives: a chapter binary has no verb that removes it.
//! So the checker makes a network of its own with the binary's `network
//! create`, runs every container on it (`--network`), and removes it at the
//! end with the binary's `network prune`: what the checks made, the binary
//! removes. When the binary leaves something anyway, [`forget`] removes
//! the bridges the checks saw and the nftables rules that name them or
//! the host ports the checks published, and nothing else.

use crate::target::Target;
use std::net::Ipv4Addr;
use std::process::Command;

/// The name of the checker's network in the binary's engine.
pub const NETWORK: &str = "skiff-check";

impl Target {
    /// The checker's network, made with `network create` on first use.
    pub fn network(&self) -> Result<&str, String> {
        self.network
            .get_or_init(|| {
                self.verb(&["network", "create", NETWORK])?
                    .expect_code(0)
                    .map_err(|e| format!("network create {NETWORK}: {e}"))?;
                Ok(NETWORK.to_string())
            })
            .as_ref()
            .map(String::as_str)
            .map_err(Clone::clone)
    }

    /// For a binary with networks, the checker's network must exist
    /// before a container runs: a container on the default network would
    /// leave that network behind.
    pub(crate) fn ready_to_run(&self) -> Result<(), String> {
        if self.networked {
            self.network()?;
        }
        Ok(())
    }

    /// Remembers a bridge the binary made for the checks' containers, to
    /// remove it at the end if the binary does not. Never a link that was
    /// there before the checks began.
    pub fn saw_link(&self, name: &str) {
        if self.links_before.iter().any(|l| l == name) {
            return;
        }
        let mut seen = self.seen_links.lock().expect("link list lock");
        if !seen.iter().any(|l| l == name) {
            seen.push(name.to_string());
        }
    }

    /// Remembers a host port a check published, to remove a DNAT rule for
    /// it that the binary left.
    pub fn saw_port(&self, port: u16) {
        self.seen_ports.lock().expect("port list lock").push(port);
    }

    /// The binary's `network prune` removes the networks the checks made;
    /// then what it left of them goes (see [`forget`]).
    pub(crate) fn remove_networks(&self) {
        if !self.networked {
            return;
        }
        let _ = self.verb(&["network", "prune"]);
        let links = self.seen_links.lock().expect("link list lock").clone();
        let ports = self.seen_ports.lock().expect("port list lock").clone();
        forget(&links, &ports);
    }
}

/// The names of the host's network links.
pub fn host_links() -> Vec<String> {
    std::fs::read_dir("/sys/class/net")
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The host's bridge whose subnet holds `address`, with the bridge's own
/// address: the network a container with that address is on.
pub fn bridge_of(address: Ipv4Addr) -> Result<(String, Ipv4Addr), String> {
    let out = Command::new("ip")
        .args(["-j", "-4", "addr", "show"])
        .output()
        .map_err(|e| format!("running ip: {e}"))?;
    let links: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("reading ip -j addr show: {e}"))?;
    for link in links.as_array().into_iter().flatten() {
        let Some(name) = link["ifname"].as_str() else {
            continue;
        };
        for info in link["addr_info"].as_array().into_iter().flatten() {
            let (Some(local), Some(prefix)) = (info["local"].as_str(), info["prefixlen"].as_u64())
            else {
                continue;
            };
            let Ok(local) = local.parse::<Ipv4Addr>() else {
                continue;
            };
            if prefix == 0 || prefix > 32 || local == address {
                continue;
            }
            let mask = u32::MAX << (32 - prefix);
            let same = u32::from(local) & mask == u32::from(address) & mask;
            if same
                && std::path::Path::new("/sys/class/net")
                    .join(name)
                    .join("bridge")
                    .exists()
            {
                return Ok((name.to_string(), local));
            }
        }
    }
    Err(format!(
        "no bridge of the host has an address on the subnet of {address}"
    ))
}

/// Removes what is left of the checks' networks: the nftables rules that
/// name one of `bridges` or DNAT one of `ports`, the links attached to
/// one of `bridges`, then the bridges.
pub fn forget(bridges: &[String], ports: &[u16]) {
    let left: Vec<&String> = bridges
        .iter()
        .filter(|b| std::path::Path::new("/sys/class/net").join(b).exists())
        .collect();
    if let Ok(out) = Command::new("nft").args(["-a", "list", "ruleset"]).output() {
        let ruleset = String::from_utf8_lossy(&out.stdout);
        for rule in rules_to_forget(&ruleset, bridges, ports) {
            eprintln!(
                "skiff-check: removing a rule the binary left: {}",
                rule.text
            );
            let _ = Command::new("nft")
                .args(["delete", "rule", &rule.family, &rule.table, &rule.chain])
                .args(["handle", &rule.handle])
                .output();
        }
    }
    for bridge in left {
        let ports = std::fs::read_dir(format!("/sys/class/net/{bridge}/brif"));
        for port in ports.into_iter().flatten().flatten() {
            let _ = Command::new("ip")
                .args(["link", "delete"])
                .arg(port.file_name())
                .output();
        }
        eprintln!("skiff-check: removing the bridge {bridge} the binary left");
        let _ = Command::new("ip").args(["link", "delete", bridge]).output();
    }
}

/// A rule of `nft -a list ruleset`, where it is and its handle.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    pub family: String,
    pub table: String,
    pub chain: String,
    pub handle: String,
    pub text: String,
}

/// The rules of `ruleset` (the text of `nft -a list ruleset`) that name
/// one of `bridges` (`"name"`, as nft quotes interface names) or DNAT a
/// packet for one of `ports`.
///
/// ```
/// let ruleset = "table inet skiff {\n\tchain published {\n\t\ttcp dport 4321 dnat ip to 10.1.0.2:80 # handle 7\n\t\ttcp dport 99 dnat ip to 10.1.0.3:80 # handle 8\n\t}\n\tchain forward {\n\t\tiifname \"skiff-abc\" drop # handle 9\n\t}\n}\n";
/// let rules = skiff_check::network::rules_to_forget(ruleset, &["skiff-abc".into()], &[4321]);
/// let handles: Vec<_> = rules.iter().map(|r| (r.chain.as_str(), r.handle.as_str())).collect();
/// assert_eq!(handles, [("published", "7"), ("forward", "9")]);
/// assert_eq!((rules[0].family.as_str(), rules[0].table.as_str()), ("inet", "skiff"));
/// ```
pub fn rules_to_forget(ruleset: &str, bridges: &[String], ports: &[u16]) -> Vec<Rule> {
    let mut found = Vec::new();
    let (mut family, mut table, mut chain) = (String::new(), String::new(), String::new());
    for line in ruleset.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["table", f, t, ..] => {
                family = f.to_string();
                table = t.to_string();
                continue;
            }
            ["chain", c, ..] => {
                chain = c.to_string();
                continue;
            }
            _ => {}
        }
        let Some((text, handle)) = line.trim().rsplit_once(" # handle ") else {
            continue;
        };
        let names_a_bridge = bridges.iter().any(|b| text.contains(&format!("\"{b}\"")));
        let dnats_a_port = text.contains("dnat")
            && ports.iter().any(|p| {
                words
                    .windows(2)
                    .any(|w| w[0] == "dport" && w[1] == p.to_string())
            });
        if names_a_bridge || dnats_a_port {
            found.push(Rule {
                family: family.clone(),
                table: table.clone(),
                chain: chain.clone(),
                handle: handle.trim().to_string(),
                text: text.to_string(),
            });
        }
    }
    found
}
