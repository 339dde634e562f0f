//! What a stage knows while it is built: its image config so far, its
//! ARGs and whether it set CMD; and what each instruction changes.
//!
//! The executor creates a [`StageState`] from the base image's config,
//! then calls [`StageState::apply`] for each instruction, in order. Config
//! instructions (ENV, LABEL, CMD, ...) change the config and add an
//! empty-layer history entry here; for RUN, COPY, ADD and WORKDIR `apply`
//! returns a [`Step`] with every argument substituted, and the executor
//! does the work (a container, a copy, a directory) and records the layer.
//!
//! **Variables.** Substitution sees the stage's ENV (the base image's and
//! the stage's own) and the ARGs declared *in this stage* so far (or in a
//! stage it is built FROM): an ARG declared before the first FROM is
//! visible only in FROM lines, unless the stage declares it again. ENV
//! wins over an ARG of the same name. An ARG takes its value from
//! `--build-arg`, else its default, else (declared without a default) the
//! global ARG of the same name.

use std::collections::BTreeMap;

use super::error::{DockerfileError, ErrorKind, Position};
use super::gotext;
use super::instruction::{ArgDecl, Copy, Instruction, Kind, RunNetwork, Word};
use super::values::{health_text, join_workdir, nop, port_keys, valid_signal, word_at};
use crate::image::{History, ImageConfig};

/// Build args docker knows without an ARG instruction: given with
/// `--build-arg`, they reach RUN's environment but stay out of the history.
pub const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The shell of the shell form when no SHELL instruction set one.
pub fn default_shell() -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into()]
}

/// What the executor must do for an instruction (all arguments substituted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Only the config changed; the history entry is recorded already.
    Config,
    /// Run `argv` in a container of the stage so far, then commit the changes.
    Run {
        argv: Vec<String>,
        /// The config's Env plus the ARGs (and proxy build args) as `NAME=value`.
        env: Vec<String>,
        network: RunNetwork,
        /// What the history shows (`|1 V=1 /bin/sh -c make`).
        created_by: String,
    },
    /// Copy files into the image (COPY, or ADD with `add: true`).
    Copy {
        add: bool,
        sources: Vec<String>,
        /// Absolute (WORKDIR applied); a trailing `/` means "a directory".
        dest: String,
        from: Option<String>,
        chown: Option<String>,
        chmod: Option<u32>,
        link: bool,
        checksum: Option<String>,
    },
    /// WORKDIR: the config says `path` already; the directory must exist
    /// in the image (docker creates it, as root, when it is missing).
    Workdir { path: String, created_by: String },
}

/// One stage being built.
#[derive(Debug, Clone)]
pub struct StageState {
    file: String,
    escape: char,
    /// The image config so far (the base image's, then changed by each instruction).
    pub config: ImageConfig,
    /// ARGs declared in this stage (or inherited from its base stage), in order.
    args: Vec<(String, Option<String>)>,
    build_args: BTreeMap<String, String>,
    globals: BTreeMap<String, Option<String>>,
    /// Whether this stage has a CMD of its own (ENTRYPOINT keeps it then).
    cmd_set: bool,
    /// The base image's ONBUILD triggers, not yet run.
    triggers: Vec<String>,
}

impl StageState {
    /// A stage on top of an image with config `base` (`ImageConfig::default()`
    /// for `scratch`). `globals` are the resolved ARGs before the first FROM.
    /// The base's ONBUILD triggers are taken out of the config: see
    /// [`StageState::take_triggers`].
    pub fn new(
        file: &str,
        escape: char,
        mut base: ImageConfig,
        build_args: &BTreeMap<String, String>,
        globals: &BTreeMap<String, Option<String>>,
    ) -> StageState {
        let triggers = base.config.on_build.take().unwrap_or_default();
        StageState {
            file: file.to_string(),
            escape,
            config: base,
            args: Vec::new(),
            build_args: build_args.clone(),
            globals: globals.clone(),
            cmd_set: false,
            triggers,
        }
    }

    /// A stage built FROM another stage of the same Dockerfile: it starts
    /// with that stage's config *and* its ARGs.
    pub fn inherit(parent: &StageState) -> StageState {
        let mut child = parent.clone();
        child.cmd_set = false;
        child.triggers = child.config.config.on_build.take().unwrap_or_default();
        child
    }

