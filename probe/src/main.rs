//! `probe`: reports what a process sees, in a stable text form.
//!
//! The tests run this program inside containers and compare what it prints
//! with what they expect: its pid, its hostname, its capabilities, its
//! mounts, its network interfaces. It is linked statically (see the testkit's
//! build script), so it runs in any root filesystem, even an empty one.
//!
//! It uses only the standard library and a few C functions of libc, declared
//! by hand below, so that it builds with a single `rustc` call.
//!
//! ```text
//! probe                    every report section, in a fixed order
//! probe SECTION...         some sections: pid ppid hostname ids caps nnp
//!                          cgroup cpus mounts fds net env cwd
//! probe try-mount          try to mount a tmpfs on /mnt; print ok or the errno
//! probe syscalls           try calls docker's seccomp profile refuses (read-only
//!                          ones: nothing changes even when they are allowed)
//! probe write PATH         try to create and write PATH
//! probe read PATH          try to read PATH (prints it, or says it is empty)
//! probe ls PATH            list a directory
//! probe chroot-escape      try the classic breakout from a chroot
//! probe hog MIB            allocate and touch MIB mebibytes, reporting progress
//! probe forks N            start N sleeping children; report how many started
//! probe spin SECONDS       burn CPU for SECONDS
//! probe count              print a counter every 100 ms until killed
//! probe sleep SECONDS      sleep
//! probe signals            print each signal received (TERM ends it)
//! probe exit CODE          exit with CODE
//! probe sink PORT          accept one TCP connection on PORT (printing "ready"
//!                          once listening), read it to its end, print the bytes
//! probe source ADDR:PORT MIB   send MIB mebibytes over TCP; print the rate in MB/s
//! probe resolve NAME       ask the first nameserver of /etc/resolv.conf for
//!                          NAME's IPv4 addresses; print them, one a line
//! ```

use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_ulong, c_void};
use std::io::Write;
use std::time::{Duration, Instant};

mod sys {
    use super::*;

    #[repr(C)]
    pub struct IfAddrs {
        pub next: *mut IfAddrs,
        pub name: *const c_char,
        pub flags: c_uint,
        pub addr: *const SockAddr,
        pub netmask: *const SockAddr,
        pub broadaddr: *const SockAddr,
        pub data: *mut c_void,
    }

    #[repr(C)]
    pub struct SockAddr {
        pub family: u16,
        pub data: [u8; 26],
    }

    pub const AF_INET: u16 = 2;
    pub const AF_INET6: u16 = 10;
    pub const IFF_UP: c_uint = 1;

    unsafe extern "C" {
        pub fn getifaddrs(ifap: *mut *mut IfAddrs) -> c_int;
        pub fn freeifaddrs(ifa: *mut IfAddrs);
        pub fn mount(
            src: *const c_char,
            target: *const c_char,
            fstype: *const c_char,
            flags: c_ulong,
            data: *const c_void,
        ) -> c_int;
        pub fn umount(target: *const c_char) -> c_int;
        pub fn sched_getaffinity(pid: c_int, size: usize, mask: *mut u8) -> c_int;
        pub fn fork() -> c_int;
        pub fn pause() -> c_int;
        pub fn signal(sig: c_int, handler: usize) -> usize;
        pub fn getppid() -> c_int;
        pub fn syscall(number: std::ffi::c_long, ...) -> std::ffi::c_long;
        pub fn _exit(code: c_int) -> !;
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        None => report(&SECTIONS.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
        Some("try-mount") => try_mount(),
        Some("syscalls") => syscalls(),
        Some("write") => write_file(arg(&args, 1)),
        Some("read") => read_file(arg(&args, 1)),
        Some("ls") => list(arg(&args, 1)),
        Some("chroot-escape") => chroot_escape(),
        Some("hog") => hog(number(&args, 1)),
        Some("forks") => forks(number(&args, 1)),
        Some("spin") => spin(number(&args, 1)),
        Some("count") => count(),
        Some("sleep") => {
            std::thread::sleep(Duration::from_secs_f64(
                arg(&args, 1).parse().unwrap_or(1.0),
            ));
            0
        }
        Some("signals") => signals(),
        Some("exit") => number(&args, 1) as i32,
        Some("sink") => sink(arg(&args, 1)),
        Some("source") => source(arg(&args, 1), number(&args, 2)),
        Some("resolve") => resolve(arg(&args, 1)),
        Some(_) => report(&args),
    };
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}

/// Accepts one TCP connection and reads it to its end: the receiving side of
/// a throughput measurement.
fn sink(port: &str) -> i32 {
    use std::io::Read;
    let listener = match std::net::TcpListener::bind(("0.0.0.0", port.parse().unwrap_or(0))) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("probe: bind: {e}");
            return 1;
        }
    };
    println!("ready");
    let _ = std::io::stdout().flush();
    let Ok((mut stream, _)) = listener.accept() else {
        return 1;
    };
    let mut buffer = vec![0u8; 1 << 16];
    let mut total: u64 = 0;
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return 1,
        }
    }
    println!("received {total} bytes");
    0
}

