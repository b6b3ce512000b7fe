//! `mam`: the one binary. Each subcommand lives in its own module under `cmd/`.
#![deny(unsafe_op_in_unsafe_fn)]

use clap::{Parser, Subcommand};

mod accounts_io;
mod admin;
mod cmd;
mod daemon;
mod demo;
mod histdata;
mod model_file;
mod out_file;

/// mam: a low-latency execution core for multi-account management.
#[derive(Debug, Parser)]
#[command(name = "mam", version, about, long_about = None)]
struct Cli {
    /// Log lines on stderr (`RUST_LOG` sets the level; default warn): `text` for people, `json`
    /// (one object per line) for log shippers. The daemon's stats line stays on stdout.
    #[arg(long, global = true, value_parser = ["text", "json"], default_value = "text")]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the engine (with no arguments: a complete demo on generated data).
    Run(cmd::run::Args),
    /// Split one master order across accounts with a static model.
    Allocate(cmd::allocate::Args),
    /// Create, import, show and export the memory-mapped account store.
    #[command(subcommand)]
    Accounts(cmd::accounts::Command),
    /// Verify or dump a journal.
    #[command(subcommand)]
    Journal(cmd::journal::Command),
    /// Why each account got what it got in an adaptive allocation (from the journal).
    Explain(cmd::explain::Args),
    /// Replay a manager's trades through the engine static and adaptive, and report.
    Validate(cmd::validate::Args),
    /// Inspect or convert market-data captures.
    #[command(subcommand)]
    Capture(cmd::capture::Command),
    /// Send a capture's packets over UDP at their recorded pace.
    Replay(cmd::replay::Args),
    /// FIX tools (send orders to an LP and measure round trips).
    #[command(subcommand)]
    Fix(cmd::fix::Command),
    /// Play a manager toward the daemon: seeded master orders over a capture's clock.
    #[cfg(feature = "bench")]
    Manager(cmd::manager::Args),
    /// (Not in this build: it was built without the `bench` feature.)
    #[cfg(not(feature = "bench"))]
    Manager(cmd::not_built::Args),
    /// Print the percentile distribution of an HdrHistogram interval log.
    Hist(cmd::hist::Args),
    /// Fit the adaptive model (volatility, regimes, clusters) from 1-minute bars.
    Train(cmd::train::Args),
    /// Operator benchmarks, each printed beside its reference.
    #[cfg(feature = "bench")]
    #[command(subcommand)]
    Bench(cmd::bench::Command),
    /// (Not in this build: it was built without the `bench` feature.)
    #[cfg(not(feature = "bench"))]
    Bench(cmd::not_built::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Colour only for a person at a terminal: a log file or a pipe gets no escape codes.
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter);
    if cli.log_format == "json" {
        logs.json().init();
    } else {
        logs.init();
    }
    let result = match cli.command {
        Command::Run(a) => cmd::run::run(a),
        Command::Allocate(a) => cmd::allocate::run(a),
        Command::Accounts(c) => cmd::accounts::run(c),
        Command::Journal(c) => cmd::journal::run(c),
        Command::Explain(a) => cmd::explain::run(a),
        Command::Validate(a) => cmd::validate::run(a),
        Command::Capture(c) => cmd::capture::run(c),
        Command::Replay(a) => cmd::replay::run(a),
        Command::Fix(c) => cmd::fix::run(c),
        #[cfg(feature = "bench")]
        Command::Manager(a) => cmd::manager::run(a),
        #[cfg(not(feature = "bench"))]
        Command::Manager(_) => cmd::not_built::run("manager"),
        Command::Hist(a) => cmd::hist::run(a),
        Command::Train(a) => cmd::train::run(a),
        #[cfg(feature = "bench")]
        Command::Bench(c) => cmd::bench::run(c),
        #[cfg(not(feature = "bench"))]
        Command::Bench(_) => cmd::not_built::run("bench"),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mam: error: {}", error_text(&e));
            std::process::ExitCode::from(2)
        }
    }
}

/// The error and its causes, `: `-separated, each cause once: many library errors already
/// print their source in their own message (`"{path}: {source}"`), and anyhow's `{:#}` would
/// print it again ("X: No such file (os error 2): No such file (os error 2)").
fn error_text(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if out.contains(&s) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&s);
    }
    out
}
