//! skiff-runc's lifecycle, against the OCI runtime specification's rules:
//! each operation in each state, the state JSON, hooks and their order,
//! the configuration applied, exec, and the console socket.

mod support;

use serde_json::{Value, json};
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use support::{Bundle, Runtime, cgroup_exists, skiff_runc};

fn runtime(name: &str) -> Runtime {
    Runtime::new(skiff_runc(), name)
}

#[test]
fn each_operation_follows_the_lifecycle() {
    let rt = runtime("lifecycle");
    let bundle = Bundle::new(&["sleep", "300"], &rt.cgroup_parent, "life");
    let dir = bundle.write().to_str().unwrap().to_string();
    let pid_file = bundle.dir().join("pid");

    let (err, code) = rt.run_detached(&[
        "create",
        "--bundle",
        &dir,
        "--pid-file",
        pid_file.to_str().unwrap(),
        "life",
    ]);
    assert_eq!(code, 0, "create: {err}");
    // created: the process exists, and does not run the program yet.
    let state = rt.state("life").expect("state of a created container");
    assert_eq!(state["status"], "created");
    assert_eq!(state["id"], "life");
    assert_eq!(state["bundle"], dir.as_str());
    assert_eq!(state["ociVersion"], "1.0.2");
    let pid = state["pid"].as_i64().unwrap();
    assert!(pid > 0);
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_ne!(comm.trim(), "sleep", "the program runs before start");
    let supervisor: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert!(std::path::Path::new(&format!("/proc/{supervisor}")).exists());
    assert!(cgroup_exists(&rt.cgroup_parent, "life"));

    // A second container with the same id is refused.
    let (err, code) = rt.run_detached(&["create", "--bundle", &dir, "life"]);
    assert_eq!(code, 1);
    assert!(err.contains("container with id exists: life"), "{err}");

    // start: the program runs.
    let (_, err, code) = rt.run(&["start", "life"]);
    assert_eq!(code, 0, "start: {err}");
    let state = rt.wait_status("life", "running");
    assert_eq!(
        state["pid"].as_i64(),
        Some(pid),
        "the same process runs the program"
    );
    // As with runc, `start` returns once the process was told to go on: its
    // execve may come a moment later (before it, comm is still ours).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut comm = String::new();
    while std::time::Instant::now() < deadline {
        comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
        if comm.trim() == "sleep" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(comm.trim(), "sleep");

    // Operations that the running state forbids.
    let (_, err, code) = rt.run(&["start", "life"]);
    assert_eq!(
        (code, err.trim()),
        (1, "skiff-runc: cannot start an already running container")
    );
    let (_, err, code) = rt.run(&["delete", "life"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot delete container life that is not stopped: running"),
        "{err}"
    );

    // pause and resume.
    assert_eq!(rt.run(&["pause", "life"]).2, 0);
    assert_eq!(rt.wait_status("life", "paused")["pid"].as_i64(), Some(pid));
    assert_eq!(rt.run(&["resume", "life"]).2, 0);
    rt.wait_status("life", "running");

    // ps lists the container's processes.
    let (out, _, code) = rt.run(&["ps", "--format", "json", "life"]);
    assert_eq!(code, 0);
    let pids: Vec<i64> = serde_json::from_str(&out).unwrap();
    assert_eq!(pids, [pid]);

    // kill: stopped, and killing again is an error.
    let (_, err, code) = rt.run(&["kill", "life", "KILL"]);
    assert_eq!(code, 0, "kill: {err}");
    let state = rt.wait_status("life", "stopped");
    assert_eq!(state["pid"], 0);
    assert_eq!(rt.run(&["kill", "life", "KILL"]).2, 1);
    assert_eq!(rt.run(&["start", "life"]).2, 1);

    // delete: gone, with its cgroup; deleting again is an error, unless forced.
    let (_, err, code) = rt.run(&["delete", "life"]);
    assert_eq!(code, 0, "delete: {err}");
    assert!(rt.state("life").is_none());
    assert!(!cgroup_exists(&rt.cgroup_parent, "life"));
    let (_, err, code) = rt.run(&["delete", "life"]);
    assert_eq!(
        (code, err.trim()),
        (1, "skiff-runc: container life does not exist")
    );
    assert_eq!(rt.run(&["delete", "--force", "life"]).2, 0);
}

#[test]
fn a_created_container_can_be_deleted_and_a_running_one_forced() {
    let rt = runtime("delete");
    let mut bundle = Bundle::new(&["sleep", "300"], &rt.cgroup_parent, "d1");
    let dir = bundle.write().to_str().unwrap().to_string();
    assert_eq!(rt.run_detached(&["create", "--bundle", &dir, "d1"]).1, 0);
    // The same cgroup for another container is refused: it is not ours.
    let (err, code) = rt.run_detached(&["create", "--bundle", &dir, "d2"]);
    assert_eq!(code, 1);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(rt.state("d1").unwrap()["status"], "created");
    bundle.config["linux"]["cgroupsPath"] = format!("/{}/d2", rt.cgroup_parent).into();
    bundle.write();
    assert_eq!(rt.run_detached(&["create", "--bundle", &dir, "d2"]).1, 0);
    // As runc does: a created container is deleted without --force.
    let (_, err, code) = rt.run(&["delete", "d1"]);
    assert_eq!(code, 0, "{err}");
    assert!(rt.state("d1").is_none());
    assert_eq!(rt.run(&["start", "d2"]).2, 0);
    let pid = rt.wait_status("d2", "running")["pid"].as_i64().unwrap();
    let (_, err, code) = rt.run(&["delete", "--force", "d2"]);
    assert_eq!(code, 0, "{err}");
    assert!(rt.state("d2").is_none());
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
}

#[test]
fn run_waits_and_relays_the_exit_code() {
    let rt = runtime("run");
    let bundle = Bundle::new(
        &["sh", "-c", "echo out; echo err >&2; exit 3"],
        &rt.cgroup_parent,
        "r",
    );
    let dir = bundle.write().to_str().unwrap().to_string();
    let (out, err, code) = rt.run(&["run", "--bundle", &dir, "r"]);
    assert_eq!((out.as_str(), code), ("out\n", 3), "{err}");
    assert!(err.contains("err"), "{err}");
    assert!(rt.state("r").is_none(), "run deletes the container");
    let (out, _, _) = rt.run(&["list", "--format", "json"]);
    assert_eq!(out.trim(), "null");
}

/// A hook that appends its name and the state it read to `log`.
fn logging_hook(name: &str, log: &str) -> Value {
    json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("read -r state; echo \"{name} $state\" >> {log}")],
        "env": ["PATH=/bin"]
    })
}

