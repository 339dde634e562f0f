//! Docker's default seccomp profile, written as data.
//!
//! An allow-list: a call not named here fails with `EPERM`. It allows what
//! ordinary programs use (about 300 calls on x86_64) and keeps out what
//! reaches kernel state the container does not own or code that is rarely
//! needed and often buggy:
//!
//! - `keyctl`, `add_key`, `request_key`: the kernel keyrings are not
//!   namespaced; a container could read or fill the host's.
//! - `unshare`, `setns`, `mount`, `umount2`, the new mount API, and `clone`
//!   or `clone3` with namespace flags: only with `CAP_SYS_ADMIN`. Without
//!   the filter, `unshare(CLONE_NEWUSER)` needs no privilege at all and
//!   hands the caller every capability in a fresh user namespace, from which
//!   it can reach much more kernel code.
//! - `bpf`, `perf_event_open`, `userfaultfd`, `io_uring_*`: large attack
//!   surfaces behind many kernel exploits.
//! - `kexec_load`, `init_module`, `reboot`, `swapon`, `settimeofday`,
//!   `acct`, `ptrace` (before 4.8)...: privileged, and gated again here by
//!   the capability that makes them meaningful.
//!
//! Capabilities add calls: with `--cap-add SYS_ADMIN` the mount and
//! namespace calls come back, `SYS_PTRACE` adds `ptrace` and
//! `process_vm_*`, `SYS_MODULE` the module calls, and so on, as docker does.
//!
//! Written after moby's `profiles/seccomp/default.json` (Docker 25 and
//! later), for the 64-bit architectures we compile for: the 32-bit-only
//! calls (`chown32`, `_llseek`, `socketcall`...) and other architectures'
//! entries are left out, since we never build a filter for those ABIs.

use super::profile::{Action, ArgCondition, Op, Profile, SyscallRule};

// ANCHOR: allowed
// Always allowed, grouped by what they touch.

/// Files and directories.
#[rustfmt::skip]
const FILES: &[&str] = &[
    "access", "chdir", "chmod", "chown", "close", "close_range", "copy_file_range", "creat", "dup",
    "dup2", "dup3", "faccessat", "faccessat2", "fadvise64", "fallocate", "fchdir", "fchmod",
    "fchmodat", "fchmodat2", "fchown", "fchownat", "fcntl", "fdatasync", "flock", "fstat",
    "fstatfs", "fsync", "ftruncate", "futimesat", "getcwd", "getdents", "getdents64", "lchown",
    "link", "linkat", "lseek", "lstat", "mkdir", "mkdirat", "mknod", "mknodat", "name_to_handle_at",
    "newfstatat", "open", "openat", "openat2", "pread64", "preadv", "preadv2", "pwrite64",
    "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv", "rename",
    "renameat", "renameat2", "rmdir", "sendfile", "splice", "stat", "statfs", "statx", "symlink",
    "symlinkat", "sync", "sync_file_range", "syncfs", "tee", "truncate", "umask", "unlink",
    "unlinkat", "utime", "utimensat", "utimes", "vmsplice", "write", "writev",
];

/// Extended attributes, file notifications, asynchronous I/O (not io_uring).
#[rustfmt::skip]
const FILE_EXTRAS: &[&str] = &[
    "fgetxattr", "flistxattr", "fremovexattr", "fsetxattr", "getxattr", "lgetxattr", "listxattr",
    "llistxattr", "lremovexattr", "lsetxattr", "removexattr", "setxattr", "fanotify_mark",
    "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel",
    "io_destroy", "io_getevents", "io_pgetevents", "io_setup", "io_submit", "ioprio_get",
    "ioprio_set", "cachestat", "landlock_add_rule", "landlock_create_ruleset",
    "landlock_restrict_self",
];

/// Waiting on many descriptors, and descriptors that are events.
#[rustfmt::skip]
const POLLING: &[&str] = &[
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2",
    "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "ioctl", "pipe", "pipe2", "poll",
    "ppoll", "pselect6", "select", "signalfd", "signalfd4", "timerfd_create", "timerfd_gettime",
    "timerfd_settime",
];

/// Memory.
#[rustfmt::skip]
const MEMORY: &[&str] = &[
    "brk", "madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore",
    "mlock", "mlock2", "mlockall", "mmap", "mprotect", "mremap", "msync", "munlock", "munlockall",
    "munmap", "pkey_alloc", "pkey_free", "pkey_mprotect", "remap_file_pages",
];

