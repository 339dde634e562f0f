//! The values of config instructions, checked and normalised as docker
//! does: ports, stop signals, WORKDIR paths, and the history text of
//! config-only steps.

use super::error::Position;
use super::gotext;
use super::healthcheck::{self, Healthcheck};
use super::instruction::Word;

/// Docker's comment line for a config-only step: `/bin/sh -c #(nop)  ENV a=b`.
pub fn nop(shell: &[String], comment: &str) -> String {
    format!("{} #(nop)  {comment}", shell.join(" "))
}

/// The position of the first word, for errors about EXPOSE's expanded ports.
pub(super) fn word_at(words: &[Word], fallback: Position) -> Position {
    words.first().map_or(fallback, |w| w.position)
}

/// WORKDIR chains: a relative path continues the current one (`/` when
/// none); an absolute path replaces it, as written.
pub fn join_workdir(current: &str, path: &str) -> String {
    if path.starts_with('/') {
        return path.to_string();
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in current.split('/').chain(path.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

// ANCHOR: port_keys
/// `80`, `80/udp`, `8000-8002/tcp` -> the config's keys (`80/tcp`, ...).
pub fn port_keys(spec: &str) -> Option<Vec<String>> {
    let (ports, protocol) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let protocol = protocol.to_ascii_lowercase();
    if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
        return None;
    }
    let (first, last) = ports.split_once('-').unwrap_or((ports, ports));
    let first: u16 = first.parse().ok()?;
    let last: u16 = last.parse().ok()?;
    if first == 0 || last < first {
        return None;
    }
    Some((first..=last).map(|p| format!("{p}/{protocol}")).collect())
}
// ANCHOR_END: port_keys

/// A signal docker's STOPSIGNAL accepts: a number from 1 to 64, or a name
/// with or without `SIG` (`SIGTERM`, `term`, `RTMIN+3`).
pub fn valid_signal(text: &str) -> bool {
    if let Ok(n) = text.parse::<u32>() {
        return (1..=64).contains(&n);
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    const NAMES: [&str; 34] = [
        "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT",
        "KILL", "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM",
        "TRAP", "TSTP", "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ",
    ];
    if NAMES.contains(&name) || name == "RTMIN" || name == "RTMAX" {
        return true;
    }
    let offset = |rest: Option<&str>| {
        rest.and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| (1..=15).contains(&n))
    };
    offset(name.strip_prefix("RTMIN+")) || offset(name.strip_prefix("RTMAX-"))
}

/// Docker's history text for HEALTHCHECK: Go's `%q` of its HealthConfig.
pub(super) fn health_text(check: &Healthcheck, test: &[String]) -> String {
    let (interval, timeout, start_period, start_interval, retries) = match check {
        Healthcheck::None => (0, 0, 0, 0, 0),
        Healthcheck::Check {
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
            ..
        } => (
            *interval,
            *timeout,
            *start_period,
            *start_interval,
            *retries,
        ),
    };
    let d = |ns| gotext::quote(&healthcheck::format_duration(ns));
    format!(
        "HEALTHCHECK &{{{} {} {} {} {} {}}}",
        gotext::quote_list(test),
        d(interval),
        d(timeout),
        d(start_period),
        d(start_interval),
        gotext::quote_rune(retries)
    )
}
