//! What the kernel shows of a process from outside: its children, its
//! namespaces, its cgroups; and the host's mount table.

use nix::unistd::Pid;
use std::path::{Path, PathBuf};

/// The children of `pid`, from `/proc/PID/task/*/children`.
pub fn children(pid: Pid) -> Vec<Pid> {
    let mut found = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return found;
    };
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            found.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .map(Pid::from_raw),
            );
        }
    }
    found
}

/// The namespace `kind` (`uts`, `pid`, ...) of `pid`: `uts:[4026531838]`.
pub fn namespace(pid: &str, kind: &str) -> Result<String, String> {
    let link = format!("/proc/{pid}/ns/{kind}");
    std::fs::read_link(&link)
        .map(|target| target.display().to_string())
        .map_err(|e| format!("{link}: {e}"))
}

/// The directory of the cgroup that holds `pid` in the hierarchy of
/// `controller` (`memory`, `pids`, `cpu`): on cgroup v2 the one tree, on
/// v1 the tree that has that controller.
pub fn cgroup_dir(pid: Pid, controller: &str) -> Result<PathBuf, String> {
    let membership = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .map_err(|e| format!("/proc/{pid}/cgroup: {e}"))?;
    let mounts = cgroup_mounts()?;
    // v1 first: on a hybrid machine the v2 tree has no controller we use.
    for line in membership.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if controllers.split(',').any(|c| c == controller)
            && let Some((mount, _)) = mounts
                .iter()
                .find(|(_, options)| options.split(',').any(|o| o == controller))
        {
            return Ok(mount.join(path.trim_start_matches('/')));
        }
    }
    let unified = mounts.iter().find(|(_, options)| options == "cgroup2");
    let path = membership.lines().find_map(|l| l.strip_prefix("0::"));
    match (unified, path) {
        (Some((mount, _)), Some(path)) => Ok(mount.join(path.trim_start_matches('/'))),
        _ => Err(format!(
            "no cgroup hierarchy with the {controller} controller"
        )),
    }
}

/// The cgroup filesystems mounted here: (mount point, super options), the
/// options being `cgroup2` for the unified tree.
fn cgroup_mounts() -> Result<Vec<(PathBuf, String)>, String> {
    let table = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("/proc/self/mountinfo: {e}"))?;
    let mut found = Vec::new();
    for line in table.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(dash) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        let (Some(mount), Some(fstype), Some(options)) =
            (fields.get(4), fields.get(dash + 1), fields.get(dash + 3))
        else {
            continue;
        };
        match *fstype {
            "cgroup" => found.push((PathBuf::from(mount), options.to_string())),
            "cgroup2" => found.push((PathBuf::from(mount), "cgroup2".to_string())),
            _ => {}
        }
    }
    Ok(found)
}

/// The mount points of this mount namespace (the host's) under `dir`.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(table) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    table
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(PathBuf::from)
        .filter(|mount| mount.starts_with(dir))
        .collect()
}

/// One line of a mount table, as `/proc/PID/mountinfo` has it.
#[derive(Debug, Clone)]
pub struct MountEntry {
    /// Where it is mounted, as the process sees it.
    pub mount_point: PathBuf,
    pub fstype: String,
    /// The options of the filesystem itself: an overlay's `lowerdir=`,
    /// `upperdir=` and `workdir=`.
    pub super_options: String,
}

/// The mount table of process `pid` (`self`, or a number), as the kernel
/// shows it from outside: a container's own mount namespace.
pub fn mount_table(pid: &str) -> Result<Vec<MountEntry>, String> {
    let path = format!("/proc/{pid}/mountinfo");
    let table = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    Ok(table
        .lines()
        .filter_map(|line| {
            // id parent major:minor root mount-point options [tags] - fstype source super-options
            let fields: Vec<&str> = line.split(' ').collect();
            let dash = fields.iter().position(|f| *f == "-")?;
            Some(MountEntry {
                mount_point: PathBuf::from(fields.get(4)?),
                fstype: fields.get(dash + 1)?.to_string(),
                super_options: fields.get(dash + 3).unwrap_or(&"").to_string(),
            })
        })
        .collect())
}