/// Sends `mib` mebibytes of zeros to `address`; prints how fast.
fn source(address: &str, mib: u64) -> i32 {
    let mut stream = match std::net::TcpStream::connect(address) {
        Ok(stream) => stream,
        Err(e) => {
            eprintln!("probe: connect {address}: {e}");
            return 1;
        }
    };
    let chunk = vec![0u8; 1 << 20];
    let start = Instant::now();
    for _ in 0..mib {
        if stream.write_all(&chunk).is_err() {
            return 1;
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Write);
    // Wait for the sink to close: every byte has then been read.
    let mut rest = [0u8; 16];
    let _ = std::io::Read::read(&mut stream, &mut rest);
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "sent {mib} MiB in {seconds:.3} s: {:.0} MB/s",
        (mib << 20) as f64 / seconds / 1e6
    );
    0
}

/// Tries system calls that docker's default seccomp profile refuses, with
/// arguments that change nothing when the call is allowed: the kernel's
/// answer is then another error, or a harmless success.
fn syscalls() -> i32 {
    // x86_64 numbers (the probe is built for the machine the tests run on).
    const ADD_KEY: std::ffi::c_long = 248;
    const KEYCTL: std::ffi::c_long = 250;
    const PERF_EVENT_OPEN: std::ffi::c_long = 298;
    const UNSHARE: std::ffi::c_long = 272;
    const KEYCTL_GET_KEYRING_ID: std::ffi::c_long = 0;
    const KEY_SPEC_USER_KEYRING: std::ffi::c_long = -4;
    const CLONE_NEWUSER: std::ffi::c_long = 0x1000_0000;
    // errno is read right after each call, before the next one changes it.
    let answer = |ret: std::ffi::c_long| {
        if ret >= 0 {
            "ok".to_string()
        } else {
            errno_name(&std::io::Error::last_os_error())
        }
    };
    // SAFETY (every call below): integer arguments or null pointers, which
    // the kernel checks; none writes into our memory.
    let keyctl =
        answer(unsafe { sys::syscall(KEYCTL, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0) });
    println!("keyctl: {keyctl}");
    // A null key type: EFAULT when the call is allowed.
    let add_key = answer(unsafe { sys::syscall(ADD_KEY, 0usize, 0usize, 0usize, 0usize, 0usize) });
    println!("add_key: {add_key}");
    // A null attribute: EFAULT when the call is allowed.
    let perf = answer(unsafe { sys::syscall(PERF_EVENT_OPEN, 0usize, 0, -1, -1, 0) });
    println!("perf_event_open: {perf}");
    // Last: when allowed, it moves the probe into a new user namespace.
    let unshare = answer(unsafe { sys::syscall(UNSHARE, CLONE_NEWUSER) });
    println!("unshare(CLONE_NEWUSER): {unshare}");
    0
}

fn arg(args: &[String], index: usize) -> &str {
    match args.get(index) {
        Some(value) => value,
        None => {
            eprintln!("probe: missing argument");
            std::process::exit(2);
        }
    }
}

fn number(args: &[String], index: usize) -> u64 {
    arg(args, index).parse().unwrap_or_else(|_| {
        eprintln!("probe: {:?} is not a number", args[index]);
        std::process::exit(2);
    })
}

