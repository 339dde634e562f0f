//! `ensure_sealed`, tested in processes of their own.
//!
//! `ensure_sealed` replaces the calling process with a new program, and it
//! refuses to run in a multi-threaded process: it cannot run inside the
//! test harness. So this test binary has no harness (`harness = false` in
//! Cargo.toml): started plainly, it runs the tests below; each test starts a
//! *copy* of this binary in a role (`SKIFF_SEALED_TEST_ROLE`), the way an
//! engine runs, and attacks it from outside as a container would: open
//! `/proc/PID/exe`, wait for the process to exit, open the same file again
//! for writing. Copies, so that a successful attack (the control test)
//! rewrites a throwaway file, never a binary of the workspace.

use ch01_process::sealed_exe::{REEXEC_MARKER, ensure_sealed, running_sealed};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

const ROLE: &str = "SKIFF_SEALED_TEST_ROLE";

fn main() {
    match std::env::var(ROLE).as_deref() {
        Ok("sealed") => runtime(true),
        Ok("unsealed") => runtime(false),
        Ok("threaded") => threaded_runtime(),
        _ => run_tests(),
    }
}

// ---------------------------------------------------------------------------
// The roles: what a copy of this binary does when a test starts it.

/// An engine: seals itself (or not), reports what it sees, then waits for a
/// line on stdin before it exits.
fn runtime(seal: bool) -> ! {
    if seal && let Err(error) = ensure_sealed() {
        println!("error: {error}");
        std::process::exit(1);
    }
    let exe = std::fs::read_link("/proc/self/exe").unwrap();
    println!("exe: {}", exe.display());
    println!("sealed: {}", running_sealed());
    println!("marker: {}", std::env::var_os(REEXEC_MARKER).is_some());
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!("args: {args:?}");
    // While a file runs, the kernel refuses to open it for writing.
    let write_self = match OpenOptions::new().write(true).open("/proc/self/exe") {
        Ok(_) => "opened".to_string(),
        Err(error) => errno_name(&error),
    };
    println!("write self: {write_self}");
    println!("ready");
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    std::process::exit(0);
}

/// An engine that started a thread before sealing itself.
fn threaded_runtime() -> ! {
    let _worker = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_secs(60)));
    match ensure_sealed() {
        Ok(()) => println!("sealed anyway"),
        Err(error) => println!("error: {error}"),
    }
    std::process::exit(0);
}

// ---------------------------------------------------------------------------
// The tests.

fn run_tests() {
    let tests: [(&str, fn()); 4] = [
        (
            "a_sealed_runtime_runs_from_a_sealed_memfd",
            a_sealed_runtime_runs_from_a_sealed_memfd,
        ),
        (
            "control_an_unsealed_runtime_is_rewritten_through_proc_exe",
            control_an_unsealed_runtime_is_rewritten_through_proc_exe,
        ),
        (
            "a_sealed_runtime_cannot_be_rewritten_through_proc_exe",
            a_sealed_runtime_cannot_be_rewritten_through_proc_exe,
        ),
        (
            "a_threaded_process_is_refused",
            a_threaded_process_is_refused,
        ),
    ];
    println!("\nrunning {} tests", tests.len());
    let mut failed = Vec::new();
    for (name, test) in tests {
        let outcome = std::panic::catch_unwind(test);
        println!(
            "test {name} ... {}",
            if outcome.is_ok() { "ok" } else { "FAILED" }
        );
        if outcome.is_err() {
            failed.push(name);
        }
    }
    let passed = tests.len() - failed.len();
    println!(
        "\ntest result: {}. {passed} passed; {} failed\n",
        if failed.is_empty() { "ok" } else { "FAILED" },
        failed.len()
    );
    if !failed.is_empty() {
        std::process::exit(101);
    }
}

/// `ensure_sealed` re-executes from a memfd carrying every seal, keeps the
/// arguments, leaves no marker behind, and the copy refuses writes while
/// it runs.
fn a_sealed_runtime_runs_from_a_sealed_memfd() {
    let copy = BinaryCopy::new();
    let mut runtime = Runtime::start(&copy.path, "sealed");
    let report = runtime.report.clone();
    runtime.finish();
    assert!(
        field(&report, "exe").starts_with("/memfd:skiff-sealed-exe"),
        "not running from the memfd:\n{report}"
    );
    assert_eq!(field(&report, "sealed"), "true", "{report}");
    assert_eq!(
        field(&report, "marker"),
        "false",
        "the marker leaked:\n{report}"
    );
    assert_eq!(
        field(&report, "args"),
        r#"["one", "two words"]"#,
        "{report}"
    );
    assert_eq!(field(&report, "write self"), "ETXTBSY", "{report}");
}

