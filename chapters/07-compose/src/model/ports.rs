//! `ports` (published ports) and `expose`.
//!
//! The short syntax is `docker run -p`'s: `[IP:][HOST:]CONTAINER[/PROTO]`,
//! parsed by chapter 6 ([`ch06_network::parse_publish`]); a range
//! (`8000-8001:80-81`) is several ports. The long syntax spells each part
//! out. Both become the long form, which is what `config` prints and what
//! files merge on: two entries with the same host address, published
//! port, target and protocol are the same port.

use serde::Deserialize;
use serde::Serialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// A published port, in compose's long form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Port {
    /// A name for the port (documentation only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `ingress` (the default) or `host`: the same thing on one machine.
    pub mode: String,
    /// The host address to listen on; all of them when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
    /// The port in the container.
    pub target: u16,
    /// The host port, or a range of host ports (`8000-8010`); absent: the
    /// kernel chooses one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// `tcp` or `udp`.
    pub protocol: String,
    /// A hint for tools (`http`, `grpc`): not used by the engine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
}

impl Port {
    /// The key two files merge on: `{host_ip, published, target, protocol}`.
    pub fn merge_key(&self) -> String {
        format!(
            "{}:{}:{}/{}",
            self.host_ip.as_deref().unwrap_or("0.0.0.0"),
            self.published.as_deref().unwrap_or(""),
            self.target,
            self.protocol
        )
    }
}

/// The long syntax, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LongPort {
    name: Option<String>,
    target: u16,
    published: Option<String>,
    host_ip: Option<String>,
    protocol: Option<String>,
    mode: Option<String>,
    app_protocol: Option<String>,
}

// ANCHOR: short_port
/// The ports of one short-syntax entry (several for a range).
///
/// ```
/// use ch07_compose::model::ports::parse_short;
/// let ports = parse_short("127.0.0.1:8080:80").unwrap();
/// assert_eq!(ports[0].host_ip.as_deref(), Some("127.0.0.1"));
/// assert_eq!((ports[0].published.as_deref(), ports[0].target), (Some("8080"), 80));
/// assert_eq!(parse_short("53/udp").unwrap()[0].published, None);
/// ```
pub fn parse_short(text: &str) -> Result<Vec<Port>, String> {
    let requests = ch06_network::parse_publish(text).map_err(|e| e.to_string())?;
    // Chapter 6 reads a missing address as 0.0.0.0; compose keeps "not
    // given" apart from "0.0.0.0", so look at what was written.
    let spec = text.rsplit_once('/').map_or(text, |(spec, _)| spec);
    let explicit_ip = match spec.split(':').collect::<Vec<_>>().as_slice() {
        [ip, _, _] if !ip.is_empty() => Some(ip.to_string()),
        _ => None,
    };
    Ok(requests
        .into_iter()
        .map(|r| Port {
            name: None,
            mode: "ingress".into(),
            host_ip: explicit_ip.clone(),
            target: r.container_port,
            published: r.host_port.map(|p| p.to_string()),
            protocol: r.protocol.to_string(),
            app_protocol: None,
        })
        .collect())
}
// ANCHOR_END: short_port

fn check_long(long: LongPort) -> Result<Port, String> {
    if long.target == 0 {
        return Err("target must be a port between 1 and 65535".into());
    }
    let protocol = long
        .protocol
        .unwrap_or_else(|| "tcp".into())
        .to_ascii_lowercase();
    if protocol != "tcp" && protocol != "udp" {
        return Err(format!("unknown protocol {protocol:?}: use tcp or udp"));
    }
    let mode = long.mode.unwrap_or_else(|| "ingress".into());
    if mode != "ingress" && mode != "host" {
        return Err(format!("unknown mode {mode:?}: use ingress or host"));
    }
    if let Some(published) = &long.published {
        let port = |p: &str| p.parse::<u16>().ok().filter(|p| *p > 0);
        let ok = match published.split_once('-') {
            Some((low, high)) => port(low).zip(port(high)).is_some_and(|(l, h)| l <= h),
            None => port(published).is_some(),
        };
        if !ok {
            return Err(format!(
                "published must be a host port or a range such as 8000-8010, not {published:?}"
            ));
        }
    }
    if let Some(ip) = &long.host_ip {
        ip.parse::<std::net::Ipv4Addr>()
            .map_err(|_| format!("host_ip {ip:?} is not an IPv4 address"))?;
    }
    Ok(Port {
        name: long.name,
        mode,
        host_ip: long.host_ip,
        target: long.target,
        published: long.published.filter(|p| !p.is_empty()),
        protocol,
        app_protocol: long.app_protocol,
    })
}

/// One item of `ports:` (a short entry may hold several ports).
struct PortItem(Vec<Port>);

impl<'de> Deserialize<'de> for PortItem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<PortItem, D::Error> {
        struct ItemVisitor;
        impl<'de> Visitor<'de> for ItemVisitor {
            type Value = PortItem;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a port (\"8080:80\") or a mapping with target, published, ...")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PortItem, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PortItem, E> {
                parse_short(v).map(PortItem).map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PortItem, A::Error> {
                let long = LongPort::deserialize(de::value::MapAccessDeserializer::new(map))?;
                check_long(long)
                    .map(|p| PortItem(vec![p]))
                    .map_err(de::Error::custom)
            }
        }
        deserializer.deserialize_any(ItemVisitor)
    }
}

