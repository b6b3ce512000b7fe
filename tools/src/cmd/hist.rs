//! `mam hist FILE.hlog [--json] [--per-interval]`: the percentile distribution of an
//! HdrHistogram interval log, merged over all intervals (or one per interval).
//!
//! Values are printed in the log's units (mam writes nanoseconds) unless `--unit-ratio` divides
//! them; the table is the `.hgrm` layout HdrHistogram's plotter reads.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use hdrhistogram::Histogram;
use mam_gateway::latency::{read_hlog, write_hgrm, HgrmOptions};
use serde_json::{json, Value};

/// Arguments of `mam hist`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The interval log (`.hlog`).
    pub file: PathBuf,
    /// Print one JSON object (count, min, max, mean, p50, p90, p99, p999) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// One distribution per interval instead of the merged one.
    #[arg(long)]
    pub per_interval: bool,
    /// Only intervals with this tag.
    #[arg(long)]
    pub tag: Option<String>,
    /// Divide table values by this (1000 prints nanoseconds as microseconds). Not applied to
    /// `--json`, which always reports the log's units.
    #[arg(long, default_value_t = 1.0)]
    pub unit_ratio: f64,
    /// Percentile ticks per half distance in the table.
    #[arg(long, default_value_t = 5)]
    pub ticks: u32,
}

fn summary(h: &Histogram<u64>) -> Value {
    let (min, max, mean) = if h.is_empty() {
        (0, 0, 0.0)
    } else {
        (h.min(), h.max(), h.mean())
    };
    json!({
        "count": h.len(),
        "min": min,
        "max": max,
        "mean": mean,
        "p50": h.value_at_quantile(0.50),
        "p90": h.value_at_quantile(0.90),
        "p99": h.value_at_quantile(0.99),
        "p999": h.value_at_quantile(0.999),
    })
}

/// Runs `mam hist`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.unit_ratio.is_finite() && args.unit_ratio > 0.0,
        "--unit-ratio must be a positive number"
    );
    let mut log = read_hlog(&args.file).with_context(|| "mam hist: cannot read the log")?;
    if let Some(tag) = &args.tag {
        log.intervals
            .retain(|i| i.tag.as_deref() == Some(tag.as_str()));
    }
    let merged = log.merged()?;
    let opts = HgrmOptions {
        ticks_per_half: args.ticks,
        unit_ratio: args.unit_ratio,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        let mut v = summary(&merged);
        if args.per_interval {
            let list: Vec<Value> = log
                .intervals
                .iter()
                .map(|i| {
                    let mut s = summary(&i.hist);
                    s["tag"] = json!(i.tag);
                    s["start_s"] = json!(i.start_s);
                    s["length_s"] = json!(i.length_s);
                    s
                })
                .collect();
            v["intervals"] = Value::Array(list);
        }
        writeln!(out, "{v}")?;
    } else if args.per_interval {
        for (k, i) in log.intervals.iter().enumerate() {
            writeln!(
                out,
                "# interval {k}: tag={} start={:.3}s length={:.3}s",
                i.tag.as_deref().unwrap_or("-"),
                i.start_s,
                i.length_s
            )?;
            write_hgrm(&mut out, &i.hist, opts)?;
            writeln!(out)?;
        }
    } else {
        write_hgrm(&mut out, &merged, opts)?;
    }
    Ok(ExitCode::SUCCESS)
}
