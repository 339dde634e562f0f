//! Docker's seccomp profile format, as data.
//!
//! The file `docker run --security-opt seccomp=PROFILE.json` reads, and the
//! form our own default profile is written in. A profile is a default
//! action and a list of entries, each naming system calls and the action to
//! take for them, optionally only for some argument values, capabilities,
//! architectures or kernel versions:
//!
//! ```json
//! {
//!     "defaultAction": "SCMP_ACT_ERRNO",
//!     "defaultErrnoRet": 1,
//!     "syscalls": [
//!         { "names": ["read", "write"], "action": "SCMP_ACT_ALLOW" },
//!         { "names": ["personality"], "action": "SCMP_ACT_ALLOW",
//!           "args": [{ "index": 0, "value": 8, "op": "SCMP_CMP_EQ" }] },
//!         { "names": ["mount"], "action": "SCMP_ACT_ALLOW",
//!           "includes": { "caps": ["CAP_SYS_ADMIN"] } }
//!     ]
//! }
//! ```
//!
//! Unknown fields are refused rather than ignored: a misspelt `"arg"` that
//! silently allowed a call for every argument would be a hole nobody sees.

use serde::{Deserialize, Deserializer, Serialize};
use std::path::Path;

/// A whole profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Profile {
    /// What happens to a call no entry matches.
    pub default_action: Action,
    /// The errno of `SCMP_ACT_ERRNO` (or the message of `SCMP_ACT_TRACE`)
    /// as the default action; `EPERM` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    /// The architectures libseccomp would add to the filter (`SCMP_ARCH_X86`
    /// ...). We compile for the machine's own architecture only.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub architectures: Vec<String>,
    /// Docker's table of each architecture's sub-architectures; the same
    /// remark applies.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub arch_map: Vec<ArchMap>,
    /// `SECCOMP_FILTER_FLAG_*` names passed to `seccomp(2)`.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub flags: Vec<String>,
    /// The socket of a seccomp agent, for `SCMP_ACT_NOTIFY` (not supported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_metadata: Option<String>,
    /// The entries, in order: the first one that matches a call decides.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub syscalls: Vec<SyscallRule>,
}

/// An architecture and the others the same kernel runs (`archMap`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArchMap {
    pub architecture: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub sub_architectures: Vec<String>,
}

/// One entry: these calls get this action (under these conditions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyscallRule {
    /// The system calls, by name.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub names: Vec<String>,
    /// Older profiles name one call per entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub action: Action,
    /// The errno for `SCMP_ACT_ERRNO` (`EPERM` when absent), or the message
    /// for `SCMP_ACT_TRACE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    /// Conditions on the arguments; all must hold.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub args: Vec<ArgCondition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The entry applies only when all of these hold.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Conditions::is_empty"
    )]
    pub includes: Conditions,
    /// The entry does not apply when any of these holds.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Conditions::is_empty"
    )]
    pub excludes: Conditions,
}

impl SyscallRule {
    /// An entry giving `names` the action `action`, with no conditions.
    pub fn new(names: &[&str], action: Action) -> SyscallRule {
        SyscallRule {
            names: names.iter().map(|name| name.to_string()).collect(),
            name: None,
            action,
            errno_ret: None,
            args: Vec::new(),
            comment: None,
            includes: Conditions::default(),
            excludes: Conditions::default(),
        }
    }
}

/// When an entry applies: capabilities the container holds (all of them
/// for `includes`, any for `excludes`), architectures (Go's names:
/// `amd64`, `arm64`...), and a kernel version (`"4.8"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Conditions {
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub arches: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub caps: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<String>,
}

impl Conditions {
    pub fn is_empty(&self) -> bool {
        self.arches.is_empty() && self.caps.is_empty() && self.min_kernel.is_none()
    }
}

/// A comparison of one argument (`args[index]`, as a 64-bit number) with
/// `value`. For `SCMP_CMP_MASKED_EQ`, `value` is the mask and `valueTwo`
/// what the masked argument must equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArgCondition {
    pub index: u8,
    pub value: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub value_two: u64,
    pub op: Op,
}

/// The comparisons libseccomp offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = "SCMP_CMP_NE")]
    NotEqual,
    #[serde(rename = "SCMP_CMP_LT")]
    LessThan,
    #[serde(rename = "SCMP_CMP_LE")]
    LessOrEqual,
    #[serde(rename = "SCMP_CMP_EQ")]
    Equal,
    #[serde(rename = "SCMP_CMP_GE")]
    GreaterOrEqual,
    #[serde(rename = "SCMP_CMP_GT")]
    GreaterThan,
    #[serde(rename = "SCMP_CMP_MASKED_EQ")]
    MaskedEqual,
}

/// What the kernel does with a call, in the order of precedence it applies
/// when several filters disagree (the first wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Kill the whole process, as if by an uncatchable `SIGSYS`.
    #[serde(rename = "SCMP_ACT_KILL_PROCESS")]
    KillProcess,
    /// Kill the calling thread (libseccomp's `SCMP_ACT_KILL` means this).
    #[serde(rename = "SCMP_ACT_KILL", alias = "SCMP_ACT_KILL_THREAD")]
    KillThread,
    /// Send `SIGSYS`, which the process may handle.
    #[serde(rename = "SCMP_ACT_TRAP")]
    Trap,
    /// Fail the call with an errno, without running it.
    #[serde(rename = "SCMP_ACT_ERRNO")]
    Errno,
    /// Ask a seccomp agent, over a socket.
    #[serde(rename = "SCMP_ACT_NOTIFY")]
    Notify,
    /// Stop for a `ptrace` tracer.
    #[serde(rename = "SCMP_ACT_TRACE")]
    Trace,
    /// Allow, and log the call.
    #[serde(rename = "SCMP_ACT_LOG")]
    Log,
    #[serde(rename = "SCMP_ACT_ALLOW")]
    Allow,
}

