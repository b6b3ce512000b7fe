//! `mam bench journal`: what each `journal.sync` policy costs on this disk, beside what the
//! disk's own durable write costs (workload: `mam_benches::journal_sync`).
//!
//! Per batch size (records per engine duty cycle) and policy: ns per append, ns per cycle with
//! its sync, syncs per second appending flat out, and the mean sync. References in the same
//! run and on the same filesystem: one `fdatasync` after a 4 KiB `write(2)` (over written
//! blocks, and at the end of a growing file), and each batch written with `write(2)` then
//! `fdatasync`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use mam_benches::journal_sync::{
    reference_batch_write, reference_page_sync, run_policy, PolicyRun, RefRun,
};
use mam_core::journal::sync::DEFAULT_SYNC_INTERVAL_NS;
use mam_core::journal::SyncPolicy;
use serde_json::{json, Value};

use crate::daemon::config::parse_duration;

/// Arguments of `mam bench journal`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scratch journals and files go in a new temporary directory inside DIR (so on its
    /// filesystem: put it where the daemon's `state` is). Default: the system's temp dir.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Records appended per policy and batch size (64 to 128-byte payloads). An `interval`
    /// run goes on (within its first segment) until 10 intervals have passed.
    #[arg(long, default_value_t = 4_000)]
    pub records: u64,
    /// Records per duty cycle (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    pub batches: Vec<usize>,
    /// The `interval` policy's period.
    #[arg(long, default_value = "2ms")]
    pub interval: String,
    /// The `checkpoint` policy: a journal sync after this many records (the daemon's
    /// `engine.checkpoint_every`; 0: none).
    #[arg(long, default_value_t = 100_000)]
    pub checkpoint_every: u64,
    /// Samples of each reference.
    #[arg(long, default_value_t = 200)]
    pub ref_samples: u64,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

fn policy_label(p: SyncPolicy, interval: &str) -> String {
    match p {
        SyncPolicy::Interval { .. } => format!("interval {interval}"),
        p => p.name().to_string(),
    }
}

fn ref_json(r: &RefRun) -> Value {
    json!({
        "what": r.what,
        "samples": r.hist.len(),
        "mean_ns": r.mean(),
        "p50_ns": r.hist.value_at_quantile(0.5),
        "p99_ns": r.hist.value_at_quantile(0.99),
        "max_ns": r.hist.max(),
    })
}

fn ref_line(r: &RefRun) -> String {
    format!(
        "  {:<58} mean {:>8.1} µs  p50 {:>8.1}  p99 {:>8.1}  max {:>8.1}  (n={})",
        r.what,
        r.mean() / 1e3,
        r.hist.value_at_quantile(0.5) as f64 / 1e3,
        r.hist.value_at_quantile(0.99) as f64 / 1e3,
        r.hist.max() as f64 / 1e3,
        r.hist.len()
    )
}

/// The figures of `mam bench journal`.
#[derive(Debug)]
pub struct Report {
    /// Where the scratch files went.
    pub parent: PathBuf,
    /// One run per batch size and policy.
    pub runs: Vec<PolicyRun>,
    /// Per batch size: the batch written with write(2) then fdatasync.
    pub batch_refs: Vec<(usize, RefRun)>,
    /// 4 KiB + fdatasync over written blocks, and at the end of a growing file.
    pub page_refs: [RefRun; 2],
    load_before: f64,
    load_after: f64,
}

/// Measures the figures of `mam bench journal`.
pub fn measure(a: &Args) -> anyhow::Result<Report> {
    anyhow::ensure!(a.records > 0, "--records must be positive");
    anyhow::ensure!(
        !a.batches.is_empty() && a.batches.iter().all(|&b| b > 0),
        "--batches: positive record counts"
    );
    let interval = parse_duration(&a.interval).context("--interval")?;
    anyhow::ensure!(!interval.is_zero(), "--interval must be more than 0");
    let interval_ns = u64::try_from(interval.as_nanos()).unwrap_or(DEFAULT_SYNC_INTERVAL_NS);
    let parent = a.dir.clone().unwrap_or_else(std::env::temp_dir);
    let policies = [
        SyncPolicy::Every,
        SyncPolicy::Interval { interval_ns },
        SyncPolicy::Checkpoint,
    ];
    let load_before = loadavg();
    let mut runs: Vec<PolicyRun> = Vec::new();
    let mut batch_refs: Vec<(usize, RefRun)> = Vec::new();
    for &b in &a.batches {
        for p in policies {
            let min_ns = match p {
                SyncPolicy::Interval { interval_ns } => interval_ns.saturating_mul(10),
                _ => 0,
            };
            runs.push(
                run_policy(&parent, p, b, a.records, a.checkpoint_every, min_ns)
                    .with_context(|| format!("{} with batches of {b}", p.name()))?,
            );
        }
        let cycles = a.ref_samples.min(a.records.div_ceil(b as u64)).max(1);
        batch_refs.push((
            b,
            reference_batch_write(&parent, b, cycles).context("reference: batch write")?,
        ));
    }
    let page_refs = [
        reference_page_sync(&parent, a.ref_samples.max(1), false)
            .context("reference: 4 KiB over written blocks")?,
        reference_page_sync(&parent, a.ref_samples.max(1), true)
            .context("reference: 4 KiB at the end of a growing file")?,
    ];
    Ok(Report {
        parent,
        runs,
        batch_refs,
        page_refs,
        load_before,
        load_after: loadavg(),
    })
}

