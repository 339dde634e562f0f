//! Chapter 2, driven as a learner drives it, with the probe inside the container.

use skiff_testkit::{
    Rootfs, Transcript, assert_no_mounts_under, output, require_root, scrub, snapshot_settings,
    workspace_bin,
};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ch02-namespaces");

/// `ch02-namespaces ARGS...`, run from the directory holding `rootfs/`,
/// with the records in `state/` next to it.
fn ch02(rootfs: &Rootfs, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .current_dir(rootfs.workdir())
        .env("SKIFF_ROOT", rootfs.workdir().join("state"))
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    command
}

/// `ch02-namespaces run --rootfs rootfs --hostname box [FLAGS] -- COMMAND...`
fn run_in(rootfs: &Rootfs, flags: &[&str], command: &[&str]) -> Command {
    let mut args = vec!["run", "--rootfs", "rootfs", "--hostname", "box"];
    args.extend(flags);
    args.push("--");
    args.extend(command);
    ch02(rootfs, &args)
}

/// The value of `key: ` in the probe's output.
fn field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no {key:?} in probe output:\n{text}"))
}

/// A container started in the background, killed and reaped on drop.
struct Running {
    engine: Child,
    init: i32,
    /// The container's stdout; kept open so that it can still print.
    _output: BufReader<std::process::ChildStdout>,
    /// The command line, as a learner types it.
    shown: String,
}

impl Running {
    /// Starts `probe signals` in a container, waits until it is ready, and
    /// finds its first process (the engine's only child).
    fn start(rootfs: &Rootfs, flags: &[&str]) -> Running {
        let mut all = vec!["--name", "box"];
        all.extend(flags);
        let mut command = run_in(rootfs, &all, &["probe", "signals"]);
        let shown = skiff_testkit::transcript::command_line(&command);
        let mut engine = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut output = BufReader::new(engine.stdout.take().unwrap());
        output.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the container did not start");
        let children =
            std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", engine.id())).unwrap();
        let init = children
            .split_whitespace()
            .next()
            .expect("the container's first process")
            .parse()
            .unwrap();
        Running {
            engine,
            init,
            _output: output,
            shown,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.init),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = self.engine.wait();
    }
}

#[test]
fn transcript_a_world_of_its_own() {
    require_root();
    let rootfs = Rootfs::busybox();
    let mut t = Transcript::new();
    t.run(&mut run_in(
        &rootfs,
        &[],
        &["probe", "pid", "hostname", "net"],
    ));
    t.run(&mut run_in(&rootfs, &[], &["ps"]));
    // One name a line: on a terminal, busybox's `ls` fills the width.
    t.run(&mut run_in(&rootfs, &[], &["ls", "-1", "/", "/dev"]));
    snapshot_settings().bind(|| insta::assert_snapshot!("world", t.text()));
    assert_no_mounts_under(rootfs.workdir());
}

/// The "before": chapter 1's binary runs the same probe in the host's world.
#[test]
fn transcript_before_chapter_1_shares_everything() {
    require_root();
    let rootfs = Rootfs::busybox();
    let probe = rootfs.join("bin/probe");
    let mut ch01 = Command::new(workspace_bin("ch01-process"));
    ch01.args(["run", "--", "rootfs/bin/probe", "pid", "hostname"])
        .current_dir(rootfs.workdir());
    let out = ch01.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_ne!(field(&text, "pid"), "1", "chapter 1's child is not PID 1");
    assert_eq!(
        field(&text, "hostname"),
        nix::unistd::gethostname().unwrap().to_string_lossy()
    );
    assert!(probe.exists());

    let mut t = Transcript::new();
    t.comment("chapter 1: the child sees the host's pids and hostname");
    t.run_shown(
        "ch01-process run -- rootfs/bin/probe pid",
        &mut ch01_pid_only(&rootfs),
        None,
    );
    t.comment("chapter 2: its own");
    t.run(&mut run_in(&rootfs, &[], &["probe", "pid", "hostname"]));
    let settings = {
        let mut s = snapshot_settings();
        s.add_filter(r"pid: \d{2,}", "pid: [HOST PID]");
        s
    };
    settings.bind(|| insta::assert_snapshot!("before", t.text()));
}

fn ch01_pid_only(rootfs: &Rootfs) -> Command {
    let mut command = Command::new(workspace_bin("ch01-process"));
    command
        .args(["run", "--", "rootfs/bin/probe", "pid"])
        .current_dir(rootfs.workdir());
    command
}

