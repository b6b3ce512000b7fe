//! `mam bench ledger`: what the ledger costs on N accounts holding T open tickets (issue 9),
//! each figure beside its reference measured in the same run:
//!
//! 1. a quote (`Engine::apply_without_journal` of a quote, with the limit boxes checked) beside
//!    the same quote stream into a bare bid/ask array; how many accounts a quote made the engine
//!    check again; and what one brute-force valuation of every account would cost instead;
//! 2. one master open by the equity model (which marks every account with a position first)
//!    beside the same open on an engine whose accounts hold nothing (equity as imported), both
//!    block-routed, and the pure `allocate` on the columns;
//! 3. a full mark of every account (`Engine::valuation`) beside a plain sum over the bytes it
//!    reads (the memory-streaming limit).
//!
//! The workload (`mam_benches::ledger`) is built through the engine: every symbol quoted, then
//! each ticket one block open of the equity model filled at once at the touch; 1 % of the
//! accounts then withdraw down to a margin level of 150–600 %. Figures are medians of repeated
//! runs in this one thread (best in brackets); the two sides of a ratio alternate run by run.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mam_benches::ledger::{
    apply_quotes, count_checks, mark_all, master_lots, open_timed, store_quotes, stream_columns,
    BareQuotes, MarkColumns, Params, Scenario, HELD,
};
use mam_benches::ledger::{BoxMirror, Clock, QuoteGen};
use mam_core::alloc::model::{allocate, Order, StaticModel, Workspace};
use mam_core::alloc::{MinLotPolicy, Mode};
use mam_core::event::MarketEvent;
use mam_core::ledger::Ledger;
use mam_core::num::Lots;
use serde::Serialize;

/// Arguments of `mam bench ledger`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Accounts.
    #[arg(long, default_value_t = 100_000)]
    pub accounts: usize,
    /// Open tickets every account holds a share of (on EURUSD, GBPUSD, USDJPY, EURGBP, XAUUSD,
    /// AUDUSD, USDCHF, EURJPY in turn).
    #[arg(long, default_value_t = 20)]
    pub tickets: usize,
    /// Quotes timed (in segments of up to 50,000).
    #[arg(long, default_value_t = 1_000_000)]
    pub quotes: usize,
    /// Accounts in 1,000 that withdraw down to a margin level of 150–600 % (near a limit).
    #[arg(long, default_value_t = 10)]
    pub thin_permille: u32,
    /// Time budget of the open and mark measurements, in milliseconds.
    #[arg(long, default_value_t = 3000)]
    pub budget_ms: u64,
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

/// One figure beside its reference.
#[derive(Debug, Serialize)]
pub struct Line {
    /// What was timed.
    pub figure: &'static str,
    /// Its time.
    pub value_ns: Stat,
    /// What it is compared with.
    pub reference: &'static str,
    /// The reference's time.
    pub reference_ns: Stat,
    ratio: f64,
    /// The target, as text.
    pub target: &'static str,
    /// Whether the target was met.
    pub met: bool,
}

/// The figures of `mam bench ledger`.
#[derive(Debug, Serialize)]
pub struct Report {
    bench: &'static str,
    accounts: usize,
    tickets: usize,
    symbols: Vec<&'static str>,
    quotes: usize,
    thin_permille: u32,
    setup_s: f64,
    /// Each figure beside its reference.
    pub lines: Vec<Line>,
    checked_per_quote: f64,
    quotes_checking_any: u64,
    limit_events: u64,
    mirror_margin_call_events: u64,
    stop_outs: u64,
    watched_eurusd: usize,
    brute_force_valuation_ns: Stat,
    brute_force_quotes: f64,
    pure_allocate_ns: Stat,
    stream_bytes: usize,
}

/// Alternates `a` and `b` (after one warm-up run each) until `budget` is spent (at least
/// `min` runs each); each returns its own elapsed ns.
fn alternate(
    budget: Duration,
    min: usize,
    mut a: impl FnMut() -> f64,
    mut b: impl FnMut() -> f64,
) -> (Stat, Stat) {
    a();
    b();
    let start = Instant::now();
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    while ta.len() < min || (start.elapsed() < budget && ta.len() < 100_000) {
        ta.push(a());
        tb.push(b());
    }
    (stat(ta), stat(tb))
}

fn timed(f: impl FnOnce()) -> f64 {
    let s = Instant::now();
    f();
    s.elapsed().as_nanos() as f64
}

