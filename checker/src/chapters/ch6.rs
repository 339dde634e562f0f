//! Chapter 6: networks. A container gets a cable (a veth pair) from its
//! network namespace to a bridge on the host, an address of its own on the
//! bridge's subnet, a default route through the bridge; published ports
//! lead to it from the host; on a user network its neighbours find it by
//! name. Seen from inside, from the host (`/sys/class/net`, the container's
//! namespace through `nsenter`), and in nftables' ruleset.

use super::{Check, expect_in};
use crate::network::bridge_of;
use crate::target::{Running, Target};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

const CABLE: &str = "Networks > What and why > A cable and a switch";
const IPAM: &str = "Networks > The code > IPAM: one address, once";
const NAT: &str = "Networks > What and why > NAT: the way out and the way in";
const DNS: &str = "Networks > What and why > User networks, isolation and DNS by name";

pub const CHECKS: [Check; 6] = [
    Check {
        chapter: 6,
        id: "6.1",
        name: "eth0 has an address on a bridge's subnet, its cable plugged into that bridge",
        hint: CABLE,
        run: plugged,
    },
    Check {
        chapter: 6,
        id: "6.2",
        name: "the host reaches the container at its address",
        hint: CABLE,
        run: reachable,
    },
    Check {
        chapter: 6,
        id: "6.3",
        name: "two containers at once get two addresses",
        hint: IPAM,
        run: two_addresses,
    },
    Check {
        chapter: 6,
        id: "6.4",
        name: "-p 127.0.0.1:PORT:8080 leads to the container, by a DNAT rule that goes with it",
        hint: NAT,
        run: published,
    },
    Check {
        chapter: 6,
        id: "6.5",
        name: "containers of a user network find each other by name",
        hint: DNS,
        run: by_name,
    },
    Check {
        chapter: 6,
        id: "6.6",
        name: "network rm removes the network's bridge and its rules",
        hint: "Networks > The code > Netlink: bridges, veths, addresses, routes",
        run: network_removed,
    },
];

/// What the host sees of a running container's network.
struct Plugged {
    address: Ipv4Addr,
    bridge: String,
    gateway: Ipv4Addr,
}

/// `ip ARGS` in the network namespace of `pid`: the kernel's view of the
/// container's network, from outside.
fn ip_inside(pid: Pid, args: &[&str]) -> Result<String, String> {
    let out = Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-n", "ip"])
        .args(args)
        .output()
        .map_err(|e| format!("running nsenter: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "in the container's network namespace, ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The network of the container whose first process is `pid`: the address
/// of its eth0, the host's bridge of that subnet, and checks that eth0's
/// other end is a port of that bridge and the default route goes through
/// the bridge's address.
fn look(target: &Target, pid: Pid) -> Result<Plugged, String> {
    let addresses = ip_inside(pid, &["-o", "-4", "addr", "show", "dev", "eth0"])?;
    let address: Ipv4Addr = addresses
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|cidr| cidr.split('/').next()?.parse().ok())
        .ok_or_else(|| format!("eth0 has no IPv4 address: {:?}", addresses.trim()))?;
    let (bridge, gateway) = bridge_of(address)?;
    target.saw_link(&bridge);
    // `2: eth0@if15: ...`: the other end of the pair is link 15 of the host.
    let link = ip_inside(pid, &["-o", "link", "show", "dev", "eth0"])?;
    let peer = link
        .split_whitespace()
        .nth(1)
        .and_then(|name| name.trim_end_matches(':').split_once("@if"))
        .map(|(_, index)| index.to_string())
        .ok_or_else(|| format!("eth0 is not one end of a pair: {:?}", link.trim()))?;
    let host_end = crate::network::host_links()
        .into_iter()
        .find(|name| {
            std::fs::read_to_string(format!("/sys/class/net/{name}/ifindex"))
                .is_ok_and(|i| i.trim() == peer)
        })
        .ok_or_else(|| format!("no link of the host is eth0's other end (index {peer})"))?;
    let master = std::fs::read_link(format!("/sys/class/net/{host_end}/master"))
        .ok()
        .and_then(|m| m.file_name().map(|n| n.to_string_lossy().into_owned()));
    if master.as_deref() != Some(bridge.as_str()) {
        return Err(format!(
            "eth0's other end, {host_end}, is not a port of {bridge} (its master: {master:?})"
        ));
    }
    let route = ip_inside(pid, &["-4", "route", "show", "default"])?;
    if !route.contains(&format!("via {gateway} ")) {
        return Err(format!(
            "the default route does not go through the bridge's address {gateway}: {:?}",
            route.trim()
        ));
    }
    Ok(Plugged {
        address,
        bridge,
        gateway,
    })
}

/// Starts `probe ARGS...` with `flags` and looks at its network.
fn start(
    target: &Target,
    flags: &[&str],
    argv: &[&str],
) -> Result<(Running, Pid, Plugged), String> {
    let mut running = target.start(flags, argv)?;
    let pid = running.command_pid("probe", Duration::from_secs(10))?;
    let plugged = look(target, pid)?;
    Ok((running, pid, plugged))
}

/// Ends the container (not its engine, which then releases its network).
fn end(running: Running, pid: Pid) -> Result<(), String> {
    let _ = kill(pid, Signal::SIGKILL);
    running.finish(Duration::from_secs(10)).map(drop)
}

fn plugged(target: &Target) -> Result<(), String> {
    let (running, pid, _) = start(target, &[], &["probe", "sleep", "30"])?;
    end(running, pid)
}

/// Connects to `to` from the host, sends `hello` and closes.
fn send_hello(to: SocketAddr) -> Result<(), String> {
    let mut stream = TcpStream::connect_timeout(&to, Duration::from_secs(5))
        .map_err(|e| format!("connecting to {to}: {e}"))?;
    stream
        .write_all(b"hello")
        .map_err(|e| format!("sending to {to}: {e}"))
}

/// Waits for the container's `probe sink` to report what it received.
fn received_hello(mut running: Running) -> Result<(), String> {
    running.wait_for_output("received", Duration::from_secs(10))?;
    let finished = running.finish(Duration::from_secs(10))?;
    expect_in(
        "the container's report",
        &finished.stdout,
        "received 5 bytes",
    )?;
    finished.expect_code(0).map(drop)
}

fn reachable(target: &Target) -> Result<(), String> {
    let (mut running, _, plugged) = start(target, &[], &["probe", "sink", "8080"])?;
    running.wait_for_output("ready", Duration::from_secs(10))?;
    send_hello(SocketAddr::from((plugged.address, 8080)))?;
    received_hello(running)
}

fn two_addresses(target: &Target) -> Result<(), String> {
    let (first, first_pid, a) = start(target, &[], &["probe", "sleep", "30"])?;
    let second = start(target, &[], &["probe", "sleep", "30"]);
    let ended = end(first, first_pid);
    let (second, second_pid, b) = second?;
    end(second, second_pid)?;
    ended?;
    if a.address == b.address {
        return Err(format!("both containers got {}", a.address));
    }
    if a.bridge != b.bridge {
        return Err(format!(
            "two containers of one network are on two bridges, {} and {}",
            a.bridge, b.bridge
        ));
    }
    if [a.address, b.address].contains(&a.gateway) {
        return Err(format!(
            "a container got the bridge's own address {}",
            a.gateway
        ));
    }
    Ok(())
}

/// The lines of nftables' ruleset that DNAT packets for host port `port`.
fn dnat_rules(port: u16) -> Result<Vec<String>, String> {
    let out = Command::new("nft")
        .args(["list", "ruleset"])
        .output()
        .map_err(|e| format!("running nft: {e}"))?;
    let wanted = format!("dport {port} ");
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&wanted) && l.contains("dnat"))
        .map(|l| l.trim().to_string())
        .collect())
}

