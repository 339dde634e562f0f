//! The shell every chapter binary shares: the `--explain` flag, the error
//! report, and the exit code.
//!
//! Each binary's `main` parses its flags, then hands its work to [`run`],
//! which turns the outcome into what a shell user expects of `docker run`:
//! the container's own exit code on success; on failure a one-line message
//! on standard error, `program: what went wrong: why`, and an exit code that
//! says whose fault it was:
//!
//! | code | meaning                                             |
//! |------|-----------------------------------------------------|
//! | 125  | the engine failed (a bad flag, a missing image, ...) |
//! | 126  | the command exists but cannot be executed            |
//! | 127  | the command was not found                            |
//! | else | the container's command ran, and this is its code    |

use crate::SpawnError;
use crate::exit::report;

/// The flag every chapter binary has.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Explain {
    /// Print each step the engine asks of the kernel (and of registries), on stderr
    #[arg(long, global = true)]
    pub explain: bool,
}

/// Runs a binary's work with narration set as asked, prints the error if
/// there is one, and exits with the code that [`exit_code`] gives.
pub fn run(program: &str, explain: &Explain, work: impl FnOnce() -> anyhow::Result<i32>) -> ! {
    crate::explain::set_enabled(explain.explain);
    match work() {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!("{program}: {}{}", report(error.as_ref()), hint(&error));
            std::process::exit(exit_code(&error));
        }
    }
}

/// 126 or 127 when the command could not be run (a [`SpawnError`] anywhere
/// in the chain of causes says which), 125 for every other failure.
pub fn exit_code(error: &anyhow::Error) -> i32 {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<SpawnError>())
        .map_or(125, SpawnError::exit_code)
}

/// What to do about errors of the machine rather than of the input.
fn hint(error: &anyhow::Error) -> &'static str {
    let full = error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::StorageFull)
    });
    if full || format!("{error:#}").contains("No space left on device") {
        " (free some space, or give --root a directory on a larger filesystem)"
    } else {
        ""
    }
}

/// Lays out rows as docker does (Go's tabwriter): each column as wide as
/// its widest cell, columns three spaces apart, no trailing spaces.
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|row| row.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if c + 1 < row.len() {
                let pad = widths[c] - cell.chars().count() + 3;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A duration as docker says it: "Less than a second", "5 seconds",
/// "About a minute", "3 hours", "2 weeks".
pub fn human_duration(elapsed: std::time::Duration) -> String {
    let seconds = elapsed.as_secs();
    let minutes = seconds / 60;
    let hours = (elapsed.as_secs_f64() / 3600.0).round() as u64;
    match () {
        _ if seconds < 1 => "Less than a second".into(),
        _ if seconds == 1 => "1 second".into(),
        _ if seconds < 60 => format!("{seconds} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", hours / 24 / 365),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn tables_pad_columns_like_docker() {
        let rows = vec![
            vec!["NAME".to_string(), "STATUS".to_string()],
            vec!["web".to_string(), "Up 2 seconds".to_string()],
        ];
        assert_eq!(table(&rows), "NAME   STATUS\nweb    Up 2 seconds\n");
    }

    #[test]
    fn durations_read_like_docker() {
        assert_eq!(
            human_duration(Duration::from_millis(300)),
            "Less than a second"
        );
        assert_eq!(human_duration(Duration::from_secs(1)), "1 second");
        assert_eq!(human_duration(Duration::from_secs(59)), "59 seconds");
        assert_eq!(human_duration(Duration::from_secs(90)), "About a minute");
        assert_eq!(human_duration(Duration::from_secs(3600 * 5)), "5 hours");
        assert_eq!(human_duration(Duration::from_secs(3600 * 24 * 3)), "3 days");
    }

    #[test]
    fn exit_codes_follow_the_cause() {
        let not_found = anyhow::Error::new(SpawnError::NotInPath {
            program: "nope".into(),
        })
        .context("running the container");
        assert_eq!(exit_code(&not_found), 127);
        let denied = anyhow::Error::new(SpawnError::PermissionDenied {
            program: "/etc".into(),
        });
        assert_eq!(exit_code(&denied), 126);
        assert_eq!(exit_code(&anyhow::anyhow!("bad flag")), 125);
    }
}
