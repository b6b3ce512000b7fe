//! The single-thread benchmarks of `mam bench all`: each calls its subcommand's `measure` and
//! turns the report into figures with the targets (issue 12's table; the ledger, SBE
//! and adaptive targets are those their own subcommands print).

use std::path::Path;
use std::time::SystemTime;

use anyhow::Context as _;
use hdrhistogram::Histogram;
use mam_gateway::latency::{write_hgrm, HgrmOptions, IntervalLogWriter};

use super::figure::Figure;
use crate::cmd::{
    bench_adaptive, bench_alloc, bench_decode, bench_fix, bench_journal, bench_ledger, bench_sbe,
    bench_transport,
};

/// Picks the quick or the full setting.
fn q<T>(quick: bool, short: T, full: T) -> T {
    if quick {
        short
    } else {
        full
    }
}

/// `mam bench fix`: NewOrderSingle encode and ExecutionReport decode.
pub fn fix(quick: bool) -> anyhow::Result<Vec<Figure>> {
    let r = bench_fix::measure(&bench_fix::Args {
        iterations: q(quick, 100_000, 1_000_000),
        json: true,
    })?;
    let naive_dec = "split+String decoder";
    Ok(vec![
        Figure::new(
            "fix.nos_encode",
            "FIX NewOrderSingle encode",
            r.nos_encode_ns,
            "ns",
        )
        .vs("write!+Vec encoder", r.naive_encode_ns)
        .at_most(60.0, "≤ 60 ns"),
        Figure::new(
            "fix.er_decode",
            "FIX ExecutionReport decode (fields)",
            r.er_decode_ns,
            "ns",
        )
        .vs(naive_dec, r.naive_decode_ns),
        Figure::new(
            "fix.er_decode_typed",
            "FIX ExecutionReport decode, typed fields",
            r.er_decode_typed_ns,
            "ns",
        )
        .vs(naive_dec, r.naive_decode_ns)
        .at_most(100.0, "≤ 100 ns"),
    ])
}

/// Writes `h` as `dir/name.hlog` (one interval) and `dir/name.hgrm`; returns both paths.
pub fn hist_files(dir: &Path, name: &str, h: &Histogram<u64>) -> anyhow::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    let (hlog, hgrm) = (
        dir.join(format!("{name}.hlog")),
        dir.join(format!("{name}.hgrm")),
    );
    let now = SystemTime::now();
    IntervalLogWriter::create_with_base(&hlog, Some(name), now)?.write_interval(h, now, now)?;
    let mut f = std::io::BufWriter::new(std::fs::File::create(&hgrm)?);
    write_hgrm(&mut f, h, HgrmOptions::default())?;
    Ok(vec![hlog.display().to_string(), hgrm.display().to_string()])
}

/// `mam bench transport`: one-way hops (half round trips); the round-trip histograms go to
/// `dir`. Returns the figures, the rtrb hop p50 (the pipeline's reference) and the files.
pub fn transport(quick: bool, dir: &Path) -> anyhow::Result<(Vec<Figure>, f64, Vec<String>)> {
    let (shm, rtrb) = bench_transport::measure(&bench_transport::Args {
        count: q(quick, 20_000, 200_000),
        pin: false,
        json: true,
    })?;
    let mut files = hist_files(dir, "transport-shm-round-trip", &shm)?;
    files.extend(hist_files(dir, "transport-rtrb-round-trip", &rtrb)?);
    let hop = |h: &Histogram<u64>, p: f64| h.value_at_quantile(p) as f64 / 2.0;
    let figs = vec![
        Figure::new(
            "transport.shm_hop.p50",
            "shared-memory ring hop, p50",
            hop(&shm, 0.5),
            "ns",
        )
        .vs("rtrb hop p50", hop(&rtrb, 0.5)),
        Figure::new(
            "transport.shm_hop.p99",
            "shared-memory ring hop, p99",
            hop(&shm, 0.99),
            "ns",
        )
        .vs("rtrb hop p99", hop(&rtrb, 0.99)),
    ];
    Ok((figs, hop(&rtrb, 0.5), files))
}

/// `mam bench decode`: ITCH 5.0 beside itch5 and itchy; IEX TOPS beside a raw pcap read.
pub fn decode(quick: bool) -> anyhow::Result<Vec<Figure>> {
    let r = bench_decode::measure(&bench_decode::Args {
        data: None,
        json: true,
        budget_ms: q(quick, 150, 1000),
    })?;
    let itch = |i: usize| r.itch[i].median_ns_per_item;
    let file_us = |i: usize| r.tops[i].median_ns as f64 / 1e3;
    let raw = "pcap-parser read of the file";
    Ok(vec![
        Figure::new(
            "decode.itch.vs_itch5",
            "ITCH 5.0 decode per message",
            itch(0),
            "ns",
        )
        .vs("itch5 crate", itch(1))
        .ratio_at_most(0.5, "≥ 2× faster than itch5"),
        Figure::new(
            "decode.itch.vs_itchy",
            "ITCH 5.0 decode per message",
            itch(0),
            "ns",
        )
        .vs("itchy crate", itch(2))
        .ratio_at_most(0.05, "≥ 20× faster than itchy"),
        Figure::new(
            "decode.tops.book",
            "IEX TOPS16.pcap decode + book",
            file_us(0),
            "µs",
        )
        .vs(raw, file_us(2))
        .ratio_at_most(2.0, "≤ 2× the raw read"),
        Figure::new(
            "decode.tops.decode_only",
            "IEX TOPS16.pcap decode, no book",
            file_us(1),
            "µs",
        )
        .vs(raw, file_us(2)),
    ])
}

