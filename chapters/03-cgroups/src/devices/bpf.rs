//! The cgroup v2 device program: eBPF instructions made from the rules,
//! loaded and attached with the `bpf(2)` system call.
//!
//! eBPF is a small virtual machine in the kernel: eleven 64-bit registers
//! (`r0` to `r10`), instructions of 8 bytes, no loops we need, and a
//! *verifier* that proves a program safe (every path ends, every memory
//! access is in bounds) before the kernel accepts it. A program of type
//! `BPF_PROG_TYPE_CGROUP_DEVICE` runs at every `open` of a device node and
//! every `mknod` by a process of the cgroup it is attached to. It gets, in
//! `r1`, a pointer to:
//!
//! ```c
//! struct bpf_cgroup_dev_ctx {
//!     __u32 access_type; /* (access << 16) | type */
//!     __u32 major;
//!     __u32 minor;
//! };
//! ```
//!
//! where `type` is 1 for block and 2 for character devices and `access` is
//! a set of bits: 1 mknod, 2 read, 4 write. It returns 1 to allow and 0 to
//! deny (the process sees `EPERM`).
//!
//! The program we generate is a chain of tests, one block per rule, in the
//! rule's order; the first rule that matches allows, and falling off the
//! end denies. For `c 1:3 rwm` and `b *:* m`, [`listing`] shows:
//!
//! ```text
//!    0: r2 = *(u32 *)(r1 +0)
//!    1: r3 = r2
//!    2: r3 &= 0xffff
//!    3: r2 >>= 16
//!    4: r4 = *(u32 *)(r1 +4)
//!    5: r5 = *(u32 *)(r1 +8)
//!    6: if r3 != 0x2 goto pc+4
//!    7: if r4 != 0x1 goto pc+3
//!    8: if r5 != 0x3 goto pc+2
//!    9: r0 = 1
//!   10: exit
//!   11: if r3 != 0x1 goto pc+3
//!   12: if r2 & 0x6 goto pc+2
//!   13: r0 = 1
//!   14: exit
//!   15: r0 = 0
//!   16: exit
//! ```
//!
//! Registers: `r2` the access wanted, `r3` the type, `r4` the major,
//! `r5` the minor. A wildcard number is no test at all, and an access test
//! asks "does the process want anything the rule does not give?": `r2 &
//! 0x6` is "read or write", which `b *:* m` does not allow.

use super::{Access, DeviceError, DeviceKind, DeviceRule};
use ch01_process::explain;
use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;
use std::fmt;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// `bpf(2)` commands (`enum bpf_cmd` in `linux/bpf.h`).
const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_QUERY: libc::c_int = 16;

/// `enum bpf_prog_type`: programs that decide device access for a cgroup.
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// `enum bpf_attach_type`: where such a program is attached.
const BPF_CGROUP_DEVICE: u32 = 6;
/// Attach flag: programs of parent and child cgroups all run, and each
/// must allow (see [`attach`]).
pub const BPF_F_ALLOW_MULTI: u32 = 2;

/// Block and character, as the context's `type` says them
/// (`BPF_DEVCG_DEV_*`).
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

// ANCHOR: insn
/// One eBPF instruction, laid out as the kernel reads it (`struct bpf_insn`):
/// an opcode, the destination and source registers in one byte (destination
/// in the low four bits), a 16-bit jump offset, a 32-bit immediate.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}
// ANCHOR_END: insn

/// Opcodes: a class in the low 3 bits, then an operation and a source.
mod op {
    /// `dst = *(u32 *)(src + off)`: BPF_LDX | BPF_MEM | BPF_W.
    pub const LOAD_U32: u8 = 0x61;
    /// `dst = src`: BPF_ALU64 | BPF_MOV | BPF_X.
    pub const MOV_REG: u8 = 0xbf;
    /// `dst = imm`: BPF_ALU64 | BPF_MOV | BPF_K.
    pub const MOV_IMM: u8 = 0xb7;
    /// `dst &= imm`: BPF_ALU64 | BPF_AND | BPF_K.
    pub const AND_IMM: u8 = 0x57;
    /// `dst >>= imm`: BPF_ALU64 | BPF_RSH | BPF_K.
    pub const RSH_IMM: u8 = 0x77;
    /// `if dst != imm goto pc + off`: BPF_JMP | BPF_JNE | BPF_K.
    pub const JNE_IMM: u8 = 0x55;
    /// `if dst & imm goto pc + off`: BPF_JMP | BPF_JSET | BPF_K.
    pub const JSET_IMM: u8 = 0x45;
    /// Return `r0`: BPF_JMP | BPF_EXIT.
    pub const EXIT: u8 = 0x95;
}

