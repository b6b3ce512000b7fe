//! `mam bench sbe [--json]`: own SBE quote decode on the real EURUSD day (136,741 Dukascopy
//! ticks as mam SBE packets), beside a memory stream of the same bytes timed in the same run.
//! The workload is `mam_feed::sbe::stream::PacketStream`, the one the Criterion bench times.
//! Figures: median and best of repeated runs (the best is the least disturbed by other load).

use std::hint::black_box;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use mam_feed::dukascopy;
use mam_feed::sbe::stream::PacketStream;

/// Arguments of `mam bench sbe`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A folder of Dukascopy hours to encode (default: the shared EURUSD day,
    /// dukascopy/EURUSD-2019-02-04 under `$MAM_SHARED_DATA` or ../shared/data).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Symbol of the data (price scale).
    #[arg(long, default_value = "EURUSD")]
    pub symbol: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Time budget per measurement, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub budget_ms: u64,
}

fn time(budget: Duration, mut f: impl FnMut()) -> (u64, u64, usize) {
    let mut runs = Vec::new();
    let start = Instant::now();
    while runs.len() < 5 || (start.elapsed() < budget && runs.len() < 100_000) {
        let t = Instant::now();
        f();
        runs.push(t.elapsed().as_nanos().max(1) as u64);
    }
    runs.sort_unstable();
    (runs[runs.len() / 2], runs[0], runs.len())
}

/// The figures of `mam bench sbe` (times in ns, median, best, runs).
#[derive(Debug, Clone, Copy)]
pub struct Report {
    /// Quotes decoded per run.
    pub quotes: u64,
    decoded_quotes: u64,
    decoded_checksum: i64,
    packets: usize,
    /// Bytes streamed per run.
    pub bytes: usize,
    /// Decoding every quote.
    pub decode: (u64, u64, usize),
    /// Streaming the same bytes (the reference).
    pub stream: (u64, u64, usize),
}

/// Measures the figures of `mam bench sbe`.
pub fn measure(a: &Args) -> anyhow::Result<Report> {
    let pd = dukascopy::point_decimals(&a.symbol);
    let mut quotes = Vec::new();
    let data = match &a.data {
        Some(d) => d.clone(),
        None => mam_core::shared_data::shared_path("dukascopy/EURUSD-2019-02-04")?,
    };
    for h in dukascopy::hour_files(&data).with_context(|| "reading the tick data")? {
        for t in dukascopy::read_hour(&h, pd)? {
            quotes.push(t.quote(0, 1));
        }
    }
    let s = PacketStream::from_quotes(quotes, 1472);
    let decoded = s.decode_quotes();
    ensure!(
        decoded.quotes == s.quotes,
        "decoded fewer quotes than encoded"
    );
    let budget = Duration::from_millis(a.budget_ms);
    let (dm, db, dr) = time(budget, || {
        black_box(black_box(&s).decode_quotes());
    });
    let stream = time(budget, || {
        black_box(black_box(&s).stream_bytes());
    });
    Ok(Report {
        quotes: s.quotes,
        decoded_quotes: decoded.quotes,
        decoded_checksum: decoded.checksum,
        packets: s.packets.len(),
        bytes: s.bytes.len(),
        decode: (dm, db, dr),
        stream,
    })
}

/// Runs `mam bench sbe`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let r = measure(&a)?;
    let ((dm, db, dr), (rm, rb, rr)) = (r.decode, r.stream);
    let n = r.quotes as f64;
    let bytes = r.bytes as f64;
    let mqps = |ns: u64| n * 1e3 / ns as f64;
    let gbps = |ns: u64| bytes / ns as f64;
    if a.json {
        let v = serde_json::json!({
            "bench": "sbe",
            "quotes": r.quotes,
            "decoded_quotes": r.decoded_quotes,
            "decoded_checksum": r.decoded_checksum,
            "packets": r.packets,
            "bytes": r.bytes,
            "decode": {"median_ns": dm, "best_ns": db, "runs": dr,
                       "million_quotes_per_s_median": mqps(dm), "million_quotes_per_s_best": mqps(db),
                       "ns_per_quote_median": dm as f64 / n},
            "reference_memory_stream": {"median_ns": rm, "best_ns": rb, "runs": rr,
                       "gb_per_s_median": gbps(rm), "gb_per_s_best": gbps(rb)},
            "decode_over_stream_median": dm as f64 / rm as f64,
            "target_million_quotes_per_s": 100,
            "target_met": mqps(dm) >= 100.0,
        });
        println!("{v}");
    } else {
        println!(
            "mam SBE quote decode, {} quotes in {} packets ({} bytes), one thread",
            r.quotes, r.packets, r.bytes
        );
        println!(
            "  decode (framing + every field)   median {:>8.1} M quotes/s ({:.2} GB/s), best {:.1} M/s, {:.2} ns/quote",
            mqps(dm),
            gbps(dm),
            mqps(db),
            dm as f64 / n
        );
        println!(
            "  reference: stream same bytes     median {:>8.2} GB/s, best {:.2} GB/s",
            gbps(rm),
            gbps(rb)
        );
        println!(
            "  decode takes {:.1}x the stream's time; target >= 100 M quotes/s: {}",
            dm as f64 / rm as f64,
            if mqps(dm) >= 100.0 { "met" } else { "NOT met" }
        );
    }
    Ok(ExitCode::SUCCESS)
}
