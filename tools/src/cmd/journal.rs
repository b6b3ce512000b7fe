//! `mam journal` (not built yet: see the open issues).

use std::process::ExitCode;

/// Subcommands of `mam journal`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {}

/// Runs `mam journal`.
pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {}
}
