//! `mam bench adaptive`: what the adaptive layer costs (issue 14), each figure beside the
//! reference it is compared with, measured in the same run:
//!
//! 1. the factor evaluation of one master over N accounts (the shared factors once, then per
//!    account with a static share its view, factors, bounded size and journal record, exactly
//!    as `Engine::adapt` runs it) beside the static allocation it adapts (equity model, block
//!    mode, `allocate` on the columns). Target: factors ≤ 1× static (adaptive ≤ 2× static).
//!    Also beside the factor stage's memory floor: the same columns read and the same records
//!    written, no factor computed;
//! 2. end to end, one `Engine::apply_without_journal` of an adaptive master open beside the same
//!    static open on the same engine (N accounts, the model fitted on EURUSD, the state warmed
//!    by an hour and a half of quotes);
//! 3. one quote into the factor state (`AdaptiveState::on_quote` on the fitted symbol) over a
//!    generated stream whose source time advances `--quote-step-ms` per quote (an interval
//!    closes every 60 s), and the worst case where every quote closes an interval; beside a
//!    plain loop summing bid + ask over the same stream (the memory-streaming reference) and
//!    the ledger's `set_quote` over it. Target: ≤ 50 ns/quote.
//!
//! The workload is `mam_benches::adaptive`. Figures are medians of repeated runs in this one
//! thread (best in brackets); the two sides of a ratio alternate run by run. Nothing here is
//! asserted on time: a missed target prints "missed".

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use mam_benches::adaptive::{
    ledger_quotes, on_quotes, sum_quotes, warmed_state, EngineCase, FactorCase, QuoteBuf,
    SAMPLE_NS, T0,
};
use mam_core::ledger::Ledger;
use mam_core::symbol::SymbolTable;
use serde::Serialize;

/// Arguments of `mam bench adaptive`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Accounts.
    #[arg(long, default_value_t = 100_000)]
    pub accounts: usize,
    /// Timed runs of each allocation and open figure (after one warm-up run each).
    #[arg(long, default_value_t = 41)]
    pub iters: usize,
    /// Quotes timed per quote figure (the stream is replayed in segments of up to 1,000,000).
    #[arg(long, default_value_t = 10_000_000)]
    pub quotes: usize,
    /// Source time between quotes of the typical stream, ms (intervals are 60 s).
    #[arg(long, default_value_t = 1_000)]
    pub quote_step_ms: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Median and best of a sample, ns.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Stat {
    /// Median.
    pub median: f64,
    best: f64,
    runs: usize,
}

fn stat(mut t: Vec<f64>) -> Stat {
    t.sort_by(|a, b| a.total_cmp(b));
    Stat {
        median: t[t.len() / 2],
        best: t[0],
        runs: t.len(),
    }
}

impl Stat {
    fn per(self, n: usize) -> Stat {
        let n = n.max(1) as f64;
        Stat {
            median: self.median / n,
            best: self.best / n,
            runs: self.runs,
        }
    }
}

/// One figure beside its reference.
#[derive(Debug, Serialize)]
pub struct Line {
    /// What was timed.
    pub figure: String,
    /// Its time.
    pub value_ns: Stat,
    /// What it is compared with.
    pub reference: &'static str,
    /// The reference's time.
    pub reference_ns: Stat,
    ratio: f64,
    /// The target, as text (`-`: none).
    pub target: &'static str,
    /// Whether the target was met (`None`: no target).
    pub met: Option<bool>,
}

#[derive(Debug, Serialize)]
struct QuoteRun {
    step_ms: u64,
    quotes: usize,
    intervals_closed: u64,
    on_quote_ns: Stat,
    stream_sum_ns: Stat,
    ledger_set_quote_ns: Stat,
}

/// The figures of `mam bench adaptive`.
#[derive(Debug, Serialize)]
pub struct Report {
    bench: &'static str,
    accounts: usize,
    with_share: usize,
    master_lots: String,
    iters: usize,
    regime: u8,
    static_steps: u64,
    adapted_steps: u64,
    engine_static_block: String,
    engine_adaptive_block: String,
    factors_digest: String,
    engine_adaptive_digest: String,
    setup_s: f64,
    /// Each figure beside its reference, in the order `run` prints them.
    pub lines: Vec<Line>,
    quotes: Vec<QuoteRun>,
}

fn timed(f: impl FnOnce()) -> f64 {
    let s = Instant::now();
    f();
    s.elapsed().as_nanos() as f64
}