/// Why a profile file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("reading seccomp profile {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("seccomp profile {path} is not a docker seccomp profile: {error}")]
    Parse {
        path: String,
        error: serde_json::Error,
    },
}

impl Profile {
    /// Reads a profile in docker's JSON format.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| ProfileError::Read {
            path: shown.clone(),
            error,
        })?;
        Profile::parse(&text).map_err(|error| ProfileError::Parse { path: shown, error })
    }

    /// Parses a profile in docker's JSON format.
    pub fn parse(text: &str) -> Result<Profile, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// Go writes an empty list as `null`: read it as empty.
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::CapSet;
    use crate::seccomp::{SeccompError, compile_profile};

    /// A profile in docker's style, with the forms Go writes (`null` lists,
    /// an empty `includes`), an older `name` entry and every kind of field.
    const GOOD: &str = r#"{
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "archMap": [{"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": null}],
        "flags": ["SECCOMP_FILTER_FLAG_LOG"],
        "syscalls": [
            {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW",
             "args": null, "includes": {}, "excludes": {}},
            {"name": "getpid", "action": "SCMP_ACT_ALLOW", "args": []},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
             "comment": "no namespaces", "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"], "minKernel": "4.8"}},
            {"names": ["chown32", "arm_fadvise64_64"], "action": "SCMP_ACT_ALLOW"}
        ]
    }"#;

    #[test]
    fn a_docker_profile_parses_and_compiles() {
        let profile = Profile::parse(GOOD).unwrap();
        assert_eq!(profile.default_action, Action::Errno);
        assert_eq!(profile.syscalls.len(), 5);
        assert_eq!(profile.syscalls[1].name.as_deref(), Some("getpid"));
        assert_eq!(profile.syscalls[2].args[0].op, Op::MaskedEqual);
        let filter = compile_profile(&profile, &CapSet::docker_default()).unwrap();
        assert_eq!(
            filter.allowed_syscalls(),
            5,
            "read write exit_group getpid clone"
        );
    }

    #[test]
    fn bad_json_says_where() {
        let error = Profile::parse(r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [}"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("line 1 column"), "{error}");
    }

    #[test]
    fn a_bad_file_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.json");
        std::fs::write(&path, "{\"defaultAction\": \n").unwrap();
        let error = Profile::load(&path).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!(
                "seccomp profile {} is not a docker seccomp profile",
                path.display()
            )),
            "{error}"
        );
        assert!(error.contains("line 2"), "{error}");
        let missing = Profile::load(&dir.path().join("missing.json")).unwrap_err();
        assert!(matches!(missing, ProfileError::Read { .. }), "{missing}");
    }

    #[test]
    fn an_unknown_action_is_refused_by_name() {
        let error = Profile::parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_PERMIT"}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("unknown variant `SCMP_ACT_PERMIT`"),
            "{error}"
        );
        assert!(
            error.contains("SCMP_ACT_ALLOW"),
            "the error lists the actions: {error}"
        );
    }

    #[test]
    fn an_unknown_field_is_refused_rather_than_ignored() {
        let error = Profile::parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                              "arg": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("unknown field `arg`"), "{error}");
    }

    #[test]
    fn an_unknown_syscall_name_is_skipped_and_reported() {
        let profile = Profile::parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [{"names": ["read", "no_such_call", "chown32"], "action": "SCMP_ACT_ALLOW"}]}"#,
        )
        .unwrap();
        let filter = compile_profile(&profile, &CapSet::default()).unwrap();
        assert_eq!(filter.unknown_syscalls(), ["no_such_call", "chown32"]);
        assert_eq!(filter.allowed_syscalls(), 1);
    }

    #[test]
    fn entries_that_cannot_be_compiled_are_refused() {
        let compile = |entry: &str| {
            let text = format!(r#"{{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{entry}]}}"#);
            compile_profile(&Profile::parse(&text).unwrap(), &CapSet::default()).unwrap_err()
        };
        assert!(matches!(
            compile(r#"{"name": "read", "names": ["write"], "action": "SCMP_ACT_ERRNO"}"#),
            SeccompError::NameAndNames
        ));
        assert!(matches!(
            compile(r#"{"names": [], "action": "SCMP_ACT_ERRNO"}"#),
            SeccompError::NoNames
        ));
        assert!(matches!(
            compile(r#"{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5000}"#),
            SeccompError::BadErrno(5000)
        ));
        assert!(matches!(
            compile(r#"{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}"#),
            SeccompError::Notify
        ));
        assert!(matches!(
            compile(
                r#"{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}"#
            ),
            SeccompError::BadArgIndex(6)
        ));
        let error = compile(
            r#"{"names": ["read"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_SYS_WIZARD"]}}"#,
        );
        assert!(error.to_string().contains("CAP_SYS_WIZARD"), "{error}");
    }
}