/// A port of 127.0.0.1 nobody listens on now (the kernel picks it).
fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("finding a free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

fn published(target: &Target) -> Result<(), String> {
    let port = free_port()?;
    target.saw_port(port);
    let publish = format!("127.0.0.1:{port}:8080");
    let (mut running, _, _) = start(target, &["-p", &publish], &["probe", "sink", "8080"])?;
    running.wait_for_output("ready", Duration::from_secs(10))?;
    if dnat_rules(port)?.is_empty() {
        return Err(format!(
            "nft list ruleset has no DNAT rule for port {port} while the container runs"
        ));
    }
    send_hello(SocketAddr::from(([127, 0, 0, 1], port)))?;
    received_hello(running)?;
    let left = dnat_rules(port)?;
    if !left.is_empty() {
        return Err(format!(
            "the DNAT rule stayed after the container ended: {}",
            left.join("; ")
        ));
    }
    Ok(())
}

fn by_name(target: &Target) -> Result<(), String> {
    let name = "skiff-check-web";
    let (web, web_pid, plugged) = start(target, &["--name", name], &["probe", "sleep", "30"])?;
    let asked = target.run(&["--rm"], &["probe", "resolve", name]);
    end(web, web_pid)?;
    let _ = target.verb(&["rm", name]);
    let asked = asked?;
    asked.expect_code(0)?;
    expect_in(
        &format!("the address of {name} by DNS"),
        &asked.stdout,
        &plugged.address.to_string(),
    )
}

fn network_removed(target: &Target) -> Result<(), String> {
    let network = "skiff-check-gone";
    target
        .verb(&["network", "create", network])?
        .expect_code(0)?;
    let started = start(target, &["--network", network], &["probe", "sleep", "30"]);
    let bridge = match started {
        Ok((running, pid, plugged)) => {
            end(running, pid)?;
            plugged.bridge
        }
        Err(error) => {
            let _ = target.verb(&["network", "rm", network]);
            return Err(error);
        }
    };
    target.verb(&["network", "rm", network])?.expect_code(0)?;
    if std::path::Path::new("/sys/class/net")
        .join(&bridge)
        .exists()
    {
        return Err(format!("the bridge {bridge} is still there"));
    }
    let out = Command::new("nft")
        .args(["list", "ruleset"])
        .output()
        .map_err(|e| format!("running nft: {e}"))?;
    let quoted = format!("\"{bridge}\"");
    let left: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&quoted))
        .map(|l| l.trim().to_string())
        .collect();
    if !left.is_empty() {
        return Err(format!(
            "nftables still names {bridge}: {}",
            left.join("; ")
        ));
    }
    Ok(())
}