/// Processes, threads, their ids and limits, and scheduling.
#[rustfmt::skip]
const PROCESSES: &[&str] = &[
    "capget", "capset", "execve", "execveat", "exit", "exit_group", "fork", "vfork", "wait4",
    "waitid", "futex", "futex_requeue", "futex_wait", "futex_waitv", "futex_wake",
    "get_robust_list", "set_robust_list", "get_thread_area", "set_thread_area", "set_tid_address",
    "rseq", "getcpu", "getpgid", "getpgrp", "getpid", "getppid", "getsid", "gettid", "setpgid",
    "setsid", "getegid", "geteuid", "getgid", "getgroups", "getresgid", "getresuid", "getuid",
    "setfsgid", "setfsuid", "setgid", "setgroups", "setregid", "setresgid", "setresuid", "setreuid",
    "setuid", "getpriority", "setpriority", "getrlimit", "setrlimit", "prlimit64", "getrusage",
    "prctl", "seccomp", "pidfd_open", "pidfd_send_signal", "process_mrelease",
    "sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity", "sched_getattr",
    "sched_getparam", "sched_getscheduler", "sched_rr_get_interval", "sched_setaffinity",
    "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield",
];

/// Signals.
#[rustfmt::skip]
const SIGNALS: &[&str] = &[
    "kill", "pause", "restart_syscall", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
    "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_tgsigqueueinfo",
    "sigaltstack", "tgkill", "tkill",
];

/// Clocks and timers (reading them; setting the clock needs `SYS_TIME`).
#[rustfmt::skip]
const TIME: &[&str] = &[
    "adjtimex", "alarm", "clock_adjtime", "clock_getres", "clock_gettime", "clock_nanosleep",
    "getitimer", "gettimeofday", "nanosleep", "setitimer", "time", "timer_create", "timer_delete",
    "timer_getoverrun", "timer_gettime", "timer_settime", "times",
];

/// Sockets (`socket` itself is below: every family but `AF_VSOCK`).
#[rustfmt::skip]
const NETWORK: &[&str] = &[
    "accept", "accept4", "bind", "connect", "getpeername", "getrandom", "getsockname", "getsockopt",
    "listen", "recvfrom", "recvmmsg", "recvmsg", "sendmmsg", "sendmsg", "sendto", "setsockopt",
    "shutdown", "socketpair",
];

/// System V and POSIX IPC, which the IPC namespace isolates.
#[rustfmt::skip]
const IPC: &[&str] = &[
    "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedsend", "mq_unlink",
    "msgctl", "msgget", "msgrcv", "msgsnd", "semctl", "semget", "semop", "semtimedop", "shmat",
    "shmctl", "shmdt", "shmget",
];

/// What the system is.
const SYSTEM: &[&str] = &["sysinfo", "uname"];
// ANCHOR_END: allowed

// ANCHOR: by_capability
/// Calls allowed only when the container holds a capability.
#[rustfmt::skip]
const BY_CAPABILITY: &[(&str, &[&str])] = &[
    ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
    ("CAP_SYS_ADMIN", &[
        "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
        "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open",
        "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog", "umount2",
        "unshare",
    ]),
    ("CAP_SYS_BOOT", &["reboot"]),
    ("CAP_SYS_CHROOT", &["chroot"]),
    ("CAP_SYS_MODULE", &["delete_module", "init_module", "finit_module"]),
    ("CAP_SYS_PACCT", &["acct"]),
    ("CAP_SYS_PTRACE", &[
        "kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace",
    ]),
    ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
    ("CAP_SYS_TIME", &["settimeofday", "clock_settime"]),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
    ("CAP_SYS_NICE", &["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"]),
    ("CAP_SYSLOG", &["syslog"]),
    ("CAP_BPF", &["bpf"]),
    ("CAP_PERFMON", &["perf_event_open"]),
];
// ANCHOR_END: by_capability

/// The namespace flags of `clone` (`CLONE_NEWNS`, `NEWUTS`, `NEWIPC`,
/// `NEWUSER`, `NEWPID`, `NEWNET`, `NEWCGROUP`): without `CAP_SYS_ADMIN`,
/// `clone` is allowed only when none of them is set.
pub const CLONE_NAMESPACE_FLAGS: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP) as u64;

/// The `personality` values a program may set: Linux itself, with
/// `UNAME26`, with 32-bit `uname`, both, and `0xffffffff`, which only asks
/// for the current value. Others (`READ_IMPLIES_EXEC`, `ADDR_NO_RANDOMIZE`
/// ...) weaken the process's own defences.
const PERSONALITIES: [u64; 5] = [0x0, 0x0008, 0x20000, 0x20008, 0xffff_ffff];

/// `AF_VSOCK`: sockets to the hypervisor and other VMs, not namespaced.
const AF_VSOCK: u64 = 40;

