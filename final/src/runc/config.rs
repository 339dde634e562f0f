//! The bundle's `config.json`: the OCI runtime specification's
//! configuration, as data.
//!
//! Only the fields skiff-runc acts on are typed. Everything else a
//! configuration holds lands in the `other` map of the object it belongs
//! to, and [`Config::unsupported`] lists those that ask for something
//! (anything but `null`, `0`, `false`, `""`, `[]` or `{}`): the runtime
//! refuses such a configuration by name instead of running a container
//! that differs from the one asked for. Callers send "nothing" in many
//! spellings (docker sends `"blockIO": {"weight": 0}`), so the rule is on
//! values, not on the presence of a key.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Fields that are not typed below, by name: the value each one has.
pub type Other = BTreeMap<String, Value>;

/// A whole `config.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    #[serde(default)]
    pub oci_version: String,
    pub root: Option<Root>,
    pub process: Option<Process>,
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub mounts: Vec<Mount>,
    #[serde(default)]
    pub hooks: Hooks,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub linux: Option<Linux>,
    #[serde(flatten)]
    pub other: Other,
}

/// `root`: the container's root filesystem, relative to the bundle.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Root {
    pub path: PathBuf,
    #[serde(default)]
    pub readonly: bool,
}

/// `process`: what runs (also the file `exec --process` reads).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Process {
    #[serde(default)]
    pub terminal: bool,
    pub console_size: Option<ConsoleSize>,
    #[serde(default)]
    pub user: User,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub cwd: String,
    pub capabilities: Option<Capabilities>,
    #[serde(default)]
    pub rlimits: Vec<Rlimit>,
    #[serde(default)]
    pub no_new_privileges: bool,
    pub oom_score_adj: Option<i32>,
    #[serde(flatten)]
    pub other: Other,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleSize {
    pub height: u16,
    pub width: u16,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(default)]
    pub uid: u32,
    #[serde(default)]
    pub gid: u32,
    pub umask: Option<u32>,
    #[serde(default)]
    pub additional_gids: Vec<u32>,
    #[serde(flatten)]
    pub other: Other,
}

/// The five capability sets, by name (`CAP_KILL`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Capabilities {
    pub bounding: Vec<String>,
    pub effective: Vec<String>,
    pub inheritable: Vec<String>,
    pub permitted: Vec<String>,
    pub ambient: Vec<String>,
}

/// One `setrlimit`: `RLIMIT_NOFILE`, hard and soft.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rlimit {
    #[serde(rename = "type")]
    pub kind: String,
    pub hard: u64,
    pub soft: u64,
}

/// One entry of `mounts`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mount {
    pub destination: PathBuf,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub source: PathBuf,
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(flatten)]
    pub other: Other,
}

/// `hooks`: programs the runtime runs at given moments of the lifecycle.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Hooks {
    pub prestart: Vec<Hook>,
    pub create_runtime: Vec<Hook>,
    pub create_container: Vec<Hook>,
    pub start_container: Vec<Hook>,
    pub poststart: Vec<Hook>,
    pub poststop: Vec<Hook>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    pub path: PathBuf,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    /// Seconds before the hook is killed and counted as failed.
    pub timeout: Option<u64>,
}

/// `linux`: the Linux-specific part.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Linux {
    #[serde(default)]
    pub namespaces: Vec<Namespace>,
    #[serde(default)]
    pub uid_mappings: Vec<IdMapping>,
    #[serde(default)]
    pub gid_mappings: Vec<IdMapping>,
    #[serde(default)]
    pub devices: Vec<Device>,
    pub cgroups_path: Option<String>,
    pub resources: Option<Resources>,
    pub seccomp: Option<Value>,
    #[serde(default)]
    pub sysctl: BTreeMap<String, String>,
    pub masked_paths: Option<Vec<PathBuf>>,
    pub readonly_paths: Option<Vec<PathBuf>>,
    pub rootfs_propagation: Option<String>,
    #[serde(flatten)]
    pub other: Other,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Namespace {
    #[serde(rename = "type")]
    pub kind: String,
    pub path: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdMapping {
    #[serde(rename = "containerID")]
    pub container_id: u32,
    #[serde(rename = "hostID")]
    pub host_id: u32,
    pub size: u32,
}

/// A device node to make in the container's `/dev`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    #[serde(rename = "type")]
    pub kind: String,
    pub path: PathBuf,
    #[serde(default)]
    pub major: i64,
    #[serde(default)]
    pub minor: i64,
    #[serde(flatten)]
    pub other: Other,
}

/// `linux.resources`: what chapter 3 limits.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    #[serde(default)]
    pub devices: Vec<DeviceCgroup>,
    pub memory: Option<Memory>,
    pub cpu: Option<Cpu>,
    pub pids: Option<Pids>,
    #[serde(flatten)]
    pub other: Other,
}

