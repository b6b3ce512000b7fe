//! `mam hist` (not built yet: see the open issues).

use std::process::ExitCode;

/// Arguments of `mam hist`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `mam hist`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`mam hist` is not built yet")
}
