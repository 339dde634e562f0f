//! Quantities and policies: sizes (`512m`), durations (`1m30s`), CPUs,
//! `restart`, and `deploy` (replicas and resource limits).
//!
//! Compose has two places for limits: the old `mem_limit`, `cpus`,
//! `pids_limit` keys and the newer `deploy.resources.limits`. Both mean
//! chapter 3's cgroup limits; when both are given they must agree, as
//! docker compose requires.

use super::forms::from_text;
use serde::Deserialize;
use serde::de::Deserializer;
use serde::{Serialize, Serializer};
use std::fmt;

/// A size in bytes, written `1024`, `512m`, `1.5g`, `64MiB` (binary
/// units, as docker's `RAMInBytes`). `config` prints the byte count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bytes(pub u64);

impl Bytes {
    /// Parses a size.
    ///
    /// ```
    /// use ch07_compose::model::resources::Bytes;
    /// assert_eq!(Bytes::parse("512m"), Some(Bytes(512 << 20)));
    /// assert_eq!(Bytes::parse("1.5GiB"), Some(Bytes(3 << 29)));
    /// assert_eq!(Bytes::parse("12 kb"), Some(Bytes(12 << 10)));
    /// assert_eq!(Bytes::parse("lots"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Bytes> {
        let text = text.trim();
        let number_len = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(number_len);
        let number: f64 = number.parse().ok()?;
        let unit = unit.trim().to_ascii_lowercase();
        let unit = unit.strip_suffix('b').unwrap_or(&unit);
        let unit = unit.strip_suffix('i').unwrap_or(unit);
        let scale: u64 = match unit {
            "" => 1,
            "k" => 1 << 10,
            "m" => 1 << 20,
            "g" => 1 << 30,
            "t" => 1 << 40,
            "p" => 1 << 50,
            _ => return None,
        };
        let bytes = number * scale as f64;
        (bytes.is_finite() && bytes < u64::MAX as f64).then_some(Bytes(bytes as u64))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Bytes, D::Error> {
        from_text(deserializer, "a size such as 512m", |text| {
            Bytes::parse(text).ok_or_else(|| {
                format!(
                    "{text:?} is not a size: write bytes, or a number with b, k, m, g (e.g. 512m)"
                )
            })
        })
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.to_string())
    }
}

/// A duration as Go writes it (`10s`, `1m30s`, `500ms`), as docker and
/// compose read them. Stored in nanoseconds; printed as Go prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub i64);

impl Duration {
    /// As a [`std::time::Duration`] (negative durations are refused when read).
    pub fn std(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.0.max(0) as u64)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&ch05_images::dockerfile::healthcheck::format_duration(
            self.0,
        ))
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        from_text(deserializer, "a duration such as 30s", |text| {
            match ch05_images::dockerfile::healthcheck::parse_duration(text.trim()) {
                Ok(ns) if ns >= 0 => Ok(Duration(ns)),
                Ok(_) => Err(format!("{text:?}: a duration cannot be negative")),
                Err(why) => Err(format!(
                    "{text:?} is not a duration ({why}): write e.g. 30s, 1m30s, 500ms"
                )),
            }
        })
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A number of CPUs (`0.5`, `"1.5"`): chapter 3's CPU quota.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
pub struct Cpus(pub f64);

impl<'de> Deserialize<'de> for Cpus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Cpus, D::Error> {
        from_text(
            deserializer,
            "a number of CPUs such as 0.5",
            |text| match text.trim().parse::<f64>() {
                Ok(cpus) if cpus.is_finite() && cpus >= 0.0 => Ok(Cpus(cpus)),
                _ => Err(format!(
                    "{text:?} is not a number of CPUs: write e.g. 0.5 or 2"
                )),
            },
        )
    }
}

/// What to do when a container stops by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// Leave it stopped (the default).
    No,
    /// Restart it, whatever its exit status.
    Always,
    /// Restart it when it failed (exit status not 0), at most N times.
    OnFailure(Option<u32>),
    /// Like `always`, except after the user stopped it.
    UnlessStopped,
}

