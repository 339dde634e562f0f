//! The loop of `up`: one thread sleeping in one `poll`, on a `signalfd`
//! (SIGINT, SIGTERM, SIGCHLD), on the pipes of every supervisor and
//! healthcheck, with a timeout at the next thing due (a healthcheck, a
//! restart, a SIGKILL). Nothing else runs meanwhile, so there is no lock
//! and no race between deciding and doing.

use crate::engine::ComposeEngine;
use crate::model::Condition;
use crate::plan::Plan;
use crate::resolve::Project;
use crate::runner::attended::{self, Attended};
use crate::runner::child::{SelfCommand, Supervisor};
use crate::runner::console::Console;
use crate::runner::health::HealthStatus;
use crate::runner::member::{Check, Member, Phase, check, signal_member};
use crate::runner::restart::next_restart;
use crate::runner::up::{UpError, UpOptions, sys};
use crate::spec::Spec;
use ch02_namespaces::Engine;
use ch02_namespaces::records::{ProcessId, Status};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::collections::BTreeSet;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// Why the application is stopping.
#[derive(Debug, Clone)]
enum Reason {
    /// Ctrl-C or SIGTERM.
    Signal(Signal),
    /// `--abort-on-container-exit`: this container's exit code.
    Aborted(i32),
    /// Something went wrong (the message `up` fails with).
    Failed(String),
    /// Every container ended by itself.
    Finished,
}

/// What a descriptor polled belongs to.
#[derive(Debug, Clone, Copy)]
enum Token {
    Signals,
    Stdout(usize),
    Stderr(usize),
    Ready(usize),
    Probe(usize),
}

/// The running application.
pub struct Run<'a> {
    engine: &'a ComposeEngine,
    project: &'a Project,
    options: &'a UpOptions,
    me: &'a SelfCommand,
    console: Console,
    /// The services started, in start order.
    order: Vec<String>,
    launched: BTreeSet<String>,
    announced_waits: BTreeSet<String>,
    members: Vec<Member>,
    signals: SignalFd,
    stopping: Option<Reason>,
    forced: bool,
    up: Option<ProcessId>,
}

