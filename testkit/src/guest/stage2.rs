//! The cgroup2 suite's second stage: PID 1 on the guest's disk, and the
//! two small scripts it starts.
//!
//! - `/skiff-suite/init` mounts what a systemd machine mounts (cgroup2
//!   alone on `/sys/fs/cgroup`, with `nsdelegate`), moves itself into a
//!   cgroup of its own (as a login session is), sets the machine up (the
//!   kernel's `modprobe`, `lo`, an uplink with the default route, the
//!   hostname), prints what the guest is, runs each test binary from its
//!   package's directory as `cargo test` does, then prints what the run
//!   cost and what it left behind, and powers off.
//! - `/skiff-suite/peak-memory` samples the memory in use every second.
//! - `/skiff-suite/leftovers` lists what the tests left behind: cgroups,
//!   processes, mounts, network links, nftables tables, loop devices,
//!   network namespaces. Every test cleans up after itself (the project's
//!   test contract); the host's `scripts/leak-check` proves it on the
//!   host's layout, this proves it on cgroup v2.
//!
//! Each of the helpers runs in a cgroup of its own, so that at the end the
//! suite's cgroup holds PID 1 alone, and any other process there is one a
//! test left.

use super::disk::{DiskError, GuestTree};
use super::shell_quote;
use super::suite::{Suite, SuiteMarkers};
use std::fmt::Write as _;
use std::path::Path;

/// The second stage's path on the disk.
pub(super) const STAGE2: &str = "/skiff-suite/init";

/// The guest's own tools (`modprobe`), last in its `PATH`.
pub(super) const TOOLS: &str = "/skiff-suite/bin";

/// The prefix of each line of [`LEFTOVERS`]' report.
pub(super) const LEFT_BEHIND: &str = "left behind: ";

/// Writes the second stage and its helpers into the tree.
pub(super) fn write(
    tree: &mut GuestTree,
    suite: &Suite,
    markers: &SuiteMarkers,
) -> Result<(), DiskError> {
    tree.write(Path::new(STAGE2), &init(suite, markers), 0o755)?;
    tree.write(Path::new("/skiff-suite/peak-memory"), PEAK_MEMORY, 0o755)?;
    tree.write(Path::new("/skiff-suite/leftovers"), LEFTOVERS, 0o755)?;
    Ok(())
}

/// Samples the memory in use (`MemTotal - MemAvailable`: what the kernel
/// could not give back by dropping caches) every second, and keeps the
/// highest, in MiB, in `/run/skiff-suite-peak`: what `SKIFF_GUEST_MEMORY`
/// must cover.
const PEAK_MEMORY: &str = r#"#!/bin/sh
peak=0
while :; do
    used=$(awk '/^MemTotal:/ { t = $2 } /^MemAvailable:/ { a = $2 } END { print int((t - a) / 1024) }' /proc/meminfo)
    if [ "$used" -gt "$peak" ]; then
        peak=$used
        echo "$peak" > /run/skiff-suite-peak
    fi
    sleep 1
done
"#;

/// Lists what the tests left behind, one `left behind: KIND: WHAT` line
/// per kind, or `left behind: nothing`. Run in its own cgroup
/// (`suite-check.scope`) while PID 1 waits for it; the mounts are compared
/// with the list `/run/skiff-suite-mounts` made before the tests.
const LEFTOVERS: &str = r#"#!/bin/sh
found=no
say() {
    if [ -n "$2" ]; then
        echo "left behind: $1: $2"
        found=yes
    fi
}
words() { tr '\n' ' ' | sed 's/ *$//'; }

say cgroups "$(find /sys/fs/cgroup -mindepth 1 -path '/sys/fs/cgroup/suite*' -prune -o -type d -print | sort | words)"

procs=""
for list in $(find /sys/fs/cgroup -mindepth 2 -name cgroup.procs \
        ! -path '/sys/fs/cgroup/suite-check.scope/*' ! -path '/sys/fs/cgroup/suite-monitor.scope/*'); do
    cgroup=${list%/cgroup.procs}
    for pid in $(cat "$list"); do
        [ "$pid" = 1 ] && continue
        procs="$procs $pid ($(cat /proc/$pid/comm 2>/dev/null)) in ${cgroup#/sys/fs/cgroup/}"
    done
done
say processes "${procs# }"

awk '{ print $2 }' /proc/self/mounts | sort > /run/skiff-suite-mounts.after
say mounts "$(comm -13 /run/skiff-suite-mounts /run/skiff-suite-mounts.after | words)"

say links "$(ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); if ($2 != "lo" && $2 != "eth0") print $2 }' | words)"
say "nftables tables" "$(nft list tables 2>/dev/null | words)"
say "loop devices" "$(losetup -a 2>/dev/null | cut -d: -f1 | words)"
say "network namespaces" "$(ls /run/netns 2>/dev/null | words)"
[ "$found" = yes ] || echo "left behind: nothing"
"#;

