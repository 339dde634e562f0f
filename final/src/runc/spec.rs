//! From an OCI configuration to the chapters' run spec.
//!
//! Each part of `config.json` goes to the chapter that already knows how
//! to do it: the process to chapter 1, namespaces, capabilities, masked
//! paths and seccomp to chapter 2, resources, devices and the cgroup's
//! place to chapter 3, bind and tmpfs mounts to chapter 4's volumes. What
//! is left (hooks, rlimits, sysctls, the exec fifo) is the runtime's own
//! section, [`Section`], carried out by [`crate::runc::step`].
//!
//! Where the chapters cannot express what the configuration asks, the
//! conversion fails and says which field: a runtime that ran the container
//! anyway, without a limit or a hook it was given, would lie to its caller.

use super::config::{Config, ConsoleSize, Hooks, Mount as OciMount, Process, Rlimit};
use ch01_process::ProcessSpec;
use ch02_namespaces::caps::{CapSet, CapSets};
use ch02_namespaces::namespaces::{Inherited, Isolation, NetworkMode, PidMode};
use ch02_namespaces::seccomp::{Profile, SeccompMode};
use ch02_namespaces::spec::Filesystem;
use ch02_namespaces::userns::{DEFAULT_MAP, IdMap};
use ch02_namespaces::{RunSpec, Spec as ContainerSpec};
use ch03_cgroups::devices::{Access, DeviceKind, DeviceRule};
use ch03_cgroups::spec::{Placement, Spec as LimitedSpec};
use ch03_cgroups::{DEFAULT_RULES, Limits};
use ch04_overlayfs::spec::{Spec as StorageSpec, Storage};
use ch04_overlayfs::volumes::{Mount, VolumeSource, bind_restrictions};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

// ANCHOR: spec
/// A container of skiff-runc: chapter 4's spec (with no layers: the root
/// is the bundle's directory) and the runtime's own section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    #[serde(flatten)]
    pub base: StorageSpec,
    #[serde(default)]
    pub runc: Section,
}

/// What the OCI configuration asks that the chapters leave to a runtime.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Section {
    /// The container's id as the caller gave it (also the chapters' name).
    pub id: String,
    /// The bundle's directory.
    pub bundle: PathBuf,
    pub annotations: BTreeMap<String, String>,
    pub hooks: Hooks,
    pub rlimits: Vec<Rlimit>,
    pub oom_score_adj: Option<i32>,
    pub umask: Option<u32>,
    /// `net.ipv4.ip_forward = 1`, written in the container's /proc/sys.
    pub sysctl: BTreeMap<String, String>,
    /// Where the container sees its own cgroups (a `cgroup` mount).
    pub cgroup_view: Option<CgroupView>,
    /// Namespaces to join, by path, before the container is started.
    pub join: Vec<Join>,
    pub console_size: Option<ConsoleSize>,
    /// Join a new session keyring, named after the container (runc does,
    /// unless `--no-new-keyring`): keys are not namespaced, and without it
    /// the container would share its caller's.
    pub new_keyring: bool,
}
// ANCHOR_END: spec

/// A `cgroup` mount: the container's own cgroup directories, bound there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupView {
    pub target: PathBuf,
    pub read_only: bool,
}

/// A namespace the container enters instead of getting a new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Join {
    /// `network`, `ipc`, `uts`, `pid` or `cgroup`.
    pub kind: String,
    pub path: PathBuf,
}

impl Deref for Spec {
    type Target = StorageSpec;
    fn deref(&self) -> &StorageSpec {
        &self.base
    }
}

impl DerefMut for Spec {
    fn deref_mut(&mut self) -> &mut StorageSpec {
        &mut self.base
    }
}

impl RunSpec for Spec {
    fn container(&self) -> &ContainerSpec {
        self.base.container()
    }

    fn container_mut(&mut self) -> &mut ContainerSpec {
        self.base.container_mut()
    }
}

/// Why a configuration cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("config.json asks for what skiff-runc cannot do: {}", .0.join("; "))]
    Unsupported(Vec<String>),
    #[error("config.json: {0}")]
    Invalid(String),
    #[error(
        "invalid container id {0:?}: use letters, digits, '_', '.' and '-', starting with a letter or digit"
    )]
    InvalidId(String),
}

fn invalid(message: impl Into<String>) -> SpecError {
    SpecError::Invalid(message.into())
}