#[test]
fn each_namespace_differs_from_the_host() {
    require_root();
    let rootfs = Rootfs::busybox();
    let kinds = ["uts", "pid", "mnt", "ipc", "net", "cgroup"];
    let script: String = kinds
        .iter()
        .map(|k| format!("readlink /proc/self/ns/{k}; "))
        .collect();
    let (inside, stderr, code) = output(run_in(&rootfs, &[], &["sh", "-c", &script]));
    assert_eq!(code, 0, "{stderr}");
    for (kind, line) in kinds.iter().zip(inside.lines()) {
        let host = std::fs::read_link(format!("/proc/self/ns/{kind}")).unwrap();
        assert_ne!(
            line,
            host.to_string_lossy(),
            "the container shares the host's {kind} namespace"
        );
    }
    assert_no_mounts_under(rootfs.workdir());
}

#[test]
fn pid_namespace_shows_only_the_container() {
    require_root();
    let rootfs = Rootfs::busybox();
    let (out, stderr, code) = output(run_in(
        &rootfs,
        &[],
        &["sh", "-c", "echo $$; ls /proc | grep -c '^[0-9]'"],
    ));
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines[0], "1", "the command is PID 1");
    // sh, and the ls and grep of the pipeline: nothing of the host.
    assert!(
        lines[1].parse::<u32>().unwrap() <= 4,
        "the container sees other processes: {out}"
    );
}

#[test]
fn host_network_and_pid_are_shared_on_request() {
    require_root();
    let rootfs = Rootfs::busybox();
    let (out, stderr, code) = output(run_in(
        &rootfs,
        &["--network", "host", "--pid", "host"],
        &[
            "sh",
            "-c",
            "readlink /proc/self/ns/net; readlink /proc/self/ns/pid; echo $$",
        ],
    ));
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(
        lines[0],
        std::fs::read_link("/proc/self/ns/net")
            .unwrap()
            .to_string_lossy()
    );
    assert_eq!(
        lines[1],
        std::fs::read_link("/proc/self/ns/pid")
            .unwrap()
            .to_string_lossy()
    );
    assert_ne!(lines[2], "1");

    // Without --network host, only lo, and it is up.
    let (out, _, _) = output(run_in(&rootfs, &[], &["probe", "net"]));
    assert_eq!(out, "net: lo up 127.0.0.1/8 ::1/128\n");
}

#[test]
fn transcript_pivot_root_versus_chroot() {
    require_root();
    let rootfs = Rootfs::busybox();
    let mut t = Transcript::new();
    t.comment("a chroot only changes where path lookups start: the probe climbs out");
    let outcome = t.run_shown(
        "chroot rootfs /bin/probe chroot-escape",
        Command::new("chroot")
            .args(["rootfs", "/bin/probe", "chroot-escape"])
            .current_dir(rootfs.workdir()),
        None,
    );
    assert_eq!(
        outcome.code, 0,
        "the classic escape should work against a chroot: {}",
        outcome.output
    );
    t.comment("after pivot_root the host's tree is unmounted: there is nothing above /");
    let outcome = t.run(&mut run_in(&rootfs, &[], &["probe", "chroot-escape"]));
    assert_eq!(outcome.code, 1, "{}", outcome.output);
    snapshot_settings().bind(|| insta::assert_snapshot!("pivot_root", t.text()));

    // And the host's files are not reachable by path either.
    let marker = rootfs.workdir().join("host-secret");
    std::fs::write(&marker, "secret").unwrap();
    let (out, _, _) = output(run_in(
        &rootfs,
        &[],
        &[
            "sh",
            "-c",
            "ls ../host-secret /../host-secret 2>&1; cat /proc/1/root/../host-secret 2>&1",
        ],
    ));
    assert!(
        !out.contains("secret\n") && out.contains("No such file"),
        "{out}"
    );
    assert_no_mounts_under(rootfs.workdir());
}

