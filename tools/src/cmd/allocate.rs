//! `mam allocate` (not built yet: see the open issues).

use std::process::ExitCode;

/// Arguments of `mam allocate`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `mam allocate`.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`mam allocate` is not built yet")
}
