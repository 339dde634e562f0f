//! `healthcheck` and `depends_on`: when is a service ready for the ones
//! that need it?
//!
//! A container that runs is not yet a service that answers: a database
//! takes seconds to open its files. A healthcheck is a command the engine
//! runs inside the container every `interval`; `retries` failures in a row
//! make it unhealthy, one success healthy. `depends_on` with
//! `condition: service_healthy` makes compose wait for that before it
//! starts the dependent service.

use super::resources::Duration;
use serde::Deserialize;
use serde::Serialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;

/// `healthcheck:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Healthcheck {
    /// `["CMD", argv...]`, `["CMD-SHELL", "command"]` or `["NONE"]`; a
    /// string is `CMD-SHELL`.
    #[serde(
        default,
        deserialize_with = "test",
        skip_serializing_if = "Option::is_none"
    )]
    pub test: Option<Vec<String>>,
    /// Time between two checks (docker's default: 30s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// Time a check may take (default 30s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Failures in a row that make the container unhealthy (default 3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u64>,
    /// A grace period after start when failures do not count (default 0s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_period: Option<Duration>,
    /// The interval during the start period (default 5s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<Duration>,
    /// `true`: no check, even one the image defines.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable: bool,
}

impl Healthcheck {
    /// Is the check switched off (`disable: true` or `test: ["NONE"]`)?
    pub fn disabled(&self) -> bool {
        self.disable
            || self
                .test
                .as_ref()
                .is_some_and(|t| t.first().map(String::as_str) == Some("NONE"))
    }
}

// ANCHOR: test
/// `test:` as a string (a shell command) or a list whose first word says
/// how to run the rest.
fn test<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<String>>, D::Error> {
    struct TestVisitor;
    impl<'de> Visitor<'de> for TestVisitor {
        type Value = Option<Vec<String>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a command string or a list starting with CMD, CMD-SHELL or NONE")
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(vec!["CMD-SHELL".into(), v.to_string()]))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut test = Vec::new();
            while let Some(word) = seq.next_element::<String>()? {
                test.push(word);
            }
            let ok = match test.first().map(String::as_str) {
                Some("NONE") => test.len() == 1,
                Some("CMD") => test.len() >= 2,
                Some("CMD-SHELL") => test.len() == 2,
                _ => false,
            };
            if !ok {
                return Err(de::Error::custom(format_args!(
                    "{test:?} is not a test: use [\"CMD\", \"program\", \"arg\"...], [\"CMD-SHELL\", \"command\"] or [\"NONE\"]"
                )));
            }
            Ok(Some(test))
        }
    }
    deserializer.deserialize_any(TestVisitor)
}
// ANCHOR_END: test

/// When a dependency counts as ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Its containers were started (the default).
    ServiceStarted,
    /// Its healthcheck passed.
    ServiceHealthy,
    /// It ran to the end and exited with status 0 (a migration, a seed).
    ServiceCompletedSuccessfully,
}

/// One entry of `depends_on`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependency {
    /// What to wait for.
    pub condition: Condition,
    /// Restart this service when the dependency is restarted by compose.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub restart: bool,
    /// `false`: a missing or disabled dependency is only a warning.
    pub required: bool,
}

