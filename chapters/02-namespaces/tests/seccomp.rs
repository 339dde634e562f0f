//! Seccomp filters in the real kernel.
//!
//! Each test compiles a filter in the test process, forks, and lets the
//! child apply it and make raw system calls. The test harness runs threads,
//! so the child does only what is safe after `fork` in such a process: no
//! allocation, no locks; system calls only, results written as numbers to a
//! pipe, then `execve` or `_exit`. Every call is chosen to change nothing
//! on the host when it is allowed (a mount on a path that does not exist, a
//! key added to a keyring that does not exist).

use ch02_namespaces::caps::CapSet;
use ch02_namespaces::seccomp::{self, Filter, SeccompMode};
use nix::errno::Errno;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork};
use skiff_testkit::require_root;
use std::ffi::{CString, c_char};
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// One raw system call for the child to make.
#[derive(Clone, Copy)]
struct Call {
    name: &'static str,
    nr: libc::c_long,
    args: [u64; 6],
}

/// What the child reported: the result of applying the filter, then of
/// each call (its return value, or minus its errno), then of the first
/// call made again by a grandchild forked after the filter; and how the
/// child ended.
struct Report {
    applied: i64,
    results: Vec<(&'static str, i64)>,
    grandchild: i64,
    status: WaitStatus,
}

impl Report {
    fn result(&self, name: &str) -> i64 {
        self.results
            .iter()
            .find(|(call, _)| *call == name)
            .unwrap_or_else(|| panic!("no call {name}"))
            .1
    }

    fn assert_refused(&self, name: &str, errno: Errno) {
        assert_eq!(
            self.result(name),
            -(errno as i64),
            "{name} should fail with {errno}"
        );
    }