const SECTIONS: [&str; 13] = [
    "pid", "ppid", "hostname", "ids", "caps", "nnp", "cgroup", "cpus", "mounts", "fds", "net",
    "env", "cwd",
];

fn report(sections: &[String]) -> i32 {
    let mut out = String::new();
    for section in sections {
        match section.as_str() {
            "pid" => out += &format!("pid: {}\n", std::process::id()),
            // SAFETY: getppid has no preconditions.
            "ppid" => out += &format!("ppid: {}\n", unsafe { sys::getppid() }),
            "hostname" => {
                out += &format!("hostname: {}\n", read_trimmed("/proc/sys/kernel/hostname"))
            }
            "ids" => {
                let status = read_trimmed("/proc/self/status");
                for (key, label) in [("Uid:", "uid"), ("Gid:", "gid")] {
                    let ids = field(&status, key)
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ");
                    out += &format!("{label}: {ids}\n");
                }
                out += &format!("uid_map: {}\n", squash(&read_trimmed("/proc/self/uid_map")));
            }
            "caps" => {
                let status = read_trimmed("/proc/self/status");
                for (key, label) in [
                    ("CapInh:", "inh"),
                    ("CapPrm:", "prm"),
                    ("CapEff:", "eff"),
                    ("CapBnd:", "bnd"),
                    ("CapAmb:", "amb"),
                ] {
                    out += &format!("cap.{label}: {}\n", field(&status, key));
                }
            }
            "nnp" => {
                let status = read_trimmed("/proc/self/status");
                out += &format!("no_new_privs: {}\n", field(&status, "NoNewPrivs:"));
            }
            "cgroup" => {
                for line in read_trimmed("/proc/self/cgroup").lines() {
                    out += &format!("cgroup: {line}\n");
                }
            }
            "cpus" => out += &format!("cpus: {}\n", affinity()),
            "mounts" => {
                for line in read_trimmed("/proc/self/mountinfo").lines() {
                    // mountinfo: id parent major:minor root mountpoint options ... - fstype source super
                    let fields: Vec<&str> = line.split(' ').collect();
                    let dash = fields
                        .iter()
                        .position(|f| *f == "-")
                        .unwrap_or(fields.len());
                    let fstype = fields.get(dash + 1).unwrap_or(&"?");
                    let options = fields.get(5).unwrap_or(&"?");
                    out += &format!(
                        "mount: {} {} {}\n",
                        fields.get(4).unwrap_or(&"?"),
                        fstype,
                        options
                    );
                }
            }
            "fds" => out += &format!("fds: {}\n", open_fds().join(" ")),
            "net" => {
                for line in interfaces() {
                    out += &format!("net: {line}\n");
                }
            }
            "env" => {
                let mut vars: Vec<String> = std::env::vars()
                    .map(|(k, v)| format!("env: {k}={v}\n"))
                    .collect();
                vars.sort();
                out += &vars.concat();
            }
            "cwd" => {
                let cwd = std::env::current_dir().map(|p| p.display().to_string());
                out += &format!("cwd: {}\n", cwd.unwrap_or_else(|e| errno_name(&e)));
            }
            other => {
                eprintln!(
                    "probe: unknown section {other:?}; sections: {}",
                    SECTIONS.join(" ")
                );
                return 2;
            }
        }
    }
    print!("{out}");
    0
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|e| errno_name(&e))
}

fn field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(str::trim)
        .unwrap_or("?")
}

fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The open descriptors, except the one `read_dir` itself holds.
fn open_fds() -> Vec<String> {
    let mut fds: Vec<u32> = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return vec!["?".into()];
    };
    let names: Vec<_> = dir.flatten().map(|e| e.file_name()).collect();
    for name in names {
        let Some(fd) = name.to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        // The directory handle read_dir used is closed by now: a readlink fails.
        if std::fs::read_link(format!("/proc/self/fd/{fd}")).is_ok() {
            fds.push(fd);
        }
    }
    fds.sort();
    fds.iter().map(u32::to_string).collect()
}

