//! The names on a network: the records file the DNS responder answers from.
//!
//! Each user-defined network has a `records.json` beside its record, kept up
//! to date by the network store: a container's entry is added when it is
//! attached and removed when it is released. The DNS responders of the
//! containers on the network read it (again whenever it changes: it is
//! replaced atomically, so a new inode means new contents). The idea is
//! aardvark-dns's, podman's resolver, which reads one such file per network.
//!
//! A container answers to its name, its network aliases (`--network-alias`),
//! its short id (the first 12 hex digits of its id) and its hostname, as in
//! docker. Several containers may share an alias: the name then resolves to
//! all their addresses.

use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// The DNS domain of our networks: `web` is also `web.dns.skiff`. A name
/// under it that no container holds is answered "no such name" at once,
/// never sent to the host's resolvers. (Podman's equivalent is `dns.podman`.)
pub const DOMAIN: &str = "dns.skiff";

/// The names of one container on one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The container's id.
    pub container: String,
    /// Its address on the network.
    pub address: Ipv4Addr,
    /// The names it answers to, lowercase, the container's name first.
    pub names: Vec<String>,
}

impl Record {
    /// The record of a container: its name, aliases, short id and hostname,
    /// lowercased, without duplicates or empty names.
    pub fn new(
        container: &str,
        address: Ipv4Addr,
        name: &str,
        aliases: &[String],
        hostname: &str,
    ) -> Record {
        let short_id: String = container.chars().take(12).collect();
        let mut names: Vec<String> = Vec::new();
        for candidate in std::iter::once(name)
            .chain(aliases.iter().map(String::as_str))
            .chain([short_id.as_str(), hostname])
        {
            let candidate = candidate.trim_end_matches('.').to_ascii_lowercase();
            if !candidate.is_empty() && !names.contains(&candidate) {
                names.push(candidate);
            }
        }
        Record {
            container: container.to_string(),
            address,
            names,
        }
    }
}

/// Every record of one network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Records {
    /// One per attached container.
    #[serde(default)]
    pub records: Vec<Record>,
}

impl Records {
    /// Adds or replaces the record of `record.container`.
    pub fn upsert(&mut self, record: Record) {
        self.remove(&record.container);
        self.records.push(record);
    }

    /// Removes the record of a container; whether there was one.
    pub fn remove(&mut self, container: &str) -> bool {
        let before = self.records.len();
        self.records.retain(|r| r.container != container);
        self.records.len() != before
    }

    /// The addresses of `name` (any case, with or without a trailing dot).
    pub fn lookup(&self, name: &str) -> Vec<Ipv4Addr> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.records
            .iter()
            .filter(|r| r.names.contains(&name))
            .map(|r| r.address)
            .collect()
    }

    /// The name of the container holding `address`.
    pub fn reverse(&self, address: Ipv4Addr) -> Option<&str> {
        self.records
            .iter()
            .find(|r| r.address == address)
            .and_then(|r| r.names.first())
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_aliases_short_id_and_hostname() {
        let id = "4f1c0a9b2d3e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";
        let r = Record::new(
            id,
            "10.202.0.2".parse().unwrap(),
            "Web",
            &["api".into(), "web".into()],
            "4f1c0a9b2d3e",
        );
        assert_eq!(r.names, ["web", "api", "4f1c0a9b2d3e"]);
        let mut records = Records::default();
        records.upsert(r);
        records.upsert(Record::new(
            "b",
            "10.202.0.3".parse().unwrap(),
            "other",
            &["api".into()],
            "b",
        ));
        assert_eq!(
            records.lookup("WEB."),
            vec!["10.202.0.2".parse::<Ipv4Addr>().unwrap()]
        );
        assert_eq!(records.lookup("api").len(), 2);
        assert_eq!(
            records.reverse("10.202.0.3".parse().unwrap()),
            Some("other")
        );
        assert!(records.remove(id));
        assert!(records.lookup("web").is_empty());
    }
}