/// The attack works on an engine that runs from its file on disk: this is
/// what the seal is for (and proves the attack in the next test is real).
fn control_an_unsealed_runtime_is_rewritten_through_proc_exe() {
    let copy = BinaryCopy::new();
    let runtime = Runtime::start(&copy.path, "unsealed");
    let report = runtime.report.clone();
    assert_eq!(field(&report, "sealed"), "false", "{report}");
    let attack = attack(runtime);
    assert_eq!(
        attack.write, "written",
        "the control attack failed: {attack:?}"
    );
    assert_ne!(
        std::fs::read(&copy.path).unwrap(),
        copy.original,
        "the attack reported success but the file is unchanged"
    );
}

/// The same attack on a sealed engine: the container gets the memfd, whose
/// seals refuse every write; the file on disk and the copy stay intact.
fn a_sealed_runtime_cannot_be_rewritten_through_proc_exe() {
    let copy = BinaryCopy::new();
    let runtime = Runtime::start(&copy.path, "sealed");
    let attack = attack(runtime);
    assert!(
        attack.target.starts_with("/memfd:"),
        "the attacker did not get the memfd: {attack:?}"
    );
    assert_eq!(attack.write, "EPERM", "{attack:?}");
    assert_eq!(attack.truncate, "EPERM", "{attack:?}");
    assert!(attack.memfd_intact, "the memfd's bytes changed: {attack:?}");
    assert!(
        std::fs::read(&copy.path).unwrap() == copy.original,
        "the binary on disk changed"
    );
}

/// Re-executing kills every other thread, and the environment is edited:
/// a threaded process is refused with an error that says why.
fn a_threaded_process_is_refused() {
    let copy = BinaryCopy::new();
    let out = Command::new(&copy.path)
        .env(ROLE, "threaded")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("error: this process runs 2 threads"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------
// Helpers.

/// A copy of this test binary in a temporary directory beside it.
struct BinaryCopy {
    _dir: tempfile::TempDir,
    path: PathBuf,
    original: Vec<u8>,
}

impl BinaryCopy {
    fn new() -> BinaryCopy {
        let me = std::env::current_exe().unwrap();
        let dir = tempfile::Builder::new()
            .prefix("sealed-exe-")
            .tempdir_in(me.parent().unwrap())
            .unwrap();
        let path = dir.path().join("engine");
        std::fs::copy(&me, &path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let original = std::fs::read(&path).unwrap();
        BinaryCopy {
            _dir: dir,
            path,
            original,
        }
    }
}

/// A copy running in a role, killed and reaped on drop.
struct Runtime {
    child: Child,
    stdin: Option<ChildStdin>,
    report: String,
}

impl Runtime {
    /// Starts `binary` in `role` and reads its report, up to `ready`.
    fn start(binary: &Path, role: &str) -> Runtime {
        let mut child = Command::new(binary)
            .args(["one", "two words"])
            .env(ROLE, role)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut report = String::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if line == "ready" {
                break;
            }
            report.push_str(&line);
            report.push('\n');
        }
        Runtime {
            child,
            stdin,
            report,
        }
    }

    /// Lets the runtime exit, and waits until it has.
    fn finish(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"exit\n");
        }
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the runtime failed: {status}");
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the attacker achieved.
#[derive(Debug)]
struct Attack {
    /// Where `/proc/PID/exe` pointed.
    target: String,
    /// Writing through a descriptor reopened for writing.
    write: String,
    /// Truncating through it.
    truncate: String,
    /// Whether the bytes read back through the first descriptor are still
    /// the binary's.
    memfd_intact: bool,
}

/// The container's side of CVE-2019-5736: hold `/proc/PID/exe` open while
/// the runtime runs, wait for it to exit, then reopen it for writing.
fn attack(mut runtime: Runtime) -> Attack {
    let pid = runtime.child.id();
    let target = std::fs::read_link(format!("/proc/{pid}/exe"))
        .unwrap()
        .display()
        .to_string();
    let held = File::open(format!("/proc/{pid}/exe")).unwrap();
    runtime.finish();
    let reopen = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&held));
    let (write, truncate) = match OpenOptions::new().write(true).open(&reopen) {
        Err(error) => (errno_name(&error), errno_name(&error)),
        Ok(mut file) => {
            let write = match file.write_all(b"#!/bin/sh\necho pwned\n") {
                Ok(()) => "written".to_string(),
                Err(error) => errno_name(&error),
            };
            let truncate = match file.set_len(0) {
                Ok(()) => "truncated".to_string(),
                Err(error) => errno_name(&error),
            };
            (write, truncate)
        }
    };
    let mut bytes = Vec::new();
    let mut reader = File::open(&reopen).unwrap();
    reader.read_to_end(&mut bytes).unwrap();
    let original = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    Attack {
        target,
        write,
        truncate,
        memfd_intact: bytes == original,
    }
}

/// The value of `key: ` in a runtime's report.
fn field<'a>(report: &'a str, key: &str) -> &'a str {
    report
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no {key:?} in the report:\n{report}"))
}

fn errno_name(error: &std::io::Error) -> String {
    match error.raw_os_error() {
        Some(libc::ETXTBSY) => "ETXTBSY".into(),
        Some(libc::EPERM) => "EPERM".into(),
        Some(libc::EACCES) => "EACCES".into(),
        _ => error.to_string(),
    }
}
