//! The commands that only read: `state`, `list`, `ps`, `features`, and
//! `spec`, which writes a starting `config.json`.

use super::config::default_config;
use super::lifecycle::{Found, find, get};
use super::spec::Spec;
use super::state::{self, State};
use super::step::RuncEngine;
use anyhow::bail;
use ch02_namespaces::Engine;
use std::path::Path;

/// `state ID`: the state, as runc prints it (indented JSON).
pub fn state(engine: &RuncEngine, id: &str) -> anyhow::Result<String> {
    let Found { state, .. } = get(engine, id)?;
    Ok(serde_json::to_string_pretty(&state)?)
}

/// Every container's state, oldest first.
fn states(engine: &RuncEngine) -> anyhow::Result<Vec<State>> {
    let records = engine.containers().list::<Spec>()?;
    let mut states = Vec::new();
    for record in records {
        if let Some(found) = find(engine, &record.spec.runc.id)? {
            states.push(found.state);
        }
    }
    Ok(states)
}

/// `list`: a table (runc's columns), the ids alone, or JSON.
pub fn list(engine: &RuncEngine, json: bool, quiet: bool) -> anyhow::Result<String> {
    let states = states(engine)?;
    if json {
        // Go encodes an empty list it never filled as null, and runc does.
        if states.is_empty() {
            return Ok("null\n".into());
        }
        return Ok(serde_json::to_string(&states)? + "\n");
    }
    if quiet {
        return Ok(states.iter().map(|s| format!("{}\n", s.id)).collect());
    }
    let mut rows = vec![
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
            .map(String::from)
            .to_vec(),
    ];
    for s in &states {
        rows.push(vec![
            s.id.clone(),
            s.pid.to_string(),
            s.status.clone(),
            s.bundle.display().to_string(),
            s.created.clone(),
            if s.owner.is_empty() {
                "root".into()
            } else {
                s.owner.clone()
            },
        ]);
    }
    Ok(ch01_process::shell::table(&rows))
}

// ANCHOR: ps
/// `ps ID`: the processes in the container's cgroup, as a JSON list of
/// pids (what containerd asks for), or as `ps -ef` shows them.
pub fn ps(engine: &RuncEngine, id: &str, json: bool) -> anyhow::Result<String> {
    let Found { record, state } = get(engine, id)?;
    if state.status == state::STOPPED {
        bail!("container {id} is not running");
    }
    let pids: Vec<i32> = engine
        .steps(&record.spec)
        .0
        .open()?
        .procs()?
        .into_iter()
        .map(|p| p.as_raw())
        .collect();
    if json {
        return Ok(serde_json::to_string(&pids)? + "\n");
    }
    let out = std::process::Command::new("ps").arg("-ef").output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let mut shown: String = lines.next().map(|h| format!("{h}\n")).unwrap_or_default();
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            shown.push_str(line);
            shown.push('\n');
        }
    }
    Ok(shown)
}
// ANCHOR_END: ps

/// `pause` and `resume`: chapter 3's freezer.
pub fn freeze(engine: &RuncEngine, id: &str, frozen: bool) -> anyhow::Result<()> {
    let Found { record, state } = get(engine, id)?;
    let cgroup = engine.steps(&record.spec).0.open()?;
    match (frozen, state.status.as_str()) {
        (true, state::RUNNING | state::CREATED) => Ok(cgroup.freeze()?),
        (true, _) => bail!("container not running"),
        (false, state::PAUSED) => Ok(cgroup.thaw()?),
        (false, _) => bail!("container not paused"),
    }
}

/// `features`: what this runtime implements, in the OCI features
/// document's shape, so that a caller can check before it asks.
pub fn features() -> anyhow::Result<String> {
    let caps: Vec<String> = ch02_namespaces::caps::NAMES
        .iter()
        .map(|name| format!("CAP_{name}"))
        .collect();
    let arch = match std::env::consts::ARCH {
        "aarch64" => "SCMP_ARCH_AARCH64",
        _ => "SCMP_ARCH_X86_64",
    };
    let features = serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": super::OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": ["bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec", "private", "rprivate",
                         "exec", "suid", "dev", "relatime", "strictatime", "noatime"],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                            "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRAP", "SCMP_ACT_TRACE"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                              "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": [arch]
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false}
        },
        "annotations": {
            "io.github.skiff.runtime": "skiff-runc",
            "io.github.skiff.version": env!("CARGO_PKG_VERSION")
        }
    });
    Ok(serde_json::to_string_pretty(&features)?)
}

/// `spec`: writes `config.json` in `bundle`, as `runc spec` does; refuses
/// to overwrite one.
pub fn spec(bundle: &Path) -> anyhow::Result<()> {
    let path = bundle.join("config.json");
    if path.exists() {
        bail!("File {} exists. Remove it first", path.display());
    }
    let text = serde_json::to_string_pretty(&default_config())?;
    std::fs::write(&path, text + "\n")?;
    Ok(())
}
