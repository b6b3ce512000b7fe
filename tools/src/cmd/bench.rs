//! `mam bench` (not built yet: see the open issues).

use std::process::ExitCode;

/// Subcommands of `mam bench`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {}

/// Runs `mam bench`.
pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {}
}
