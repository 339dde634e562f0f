//! From a profile to a BPF program, with seccompiler.
//!
//! seccompiler compiles a map `syscall number -> rules` into a program with
//! *one* action for calls that match and one for calls that do not. A
//! docker profile has several actions (allow most calls, `ENOSYS` for
//! `clone3`, the default `EPERM`), so we cut it into runs of entries that
//! share an action, compile each run on its own, and chain the programs:
//!
//! ```text
//!   [run 1: ALLOW]   matching call -> ALLOW;      no match -> jump to run 2
//!   [run 2: ENOSYS]  matching call -> ERRNO(38);  no match -> jump to run 3
//!   ...
//!   RET default action
//! ```
//!
//! seccompiler has no "fall through", so each run is compiled with a
//! placeholder action for "no match", and every `RET placeholder`
//! instruction is then rewritten into a jump to the end of that run. The
//! order of the runs is the profile's order: the first entry that matches a
//! call decides.

use super::profile::{Action, ArgCondition, Conditions, Op, Profile, SyscallRule};
use super::syscalls::TABLE;
use super::{Arch, Filter, KernelVersion, SeccompError};
use crate::caps::{self, CapSet};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, sock_filter,
};
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

/// The kernel's limit on a filter's length (`BPF_MAXINSNS`).
pub const MAX_INSTRUCTIONS: usize = 4096;

const BPF_RET_K: u16 = 0x06; // BPF_RET | BPF_K
const BPF_JA: u16 = 0x05; // BPF_JMP | BPF_JA

/// The number of system call `name` on `arch`, if it has one.
pub fn number(name: &str, arch: Arch) -> Option<u32> {
    let index = TABLE
        .binary_search_by(|(known, _, _)| (*known).cmp(name))
        .ok()?;
    let (_, x86_64, aarch64) = TABLE[index];
    match arch {
        Arch::X86_64 => x86_64,
        Arch::Aarch64 => aarch64,
    }
}

/// Entries that share an action, as seccompiler takes them: an empty rule
/// list means "whatever the arguments".
struct Run {
    action: SeccompAction,
    rules: BTreeMap<i64, Vec<SeccompRule>>,
}

// ANCHOR: compile
/// Compiles `profile` for a container holding `caps`, on `arch`, under
/// kernel `kernel`.
pub fn compile_profile(
    profile: &Profile,
    caps: &CapSet,
    arch: Arch,
    kernel: KernelVersion,
) -> Result<Filter, SeccompError> {
    if profile.listener_path.is_some() || profile.default_action == Action::Notify {
        return Err(SeccompError::Notify);
    }
    let default = action(profile.default_action, profile.default_errno_ret)?;
    let flags = filter_flags(&profile.flags)?;
    let mut runs: Vec<Run> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();

    for entry in &profile.syscalls {
        let names = entry_names(entry)?;
        let entry_action = action(entry.action, entry.errno_ret)?;
        let permissive = matches!(entry_action, SeccompAction::Allow | SeccompAction::Log);
        let alternatives = arg_conditions(&entry.args, permissive)?;
        if !applies(entry, caps, arch, kernel)? {
            continue;
        }
        // A comparison that can never hold makes the whole entry void.
        let Some(alternatives) = alternatives else {
            continue;
        };
        if runs.last().is_none_or(|run| run.action != entry_action) {
            runs.push(Run {
                action: entry_action.clone(),
                rules: BTreeMap::new(),
            });
        }
        let run = runs.last_mut().expect("a run was just pushed");
        for name in names {
            let Some(nr) = number(name, arch) else {
                if !unknown.iter().any(|known| known == name) {
                    unknown.push(name.to_string());
                }
                continue;
            };
            for conditions in &alternatives {
                add_rule(&mut run.rules, i64::from(nr), conditions)?;
            }
        }
    }

    let allowed = runs
        .iter()
        .filter(|run| run.action == SeccompAction::Allow)
        .flat_map(|run| run.rules.keys())
        .collect::<BTreeSet<_>>()
        .len();
    let program = link(runs, default, arch)?;
    if program.len() > MAX_INSTRUCTIONS {
        return Err(SeccompError::TooLarge(program.len()));
    }
    Ok(Filter {
        program,
        flags,
        unknown_syscalls: unknown,
        allowed,
    })
}
// ANCHOR_END: compile