    fn assert_not_refused(&self, name: &str) {
        let result = self.result(name);
        assert!(
            result != -(Errno::EPERM as i64) && result != -(Errno::ENOSYS as i64),
            "{name} was refused ({result}) without a filter"
        );
    }
}

/// A program for the child to run last, prepared before the fork.
struct Exec {
    path: CString,
    _argv: Vec<CString>,
    argv: Vec<*const c_char>,
    envp: [*const c_char; 1],
}

impl Exec {
    fn new(argv: &[&str]) -> Exec {
        let owned: Vec<CString> = argv.iter().map(|a| CString::new(*a).unwrap()).collect();
        let mut pointers: Vec<*const c_char> = owned.iter().map(|a| a.as_ptr()).collect();
        pointers.push(std::ptr::null());
        Exec {
            path: owned[0].clone(),
            _argv: owned,
            argv: pointers,
            envp: [std::ptr::null()],
        }
    }
}

/// Forks a child that applies `filter` (if any), makes `calls`, forks a
/// grandchild that makes `calls[0]` again, and then runs `exec` (or exits).
fn in_child(filter: Option<&Filter>, calls: &[Call], exec: Option<&Exec>) -> Report {
    let (reader, writer) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    // SAFETY: the child below only makes system calls (through libc, with
    // arguments prepared before the fork), writes to a pipe and ends with
    // execve or _exit: nothing that takes a lock or allocates.
    match unsafe { fork() }.unwrap() {
        ForkResult::Child => {
            drop(reader);
            child(&writer, filter, calls, exec)
        }
        ForkResult::Parent { child } => {
            drop(writer);
            let mut bytes = Vec::new();
            std::fs::File::from(reader).read_to_end(&mut bytes).unwrap();
            let status = waitpid(child, None).unwrap();
            let numbers: Vec<i64> = bytes
                .chunks_exact(8)
                .map(|chunk| i64::from_ne_bytes(chunk.try_into().unwrap()))
                .collect();
            assert_eq!(
                numbers.len(),
                calls.len() + 2,
                "the child reported {} numbers ({status:?})",
                numbers.len()
            );
            Report {
                applied: numbers[0],
                results: calls
                    .iter()
                    .zip(&numbers[1..])
                    .map(|(call, result)| (call.name, *result))
                    .collect(),
                grandchild: numbers[calls.len() + 1],
                status,
            }
        }
    }
}

/// The child's side. Returns never.
fn child(report: &OwnedFd, filter: Option<&Filter>, calls: &[Call], exec: Option<&Exec>) -> ! {
    let send = |value: i64| {
        let bytes = value.to_ne_bytes();
        // SAFETY: writing 8 bytes from a live buffer to an open descriptor.
        unsafe { libc::write(report.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
    };
    let applied = match filter {
        None => 0,
        Some(filter) => match filter.apply() {
            Ok(()) => 0,
            Err(errno) => -(errno as i64),
        },
    };
    send(applied);
    for call in calls {
        send(raw(call));
    }
    // SAFETY: fork in a single-threaded child; the grandchild only makes a
    // system call, writes and exits.
    match unsafe { libc::fork() } {
        0 => {
            send(raw(&calls[0]));
            // SAFETY: ending the grandchild without running atexit handlers.
            unsafe { libc::_exit(0) }
        }
        -1 => send(i64::MIN),
        grandchild => {
            // SAFETY: waiting for our own child; a null status pointer is allowed.
            unsafe { libc::waitpid(grandchild, std::ptr::null_mut(), 0) };
        }
    }
    if let Some(exec) = exec {
        // SAFETY: path, argv and envp are NUL-terminated and outlive the call.
        unsafe { libc::execve(exec.path.as_ptr(), exec.argv.as_ptr(), exec.envp.as_ptr()) };
    }
    // SAFETY: ending the child without running the parent's atexit handlers.
    unsafe { libc::_exit(if exec.is_some() { 127 } else { 0 }) }
}

/// Makes `call` with the raw system call; its result or minus its errno.
fn raw(call: &Call) -> i64 {
    let [a, b, c, d, e, f] = call.args;
    // SAFETY: the calls and arguments are chosen by the tests to be harmless;
    // pointers among the arguments point to data that outlives the call.
    let result = unsafe { libc::syscall(call.nr, a, b, c, d, e, f) };
    if result == -1 {
        -(Errno::last_raw() as i64)
    } else {
        result as i64
    }
}

fn call(name: &'static str, nr: libc::c_long, args: &[u64]) -> Call {
    let mut all = [0u64; 6];
    all[..args.len()].copy_from_slice(args);
    Call {
        name,
        nr,
        args: all,
    }
}

/// The data the calls point to, kept alive while the child runs.
struct Fixtures {
    _dir: tempfile::TempDir,
    absent: CString,
    tmpfs: CString,
    none: CString,
    user: CString,
    description: CString,
    /// A `perf_event_attr` (version 0, 64 bytes): a software "dummy" event.
    perf_attr: [u64; 8],
}

impl Fixtures {
    fn new() -> Fixtures {
        let dir = tempfile::tempdir().unwrap();
        let absent = dir.path().join("absent");
        let software = 1u64; // PERF_TYPE_SOFTWARE
        let dummy = 9u64; // PERF_COUNT_SW_DUMMY
        Fixtures {
            absent: CString::new(absent.to_str().unwrap()).unwrap(),
            _dir: dir,
            tmpfs: c"tmpfs".into(),
            none: c"none".into(),
            user: c"user".into(),
            description: c"skiff-seccomp-test".into(),
            perf_attr: [software | (64 << 32), dummy, 0, 0, 0, 0, 0, 0],
        }
    }

    /// The calls docker's profile refuses to a container without
    /// `CAP_SYS_ADMIN`; `keyctl` first, the grandchild repeats it.
    fn dangerous(&self) -> Vec<Call> {
        let address = |c: &CString| c.as_ptr() as u64;
        let session_keyring = -3i64 as u64; // KEY_SPEC_SESSION_KEYRING
        vec![
            call("keyctl", libc::SYS_keyctl, &[0, session_keyring, 0]), // KEYCTL_GET_KEYRING_ID
            // Keyring 0 does not exist: allowed, the call fails with EINVAL.
            call(
                "add_key",
                libc::SYS_add_key,
                &[
                    address(&self.user),
                    address(&self.description),
                    address(&self.user),
                    4,
                    0,
                ],
            ),
            call(
                "perf_event_open",
                libc::SYS_perf_event_open,
                &[
                    self.perf_attr.as_ptr() as u64,
                    0,
                    -1i64 as u64,
                    -1i64 as u64,
                    0,
                ],
            ),
            // The mount point does not exist: allowed, the call fails with ENOENT.
            call(
                "mount",
                libc::SYS_mount,
                &[
                    address(&self.none),
                    address(&self.absent),
                    address(&self.tmpfs),
                    0,
                    0,
                ],
            ),
            call(
                "socket(AF_VSOCK)",
                libc::SYS_socket,
                &[libc::AF_VSOCK as u64, libc::SOCK_STREAM as u64, 0],
            ),
            // A null structure of size 0: allowed, the call fails with EINVAL.
            call("clone3", libc::SYS_clone3, &[0, 0]),
            // Last: allowed, it moves the child into a new user namespace.
            call(
                "unshare(CLONE_NEWUSER)",
                libc::SYS_unshare,
                &[libc::CLONE_NEWUSER as u64],
            ),
        ]
    }
}

fn docker_default_filter(caps: &CapSet) -> Filter {
    seccomp::compile(&SeccompMode::Default, caps)
        .unwrap()
        .expect("the default mode has a filter")
}

#[test]
fn the_default_filter_refuses_what_docker_refuses() {
    require_root();
    let fixtures = Fixtures::new();
    let filter = docker_default_filter(&CapSet::docker_default());
    let mut calls = fixtures.dangerous();
    calls.extend([
        call("getpid", libc::SYS_getpid, &[]),
        // The kernel reads the family from the low 32 bits: still AF_VSOCK.
        call(
            "socket(AF_VSOCK | 1 << 32)",
            libc::SYS_socket,
            &[
                (1 << 32) | libc::AF_VSOCK as u64,
                libc::SOCK_STREAM as u64,
                0,
            ],
        ),
        call(
            "socket(AF_UNIX)",
            libc::SYS_socket,
            &[libc::AF_UNIX as u64, libc::SOCK_STREAM as u64, 0],
        ),
        call("personality(query)", libc::SYS_personality, &[0xffff_ffff]),
        call(
            "personality(READ_IMPLIES_EXEC)",
            libc::SYS_personality,
            &[0x0040_0000],
        ),
        call(
            "clone(CLONE_NEWUSER)",
            libc::SYS_clone,
            &[(libc::CLONE_NEWUSER | libc::SIGCHLD) as u64, 0, 0, 0, 0],
        ),
    ]);
    let report = in_child(Some(&filter), &calls, Some(&Exec::new(&["/bin/true"])));

    assert_eq!(report.applied, 0, "seccomp(SECCOMP_SET_MODE_FILTER) failed");
    for name in [
        "keyctl",
        "add_key",
        "perf_event_open",
        "mount",
        "socket(AF_VSOCK)",
        "socket(AF_VSOCK | 1 << 32)",
        "unshare(CLONE_NEWUSER)",
        "personality(READ_IMPLIES_EXEC)",
        "clone(CLONE_NEWUSER)",
    ] {
        report.assert_refused(name, Errno::EPERM);
    }
    report.assert_refused("clone3", Errno::ENOSYS);
    assert!(report.result("getpid") > 0);
    assert!(
        report.result("socket(AF_UNIX)") >= 0,
        "socket(AF_UNIX) was refused"
    );
    assert!(report.result("personality(query)") >= 0);
    // fork was allowed (clone without namespace flags), and the grandchild
    // inherited the filter.
    assert_eq!(
        report.grandchild,
        -(Errno::EPERM as i64),
        "fork or inheritance failed"
    );
    // execve was allowed, and /bin/true ran (loader and all) under the filter.
    assert!(
        matches!(report.status, WaitStatus::Exited(_, 0)),
        "/bin/true under the filter: {:?}",
        report.status
    );
}

#[test]
fn unconfined_refuses_nothing() {
    require_root();
    let fixtures = Fixtures::new();
    let filter = seccomp::compile(&SeccompMode::Unconfined, &CapSet::docker_default()).unwrap();
    assert!(filter.is_none());
    let report = in_child(None, &fixtures.dangerous(), None);
    for (name, _) in &report.results {
        report.assert_not_refused(name);
    }
    assert!(matches!(report.status, WaitStatus::Exited(_, 0)));
}

#[test]
fn cap_sys_admin_brings_back_mount_and_unshare() {
    require_root();
    let fixtures = Fixtures::new();
    let caps = CapSet::docker_default()
        .with_changes(&["SYS_ADMIN".into()], &[])
        .unwrap();
    let report = in_child(
        Some(&docker_default_filter(&caps)),
        &fixtures.dangerous(),
        None,
    );
    assert_eq!(report.applied, 0);
    assert_eq!(report.result("mount"), -(Errno::ENOENT as i64));
    assert_eq!(report.result("unshare(CLONE_NEWUSER)"), 0);
    report.assert_not_refused("clone3");
    // No capability brings back the keyring.
    report.assert_refused("keyctl", Errno::EPERM);
    report.assert_refused("add_key", Errno::EPERM);
}

#[test]
fn a_custom_profile_is_obeyed_by_the_kernel_and_by_programs_run_later() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("no-mkdir.json");
    std::fs::write(
        &profile,
        r#"{
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
            ]
        }"#,
    )
    .unwrap();
    let filter = seccomp::compile(&SeccompMode::Profile(profile), &CapSet::docker_default())
        .unwrap()
        .unwrap();
    let by_call = dir.path().join("by-call");
    let by_busybox = dir.path().join("by-busybox");
    let path = CString::new(by_call.to_str().unwrap()).unwrap();
    let mkdirat = call(
        "mkdirat",
        libc::SYS_mkdirat,
        &[libc::AT_FDCWD as u64, path.as_ptr() as u64, 0o755],
    );
    let getpid = call("getpid", libc::SYS_getpid, &[]);
    let calls: Vec<Call> = [mkdirat, getpid]
        .into_iter()
        .chain(plain_mkdir(&path))
        .collect();
    let busybox = Exec::new(&["/bin/busybox", "mkdir", by_busybox.to_str().unwrap()]);
    let report = in_child(Some(&filter), &calls, Some(&busybox));