/// Measures the figures of `mam bench ledger`.
pub fn measure(args: &Args) -> anyhow::Result<Report> {
    anyhow::ensure!(args.accounts > 0, "--accounts must be positive");
    anyhow::ensure!(args.quotes > 0, "--quotes must be positive");
    let p = Params {
        accounts: args.accounts,
        tickets: args.tickets,
        thin_permille: args.thin_permille,
        ..Params::default()
    };
    let budget = Duration::from_millis(args.budget_ms.max(1));
    let t0 = Instant::now();
    let note = |what: &str| eprintln!("[{:>6.1} s] {what}", t0.elapsed().as_secs_f64());
    note(&format!(
        "building {} accounts × {} tickets through the engine (takes a while)",
        p.accounts, p.tickets
    ));
    let mut live =
        Scenario::build(p, true, true, |m| note(m)).map_err(|e| anyhow::anyhow!("{e}"))?;
    note("building the same accounts without positions");
    let mut flat = Scenario::build(p, false, false, |m| note(m)).map_err(|e| anyhow::anyhow!(e))?;
    let setup_s = t0.elapsed().as_secs_f64();

    // 1. Quotes.
    note(&format!("timing {} quotes", args.quotes));
    let ledger_before = live.engine.ledger().clone();
    let mut mirror = live.mirror.take().expect("built with a mirror");
    let (gen_before, clock_before) = (live.quotes.clone(), live.clock);
    let (q_engine, q_bare, events, sent) = time_quotes(&mut live, args.quotes);
    note("counting the checks the quotes caused (a copy of the boxes replays them)");
    let replay = (ledger_before, gen_before, clock_before);
    let (checks, checking_quotes) = count_quote_checks(&live, &mut mirror, replay, args.quotes)?;
    let eurusd = live.held[0];
    let watched = live.engine.watched_accounts(eurusd);
    anyhow::ensure!(
        mirror.watched(eurusd) == watched,
        "the copy of the boxes watches {} accounts on EURUSD, the engine {watched}",
        mirror.watched(eurusd)
    );

    // 3. A full mark, beside streaming its bytes.
    note("timing full marks");
    let (mark, stream) = time_marks(&live, budget);

    // 2. One open with live equity, beside the same open on imported equity.
    note("timing opens");
    let lots = master_lots(args.accounts);
    let (o_live, o_flat) = time_opens(&mut live, &mut flat, eurusd, lots, budget)?;
    let pure = time_allocate(&live, eurusd, lots, args.accounts, budget);

    let brute_quotes = mark.median / q_engine.median;
    let lines = vec![
        Line {
            figure: "quote apply, ns/quote",
            value_ns: q_engine,
            reference: "bare bid/ask store",
            reference_ns: q_bare,
            ratio: q_engine.median / q_bare.median,
            target: "<= 100 ns",
            met: q_engine.median <= 100.0,
        },
        Line {
            figure: "open, equity model, live equity",
            value_ns: o_live,
            reference: "same open, imported equity",
            reference_ns: o_flat,
            ratio: o_live.median / o_flat.median,
            target: "<= 2x",
            met: o_live.median <= 2.0 * o_flat.median,
        },
        Line {
            figure: "full mark of every account",
            value_ns: mark,
            reference: "streaming the bytes it reads",
            reference_ns: stream,
            ratio: mark.median / stream.median,
            target: "<= 3x",
            met: mark.median <= 3.0 * stream.median,
        },
    ];
    let report = Report {
        bench: "ledger",
        accounts: args.accounts,
        tickets: args.tickets,
        symbols: HELD.to_vec(),
        quotes: args.quotes,
        thin_permille: args.thin_permille,
        setup_s,
        lines,
        checked_per_quote: checks as f64 / args.quotes as f64,
        quotes_checking_any: checking_quotes,
        limit_events: events,
        mirror_margin_call_events: mirror.margin_call_events,
        stop_outs: mirror.stop_outs + sent,
        watched_eurusd: watched,
        brute_force_valuation_ns: mark,
        brute_force_quotes: brute_quotes,
        pure_allocate_ns: pure,
        stream_bytes: MarkColumns::of(&live.engine).bytes(),
    };
    Ok(report)
}

/// The engine's quote apply beside a bare bid/ask store, ns per quote, over `quotes` quotes in
/// segments; and the limit events and stop-out orders the quotes caused.
fn time_quotes(live: &mut Scenario, quotes: usize) -> (Stat, Stat, u64, u64) {
    let ni = live.engine.ledger().instruments();
    let seg = quotes.min(50_000);
    let mut buf: Vec<MarketEvent> = Vec::with_capacity(seg);
    let mut bare = BareQuotes::new(ni);
    let (mut t_engine, mut t_bare) = (Vec::new(), Vec::new());
    let (mut events, mut sent) = (0u64, 0u64);
    let mut left = quotes;
    while left > 0 {
        let n = left.min(seg);
        left -= n;
        live.next_quotes(n, &mut buf);
        let e = &mut live.engine;
        let mut got = (0, 0);
        t_engine.push(timed(|| got = apply_quotes(e, &buf)) / n as f64);
        events += got.0;
        sent += got.1;
        t_bare.push(
            timed(|| {
                black_box(store_quotes(&mut bare, &buf));
            }) / n as f64,
        );
    }
    black_box(bare.bid(0));
    (stat(t_engine), stat(t_bare), events, sent)
}