/// PID 1 on the disk.
fn init(suite: &Suite, markers: &SuiteMarkers) -> String {
    let mut script = format!(
        r#"#!/bin/sh
# The cgroup2 suite's second stage (written by skiff_testkit::guest::stage2).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:{tools}
export HOME=/root LANG=C.UTF-8 CI=true INSTA_WORKSPACE_ROOT={workspace}
export SKIFF_IN_GUEST=1 RUST_BACKTRACE=1 NO_COLOR=1 CLICOLOR=0
{toolchain}fail() {{ echo "{failed}$*"; /bin/busybox poweroff -f; }}
mount -t proc proc /proc || fail "mount proc"
mount -t sysfs sysfs /sys || fail "mount sysfs"
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o gid=5,mode=620,ptmxmode=000 devpts /dev/pts || fail "mount devpts"
mount -t tmpfs -o mode=1777 tmpfs /dev/shm || fail "mount /dev/shm"
mount -t mqueue mqueue /dev/mqueue || fail "mount mqueue"
mount -t tmpfs -o mode=755 tmpfs /run || fail "mount /run"
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || fail "mount cgroup2"
mkdir /sys/fs/cgroup/suite.scope /sys/fs/cgroup/suite-monitor.scope /sys/fs/cgroup/suite-check.scope \
    && echo $$ > /sys/fs/cgroup/suite.scope/cgroup.procs || fail "cgroups for the suite"
echo {tools}/modprobe > /proc/sys/kernel/modprobe || fail "set the kernel's modprobe"
ip link set lo up || fail "lo up"
# An uplink as a machine has one: eth0 with an address and the default
# route (tests read its MTU; the engine gives bridges the MTU of the
# default route's link). Its cable is unplugged (qemu connects the card to
# nothing): what is sent there is lost, nothing leaves the guest.
ip link set eth0 up && ip address add 192.0.2.15/24 dev eth0 \
    && ip route add default via 192.0.2.1 dev eth0 || fail "eth0 and a default route"
echo skiff-guest > /proc/sys/kernel/hostname
sh -c 'echo $$ > /sys/fs/cgroup/suite-monitor.scope/cgroup.procs && exec /skiff-suite/peak-memory' &
awk '{{ print $2 }}' /proc/self/mounts | sort > /run/skiff-suite-mounts
cd /
echo "{begin}"
echo "kernel: $(uname -r)"
echo "cgroup mounts: $(grep cgroup /proc/mounts | cut -d' ' -f2,3 | tr '\n' ' ')"
echo "controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
echo "cpus: $(nproc), memory: $(grep MemTotal /proc/meminfo | tr -s ' ' | cut -d' ' -f2-)"
echo "disk: $(df -m / | awk 'NR == 2 {{ print $3 " MiB used of " $2 }}')"
echo "network links: $(ls /sys/class/net | tr '\n' ' ')"
run() {{
    name=$1 dir=$2 exe=$3
    shift 3
    echo "{run}$name"
    start=$(date +%s)
    # What cargo test sets for a test binary at run time.
    export CARGO_MANIFEST_DIR="$dir" CARGO_PKG_NAME="${{name%%/*}}"
    cd "$dir" && timeout -s KILL {per_binary} "$exe" --color never "$@" </dev/null >/dev/console 2>&1
    code=$?
    cd /
    echo "{end}$name $code $(( $(date +%s) - start ))"
}}
"#,
        workspace = shell_quote(&suite.workspace.to_string_lossy()),
        toolchain = toolchain_env(suite),
        tools = TOOLS,
        failed = markers.failed,
        begin = markers.begin,
        run = markers.run,
        end = markers.end,
        per_binary = suite.per_binary.as_secs().max(1),
    );
    for test in &suite.plan.tests {
        let mut line = format!(
            "run {} {} {}",
            shell_quote(&test.name),
            shell_quote(&test.dir.to_string_lossy()),
            shell_quote(&test.path.to_string_lossy())
        );
        for arg in &suite.test_args {
            line.push(' ');
            line.push_str(&shell_quote(arg));
        }
        script.push_str(&line);
        script.push('\n');
    }
    // Facts after the run, in the same section as those before it.
    let _ = write!(
        script,
        r#"echo "{begin}"
echo "peak memory in use: $(cat /run/skiff-suite-peak 2>/dev/null || echo ?) MiB"
echo "disk after the tests: $(df -m / | awk 'NR == 2 {{ print $3 " MiB used" }}')"
echo "modules loaded: $(awk '{{ print $1 }}' /proc/modules | sort | tr '\n' ' ')"
sh -c 'echo $$ > /sys/fs/cgroup/suite-check.scope/cgroup.procs && exec /skiff-suite/leftovers'
echo "{done}"
sync
/bin/busybox poweroff -f
"#,
        begin = markers.begin,
        done = markers.done
    );
    script
}

/// The toolchain's variables, as `cargo test` sets `CARGO` for a test (a
/// test that builds something runs the cargo that built it), and rustc on
/// the `PATH`; nothing when the guest has no toolchain.
fn toolchain_env(suite: &Suite) -> String {
    match &suite.toolchain {
        Some(toolchain) if suite.plan.needs_cargo() => format!(
            "export CARGO={} RUSTC={} PATH=\"$PATH\":{}\n",
            shell_quote(&toolchain.cargo().to_string_lossy()),
            shell_quote(&toolchain.rustc().to_string_lossy()),
            shell_quote(&toolchain.sysroot.join("bin").to_string_lossy()),
        ),
        _ => String::new(),
    }
}