/// `ports:`, short and long entries mixed.
pub fn ports<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Port>, D::Error> {
    struct PortsVisitor;
    impl<'de> Visitor<'de> for PortsVisitor {
        type Value = Vec<Port>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of ports")
        }
        fn visit_unit<E>(self) -> Result<Vec<Port>, E> {
            Ok(Vec::new())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Port>, A::Error> {
            let mut out = Vec::new();
            while let Some(PortItem(ports)) = seq.next_element()? {
                out.extend(ports);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_seq(PortsVisitor)
}

/// One `expose` entry: `3000`, `"8000-8010"`, `"53/udp"`.
struct Exposed(String);

impl<'de> Deserialize<'de> for Exposed {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Exposed, D::Error> {
        super::forms::from_text(deserializer, "a port to expose", |text| {
            let (ports, protocol) = text.split_once('/').unwrap_or((text, "tcp"));
            let port = |p: &str| p.parse::<u16>().is_ok_and(|p| p > 0);
            let ports_ok = match ports.split_once('-') {
                Some((low, high)) => port(low) && port(high),
                None => port(ports),
            };
            if !ports_ok || !matches!(protocol, "tcp" | "udp") {
                return Err(format!(
                    "{text:?} is not a port to expose: write PORT, PORT-PORT, optionally /tcp or /udp"
                ));
            }
            Ok(Exposed(text.to_string()))
        })
    }
}

/// `expose:`: ports the service listens on, for documentation and tools.
pub fn expose<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let items: Vec<Exposed> = Vec::deserialize(deserializer)?;
    Ok(items.into_iter().map(|e| e.0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::de::from_node;
    use crate::node::parse;

    #[derive(Deserialize)]
    struct Holder {
        #[serde(default, deserialize_with = "ports")]
        ports: Vec<Port>,
        #[serde(default, deserialize_with = "expose")]
        expose: Vec<String>,
    }

    fn ports_of(text: &str) -> Result<Vec<Port>, crate::de::TypeError> {
        from_node::<Holder>(&parse(text, "c.yaml").unwrap()).map(|h| h.ports)
    }

    fn short(published: Option<&str>, target: u16, protocol: &str) -> Port {
        Port {
            name: None,
            mode: "ingress".into(),
            host_ip: None,
            target,
            published: published.map(str::to_string),
            protocol: protocol.into(),
            app_protocol: None,
        }
    }

    #[test]
    fn short_forms() {
        let p = ports_of("ports: [80, '8080:80', 9000-9001:90-91, 53/udp]\n").unwrap();
        assert_eq!(
            p,
            vec![
                short(None, 80, "tcp"),
                short(Some("8080"), 80, "tcp"),
                short(Some("9000"), 90, "tcp"),
                short(Some("9001"), 91, "tcp"),
                short(None, 53, "udp"),
            ]
        );
        let p = ports_of("ports: ['0.0.0.0:80:80', '127.0.0.1::81']\n").unwrap();
        assert_eq!(
            p[0].host_ip.as_deref(),
            Some("0.0.0.0"),
            "an address written is kept"
        );
        assert_eq!(
            (p[1].host_ip.as_deref(), p[1].published.as_deref()),
            (Some("127.0.0.1"), None)
        );
    }

    #[test]
    fn long_form_and_mixed() {
        let p = ports_of(
            "ports:\n  - target: 80\n    published: 8080\n    host_ip: 127.0.0.1\n    protocol: udp\n    name: web\n  - 443:443\n",
        )
        .unwrap();
        assert_eq!(p[0].published.as_deref(), Some("8080"));
        assert_eq!(
            (p[0].protocol.as_str(), p[0].name.as_deref()),
            ("udp", Some("web"))
        );
        assert_eq!(p[1], short(Some("443"), 443, "tcp"));
        let p = ports_of("ports:\n  - target: 80\n    published: 8000-8010\n").unwrap();
        assert_eq!(p[0].published.as_deref(), Some("8000-8010"));
    }

    #[test]
    fn bad_ports_say_which_and_why() {
        let err = ports_of("ports:\n  - 80\n  - 8080:80/sctp\n").unwrap_err();
        assert_eq!(err.path, "ports[1]");
        assert!(err.message.contains("unknown protocol"), "{err}");
        let err = ports_of("ports:\n  - target: 80\n    publised: 1\n").unwrap_err();
        assert_eq!(err.path, "ports[0].publised");
        assert!(err.message.contains("did you mean `published`"), "{err}");
        let err = ports_of("ports:\n  - published: 80\n").unwrap_err();
        assert!(err.message.contains("`target` is required"), "{err}");
        let err = ports_of("ports:\n  - target: 80\n    published: lots\n").unwrap_err();
        assert!(err.message.contains("published must be"), "{err}");
        let err = ports_of("ports:\n  - target: 80\n    mode: bridge\n").unwrap_err();
        assert!(err.message.contains("unknown mode"), "{err}");
    }

    #[test]
    fn merge_keys_tell_same_ports_apart() {
        let p = ports_of("ports: ['8080:80', '127.0.0.1:8080:80', '8080:80/udp']\n").unwrap();
        let keys: Vec<String> = p.iter().map(Port::merge_key).collect();
        assert_eq!(
            keys,
            [
                "0.0.0.0:8080:80/tcp",
                "127.0.0.1:8080:80/tcp",
                "0.0.0.0:8080:80/udp"
            ]
        );
    }

    #[test]
    fn expose_entries() {
        let h =
            from_node::<Holder>(&parse("expose: [3000, '8000-8010', 53/udp]\n", "c.yaml").unwrap())
                .unwrap();
        assert_eq!(h.expose, ["3000", "8000-8010", "53/udp"]);
        assert!(from_node::<Holder>(&parse("expose: [http]\n", "c.yaml").unwrap()).is_err());
    }
}