    /// The base image's ONBUILD triggers, parsed; run them first, as if
    /// they came right after FROM (docker does not pass them on further).
    pub fn take_triggers(&mut self, from: Position) -> Result<Vec<Instruction>, DockerfileError> {
        std::mem::take(&mut self.triggers)
            .iter()
            .map(|text| super::parse_trigger(&self.file, text, self.escape, from))
            .collect()
    }

    /// A variable's value: ENV first, then this stage's ARGs.
    pub fn lookup(&self, name: &str) -> Option<String> {
        let env = self.config.config.env.as_deref().unwrap_or_default();
        env.iter()
            .rev()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=').map(str::to_string))
            .or_else(|| {
                self.args
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .and_then(|(_, v)| v.clone())
            })
    }

    /// Substitutes variables in a word with the stage's values.
    pub fn expand(&self, word: &Word) -> Result<String, DockerfileError> {
        let vars = |name: &str| self.lookup(name);
        word.expand(&self.file, self.escape, &vars)
    }

    fn error(&self, at: Position, kind: ErrorKind) -> DockerfileError {
        DockerfileError::at(&self.file, at, kind)
    }

    /// The shell of the shell form: the config's SHELL, or `/bin/sh -c`.
    pub fn shell(&self) -> Vec<String> {
        self.config
            .config
            .shell
            .clone()
            .unwrap_or_else(default_shell)
    }

    /// Adds a history entry (`created` now). The executor calls this for
    /// RUN, COPY, ADD and WORKDIR; [`apply`](StageState::apply) for the rest.
    pub fn record(&mut self, created_by: String, empty_layer: bool) {
        self.config.history.push(History {
            created: Some(crate::history::rfc3339(crate::store::now())),
            created_by: Some(created_by),
            author: None,
            comment: None,
            empty_layer,
        });
    }

    /// `docker build --label K=V`: the labels join the config as if a
    /// `LABEL` instruction ended the stage (docker's classic builder adds
    /// exactly that instruction); the values are taken as given, never
    /// substituted. Returns the history text it recorded.
    pub fn add_labels(&mut self, labels: &BTreeMap<String, String>) -> String {
        let text: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.config
            .config
            .labels
            .get_or_insert_default()
            .extend(labels.clone());
        let created_by = nop(&self.shell(), &format!("LABEL {}", text.join(" ")));
        self.record(created_by.clone(), true);
        created_by
    }

    /// The ARGs with values, as RUN's environment adds them (ENV wins, so
    /// names the config's Env has are left out), proxies included.
    fn run_args(&self) -> Vec<(String, String)> {
        let env = self.config.config.env.as_deref().unwrap_or_default();
        let in_env = |name: &str| env.iter().any(|kv| kv.split('=').next() == Some(name));
        let mut args: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in &self.args {
            if let Some(value) = value {
                args.insert(name.clone(), value.clone());
            }
        }
        for proxy in PROXY_ARGS {
            if let Some(value) = self.build_args.get(proxy) {
                args.entry(proxy.to_string())
                    .or_insert_with(|| value.clone());
            }
        }
        args.into_iter().filter(|(n, _)| !in_env(n)).collect()
    }