fn affinity() -> String {
    let mut mask = [0u8; 128];
    // SAFETY: the buffer is as large as the size we pass.
    if unsafe { sys::sched_getaffinity(0, mask.len(), mask.as_mut_ptr()) } != 0 {
        return errno_name(&std::io::Error::last_os_error());
    }
    let cpus: Vec<usize> = (0..mask.len() * 8)
        .filter(|i| mask[i / 8] & (1 << (i % 8)) != 0)
        .collect();
    ranges(&cpus)
}

/// `0,2-3` for [0, 2, 3], as `cpuset.cpus` writes it.
fn ranges(items: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < items.len() {
        let start = items[i];
        while i + 1 < items.len() && items[i + 1] == items[i] + 1 {
            i += 1;
        }
        parts.push(if items[i] == start {
            start.to_string()
        } else {
            format!("{start}-{}", items[i])
        });
        i += 1;
    }
    parts.join(",")
}

/// `lo up 127.0.0.1/8 ::1/128`, one line per interface, sorted by name.
fn interfaces() -> Vec<String> {
    let mut list: Vec<(String, bool, Vec<String>)> = Vec::new();
    let mut head: *mut sys::IfAddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below.
    if unsafe { sys::getifaddrs(&mut head) } != 0 {
        return vec![errno_name(&std::io::Error::last_os_error())];
    }
    let mut cursor = head;
    while !cursor.is_null() {
        // SAFETY: each node of the list is valid until freeifaddrs.
        let node = unsafe { &*cursor };
        // SAFETY: ifa_name is a NUL-terminated string.
        let name = unsafe { CStr::from_ptr(node.name) }
            .to_string_lossy()
            .into_owned();
        let up = node.flags & sys::IFF_UP != 0;
        let index = match list.iter().position(|(n, _, _)| *n == name) {
            Some(index) => index,
            None => {
                list.push((name, up, Vec::new()));
                list.len() - 1
            }
        };
        // SAFETY: addr and netmask, when set, point at sockaddrs of their family.
        if let Some(address) = unsafe { format_address(node.addr, node.netmask) } {
            list[index].2.push(address);
        }
        cursor = node.next;
    }
    // SAFETY: head came from getifaddrs.
    unsafe { sys::freeifaddrs(head) };
    list.sort();
    list.into_iter()
        .map(|(name, up, addrs)| {
            let state = if up { "up" } else { "down" };
            let mut line = format!("{name} {state}");
            for a in addrs {
                line += &format!(" {a}");
            }
            line
        })
        .collect()
}

/// # Safety
/// `addr` and `mask` are null or point at socket addresses of their family.
unsafe fn format_address(addr: *const sys::SockAddr, mask: *const sys::SockAddr) -> Option<String> {
    if addr.is_null() {
        return None;
    }
    // SAFETY: checked non-null; the caller vouches for the rest.
    let (addr, mask) = unsafe { (&*addr, mask.as_ref()) };
    let prefix = |bytes: &[u8]| bytes.iter().map(|b| b.count_ones()).sum::<u32>();
    match addr.family {
        sys::AF_INET => {
            let ip =
                std::net::Ipv4Addr::new(addr.data[2], addr.data[3], addr.data[4], addr.data[5]);
            let bits = mask.map_or(32, |m| prefix(&m.data[2..6]));
            Some(format!("{ip}/{bits}"))
        }
        sys::AF_INET6 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&addr.data[6..22]);
            let ip = std::net::Ipv6Addr::from(octets);
            let bits = mask.map_or(128, |m| prefix(&m.data[6..22]));
            Some(format!("{ip}/{bits}"))
        }
        _ => None,
    }
}

fn errno_name(error: &std::io::Error) -> String {
    let name = match error.raw_os_error() {
        Some(1) => "EPERM",
        Some(2) => "ENOENT",
        Some(11) => "EAGAIN",
        Some(12) => "ENOMEM",
        Some(13) => "EACCES",
        Some(14) => "EFAULT",
        Some(16) => "EBUSY",
        Some(17) => "EEXIST",
        Some(20) => "ENOTDIR",
        Some(22) => "EINVAL",
        Some(28) => "ENOSPC",
        Some(30) => "EROFS",
        _ => return format!("error: {error}"),
    };
    name.to_string()
}