/// Adds one entry's rule for call `nr` to a run: no conditions means the
/// call matches whatever its arguments, which no other rule can widen.
fn add_rule(
    rules: &mut BTreeMap<i64, Vec<SeccompRule>>,
    nr: i64,
    conditions: &[SeccompCondition],
) -> Result<(), SeccompError> {
    if conditions.is_empty() {
        rules.insert(nr, Vec::new());
        return Ok(());
    }
    let rule = SeccompRule::new(conditions.to_vec()).map_err(SeccompError::Compile)?;
    match rules.entry(nr) {
        Entry::Vacant(vacant) => {
            vacant.insert(vec![rule]);
        }
        // Already matched whatever the arguments: nothing to add.
        Entry::Occupied(occupied) if occupied.get().is_empty() => {}
        Entry::Occupied(mut occupied) => occupied.get_mut().push(rule),
    }
    Ok(())
}

// ANCHOR: link
/// Compiles each run and chains them, ending with the default action.
fn link(runs: Vec<Run>, default: SeccompAction, arch: Arch) -> Result<BpfProgram, SeccompError> {
    let mut actions: Vec<SeccompAction> = runs.iter().map(|run| run.action.clone()).collect();
    actions.push(default.clone());
    let placeholder = placeholder(&actions);
    let placeholder_ret = u32::from(placeholder.clone());

    let mut program = BpfProgram::new();
    if runs.is_empty() {
        // Only the architecture check, then the default action.
        let filter = SeccompFilter::new(BTreeMap::new(), default, placeholder, arch.target())
            .map_err(SeccompError::Compile)?;
        return BpfProgram::try_from(filter).map_err(SeccompError::Compile);
    }
    for run in runs {
        let filter = SeccompFilter::new(run.rules, placeholder.clone(), run.action, arch.target())
            .map_err(SeccompError::Compile)?;
        let mut code = BpfProgram::try_from(filter).map_err(SeccompError::Compile)?;
        let len = code.len();
        for (at, instruction) in code.iter_mut().enumerate() {
            if instruction.code == BPF_RET_K && instruction.k == placeholder_ret {
                // "No match": jump past the end of this run (a jump of k
                // lands k + 1 instructions further).
                *instruction = sock_filter {
                    code: BPF_JA,
                    jt: 0,
                    jf: 0,
                    k: (len - at - 1) as u32,
                };
            }
        }
        program.extend(code);
    }
    program.push(sock_filter {
        code: BPF_RET_K,
        jt: 0,
        jf: 0,
        k: u32::from(default),
    });
    Ok(program)
}
// ANCHOR_END: link

/// An action none of `actions` is: a `TRACE` with a message no run uses.
fn placeholder(actions: &[SeccompAction]) -> SeccompAction {
    (0..=0xffff_u32)
        .rev()
        .map(SeccompAction::Trace)
        .find(|candidate| !actions.contains(candidate))
        .expect("a profile has fewer than 65536 actions")
}

/// The seccompiler action of a profile action.
fn action(action: Action, errno_ret: Option<u32>) -> Result<SeccompAction, SeccompError> {
    let data = errno_ret.unwrap_or(libc::EPERM as u32);
    Ok(match action {
        Action::Allow => SeccompAction::Allow,
        Action::Errno if data <= 4095 => SeccompAction::Errno(data),
        Action::Errno => return Err(SeccompError::BadErrno(data)),
        Action::KillProcess => SeccompAction::KillProcess,
        Action::KillThread => SeccompAction::KillThread,
        Action::Trap => SeccompAction::Trap,
        Action::Trace if data < 0xffff => SeccompAction::Trace(data),
        Action::Trace => return Err(SeccompError::BadErrno(data)),
        Action::Log => SeccompAction::Log,
        Action::Notify => return Err(SeccompError::Notify),
    })
}

/// The names an entry gives: `names`, or docker's older `name`.
fn entry_names(entry: &SyscallRule) -> Result<Vec<&str>, SeccompError> {
    match (&entry.name, entry.names.is_empty()) {
        (Some(_), false) => Err(SeccompError::NameAndNames),
        (Some(name), true) => Ok(vec![name.as_str()]),
        (None, false) => Ok(entry.names.iter().map(String::as_str).collect()),
        (None, true) => Err(SeccompError::NoNames),
    }
}

