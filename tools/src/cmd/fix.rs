//! `mam fix` (not built yet: see the open issues).

use std::process::ExitCode;

/// Subcommands of `mam fix`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {}

/// Runs `mam fix`.
pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {}
}