#[test]
fn hooks_run_in_order_with_the_state_on_stdin() {
    let rt = runtime("hooks");
    let mut bundle = Bundle::new(&["true"], &rt.cgroup_parent, "h");
    let host_log = bundle.dir().join("hooks.log");
    let host_log = host_log.to_str().unwrap().to_string();
    // startContainer runs in the container, after pivot_root: its log is
    // inside the root, which the host sees at rootfs/.
    let inner_log = "/hooks-inner.log";
    bundle.config["hooks"] = json!({
        "prestart": [logging_hook("prestart", &host_log)],
        "createRuntime": [logging_hook("createRuntime", &host_log)],
        "createContainer": [logging_hook("createContainer", &host_log)],
        "startContainer": [logging_hook("startContainer", inner_log)],
        "poststart": [logging_hook("poststart", &host_log)],
        "poststop": [logging_hook("poststop", &host_log)]
    });
    bundle.config["annotations"] = json!({"org.example.kind": "test"});
    let dir = bundle.write().to_str().unwrap().to_string();
    assert_eq!(rt.run_detached(&["create", "--bundle", &dir, "h"]).1, 0);
    assert_eq!(rt.run(&["start", "h"]).2, 0);
    rt.wait_status("h", "stopped");
    assert_eq!(rt.run(&["delete", "h"]).2, 0);

    let mut lines: Vec<String> = std::fs::read_to_string(&host_log)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let inner = std::fs::read_to_string(bundle.rootfs.join(inner_log)).unwrap();
    lines.insert(3, inner.trim().to_string());
    let seen: Vec<(String, Value)> = lines
        .iter()
        .map(|line| {
            let (name, state) = line.split_once(' ').unwrap();
            (name.to_string(), serde_json::from_str(state).unwrap())
        })
        .collect();
    let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ]
    );
    let statuses: Vec<&str> = seen
        .iter()
        .map(|(_, s)| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "creating", "creating", "created", "created", "running", "stopped"
        ]
    );
    for (name, state) in &seen {
        assert_eq!(state["id"], "h", "{name}");
        assert_eq!(state["bundle"], dir.as_str(), "{name}");
        assert_eq!(state["annotations"]["org.example.kind"], "test", "{name}");
    }
    // The runtime's hooks see the container's process as the host does;
    // the container's hooks see it as pid 1; poststop sees none.
    assert!(seen[0].1["pid"].as_i64().unwrap() > 1);
    assert_eq!(seen[2].1["pid"], 1);
    assert_eq!(seen[3].1["pid"], 1);
    assert!(seen[5].1.get("pid").is_none());
}