/// The registers the program uses.
const R0: u8 = 0;
const R1: u8 = 1;
const ACCESS: u8 = 2;
const TYPE: u8 = 3;
const MAJOR: u8 = 4;
const MINOR: u8 = 5;

impl Insn {
    const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: (src << 4) | dst,
            off,
            imm,
        }
    }

    fn dst(self) -> u8 {
        self.regs & 0x0f
    }

    fn src(self) -> u8 {
        self.regs >> 4
    }

    /// The opcode, source and destination registers, offset and immediate.
    pub fn fields(self) -> (u8, u8, u8, i16, i32) {
        (self.code, self.dst(), self.src(), self.off, self.imm)
    }
}

/// The kernel verifier's notation, so that a listing reads like `bpftool
/// prog dump xlated` does.
impl fmt::Display for Insn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (dst, src, off, imm) = (self.dst(), self.src(), self.off, self.imm);
        match self.code {
            op::LOAD_U32 => write!(f, "r{dst} = *(u32 *)(r{src} {off:+})"),
            op::MOV_REG => write!(f, "r{dst} = r{src}"),
            op::MOV_IMM => write!(f, "r{dst} = {imm}"),
            op::AND_IMM => write!(f, "r{dst} &= {imm:#x}"),
            op::RSH_IMM => write!(f, "r{dst} >>= {imm}"),
            op::JNE_IMM => write!(f, "if r{dst} != {imm:#x} goto pc+{off}"),
            op::JSET_IMM => write!(f, "if r{dst} & {imm:#x} goto pc+{off}"),
            op::EXIT => write!(f, "exit"),
            code => write!(f, "(opcode {code:#04x})"),
        }
    }
}

/// The program as numbered lines, for `--explain` and for the book.
pub fn listing(program: &[Insn]) -> String {
    program
        .iter()
        .enumerate()
        .map(|(pc, insn)| format!("{pc:4}: {insn}\n"))
        .collect()
}

// ANCHOR: program
/// The device program for `rules`: allow what one of them allows, deny the
/// rest.
pub fn program(rules: &[DeviceRule]) -> Vec<Insn> {
    // Unpack the context into registers once.
    let mut insns = vec![
        Insn::new(op::LOAD_U32, ACCESS, R1, 0, 0),
        Insn::new(op::MOV_REG, TYPE, ACCESS, 0, 0),
        Insn::new(op::AND_IMM, TYPE, 0, 0, 0xffff),
        Insn::new(op::RSH_IMM, ACCESS, 0, 0, 16),
        Insn::new(op::LOAD_U32, MAJOR, R1, 4, 0),
        Insn::new(op::LOAD_U32, MINOR, R1, 8, 0),
    ];
    for rule in rules {
        // Each test jumps past the rule's block when it fails.
        let mut tests: Vec<(u8, u8, i32)> = Vec::new();
        let kind = match rule.kind {
            DeviceKind::Block => DEV_BLOCK,
            DeviceKind::Char => DEV_CHAR,
        };
        tests.push((op::JNE_IMM, TYPE, kind));
        if let Some(major) = rule.major {
            tests.push((op::JNE_IMM, MAJOR, number(major)));
        }
        if let Some(minor) = rule.minor {
            tests.push((op::JNE_IMM, MINOR, number(minor)));
        }
        let missing = Access::ALL.bits() & !rule.access.bits();
        if missing != 0 {
            tests.push((op::JSET_IMM, ACCESS, i32::from(missing)));
        }
        // After test i come the tests after it, then "r0 = 1; exit".
        let count = tests.len();
        for (i, (code, register, value)) in tests.into_iter().enumerate() {
            let skip = (count - 1 - i) + 2;
            insns.push(Insn::new(code, register, 0, skip as i16, value));
        }
        insns.push(Insn::new(op::MOV_IMM, R0, 0, 0, 1));
        insns.push(Insn::new(op::EXIT, 0, 0, 0, 0));
    }
    insns.push(Insn::new(op::MOV_IMM, R0, 0, 0, 0));
    insns.push(Insn::new(op::EXIT, 0, 0, 0, 0));
    insns
}
// ANCHOR_END: program