fn unsupported(message: impl Into<String>) -> SpecError {
    SpecError::Unsupported(vec![message.into()])
}

/// The chapters' id of the container the caller calls `id`: the SHA-256
/// of it, so that a record is found from the caller's id alone, and no
/// prefix of another container's id can be mistaken for it.
pub fn internal_id(id: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks a caller's container id: the chapters use it as a name.
pub fn check_id(id: &str) -> Result<(), SpecError> {
    if id.len() <= 1024 && ch02_namespaces::names::is_valid(id) {
        Ok(())
    } else {
        Err(SpecError::InvalidId(id.to_string()))
    }
}

// ANCHOR: to_spec
/// The run spec of `config` from bundle `bundle`, for container `id`;
/// with the seccomp profile to write at `seccomp_file`, if it has one.
pub fn to_spec(
    config: &Config,
    id: &str,
    bundle: &Path,
    seccomp_file: &Path,
) -> Result<(Spec, Option<Profile>), SpecError> {
    check_id(id)?;
    let unknown = config.unsupported();
    if !unknown.is_empty() {
        return Err(SpecError::Unsupported(unknown));
    }
    if !config.oci_version.starts_with("1.") {
        return Err(invalid(format!(
            "ociVersion {:?} is not a 1.x version of the runtime specification",
            config.oci_version
        )));
    }
    let root = config
        .root
        .as_ref()
        .ok_or_else(|| invalid("no root: give root.path, the container's root filesystem"))?;
    let rootfs = bundle.join(&root.path);
    let rootfs = std::fs::canonicalize(&rootfs)
        .map_err(|e| invalid(format!("root.path {}: {e}", rootfs.display())))?;
    let process = config
        .process
        .as_ref()
        .ok_or_else(|| invalid("no process: give process.args, the command to run"))?;
    let linux = config.linux.clone().unwrap_or_default();

    let (isolation, id_map, join) = namespaces(&linux)?;
    if isolation.inherit.uts && !config.hostname.is_empty() {
        return Err(invalid(
            "hostname is set, but the container has no UTS namespace of its own to set it in",
        ));
    }
    let (caps, cap_sets) = capabilities(process)?;
    let mut storage = Storage::default();
    let mut cgroup_view = None;
    for mount in &config.mounts {
        match mount_of(mount, bundle)? {
            Placed::ByChapter2 => {}
            Placed::Volume(volume) => storage.mounts.push(volume),
            Placed::CgroupView(view) => cgroup_view = Some(view),
        }
    }
    for device in &linux.devices {
        storage.mounts.push(device_node(device)?);
    }
    let (limits, devices) = resources(&linux)?;
    let cgroup = Placement {
        path: linux.cgroups_path.as_deref().map(cgroup_path).transpose()?,
        devices: Some(devices),
    };
    let (seccomp, profile) = match &linux.seccomp {
        None => (SeccompMode::Unconfined, None),
        Some(value) => {
            let profile: Profile = serde_json::from_value(value.clone())
                .map_err(|e| invalid(format!("linux.seccomp: {e}")))?;
            (
                SeccompMode::Profile(seccomp_file.to_path_buf()),
                Some(profile),
            )
        }
    };
    match linux.rootfs_propagation.as_deref() {
        None | Some("" | "private" | "rprivate") => {}
        Some(other) => {
            return Err(unsupported(format!(
                "linux.rootfsPropagation = {other:?} (the root's mounts are always private)"
            )));
        }
    }
    check_sysctls(&linux.sysctl, &isolation)?;

    let container = ContainerSpec {
        id: internal_id(id),
        name: id.to_string(),
        hostname: config.hostname.clone(),
        rootfs,
        process: process_spec(process)?,
        isolation,
        caps,
        cap_sets,
        no_new_privileges: process.no_new_privileges,
        seccomp,
        id_map,
        stop_timeout: None,
        auto_remove: false,
        init: false,
        filesystem: Filesystem {
            read_only: root.readonly,
            masked_paths: linux.masked_paths.clone().unwrap_or_default(),
            readonly_paths: linux.readonly_paths.clone().unwrap_or_default(),
        },
    };
    let spec = Spec {
        base: StorageSpec {
            limited: LimitedSpec {
                container,
                limits,
                cgroup,
            },
            storage,
        },
        runc: Section {
            id: id.to_string(),
            bundle: bundle.to_path_buf(),
            annotations: config.annotations.clone(),
            hooks: config.hooks.clone(),
            rlimits: rlimits(&process.rlimits)?,
            oom_score_adj: process.oom_score_adj,
            umask: process.user.umask,
            sysctl: linux.sysctl.clone(),
            cgroup_view,
            join,
            console_size: process.console_size,
            new_keyring: false,
        },
    };
    Ok((spec, profile))
}
// ANCHOR_END: to_spec

/// The process: argv, environment, directory, user and groups, terminal.
pub fn process_spec(process: &Process) -> Result<ProcessSpec, SpecError> {
    if process.args.is_empty() {
        return Err(invalid("process.args is empty: give the command to run"));
    }
    if !process.cwd.starts_with('/') {
        return Err(invalid(format!(
            "process.cwd {:?} must be an absolute path",
            process.cwd
        )));
    }
    Ok(ProcessSpec {
        argv: process.args.clone(),
        env: process.env.clone(),
        cwd: Some(PathBuf::from(&process.cwd)),
        user: Some(format!("{}:{}", process.user.uid, process.user.gid)),
        terminal: process.terminal,
        additional_gids: process.user.additional_gids.clone(),
    })
}

// ANCHOR: namespaces
/// `linux.namespaces`: a listed namespace is new, or joined when it has a
/// path; one not listed is the runtime's own (the spec's rule).
fn namespaces(linux: &super::config::Linux) -> Result<(Isolation, IdMap, Vec<Join>), SpecError> {
    let mut listed: BTreeMap<&str, Option<&PathBuf>> = BTreeMap::new();
    for ns in &linux.namespaces {
        if listed.insert(ns.kind.as_str(), ns.path.as_ref()).is_some() {
            return Err(invalid(format!(
                "the {} namespace is listed twice",
                ns.kind
            )));
        }
    }
    let mut join = Vec::new();
    let mut new = |kind: &str| -> Result<bool, SpecError> {
        match listed.remove(kind) {
            None => Ok(false),
            Some(None) => Ok(true),
            Some(Some(path)) => match kind {
                "network" | "ipc" | "uts" | "pid" | "cgroup" => {
                    join.push(Join {
                        kind: kind.to_string(),
                        path: path.clone(),
                    });
                    Ok(false)
                }
                _ => Err(unsupported(format!(
                    "joining the {kind} namespace at {} (only network, ipc, uts, pid and cgroup namespaces can be joined)",
                    path.display()
                ))),
            },
        }
    };
    if !new("mount")? {
        return Err(unsupported(
            "a container without a mount namespace of its own (list {\"type\": \"mount\"})",
        ));
    }
    let network = if new("network")? {
        NetworkMode::None
    } else {
        NetworkMode::Host
    };
    let pid = if new("pid")? {
        PidMode::Private
    } else {
        PidMode::Host
    };
    let inherit = Inherited {
        ipc: !new("ipc")?,
        uts: !new("uts")?,
        cgroup: !new("cgroup")?,
    };
    let userns = new("user")?;
    if let Some(kind) = listed.keys().next() {
        return Err(unsupported(format!("a {kind} namespace")));
    }
    let id_map = if userns {
        id_map(linux)?
    } else {
        if !linux.uid_mappings.is_empty() || !linux.gid_mappings.is_empty() {
            return Err(invalid(
                "uidMappings and gidMappings need a user namespace: list {\"type\": \"user\"}",
            ));
        }
        DEFAULT_MAP
    };
    let isolation = Isolation {
        network,
        pid,
        userns,
        inherit,
    };
    Ok((isolation, id_map, join))
}
// ANCHOR_END: namespaces

/// Chapter 2 maps one range, the same for users and groups.
fn id_map(linux: &super::config::Linux) -> Result<IdMap, SpecError> {
    match (&linux.uid_mappings[..], &linux.gid_mappings[..]) {
        ([u], [g])
            if u.container_id == g.container_id && u.host_id == g.host_id && u.size == g.size =>
        {
            Ok(IdMap {
                inside: u.container_id,
                outside: u.host_id,
                count: u.size,
            })
        }
        ([], _) | (_, []) => Err(invalid(
            "a user namespace needs uidMappings and gidMappings",
        )),
        _ => Err(unsupported(
            "uidMappings and gidMappings other than one range, the same for both",
        )),
    }
}

/// `process.capabilities`: chapter 2's one set when bounding, effective
/// and permitted agree and nothing is inheritable or ambient (docker's
/// shape), else the five sets as given.
pub fn capabilities(process: &Process) -> Result<(CapSet, Option<CapSets>), SpecError> {
    let given = process.capabilities.clone().unwrap_or_default();
    let set = |names: &[String]| -> Result<CapSet, SpecError> {
        CapSet::default()
            .with_changes(names, &[])
            .map_err(|e| invalid(format!("process.capabilities: {e}")))
    };
    let mut sets = CapSets {
        bounding: set(&given.bounding)?,
        effective: set(&given.effective)?,
        permitted: set(&given.permitted)?,
        inheritable: set(&given.inheritable)?,
        ambient: set(&given.ambient)?,
    };
    // The kernel only lets a capability into the ambient set when it is
    // permitted and inheritable. `runc spec`'s own configuration lists
    // ambient capabilities that are not inheritable, and runc warns and
    // goes on; so do we, for root, whose capabilities at `execve` come
    // from the bounding set whatever the ambient set holds. Another user
    // would run with fewer capabilities than asked: that is refused.
    let possible = sets.permitted.mask() & sets.inheritable.mask();
    if sets.ambient.mask() & !possible != 0 {
        if process.user.uid != 0 {
            return Err(invalid(
                "process.capabilities.ambient holds capabilities that are not both permitted and inheritable, which the kernel refuses",
            ));
        }
        super::log::warn(
            "can't raise ambient capabilities that are not inheritable: for root they change nothing",
        );
        sets.ambient = CapSet::from_mask(sets.ambient.mask() & possible);
    }
    let bounding = sets.bounding.clone();
    if sets == CapSets::uniform(&bounding) {
        Ok((bounding, None))
    } else {
        Ok((bounding, Some(sets)))
    }
}

/// Where one of `mounts` goes.
enum Placed {
    /// Chapter 2 mounts it itself, as docker would.
    ByChapter2,
    Volume(Mount),
    CgroupView(CgroupView),
}

// ANCHOR: mounts
/// Sorts one mount: the kernel filesystems chapter 2 mounts anyway
/// (`/proc`, `/dev`, `/dev/pts`, `/dev/mqueue`, `/sys`), a `cgroup`
/// mount (the container's cgroups, see [`CgroupView`]), and binds and
/// tmpfs mounts, which become chapter 4's volumes.
fn mount_of(mount: &OciMount, bundle: &Path) -> Result<Placed, SpecError> {
    let target = &mount.destination;
    if !target.is_absolute() {
        return Err(invalid(format!(
            "mount destination {} must be absolute",
            target.display()
        )));
    }
    let is_bind = mount.kind == "bind" || mount.options.iter().any(|o| o == "bind" || o == "rbind");
    let at = |path: &str| target == Path::new(path);
    let read_only = mount.options.iter().any(|o| o == "ro");
    match mount.kind.as_str() {
        _ if is_bind => {
            let source = if mount.source.is_absolute() {
                mount.source.clone()
            } else {
                bundle.join(&mount.source)
            };
            if !source.exists() {
                return Err(invalid(format!(
                    "the source of the bind mount on {}, {}, does not exist",
                    target.display(),
                    source.display()
                )));
            }
            let options: Vec<&str> = mount
                .options
                .iter()
                .map(String::as_str)
                .filter(|o| *o != "ro")
                .collect();
            let options = options.join(",");
            bind_restrictions(Some(&options))
                .map_err(|e| unsupported(format!("mount on {}: {e}", target.display())))?;
            Ok(Placed::Volume(Mount {
                source: VolumeSource::Bind(source),
                target: target.clone(),
                read_only,
                options: Some(options).filter(|o| !o.is_empty()),
            }))
        }
        "proc" if at("/proc") => Ok(Placed::ByChapter2),
        "tmpfs" if at("/dev") => Ok(Placed::ByChapter2),
        "devpts" if at("/dev/pts") => Ok(Placed::ByChapter2),
        "mqueue" if at("/dev/mqueue") => Ok(Placed::ByChapter2),
        "sysfs" if at("/sys") => Ok(Placed::ByChapter2),
        "cgroup" | "cgroup2" => Ok(Placed::CgroupView(CgroupView {
            target: target.clone(),
            read_only,
        })),
        "tmpfs" => Ok(Placed::Volume(tmpfs(mount, read_only)?)),
        other => Err(unsupported(format!(
            "a mount of type {other:?} on {}",
            target.display()
        ))),
    }
}
// ANCHOR_END: mounts

/// A tmpfs mount as a chapter 4 tmpfs volume: always nosuid and nodev,
/// noexec unless the options leave it out. The atime options are left to
/// the kernel's default (relatime), which only changes when atime is
/// written in memory.
fn tmpfs(mount: &OciMount, read_only: bool) -> Result<Mount, SpecError> {
    let mut data = Vec::new();
    let mut noexec = false;
    for option in &mount.options {
        match option.as_str() {
            "noexec" => noexec = true,
            "exec" => noexec = false,
            "nosuid" | "nodev" | "ro" | "rw" | "relatime" | "strictatime" | "noatime" => {}
            "suid" | "dev" => {
                return Err(unsupported(format!(
                    "a tmpfs on {} with {option} (tmpfs mounts are always nosuid and nodev)",
                    mount.destination.display()
                )));
            }
            data_option => data.push(data_option.to_string()),
        }
    }
    if !noexec {
        data.push("exec".into());
    }
    Ok(Mount {
        source: VolumeSource::Tmpfs,
        target: mount.destination.clone(),
        read_only,
        options: Some(data.join(",")).filter(|o| !o.is_empty()),
    })
}

/// A device node of `linux.devices`: the host's node of the same type and
/// numbers, bound at its path (creating nodes is refused in a user
/// namespace; binding is not, and it is what chapter 2 does for /dev/null).
fn device_node(device: &super::config::Device) -> Result<Mount, SpecError> {
    let host = &device.path;
    let meta = std::fs::metadata(host).map_err(|e| {
        unsupported(format!(
            "device {}: there is no such node on the host to bind ({e})",
            host.display()
        ))
    })?;
    let kind_ok = match device.kind.as_str() {
        "c" | "u" => meta.file_type().is_char_device(),
        "b" => meta.file_type().is_block_device(),
        _ => false,
    };
    let rdev = meta.rdev();
    let (major, minor) = (libc::major(rdev) as i64, libc::minor(rdev) as i64);
    if !kind_ok || major != device.major || minor != device.minor {
        return Err(unsupported(format!(
            "device {} {}:{} ({} is {major}:{minor} on the host, and a node is only bound from the host)",
            device.kind,
            device.major,
            device.minor,
            host.display()
        )));
    }
    Ok(Mount {
        source: VolumeSource::Bind(host.clone()),
        target: host.clone(),
        read_only: false,
        options: None,
    })
}

// ANCHOR: resources
/// `linux.resources`: chapter 3's limits, and its device allow-list.
fn resources(linux: &super::config::Linux) -> Result<(Limits, Vec<DeviceRule>), SpecError> {
    let resources = linux.resources.clone().unwrap_or_default();
    let mut limits = Limits::default();
    if let Some(memory) = &resources.memory {
        limits.memory = memory.limit.filter(|l| *l > 0).map(|l| l as u64);
        limits.memory_swap = memory.swap.filter(|s| *s != 0);
    }
    if let Some(cpu) = &resources.cpu {
        limits.cpu_shares = cpu.shares.filter(|s| *s > 0);
        if let Some(quota) = cpu.quota.filter(|q| *q > 0) {
            let period = cpu
                .period
                .filter(|p| *p > 0)
                .unwrap_or(ch03_cgroups::CPU_PERIOD_US);
            if period != ch03_cgroups::CPU_PERIOD_US {
                return Err(unsupported(format!(
                    "linux.resources.cpu.period = {period} (chapter 3 uses the kernel's default period, {} µs)",
                    ch03_cgroups::CPU_PERIOD_US
                )));
            }
            limits.cpus = Some(quota as f64 / period as f64);
        }
        limits.cpuset_cpus = cpu.cpus.clone().filter(|c| !c.is_empty());
    }
    if let Some(pids) = &resources.pids {
        limits.pids_limit = Some(pids.limit).filter(|l| *l > 0);
    }
    Ok((limits, device_rules(&resources.devices)?))
}
// ANCHOR_END: resources

/// The OCI device list (allow and deny rules, in order, the last match
/// deciding) as chapter 3's allow-list. A list that starts by denying
/// everything is an allow-list already; one that does not starts from
/// "everything allowed". A deny rule can only take back an allow rule
/// given earlier, word for word: chapter 3 has no way to say "all but".
/// runc's always-allowed devices (chapter 3's defaults) come last, as
/// runc adds them.
pub fn device_rules(devices: &[super::config::DeviceCgroup]) -> Result<Vec<DeviceRule>, SpecError> {
    let mut rules: Vec<DeviceRule> = vec![
        DeviceRule::char(None, None, Access::ALL),
        DeviceRule::block(None, None, Access::ALL),
    ];
    for (i, device) in devices.iter().enumerate() {
        let kind = device.kind.as_deref().unwrap_or("a");
        let access = device.access.as_deref().unwrap_or("rwm");
        let number = |n: Option<i64>| n.filter(|n| *n >= 0).map(|n| n as u32);
        let kinds = match kind {
            "a" => vec![DeviceKind::Char, DeviceKind::Block],
            "c" => vec![DeviceKind::Char],
            "b" => vec![DeviceKind::Block],
            other => {
                return Err(invalid(format!(
                    "linux.resources.devices[{i}]: type {other:?} is not a, c or b"
                )));
            }
        };
        let everything = kind == "a"
            && number(device.major).is_none()
            && number(device.minor).is_none()
            && access == "rwm";
        if !device.allow && everything {
            rules.clear();
            continue;
        }
        for kind in kinds {
            let letter = if kind == DeviceKind::Char { 'c' } else { 'b' };
            let text = format!(
                "{letter} {}:{} {access}",
                number(device.major).map_or("*".into(), |n| n.to_string()),
                number(device.minor).map_or("*".into(), |n| n.to_string())
            );
            let rule: DeviceRule = text
                .parse()
                .map_err(|e| invalid(format!("linux.resources.devices[{i}]: {e}")))?;
            if device.allow {
                rules.push(rule);
                continue;
            }
            rules.retain(|r| *r != rule);
            // What is still allowed of the denied devices must be at most
            // `m`: creating a node is harmless when opening it is refused
            // (chapter 3's own rule, and why docker's list allows `c *:* m`
            // before it denies /dev/fuse).
            let overlaps = |a: Option<u32>, b: Option<u32>| a.is_none() || b.is_none() || a == b;
            let opens = Access::READ | Access::WRITE;
            let still_open = rules.iter().any(|r| {
                r.kind == rule.kind
                    && overlaps(r.major, rule.major)
                    && overlaps(r.minor, rule.minor)
                    && (r.access.contains(Access::READ) || r.access.contains(Access::WRITE))
                    && rule.access.bits() & opens.bits() != 0
            });
            if still_open {
                return Err(unsupported(format!(
                    "linux.resources.devices[{i}]: denying {rule} after allowing more (chapter 3 keeps an allow-list: deny everything first, then allow)"
                )));
            }
        }
    }
    for rule in DEFAULT_RULES {
        if !rules.contains(rule) {
            rules.push(*rule);
        }
    }
    Ok(rules)
}

/// `linux.cgroupsPath`: runc's `/a/b` (below each hierarchy's root), a
/// relative `a/b` (the spec lets the runtime choose where: the same
/// place), or systemd's `slice:prefix:name`, which names
/// `slice/prefix-name.scope` (a slice `a-b.slice` is `a.slice/a-b.slice`).
pub fn cgroup_path(text: &str) -> Result<PathBuf, SpecError> {
    let bad = || {
        invalid(format!(
            "linux.cgroupsPath {text:?} is not a path like /docker/ID, nor slice:prefix:name"
        ))
    };
    let path = if !text.starts_with('/') && text.matches(':').count() == 2 {
        let mut parts = text.splitn(3, ':');
        let (slice, prefix, name) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        if name.is_empty() || name.contains('/') || prefix.contains('/') || slice.contains('/') {
            return Err(bad());
        }
        let mut path = PathBuf::new();
        let slice = if slice.is_empty() {
            "system.slice"
        } else {
            slice
        };
        let stem = slice.strip_suffix(".slice").ok_or_else(bad)?;
        let mut so_far = String::new();
        for part in stem.split('-') {
            if !so_far.is_empty() {
                so_far.push('-');
            }
            so_far.push_str(part);
            path.push(format!("{so_far}.slice"));
        }
        let scope = if prefix.is_empty() {
            format!("{name}.scope")
        } else {
            format!("{prefix}-{name}.scope")
        };
        path.push(scope);
        path
    } else {
        PathBuf::from(text.trim_start_matches('/'))
    };
    let clean = path.components().all(|c| matches!(c, Component::Normal(_)));
    if !clean || path.as_os_str().is_empty() {
        return Err(bad());
    }
    Ok(path)
}

/// `process.rlimits`: known names, soft at most hard.
fn rlimits(given: &[Rlimit]) -> Result<Vec<Rlimit>, SpecError> {
    for limit in given {
        if super::step::rlimit_resource(&limit.kind).is_none() {
            return Err(invalid(format!(
                "process.rlimits: unknown limit {:?}",
                limit.kind
            )));
        }
        if limit.soft > limit.hard {
            return Err(invalid(format!(
                "process.rlimits: {} has a soft limit above its hard limit",
                limit.kind
            )));
        }
    }
    Ok(given.to_vec())
}

/// Sysctls are written in the container's `/proc/sys`, and only those
/// that belong to a namespace the container has of its own (runc's rule):
/// any other would change the host.
fn check_sysctls(
    sysctl: &BTreeMap<String, String>,
    isolation: &Isolation,
) -> Result<(), SpecError> {
    const IPC: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    for key in sysctl.keys() {
        let clean = !key.is_empty()
            && key
                .split(['.', '/'])
                .all(|part| !part.is_empty() && part != ".." && part != ".");
        let own = if !clean {
            false
        } else if key.starts_with("net.") {
            isolation.network == NetworkMode::None
        } else if IPC.contains(&key.as_str()) || key.starts_with("fs.mqueue.") {
            !isolation.inherit.ipc
        } else if key == "kernel.hostname" || key == "kernel.domainname" {
            !isolation.inherit.uts
        } else {
            false
        };
        if !own {
            return Err(unsupported(format!(
                "sysctl {key} (only those of the container's own network, IPC or UTS namespace)"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runc::config::DeviceCgroup;

    #[test]
    fn cgroup_paths_in_runc_and_systemd_forms() {
        let path = |t| cgroup_path(t).unwrap();
        assert_eq!(path("/docker/abc"), Path::new("docker/abc"));
        assert_eq!(path("default/ctr"), Path::new("default/ctr"));
        assert_eq!(
            path("system.slice:docker:abc"),
            Path::new("system.slice/docker-abc.scope")
        );
        assert_eq!(
            path("machine-test.slice:libpod:x"),
            Path::new("machine.slice/machine-test.slice/libpod-x.scope")
        );
        assert!(cgroup_path("/../etc").is_err());
        assert!(cgroup_path("/").is_err());
    }

    #[test]
    fn deny_all_then_allow_is_chapter_3s_allow_list() {
        let rule = |allow, kind: &str, major, minor, access: &str| DeviceCgroup {
            allow,
            kind: Some(kind.to_string()).filter(|k| !k.is_empty()),
            major,
            minor,
            access: Some(access.to_string()),
        };
        let rules = device_rules(&[
            rule(false, "", None, None, "rwm"),
            rule(true, "c", Some(10), Some(229), "rw"),
        ])
        .unwrap();
        let text: Vec<String> = rules.iter().map(|r| r.to_string()).collect();
        assert_eq!(text[0], "c 10:229 rw");
        assert_eq!(text.len(), 1 + DEFAULT_RULES.len());
        // Nothing denied first: everything is allowed, as in a new v1 cgroup.
        let open = device_rules(&[]).unwrap();
        assert_eq!(open[0].to_string(), "c *:* rwm");
        let hole = device_rules(&[rule(false, "c", Some(1), Some(3), "rwm")]).unwrap_err();
        assert!(hole.to_string().contains("deny everything first"), "{hole}");
        // Docker's list: mknod of anything, then /dev/fuse denied.
        let docker = device_rules(&[
            rule(false, "", None, None, "rwm"),
            rule(true, "c", None, None, "m"),
            rule(false, "c", Some(10), Some(229), "rwm"),
        ])
        .unwrap();
        assert!(!ch03_cgroups::devices::allowed(
            &docker,
            DeviceKind::Char,
            10,
            229,
            Access::READ
        ));
    }
}