/// Whether an entry applies to this container, architecture and kernel.
fn applies(
    entry: &SyscallRule,
    caps: &CapSet,
    arch: Arch,
    kernel: KernelVersion,
) -> Result<bool, SeccompError> {
    let holds = |name: &String| -> Result<bool, SeccompError> {
        Ok(caps::parse(name)?.is_none_or(|cap| caps.contains(cap)))
    };
    let Conditions {
        arches,
        caps: needed,
        min_kernel,
    } = &entry.includes;
    if !arches.is_empty() && !arches.iter().any(|name| arch.is_named(name)) {
        return Ok(false);
    }
    for cap in needed {
        if !holds(cap)? {
            return Ok(false);
        }
    }
    if let Some(version) = min_kernel
        && kernel < KernelVersion::parse(version)?
    {
        return Ok(false);
    }

    let Conditions {
        arches,
        caps: excluded,
        min_kernel,
    } = &entry.excludes;
    if arches.iter().any(|name| arch.is_named(name)) {
        return Ok(false);
    }
    for cap in excluded {
        if holds(cap)? {
            return Ok(false);
        }
    }
    if let Some(version) = min_kernel
        && kernel >= KernelVersion::parse(version)?
    {
        return Ok(false);
    }
    Ok(true)
}

// ANCHOR: arg_conditions
/// An entry's argument comparisons, as alternatives (the call matches if
/// all comparisons of one alternative hold); `None` when the entry can
/// never match.
///
/// The filter sees every argument as 64 bits, but the kernel reads an
/// `int` argument (socket's family, personality's persona) from the low 32
/// bits only. Compared on 64 bits alone, `socket(AF_VSOCK | 1 << 32, ...)`
/// would pass a "family is not AF_VSOCK" check and still create a vsock
/// socket. So a comparison with a constant that fits in 32 bits is also
/// made on the low 32 bits: an entry that lets a call run (`ALLOW`, `LOG`)
/// needs both to hold; any other entry (it refuses or reports the call)
/// needs either.
///
/// libseccomp's `MASKED_EQ` asks `(arg & value) == valueTwo`; seccompiler's
/// masks both sides, which is the same unless `valueTwo` has bits outside
/// the mask, and then libseccomp never matches: neither do we.
fn arg_conditions(
    args: &[ArgCondition],
    permissive: bool,
) -> Result<Option<Vec<Vec<SeccompCondition>>>, SeccompError> {
    let mut alternatives: Vec<Vec<SeccompCondition>> = vec![Vec::new()];
    for arg in args {
        if arg.index > 5 {
            return Err(SeccompError::BadArgIndex(arg.index));
        }
        let (op, value) = match arg.op {
            Op::NotEqual => (SeccompCmpOp::Ne, arg.value),
            Op::LessThan => (SeccompCmpOp::Lt, arg.value),
            Op::LessOrEqual => (SeccompCmpOp::Le, arg.value),
            Op::Equal => (SeccompCmpOp::Eq, arg.value),
            Op::GreaterOrEqual => (SeccompCmpOp::Ge, arg.value),
            Op::GreaterThan => (SeccompCmpOp::Gt, arg.value),
            Op::MaskedEqual if arg.value_two & !arg.value != 0 => return Ok(None),
            Op::MaskedEqual => (SeccompCmpOp::MaskedEq(arg.value), arg.value_two),
        };
        let compare = |width| {
            SeccompCondition::new(arg.index, width, op.clone(), value)
                .map_err(SeccompError::Compile)
        };
        let all_64 = compare(SeccompCmpArgLen::Qword)?;
        if arg.value > u64::from(u32::MAX) {
            // A 64-bit constant: the argument is a 64-bit one.
            alternatives
                .iter_mut()
                .for_each(|alt| alt.push(all_64.clone()));
            continue;
        }
        let low_32 = compare(SeccompCmpArgLen::Dword)?;
        if permissive {
            for alt in &mut alternatives {
                alt.push(all_64.clone());
                alt.push(low_32.clone());
            }
        } else {
            alternatives = alternatives
                .into_iter()
                .flat_map(|alt| {
                    let mut wide = alt.clone();
                    wide.push(all_64.clone());
                    let mut narrow = alt;
                    narrow.push(low_32.clone());
                    [wide, narrow]
                })
                .collect();
        }
    }
    Ok(Some(alternatives))
}
// ANCHOR_END: arg_conditions