/// One rule of the device cgroup: allow or deny, a type (`c`, `b` or `a`
/// for all), numbers (absent: any) and an access (`rwm`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeviceCgroup {
    #[serde(default)]
    pub allow: bool,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    pub limit: Option<i64>,
    pub swap: Option<i64>,
    #[serde(flatten)]
    pub other: Other,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cpu {
    pub shares: Option<u64>,
    pub quota: Option<i64>,
    pub period: Option<u64>,
    pub cpus: Option<String>,
    #[serde(flatten)]
    pub other: Other,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Pids {
    pub limit: i64,
}

/// Why a configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not an OCI runtime configuration: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
}

impl Config {
    /// Reads `<bundle>/config.json`.
    pub fn load(bundle: &Path) -> Result<Config, ConfigError> {
        read_json(&bundle.join("config.json"))
    }

    /// The fields that ask for something this runtime does not do, as
    /// `linux.resources.blockIO.weight = 500` (empty when there are none).
    pub fn unsupported(&self) -> Vec<String> {
        let mut found = Vec::new();
        collect(&mut found, "", &self.other);
        if let Some(process) = &self.process {
            process.unsupported_into(&mut found, "process.");
        }
        for mount in &self.mounts {
            let at = format!("mounts[{}].", mount.destination.display());
            collect(&mut found, &at, &mount.other);
        }
        if let Some(linux) = &self.linux {
            collect(&mut found, "linux.", &linux.other);
            for device in &linux.devices {
                collect(&mut found, "linux.devices[].", &device.other);
            }
            if let Some(resources) = &linux.resources {
                collect(&mut found, "linux.resources.", &resources.other);
                if let Some(memory) = &resources.memory {
                    collect(&mut found, "linux.resources.memory.", &memory.other);
                }
                if let Some(cpu) = &resources.cpu {
                    collect(&mut found, "linux.resources.cpu.", &cpu.other);
                }
            }
        }
        found
    }
}

impl Process {
    /// Reads a process file (`exec --process`).
    pub fn load(path: &Path) -> Result<Process, ConfigError> {
        read_json(path)
    }

    /// See [`Config::unsupported`].
    pub fn unsupported_into(&self, found: &mut Vec<String>, prefix: &str) {
        collect(found, prefix, &self.other);
        collect(found, &format!("{prefix}user."), &self.user.other);
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&text).map_err(|source| ConfigError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

fn collect(found: &mut Vec<String>, prefix: &str, other: &Other) {
    for (key, value) in other {
        if !is_unset(value) {
            found.push(format!("{prefix}{key} = {value}"));
        }
    }
}

/// Whether `value` asks for nothing: `null`, `0`, `false`, an empty string,
/// list or object, or an object whose every value asks for nothing.
///
/// ```
/// use serde_json::json;
/// use skiff::runc::config::is_unset;
/// assert!(is_unset(&json!({"weight": 0, "weightDevice": null})));
/// assert!(!is_unset(&json!({"weight": 500})));
/// ```
pub fn is_unset(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.values().all(is_unset),
    }
}

/// The configuration `skiff-runc spec` writes, as `runc spec` does: `sh`
/// on a read-only `rootfs`, in new namespaces, with runc's three
/// capabilities, docker's masked and read-only paths, and every device
/// denied but chapter 3's defaults. Tests build their bundles from it.
pub fn default_config() -> Value {
    let caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
    serde_json::json!({
        "ociVersion": crate::runc::OCI_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [
                format!("PATH={}", ch01_process::spawn::DEFAULT_PATH),
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": caps,
                "effective": caps,
                "permitted": caps,
                "ambient": caps
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": ch02_namespaces::mounts::MASKED_PATHS,
            "readonlyPaths": ch02_namespaces::mounts::READONLY_PATHS
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_configuration_asks_for_nothing_unsupported() {
        let config: Config = serde_json::from_value(default_config()).unwrap();
        assert_eq!(config.unsupported(), Vec::<String>::new());
        assert_eq!(config.process.unwrap().args, ["sh"]);
    }

    #[test]
    fn unknown_fields_that_ask_for_something_are_named() {
        let mut value = default_config();
        value["linux"]["resources"]["blockIO"] = serde_json::json!({"weight": 500});
        value["linux"]["resources"]["hugepageLimits"] = serde_json::json!([]);
        value["process"]["apparmorProfile"] = serde_json::json!("docker-default");
        value["process"]["selinuxLabel"] = serde_json::json!("");
        let config: Config = serde_json::from_value(value).unwrap();
        assert_eq!(
            config.unsupported(),
            [
                "process.apparmorProfile = \"docker-default\"",
                "linux.resources.blockIO = {\"weight\":500}"
            ]
        );
    }
}