impl Default for Dependency {
    fn default() -> Dependency {
        Dependency {
            condition: Condition::ServiceStarted,
            restart: false,
            required: true,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LongDependency {
    #[serde(default)]
    condition: Option<Condition>,
    #[serde(default)]
    restart: Option<bool>,
    #[serde(default)]
    required: Option<bool>,
}

impl<'de> Deserialize<'de> for Dependency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Dependency, D::Error> {
        let long = Option::<LongDependency>::deserialize(deserializer)?;
        let defaults = Dependency::default();
        Ok(match long {
            None => defaults,
            Some(long) => Dependency {
                condition: long.condition.unwrap_or(defaults.condition),
                restart: long.restart.unwrap_or(defaults.restart),
                required: long.required.unwrap_or(defaults.required),
            },
        })
    }
}

// ANCHOR: depends_on
/// `depends_on: [db, cache]` (each started) or a mapping of conditions.
pub fn depends_on<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, Dependency>, D::Error> {
    struct DependsVisitor;
    impl<'de> Visitor<'de> for DependsVisitor {
        type Value = BTreeMap<String, Dependency>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of services or a mapping of services to conditions")
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(name) = seq.next_element::<String>()? {
                out.insert(name, Dependency::default());
            }
            Ok(out)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((name, dependency)) = map.next_entry::<String, Dependency>()? {
                out.insert(name, dependency);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_any(DependsVisitor)
}
// ANCHOR_END: depends_on

#[cfg(test)]
mod tests {
    use super::*;
    use crate::de::{TypeError, from_node};
    use crate::node::parse;

    #[derive(Deserialize)]
    struct Holder {
        #[serde(default)]
        healthcheck: Option<Healthcheck>,
        #[serde(default, deserialize_with = "depends_on")]
        depends_on: BTreeMap<String, Dependency>,
    }

    fn holder(text: &str) -> Result<Holder, TypeError> {
        from_node(&parse(text, "c.yaml").unwrap())
    }

    #[test]
    fn test_forms() {
        let check = |text: &str| holder(text).unwrap().healthcheck.unwrap().test.unwrap();
        assert_eq!(
            check("healthcheck: {test: curl -f http://localhost}\n"),
            ["CMD-SHELL", "curl -f http://localhost"]
        );
        assert_eq!(
            check("healthcheck: {test: [CMD, redis-cli, ping]}\n"),
            ["CMD", "redis-cli", "ping"]
        );
        assert_eq!(
            check("healthcheck: {test: [CMD-SHELL, pg_isready]}\n"),
            ["CMD-SHELL", "pg_isready"]
        );
        assert!(
            holder("healthcheck: {test: [NONE]}\n")
                .unwrap()
                .healthcheck
                .unwrap()
                .disabled()
        );
        assert!(
            holder("healthcheck: {disable: true}\n")
                .unwrap()
                .healthcheck
                .unwrap()
                .disabled()
        );
        for bad in ["[curl, -f]", "[CMD]", "[CMD-SHELL, a, b]", "[NONE, x]"] {
            let err = holder(&format!("healthcheck: {{test: {bad}}}\n"))
                .err()
                .unwrap();
            assert_eq!(err.path, "healthcheck.test", "{bad}");
        }
    }

    #[test]
    fn durations_and_retries() {
        let h = holder("healthcheck:\n  test: [CMD, true]\n  interval: 10s\n  timeout: 1m30s\n  retries: 5\n  start_period: 500ms\n")
            .unwrap()
            .healthcheck
            .unwrap();
        assert_eq!(h.interval, Some(Duration(10_000_000_000)));
        assert_eq!(h.timeout.unwrap().to_string(), "1m30s");
        assert_eq!(
            (h.retries, h.start_period.unwrap().to_string().as_str()),
            (Some(5), "500ms")
        );
        let err = holder("healthcheck:\n  interval: 10\n").err().unwrap();
        assert_eq!(err.path, "healthcheck.interval");
        assert!(err.message.contains("missing unit"), "{err}");
    }

    #[test]
    fn depends_on_list_and_map() {
        let d = holder("depends_on: [db, cache]\n").unwrap().depends_on;
        assert_eq!(d["db"], Dependency::default());
        let d = holder(
            "depends_on:\n  db: {condition: service_healthy}\n  seed:\n    condition: service_completed_successfully\n    required: false\n  cache:\n",
        )
        .unwrap()
        .depends_on;
        assert_eq!(d["db"].condition, Condition::ServiceHealthy);
        assert_eq!(
            (d["seed"].condition, d["seed"].required),
            (Condition::ServiceCompletedSuccessfully, false)
        );
        assert_eq!(d["cache"], Dependency::default());
    }

    #[test]
    fn a_misspelled_condition_gets_a_suggestion() {
        let err = holder("depends_on:\n  db:\n    condition: service_healty\n")
            .err()
            .unwrap();
        assert_eq!(err.path, "depends_on.db.condition");
        assert!(
            err.message.contains("did you mean `service_healthy`"),
            "{err}"
        );
        assert_eq!(err.at.unwrap().line, 3);
    }
}