/// Times `quotes` quotes `step_ns` apart (source time) through a warmed factor state, the
/// streaming sum and the ledger's `set_quote`, segment by segment in turn.
fn quote_run(symbols: &SymbolTable, quotes: usize, step_ns: u64) -> QuoteRun {
    let seg = quotes.clamp(1, 1_000_000);
    let (mut st, id) = warmed_state(symbols, 5_000);
    // Starts where the warm-up ended (an hour and a half after T0).
    let b = QuoteBuf::new(seg, T0 + 6_000 * 1_000_000_000, step_ns, 23);
    let mut ledger = Ledger::new(symbols, &[]);
    let (mut ta, mut tb, mut tc) = (Vec::new(), Vec::new(), Vec::new());
    let mut shift = 0u64;
    // Warm-up pass of each (caches, page faults of the buffer), untimed.
    on_quotes(&mut st, id, &b.q, shift);
    shift += b.span_ns;
    black_box(sum_quotes(&b.q, shift));
    ledger_quotes(&mut ledger, id, &b.q);
    let before = st.symbol(id).expect("state").samples;
    let mut left = quotes;
    while left > 0 {
        let n = left.min(seg);
        left -= n;
        let q = &b.q[..n];
        ta.push(timed(|| on_quotes(&mut st, id, black_box(q), shift)) / n as f64);
        tb.push(
            timed(|| {
                black_box(sum_quotes(black_box(q), shift));
            }) / n as f64,
        );
        tc.push(timed(|| ledger_quotes(&mut ledger, id, black_box(q))) / n as f64);
        shift += b.span_ns;
    }
    black_box(&st);
    black_box(ledger.quote(id));
    QuoteRun {
        step_ms: step_ns / 1_000_000,
        quotes,
        intervals_closed: st.symbol(id).expect("state").samples - before,
        on_quote_ns: stat(ta),
        stream_sum_ns: stat(tb),
        ledger_set_quote_ns: stat(tc),
    }
}

/// Measures the figures of `mam bench adaptive`.
pub fn measure(args: &Args) -> anyhow::Result<Report> {
    anyhow::ensure!(args.accounts > 0, "--accounts must be positive");
    anyhow::ensure!(args.iters > 0, "--iters must be positive");
    anyhow::ensure!(args.quotes > 0, "--quotes must be positive");
    anyhow::ensure!(args.quote_step_ms > 0, "--quote-step-ms must be positive");
    let n = args.accounts;
    let t0 = Instant::now();
    let note = |what: &str| eprintln!("[{:>6.1} s] {what}", t0.elapsed().as_secs_f64());

    // 1. Static allocation, and the factor evaluation on top.
    note(&format!("building {n} accounts"));
    let mut fc = FactorCase::new(n);
    let static_steps = fc.allocate_static();
    let adapted_steps = fc.adapt();
    let with_share = fc.with_share();
    let regime = fc.state.shared(fc.instrument, 1, 0).regime;
    note("building the engine");
    let mut ec = EngineCase::new(n, 5_000).map_err(|e| anyhow::anyhow!(e))?;
    let factors_digest = fc.digest();
    let (q, _) = ec.block_qty(1, false);
    let engine_static_block = q.to_string();
    let (q, engine_adaptive_digest) = ec.block_qty(2, true);
    let engine_adaptive_block = q.to_string();
    let setup_s = t0.elapsed().as_secs_f64();

    note(&format!(
        "timing the static allocation and the factor evaluation ({} runs)",
        args.iters
    ));
    let (mut ts, mut tf, mut tsum, mut tfl) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    fc.allocate_static();
    fc.adapt();
    fc.floor();
    for _ in 0..args.iters {
        let s = timed(|| {
            black_box(fc.allocate_static());
        });
        let f = timed(|| {
            black_box(fc.adapt());
        });
        let fl = timed(|| {
            black_box(fc.floor());
        });
        ts.push(s);
        tf.push(f);
        tsum.push(s + f);
        tfl.push(fl);
    }
    let (st, ft, sum, fl) = (stat(ts), stat(tf), stat(tsum), stat(tfl));

    note(&format!("timing engine opens ({} runs each)", args.iters));
    let (mut os, mut oa) = (Vec::new(), Vec::new());
    ec.open(1, false);
    ec.open(2, true);
    for _ in 0..args.iters {
        os.push(ec.open(1, false).as_nanos() as f64);
        oa.push(ec.open(2, true).as_nanos() as f64);
    }
    let (os, oa) = (stat(os), stat(oa));
    drop(ec);

    let symbols = SymbolTable::builtin();
    note(&format!(
        "timing {} quotes {} ms apart, then {} quotes each closing an interval",
        args.quotes, args.quote_step_ms, args.quotes
    ));
    let typical = quote_run(&symbols, args.quotes, args.quote_step_ms * 1_000_000);
    let worst = quote_run(&symbols, args.quotes, SAMPLE_NS);

    let lines = vec![
        Line {
            figure: "factor evaluation, ns/account".into(),
            value_ns: ft.per(n),
            reference: "static allocation, ns/account",
            reference_ns: st.per(n),
            ratio: ft.median / st.median,
            target: "<= 1x",
            met: Some(ft.median <= st.median),
        },
        Line {
            figure: "factor evaluation, ns/account".into(),
            value_ns: ft.per(n),
            reference: "its memory floor, ns/account",
            reference_ns: fl.per(n),
            ratio: ft.median / fl.median,
            target: "-",
            met: None,
        },
        Line {
            figure: "static + factors, ns/account".into(),
            value_ns: sum.per(n),
            reference: "static allocation, ns/account",
            reference_ns: st.per(n),
            ratio: sum.median / st.median,
            target: "<= 2x",
            met: Some(sum.median <= 2.0 * st.median),
        },
        Line {
            figure: "engine open, adaptive".into(),
            value_ns: oa,
            reference: "engine open, static",
            reference_ns: os,
            ratio: oa.median / os.median,
            target: "-",
            met: None,
        },
    ];
    let mut lines = lines;
    for q in [&typical, &worst] {
        lines.push(Line {
            figure: format!("on_quote, {} ms step, ns/quote", q.step_ms),
            value_ns: q.on_quote_ns,
            reference: "stream sum bid+ask, ns/quote",
            reference_ns: q.stream_sum_ns,
            ratio: q.on_quote_ns.median / q.stream_sum_ns.median,
            target: "<= 50 ns",
            met: Some(q.on_quote_ns.median <= 50.0),
        });
    }
    let report = Report {
        bench: "adaptive",
        accounts: n,
        with_share,
        master_lots: mam_benches::ledger::master_lots(n).to_string(),
        iters: args.iters,
        regime,
        static_steps,
        adapted_steps,
        engine_static_block,
        engine_adaptive_block,
        factors_digest: format!("{factors_digest:016x}"),
        engine_adaptive_digest: format!("{engine_adaptive_digest:016x}"),
        setup_s,
        lines,
        quotes: vec![typical, worst],
    };
    Ok(report)
}