    assert_eq!(report.applied, 0);
    report.assert_refused("mkdirat", Errno::EACCES);
    if cfg!(target_arch = "x86_64") {
        report.assert_refused("mkdir", Errno::EACCES);
    }
    assert!(report.result("getpid") > 0);
    // The filter outlives execve: busybox's mkdir fails too.
    assert!(
        matches!(report.status, WaitStatus::Exited(_, 1)),
        "busybox mkdir under the filter: {:?}",
        report.status
    );
    assert!(!Path::new(&by_call).exists() && !Path::new(&by_busybox).exists());
}

/// `mkdir` itself, where the architecture has it (aarch64 has only
/// `mkdirat`; there the profile's "mkdir" is skipped).
fn plain_mkdir(path: &CString) -> Option<Call> {
    #[cfg(target_arch = "x86_64")]
    return Some(call(
        "mkdir",
        libc::SYS_mkdir,
        &[path.as_ptr() as u64, 0o755],
    ));
    #[cfg(not(target_arch = "x86_64"))]
    return {
        let _ = path;
        None
    };
}

/// The kernel's rule: without `CAP_SYS_ADMIN`, a filter needs
/// `no_new_privs` first.
#[test]
fn without_cap_sys_admin_a_filter_needs_no_new_privs() {
    require_root();
    let fixtures = Fixtures::new();
    let filter = docker_default_filter(&CapSet::docker_default());
    let (reader, writer) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let keyctl = fixtures.dangerous()[0];
    // SAFETY: the child only makes system calls and writes to a pipe.
    match unsafe { fork() }.unwrap() {
        ForkResult::Child => {
            drop(reader);
            let send = |value: i64| {
                let bytes = value.to_ne_bytes();
                // SAFETY: 8 bytes from a live buffer to an open descriptor.
                unsafe { libc::write(writer.as_raw_fd(), bytes.as_ptr().cast(), 8) };
            };
            // Drop every capability (capset, version 3, all sets empty).
            let header = [0x2008_0522u32, 0];
            let data = [0u32; 6];
            // SAFETY: header and data have capset's v3 layout and live through the call.
            let dropped =
                unsafe { libc::syscall(libc::SYS_capset, header.as_ptr(), data.as_ptr()) };
            send(dropped);
            send(match filter.apply() {
                Ok(()) => 0,
                Err(errno) => -(errno as i64),
            });
            // SAFETY: prctl with integer arguments.
            send(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } as i64);
            send(match filter.apply() {
                Ok(()) => 0,
                Err(errno) => -(errno as i64),
            });
            send(raw(&keyctl));
            // SAFETY: ending the child without running atexit handlers.
            unsafe { libc::_exit(0) }
        }
        ForkResult::Parent { child } => {
            drop(writer);
            let mut bytes = Vec::new();
            std::fs::File::from(reader).read_to_end(&mut bytes).unwrap();
            waitpid(child, None).unwrap();
            let steps: Vec<i64> = bytes
                .chunks_exact(8)
                .map(|chunk| i64::from_ne_bytes(chunk.try_into().unwrap()))
                .collect();
            assert_eq!(steps.len(), 5, "{steps:?}");
            assert_eq!(steps[0], 0, "capset failed");
            assert_eq!(
                steps[1],
                -(Errno::EACCES as i64),
                "a filter without NNP or CAP_SYS_ADMIN"
            );
            assert_eq!(steps[2], 0, "prctl(PR_SET_NO_NEW_PRIVS) failed");
            assert_eq!(steps[3], 0, "a filter after PR_SET_NO_NEW_PRIVS");
            assert_eq!(steps[4], -(Errno::EPERM as i64), "keyctl under the filter");
        }
    }
}
