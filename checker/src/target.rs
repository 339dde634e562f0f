//! The binary under test, and the processes the checks start with it.

use crate::fixtures;
use crate::images::Images;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long any run of the binary may take before the check gives up.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// How the binary gives a container its root filesystem, as its `run
/// --help` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rooted {
    /// Chapter 1: no container; commands run on the host.
    Host,
    /// Chapters 2 to 4: `run --rootfs DIR`.
    Rootfs,
    /// Chapter 5 on: `run IMAGE`, from the checker's registry.
    Image,
}

/// A chapter binary, and a scratch directory for its containers: a busybox
/// root filesystem with the probe, and the state directory (`--root`).
pub struct Target {
    /// The binary that runs containers: the one under test, or, for a
    /// compose binary, the engine it is built on.
    bin: PathBuf,
    /// The compose binary under test (chapter 7), if it is one.
    pub(crate) compose: Option<PathBuf>,
    rooted: Rooted,
    /// The checker's registry and its images: made at the start for a
    /// binary that runs images, at the first check that needs them for
    /// the others (chapter 4's binary is checked against chapter 5 too).
    images: OnceLock<Result<Images, String>>,
    /// Whether `run` has chapter 6's `--publish`: its containers then
    /// run on a network of the checker's own (see [`crate::network`]).
    pub(crate) networked: bool,
    /// That network's name, once `network create` made it.
    pub(crate) network: OnceLock<Result<String, String>>,
    /// Links the checks saw the binary make (bridges): removed at the end
    /// if the binary left them.
    pub(crate) seen_links: Mutex<Vec<String>>,
    /// Host ports the checks published: a DNAT rule for one of them that
    /// the binary left is removed at the end.
    pub(crate) seen_ports: Mutex<Vec<u16>>,
    /// The host's links when the checks began: never removed.
    pub(crate) links_before: Vec<String>,
    work: tempfile::TempDir,
    /// Cgroup directories the binary made for our containers: removed at
    /// the end if the binary left them (see [`crate::cleanup`]).
    pub(crate) seen_cgroups: Mutex<Vec<PathBuf>>,
}

impl Target {
    /// Prepares to check `bin`: asks it what `run` accepts, and builds the
    /// root filesystem its containers will use (as an image in the
    /// checker's registry, and pulled, when it runs images).
    pub fn new(bin: &Path) -> Result<Target, String> {
        Target::with_engine(bin, None)
    }

    /// [`Target::new`], for a compose binary too (chapter 7's, which runs
    /// no container itself): the checks of the chapters below then run
    /// against `engine`, by default the binary of the chapter below beside
    /// it (see [`crate::compose`]).
    pub fn with_engine(bin: &Path, engine: Option<&Path>) -> Result<Target, String> {
        let bin = bin
            .canonicalize()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
        let (bin, compose) = match crate::compose::is_compose(&bin) {
            false => (bin, None),
            true => (crate::compose::engine_for(&bin, engine)?, Some(bin)),
        };
        let help = Command::new(&bin)
            .args(["run", "--help"])
            .output()
            .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
        let help = String::from_utf8_lossy(&help.stdout);
        let work = tempfile::Builder::new()
            .prefix("skiff-check-")
            .tempdir()
            .map_err(|e| format!("a scratch directory: {e}"))?;
        let rooted = if help.contains("--rootfs") {
            Rooted::Rootfs
        } else if help.contains("<IMAGE>") {
            Rooted::Image
        } else {
            Rooted::Host
        };
        let rootfs = work.path().join("rootfs");
        if rooted != Rooted::Host {
            skiff_testkit::rootfs::build_busybox_rootfs(&rootfs);
            fixtures::restore(&rootfs, work.path())?;
        }
        let target = Target {
            bin,
            compose,
            rooted,
            images: OnceLock::new(),
            networked: help.contains("--publish"),
            network: OnceLock::new(),
            seen_links: Mutex::new(Vec::new()),
            seen_ports: Mutex::new(Vec::new()),
            links_before: crate::network::host_links(),
            work,
            seen_cgroups: Mutex::new(Vec::new()),
        };
        if rooted == Rooted::Image {
            let base = target.images()?.base();
            // Pulled once, here; if the pull fails, each run tries again
            // (a missing image is pulled by `run`) and its check shows why.
            let _ = target.verb(&["pull", &base]);
        }
        Ok(target)
    }