/// A device number as a 32-bit immediate. The kernel sign-extends
/// immediates to 64 bits before comparing with a register; majors (12 bits)
/// and minors (20 bits) are small enough to stay positive.
fn number(n: u32) -> i32 {
    i32::try_from(n).expect("device numbers fit in 20 bits: DeviceRule checks them")
}

/// The license the program declares. It matters only for programs that call
/// GPL-only kernel helpers, and ours calls none.
const LICENSE: &[u8] = b"MIT OR Apache-2.0\0";

/// The name `bpftool prog` shows (at most 15 bytes and a NUL).
const PROGRAM_NAME: &[u8] = b"skiff_devices";

/// `union bpf_attr` as `BPF_PROG_LOAD` reads it, up to the fields we set.
/// The kernel accepts a shorter union than its own and zero-fills the rest.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
}

/// `union bpf_attr` as `BPF_PROG_ATTACH` reads it.
#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

/// `union bpf_attr` as `BPF_PROG_QUERY` reads and fills it.
#[repr(C)]
#[derive(Default)]
struct ProgQueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
}

/// Calls `bpf(cmd, attr, sizeof attr)`.
///
/// # Safety
///
/// `attr` must be the `bpf_attr` layout `cmd` expects, and every pointer in
/// it must be valid for what the kernel does with it during the call.
unsafe fn bpf<T>(cmd: libc::c_int, attr: &mut T) -> Result<libc::c_long, Errno> {
    // SAFETY: the caller vouches for `attr`; the size is that of `T`.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if ret < 0 { Err(Errno::last()) } else { Ok(ret) }
}

// ANCHOR: load
/// Hands `program` to the kernel, which verifies it and returns a file
/// descriptor for it. When the verifier refuses, loads it again with the
/// verifier's log turned on, to say why.
pub fn load(program: &[Insn]) -> Result<OwnedFd, DeviceError> {
    explain!(
        "bpf(BPF_PROG_LOAD, type = BPF_PROG_TYPE_CGROUP_DEVICE, {} instructions)",
        program.len()
    );
    match load_with_log(program, &mut []) {
        Ok(fd) => Ok(fd),
        Err(Errno::EACCES | Errno::EINVAL) => {
            let mut log = vec![0u8; 1 << 20];
            let source = match load_with_log(program, &mut log) {
                Ok(fd) => return Ok(fd),
                Err(source) => source,
            };
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            Err(DeviceError::Load {
                source,
                log: String::from_utf8_lossy(&log[..end]).trim_end().to_string(),
            })
        }
        Err(source) => Err(DeviceError::Load {
            source,
            log: String::new(),
        }),
    }
}

fn load_with_log(program: &[Insn], log: &mut [u8]) -> Result<OwnedFd, Errno> {
    let mut name = [0u8; 16];
    name[..PROGRAM_NAME.len()].copy_from_slice(PROGRAM_NAME);
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: program.len() as u32,
        insns: program.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        // No log means a null buffer: the kernel refuses a buffer without a
        // log level (EINVAL), and an empty slice's pointer is not null.
        log_level: u32::from(!log.is_empty()),
        log_size: log.len() as u32,
        log_buf: if log.is_empty() {
            0
        } else {
            log.as_mut_ptr() as u64
        },
        prog_name: name,
        ..ProgLoadAttr::default()
    };
    // SAFETY: the attr is BPF_PROG_LOAD's layout; `program`, `LICENSE` (NUL
    // terminated) and `log` (with its length) outlive the call, and the
    // kernel writes only within `log_size` bytes of `log`.
    let fd = unsafe { bpf(BPF_PROG_LOAD, &mut attr)? };
    // SAFETY: on success BPF_PROG_LOAD returns a new descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}
