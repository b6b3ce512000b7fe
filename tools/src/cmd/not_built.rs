//! `mam bench` and `mam manager` in a build without the `bench` feature: they link the
//! benchmark workloads and their reference crates, which a production binary leaves out.

use std::process::ExitCode;

/// Whatever was given: the command is not in this build.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Ignored.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    rest: Vec<String>,
}

/// Says that `mam WHAT` is not in this build and how to get it.
pub fn run(what: &str) -> anyhow::Result<ExitCode> {
    anyhow::bail!(
        "`mam {what}` is not in this build (built without the `bench` feature, which links the \
         benchmark workloads and reference crates): build with the default features, \
         `cargo build --release -p mam-tools`"
    )
}