#[test]
fn kernel_filesystems_are_mounted_hardened() {
    require_root();
    let rootfs = Rootfs::busybox();
    let (out, stderr, code) = output(run_in(&rootfs, &[], &["probe", "mounts"]));
    assert_eq!(code, 0, "{stderr}");
    let mount = |point: &str| {
        out.lines()
            .find(|line| line.split_whitespace().nth(1) == Some(point))
            .unwrap_or_else(|| panic!("no mount at {point}:\n{out}"))
            .to_string()
    };
    for flag in ["nosuid", "nodev", "noexec"] {
        assert!(mount("/proc").contains(flag), "{}", mount("/proc"));
    }
    assert!(mount("/sys").contains("ro"), "{}", mount("/sys"));
    assert!(mount("/dev").contains("tmpfs"));
    assert!(mount("/dev/pts").contains("devpts"));
    assert!(mount("/dev/shm").contains("tmpfs"));
    assert!(mount("/dev/mqueue").contains("mqueue"));
    assert!(mount("/proc/sys").contains("ro,"), "{}", mount("/proc/sys"));

    let (out, _, _) = output(run_in(
        &rootfs,
        &[],
        &[
            "sh",
            "-c",
            "ls /dev; echo x > /dev/null && echo null works; head -c 4 /dev/zero | wc -c",
        ],
    ));
    for entry in [
        "full",
        "null",
        "ptmx",
        "pts",
        "random",
        "shm",
        "stderr",
        "stdin",
        "stdout",
        "tty",
        "urandom",
        "zero",
        "null works",
        "4",
    ] {
        assert!(
            out.lines().any(|l| l.trim() == entry),
            "missing {entry} in:\n{out}"
        );
    }
    assert!(
        !out.lines()
            .any(|l| l.starts_with("sd") || l.starts_with("vd") || l == "mem"),
        "host devices leaked:\n{out}"
    );
}

#[test]
fn capabilities_are_dockers_defaults() {
    require_root();
    let rootfs = Rootfs::busybox();
    let mut t = Transcript::new();
    t.run(&mut run_in(&rootfs, &[], &["probe", "caps"]));
    t.run(&mut run_in(&rootfs, &[], &["probe", "try-mount"]));
    t.run(&mut run_in(
        &rootfs,
        &["--cap-add", "SYS_ADMIN"],
        &["probe", "try-mount"],
    ));
    t.run(&mut run_in(
        &rootfs,
        &["--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE"],
        &["probe", "caps"],
    ));
    t.run(&mut run_in(
        &rootfs,
        &["--cap-add", "NET_ADMINISTRATOR"],
        &["true"],
    ));
    snapshot_settings().bind(|| insta::assert_snapshot!("capabilities", t.text()));

    let text = t.text();
    assert!(text.contains("cap.eff: 00000000a80425fb"));
    assert!(text.contains("cap.bnd: 00000000a80425fb"));
    assert!(text.contains("cap.inh: 0000000000000000"));
    assert!(text.contains("cap.amb: 0000000000000000"));
    assert!(text.contains("EPERM"));
    assert!(text.contains("cap.eff: 0000000000000400"));
}

#[test]
fn masked_and_readonly_paths() {
    require_root();
    let rootfs = Rootfs::busybox();
    let mut t = Transcript::new();
    t.comment("masked: /dev/null is bound over files, an empty tmpfs over directories");
    t.run(&mut run_in(
        &rootfs,
        &[],
        &["probe", "read", "/proc/timer_list"],
    ));
    t.run(&mut run_in(&rootfs, &[], &["probe", "ls", "/sys/firmware"]));
    t.comment("read-only: the machine's settings cannot be changed from inside");
    let write = |path| run_in(&rootfs, &[], &["probe", "write", path]);
    t.run(&mut write("/proc/sys/kernel/hostname"));
    t.run(&mut write("/proc/irq/default_smp_affinity"));
    snapshot_settings().bind(|| insta::assert_snapshot!("hardened_paths", t.text()));
    assert!(
        t.text().contains("read /proc/timer_list: empty"),
        "{}",
        t.text()
    );
    assert!(
        !std::fs::read_to_string("/proc/timer_list")
            .unwrap()
            .is_empty()
    );
    assert!(t.text().matches("EROFS").count() == 2, "{}", t.text());
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap()
            .trim(),
        nix::unistd::gethostname().unwrap().to_string_lossy()
    );
}

#[test]
fn only_stdio_reaches_the_container() {
    require_root();
    let rootfs = Rootfs::busybox();
    // Leave a descriptor open without close-on-exec, as a careless parent would.
    let leaked = std::fs::File::open("/dev/null").unwrap();
    let fd = nix::unistd::dup(&leaked).unwrap();
    let (out, stderr, code) = output(run_in(&rootfs, &[], &["probe", "fds"]));
    drop(fd);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(out, "fds: 0 1 2\n");
}

