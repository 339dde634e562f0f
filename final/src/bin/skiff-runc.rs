//! `skiff-runc`: an OCI runtime with runc's command line (see
//! [`skiff::runc`]).
//!
//! Errors exit with 1, as runc's do (callers check for non-zero), after
//! the error went to the log (`--log`) and to standard error. `run` and
//! `exec` exit with the container's code.

use clap::Parser;
use skiff::runc::cli::{Cli, execute};

fn main() {
    let cli = Cli::parse();
    skiff::runc::log::init(cli.log());
    ch01_process::explain::set_enabled(cli.explain);
    if cli.enters_container()
        && let Err(error) = ch01_process::sealed_exe::ensure_sealed()
    {
        skiff::runc::log::error(&error.to_string());
        std::process::exit(1);
    }
    match execute(cli) {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            skiff::runc::log::error(&ch01_process::exit::report(error.as_ref()));
            std::process::exit(1);
        }
    }
}