// ANCHOR_END: load

// ANCHOR: attach
/// Attaches a loaded device program to the cgroup at `dir`.
///
/// The flag is `BPF_F_ALLOW_MULTI`, as runc and systemd use: the programs
/// of a cgroup and of all its ancestors run, and an operation is allowed
/// only when *every* one allows it. A program attached below ours (by a
/// nested engine in the container, say) can only narrow what ours allows.
/// The other choices are worse: with no flag, nothing could be attached
/// below ours at all; with `BPF_F_ALLOW_OVERRIDE`, a program below ours would
/// *replace* it for its cgroup.
///
/// The cgroup keeps a reference to the program: closing our descriptor does
/// not detach it, and removing the cgroup does.
pub fn attach(dir: &Path, program: &OwnedFd) -> Result<(), DeviceError> {
    let cgroup = open_dir(dir)?;
    explain!(
        "bpf(BPF_PROG_ATTACH, {}, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)",
        dir.display()
    );
    let mut attr = ProgAttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: program.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    // SAFETY: the attr is BPF_PROG_ATTACH's layout and holds no pointer;
    // both descriptors are open for the whole call.
    unsafe { bpf(BPF_PROG_ATTACH, &mut attr) }.map_err(|source| DeviceError::Attach {
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(())
}
// ANCHOR_END: attach

/// The device programs attached to one cgroup (not those inherited from
/// its ancestors), as `bpftool cgroup list DIR` shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    /// The flags the programs were attached with.
    pub flags: u32,
    /// The kernel's ids of the programs, in the order they run.
    pub ids: Vec<u32>,
}

/// Lists the device programs attached to the cgroup at `dir`.
pub fn attached(dir: &Path) -> Result<Attached, DeviceError> {
    let cgroup = open_dir(dir)?;
    let mut ids = vec![0u32; 64];
    let mut attr = ProgQueryAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        ..ProgQueryAttr::default()
    };
    // SAFETY: the attr is BPF_PROG_QUERY's layout; `ids` holds `prog_cnt`
    // u32s and outlives the call, and the kernel writes no more than that.
    unsafe { bpf(BPF_PROG_QUERY, &mut attr) }.map_err(|source| DeviceError::Query {
        path: dir.to_path_buf(),
        source,
    })?;
    ids.truncate(attr.prog_cnt as usize);
    Ok(Attached {
        flags: attr.attach_flags,
        ids,
    })
}