/// `mam bench alloc` at 100,000 accounts (the size).
pub fn alloc(quick: bool) -> anyhow::Result<Vec<Figure>> {
    let rows = bench_alloc::measure(&bench_alloc::Args {
        accounts: vec![100_000],
        json: true,
        budget_ms: q(quick, 150, 1000),
    })?;
    let r = rows.first().context("no allocation row")?;
    Ok(vec![Figure::new(
        "alloc.equity_100k",
        "allocation, equity model, 100,000 accounts, per account",
        r.alloc_ns_per_account,
        "ns",
    )
    .vs("streaming the columns it reads", r.stream_ns_per_account)
    .ratio_at_most(3.0, "≤ 3× streaming")])
}

/// `mam bench sbe`: quote decode on the real EURUSD day.
pub fn sbe(quick: bool) -> anyhow::Result<Vec<Figure>> {
    let r = bench_sbe::measure(&bench_sbe::Args {
        data: None,
        symbol: "EURUSD".into(),
        json: true,
        budget_ms: q(quick, 150, 1000),
    })?;
    let per = |ns: u64| ns as f64 / r.quotes.max(1) as f64;
    Ok(vec![Figure::new(
        "sbe.decode",
        "SBE quote decode, EURUSD day, per quote",
        per(r.decode.0),
        "ns",
    )
    .vs("streaming the same bytes", per(r.stream.0))
    .at_most(10.0, "≥ 100 M quotes/s (≤ 10 ns)")])
}

/// `mam bench ledger`: a quote, an open on live equity, a full mark.
pub fn ledger(quick: bool) -> anyhow::Result<Vec<Figure>> {
    let accounts = q(quick, 10_000, 100_000);
    let r = bench_ledger::measure(&bench_ledger::Args {
        accounts,
        tickets: 20,
        quotes: q(quick, 100_000, 1_000_000),
        thin_permille: 10,
        budget_ms: q(quick, 300, 2000),
        json: true,
    })?;
    let names = [
        "ledger.quote_apply",
        "ledger.open_live_equity",
        "ledger.full_mark",
    ];
    Ok(r.lines
        .iter()
        .zip(names)
        .map(|(l, name)| {
            let what = format!("{}, {accounts} accounts × 20 tickets", l.figure);
            // An open and a full mark take milliseconds: µs. The ledger's own targets (its
            // `met` compares the same medians).
            let (unit, d) = if name == "ledger.quote_apply" {
                ("ns", 1.0)
            } else {
                ("µs", 1e3)
            };
            Figure::new(name, what, l.value_ns.median / d, unit)
                .vs(l.reference, l.reference_ns.median / d)
                .stated(l.target)
        })
        .collect())
}

/// `mam bench journal`: µs per duty cycle of each sync policy at batches of 1 and 64 records,
/// beside the same batch written with write(2) then fdatasync.
pub fn journal(quick: bool) -> anyhow::Result<Vec<Figure>> {
    let r = bench_journal::measure(&bench_journal::Args {
        dir: None,
        records: q(quick, 1_000, 4_000),
        batches: vec![1, 64],
        interval: "2ms".into(),
        checkpoint_every: 100_000,
        ref_samples: q(quick, 50, 200),
        json: true,
    })?;
    Ok(r.runs
        .iter()
        .map(|p| {
            let name = format!("journal.{}.batch{}", p.policy.name(), p.batch);
            let what = format!(
                "journal append cycle, {} sync, {} records",
                p.policy.name(),
                p.batch
            );
            let f = Figure::new(name, what, p.ns_per_cycle() / 1e3, "µs");
            match r.batch_refs.iter().find(|(b, _)| *b == p.batch) {
                Some((_, x)) => f.vs("write(2)+fdatasync of the batch", x.mean() / 1e3),
                None => f,
            }
        })
        .collect())
}

/// `mam bench adaptive`: the factor stage, the adaptive open, a quote into the factor state.
pub fn adaptive(quick: bool) -> anyhow::Result<Vec<Figure>> {
    let accounts = q(quick, 10_000, 100_000);
    let r = bench_adaptive::measure(&bench_adaptive::Args {
        accounts,
        iters: q(quick, 11, 41),
        quotes: q(quick, 1_000_000, 10_000_000),
        quote_step_ms: 1_000,
        json: true,
    })?;
    let names = [
        "adaptive.factors_vs_static",
        "adaptive.factors_vs_floor",
        "adaptive.static_plus_factors",
        "adaptive.open",
        "adaptive.on_quote",
        "adaptive.on_quote_closing",
    ];
    Ok(r.lines
        .iter()
        .zip(names)
        .map(|(l, name)| {
            let what = format!("{}, {accounts} accounts", l.figure);
            let (unit, d) = if name == "adaptive.open" {
                ("µs", 1e3)
            } else {
                ("ns", 1.0)
            };
            Figure::new(name, what, l.value_ns.median / d, unit)
                .vs(l.reference, l.reference_ns.median / d)
                .stated(l.target)
        })
        .collect())
}