    /// The binary that runs the containers of the checks below chapter 7.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// The scratch directory: nothing of the host should be mounted there.
    pub fn work(&self) -> &Path {
        self.work.path()
    }

    /// The engine's state directory (`--root`).
    pub fn state(&self) -> PathBuf {
        self.work.path().join("state")
    }

    /// Whether the binary runs commands in containers of their own root.
    pub fn has_containers(&self) -> bool {
        self.rooted != Rooted::Host
    }

    /// How the binary's containers get their root.
    pub fn rooted(&self) -> Rooted {
        self.rooted
    }

    /// The checker's registry and images, started at the first call.
    pub fn images(&self) -> Result<&Images, String> {
        self.images
            .get_or_init(|| Images::start(&self.rootfs()))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The root filesystem's directory on the host (chapter 2 on): the
    /// bottom layer (chapter 4), or what the base image was made of.
    pub fn rootfs(&self) -> PathBuf {
        self.work.path().join("rootfs")
    }

    /// Writes the fixtures of the root filesystem again (see
    /// [`crate::fixtures`]): after a check whose container may have changed
    /// the directory itself.
    pub fn restore_fixtures(&self) {
        if self.rooted == Rooted::Rootfs
            && let Err(error) = fixtures::restore(&self.rootfs(), self.work())
        {
            eprintln!("skiff-check: {error}");
        }
    }

    /// `BIN run FLAGS -- ARGV`, with `--root` and the container's root:
    /// `--rootfs DIR` or the base image. `probe` in `argv[0]` is the probe:
    /// `/bin/probe` inside the root filesystem, the testkit's copy on the
    /// host.
    pub fn command(&self, flags: &[&str], argv: &[&str]) -> Command {
        let image = match self.rooted {
            Rooted::Image => self.images().ok().map(Images::base),
            _ => None,
        };
        self.command_on(image.as_deref(), flags, argv)
    }

    /// [`Target::command`] with the image `image` in place of `--rootfs`
    /// (for a binary that runs images). With no `argv`, the image's own
    /// command runs.
    pub fn command_on(&self, image: Option<&str>, flags: &[&str], argv: &[&str]) -> Command {
        let mut command = Command::new(&self.bin);
        if self.has_containers() {
            command.arg("--root").arg(self.state());
        }
        command.arg("run");
        if self.rooted == Rooted::Rootfs && image.is_none() {
            command.arg("--rootfs").arg(self.rootfs());
        }
        command.args(flags);
        if let Some(Ok(network)) = self.network.get()
            && !flags.contains(&"--network")
        {
            command.arg("--network").arg(network);
        }
        if let Some(image) = image {
            command.arg(image);
        }
        if !argv.is_empty() {
            command.arg("--");
        }
        let probe = self.probe();
        for (i, word) in argv.iter().enumerate() {
            if i == 0 && *word == "probe" {
                command.arg(&probe);
            } else {
                command.arg(word);
            }
        }
        command
    }

    /// The probe's path as the command sees it.
    pub fn probe(&self) -> String {
        if self.has_containers() {
            "/bin/probe".to_string()
        } else {
            skiff_testkit::probe().display().to_string()
        }
    }

    /// Runs `command` to its end (killing it at [`DEADLINE`]).
    pub fn run(&self, flags: &[&str], argv: &[&str]) -> Result<Finished, String> {
        self.start(flags, argv)?.finish(DEADLINE)
    }

    /// Runs a container of `image` to its end (chapter 5 on).
    pub fn run_image(
        &self,
        image: &str,
        flags: &[&str],
        argv: &[&str],
    ) -> Result<Finished, String> {
        self.ready_to_run()?;
        self.spawn(self.command_on(Some(image), flags, argv))?
            .finish(DEADLINE)
    }

    /// Starts `command` in the background, its output collected.
    pub fn start(&self, flags: &[&str], argv: &[&str]) -> Result<Running, String> {
        self.ready_to_run()?;
        self.spawn(self.command(flags, argv))
    }

    /// `BIN --root STATE ARGS...` (a verb: `diff`, `volume rm`, `pull`),
    /// run to its end.
    pub fn verb(&self, args: &[&str]) -> Result<Finished, String> {
        let mut command = Command::new(&self.bin);
        if self.has_containers() {
            command.arg("--root").arg(self.state());
        }
        command.args(args);
        self.spawn(command)?.finish(DEADLINE)
    }

    pub(crate) fn spawn(&self, mut command: Command) -> Result<Running, String> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.bin.display()))?;
        let (stdout, out_reader) = collect(child.stdout.take());
        let (stderr, err_reader) = collect(child.stderr.take());
        Ok(Running {
            child,
            stdout,
            stderr,
            readers: [out_reader, err_reader].into_iter().flatten().collect(),
        })
    }
}