#[test]
fn no_new_privileges_on_request() {
    require_root();
    let rootfs = Rootfs::busybox();
    let (out, _, _) = output(run_in(&rootfs, &[], &["probe", "nnp"]));
    assert_eq!(out, "no_new_privs: 0\n");
    let (out, _, _) = output(run_in(
        &rootfs,
        &["--security-opt", "no-new-privileges"],
        &["probe", "nnp"],
    ));
    assert_eq!(out, "no_new_privs: 1\n");
}

#[test]
fn transcript_user_namespace() {
    require_root();
    let rootfs = Rootfs::busybox();
    let mut t = Transcript::new();
    t.run(&mut run_in(&rootfs, &["--userns"], &["probe", "ids"]));
    t.run(&mut run_in(
        &rootfs,
        &["--userns"],
        &["probe", "write", "/bin/owned-by-the-host"],
    ));
    snapshot_settings().bind(|| insta::assert_snapshot!("userns", t.text()));
    assert!(t.text().contains("uid_map: 0 100000 65536"), "{}", t.text());

    // Seen from the host, the container's root is uid 100000.
    let running = Running::start(&rootfs, &["--userns"]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", running.init)).unwrap();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .expect("a Uid line");
    assert_eq!(uid.split_whitespace().next(), Some("100000"), "{status}");
    drop(running);
    assert_no_mounts_under(rootfs.workdir());
}

#[test]
fn exec_enters_the_running_container() {
    require_root();
    for flags in [&[][..], &["--userns"][..]] {
        let rootfs = Rootfs::busybox();
        let running = Running::start(&rootfs, flags);
        let (out, stderr, code) = output(ch02(
            &rootfs,
            &["exec", "box", "probe", "pid", "hostname", "caps", "fds"],
        ));
        assert_eq!(code, 0, "{stderr}");
        assert_ne!(field(&out, "pid"), "1");
        assert!(
            field(&out, "pid").parse::<u32>().unwrap() < 10,
            "exec is not in the container's pid namespace: {out}"
        );
        assert_eq!(field(&out, "hostname"), "box");
        assert_eq!(field(&out, "cap.eff"), "00000000a80425fb");
        assert_eq!(field(&out, "fds"), "0 1 2");
        // The same root: a file written by exec is seen by the container's root.
        let (_, stderr, code) = output(ch02(
            &rootfs,
            &["exec", "box", "sh", "-c", "echo hi > /tmp/from-exec"],
        ));
        assert_eq!(code, 0, "{stderr}");
        assert!(rootfs.join("tmp/from-exec").exists());
        // Signals and exit codes are relayed for exec too.
        let (_, _, code) = output(ch02(&rootfs, &["exec", "box", "probe", "exit", "7"]));
        assert_eq!(code, 7);
        drop(running);
        assert_no_mounts_under(rootfs.workdir());
    }
}

#[test]
fn transcript_exec() {
    require_root();
    let rootfs = Rootfs::busybox();
    let mut running = Running::start(&rootfs, &[]);
    let mut t = Transcript::new();
    t.background(&running.shown, "ready\n");
    t.run(&mut ch02(&rootfs, &["exec", "box", "ps"]));
    t.run(&mut ch02(
        &rootfs,
        &[
            "exec",
            "-w",
            "/tmp",
            "-e",
            "GREETING=hi",
            "box",
            "sh",
            "-c",
            "echo $GREETING from $PWD",
        ],
    ));
    // stop ends the background job: SIGTERM reaches its probe, which says so.
    let stopped = t.run(&mut ch02(&rootfs, &["stop", "box"]));
    assert_eq!(stopped.code, 0, "{}", stopped.output);
    let mut last = String::new();
    running._output.read_line(&mut last).unwrap();
    assert_eq!(last, "got SIGTERM\n");
    t.comment(&format!("the background job printed: {}", last.trim()));
    drop(running);
    snapshot_settings().bind(|| insta::assert_snapshot!("exec", t.text()));
}

#[test]
fn exit_codes_and_signals_are_relayed() {
    require_root();
    let rootfs = Rootfs::busybox();
    let (_, _, code) = output(run_in(&rootfs, &[], &["probe", "exit", "42"]));
    assert_eq!(code, 42);
    // PID 1 with a SIGTERM handler gets the forwarded signal and exits 0.
    let running = Running::start(&rootfs, &[]);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(running.engine.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let mut running = running;
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = running.engine.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "SIGTERM did not reach the container"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    assert_no_mounts_under(rootfs.workdir());
}

#[test]
fn a_killed_container_leaves_no_mounts() {
    require_root();
    let rootfs = Rootfs::busybox();
    let mut running = Running::start(&rootfs, &[]);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(running.init),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let status = running.engine.wait().unwrap();
    assert_eq!(status.code(), Some(137));
    assert_no_mounts_under(rootfs.workdir());
}

#[test]
fn transcript_errors() {
    require_root();
    let rootfs = Rootfs::busybox();
    let mut t = Transcript::new();
    t.setup(rootfs.workdir(), "touch a-file");
    t.run(&mut ch02(
        &rootfs,
        &["run", "--rootfs", "no-such-dir", "--", "sh"],
    ));
    t.run(&mut ch02(
        &rootfs,
        &["run", "--rootfs", "a-file", "--", "sh"],
    ));
    t.run(&mut run_in(&rootfs, &[], &["no-such-command"]));
    t.run(&mut ch02(
        &rootfs,
        &[
            "run",
            "--rootfs",
            "rootfs",
            "--userns",
            "--network",
            "host",
            "--",
            "sh",
        ],
    ));
    t.run(&mut ch02(&rootfs, &["exec", "no-such-container", "sh"]));
    snapshot_settings().bind(|| insta::assert_snapshot!("errors", t.text()));
    assert_no_mounts_under(rootfs.workdir());
}

#[test]
fn the_rootfs_is_the_containers_root() {
    require_root();
    let rootfs = Rootfs::busybox();
    std::fs::write(rootfs.join("etc/marker"), "from the rootfs").unwrap();
    let (out, _, _) = output(run_in(
        &rootfs,
        &["-w", "/etc"],
        &["sh", "-c", "pwd; cat marker"],
    ));
    assert_eq!(out, "/etc\nfrom the rootfs");
    // The inode of / inside is the rootfs directory's.
    let (out, _, _) = output(run_in(&rootfs, &[], &["stat", "-c", "%i", "/"]));
    assert_eq!(
        out.trim(),
        std::fs::metadata(rootfs.path()).unwrap().ino().to_string()
    );
}

#[test]
fn transcript_explain() {
    require_root();
    let rootfs = Rootfs::busybox();
    let mut t = Transcript::new();
    // On a terminal, as a learner types it (the terminal is handed to the
    // container and back); `--rm`, so that the name is free again for the
    // transcripts typed after this one.
    let mut command = ch02(
        &rootfs,
        &[
            "--explain",
            "run",
            "--rm",
            "--name",
            "box",
            "--rootfs",
            "rootfs",
            "--hostname",
            "box",
            "--",
            "hostname",
        ],
    );
    t.run_in_terminal(&mut command);
    // What the kernel decides, left out so that the transcript is the same
    // on every machine (the book says so): MFD_EXEC exists from Linux 6.3;
    // /proc/kcore and /proc/sysrq-trigger exist only where the kernel was
    // built with them, and the engine masks only what exists.
    let text = scrub(
        t.text(),
        &[
            (r"\|MFD_EXEC\b", ""),
            (r#"^\+ mount\("[^"]*", "/proc/(kcore|sysrq-trigger)".*"#, ""),
        ],
    );
    snapshot_settings().bind(|| insta::assert_snapshot!("explain", text));
    assert_no_mounts_under(rootfs.workdir());
}

#[test]
fn without_root_it_says_to_use_sudo_and_creates_nothing() {
    require_root();
    let rootfs = Rootfs::busybox();
    // setpriv (util-linux) drops to nobody for one command.
    let mut command = Command::new("setpriv");
    command
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .args(["run", "--rootfs"])
        .arg(rootfs.path())
        .args(["--", "true"]);
    let (_, stderr, code) = output(command);
    assert_eq!(code, 125);
    assert!(
        stderr.contains("this needs root") && stderr.contains("sudo"),
        "{stderr}"
    );
    assert_no_mounts_under(rootfs.workdir());
}

#[test]
fn transcript_seccomp() {
    require_root();
    let rootfs = Rootfs::busybox();
    let mut t = Transcript::new();
    t.comment("docker's default syscall filter: the host's keyring, perf events, user namespaces");
    let filtered = t.run(&mut run_in(&rootfs, &[], &["probe", "syscalls"]));
    for call in [
        "keyctl",
        "add_key",
        "perf_event_open",
        "unshare(CLONE_NEWUSER)",
    ] {
        assert!(
            filtered.output.contains(&format!("{call}: EPERM")),
            "{call} was not refused:\n{}",
            filtered.output
        );
    }
    t.comment("the same calls without the filter");
    let open = t.run(&mut run_in(
        &rootfs,
        &["--security-opt", "seccomp=unconfined"],
        &["probe", "syscalls"],
    ));
    assert!(!open.output.contains("EPERM"), "{}", open.output);
    t.comment("and with no-new-privileges, the filter installed last");
    let nnp = t.run(&mut run_in(
        &rootfs,
        &["--security-opt", "no-new-privileges", "--user", "65534"],
        &["probe", "syscalls"],
    ));
    assert!(nnp.output.contains("keyctl: EPERM"), "{}", nnp.output);
    t.run(&mut run_in(
        &rootfs,
        &["--security-opt", "seccomp=no-such-profile.json"],
        &["true"],
    ));
    snapshot_settings().bind(|| insta::assert_snapshot!("seccomp", t.text()));
}

#[test]
fn every_capability_dropped_and_another_user() {
    require_root();
    let rootfs = Rootfs::busybox();
    // The user switch comes before the capabilities are dropped: it needs
    // CAP_SETUID and CAP_SETGID itself.
    let (out, stderr, code) = output(run_in(
        &rootfs,
        &["--cap-drop", "ALL", "--user", "65534"],
        &["probe", "ids", "caps"],
    ));
    assert_eq!(code, 0, "{stderr}");
    assert!(out.contains("uid: 65534 65534 65534 65534"), "{out}");
    assert_eq!(field(&out, "cap.bnd"), "0000000000000000");
    assert_eq!(field(&out, "cap.eff"), "0000000000000000");
    // Root with every capability dropped keeps none either.
    let (out, _, code) = output(run_in(&rootfs, &["--cap-drop", "ALL"], &["probe", "caps"]));
    assert_eq!(code, 0);
    assert_eq!(field(&out, "cap.eff"), "0000000000000000");
}

#[test]
fn read_only_root_refuses_writes_but_not_in_its_mounts() {
    require_root();
    let rootfs = Rootfs::busybox();
    let (out, stderr, code) = output(run_in(
        &rootfs,
        &["--read-only"],
        &[
            "sh",
            "-c",
            "touch /new 2>&1; echo x > /dev/shm/ok && echo /dev/shm writable; probe mounts | grep ' / '",
        ],
    ));
    assert_eq!(code, 0, "{stderr}");
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(out.contains("/dev/shm writable"), "{out}");
    let root = out.lines().last().unwrap_or_default();
    assert!(
        root.contains(" ro"),
        "the root is not mounted read-only: {root}"
    );
    assert!(!rootfs.path().join("new").exists());
    // Without the flag the root takes writes.
    let (_, stderr, code) = output(run_in(&rootfs, &[], &["touch", "/new"]));
    assert_eq!(code, 0, "{stderr}");
    assert_no_mounts_under(rootfs.workdir());
}

#[test]
fn init_runs_as_pid_1_reaps_orphans_and_passes_the_exit_status() {
    require_root();
    let rootfs = Rootfs::busybox();
    // An orphan (the inner shell's background sleep) is handed to PID 1,
    // the init, not to the command: the init reaps it, no zombie is listed.
    let script = "sh -c 'sleep 0.2 &'; sleep 1; ps -o pid,stat,args; exit 3";
    let (out, stderr, code) = output(run_in(&rootfs, &["--init"], &["sh", "-c", script]));
    assert_eq!(code, 3, "{stderr}");
    let first = out.lines().nth(1).unwrap_or_default();
    assert!(
        first.trim_start().starts_with("1 ") && first.contains("/dev/init run -- sh"),
        "PID 1 is not the init: {out}"
    );
    assert!(!out.lines().any(|l| l.contains(" Z ")), "a zombie: {out}");
    // The init is not in the root filesystem: only bound on /dev/init.
    assert!(!rootfs.path().join("dev/init").exists());
    assert_no_mounts_under(rootfs.workdir());
}
