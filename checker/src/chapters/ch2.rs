//! Chapter 2: namespaces. The command is PID 1 of a world of its own: its
//! own hostname, mount table, root, /proc, network and fewer capabilities.

use super::{Check, expect_in};
use crate::target::Target;
use std::time::Duration;

const NAMESPACES: &str = "Namespaces > What and why > Namespaces";
const ROOT: &str = "Namespaces > What and why > A root of its own: chroot vs pivot_root";

pub const CHECKS: [Check; 7] = [
    Check {
        chapter: 2,
        id: "2.1",
        name: "the command is PID 1 of a PID namespace of its own",
        hint: NAMESPACES,
        run: pid_one,
    },
    Check {
        chapter: 2,
        id: "2.2",
        name: "--hostname names the container, not the host",
        hint: NAMESPACES,
        run: hostname,
    },
    Check {
        chapter: 2,
        id: "2.3",
        name: "seen from outside: new mount, UTS, IPC, PID and network namespaces",
        hint: NAMESPACES,
        run: namespaces_from_outside,
    },
    Check {
        chapter: 2,
        id: "2.4",
        name: "the root is --rootfs, and \"..\" does not lead out of it",
        hint: ROOT,
        run: root,
    },
    Check {
        chapter: 2,
        id: "2.5",
        name: "/proc shows the container's own processes",
        hint: ROOT,
        run: proc_of_its_own,
    },
    Check {
        chapter: 2,
        id: "2.6",
        name: "only docker's default capabilities",
        hint: "Namespaces > What and why > What docker hardens, and why",
        run: capabilities,
    },
    Check {
        chapter: 2,
        id: "2.7",
        name: "the container's mounts stay out of the host's mount table",
        hint: ROOT,
        run: no_mounts_on_the_host,
    },
];

fn pid_one(target: &Target) -> Result<(), String> {
    let run = target.run(&[], &["probe", "pid"])?;
    run.expect_code(0)?;
    expect_in("the probe's report", &run.stdout, "pid: 1\n")
}

fn hostname(target: &Target) -> Result<(), String> {
    let host = read_hostname()?;
    let run = target.run(&["--hostname", "checked"], &["probe", "hostname"])?;
    run.expect_code(0)?;
    expect_in("the probe's report", &run.stdout, "hostname: checked\n")?;
    let after = read_hostname()?;
    if after != host {
        return Err(format!("the host was renamed from {host:?} to {after:?}"));
    }
    Ok(())
}

fn read_hostname() -> Result<String, String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .map_err(|e| format!("reading the host's name: {e}"))
}

fn namespaces_from_outside(target: &Target) -> Result<(), String> {
    let mut running = target.start(&[], &["probe", "sleep", "30"])?;
    let command = running.command_pid("probe", Duration::from_secs(10))?;
    let mut shared = Vec::new();
    for kind in ["mnt", "uts", "ipc", "pid", "net"] {
        let ours = crate::kernel::namespace("self", kind)?;
        let its = crate::kernel::namespace(&command.to_string(), kind)?;
        if ours == its {
            shared.push(kind);
        }
    }
    drop(running);
    if shared.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the command shares the host's {} namespace(s) (compare /proc/PID/ns)",
            shared.join(", ")
        ))
    }
}

fn root(target: &Target) -> Result<(), String> {
    let run = target.run(&[], &["probe", "read", "/etc/skiff-check"])?;
    run.expect_code(0)?;
    expect_in(
        "/etc/skiff-check inside",
        &run.stdout,
        "the container's root",
    )?;
    let run = target.run(&[], &["probe", "chroot-escape"])?;
    expect_in("the probe's escape attempt", &run.stdout, "stayed inside")
}

fn proc_of_its_own(target: &Target) -> Result<(), String> {
    let run = target.run(&[], &["probe", "read", "/proc/1/cmdline"])?;
    run.expect_code(0)?;
    expect_in("/proc/1/cmdline inside", &run.stdout, "probe")
}

fn capabilities(target: &Target) -> Result<(), String> {
    let run = target.run(&[], &["probe", "caps"])?;
    run.expect_code(0)?;
    expect_in(
        "the probe's report",
        &run.stdout,
        "cap.eff: 00000000a80425fb\n",
    )
}

fn no_mounts_on_the_host(target: &Target) -> Result<(), String> {
    if !target.has_containers() {
        return Err("the binary's run has no --rootfs: its commands see the host's root".into());
    }
    target.run(&[], &["probe", "exit", "0"])?.expect_code(0)?;
    let leaked = crate::kernel::mounts_under(target.work());
    if leaked.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "mounts appeared on the host: {} (is / made private first?)",
            leaked
                .iter()
                .map(|m| m.display().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        ))
    }
}