/// A pipe read to its end by a thread of its own.
fn collect(
    pipe: Option<impl Read + Send + 'static>,
) -> (Arc<Mutex<String>>, Option<JoinHandle<()>>) {
    let text = Arc::new(Mutex::new(String::new()));
    let reader = pipe.map(|mut pipe| {
        let sink = Arc::clone(&text);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                let chunk = String::from_utf8_lossy(&buffer[..n]).into_owned();
                sink.lock().expect("output lock").push_str(&chunk);
            }
        })
    });
    (text, reader)
}

/// A run of the binary that has ended.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The exit code; `None` when a signal ended the binary itself.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// How the run ended, for a failure message: the exit code and what
    /// the binary said last (a starter's `todo!()` text when it hit one).
    pub fn describe(&self) -> String {
        let code = match self.code {
            Some(code) => format!("exited {code}"),
            None => "was killed".to_string(),
        };
        match said(&self.stderr) {
            Some(said) => format!("{code}: {said}"),
            None => code,
        }
    }

    /// Fails unless the run exited with `code`.
    pub fn expect_code(&self, code: i32) -> Result<&Self, String> {
        if self.code == Some(code) {
            Ok(self)
        } else {
            Err(format!(
                "expected exit code {code}, the binary {}",
                self.describe()
            ))
        }
    }
}

/// The line of `stderr` worth showing: a `todo!()`'s text, else the last one.
fn said(stderr: &str) -> Option<String> {
    const TODO: &str = "not yet implemented: ";
    let line = match stderr.find(TODO) {
        // Whole: it ends with the book section to read.
        Some(at) => return stderr[at..].lines().next().map(str::to_string),
        // clap's usage errors end with a line on --help: the error is first.
        None => match stderr.lines().find(|l| l.starts_with("error:")) {
            Some(error) => error,
            None => stderr.lines().rev().find(|l| !l.trim().is_empty())?,
        },
    };
    Some(shorten(line.trim(), 300))
}

/// `text`, cut to about `limit` bytes.
pub fn shorten(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let mut cut = limit;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &text[..cut])
}

/// A run of the binary still going. Dropping it kills the binary.
pub struct Running {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

impl Running {
    /// The binary's pid.
    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    /// What the binary printed on standard output so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().expect("output lock").clone()
    }

