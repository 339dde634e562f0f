//! The verbs that read a container's network: `port`, and `ps`'s PORTS.

use crate::attachment::{self, AttachError, Link, find_endpoint};
use crate::engine::NetworkEngine;
use crate::ports::{PortMapping, Protocol};
use crate::request::ExtraNetwork;
use crate::store::NetworkError;
use ch02_namespaces::records::Record;
use ch02_namespaces::{Engine, RunError, Spec};
use nix::unistd::Pid;

/// Why `port` or `ps` failed.
#[derive(Debug, thiserror::Error)]
pub enum NetworkVerbError {
    #[error("{0}")]
    Run(#[from] RunError),
    #[error("{0}")]
    Attach(#[from] AttachError),
    #[error("{0}")]
    Network(#[from] NetworkError),
    #[error("invalid port {0:?}: use PORT or PORT/tcp or PORT/udp")]
    Port(String),
    #[error("no public port '{port}' published for {container}")]
    NotPublished { port: String, container: String },
    #[error(
        "container {0} is not running: network connect and disconnect change the cables of a running container (start it first)"
    )]
    NotRunning(String),
}

/// The published ports of a running container (none once it stopped).
pub fn published(
    engine: &NetworkEngine,
    record: &Record<Spec>,
) -> Result<Vec<PortMapping>, NetworkVerbError> {
    if !record.is_running() {
        return Ok(Vec::new());
    }
    let mut ports = find_endpoint(engine.networks(), &record.spec.id)?
        .map(|endpoint| endpoint.ports)
        .unwrap_or_default();
    ports.sort();
    Ok(ports)
}

// ANCHOR: port
/// `docker port CONTAINER [PORT[/PROTO]]`: each published port as
/// `80/tcp -> 0.0.0.0:8080`; with a port, only its host addresses.
pub fn port(
    engine: &NetworkEngine,
    container: &str,
    wanted: Option<&str>,
) -> Result<Vec<String>, NetworkVerbError> {
    let record = engine
        .containers()
        .find::<Spec>(container)
        .map_err(RunError::from)?;
    let ports = published(engine, &record)?;
    let Some(wanted) = wanted else {
        return Ok(ports.iter().map(ToString::to_string).collect());
    };
    let (number, protocol) = match wanted.split_once('/') {
        None => (wanted, Protocol::Tcp),
        Some((number, "tcp")) => (number, Protocol::Tcp),
        Some((number, "udp")) => (number, Protocol::Udp),
        Some(_) => return Err(NetworkVerbError::Port(wanted.to_string())),
    };
    let number: u16 = number
        .parse()
        .map_err(|_| NetworkVerbError::Port(wanted.to_string()))?;
    let lines: Vec<String> = ports
        .iter()
        .filter(|p| p.container_port == number && p.protocol == protocol)
        .map(|p| format!("{}:{}", p.host_ip, p.host_port))
        .collect();
    if lines.is_empty() {
        return Err(NetworkVerbError::NotPublished {
            port: format!("{number}/{protocol}"),
            container: record.spec.name.clone(),
        });
    }
    Ok(lines)
}
// ANCHOR_END: port

// ANCHOR: connect
/// `network connect [--alias NAME] [--ip IP] NETWORK CONTAINER`: one more
/// cable for a running container (see [`crate::attachment::connect`]).
pub fn connect(
    engine: &NetworkEngine,
    container: &str,
    extra: &ExtraNetwork,
) -> Result<Link, NetworkVerbError> {
    let (record, pid) = running(engine, container)?;
    Ok(attachment::connect(
        engine.networks(),
        &record.spec.id,
        pid,
        extra,
    )?)
}
// ANCHOR_END: connect

/// `network disconnect NETWORK CONTAINER`: unplugs the cable a running
/// container has to `network` (one it joined besides its first).
pub fn disconnect(
    engine: &NetworkEngine,
    network: &str,
    container: &str,
) -> Result<(), NetworkVerbError> {
    let (record, _) = running(engine, container)?;
    let network = engine.networks().get(network)?;
    Ok(attachment::disconnect(
        engine.networks(),
        &record.spec.id,
        &network.id,
    )?)
}

/// The record of a running container, and its first process.
fn running(
    engine: &NetworkEngine,
    container: &str,
) -> Result<(Record<Spec>, Pid), NetworkVerbError> {
    let record = engine
        .containers()
        .find::<Spec>(container)
        .map_err(RunError::from)?;
    match record.state.pid.filter(|_| record.is_running()) {
        Some(pid) => Ok((record, Pid::from_raw(pid.pid))),
        None => Err(NetworkVerbError::NotRunning(record.spec.name.clone())),
    }
}

/// The PORTS column of `docker ps`: `0.0.0.0:8080->80/tcp, ...`.
pub fn ports_column(ports: &[PortMapping]) -> String {
    ports
        .iter()
        .map(|p| {
            format!(
                "{}:{}->{}/{}",
                p.host_ip, p.host_port, p.container_port, p.protocol
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `docker ps [-a] [-q]`, with the PORTS column.
pub fn ps(engine: &NetworkEngine, all: bool, quiet: bool) -> Result<String, NetworkVerbError> {
    let records = ch02_namespaces::verbs::ps(engine, all)?;
    if quiet {
        return Ok(records
            .iter()
            .map(|r| format!("{}\n", r.spec.short_id()))
            .collect());
    }
    let mut columns = Vec::with_capacity(records.len());
    for record in &records {
        columns.push((
            record.spec.id.clone(),
            ports_column(&published(engine, record)?),
        ));
    }
    let ports = |record: &Record<Spec>| {
        columns
            .iter()
            .find(|(id, _)| *id == record.spec.id)
            .map(|(_, column)| column.clone())
            .unwrap_or_default()
    };
    Ok(ch02_namespaces::verbs::ps_table_with_ports(
        &records,
        Some(&ports),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn the_ports_column_reads_as_docker_s() {
        let ports = [
            PortMapping {
                container_port: 80,
                protocol: Protocol::Tcp,
                host_ip: Ipv4Addr::UNSPECIFIED,
                host_port: 8080,
            },
            PortMapping {
                container_port: 53,
                protocol: Protocol::Udp,
                host_ip: Ipv4Addr::LOCALHOST,
                host_port: 5353,
            },
        ];
        assert_eq!(
            ports_column(&ports),
            "0.0.0.0:8080->80/tcp, 127.0.0.1:5353->53/udp"
        );
        assert_eq!(ports_column(&[]), "");
    }
}
