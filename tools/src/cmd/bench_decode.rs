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
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use mam_feed::book::TopsBook;
use mam_feed::capture::{udp_payload, Frames};
use mam_feed::{iex, itch};
use serde::Serialize;

/// Arguments of `mam bench decode`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shared data folder (holding itch/ and iex/).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data"))]
    pub data: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Time budget per measurement, in milliseconds.
    #[arg(long, default_value_t = 500)]
    pub budget_ms: u64,
}

#[derive(Debug, Serialize)]
struct Row {
    name: &'static str,
    items: u64,
    median_ns: u64,
    best_ns: u64,
    median_ns_per_item: f64,
    million_items_per_s: f64,
    runs: usize,
}

#[derive(Debug, Serialize)]
struct Report {
    bench: &'static str,
    itch_messages: u64,
    itch: Vec<Row>,
    itch_vs_itch5: f64,
    itch_vs_itchy: f64,
    tops_frames: u64,
    tops_messages: u64,
    tops: Vec<Row>,
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

fn mam_itch(b: &[u8]) -> (u64, u64) {
    let (mut n, mut shares) = (0u64, 0u64);
    for m in itch::BinaryFile::new(b) {
        n += 1;
        if let itch::Message::AddOrder(a) = m {
            shares += u64::from(a.shares());
        }
    }
    (n, shares)
}

#[derive(Default)]
struct Itch5Count {
    n: u64,
    shares: u64,
}

macro_rules! count_only {
    ($($f:ident: $t:ty),* $(,)?) => {
        $(fn $f(&mut self, _m: &$t) -> ControlFlow<()> {
            self.n += 1;
            ControlFlow::Continue(())
        })*
    };
}

impl itch5::MessageHandler for Itch5Count {
    fn on_add_order_no_mpid_attribution(
        &mut self,
        m: &itch5::messages::AddOrderNoMPIDAttribution,
    ) -> ControlFlow<()> {
        self.n += 1;
        self.shares += u64::from(m.shares());
        ControlFlow::Continue(())
    }
    count_only!(
        on_system_event: itch5::messages::SystemEvent,
        on_stock_directory: itch5::messages::StockDirectory,
        on_stock_trading_action: itch5::messages::StockTradingAction,
        on_reg_sho_restriction: itch5::messages::RegSHORestriction,
        on_add_order_with_mpid_attribution: itch5::messages::AddOrderWithMPIDAttribution,
        on_order_executed: itch5::messages::OrderExecuted,
        on_order_cancel: itch5::messages::OrderCancel,
        on_order_delete: itch5::messages::OrderDelete,
        on_order_replace: itch5::messages::OrderReplace,
        on_trade: itch5::messages::Trade,
    );
}

fn itch5_decode(b: &[u8]) -> (u64, u64) {
    let mut h = Itch5Count::default();
    // Errors would show as a count mismatch, checked before timing.
    let _ = itch5::Parser::new(b).parse_stream(&mut h);
    (h.n, h.shares)
}

fn itchy_decode(b: &[u8]) -> (u64, u64) {
    let (mut n, mut shares) = (0u64, 0u64);
    for m in itchy::MessageStream::from_reader(b).flatten() {
        n += 1;
        if let itchy::Body::AddOrder(a) = m.body {
            if a.mpid.is_none() {
                shares += u64::from(a.shares);
            }
        }
    }
    (n, shares)
}

fn tops_decode_and_book(b: &[u8]) -> (u64, u64) {
    let mut s = iex::IexSession::new();
    let mut book = TopsBook::with_capacity(16_384);
    let (mut msgs, mut events) = (0u64, 0u64);
    for f in Frames::new(b).into_iter().flatten() {
        if let Some(d) = udp_payload(&f) {
            s.on_packet(d.payload, |seq, _, m| {
                msgs += 1;
                book.apply(seq, &m, |_| events += 1)
            });
        }
    }
    (msgs, events)
}

/// Capture read + UDP + IEX-TP decode (every message decoded and its timestamp read), no book.
fn tops_decode_only(b: &[u8]) -> u64 {
    let mut s = iex::IexSession::new();
    let mut sum = 0u64;
    for f in Frames::new(b).into_iter().flatten() {
        if let Some(d) = udp_payload(&f) {
            s.on_packet(d.payload, |_, _, m| sum = sum.wrapping_add(m.ts() as u64));
        }
    }
    sum
}

fn pcap_parser_read(b: &[u8]) -> (u64, u64) {
    let Ok((mut rest, _)) = pcap_parser::parse_pcap_header(b) else {
        return (0, 0);
    };
    let (mut frames, mut bytes) = (0u64, 0u64);
    while let Ok((r, f)) = pcap_parser::parse_pcap_frame(rest) {
        frames += 1;
        bytes += f.data.len() as u64;
        rest = r;
    }
    (frames, bytes)
}

/// Runs `mam bench decode`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let read = |rel: &str| {
        let p = a.data.join(rel);
        std::fs::read(&p).with_context(|| format!("reading {} (set --data)", p.display()))
    };
    let mut ib = read("itch/nasdaq-sample-1000.itch")?;
    ib.extend(itch::reframe(&read(
        "itch/ritch-artificial-zero-prefix.itch",
    )?));
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
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "ITCH 5.0 decode, {} messages ({} bytes)",
            r.itch_messages,
            ib.len()
        );
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
            "mam is {:.2}x itch5 and {:.1}x itchy (targets: >= 1x, >= 20x); TOPS decode+book is {:.1}x the raw pcap read (target <= 2x), decode alone {:.1}x",
            r.itch_vs_itch5, r.itch_vs_itchy, r.tops_over_raw_read, r.tops_decode_only_over_raw_read
        );
    }
    Ok(ExitCode::SUCCESS)
}
