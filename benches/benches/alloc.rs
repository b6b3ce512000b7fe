//! One master-order allocation (equity model, block mode, EURUSD 500 lots) over 1k, 10k, 100k
//! and 1M generated accounts, beside the reference measured in the same run: streaming the
//! same account bytes (equity and flags columns) once, the memory-bandwidth floor. Both report
//! throughput in accounts (elements) per second; a summary with ns/account and the ratio is
//! printed at the end.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mam_core::account::AccountVecs;
use mam_core::alloc::model::{allocate, Order, StaticModel, Workspace};
use mam_core::alloc::synth::{stream_reference, synthetic_accounts};
use mam_core::alloc::{LotLimits, MinLotPolicy, Mode};
use mam_core::num::Lots;
use mam_core::symbol::SymbolTable;

const SIZES: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];

struct Case {
    v: AccountVecs,
    out: Vec<u64>,
    ws: Workspace,
    order: Order,
    limits: LotLimits,
}

impl Case {
    fn new(n: usize) -> Self {
        let spec = *SymbolTable::builtin().require("EURUSD").unwrap();
        Case {
            v: synthetic_accounts(n, 7),
            out: vec![0; n],
            ws: Workspace::with_capacity(n),
            order: Order {
                lots: Lots::parse("500").unwrap(),
                model: StaticModel::Equity,
                policy: MinLotPolicy::Zero,
                mode: Mode::Block,
                rotation: 0,
            },
            limits: LotLimits::of(&spec),
        }
    }

    fn allocate(&mut self) {
        let cols = self.v.columns();
        let a = allocate(&cols, self.limits, &self.order, &mut self.out, &mut self.ws).unwrap();
        debug_assert_eq!(a.allocated, a.requested);
        self.order.rotation = self.order.rotation.wrapping_add(a.dealt);
        black_box(&self.out);
    }

    fn stream(&self) -> u64 {
        stream_reference(black_box(&self.v.equity), black_box(&self.v.flags))
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("alloc_equity_block");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    for n in SIZES {
        let mut case = Case::new(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("allocate", n), |b| {
            b.iter(|| case.allocate())
        });
        g.bench_function(BenchmarkId::new("stream_reference", n), |b| {
            b.iter(|| black_box(case.stream()))
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
    while t.len() < 5 || (start.elapsed() < Duration::from_millis(300) && t.len() < 50_000) {
        let s = Instant::now();
        f();
        t.push(s.elapsed().as_nanos() as f64);
    }
    t.sort_by(|a, b| a.total_cmp(b));
    t[t.len() / 2]
}

fn summary() {
    println!(
        "\nsummary (median, one thread): accounts, allocate ns/account, stream ns/account, ratio"
    );
    for n in SIZES {
        let mut case = Case::new(n);
        let a = median(|| case.allocate()) / n as f64;
        let case = Case::new(n);
        let s = median(|| {
            black_box(case.stream());
        }) / n as f64;
        println!("{n:>9}  {a:>8.3}  {s:>8.3}  {:>7.2}", a / s);
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