    // ANCHOR: apply
    /// Applies one instruction: config instructions change the config and
    /// record their history entry; the others come back as a [`Step`].
    pub fn apply(&mut self, instruction: &Instruction) -> Result<Step, DockerfileError> {
        let at = instruction.position;
        let shell = self.shell();
        let comment = match &instruction.kind {
            Kind::Env(pairs) | Kind::Label(pairs) => {
                // Every value is substituted with the values from *before*
                // the instruction: `ENV a=1 b=$a` sees the old `a`.
                let mut done = Vec::new();
                for pair in pairs {
                    done.push((self.expand(&pair.key)?, self.expand(&pair.value)?));
                }
                let text: Vec<String> = done.iter().map(|(k, v)| format!("{k}={v}")).collect();
                if matches!(instruction.kind, Kind::Env(_)) {
                    for (key, value) in done {
                        self.set_env(&key, &value);
                    }
                    format!("ENV {}", text.join(" "))
                } else {
                    let labels = self.config.config.labels.get_or_insert_default();
                    labels.extend(done);
                    format!("LABEL {}", text.join(" "))
                }
            }
            Kind::Arg(decls) => self.declare(decls)?,
            Kind::Expose(words) => {
                let mut given = Vec::new();
                for word in words {
                    let text = self.expand(word)?;
                    given.extend(text.split_whitespace().map(str::to_string));
                }
                let ports = self.config.config.exposed_ports.get_or_insert_default();
                for port in &given {
                    for key in port_keys(port).ok_or_else(|| {
                        DockerfileError::at(
                            &self.file,
                            word_at(words, at),
                            ErrorKind::BadPort {
                                value: port.clone(),
                            },
                        )
                    })? {
                        ports.insert(key, serde_json::json!({}));
                    }
                }
                format!("EXPOSE {}", given.join(" "))
            }
            Kind::Volume(words) => {
                let mut paths = Vec::new();
                for word in words {
                    let path = self.expand(word)?;
                    if path.trim().is_empty() {
                        return Err(self.error(
                            word.position,
                            ErrorKind::EmptyValue {
                                instruction: "VOLUME",
                            },
                        ));
                    }
                    paths.push(path);
                }
                let volumes = self.config.config.volumes.get_or_insert_default();
                for path in &paths {
                    volumes.insert(path.clone(), serde_json::json!({}));
                }
                format!("VOLUME {}", gotext::plain_list(&paths))
            }
            Kind::User(word) => {
                let user = self.non_empty(word, "USER")?;
                self.config.config.user = Some(user.clone());
                format!("USER {user}")
            }
            Kind::StopSignal(word) => {
                let signal = self.non_empty(word, "STOPSIGNAL")?;
                if !valid_signal(&signal) {
                    return Err(self.error(word.position, ErrorKind::BadSignal { value: signal }));
                }
                self.config.config.stop_signal = Some(signal.clone());
                format!("STOPSIGNAL {signal}")
            }
            Kind::Shell(argv) => {
                self.config.config.shell = Some(argv.clone());
                format!("SHELL {}", gotext::plain_list(argv))
            }
            Kind::Cmd(command) => {
                let argv = command.argv(&shell);
                self.config.config.cmd = Some(argv.clone());
                self.cmd_set = true;
                format!("CMD {}", gotext::quote_list(&argv))
            }
            Kind::Entrypoint(command) => {
                let argv = command.argv(&shell);
                self.config.config.entrypoint = Some(argv.clone());
                // A CMD inherited from the base image made sense with the
                // base's ENTRYPOINT, not with this one: docker drops it,
                // unless this stage set a CMD of its own.
                if !self.cmd_set {
                    self.config.config.cmd = None;
                }
                format!("ENTRYPOINT {}", gotext::quote_list(&argv))
            }
            Kind::Healthcheck(check) => {
                let config = check.config();
                let text = health_text(check, &config.test);
                self.config.config.healthcheck = Some(config);
                text
            }
            Kind::Onbuild(onbuild) => {
                let triggers = self.config.config.on_build.get_or_insert_default();
                triggers.push(onbuild.expression.clone());
                format!("ONBUILD {}", onbuild.expression)
            }
            Kind::Maintainer(name) => {
                self.config.author = Some(name.clone());
                format!("MAINTAINER {name}")
            }
            Kind::Workdir(word) => {
                let path = self.non_empty(word, "WORKDIR")?;
                let current = self.config.config.working_dir.clone().unwrap_or_default();
                let path = join_workdir(&current, &path);
                self.config.config.working_dir = Some(path.clone());
                let created_by = nop(&shell, &format!("WORKDIR {path}"));
                return Ok(Step::Workdir { path, created_by });
            }
            Kind::Run(run) => {
                let argv = run.command.argv(&shell);
                let args = self.run_args();
                let mut env = self.config.config.env.clone().unwrap_or_default();
                env.extend(args.iter().map(|(n, v)| format!("{n}={v}")));
                return Ok(Step::Run {
                    created_by: self.run_created_by(&argv, &args),
                    argv,
                    env,
                    network: run.network,
                });
            }
            Kind::Copy(copy) => return self.copy(copy, false),
            Kind::Add(copy) => return self.copy(copy, true),
            Kind::From(_) => {
                return Err(self.error(
                    at,
                    ErrorKind::Unsupported {
                        what: "FROM inside a stage".into(),
                        hint: "FROM starts a new stage",
                    },
                ));
            }
        };
        self.record(nop(&shell, &comment), true);
        Ok(Step::Config)
    }
    // ANCHOR_END: apply

