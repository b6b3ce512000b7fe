//! `mam run` (not built yet: see the open issues).

use std::process::ExitCode;

/// Arguments of `mam run`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `mam run`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`mam run` is not built yet")
}