impl fmt::Display for Restart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Restart::No => f.write_str("no"),
            Restart::Always => f.write_str("always"),
            Restart::OnFailure(None) => f.write_str("on-failure"),
            Restart::OnFailure(Some(n)) => write!(f, "on-failure:{n}"),
            Restart::UnlessStopped => f.write_str("unless-stopped"),
        }
    }
}

impl std::str::FromStr for Restart {
    type Err = String;

    /// `no`, `always`, `on-failure`, `on-failure:3`, `unless-stopped`.
    fn from_str(text: &str) -> Result<Restart, String> {
        let bad = || {
            format!(
                "unknown restart policy {text:?}: use \"no\", always, on-failure[:N] or unless-stopped"
            )
        };
        match text {
            "no" | "false" => Ok(Restart::No),
            "always" => Ok(Restart::Always),
            "unless-stopped" => Ok(Restart::UnlessStopped),
            "on-failure" => Ok(Restart::OnFailure(None)),
            _ => match text.strip_prefix("on-failure:") {
                Some(n) => n
                    .parse()
                    .map(|n| Restart::OnFailure(Some(n)))
                    .map_err(|_| bad()),
                None => Err(bad()),
            },
        }
    }
}

impl<'de> Deserialize<'de> for Restart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Restart, D::Error> {
        // `restart: no` unquoted is the string "no" in YAML 1.2; `false` is
        // what a YAML 1.1 habit leaves behind: both mean no.
        from_text(deserializer, "a restart policy", str::parse)
    }
}

impl Serialize for Restart {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// `deploy:` (the parts of it that mean something on one machine).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deploy {
    /// How many containers run the service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    /// Resource limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
}

/// `deploy.resources`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// Hard limits (chapter 3's cgroups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
}

/// `deploy.resources.limits`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// CPUs (a CPU quota).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<Cpus>,
    /// Memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Bytes>,
    /// Processes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        for (text, bytes) in [
            ("1024", 1024),
            ("1k", 1024),
            ("1KB", 1024),
            ("512m", 512 << 20),
            ("512M", 512 << 20),
            ("2g", 2 << 30),
            ("1.5g", 3 << 29),
            ("64MiB", 64 << 20),
            ("1t", 1 << 40),
        ] {
            assert_eq!(Bytes::parse(text), Some(Bytes(bytes)), "{text}");
        }
        for text in ["", "m", "12q", "1.2.3g", "-5m"] {
            assert_eq!(Bytes::parse(text), None, "{text}");
        }
    }

    #[test]
    fn durations_read_and_print_as_go() {
        let d: Duration = serde_json::from_str("\"1m30s\"").unwrap();
        assert_eq!(d, Duration(90_000_000_000));
        assert_eq!(d.to_string(), "1m30s");
        assert_eq!(Duration(10_000_000_000).to_string(), "10s");
        assert_eq!(Duration(500_000_000).to_string(), "500ms");
        assert_eq!(Duration(3_600_000_000_000).to_string(), "1h0m0s");
        assert_eq!(d.std(), std::time::Duration::from_secs(90));
        let err = serde_json::from_str::<Duration>("\"10\"").unwrap_err();
        assert!(err.to_string().contains("missing unit"), "{err}");
        assert!(serde_json::from_str::<Duration>("\"-1s\"").is_err());
    }

    #[test]
    fn restart_policies() {
        for (text, policy) in [
            ("no", Restart::No),
            ("always", Restart::Always),
            ("on-failure", Restart::OnFailure(None)),
            ("on-failure:3", Restart::OnFailure(Some(3))),
            ("unless-stopped", Restart::UnlessStopped),
        ] {
            assert_eq!(text.parse::<Restart>(), Ok(policy));
            assert_eq!(policy.to_string(), text);
        }
        assert_eq!("false".parse::<Restart>(), Ok(Restart::No));
        assert!(
            "sometimes"
                .parse::<Restart>()
                .unwrap_err()
                .contains("unknown restart policy")
        );
        assert!("on-failure:x".parse::<Restart>().is_err());
    }

    #[test]
    fn cpus_from_numbers_and_strings() {
        assert_eq!(serde_json::from_str::<Cpus>("\"0.5\"").unwrap(), Cpus(0.5));
        assert!(serde_json::from_str::<Cpus>("\"-1\"").is_err());
        assert!(serde_json::from_str::<Cpus>("\"many\"").is_err());
    }
}
