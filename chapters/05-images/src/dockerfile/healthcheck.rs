//! HEALTHCHECK: how the engine will check that a container still works.
//!
//! ```text
//! HEALTHCHECK [--interval=30s] [--timeout=30s] [--start-period=0s]
//!             [--start-interval=5s] [--retries=3] CMD command
//! HEALTHCHECK NONE
//! ```
//!
//! The builder only stores the check in the image config (`Healthcheck`:
//! `Test`, and the durations in nanoseconds, zero meaning "the engine's
//! default"); running it is the engine's job. Durations are Go's
//! (`1m30s`, `500ms`, `1.5h`), because docker's are.

use super::error::{DockerfileError, ErrorKind};
use super::flags::{FlagKind, FlagSpec, read_flags};
use super::instruction::{CommandLine, Kind};
use super::parse::Cursor;
use crate::image::HealthConfig;

/// A HEALTHCHECK instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healthcheck {
    /// `HEALTHCHECK NONE`: turn off a check inherited from the base image.
    None,
    /// `HEALTHCHECK [OPTIONS] CMD ...`.
    Check {
        command: CommandLine,
        /// Nanoseconds; 0 when not given.
        interval: i64,
        timeout: i64,
        start_period: i64,
        start_interval: i64,
        /// 0 when not given.
        retries: i64,
    },
}

impl Healthcheck {
    /// The config's `Healthcheck`, as docker writes it: `Test` is
    /// `["NONE"]`, `["CMD", argv...]` (exec form) or `["CMD-SHELL", command]`.
    pub fn config(&self) -> HealthConfig {
        match self {
            Healthcheck::None => HealthConfig {
                test: vec!["NONE".into()],
                ..HealthConfig::default()
            },
            Healthcheck::Check {
                command,
                interval,
                timeout,
                start_period,
                start_interval,
                retries,
            } => {
                let test = match command {
                    CommandLine::Exec(argv) => {
                        let mut test = vec!["CMD".to_string()];
                        test.extend(argv.iter().cloned());
                        test
                    }
                    CommandLine::Shell(line) => vec!["CMD-SHELL".into(), line.clone()],
                };
                HealthConfig {
                    test,
                    interval: *interval,
                    timeout: *timeout,
                    start_period: *start_period,
                    start_interval: *start_interval,
                    retries: *retries,
                }
            }
        }
    }
}

/// Nanoseconds per unit of Go's duration syntax.
const UNITS: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

// ANCHOR: duration
/// Parses a Go duration (`time.ParseDuration`): an optional sign, then one
/// or more `<number><unit>` (`1h30m`, `1.5s`, `250ms`), or a bare `0`.
/// Returns nanoseconds, or what is wrong.
pub fn parse_duration(text: &str) -> Result<i64, &'static str> {
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err("empty duration");
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err("expected a number such as 30 or 1.5");
        }
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let Some((_, scale)) = UNITS.iter().find(|(u, _)| *u == &rest[..unit_len]) else {
            return Err(if unit_len == 0 {
                "missing unit: use ns, us, ms, s, m or h"
            } else {
                "unknown unit: use ns, us, ms, s, m or h"
            });
        };
        rest = &rest[unit_len..];
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| "the number is too large")?
        };
        let mut value = whole
            .checked_mul(*scale)
            .ok_or("the duration is too large")?;
        let mut divisor: u128 = 1;
        for digit in fraction.bytes().take(30) {
            divisor *= 10;
            value += u128::from(digit - b'0') * scale / divisor;
        }
        total = total
            .checked_add(value)
            .ok_or("the duration is too large")?;
    }
    let total = i64::try_from(total).map_err(|_| "the duration is too large")?;
    Ok(if negative { -total } else { total })
}
// ANCHOR_END: duration

