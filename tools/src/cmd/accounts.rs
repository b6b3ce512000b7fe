//! `mam accounts` (not built yet: see the open issues).

use std::process::ExitCode;

/// Subcommands of `mam accounts`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {}

/// Runs `mam accounts`.
pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {}
}