fn outcome(result: std::io::Result<()>) -> i32 {
    match result {
        Ok(()) => {
            println!("ok");
            0
        }
        Err(error) => {
            println!("{}", errno_name(&error));
            1
        }
    }
}

fn c_string(text: &str) -> CString {
    CString::new(text).expect("no NUL in probe arguments")
}

fn try_mount() -> i32 {
    let (source, target, fstype) = (c_string("tmpfs"), c_string("/mnt"), c_string("tmpfs"));
    let _ = std::fs::create_dir_all("/mnt");
    // SAFETY: all pointers are valid C strings; data may be null.
    let ret = unsafe {
        sys::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    let result = if ret == 0 {
        // SAFETY: target is a valid C string.
        unsafe { sys::umount(target.as_ptr()) };
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    };
    print!("mount: ");
    outcome(result)
}

fn write_file(path: &str) -> i32 {
    print!("write {path}: ");
    outcome(std::fs::write(path, b"written by probe\n"))
}

fn read_file(path: &str) -> i32 {
    match std::fs::read_to_string(path) {
        Ok(text) if text.is_empty() => {
            println!("read {path}: empty");
            0
        }
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(error) => {
            println!("read {path}: {}", errno_name(&error));
            1
        }
    }
}

fn list(path: &str) -> i32 {
    match std::fs::read_dir(path) {
        Ok(entries) => {
            let mut names: Vec<String> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            println!("{}", names.join(" "));
            0
        }
        Err(error) => {
            println!("ls {path}: {}", errno_name(&error));
            1
        }
    }
}

/// The classic breakout: a chroot changes the root directory of a process
/// but leaves its current directory where it was. Chroot into a subdirectory
/// while keeping the current directory outside it, and `..` walks up to the
/// real root. After `pivot_root` and unmounting the old root there is no
/// "outside" left to walk to.
fn chroot_escape() -> i32 {
    // The classic breakout: chroot into a subdirectory *without* changing
    // into it, so the working directory is left outside the new root; then
    // ".." walks up past the old root, and chroot(".") makes that the root.
    use std::os::unix::fs::MetadataExt;
    let identity = |path: &str| std::fs::metadata(path).map(|m| (m.dev(), m.ino())).ok();
    let before = identity("/");
    let _ = std::fs::create_dir_all("/tmp/.escape");
    if let Err(error) = std::os::unix::fs::chroot("/tmp/.escape") {
        println!("chroot: {}", errno_name(&error));
        return 1;
    }
    for _ in 0..64 {
        let _ = std::env::set_current_dir("..");
    }
    if let Err(error) = std::os::unix::fs::chroot(".") {
        println!("chroot: {}", errno_name(&error));
        return 1;
    }
    let _ = std::env::set_current_dir("/");
    if identity("/") == before {
        println!("stayed inside: \"..\" at the top of our root is the root itself");
        1
    } else {
        println!("escaped: the root is now a directory above the one we were given");
        0
    }
}

fn hog(mebibytes: u64) -> i32 {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    for i in 1..=mebibytes {
        blocks.push(vec![1u8; 1 << 20]);
        if i % 16 == 0 || i == mebibytes {
            println!("allocated {i} MiB");
            let _ = std::io::stdout().flush();
        }
    }
    0
}

fn forks(count: u64) -> i32 {
    let mut started = 0;
    let mut failure = None;
    for _ in 0..count {
        // SAFETY: the probe is single-threaded; the child only pauses and exits.
        match unsafe { sys::fork() } {
            0 => {
                // SAFETY: pause and _exit are async-signal-safe.
                unsafe {
                    sys::pause();
                    sys::_exit(0)
                }
            }
            -1 => {
                failure = Some(std::io::Error::last_os_error());
                break;
            }
            _ => started += 1,
        }
    }
    match failure {
        Some(error) => println!("started {started} of {count}: fork: {}", errno_name(&error)),
        None => println!("started {started} of {count}"),
    }
    0
}

fn spin(seconds: u64) -> i32 {
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut x: u64 = 0;
    while Instant::now() < end {
        for i in 0..10_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
    }
    println!("spun ({})", x % 2);
    0
}

fn count() -> i32 {
    let mut n: u64 = 0;
    loop {
        println!("{n}");
        let _ = std::io::stdout().flush();
        n += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The last signal caught; 0 once the main loop has reported it.
static LAST_SIGNAL: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn on_signal(signal: c_int) {
    // An atomic store is async-signal-safe.
    LAST_SIGNAL.store(signal, std::sync::atomic::Ordering::SeqCst);
}

fn signals() -> i32 {
    const NAMES: [(c_int, &str); 6] = [
        (1, "HUP"),
        (2, "INT"),
        (3, "QUIT"),
        (10, "USR1"),
        (12, "USR2"),
        (15, "TERM"),
    ];
    for (signal, _) in NAMES {
        // SAFETY: on_signal is async-signal-safe.
        unsafe { sys::signal(signal, on_signal as *const () as usize) };
    }
    println!("ready");
    let _ = std::io::stdout().flush();
    loop {
        // Poll rather than pause(): a signal that arrives between a check
        // and pause() would be consumed by its handler and pause() would
        // then wait forever. The sleep ends early when a handler runs.
        let signal = LAST_SIGNAL.swap(0, std::sync::atomic::Ordering::SeqCst);
        if signal == 0 {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        let name = NAMES
            .iter()
            .find(|(n, _)| *n == signal)
            .map_or("?", |(_, name)| name);
        println!("got SIG{name}");
        let _ = std::io::stdout().flush();
        if signal == 15 {
            return 0;
        }
    }
}

/// `probe resolve NAME`: one DNS question (type A, class IN) over UDP to
/// the first `nameserver` of /etc/resolv.conf, written by hand (the
/// static C library cannot load its resolver modules); prints every
/// address of the answer, in the order given.
fn resolve(name: &str) -> i32 {
    let conf = read_trimmed("/etc/resolv.conf");
    let Some(server) = conf
        .lines()
        .find_map(|l| l.strip_prefix("nameserver "))
        .and_then(|s| s.trim().parse::<std::net::Ipv4Addr>().ok())
    else {
        eprintln!("probe: no IPv4 nameserver in /etc/resolv.conf");
        return 1;
    };
    let id = (std::process::id() & 0xffff) as u16;
    // Header: id, flags RD, 1 question, no answers.
    let mut query = Vec::new();
    query.extend_from_slice(&id.to_be_bytes());
    query.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 1, 0, 1]);
    let answer = (|| -> std::io::Result<Vec<u8>> {
        let socket = std::net::UdpSocket::bind("0.0.0.0:0")?;
        socket.set_read_timeout(Some(Duration::from_secs(3)))?;
        socket.send_to(&query, (server, 53))?;
        let mut buffer = [0u8; 1500];
        let n = socket.recv(&mut buffer)?;
        Ok(buffer[..n].to_vec())
    })();
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => {
            eprintln!("probe: asking {server}: {e}");
            return 1;
        }
    };
    if answer.len() < 12 || answer[..2] != id.to_be_bytes() {
        eprintln!("probe: not an answer to our question");
        return 1;
    }
    let rcode = answer[3] & 0x0f;
    if rcode != 0 {
        eprintln!("probe: {name}: response code {rcode}");
        return 1;
    }
    let count = u16::from_be_bytes([answer[6], answer[7]]);
    // Skip the question (ours, echoed): its name, type and class.
    let mut at = 12;
    while at < answer.len() && answer[at] != 0 {
        at += 1 + answer[at] as usize;
    }
    at += 5;
    for _ in 0..count {
        // A name: labels, or a 2-byte pointer (top bits 11).
        while at < answer.len() {
            let len = answer[at];
            if len & 0xc0 == 0xc0 {
                at += 2;
                break;
            }
            at += 1 + len as usize;
            if len == 0 {
                break;
            }
        }
        if at + 10 > answer.len() {
            break;
        }
        let kind = u16::from_be_bytes([answer[at], answer[at + 1]]);
        let length = u16::from_be_bytes([answer[at + 8], answer[at + 9]]) as usize;
        at += 10;
        if kind == 1 && length == 4 && at + 4 <= answer.len() {
            let a = &answer[at..at + 4];
            println!("{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
        }
        at += length;
    }
    0
}
