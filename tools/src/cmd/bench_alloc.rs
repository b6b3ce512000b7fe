//! `mam bench alloc`: one master-order allocation (equity model, block mode, EURUSD) over N
//! generated accounts, timed beside the time to stream the same account bytes once (the
//! equity and flags columns the model reads), which is the memory-bandwidth floor.
//!
//! Each figure is the median of repeated runs on warm buffers in this one thread (the
//! `shared` threading mode: nothing else of mam runs). Sizes that do not fit in cache measure
//! main-memory bandwidth; small sizes measure the cache.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mam_core::alloc::model::{allocate, Order, StaticModel, Workspace};
use mam_core::alloc::synth::{stream_reference, synthetic_accounts};
use mam_core::alloc::{LotLimits, MinLotPolicy, Mode};
use mam_core::num::Lots;
use mam_core::symbol::SymbolTable;
use serde::Serialize;

/// Arguments of `mam bench alloc`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of accounts; repeat or separate with commas. Default: 1000,10000,100000,1000000.
    #[arg(long, value_delimiter = ',')]
    pub accounts: Vec<usize>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Time budget per size and per measurement, in milliseconds.
    #[arg(long, default_value_t = 400)]
    pub budget_ms: u64,
}

/// One size's figures.
#[derive(Debug, Serialize)]
pub struct Row {
    /// Accounts.
    pub accounts: usize,
    runs: usize,
    alloc_ns: u64,
    /// Median allocation time ÷ accounts.
    pub alloc_ns_per_account: f64,
    alloc_best_ns_per_account: f64,
    stream_ns: u64,
    /// Median time to stream the columns once ÷ accounts (the reference).
    pub stream_ns_per_account: f64,
    stream_best_ns_per_account: f64,
    ratio: f64,
    best_ratio: f64,
}

#[derive(Serialize)]
struct Report {
    bench: &'static str,
    model: &'static str,
    threading: &'static str,
    master_lots: String,
    results: Vec<Row>,
}

/// Median and best of timed runs of `f` (at least 5 runs, until `budget` is spent), and the
/// number of runs. The best is the figure least disturbed by other processes on the machine.
fn median_ns(budget: Duration, mut f: impl FnMut()) -> (u64, u64, usize) {
    f(); // warm caches and buffers
    let start = Instant::now();
    let mut t = Vec::new();
    while t.len() < 5 || (start.elapsed() < budget && t.len() < 100_000) {
        let s = Instant::now();
        f();
        t.push(s.elapsed().as_nanos() as u64);
    }
    t.sort_unstable();
    (t[t.len() / 2], t[0], t.len())
}

/// Measures every size of `mam bench alloc`.
pub fn measure(args: &Args) -> anyhow::Result<Vec<Row>> {
    let sizes = if args.accounts.is_empty() {
        vec![1_000, 10_000, 100_000, 1_000_000]
    } else {
        args.accounts.clone()
    };
    let spec = *SymbolTable::builtin().require("EURUSD")?;
    let limits = LotLimits::of(&spec);
    let lots = Lots::parse("500")?;
    let budget = Duration::from_millis(args.budget_ms.max(1));
    let mut rows = Vec::new();
    for &n in &sizes {
        anyhow::ensure!(n > 0, "--accounts must be positive");
        let v = synthetic_accounts(n, 7);
        let cols = v.columns();
        let mut out = vec![0u64; n];
        let mut ws = Workspace::with_capacity(n);
        let mut order = Order {
            lots,
            model: StaticModel::Equity,
            policy: MinLotPolicy::Zero,
            mode: Mode::Block,
            rotation: 0,
        };
        // Check once that the figure is of a real, complete allocation.
        let a = allocate(&cols, limits, &order, &mut out, &mut ws)?;
        anyhow::ensure!(
            a.allocated == a.requested,
            "benchmark allocation is not complete"
        );
        let (alloc_ns, alloc_best_ns, runs) = median_ns(budget, || {
            let a = allocate(&cols, limits, &order, &mut out, &mut ws).expect("allocates");
            order.rotation = order.rotation.wrapping_add(a.dealt);
            black_box(&out);
        });
        let (stream_ns, stream_best_ns, _) = median_ns(budget, || {
            black_box(stream_reference(
                black_box(cols.equity),
                black_box(cols.flags),
            ));
        });
        rows.push(Row {
            accounts: n,
            runs,
            alloc_ns,
            alloc_ns_per_account: alloc_ns as f64 / n as f64,
            alloc_best_ns_per_account: alloc_best_ns as f64 / n as f64,
            stream_ns,
            stream_ns_per_account: stream_ns as f64 / n as f64,
            stream_best_ns_per_account: stream_best_ns as f64 / n as f64,
            ratio: alloc_ns as f64 / stream_ns.max(1) as f64,
            best_ratio: alloc_best_ns as f64 / stream_best_ns.max(1) as f64,
        });
    }
    Ok(rows)
}

/// Runs `mam bench alloc`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let rows = measure(&args)?;
    let lots = Lots::parse("500")?;
    if args.json {
        let r = Report {
            bench: "alloc",
            model: "equity",
            threading: "shared (one thread)",
            master_lots: lots.to_string(),
            results: rows,
        };
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "allocation of one {lots}-lot EURUSD master by equity (block mode), one thread; \
             reference: streaming the equity+flags columns once"
        );
        println!("median of the runs (best in brackets); ns/account = time / accounts");
        println!(
            "{:>10} {:>6} {:>12} {:>20} {:>12} {:>20} {:>14}",
            "accounts",
            "runs",
            "alloc µs",
            "alloc ns/account",
            "stream µs",
            "stream ns/account",
            "ratio"
        );
        for r in &rows {
            println!(
                "{:>10} {:>6} {:>12.1} {:>10.3} ({:>7.3}) {:>12.1} {:>10.3} ({:>7.3}) {:>6.2} ({:>5.2})",
                r.accounts,
                r.runs,
                r.alloc_ns as f64 / 1e3,
                r.alloc_ns_per_account,
                r.alloc_best_ns_per_account,
                r.stream_ns as f64 / 1e3,
                r.stream_ns_per_account,
                r.stream_best_ns_per_account,
                r.ratio,
                r.best_ratio
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