// ANCHOR: docker_default
/// Docker's default profile.
pub fn docker_default() -> Profile {
    let allowed: Vec<&str> = [
        FILES,
        FILE_EXTRAS,
        POLLING,
        MEMORY,
        PROCESSES,
        SIGNALS,
        TIME,
        NETWORK,
        IPC,
        SYSTEM,
    ]
    .concat();
    let mut syscalls = vec![SyscallRule::new(&allowed, Action::Allow)];

    // ptrace is safe to allow since Linux 4.8 (before, it could bypass seccomp).
    let mut ptrace = SyscallRule::new(
        &["process_vm_readv", "process_vm_writev", "ptrace"],
        Action::Allow,
    );
    ptrace.includes.min_kernel = Some("4.8".into());
    syscalls.push(ptrace);

    let mut socket = SyscallRule::new(&["socket"], Action::Allow);
    socket.args = vec![argument(0, Op::NotEqual, AF_VSOCK)];
    syscalls.push(socket);

    for persona in PERSONALITIES {
        let mut personality = SyscallRule::new(&["personality"], Action::Allow);
        personality.args = vec![argument(0, Op::Equal, persona)];
        syscalls.push(personality);
    }

    // x86_64's own: thread-local storage (arch_prctl), and the 16-bit
    // segments of old programs (modify_ldt).
    let mut x86 = SyscallRule::new(&["arch_prctl", "modify_ldt"], Action::Allow);
    x86.includes.arches = vec!["amd64".into()];
    syscalls.push(x86);

    for (cap, names) in BY_CAPABILITY {
        let mut rule = SyscallRule::new(names, Action::Allow);
        rule.includes.caps = vec![cap.to_string()];
        syscalls.push(rule);
    }

    // Without CAP_SYS_ADMIN: clone without namespace flags (fork and
    // threads), and clone3 refused with ENOSYS. clone3 takes its flags in
    // a structure in memory, which a filter cannot read; ENOSYS makes the C
    // library fall back to clone, whose flags it can.
    let mut clone = SyscallRule::new(&["clone"], Action::Allow);
    clone.args = vec![ArgCondition {
        index: 0,
        value: CLONE_NAMESPACE_FLAGS,
        value_two: 0,
        op: Op::MaskedEqual,
    }];
    clone.excludes.caps = vec!["CAP_SYS_ADMIN".into()];
    syscalls.push(clone);
    let mut clone3 = SyscallRule::new(&["clone3"], Action::Errno);
    clone3.errno_ret = Some(libc::ENOSYS as u32);
    clone3.excludes.caps = vec!["CAP_SYS_ADMIN".into()];
    syscalls.push(clone3);

    Profile {
        default_action: Action::Errno,
        default_errno_ret: Some(libc::EPERM as u32),
        architectures: Vec::new(),
        arch_map: Vec::new(),
        flags: Vec::new(),
        listener_path: None,
        listener_metadata: None,
        syscalls,
    }
}
// ANCHOR_END: docker_default

fn argument(index: u8, op: Op, value: u64) -> ArgCondition {
    ArgCondition {
        index,
        value,
        value_two: 0,
        op,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::profile::Conditions;

    /// Conditions that hold only with `cap`.
    fn with_cap(cap: &str) -> Conditions {
        Conditions {
            caps: vec![cap.into()],
            ..Conditions::default()
        }
    }

    #[test]
    fn every_name_is_listed_once_per_group() {
        let profile = docker_default();
        let always = &profile.syscalls[0].names;
        let mut sorted = always.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), always.len(), "a name is listed twice");
        for dangerous in [
            "keyctl",
            "add_key",
            "request_key",
            "unshare",
            "mount",
            "bpf",
        ] {
            assert!(
                !always.iter().any(|name| name == dangerous),
                "{dangerous} must not be always allowed"
            );
        }
    }

    #[test]
    fn mount_comes_with_cap_sys_admin() {
        let profile = docker_default();
        let rule = profile
            .syscalls
            .iter()
            .find(|rule| rule.names.iter().any(|name| name == "mount"))
            .unwrap();
        assert_eq!(rule.includes, with_cap("CAP_SYS_ADMIN"));
    }

    #[test]
    fn the_profile_round_trips_through_dockers_json() {
        let profile = docker_default();
        let json = serde_json::to_string_pretty(&profile).unwrap();
        assert!(
            json.contains(r#""defaultAction": "SCMP_ACT_ERRNO""#),
            "{json}"
        );
        assert_eq!(Profile::parse(&json).unwrap(), profile);
    }
}