/// Cgroup programs are attached to a descriptor of the cgroup's directory.
fn open_dir(dir: &Path) -> Result<OwnedFd, DeviceError> {
    open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|source| DeviceError::OpenDir {
        path: dir.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::{DEFAULT_RULES, allowed};

    /// Runs `program` as the kernel would on one request: a tiny
    /// interpreter for the opcodes [`program`] emits.
    fn run(program: &[Insn], kind: DeviceKind, major: u32, minor: u32, access: Access) -> u64 {
        let kind = match kind {
            DeviceKind::Block => 1u64,
            DeviceKind::Char => 2,
        };
        let ctx = [
            (u64::from(access.bits()) << 16) | kind,
            major.into(),
            minor.into(),
        ];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let insn = program[pc];
            let (code, dst, src, off, imm) = insn.fields();
            let (dst, src) = (usize::from(dst), usize::from(src));
            let imm64 = i64::from(imm) as u64;
            pc += 1;
            match code {
                op::LOAD_U32 => {
                    assert_eq!(src, 1, "loads only from the context");
                    r[dst] = ctx[off as usize / 4];
                }
                op::MOV_REG => r[dst] = r[src],
                op::MOV_IMM => r[dst] = imm64,
                op::AND_IMM => r[dst] &= imm64,
                op::RSH_IMM => r[dst] >>= imm,
                op::JNE_IMM if r[dst] != imm64 => pc += off as usize,
                op::JSET_IMM if r[dst] & imm64 != 0 => pc += off as usize,
                op::JNE_IMM | op::JSET_IMM => {}
                op::EXIT => return r[0],
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    #[test]
    fn the_listing_of_two_rules() {
        let rules = [
            DeviceRule::char(Some(1), Some(3), Access::ALL),
            DeviceRule::block(None, None, Access::MKNOD),
        ];
        let text = listing(&program(&rules));
        let expected = "   0: r2 = *(u32 *)(r1 +0)
   1: r3 = r2
   2: r3 &= 0xffff
   3: r2 >>= 16
   4: r4 = *(u32 *)(r1 +4)
   5: r5 = *(u32 *)(r1 +8)
   6: if r3 != 0x2 goto pc+4
   7: if r4 != 0x1 goto pc+3
   8: if r5 != 0x3 goto pc+2
   9: r0 = 1
  10: exit
  11: if r3 != 0x1 goto pc+3
  12: if r2 & 0x6 goto pc+2
  13: r0 = 1
  14: exit
  15: r0 = 0
  16: exit
";
        assert_eq!(text, expected);
    }

    #[test]
    fn the_program_decides_as_the_rules_say() {
        let program = program(DEFAULT_RULES);
        let accesses = [
            Access::MKNOD,
            Access::READ,
            Access::WRITE,
            Access::READ | Access::WRITE,
            Access::ALL,
        ];
        let mut allowed_count = 0;
        for kind in [DeviceKind::Char, DeviceKind::Block] {
            for major in [0, 1, 5, 7, 8, 10, 136, 4095] {
                for minor in [0, 1, 2, 3, 5, 7, 8, 9, 11, 200, 1 << 19] {
                    for access in accesses {
                        let want = allowed(DEFAULT_RULES, kind, major, minor, access);
                        let got = run(&program, kind, major, minor, access);
                        assert_eq!(
                            got,
                            u64::from(want),
                            "{kind:?} {major}:{minor} {access}: the program says {got}"
                        );
                        allowed_count += usize::from(want);
                    }
                }
            }
        }
        // Not a degenerate answer: some allowed, most denied.
        assert!(allowed_count > 20, "{allowed_count}");
        let denied = run(&program, DeviceKind::Block, 7, 0, Access::READ);
        assert_eq!(denied, 0, "a loop device must be denied");
        assert_eq!(run(&program, DeviceKind::Char, 1, 11, Access::WRITE), 0);
        assert_eq!(run(&program, DeviceKind::Char, 1, 3, Access::WRITE), 1);
    }

    #[test]
    fn no_rule_denies_everything() {
        let program = program(&[]);
        assert_eq!(program.len(), 8);
        assert_eq!(run(&program, DeviceKind::Char, 1, 3, Access::READ), 0);
    }

    #[test]
    fn the_verifier_explains_a_refusal() {
        skiff_testkit::require_root();
        // r0 is never set: returning an uninitialised register is refused.
        let bad = [Insn::new(op::EXIT, 0, 0, 0, 0)];
        let error = load(&bad).expect_err("the verifier accepted a program without r0");
        assert_eq!(error.errno(), Some(Errno::EACCES), "{error}");
        let message = error.to_string();
        assert!(message.contains("verifier log:"), "{message}");
        assert!(message.contains("R0 !read_ok"), "{message}");
    }

    #[test]
    fn attr_layouts_match_the_kernel() {
        // Offsets of linux/bpf.h: prog_name at 48 in the load attr, prog_cnt
        // at 24 in the query attr.
        assert_eq!(std::mem::size_of::<Insn>(), 8);
        assert_eq!(std::mem::offset_of!(ProgLoadAttr, log_buf), 32);
        assert_eq!(std::mem::offset_of!(ProgLoadAttr, prog_name), 48);
        assert_eq!(std::mem::offset_of!(ProgAttachAttr, attach_flags), 12);
        assert_eq!(std::mem::offset_of!(ProgQueryAttr, prog_ids), 16);
        assert_eq!(std::mem::offset_of!(ProgQueryAttr, prog_cnt), 24);
    }
}
