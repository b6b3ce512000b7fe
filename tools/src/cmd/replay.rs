//! `mam replay` (not built yet: see the open issues).

use std::process::ExitCode;

/// Arguments of `mam replay`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `mam replay`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`mam replay` is not built yet")
}