/// The `flags` of `seccomp(SECCOMP_SET_MODE_FILTER, flags, ...)`.
fn filter_flags(names: &[String]) -> Result<libc::c_ulong, SeccompError> {
    names.iter().try_fold(0, |flags, name| {
        let flag = match name.as_str() {
            "SECCOMP_FILTER_FLAG_TSYNC" => libc::SECCOMP_FILTER_FLAG_TSYNC,
            "SECCOMP_FILTER_FLAG_LOG" => libc::SECCOMP_FILTER_FLAG_LOG,
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            _ => return Err(SeccompError::UnknownFlag(name.clone())),
        };
        Ok(flags | flag)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::default::docker_default;

    const KERNEL: KernelVersion = KernelVersion { major: 6, minor: 1 };

    /// A classic BPF interpreter for the instructions seccompiler emits:
    /// what the kernel would answer for call `nr` with `args` on `arch`.
    fn run(filter: &Filter, arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let word = |offset: u32| -> u32 {
            match offset {
                0 => nr,
                4 => arch,
                16..=63 => {
                    let arg = args[(offset as usize - 16) / 8];
                    if offset.is_multiple_of(8) {
                        arg as u32
                    } else {
                        (arg >> 32) as u32
                    }
                }
                _ => panic!("load from offset {offset}"),
            }
        };
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let insn = &filter.program[pc];
            let jump = |taken: bool| 1 + usize::from(if taken { insn.jt } else { insn.jf });
            pc += match insn.code {
                0x20 => {
                    acc = word(insn.k);
                    1
                }
                0x54 => {
                    acc &= insn.k;
                    1
                }
                0x05 => 1 + insn.k as usize,
                0x15 => jump(acc == insn.k),
                0x25 => jump(acc > insn.k),
                0x35 => jump(acc >= insn.k),
                0x06 => return insn.k,
                code => panic!("instruction {code:#x} at {pc}"),
            };
        }
    }

    const X86_64: u32 = 0xc000_003e;
    const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
    const EPERM: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
    const ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;

    fn call(filter: &Filter, name: &str, args: [u64; 6]) -> u32 {
        let nr = number(name, Arch::X86_64).expect("a known call");
        run(filter, X86_64, nr, args)
    }

    fn docker(caps: &CapSet) -> Filter {
        compile_profile(&docker_default(), caps, Arch::X86_64, KERNEL).unwrap()
    }

    #[test]
    fn the_table_is_sorted_and_knows_both_architectures() {
        assert!(TABLE.windows(2).all(|pair| pair[0].0 < pair[1].0));
        assert_eq!(number("openat", Arch::X86_64), Some(257));
        assert_eq!(number("openat", Arch::Aarch64), Some(56));
        assert_eq!(number("open", Arch::Aarch64), None);
        assert_eq!(number("keyctl", Arch::Aarch64), Some(219));
        assert_eq!(number("clone3", Arch::Aarch64), Some(435));
        assert_eq!(number("no_such_call", Arch::X86_64), None);
    }

    /// The table against the libc crate's constants, on the machine's own
    /// architecture.
    #[test]
    fn the_table_agrees_with_libc() {
        let arch = Arch::native().unwrap();
        for (name, nr) in [
            ("read", libc::SYS_read),
            ("write", libc::SYS_write),
            ("openat", libc::SYS_openat),
            ("execve", libc::SYS_execve),
            ("clone", libc::SYS_clone),
            ("clone3", libc::SYS_clone3),
            ("unshare", libc::SYS_unshare),
            ("setns", libc::SYS_setns),
            ("mount", libc::SYS_mount),
            ("keyctl", libc::SYS_keyctl),
            ("add_key", libc::SYS_add_key),
            ("perf_event_open", libc::SYS_perf_event_open),
            ("mkdirat", libc::SYS_mkdirat),
            ("personality", libc::SYS_personality),
            ("socket", libc::SYS_socket),
            ("getpid", libc::SYS_getpid),
            ("seccomp", libc::SYS_seccomp),
            ("mseal", libc::SYS_mseal),
        ] {
            assert_eq!(number(name, arch), Some(nr as u32), "{name}");
        }
    }

    #[test]
    fn docker_default_allows_the_ordinary_and_refuses_the_dangerous() {
        let filter = docker(&CapSet::docker_default());
        for name in [
            "read", "write", "openat", "execve", "getpid", "mmap", "futex",
        ] {
            assert_eq!(call(&filter, name, [0; 6]), ALLOW, "{name}");
        }
        for name in [
            "keyctl",
            "add_key",
            "mount",
            "unshare",
            "setns",
            "bpf",
            "io_uring_setup",
        ] {
            assert_eq!(call(&filter, name, [0; 6]), EPERM, "{name}");
        }
        assert!(filter.instructions() <= MAX_INSTRUCTIONS);
        assert!(
            filter.unknown_syscalls().is_empty(),
            "{:?}",
            filter.unknown_syscalls()
        );
    }

    #[test]
    fn clone_is_allowed_without_namespace_flags_only() {
        let filter = docker(&CapSet::docker_default());
        let sigchld = libc::SIGCHLD as u64;
        assert_eq!(call(&filter, "clone", [sigchld, 0, 0, 0, 0, 0]), ALLOW);
        let thread = (libc::CLONE_VM | libc::CLONE_THREAD | libc::CLONE_SIGHAND) as u64;
        assert_eq!(call(&filter, "clone", [thread, 0, 0, 0, 0, 0]), ALLOW);
        let newuser = libc::CLONE_NEWUSER as u64 | sigchld;
        assert_eq!(call(&filter, "clone", [newuser, 0, 0, 0, 0, 0]), EPERM);
        assert_eq!(call(&filter, "clone3", [0; 6]), ENOSYS);
    }

    #[test]
    fn capabilities_add_calls() {
        let admin = CapSet::docker_default()
            .with_changes(&["SYS_ADMIN".into()], &[])
            .unwrap();
        let filter = docker(&admin);
        assert_eq!(call(&filter, "mount", [0; 6]), ALLOW);
        assert_eq!(
            call(
                &filter,
                "unshare",
                [libc::CLONE_NEWUSER as u64, 0, 0, 0, 0, 0]
            ),
            ALLOW
        );
        assert_eq!(call(&filter, "clone3", [0; 6]), ALLOW);
        assert_eq!(
            call(&filter, "keyctl", [0; 6]),
            EPERM,
            "no capability allows keyctl"
        );

        let none = CapSet::docker_default()
            .with_changes(&[], &["ALL".into()])
            .unwrap();
        assert_eq!(call(&docker(&none), "chroot", [0; 6]), EPERM);
        assert_eq!(
            call(&docker(&CapSet::docker_default()), "chroot", [0; 6]),
            ALLOW
        );
    }

    #[test]
    fn argument_conditions_are_checked_on_all_64_bits() {
        let filter = docker(&CapSet::docker_default());
        assert_eq!(
            call(&filter, "personality", [0xffff_ffff, 0, 0, 0, 0, 0]),
            ALLOW
        );
        assert_eq!(
            call(&filter, "personality", [0x0040_0000, 0, 0, 0, 0, 0]),
            EPERM
        );
        assert_eq!(
            call(&filter, "personality", [0x1_0000_0008, 0, 0, 0, 0, 0]),
            EPERM
        );
        assert_eq!(
            call(&filter, "socket", [libc::AF_INET as u64, 0, 0, 0, 0, 0]),
            ALLOW
        );
        assert_eq!(call(&filter, "socket", [40, 0, 0, 0, 0, 0]), EPERM);
        // The kernel reads the family from the low 32 bits: AF_VSOCK with
        // high bits set is still AF_VSOCK, and is refused.
        assert_eq!(
            call(&filter, "socket", [(1 << 32) | 40, 0, 0, 0, 0, 0]),
            EPERM
        );
        assert_eq!(
            call(&filter, "socket", [(1 << 32) | 2, 0, 0, 0, 0, 0]),
            ALLOW
        );
    }

    #[test]
    fn a_refusing_entry_matches_on_the_low_32_bits_too() {
        let profile = Profile::parse(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["socket"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_EQ"},
                          {"index": 1, "value": 1, "op": "SCMP_CMP_EQ"}]}
            ]}"#,
        )
        .unwrap();
        let filter = compile_profile(&profile, &CapSet::default(), Arch::X86_64, KERNEL).unwrap();
        assert_eq!(call(&filter, "socket", [40, 1, 0, 0, 0, 0]), EPERM);
        assert_eq!(
            call(&filter, "socket", [(1 << 32) | 40, 1, 0, 0, 0, 0]),
            EPERM
        );
        assert_eq!(
            call(&filter, "socket", [40, (1 << 32) | 1, 0, 0, 0, 0]),
            EPERM
        );
        assert_eq!(call(&filter, "socket", [40, 2, 0, 0, 0, 0]), ALLOW);
        assert_eq!(call(&filter, "socket", [2, 1, 0, 0, 0, 0]), ALLOW);
    }

    #[test]
    fn other_architectures_are_killed_and_x32_gets_the_default() {
        let filter = docker(&CapSet::docker_default());
        let i386 = 0x4000_0003;
        assert_eq!(
            run(&filter, i386, 0, [0; 6]),
            libc::SECCOMP_RET_KILL_PROCESS
        );
        let x32_read = 0x4000_0000;
        assert_eq!(run(&filter, X86_64, x32_read, [0; 6]), EPERM);
    }

    #[test]
    fn the_first_matching_entry_decides() {
        let profile = Profile::parse(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                 "args": [{"index": 1, "value": 448, "op": "SCMP_CMP_EQ"}]},
                {"names": ["mkdir", "rmdir"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["mkdir", "getpid"], "action": "SCMP_ACT_KILL_PROCESS"}
            ]}"#,
        )
        .unwrap();
        let filter = compile_profile(&profile, &CapSet::default(), Arch::X86_64, KERNEL).unwrap();
        let eacces = libc::SECCOMP_RET_ERRNO | libc::EACCES as u32;
        assert_eq!(call(&filter, "mkdir", [0, 0o700, 0, 0, 0, 0]), eacces);
        assert_eq!(call(&filter, "mkdir", [0, 0o755, 0, 0, 0, 0]), EPERM);
        assert_eq!(call(&filter, "rmdir", [0; 6]), EPERM);
        assert_eq!(
            call(&filter, "getpid", [0; 6]),
            libc::SECCOMP_RET_KILL_PROCESS
        );
        assert_eq!(call(&filter, "read", [0; 6]), ALLOW);
    }

    #[test]
    fn entries_apply_by_architecture_and_kernel_version() {
        let profile = Profile::parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
                {"names": ["uname"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}},
                {"names": ["getpid"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "6.2"}},
                {"names": ["gettid"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "6.2"}}
            ]}"#,
        )
        .unwrap();
        let filter = compile_profile(&profile, &CapSet::default(), Arch::X86_64, KERNEL).unwrap();
        assert_eq!(call(&filter, "arch_prctl", [0; 6]), ALLOW);
        assert_eq!(call(&filter, "uname", [0; 6]), EPERM);
        assert_eq!(
            call(&filter, "getpid", [0; 6]),
            EPERM,
            "needs 6.2, runs on 6.1"
        );
        assert_eq!(call(&filter, "gettid", [0; 6]), ALLOW);
    }

    #[test]
    fn a_masked_comparison_that_cannot_hold_voids_its_entry() {
        let profile = Profile::parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["getpid"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 1, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]}
            ]}"#,
        )
        .unwrap();
        let filter = compile_profile(&profile, &CapSet::default(), Arch::X86_64, KERNEL).unwrap();
        assert_eq!(call(&filter, "getpid", [2, 0, 0, 0, 0, 0]), EPERM);
    }

    #[test]
    fn an_empty_profile_is_its_default_action() {
        let profile = Profile::parse(r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#).unwrap();
        let filter = compile_profile(&profile, &CapSet::default(), Arch::X86_64, KERNEL).unwrap();
        assert_eq!(call(&filter, "keyctl", [0; 6]), ALLOW);
        assert_eq!(
            run(&filter, 0x4000_0003, 0, [0; 6]),
            libc::SECCOMP_RET_KILL_PROCESS
        );
    }
}
