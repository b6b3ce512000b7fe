//! `mam capture` (not built yet: see the open issues).

use std::process::ExitCode;

/// Subcommands of `mam capture`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {}

/// Runs `mam capture`.
pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {}
}