impl<'a> Run<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        engine: &'a ComposeEngine,
        project: &'a Project,
        options: &'a UpOptions,
        me: &'a SelfCommand,
        console: Console,
        plan: &Plan,
        services: Vec<String>,
        members: Vec<Member>,
    ) -> Result<Run<'a>, UpError> {
        debug_assert!(plan.containers.len() >= members.len());
        // From here on SIGINT, SIGTERM and SIGCHLD are read from a
        // descriptor, in the loop, instead of interrupting it. (Children
        // start with an empty mask: std's Command resets it.)
        let mut mask = SigSet::empty();
        for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGCHLD] {
            mask.add(signal);
        }
        sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None).map_err(sys("sigprocmask"))?;
        let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(sys("signalfd"))?;
        Ok(Run {
            engine,
            project,
            options,
            me,
            console,
            order: services,
            launched: BTreeSet::new(),
            announced_waits: BTreeSet::new(),
            members,
            signals,
            stopping: None,
            forced: false,
            up: ProcessId::of(std::process::id() as i32),
        })
    }

    // ANCHOR: loop
    /// The loop: until every container has ended.
    pub fn run(&mut self) -> Result<i32, UpError> {
        loop {
            if self.stopping.is_none() {
                self.launch_ready();
            }
            if self.stopping.is_some() {
                self.stop_next();
            } else if self.all_done() {
                self.stopping = Some(Reason::Finished);
            }
            if self.stopping.is_some() && !self.members.iter().any(Member::live) {
                break;
            }
            let timeout = self.next_due().map_or(PollTimeout::from(1000u16), |due| {
                let wait = due.saturating_duration_since(Instant::now());
                PollTimeout::try_from(wait.min(Duration::from_secs(1))).unwrap_or(PollTimeout::ZERO)
            });
            for token in self.poll(timeout)? {
                self.handle(token);
            }
            self.reap();
            self.timers();
        }
        self.finish()
    }
    // ANCHOR_END: loop

    /// Waits for something to happen; what did.
    fn poll(&self, timeout: PollTimeout) -> Result<Vec<Token>, UpError> {
        let mut fds = vec![PollFd::new(self.signals.as_fd(), PollFlags::POLLIN)];
        let mut tokens = vec![Token::Signals];
        for (i, m) in self.members.iter().enumerate() {
            if let Some(s) = &m.supervisor {
                // Until the supervisor has said whether the container
                // started, its output waits in the pipes: "Started" comes
                // before anything the container prints.
                let streams = match s.ready_fd() {
                    Some(ready) => vec![(Some(ready), Token::Ready(i))],
                    None => vec![
                        (s.stdout.fd(), Token::Stdout(i)),
                        (s.stderr.fd(), Token::Stderr(i)),
                    ],
                };
                for (fd, token) in streams {
                    if let Some(fd) = fd {
                        fds.push(PollFd::new(fd, PollFlags::POLLIN));
                        tokens.push(token);
                    }
                }
            }
            if let Some(fd) = m.probe.as_ref().and_then(|(p, _)| p.fd()) {
                fds.push(PollFd::new(fd, PollFlags::POLLIN));
                tokens.push(Token::Probe(i));
            }
        }
        match poll(&mut fds, timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(errno) => {
                return Err(UpError::Sys {
                    call: "poll",
                    errno,
                });
            }
        }
        Ok(fds
            .iter()
            .zip(tokens)
            .filter(|(fd, _)| fd.revents().is_some_and(|r| !r.is_empty()))
            .map(|(_, t)| t)
            .collect())
    }

    fn handle(&mut self, token: Token) {
        match token {
            Token::Signals => {
                while let Ok(Some(info)) = self.signals.read_signal() {
                    // SIGCHLD needs nothing here: every loop reaps.
                    if let Ok(signal @ (Signal::SIGINT | Signal::SIGTERM)) =
                        Signal::try_from(info.ssi_signo as i32)
                    {
                        self.interrupted(signal);
                    }
                }
            }
            Token::Stdout(i) | Token::Stderr(i) => self.print_output(i),
            Token::Ready(i) => {
                let ready = self.members[i]
                    .supervisor
                    .as_mut()
                    .and_then(Supervisor::read_ready);
                if ready == Some(true) {
                    self.started(i);
                }
            }
            Token::Probe(i) => {
                if let Some((probe, _)) = &mut self.members[i].probe {
                    probe.read();
                }
            }
        }
    }

    fn print_output(&mut self, i: usize) {
        let member = &mut self.members[i];
        let Some(supervisor) = member.supervisor.as_mut() else {
            return;
        };
        let mut lines = supervisor.stdout.read_lines();
        lines.extend(supervisor.stderr.read_lines());
        for line in lines {
            self.console.output(&member.name, &member.service, &line);
        }
    }

    // ANCHOR: launch
    /// Starts every service whose dependencies are met: `service_started`
    /// once their containers run, `service_healthy` once their
    /// healthchecks pass, `service_completed_successfully` once they have
    /// exited with 0. A dependency that cannot be met stops everything.
    fn launch_ready(&mut self) {
        for service in self.order.clone() {
            if self.launched.contains(&service) {
                continue;
            }
            let mut ready = true;
            for (dependency, wanted) in &self.project.services[&service].depends_on {
                match check(&self.members, dependency, wanted.condition) {
                    Check::Ready => {}
                    Check::Wait => {
                        ready = false;
                        // Said once, when the dependency runs and what
                        // is awaited is its health or its end.
                        let started = self
                            .members
                            .iter()
                            .filter(|m| m.service == *dependency)
                            .all(|m| m.started_once);
                        if wanted.condition != Condition::ServiceStarted
                            && started
                            && self.announced_waits.insert(dependency.clone())
                        {
                            for m in self.members.iter().filter(|m| m.service == *dependency) {
                                self.console.progress("Container", &m.name, "Waiting");
                            }
                        }
                    }
                    Check::Fail(message) => {
                        self.stop(Reason::Failed(message));
                        return;
                    }
                }
            }
            if ready {
                self.launched.insert(service.clone());
                for i in 0..self.members.len() {
                    if self.members[i].service == service {
                        self.launch(i);
                    }
                }
            }
        }
    }
    // ANCHOR_END: launch

    /// Starts a container's supervisor.
    fn launch(&mut self, i: usize) {
        let member = &mut self.members[i];
        attended::write(
            self.engine,
            member.id(),
            &Attended {
                up: self.up,
                health: None,
            },
        );
        match Supervisor::spawn(self.me, &member.spec.storage.limited.container.id) {
            Ok(supervisor) => {
                member.supervisor = Some(supervisor);
                member.phase = Phase::Starting;
            }
            Err(e) => {
                let message = format!("cannot start the supervisor of {}: {e}", member.name);
                self.stop(Reason::Failed(message));
            }
        }
    }

    /// The container's program runs.
    fn started(&mut self, i: usize) {
        let now = Instant::now();
        let member = &mut self.members[i];
        member.phase = Phase::Running { since: now };
        member.started_once = true;
        self.console.progress("Container", &member.name, "Started");
        if member.start_health(now) {
            let noted = Attended {
                up: self.up,
                health: Some(HealthStatus::Starting),
            };
            attended::write(self.engine, member.id(), &noted);
        }
    }

    /// Reaps the supervisors and healthchecks that ended.
    fn reap(&mut self) {
        for i in 0..self.members.len() {
            let ended = self.members[i]
                .supervisor
                .as_mut()
                .and_then(Supervisor::try_wait);
            if let Some(status) = ended {
                self.exited(i, status);
            }
            let finished = self.members[i]
                .probe
                .as_mut()
                .and_then(|(p, _)| p.try_finish());
            if let Some((code, output)) = finished {
                self.members[i].probe = None;
                self.checked(i, code, output);
            }
        }
    }

    // ANCHOR: exited
    /// A container's supervisor has ended: how its container did.
    fn exited(&mut self, i: usize, status: std::process::ExitStatus) {
        // What it said last, and whether it had started, first.
        if let Some(s) = self.members[i].supervisor.as_mut()
            && s.read_ready() == Some(true)
        {
            self.started(i);
        }
        self.print_output(i);
        let now = Instant::now();
        let record = self
            .engine
            .containers()
            .load::<Spec>(self.members[i].id())
            .ok();
        let member = &mut self.members[i];
        member.supervisor = None;
        member.probe = None;
        member.next_probe = None;
        member.health = None;
        member.kill_at = None;
        attended::write(
            self.engine,
            member.id(),
            &Attended {
                up: self.up,
                health: None,
            },
        );
        let ran = match member.phase {
            Phase::Running { since } => Some(now.duration_since(since)),
            _ => None,
        };
        let Some(ran) = ran else {
            // It never ran: the start failed.
            member.phase = Phase::Exited;
            let why = record
                .and_then(|r| r.state.error.clone())
                .unwrap_or_else(|| format!("its supervisor ended ({status})"));
            if self.stopping.is_none() {
                let message = format!("container {} failed to start: {why}", member.name);
                self.stop(Reason::Failed(message));
            }
            return;
        };
        let code = record
            .filter(|r| r.state.status == Status::Exited)
            .and_then(|r| r.state.exit_code)
            .or(status.code())
            .unwrap_or(-1);
        member.last_exit = Some(code);
        member.phase = Phase::Exited;
        self.console
            .say(&format!("{} exited with code {code}", member.name));
        if self.stopping.is_some() {
            self.console.progress("Container", &member.name, "Stopped");
            return;
        }
        if self.options.abort_on_container_exit || self.options.exit_code_from.is_some() {
            self.console.say("Aborting on container exit...");
            self.stop(Reason::Aborted(code));
            return;
        }
        let policy = member.restart_policy();
        if let Some(delay) = next_restart(policy, code, ran, &mut member.restarts) {
            member.phase = Phase::RestartAt(now + delay);
        }
    }
    // ANCHOR_END: exited

    /// A healthcheck has ended.
    fn checked(&mut self, i: usize, code: i32, output: String) {
        let member = &mut self.members[i];
        if let Some(status) = member.record_check(code, output, Instant::now()) {
            let shown = match status {
                HealthStatus::Healthy => "Healthy",
                HealthStatus::Unhealthy => "Unhealthy",
                HealthStatus::Starting => "Starting",
            };
            self.console.progress("Container", &member.name, shown);
            let noted = Attended {
                up: self.up,
                health: Some(status),
            };
            attended::write(self.engine, member.id(), &noted);
        }
    }

    /// Ctrl-C or SIGTERM: the first stops, the second kills.
    fn interrupted(&mut self, signal: Signal) {
        if self.stopping.is_some() {
            if !self.forced {
                self.forced = true;
                self.console.say("Killing...");
                for i in 0..self.members.len() {
                    self.kill(i);
                }
            }
            return;
        }
        self.console
            .say("Gracefully stopping... (press Ctrl+C again to force)");
        self.stop(Reason::Signal(signal));
    }

    /// Starts stopping the application (once).
    fn stop(&mut self, reason: Reason) {
        if self.stopping.is_some() {
            return;
        }
        self.stopping = Some(reason);
        for member in &mut self.members {
            member.probe = None;
            member.next_probe = None;
            if matches!(member.phase, Phase::RestartAt(_)) {
                member.phase = Phase::Exited;
            }
        }
    }

    // ANCHOR: stop_next
    /// Asks the containers to stop whose dependents have all stopped: a
    /// service goes only once nothing that depends on it runs.
    fn stop_next(&mut self) {
        let now = Instant::now();
        for service in self.order.iter().rev() {
            let dependents_run = self.members.iter().any(|m| {
                m.live()
                    && self.project.services[&m.service]
                        .depends_on
                        .contains_key(service)
            });
            if dependents_run {
                continue;
            }
            for member in self.members.iter_mut().filter(|m| m.service == *service) {
                if !member.live() || member.kill_at.is_some() {
                    continue;
                }
                self.console.progress("Container", &member.name, "Stopping");
                member.kill_at = Some(now + member.grace());
                signal_member(self.engine, member, member.stop_signal());
            }
        }
    }
    // ANCHOR_END: stop_next

    /// SIGKILL to a container (or its supervisor, before it runs).
    fn kill(&mut self, i: usize) {
        let member = &mut self.members[i];
        if member.live() {
            signal_member(self.engine, member, Signal::SIGKILL);
            member.kill_at = Some(Instant::now() + Duration::from_secs(3600));
        }
    }

    /// Everything due now: healthchecks, their timeouts, restarts, kills.
    fn timers(&mut self) {
        let now = Instant::now();
        for i in 0..self.members.len() {
            let member = &mut self.members[i];
            if member.kill_at.is_some_and(|at| at <= now) && member.live() {
                signal_member(self.engine, member, Signal::SIGKILL);
                member.kill_at = Some(now + Duration::from_secs(3600));
            }
            if self.stopping.is_some() {
                continue;
            }
            if let Some((code, output)) = member.health_timers(self.me, now) {
                self.checked(i, code, output);
            }
            if matches!(self.members[i].phase, Phase::RestartAt(at) if at <= now) {
                self.launch(i);
            }
        }
    }

    /// The next time something is due.
    fn next_due(&self) -> Option<Instant> {
        self.members
            .iter()
            .flat_map(|m| {
                let restart = match m.phase {
                    Phase::RestartAt(at) => Some(at),
                    _ => None,
                };
                [
                    m.kill_at,
                    m.next_probe,
                    m.probe.as_ref().map(|(_, deadline)| *deadline),
                    restart,
                ]
            })
            .flatten()
            .min()
    }

    /// Whether every container has ended for good, nothing left to start.
    fn all_done(&self) -> bool {
        self.launched.len() == self.order.len()
            && self
                .members
                .iter()
                .all(|m| !m.live() && !matches!(m.phase, Phase::RestartAt(_)))
    }

    /// The exit code of `up`, once everything has stopped.
    fn finish(&mut self) -> Result<i32, UpError> {
        for member in &self.members {
            attended::write(self.engine, member.id(), &Attended::default());
        }
        let from = self.options.exit_code_from.as_ref().map(|service| {
            self.members
                .iter()
                .find(|m| m.service == *service)
                .and_then(|m| m.last_exit)
                .unwrap_or(0)
        });
        match self.stopping.take().unwrap_or(Reason::Finished) {
            Reason::Failed(message) => Err(UpError::Failed(message)),
            Reason::Signal(signal) => Ok(128 + signal as i32),
            Reason::Aborted(code) => Ok(from.unwrap_or(code)),
            Reason::Finished => Ok(from.unwrap_or(0)),
        }
    }
}
