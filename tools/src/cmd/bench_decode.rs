//! `mam bench decode`: venue decode speed, each beside references timed in the same run.
//!
//! - ITCH 5.0: mam's decoder vs the `itch5` and `itchy` crates over the same BinaryFILE bytes
//!   (NASDAQ's 1,000-message sample plus RITCH's 12,012-message file re-framed with true
//!   length prefixes). Each visits every message and sums the add orders' shares; the three
//!   results are checked equal before timing.
//! - IEX TOPS: pcap read + UDP + IEX-TP decode + per-symbol BBO book (quote and trade events),
//!   and the same without the book, vs reading the same pcap with `pcap-parser` alone.
//!
//! Figures are the median and the best of repeated runs in this thread (the best is the one
//! least disturbed by other processes).

use std::hint::black_box;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use mam_benches::decode::{
    itch5_decode, itch_bytes, itchy_decode, mam_itch, pcap_parser_read, tops_decode_and_book,
    tops_decode_only,
};
use serde::Serialize;

/// Arguments of `mam bench decode`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shared data folder holding itch/ and iex/ (default: `$MAM_SHARED_DATA`, else
    /// ../shared/data beside the repository).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Time budget per measurement, in milliseconds.
    #[arg(long, default_value_t = 500)]
    pub budget_ms: u64,
}

/// One timed decoder.
#[derive(Debug, Serialize)]
pub struct Row {
    /// What was timed.
    pub name: &'static str,
    /// Messages (or frames) per run.
    pub items: u64,
    /// Median run.
    pub median_ns: u64,
    best_ns: u64,
    /// Median run ÷ items.
    pub median_ns_per_item: f64,
    million_items_per_s: f64,
    runs: usize,
}

/// The figures of `mam bench decode`.
#[derive(Debug, Serialize)]
pub struct Report {
    bench: &'static str,
    itch_messages: u64,
    /// mam, itch5, itchy, in that order.
    pub itch: Vec<Row>,
    itch_vs_itch5: f64,
    itch_vs_itchy: f64,
    tops_frames: u64,
    tops_messages: u64,
    /// Decode + book, decode only, pcap-parser read, in that order.
    pub tops: Vec<Row>,
    tops_over_raw_read: f64,
    tops_decode_only_over_raw_read: f64,
}

fn time(name: &'static str, items: u64, budget: Duration, mut f: impl FnMut()) -> Row {
    let mut runs = Vec::new();
    let start = Instant::now();
    while runs.len() < 5 || (start.elapsed() < budget && runs.len() < 100_000) {
        let t = Instant::now();
        f();
        runs.push(t.elapsed().as_nanos() as u64);
    }
    runs.sort_unstable();
    let median = runs[runs.len() / 2];
    Row {
        name,
        items,
        median_ns: median,
        best_ns: runs[0],
        median_ns_per_item: median as f64 / items as f64,
        million_items_per_s: items as f64 * 1e3 / median as f64,
        runs: runs.len(),
    }
}

/// Measures the figures of `mam bench decode`.
pub fn measure(a: &Args) -> anyhow::Result<Report> {
    let read = |rel: &str| {
        let p = a
            .data
            .clone()
            .unwrap_or_else(mam_core::shared_data::shared_data_dir)
            .join(rel);
        std::fs::read(&p).with_context(|| format!("reading {} (set --data)", p.display()))
    };
    let ib = itch_bytes(
        &read("itch/nasdaq-sample-1000.itch")?,
        &read("itch/ritch-artificial-zero-prefix.itch")?,
    );
    let want = mam_itch(&ib);
    ensure!(
        itch5_decode(&ib) == want,
        "itch5 decodes the bytes differently"
    );
    ensure!(
        itchy_decode(&ib) == want,
        "itchy decodes the bytes differently"
    );
    let budget = Duration::from_millis(a.budget_ms);
    let n = want.0;
    let itch = vec![
        time("mam", n, budget, || {
            black_box(mam_itch(black_box(&ib)));
        }),
        time("itch5 (reference)", n, budget, || {
            black_box(itch5_decode(black_box(&ib)));
        }),
        time("itchy (reference)", n, budget, || {
            black_box(itchy_decode(black_box(&ib)));
        }),
    ];
    let tops = read("iex/TOPS16.pcap")?;
    let (msgs, _) = tops_decode_and_book(&tops);
    let (frames, _) = pcap_parser_read(&tops);
    let tops_rows = vec![
        time("mam decode + book", msgs, budget, || {
            black_box(tops_decode_and_book(black_box(&tops)));
        }),
        time("mam decode only (no book)", msgs, budget, || {
            black_box(tops_decode_only(black_box(&tops)));
        }),
        time("pcap-parser read (reference)", frames, budget, || {
            black_box(pcap_parser_read(black_box(&tops)));
        }),
    ];
    let r = Report {
        bench: "decode",
        itch_messages: n,
        itch_vs_itch5: itch[1].median_ns as f64 / itch[0].median_ns as f64,
        itch_vs_itchy: itch[2].median_ns as f64 / itch[0].median_ns as f64,
        itch,
        tops_frames: frames,
        tops_messages: msgs,
        tops_over_raw_read: tops_rows[0].median_ns as f64 / tops_rows[2].median_ns as f64,
        tops_decode_only_over_raw_read: tops_rows[1].median_ns as f64
            / tops_rows[2].median_ns as f64,
        tops: tops_rows,
    };
    Ok(r)
}

/// Runs `mam bench decode`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let r = measure(&a)?;
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!("ITCH 5.0 decode, {} messages", r.itch_messages);
        for row in r.itch.iter().chain(&r.tops) {
            if row.name == "mam decode + book" {
                println!(
                    "IEX TOPS16.pcap: {} frames, {} messages",
                    r.tops_frames, r.tops_messages
                );
            }
            println!(
                "  {:<30} median {:>10} ns  best {:>10} ns  {:>7.2} ns/item  {:>8.1} M items/s",
                row.name,
                row.median_ns,
                row.best_ns,
                row.median_ns_per_item,
                row.million_items_per_s
            );
        }
        println!(
            "mam is {:.2}x itch5 and {:.1}x itchy (targets: >= 2x, >= 20x); TOPS decode+book is {:.1}x the raw pcap read (target <= 2x), decode alone {:.1}x",
            r.itch_vs_itch5, r.itch_vs_itchy, r.tops_over_raw_read, r.tops_decode_only_over_raw_read
        );
    }
    Ok(ExitCode::SUCCESS)
}
