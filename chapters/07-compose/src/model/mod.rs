//! The compose file, typed.
//!
//! What compose adds over `run` is a file that describes a whole
//! application: several **services** (each a `run` command's worth of
//! flags: image, command, ports, volumes, limits...), the **networks** they
//! share and the **volumes** that outlive them. Each key maps onto a
//! chapter of this book:
//!
//! | keys | chapter |
//! |---|---|
//! | `command`, `entrypoint`, `environment`, `user`, `working_dir`, `init`, `stop_signal` | 1, process |
//! | `hostname`, `cap_add`, `cap_drop`, `security_opt`, `read_only` | 2, namespaces |
//! | `mem_limit`, `cpus`, `pids_limit`, `deploy.resources.limits` | 3, cgroups |
//! | `volumes`, `tmpfs`, top-level `volumes` | 4, storage |
//! | `image`, `build`, `healthcheck` | 5, images |
//! | `ports`, `networks`, `dns`, `extra_hosts`, top-level `networks` | 6, network |
//! | `depends_on`, `scale`, `deploy.replicas`, `profiles`, `restart` | 7, this one |
//!
//! One [`ComposeFile`] is one file as written, every key optional: an
//! override file may say only `ports:` for one service. Files are merged
//! ([`crate::merge`]) and then resolved ([`crate::resolve`]) into a
//! project where the defaults are filled in.

pub mod forms;
pub mod health;
pub mod networks;
pub mod ports;
pub mod resources;
pub mod volumes;

use forms::KeyValues;
pub use health::{Condition, Dependency, Healthcheck};
pub use networks::{Ipam, IpamPool, NetworkDef, ServiceNetwork, ServiceNetworks, VolumeDef};
pub use ports::Port;
pub use resources::{Bytes, Cpus, Deploy, Duration, Limits, Resources, Restart};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
pub use volumes::{MountType, ServiceVolume};

/// Keys of the compose specification that skiff does not implement: an
/// error names them as such, instead of a "did you mean".
pub const UNSUPPORTED: &[&str] = &[
    // top level
    "include",
    "secrets",
    "configs",
    "models",
    // services
    "annotations",
    "attach",
    "blkio_config",
    "cgroup",
    "cgroup_parent",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpu_shares",
    "cpuset",
    "credential_spec",
    "develop",
    "device_cgroup_rules",
    "devices",
    "dns_opt",
    "dns_search",
    "domainname",
    "external_links",
    "extends",
    "gpus",
    "group_add",
    "ipc",
    "isolation",
    "label_file",
    "links",
    "logging",
    "mac_address",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "network_mode",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "platform",
    "post_start",
    "pre_stop",
    "privileged",
    "provider",
    "pull_policy",
    "runtime",
    "shm_size",
    "stdin_open",
    "storage_opt",
    "sysctls",
    "tty",
    "ulimits",
    "use_api_socket",
    "userns_mode",
    "uts",
    "volumes_from",
    // deploy
    "mode",
    "placement",
    "endpoint_mode",
    "restart_policy",
    "rollback_config",
    "update_config",
    "reservations",
    // build
    "cache_from",
    "cache_to",
    "network",
    "ssh",
    "platforms",
    "tags",
    "additional_contexts",
    "dockerfile_inline",
    "no_cache",
    "pull",
    "entitlements",
];

/// One compose file, as written (after variable substitution).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComposeFile {
    /// The project's name.
    pub name: Option<String>,
    /// The services, by name.
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
    /// The networks, by the name the file uses.
    #[serde(default)]
    pub networks: BTreeMap<String, NetworkDef>,
    /// The volumes, by the name the file uses.
    #[serde(default)]
    pub volumes: BTreeMap<String, VolumeDef>,
}

/// One service: what `docker run` would be told, for one or more
/// containers. Fields are in the order `config` prints them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Build the image from a Dockerfile (chapter 5).
    #[serde(
        default,
        deserialize_with = "build",
        skip_serializing_if = "Option::is_none"
    )]
    pub build: Option<Build>,
    /// Capabilities added to docker's default set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    /// Capabilities removed from it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    /// The command (replaces the image's CMD).
    #[serde(
        default,
        deserialize_with = "forms::command",
        skip_serializing_if = "Option::is_none"
    )]
    pub command: Option<Vec<String>>,
    /// A fixed container name instead of `PROJECT-SERVICE-N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    /// A CPU quota.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<Cpus>,
    /// Services to start first, and what to wait for.
    #[serde(
        default,
        deserialize_with = "health::depends_on",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub depends_on: BTreeMap<String, Dependency>,
    /// Replicas and resource limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deploy>,
    /// DNS servers (instead of chapter 6's resolver).
    #[serde(
        default,
        deserialize_with = "forms::string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub dns: Vec<String>,
    /// The entrypoint (replaces the image's; `[]` clears it).
    #[serde(
        default,
        deserialize_with = "forms::command",
        skip_serializing_if = "Option::is_none"
    )]
    pub entrypoint: Option<Vec<String>>,
    /// Files of `KEY=VALUE` lines for the container's environment.
    #[serde(
        default,
        deserialize_with = "env_files",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub env_file: Vec<EnvFile>,
    /// The container's environment (`None`: take the value from the
    /// environment compose runs in).
    #[serde(
        default,
        deserialize_with = "forms::key_values",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub environment: KeyValues,
    /// Ports the service listens on (documentation, not published).
    #[serde(
        default,
        deserialize_with = "ports::expose",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub expose: Vec<String>,
    /// More lines for `/etc/hosts`: host name to address.
    #[serde(
        default,
        deserialize_with = "extra_hosts",
        serialize_with = "host_lines",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub extra_hosts: BTreeMap<String, String>,
    /// A command run inside the container to tell whether it works.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// The container's host name (default: its id, as with `run`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The image to run (or to tag the build with).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Run an init process as PID 1 (chapter 1's reaper).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    /// Labels on the containers.
    #[serde(
        default,
        deserialize_with = "forms::labels",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// A memory limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_limit: Option<Bytes>,
    /// The networks joined (default: the project's `default` network).
    #[serde(
        default,
        deserialize_with = "networks::service_networks",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub networks: ServiceNetworks,
    /// A limit on the number of processes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<i64>,
    /// Published ports.
    #[serde(
        default,
        deserialize_with = "ports::ports",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ports: Vec<Port>,
    /// The profiles that enable this service (none: always enabled).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    /// A read-only root filesystem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// The restart policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart: Option<Restart>,
    /// How many containers (the older spelling of `deploy.replicas`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<u32>,
    /// Security options (`no-new-privileges:true`, `seccomp=...`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    /// How long `stop` waits between the stop signal and SIGKILL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_grace_period: Option<Duration>,
    /// The signal `stop` sends first (default SIGTERM).
    #[serde(
        default,
        deserialize_with = "signal",
        skip_serializing_if = "Option::is_none"
    )]
    pub stop_signal: Option<String>,
    /// tmpfs mounts: `/run` or `/run:size=64m`.
    #[serde(
        default,
        deserialize_with = "forms::string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tmpfs: Vec<String>,
    /// The user (and group) to run as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Mounts: volumes, bind mounts, tmpfs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<ServiceVolume>,
    /// The working directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
}

