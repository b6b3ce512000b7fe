//! `mam run`: with no arguments, the built-in demo (see `demo`): generated accounts, feed,
//! manager and LP through the real pipeline and engine, then a summary. Exit status 1 if any
//! invariant failed. With `--config mam.toml`, the daemon (see `daemon`, docs/daemon.md).

use std::path::PathBuf;
use std::process::ExitCode;

use mam_core::pipeline::ThreadingMode;

use crate::daemon::config::parse_duration;
use crate::demo::{self, DemoConfig};

/// Arguments of `mam run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run the daemon from this TOML file (market data, FIX manager and LP; see the README).
    /// Without it, `mam run` runs the built-in demo.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Generated accounts.
    #[arg(long, default_value_t = 5_000)]
    pub accounts: usize,
    /// Master trades the built-in manager places (each opened, partially closed, closed).
    #[arg(long, default_value_t = 40)]
    pub trades: usize,
    /// Seed of every generator (same seed, same journal bytes).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Threading mode: `shared` (one thread runs every stage) or `dedicated`.
    #[arg(long, default_value = "shared")]
    pub mode: String,
    /// Stop feeding new inputs after this long (e.g. `30s`, `500ms`); the rest drains.
    #[arg(long)]
    pub duration: Option<String>,
    /// Keep the journal and checkpoints here (default: a temporary directory, removed).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Do not pin stage threads to cores.
    #[arg(long)]
    pub no_pin: bool,
    /// Ring capacity in messages.
    #[arg(long, default_value_t = 4096)]
    pub ring: usize,
    /// Write a checkpoint every this many engine inputs (0: only at start and end).
    #[arg(long, default_value_t = 100_000)]
    pub checkpoint_every: u64,
    /// Print one JSON object with the summary.
    #[arg(long)]
    pub json: bool,
}

/// Runs `mam run`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    if let Some(path) = &a.config {
        let duration = a.duration.as_deref().map(parse_duration).transpose()?;
        return crate::daemon::run(path, duration);
    }
    let mode = ThreadingMode::from_name(&a.mode)
        .ok_or_else(|| anyhow::anyhow!("--mode `{}`: expected shared or dedicated", a.mode))?;
    anyhow::ensure!(a.accounts >= 1, "--accounts must be at least 1");
    anyhow::ensure!(a.ring >= 2, "--ring must be at least 2");
    let duration = a.duration.as_deref().map(parse_duration).transpose()?;
    let (state, temp) = match &a.state {
        Some(p) => (p.clone(), false),
        None => {
            let nanos = mam_core::sys::utc_now_ns() % 1_000_000_000;
            let p = std::env::temp_dir().join(format!("mam-run-{}-{nanos}", std::process::id()));
            (p, true)
        }
    };
    let cfg = DemoConfig {
        accounts: a.accounts,
        trades: a.trades,
        seed: a.seed,
        mode,
        duration,
        state: state.clone(),
        pin: !a.no_pin,
        ring: a.ring,
        checkpoint_every: a.checkpoint_every,
    };
    let result = demo::run(&cfg);
    if temp {
        let _ = std::fs::remove_dir_all(&state);
    }
    let out = result?;
    if a.json {
        println!("{}", out.summary);
    } else {
        for l in &out.text {
            println!("{l}");
        }
    }
    Ok(if out.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