    /// Waits until standard output holds `text`.
    pub fn wait_for_output(&mut self, text: &str, timeout: Duration) -> Result<(), String> {
        let until = Instant::now() + timeout;
        loop {
            if self.stdout().contains(text) {
                return Ok(());
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                let finished = self.collect_output(None);
                return Err(format!(
                    "the binary ended before its command printed {text:?}: it {}",
                    finished.describe()
                ));
            }
            if Instant::now() >= until {
                return Err(format!("no {text:?} from the command after {timeout:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The container's first process once it runs the program `comm`
    /// (the probe, say): the binary's child, as the kernel lists it in
    /// `/proc/PID/task/*/children`. Before `execve` the child is still a
    /// copy of the engine, setting up.
    pub fn command_pid(&mut self, comm: &str, timeout: Duration) -> Result<Pid, String> {
        let until = Instant::now() + timeout;
        loop {
            let running = crate::kernel::children(self.pid()).into_iter().find(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
            });
            if let Some(pid) = running {
                return Ok(pid);
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                let finished = self.collect_output(None);
                return Err(format!(
                    "the binary ended without starting its command: it {}",
                    finished.describe()
                ));
            }
            if Instant::now() >= until {
                return Err(format!("the binary's child never ran {comm:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` to the binary.
    pub fn signal(&self, signal: Signal) {
        let _ = kill(self.pid(), signal);
    }

    /// Waits for the binary to end, killing it after `timeout`.
    pub fn finish(mut self, timeout: Duration) -> Result<Finished, String> {
        let until = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Ok(self.collect_output(status.code())),
                Ok(None) if Instant::now() >= until => {
                    self.signal(Signal::SIGKILL);
                    let _ = self.child.wait();
                    return Err(format!(
                        "the binary was still running after {timeout:?}: killed it"
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(format!("waiting for the binary: {e}")),
            }
        }
    }

    /// The output once the binary has ended (its pipes drain right after).
    fn collect_output(&mut self, code: Option<i32>) -> Finished {
        let code = code.or_else(|| self.child.try_wait().ok().flatten().and_then(|s| s.code()));
        // The readers end when the last writer closes the pipes; a process
        // the binary left running may hold them open, so wait a little only.
        let until = Instant::now() + Duration::from_secs(2);
        while self.readers.iter().any(|r| !r.is_finished()) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        Finished {
            code,
            stdout: self.stdout.lock().expect("output lock").clone(),
            stderr: self.stderr.lock().expect("output lock").clone(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.signal(Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

impl Target {
    /// Remembers the cgroup directory that held one of our containers, to
    /// remove it at the end if the binary does not. Never one that holds
    /// us, or lies above us: that cgroup is not the container's own.
    pub fn saw_cgroup(&self, dir: PathBuf) {
        let me = Pid::this();
        let ours = ["memory", "pids", "cpu"]
            .iter()
            .filter_map(|c| crate::kernel::cgroup_dir(me, c).ok())
            .any(|mine| mine.starts_with(&dir));
        if ours {
            return;
        }
        let mut seen = self.seen_cgroups.lock().expect("cgroup list lock");
        if !seen.contains(&dir) {
            seen.push(dir);
        }
    }
}

impl Target {
    /// Removes every container the binary still has a record of, with its
    /// own `rm -f`, as a learner ends a session: a container whose engine a
    /// check killed is only marked exited by the next command, and its
    /// cgroups go with its removal (chapter 3).
    fn remove_containers(&self) {
        if !self.has_containers() {
            return;
        }
        let root = self.state();
        let listed = Command::new(&self.bin)
            .arg("--root")
            .arg(&root)
            .args(["ps", "-aq"])
            .output();
        let Ok(listed) = listed else {
            return;
        };
        for id in String::from_utf8_lossy(&listed.stdout).split_whitespace() {
            let _ = Command::new(&self.bin)
                .arg("--root")
                .arg(&root)
                .args(["rm", "-f", id])
                .output();
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.remove_containers();
        self.remove_networks();
        let seen = self.seen_cgroups.lock().expect("cgroup list lock").clone();
        crate::cleanup::remove_cgroups(&seen);
        crate::cleanup::unmount_under(self.work.path());
    }
}
