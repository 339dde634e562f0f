//! The runtime's log: `--log FILE --log-format text|json --debug`.
//!
//! Callers read it. containerd-shim-runc-v2 runs every command with
//! `--log log.json --log-format json` and, when a command fails, reports
//! the `msg` of the last `error` line as the reason; so an error goes to
//! the log as one JSON object per line (`{"level":"error","msg":...,
//! "time":...}`), and to standard error too. Without `--log`, the lines
//! go to standard error only.

use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Where and how to log.
#[derive(Debug, Clone, Default)]
pub struct LogConfig {
    pub file: Option<PathBuf>,
    pub json: bool,
    pub debug: bool,
}

static CONFIG: OnceLock<LogConfig> = OnceLock::new();

/// Sets the log's configuration, once, at the start of `main`.
pub fn init(config: LogConfig) {
    let _ = CONFIG.set(config);
}

fn config() -> LogConfig {
    CONFIG.get().cloned().unwrap_or_default()
}

/// One line at `level` (`error`, `warning`, `debug`).
fn line(level: &str, message: &str) {
    let config = config();
    if level == "debug" && !config.debug {
        return;
    }
    let time = super::state::rfc3339(ch02_namespaces::records::now());
    let text = if config.json {
        serde_json::json!({"level": level, "msg": message, "time": time}).to_string()
    } else {
        format!("time={time:?} level={level} msg={message:?}")
    };
    match &config.file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path);
            if let Ok(mut file) = file {
                let _ = writeln!(file, "{text}");
            }
        }
        None if level != "error" => eprintln!("{text}"),
        None => {}
    }
}

/// An error: in the log, and on standard error as `skiff-runc: message`.
pub fn error(message: &str) {
    line("error", message);
    eprintln!("skiff-runc: {message}");
}

pub fn warn(message: &str) {
    line("warning", message);
}

pub fn debug(message: &str) {
    line("debug", message);
}