/// A duration as Go prints it (`time.Duration.String`): `5m0s`, `1.5s`,
/// `300ms`, `0s`. Docker's history shows HEALTHCHECK durations this way.
pub fn format_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let u = ns.unsigned_abs();
    let decimal = |value: u64, unit: u64, digits: usize| -> String {
        let fraction = value % unit;
        if fraction == 0 {
            format!("{}", value / unit)
        } else {
            let text = format!("{fraction:0digits$}");
            format!("{}.{}", value / unit, text.trim_end_matches('0'))
        }
    };
    let body = if u < 1_000 {
        format!("{u}ns")
    } else if u < 1_000_000 {
        format!("{}µs", decimal(u, 1_000, 3))
    } else if u < 1_000_000_000 {
        format!("{}ms", decimal(u, 1_000_000, 6))
    } else {
        let seconds = u / 1_000_000_000;
        let (hours, minutes) = (seconds / 3600, seconds / 60 % 60);
        let mut out = String::new();
        if hours > 0 {
            out += &format!("{hours}h");
        }
        if hours > 0 || minutes > 0 {
            out += &format!("{minutes}m");
        }
        out + &format!("{}s", decimal(u % 60_000_000_000, 1_000_000_000, 9))
    };
    format!("{sign}{body}")
}

/// Checks a parsed duration as docker does: 0 (the default) or at least 1ms.
pub fn check_duration(ns: i64) -> Result<i64, &'static str> {
    if ns != 0 && ns < 1_000_000 {
        return Err("a duration is 0 (the default) or at least 1ms");
    }
    Ok(ns)
}

/// Parses HEALTHCHECK's flags and arguments.
pub(super) fn parse(cursor: &mut Cursor) -> Result<Kind, DockerfileError> {
    const SPEC: FlagSpec = FlagSpec {
        flags: &[
            ("interval", FlagKind::Value),
            ("timeout", FlagKind::Value),
            ("start-period", FlagKind::Value),
            ("start-interval", FlagKind::Value),
            ("retries", FlagKind::Value),
        ],
        known: "--interval, --timeout, --start-period, --start-interval, --retries",
    };
    const USAGE: &str = "HEALTHCHECK [OPTIONS] CMD command, or HEALTHCHECK NONE";
    let flags = read_flags(cursor, &SPEC)?;
    let args = cursor.args().to_string();
    let (first, rest) = args
        .split_once(char::is_whitespace)
        .map_or((args.as_str(), ""), |(f, r)| (f, r.trim_start()));
    if first.eq_ignore_ascii_case("NONE") {
        if !flags.0.is_empty() || !rest.is_empty() {
            return Err(cursor.needs("nothing after NONE (no options either)", USAGE));
        }
        return Ok(Kind::Healthcheck(Healthcheck::None));
    }
    if !first.eq_ignore_ascii_case("CMD") || rest.is_empty() {
        return Err(cursor.needs("NONE, or CMD and a command", USAGE));
    }
    let flags_at = cursor.flags_at();
    let duration = |name: &'static str| -> Result<i64, DockerfileError> {
        let Some((value, at)) = flags.value(name) else {
            return Ok(0);
        };
        parse_duration(value)
            .and_then(check_duration)
            .map_err(|reason| {
                DockerfileError::at(
                    cursor.file,
                    cursor.line.position(flags_at + at),
                    ErrorKind::BadDuration {
                        flag: name,
                        value: value.into(),
                        reason,
                    },
                )
            })
    };
    let retries = match flags.value("retries") {
        None => 0,
        Some((value, at)) => match value.parse::<i32>() {
            Ok(n) if n >= 0 => i64::from(n),
            _ => {
                return Err(DockerfileError::at(
                    cursor.file,
                    cursor.line.position(flags_at + at),
                    ErrorKind::BadFlagValue {
                        flag: "retries".into(),
                        value: value.into(),
                        expected: "a whole number, 0 or more",
                    },
                ));
            }
        },
    };
    let command_at = args.len() - rest.len();
    let command = cursor.command(rest, command_at);
    Ok(Kind::Healthcheck(Healthcheck::Check {
        command,
        interval: duration("interval")?,
        timeout: duration("timeout")?,
        start_period: duration("start-period")?,
        start_interval: duration("start-interval")?,
        retries,
    }))
}