/// `build:` (a string is the context alone).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Build {
    /// The build context: a directory (relative to the project directory).
    #[serde(default)]
    pub context: Option<String>,
    /// The Dockerfile, relative to the context (default `Dockerfile`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
    /// Build arguments (`None`: from the environment).
    #[serde(
        default,
        deserialize_with = "forms::key_values",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub args: KeyValues,
    /// The stage to build.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Labels on the image.
    #[serde(
        default,
        deserialize_with = "forms::labels",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
}

fn build<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Build>, D::Error> {
    struct BuildVisitor;
    impl<'de> Visitor<'de> for BuildVisitor {
        type Value = Option<Build>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(
                "a build context (a directory) or a mapping with context, dockerfile, args, target",
            )
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Build {
                context: Some(v.to_string()),
                ..Build::default()
            }))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            Build::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
        }
    }
    deserializer.deserialize_any(BuildVisitor)
}

/// One `env_file` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvFile {
    /// The file, relative to the project directory.
    pub path: String,
    /// `false`: a missing file is fine.
    #[serde(default = "yes")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

fn env_files<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<EnvFile>, D::Error> {
    struct Entry(EnvFile);
    impl<'de> Deserialize<'de> for Entry {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Entry, D::Error> {
            struct EntryVisitor;
            impl<'de> Visitor<'de> for EntryVisitor {
                type Value = Entry;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a file name or a mapping with path and required")
                }
                fn visit_str<E>(self, v: &str) -> Result<Entry, E> {
                    Ok(Entry(EnvFile {
                        path: v.to_string(),
                        required: true,
                    }))
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Entry, A::Error> {
                    EnvFile::deserialize(de::value::MapAccessDeserializer::new(map)).map(Entry)
                }
            }
            deserializer.deserialize_any(EntryVisitor)
        }
    }
    struct EnvFilesVisitor;
    impl<'de> Visitor<'de> for EnvFilesVisitor {
        type Value = Vec<EnvFile>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a file name or a list of them")
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(vec![EnvFile {
                path: v.to_string(),
                required: true,
            }])
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(Entry(file)) = seq.next_element()? {
                out.push(file);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_any(EnvFilesVisitor)
}

/// `extra_hosts: ["db.local:10.0.0.5"]`, `["db.local=10.0.0.5"]` or a mapping.
fn extra_hosts<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let entries = forms::key_values(deserializer)?;
    let mut out = BTreeMap::new();
    for (key, value) in entries {
        let (host, address) = match value {
            Some(address) => (key, address),
            None => match key.split_once(':') {
                Some((host, address)) => (host.to_string(), address.to_string()),
                None => {
                    return Err(de::Error::custom(format_args!(
                        "{key:?} is not HOST:ADDRESS or HOST=ADDRESS"
                    )));
                }
            },
        };
        out.insert(host, address);
    }
    Ok(out)
}

/// `extra_hosts` printed as compose prints it: `HOST=ADDRESS` lines.
fn host_lines<S: Serializer>(
    hosts: &BTreeMap<String, String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(
        hosts
            .iter()
            .map(|(host, address)| format!("{host}={address}")),
    )
}

/// `stop_signal`: a signal's name or number, checked as chapter 5 checks
/// STOPSIGNAL.
fn signal<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    struct Signal(String);
    impl<'de> Deserialize<'de> for Signal {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Signal, D::Error> {
            forms::from_text(deserializer, "a signal", |signal| {
                if ch05_images::dockerfile::values::valid_signal(signal) {
                    Ok(Signal(signal.to_string()))
                } else {
                    Err(format!(
                        "{signal:?} is not a signal: write SIGTERM, SIGINT, SIGQUIT... or a number"
                    ))
                }
            })
        }
    }
    Ok(Option::<Signal>::deserialize(deserializer)?.map(|s| s.0))
}

#[cfg(test)]
mod tests;
