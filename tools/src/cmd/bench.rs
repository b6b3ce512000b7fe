//! `mam bench`: operator benchmarks, each figure beside its reference; `mam bench all` runs
//! them all and writes the report.

use std::process::ExitCode;

/// Subcommands of `mam bench`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// FIX 4.4 NewOrderSingle encode and ExecutionReport decode beside straightforward codecs.
    Fix(super::bench_fix::Args),
    /// Shared-memory ring hop latency beside an rtrb hop between threads.
    Transport(super::bench_transport::Args),
    /// ITCH 5.0 decode vs itch5/itchy and IEX TOPS decode+book vs a raw pcap read.
    Decode(super::bench_decode::Args),
    /// Time one master-order allocation over N accounts beside the memory-streaming limit.
    Alloc(super::bench_alloc::Args),
    /// Own SBE quote decode on the real EURUSD day vs a memory stream of the same bytes.
    Sbe(super::bench_sbe::Args),
    /// The ledger on N accounts with T open tickets: a quote, an open on live equity, a full
    /// mark, each beside its reference.
    Ledger(super::bench_ledger::Args),
    /// End-to-end pipeline latency (load generator → engine stage → LP), in-process and over sockets.
    Pipeline(super::bench_pipeline::Args),
    /// The journal's sync policies (every, interval, checkpoint) beside write(2) + fdatasync.
    Journal(super::bench_journal::Args),
    /// The adaptive layer: factor evaluation beside the static allocation, an adaptive open
    /// beside a static one, and a quote into the factor state beside a memory stream.
    Adaptive(super::bench_adaptive::Args),
    /// Every benchmark in one run, each figure beside its reference and target: DIR/bench.json,
    /// DIR/bench.md and the latency histograms (.hlog/.hgrm).
    All(super::bench_all::Args),
    /// Instructions per item of the hot paths under valgrind's callgrind (machine-independent).
    Instructions(super::bench_instructions::Args),
    /// One workload of `mam bench instructions`, run under callgrind by it.
    #[command(hide = true)]
    InstructionsWork(super::bench_instr_work::Args),
}

/// Runs `mam bench`.
pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::Fix(a) => super::bench_fix::run(a),
        Command::Transport(a) => super::bench_transport::run(a),
        Command::Decode(a) => super::bench_decode::run(a),
        Command::Alloc(a) => super::bench_alloc::run(a),
        Command::Sbe(a) => super::bench_sbe::run(a),
        Command::Ledger(a) => super::bench_ledger::run(a),
        Command::Pipeline(a) => super::bench_pipeline::run(a),
        Command::Journal(a) => super::bench_journal::run(a),
        Command::Adaptive(a) => super::bench_adaptive::run(a),
        Command::All(a) => super::bench_all::run(a),
        Command::Instructions(a) => super::bench_instructions::run(a),
        Command::InstructionsWork(a) => super::bench_instr_work::run(a),
    }
}