/// Replays the same `quotes` quotes from `replay` (the ledger, quote stream and clock before
/// them) through `mirror`, the copy of the engine's boxes: the account checks they caused, and
/// how many quotes caused any.
fn count_quote_checks(
    live: &Scenario,
    mirror: &mut BoxMirror,
    replay: (Ledger, QuoteGen, Clock),
    quotes: usize,
) -> anyhow::Result<(u64, u64)> {
    let (mut ledger_copy, mut gen, mut clock) = replay;
    let seg = quotes.min(50_000);
    let mut buf: Vec<MarketEvent> = Vec::with_capacity(seg);
    let mut checks = 0u64;
    let mut checking_quotes = 0u64;
    let mut left = quotes;
    while left > 0 {
        let n = left.min(seg);
        left -= n;
        buf.clear();
        for _ in 0..n {
            buf.push(gen.next(clock.tick()));
        }
        for q in &buf {
            let c = count_checks(
                mirror,
                &mut ledger_copy,
                live.engine.accounts(),
                std::slice::from_ref(q),
            );
            checks += c;
            checking_quotes += u64::from(c > 0);
        }
    }
    anyhow::ensure!(
        ledger_copy.quote(0) == live.engine.ledger().quote(0),
        "the replay did not see the quotes the engine saw"
    );
    Ok((checks, checking_quotes))
}

/// A full mark of every account beside streaming the bytes it reads, alternately.
fn time_marks(live: &Scenario, budget: Duration) -> (Stat, Stat) {
    let cols = MarkColumns::of(&live.engine);
    alternate(
        budget,
        5,
        || {
            timed(|| {
                black_box(mark_all(black_box(&live.engine)));
            })
        },
        || {
            timed(|| {
                black_box(stream_columns(black_box(&cols)));
            })
        },
    )
}

/// One open on `instrument` with live equity beside the same open on imported equity
/// (`flat`), alternately; each open is closed again.
fn time_opens(
    live: &mut Scenario,
    flat: &mut Scenario,
    instrument: u32,
    lots: Lots,
    budget: Duration,
) -> anyhow::Result<(Stat, Stat)> {
    let ticket = 1 << 40;
    let opens_before = live.engine.open_orders();
    let (o_live, o_flat) = alternate(
        budget,
        5,
        || open_timed(live, ticket, instrument, lots).as_nanos() as f64,
        || open_timed(flat, ticket, instrument, lots).as_nanos() as f64,
    );
    anyhow::ensure!(
        live.engine.open_orders() == opens_before,
        "bench orders left open"
    );
    Ok((o_live, o_flat))
}

/// The allocation alone (equity model, block) over every account, for half the budget.
fn time_allocate(
    live: &Scenario,
    instrument: u32,
    lots: Lots,
    accounts: usize,
    budget: Duration,
) -> Stat {
    let limits = live.limits(instrument);
    let mut out = vec![0u64; accounts];
    let mut ws = Workspace::with_capacity(accounts);
    let mut order = Order {
        lots,
        model: StaticModel::Equity,
        policy: MinLotPolicy::Zero,
        mode: Mode::Block,
        rotation: 0,
    };
    let acc = live.engine.accounts();
    let cols = acc.columns();
    let mut t = Vec::new();
    let start = Instant::now();
    while t.len() < 5 || (start.elapsed() < budget / 2 && t.len() < 100_000) {
        t.push(timed(|| {
            let a = allocate(&cols, limits, &order, &mut out, &mut ws).expect("allocates");
            order.rotation = order.rotation.wrapping_add(a.dealt);
        }));
        black_box(&out);
    }
    stat(t)
}

/// Runs `mam bench ledger`.
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
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

fn print(r: &Report) {
    println!(
        "ledger: {} USD accounts × {} tickets on {} ({} thin per 1000), {} quotes; one thread",
        r.accounts,
        r.tickets,
        r.symbols.join(" "),
        r.thin_permille,
        r.quotes
    );
    println!(
        "setup {:.1} s; median of runs (best in brackets); the two sides of a ratio alternate",
        r.setup_s
    );
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
        println!(
            "{:<34} {:>22}   {:<30} {:>22} {:>7.2}  {}: target {}",
            l.figure,
            v,
            l.reference,
            x,
            l.ratio,
            l.target,
            if l.met { "met" } else { "missed" }
        );
    }
    println!(
        "quotes: {:.4} accounts checked again per quote ({} of {} quotes checked any); {} \
         limit events (the copy of the boxes saw {}), {} stop-outs; {} accounts watched on EURUSD",
        r.checked_per_quote,
        r.quotes_checking_any,
        r.quotes,
        r.limit_events,
        r.mirror_margin_call_events,
        r.stop_outs,
        r.watched_eurusd
    );
    println!(
        "quotes: O(accounts) instead: one valuation of every account costs {} = {:.0} quotes",
        dur(r.brute_force_valuation_ns.median),
        r.brute_force_quotes
    );
    println!(
        "open: pure allocate on the columns {} ({}); full mark streams {:.1} MB",
        dur(r.pure_allocate_ns.median),
        dur(r.pure_allocate_ns.best),
        r.stream_bytes as f64 / 1e6
    );
}
