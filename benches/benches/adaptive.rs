//! The adaptive layer (issue 14), each group with its reference in the same run:
//!
//! - `adaptive_factors`: the static allocation of one EURUSD master by equity in block mode
//!   over 100,000 accounts (`static_allocate`) and the factor evaluation on top of it
//!   (`factors`: shared factors, then per account with a share its view, factors, bounded size
//!   and record, as `Engine::adapt` runs it). Target: factors ≤ 1× static.
//! - `adaptive_open`: one engine master open over the same accounts, static and adaptive
//!   (`apply_without_journal`; its block order is cancelled untimed).
//! - `adaptive_quote`: `AdaptiveState::on_quote` on the fitted EURUSD over 1,000,000 quotes 1 s
//!   apart (an interval closes every 60 quotes) and 60 s apart (every quote closes one), beside
//!   a plain sum of bid + ask over the same stream and the ledger's `set_quote`. Target:
//!   ≤ 50 ns/quote.
//!
//! Throughput is in accounts or quotes (elements) per second; a summary with ns/element and
//! the ratios is printed at the end.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mam_benches::adaptive::{
    ledger_quotes, on_quotes, sum_quotes, warmed_state, EngineCase, FactorCase, QuoteBuf,
    SAMPLE_NS, T0,
};
use mam_core::ledger::Ledger;
use mam_core::symbol::SymbolTable;

const ACCOUNTS: usize = 100_000;
const QUOTES: usize = 1_000_000;

fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    g
}

fn factors(c: &mut Criterion) {
    let mut case = FactorCase::new(ACCOUNTS);
    case.allocate_static();
    let mut g = group(c, "adaptive_factors");
    g.throughput(Throughput::Elements(ACCOUNTS as u64));
    g.bench_function(BenchmarkId::new("static_allocate", ACCOUNTS), |b| {
        b.iter(|| black_box(case.allocate_static()))
    });
    g.bench_function(BenchmarkId::new("factors", ACCOUNTS), |b| {
        b.iter(|| black_box(case.adapt()))
    });
    g.finish();
}

fn open(c: &mut Criterion) {
    let mut case = EngineCase::new(ACCOUNTS, 5_000).expect("engine");
    let mut g = group(c, "adaptive_open");
    g.throughput(Throughput::Elements(ACCOUNTS as u64));
    for (name, ticket, adaptive) in [("static", 1, false), ("adaptive", 2, true)] {
        g.bench_function(BenchmarkId::new(name, ACCOUNTS), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| case.open(ticket, adaptive)).sum())
        });
    }
    g.finish();
}

fn quotes(c: &mut Criterion) {
    let symbols = SymbolTable::builtin();
    let mut g = group(c, "adaptive_quote");
    g.throughput(Throughput::Elements(QUOTES as u64));
    for (name, step) in [("1s", 1_000_000_000), ("60s_every_close", SAMPLE_NS)] {
        let (mut st, id) = warmed_state(&symbols, 5_000);
        let buf = QuoteBuf::new(QUOTES, T0 + 6_000 * 1_000_000_000, step, 23);
        let mut shift = 0;
        g.bench_function(BenchmarkId::new("on_quote", name), |b| {
            b.iter(|| {
                on_quotes(&mut st, id, black_box(&buf.q), shift);
                shift += buf.span_ns;
            })
        });
        if step == SAMPLE_NS {
            continue;
        }
        g.bench_function(BenchmarkId::new("stream_sum", name), |b| {
            b.iter(|| black_box(sum_quotes(black_box(&buf.q), 0)))
        });
        let mut ledger = Ledger::new(&symbols, &[]);
        g.bench_function(BenchmarkId::new("ledger_set_quote", name), |b| {
            b.iter(|| ledger_quotes(&mut ledger, id, black_box(&buf.q)))
        });
    }
    g.finish();
    summary();
}

/// Median of runs within a budget.
fn median(mut f: impl FnMut()) -> f64 {
    f();
    let start = Instant::now();
    let mut t = Vec::new();
    while t.len() < 5 || (start.elapsed() < Duration::from_millis(500) && t.len() < 50_000) {
        let s = Instant::now();
        f();
        t.push(s.elapsed().as_nanos() as f64);
    }
    t.sort_by(|a, b| a.total_cmp(b));
    t[t.len() / 2]
}

fn summary() {
    let n = ACCOUNTS as f64;
    let mut case = FactorCase::new(ACCOUNTS);
    let s = median(|| {
        black_box(case.allocate_static());
    }) / n;
    let f = median(|| {
        black_box(case.adapt());
    }) / n;
    let mut e = EngineCase::new(ACCOUNTS, 5_000).expect("engine");
    let os = median(|| {
        black_box(e.open(1, false));
    });
    let oa = median(|| {
        black_box(e.open(2, true));
    });
    drop(e);
    println!("\nsummary (median, one thread, {ACCOUNTS} accounts):");
    println!(
        "  static allocate {s:.3} ns/account, factors {f:.3} ns/account: ratio {:.2} (target <= 1)",
        f / s
    );
    println!(
        "  engine open: static {:.1} µs, adaptive {:.1} µs: ratio {:.2}",
        os / 1e3,
        oa / 1e3,
        oa / os
    );
    let symbols = SymbolTable::builtin();
    for (name, step) in [("1 s", 1_000_000_000), ("60 s", SAMPLE_NS)] {
        let (mut st, id) = warmed_state(&symbols, 5_000);
        let buf = QuoteBuf::new(QUOTES, T0 + 6_000 * 1_000_000_000, step, 23);
        let mut shift = 0;
        let q = median(|| {
            on_quotes(&mut st, id, &buf.q, shift);
            shift += buf.span_ns;
        }) / QUOTES as f64;
        let r = median(|| {
            black_box(sum_quotes(black_box(&buf.q), 0));
        }) / QUOTES as f64;
        println!(
            "  on_quote, quotes {name} apart: {q:.2} ns/quote, stream sum {r:.2} ns/quote \
             (target <= 50 ns)"
        );
    }
}

criterion_group!(benches, factors, open, quotes);
criterion_main!(benches);
