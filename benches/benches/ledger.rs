//! The ledger on N accounts holding T open tickets (`mam_benches::ledger`, the workload of
//! `mam bench ledger`, smaller here: 10,000 accounts × 20 tickets by default; set
//! `MAM_LEDGER_ACCOUNTS` / `MAM_LEDGER_TICKETS` for others), each figure beside its reference:
//!
//! - `ledger_quote`: one quote through `Engine::apply_without_journal` (limit boxes checked)
//!   beside the same quotes into a bare bid/ask array (throughput in quotes);
//! - `ledger_open`: one master open by the equity model on live equity (every account with a
//!   position marked first) beside the same open on accounts without positions, and the pure
//!   `allocate` on the columns;
//! - `ledger_mark`: a full mark of every account beside a plain sum over the bytes it reads
//!   (throughput in accounts).
//!
//! A summary with the ratios, the targets and the accounts checked again per quote is printed
//! at the end.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mam_benches::ledger::{
    apply_quotes, count_checks, mark_all, master_lots, open_timed, store_quotes, stream_columns,
    BareQuotes, MarkColumns, Params, Scenario,
};
use mam_core::alloc::model::{allocate, Order, StaticModel, Workspace};
use mam_core::alloc::{MinLotPolicy, Mode};
use mam_core::event::MarketEvent;

fn params() -> Params {
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    Params {
        accounts: env("MAM_LEDGER_ACCOUNTS", 10_000),
        tickets: env("MAM_LEDGER_TICKETS", 20),
        ..Params::default()
    }
}

fn build(p: Params, positions: bool) -> Scenario {
    Scenario::build(p, positions, false, |_| {}).expect("workload builds")
}

const TICKET: u64 = 1 << 40;

fn bench(c: &mut Criterion) {
    let p = params();
    let mut live = build(p, true);
    let mut flat = build(p, false);
    let n = p.accounts;
    let eurusd = live.held[0];
    let lots = master_lots(n);

    let mut g = c.benchmark_group(format!("ledger_quote/{n}x{}", p.tickets));
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));
    let mut buf: Vec<MarketEvent> = Vec::new();
    g.bench_function("engine_apply", |b| {
        b.iter_custom(|iters| {
            live.next_quotes(iters as usize, &mut buf);
            let s = Instant::now();
            black_box(apply_quotes(&mut live.engine, &buf));
            s.elapsed()
        })
    });
    let mut bare = BareQuotes::new(live.engine.ledger().instruments());
    g.bench_function("bare_store", |b| {
        b.iter_custom(|iters| {
            live.next_quotes(iters as usize, &mut buf);
            let s = Instant::now();
            black_box(store_quotes(&mut bare, &buf));
            s.elapsed()
        })
    });
    g.finish();

    let mut g = c.benchmark_group(format!("ledger_open/{n}x{}", p.tickets));
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4))
        .sample_size(20)
        .throughput(Throughput::Elements(n as u64));
    g.bench_function(BenchmarkId::new("live_equity", n), |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| open_timed(&mut live, TICKET, eurusd, lots))
                .sum()
        })
    });
    g.bench_function(BenchmarkId::new("imported_equity", n), |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| open_timed(&mut flat, TICKET, eurusd, lots))
                .sum()
        })
    });
    let limits = live.limits(eurusd);
    let mut out = vec![0u64; n];
    let mut ws = Workspace::with_capacity(n);
    let mut order = Order {
        lots,
        model: StaticModel::Equity,
        policy: MinLotPolicy::Zero,
        mode: Mode::Block,
        rotation: 0,
    };
    g.bench_function(BenchmarkId::new("pure_allocate", n), |b| {
        let cols = live.engine.accounts().columns();
        b.iter(|| {
            let a = allocate(&cols, limits, &order, &mut out, &mut ws).expect("allocates");
            order.rotation = order.rotation.wrapping_add(a.dealt);
            black_box(&out);
        })
    });
    g.finish();

    let mut g = c.benchmark_group(format!("ledger_mark/{n}x{}", p.tickets));
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .throughput(Throughput::Elements(n as u64));
    g.bench_function(BenchmarkId::new("mark_all", n), |b| {
        b.iter(|| black_box(mark_all(black_box(&live.engine))))
    });
    let cols = MarkColumns::of(&live.engine);
    g.bench_function(BenchmarkId::new("stream_columns", n), |b| {
        b.iter(|| black_box(stream_columns(black_box(&cols))))
    });
    g.finish();
    drop((live, flat));
    summary(p);
}

/// Median ns of `f`'s own timings within a budget (at least 5).
fn median(mut f: impl FnMut() -> f64) -> f64 {
    f();
    let start = Instant::now();
    let mut t = Vec::new();
    while t.len() < 5 || (start.elapsed() < Duration::from_millis(500) && t.len() < 50_000) {
        t.push(f());
    }
    t.sort_by(|a, b| a.total_cmp(b));
    t[t.len() / 2]
}

fn timed(f: impl FnOnce()) -> f64 {
    let s = Instant::now();
    f();
    s.elapsed().as_nanos() as f64
}

fn summary(p: Params) {
    let mut live = Scenario::build(p, true, true, |_| {}).expect("workload builds");
    let mut flat = build(p, false);
    let mut mirror = live.mirror.take().expect("mirror");
    let mut copy = live.engine.ledger().clone();
    let eurusd = live.held[0];
    let lots = master_lots(p.accounts);
    let mut buf = Vec::new();
    live.next_quotes(200_000, &mut buf);
    let q = timed(|| {
        black_box(apply_quotes(&mut live.engine, &buf));
    }) / buf.len() as f64;
    let mut bare = BareQuotes::new(live.engine.ledger().instruments());
    let s = timed(|| {
        black_box(store_quotes(&mut bare, &buf));
    }) / buf.len() as f64;
    let checks = count_checks(&mut mirror, &mut copy, live.engine.accounts(), &buf);
    let o_live = median(|| open_timed(&mut live, TICKET, eurusd, lots).as_nanos() as f64);
    let o_flat = median(|| open_timed(&mut flat, TICKET, eurusd, lots).as_nanos() as f64);
    let m = median(|| {
        timed(|| {
            black_box(mark_all(&live.engine));
        })
    });
    let cols = MarkColumns::of(&live.engine);
    let st = median(|| {
        timed(|| {
            black_box(stream_columns(&cols));
        })
    });
    let verdict = |ok: bool| if ok { "target met" } else { "target missed" };
    println!(
        "\nsummary ({} accounts × {} tickets, one thread, medians):",
        p.accounts, p.tickets
    );
    println!(
        "  quote      {q:>10.1} ns  bare store {s:>8.1} ns   ratio {:>7.1}  <= 100 ns: {}; \
         {:.4} accounts checked again per quote",
        q / s,
        verdict(q <= 100.0),
        checks as f64 / buf.len() as f64
    );
    println!(
        "  open live  {:>10.1} µs  imported   {:>8.1} µs   ratio {:>7.2}  <= 2x: {}",
        o_live / 1e3,
        o_flat / 1e3,
        o_live / o_flat,
        verdict(o_live <= 2.0 * o_flat)
    );
    println!(
        "  full mark  {:>10.1} µs  stream     {:>8.1} µs   ratio {:>7.2}  <= 3x: {}",
        m / 1e3,
        st / 1e3,
        m / st,
        verdict(m <= 3.0 * st)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