/// Runs `mam bench journal`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let Report {
        parent,
        runs,
        batch_refs,
        page_refs,
        load_before,
        load_after,
    } = measure(&a)?;
    if a.json {
        let rows: Vec<Value> = runs
            .iter()
            .map(|r| {
                json!({
                    "policy": r.policy.name(),
                    "interval_ns": match r.policy { SyncPolicy::Interval { interval_ns } => Some(interval_ns), _ => None },
                    "batch": r.batch,
                    "records": r.records,
                    "cycles": r.cycles,
                    "ns_per_append": r.ns_per_append(),
                    "ns_per_cycle": r.ns_per_cycle(),
                    "cycle_p99_ns": r.cycle_hist.value_at_quantile(0.99),
                    "cycle_max_ns": r.cycle_hist.max(),
                    "syncs": r.syncs,
                    "ns_per_sync": r.ns_per_sync(),
                    "syncs_per_sec": r.syncs_per_sec(),
                })
            })
            .collect();
        let out = json!({
            "bench": "journal",
            "dir": parent.display().to_string(),
            "records": a.records,
            "checkpoint_every": a.checkpoint_every,
            "loadavg_1m_before": load_before,
            "loadavg_1m_after": load_after,
            "policies": rows,
            "reference_page_sync": page_refs.iter().map(ref_json).collect::<Vec<_>>(),
            "reference_batch_write_fdatasync": batch_refs.iter().map(|(b, r)| {
                let mut v = ref_json(r);
                v["batch"] = json!(b);
                v
            }).collect::<Vec<_>>(),
        });
        println!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "journal sync policies: {} records (64-128 B payloads) per run (interval: at least 10 \
         intervals), appended flat out in duty cycles of B records, fresh 64 MiB segment each \
         run, in {} (load {:.2} -> {:.2})",
        a.records,
        parent.display(),
        load_before,
        load_after
    );
    println!(
        "{:>6}  {:<14} {:>8} {:>10} {:>12} {:>12} {:>12} {:>8} {:>10} {:>10}   {:>14}",
        "batch",
        "policy",
        "records",
        "ns/append",
        "ns/cycle",
        "p99 cycle",
        "max cycle",
        "syncs",
        "µs/sync",
        "syncs/s",
        "ref write+sync"
    );
    for r in &runs {
        let reference = batch_refs
            .iter()
            .find(|(b, _)| *b == r.batch)
            .map_or(String::new(), |(_, x)| format!("{:.0} ns/cycle", x.mean()));
        let line = format!(
            "{:>6}  {:<14} {:>8} {:>10.1} {:>12.0} {:>10.1}µs {:>10.1}µs {:>8} {:>10.1} {:>10.0}   {:>14}",
            r.batch,
            policy_label(r.policy, &a.interval),
            r.records,
            r.ns_per_append(),
            r.ns_per_cycle(),
            r.cycle_hist.value_at_quantile(0.99) as f64 / 1e3,
            r.cycle_hist.max() as f64 / 1e3,
            r.syncs,
            r.ns_per_sync() / 1e3,
            r.syncs_per_sec(),
            if r.policy == SyncPolicy::Every {
                reference
            } else {
                String::new()
            }
        );
        println!("{}", line.trim_end());
    }
    println!(
        "  ns/cycle: the cycle's appends plus its sync, if any (checkpoint: a sync every {} \
         records, the journal's part of a checkpoint); ref write+sync: the same batch's bytes \
         written with write(2) to a plain file, then fdatasync",
        a.checkpoint_every
    );
    println!("references (same filesystem, same run; fdatasync timed alone):");
    for r in &page_refs {
        println!("{}", ref_line(r));
    }
    for (_, r) in &batch_refs {
        println!("{}", ref_line(r));
    }
    Ok(ExitCode::SUCCESS)
}