/// Runs `mam bench adaptive`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let report = measure(&args)?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print(&report);
    }
    Ok(ExitCode::SUCCESS)
}

/// ns as a readable duration.
fn dur(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.2} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

fn print(r: &Report) {
    println!(
        "adaptive: {} accounts ({} with a static share) in 4 clusters, bounds [0, 1.25], \
         drawdown tolerance 20 %; one EURUSD master of {} lots by equity, block mode; regime {}",
        r.accounts, r.with_share, r.master_lots, r.regime
    );
    println!(
        "static Σ {} steps, adapted Σ {} steps; engine block static {}, adaptive {}; setup {:.1} s",
        r.static_steps, r.adapted_steps, r.engine_static_block, r.engine_adaptive_block, r.setup_s
    );
    println!("median of runs (best in brackets); the two sides of a ratio alternate; one thread");
    println!(
        "{:<34} {:>22}   {:<30} {:>22} {:>7}  target",
        "figure", "value", "reference", "", "ratio"
    );
    for l in &r.lines {
        let v = format!("{} ({})", dur(l.value_ns.median), dur(l.value_ns.best));
        let x = format!(
            "{} ({})",
            dur(l.reference_ns.median),
            dur(l.reference_ns.best)
        );
        let verdict = match l.met {
            Some(true) => format!("{}: met", l.target),
            Some(false) => format!("{}: missed", l.target),
            None => "(no target)".into(),
        };
        println!(
            "{:<34} {:>22}   {:<30} {:>22} {:>7.2}  {}",
            l.figure, v, l.reference, x, l.ratio, verdict
        );
    }
    println!(
        "result digests (FNV-1a): factor records {}, engine adaptive open {}",
        r.factors_digest, r.engine_adaptive_digest
    );
    for q in &r.quotes {
        println!(
            "quotes {} ms apart: {} quotes closed {} intervals; ledger set_quote {} ({}) per quote",
            q.step_ms,
            q.quotes,
            q.intervals_closed,
            dur(q.ledger_set_quote_ns.median),
            dur(q.ledger_set_quote_ns.best)
        );
    }
}