#[test]
fn a_failing_hook_fails_create_and_leaves_nothing() {
    let rt = runtime("badhook");
    let mut bundle = Bundle::new(&["true"], &rt.cgroup_parent, "bad");
    bundle.config["hooks"] = json!({
        "createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "echo no way >&2; exit 4"]}]
    });
    let dir = bundle.write().to_str().unwrap().to_string();
    let (err, code) = rt.run_detached(&["create", "--bundle", &dir, "bad"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("createRuntime hook /bin/sh exited with exit status: 4: no way"),
        "{err}"
    );
    assert!(rt.state("bad").is_none());
    assert!(!cgroup_exists(&rt.cgroup_parent, "bad"));
}

#[test]
fn the_configuration_is_what_the_container_gets() {
    let rt = runtime("config");
    let script = [
        "hostname",
        "grep -E '^(CapBnd|CapEff|NoNewPrivs)' /proc/self/status",
        "ulimit -n",
        // The container's own cgroup, under the names of either layout:
        // cgroup v2 (one directory) or v1 (one per controller).
        "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
        "cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max",
        "touch /ro-root 2>/dev/null || echo root is read-only",
        "echo data > /scratch/file && cat /scratch/file",
        "cat /data/from-host; touch /data/x 2>/dev/null || echo bind is read-only",
        "cat /proc/sys/net/ipv4/ip_unprivileged_port_start",
        "wc -c < /proc/keys",
        "id",
    ]
    .join("; ");
    let mut bundle = Bundle::new(&["sh", "-c", &script], &rt.cgroup_parent, "cfg");
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("from-host"), "host data\n").unwrap();
    bundle.config["hostname"] = "configured".into();
    bundle.config["root"]["readonly"] = true.into();
    bundle.config["process"]["rlimits"] =
        json!([{"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256}]);
    bundle.config["process"]["user"] = json!({"uid": 0, "gid": 0, "additionalGids": [10, 20]});
    bundle.config["linux"]["resources"]["memory"] = json!({"limit": 64 << 20});
    bundle.config["linux"]["resources"]["pids"] = json!({"limit": 42});
    bundle.config["linux"]["sysctl"] = json!({"net.ipv4.ip_unprivileged_port_start": "80"});
    let mounts = bundle.config["mounts"].as_array_mut().unwrap();
    mounts.push(
        json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                       "options": ["nosuid", "nodev", "size=1m"]}),
    );
    mounts.push(json!({"destination": "/data", "type": "bind",
                       "source": data.path(), "options": ["rbind", "ro", "rprivate"]}));
    let dir = bundle.write().to_str().unwrap().to_string();
    let (out, err, code) = rt.run(&["run", "--bundle", &dir, "cfg"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "configured\n\
         CapEff:\t0000000020000420\n\
         CapBnd:\t0000000020000420\n\
         NoNewPrivs:\t1\n\
         256\n\
         67108864\n\
         42\n\
         root is read-only\n\
         data\n\
         host data\n\
         bind is read-only\n\
         80\n\
         0\n\
         uid=0(root) gid=0(root) groups=0(root),10,20\n"
    );
}

#[test]
fn what_the_chapters_cannot_do_is_refused_by_name() {
    let rt = runtime("refuse");
    let mut bundle = Bundle::new(&["true"], &rt.cgroup_parent, "no");
    bundle.config["linux"]["resources"]["blockIO"] = json!({"weight": 500});
    bundle.config["linux"]["intelRdt"] = json!({"closID": "x"});
    let dir = bundle.write().to_str().unwrap().to_string();
    let (err, code) = rt.run_detached(&["create", "--bundle", &dir, "no"]);
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "skiff-runc: config.json asks for what skiff-runc cannot do: linux.intelRdt = {\"closID\":\"x\"}; linux.resources.blockIO = {\"weight\":500}"
    );
    assert!(rt.state("no").is_none());
    let (_, err, code) = rt.run(&["--systemd-cgroup", "state", "no"]);
    assert_eq!(code, 1);
    assert!(err.contains("--systemd-cgroup is not supported"), "{err}");
}

#[test]
fn exec_runs_a_process_in_the_container() {
    let rt = runtime("exec");
    let mut bundle = Bundle::new(&["sleep", "300"], &rt.cgroup_parent, "ex");
    bundle.config["hostname"] = "inside".into();
    // An OCI seccomp profile: sethostname fails with EPERM, for the
    // container and for what exec starts in it.
    bundle.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
        "syscalls": [{"names": ["sethostname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    });
    let dir = bundle.write().to_str().unwrap().to_string();
    assert_eq!(rt.run_detached(&["create", "--bundle", &dir, "ex"]).1, 0);
    assert_eq!(rt.run(&["start", "ex"]).2, 0);
    rt.wait_status("ex", "running");

    let (out, err, code) = rt.run(&[
        "exec",
        "ex",
        "sh",
        "-c",
        "hostname other 2>/dev/null || echo refused; hostname; exit 5",
    ]);
    assert_eq!((out.as_str(), code), ("refused\ninside\n", 5), "{err}");

    // containerd's way: the process as JSON, detached, with a pid file.
    let mut process = bundle.config["process"].clone();
    process["args"] = json!(["sh", "-c", "echo $FOO > /exec-out; pwd >> /exec-out"]);
    process["env"] = json!(["PATH=/bin", "FOO=bar"]);
    process["cwd"] = "/tmp".into();
    let process_file = bundle.dir().join("process.json");
    std::fs::write(&process_file, process.to_string()).unwrap();
    let pid_file = bundle.dir().join("exec.pid");
    let (err, code) = rt.run_detached(&[
        "exec",
        "--process",
        process_file.to_str().unwrap(),
        "--detach",
        "--pid-file",
        pid_file.to_str().unwrap(),
        "ex",
    ]);
    assert_eq!(code, 0, "{err}");
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the exec'd process did not end"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let written = std::fs::read_to_string(bundle.rootfs.join("exec-out")).unwrap();
    assert_eq!(written, "bar\n/tmp\n");

    // A process whose capabilities differ from the container's is refused.
    process["capabilities"] = json!({"bounding": ["CAP_SYS_ADMIN"]});
    std::fs::write(&process_file, process.to_string()).unwrap();
    let (_, err, code) = rt.run(&["exec", "--process", process_file.to_str().unwrap(), "ex"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("capabilities differ from the container's"),
        "{err}"
    );
}

/// Receives one descriptor sent over `listener` with SCM_RIGHTS.
fn receive_fd(listener: &UnixListener) -> OwnedFd {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    use std::os::fd::AsRawFd;
    let (stream, _) = listener.accept().unwrap();
    let mut name = [0u8; 256];
    let mut buffer = [std::io::IoSliceMut::new(&mut name)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let message = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut buffer,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .unwrap();
    for control in message.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = control {
            // SAFETY: the kernel installed this descriptor for us.
            return unsafe { OwnedFd::from_raw_fd(fds[0]) };
        }
    }
    panic!("no descriptor in the message");
}

#[test]
fn the_terminal_goes_to_the_console_socket() {
    let rt = runtime("console");
    let mut bundle = Bundle::new(
        &["sh", "-c", "test -t 0 && echo a terminal; stty size"],
        &rt.cgroup_parent,
        "tty",
    );
    bundle.config["process"]["terminal"] = true.into();
    bundle.config["process"]["consoleSize"] = json!({"height": 30, "width": 100});
    let dir = bundle.write().to_str().unwrap().to_string();
    let socket = bundle.dir().join("console.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let receiver = std::thread::spawn(move || receive_fd(&listener));
    let (err, code) = rt.run_detached(&[
        "create",
        "--bundle",
        &dir,
        "--console-socket",
        socket.to_str().unwrap(),
        "tty",
    ]);
    assert_eq!(code, 0, "{err}");
    let master = receiver.join().unwrap();
    assert_eq!(rt.run(&["start", "tty"]).2, 0);
    let mut output = Vec::new();
    // The terminal reads EIO once the container's last process is gone.
    let _ = std::fs::File::from(master).read_to_end(&mut output);
    assert_eq!(String::from_utf8_lossy(&output), "a terminal\r\n30 100\r\n");
    rt.wait_status("tty", "stopped");
}