    fn non_empty(&self, word: &Word, instruction: &'static str) -> Result<String, DockerfileError> {
        let value = self.expand(word)?;
        if value.is_empty() {
            return Err(self.error(word.position, ErrorKind::EmptyValue { instruction }));
        }
        Ok(value)
    }

    fn set_env(&mut self, key: &str, value: &str) {
        let env = self.config.config.env.get_or_insert_default();
        let entry = format!("{key}={value}");
        match env.iter_mut().find(|kv| kv.split('=').next() == Some(key)) {
            Some(existing) => *existing = entry,
            None => env.push(entry),
        }
    }

    fn declare(&mut self, decls: &[ArgDecl]) -> Result<String, DockerfileError> {
        let mut defaults = Vec::new();
        for decl in decls {
            defaults.push(match &decl.default {
                Some(word) => Some(self.expand(word)?),
                None => None,
            });
        }
        let mut text = Vec::new();
        for (decl, default) in decls.iter().zip(defaults) {
            text.push(match &default {
                Some(value) => format!("{}={value}", decl.name),
                None => decl.name.clone(),
            });
            let value = self
                .build_args
                .get(&decl.name)
                .cloned()
                .or(default)
                .or_else(|| self.globals.get(&decl.name).cloned().flatten());
            self.args.retain(|(n, _)| n != &decl.name);
            self.args.push((decl.name.clone(), value));
        }
        Ok(format!("ARG {}", text.join(" ")))
    }

    /// Docker's classic history line for RUN: the build args in force
    /// (proxies only when declared) as `|N K=V ...` before the command.
    fn run_created_by(&self, argv: &[String], args: &[(String, String)]) -> String {
        if args.is_empty() {
            return argv.join(" ");
        }
        let shown: Vec<String> = args
            .iter()
            .filter(|(n, _)| {
                !PROXY_ARGS.contains(&n.as_str()) || self.args.iter().any(|(a, _)| a == n)
            })
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        let mut parts = vec![format!("|{}", shown.len())];
        parts.extend(shown);
        parts.extend(argv.iter().cloned());
        parts.join(" ")
    }

    fn copy(&self, copy: &Copy, add: bool) -> Result<Step, DockerfileError> {
        let mut sources = Vec::new();
        for word in &copy.sources {
            sources.push(self.expand(word)?);
        }
        let dest = self.expand(&copy.dest)?;
        let workdir = self.config.config.working_dir.clone().unwrap_or_default();
        let dest = if dest.starts_with('/') {
            dest
        } else {
            let joined = join_workdir(&workdir, &dest);
            if dest.ends_with('/') || dest == "." {
                format!("{}/", joined.trim_end_matches('/'))
            } else {
                joined
            }
        };
        let optional = |w: &Option<Word>| w.as_ref().map(|w| self.expand(w)).transpose();
        let chmod = match &copy.chmod {
            None => None,
            Some(word) => {
                let text = self.expand(word)?;
                match u32::from_str_radix(&text, 8) {
                    Ok(mode) if mode <= 0o7777 => Some(mode),
                    _ => {
                        return Err(self.error(
                            word.position,
                            ErrorKind::BadFlagValue {
                                flag: "chmod".into(),
                                value: text,
                                expected: "an octal mode such as 755 or 0644",
                            },
                        ));
                    }
                }
            }
        };
        Ok(Step::Copy {
            add,
            sources,
            dest,
            from: optional(&copy.from)?,
            chown: optional(&copy.chown)?,
            chmod,
            link: copy.link,
            checksum: optional(&copy.checksum)?,
        })
    }
}
