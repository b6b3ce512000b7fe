//! `mam run`'s built-in demo: generated accounts, a generated FX feed, a scripted manager and
//! an in-process LP around the daemon's own engine stage
//! ([`mam_core::pipeline::engine_stage::EngineStage`], event-time sequencing), with its journal
//! and checkpoints on disk.
//!
//! ```text
//!  script source ──MarketEvent──► engine stage ──EdgeOrder──► LP stage
//!   (quotes;        ──EdgeFrame──►  (journal, alloc,           (partial fills at
//!    manager commands)  masters      risk, sync)  ◄──EdgeFrame── its quotes, slippage)
//! ```
//!
//! Only the edges differ from the daemon's (a generated script for the feed and the FIX
//! manager, an in-process LP for the FIX LP session). Every generator is seeded and exact and
//! the engine stage merges its inputs by event time, lock-stepped with the LP, so two runs
//! with the same seed and `--duration` unset write identical journals in either threading
//! mode.

mod check;
mod feed;
pub mod gen;
mod lp;
mod stats;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use mam_core::engine::{Engine, EngineConfig};
use mam_core::event::MarketEvent;
use mam_core::journal::{Journal, JournalConfig, SyncPolicy};
use mam_core::pipeline::engine_stage::{
    EngineRings, EngineStage, EngineStageOptions, EngineStageReport, EngineStageStats, Sequencing,
};
use mam_core::pipeline::{
    ring, EdgeFrame, EdgeOrder, IdleStrategy, LatencyTap, Pipeline, RingStats, RunnerConfig, Stage,
    ThreadingMode,
};
use mam_core::symbol::SymbolTable;
use serde_json::{json, Value};

use feed::ScriptSource;
use lp::{LpReport, LpStage, Quotes};

/// Demo settings.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Number of generated accounts.
    pub accounts: usize,
    /// Number of master trades.
    pub trades: usize,
    /// Seed of every generator.
    pub seed: u64,
    /// Threading mode.
    pub mode: ThreadingMode,
    /// Stop publishing new inputs after this wall time.
    pub duration: Option<Duration>,
    /// State directory (journal and checkpoints); must not hold a journal yet.
    pub state: PathBuf,
    /// Pin threads.
    pub pin: bool,
    /// Ring capacity (messages).
    pub ring: usize,
    /// Checkpoint after this many inputs (0: only at start and end).
    pub checkpoint_every: u64,
}

/// The demo's journal sync: the daemon's default (`journal.sync = "every"`), so the demo's
/// latencies include the disk as a default daemon's do.
pub const SYNC: SyncPolicy = SyncPolicy::Every;

/// The demo's engine settings: wide limits, a 2 % collar on limit prices.
pub fn engine_config() -> EngineConfig {
    let mut c = EngineConfig::permissive();
    c.risk.max_order_qty = mam_core::num::Qty(i64::MAX / 4);
    c.risk.max_order_notional = mam_core::num::Money(i64::MAX / 4);
    c.risk.max_account_qty = mam_core::num::Qty(i64::MAX / 4);
    c.risk.collar_bps = Some(200);
    c
}

/// What a run did: the summary object and whether every invariant held.
#[derive(Debug)]
pub struct Outcome {
    /// The summary (`--json` prints it).
    pub summary: Value,
    /// Readable lines.
    pub text: Vec<String>,
    /// Every invariant held and the engine stopped cleanly.
    pub ok: bool,
}

fn ring_json(name: &str, s: &RingStats) -> Value {
    json!({
        "ring": name,
        "pushed": s.pushed.load(Relaxed),
        "popped": s.popped.load(Relaxed),
        "full_events": s.full.load(Relaxed),
        "wait_ns": s.wait_ns.load(Relaxed),
        "max_wait_ns": s.max_wait_ns.load(Relaxed),
    })
}

/// Runs the demo.
pub fn run(cfg: &DemoConfig) -> anyhow::Result<Outcome> {
    let wall = Instant::now();
    let symbols = SymbolTable::builtin();
    let accounts = gen::accounts(cfg.accounts, cfg.seed);
    let script = Arc::new(gen::script(&symbols, cfg.accounts, cfg.trades, cfg.seed));
    let quotes: Vec<_> = script
        .iter()
        .filter_map(|i| match i {
            mam_core::engine::Input::Market(m) => Some(*m),
            _ => None,
        })
        .collect();
    let quotes = Arc::new(Quotes::new(&quotes, &gen::instrument_ids(&symbols)));

    let jdir = cfg.state.join("journal");
    let cdir = cfg.state.join("checkpoints");
    anyhow::ensure!(
        !jdir.exists() || std::fs::read_dir(&jdir)?.next().is_none(),
        "{} already holds a journal; the demo starts from scratch (give an empty --state)",
        jdir.display()
    );
    let (mut journal, _) = Journal::open(&jdir, JournalConfig::default())
        .with_context(|| format!("opening the journal in {}", jdir.display()))?;
    let engine = Engine::new(symbols.clone(), accounts, engine_config())?;
    engine.write_checkpoint(&cdir, &mut journal)?;

    let (mtx, mrx, mstats) = ring::<MarketEvent>(cfg.ring);
    let (atx, arx, astats) = ring::<EdgeFrame>(cfg.ring);
    let (ftx, frx, fstats) = ring::<EdgeFrame>(cfg.ring);
    let (otx, orx, ostats) = ring::<EdgeOrder>(cfg.ring);
    let tap = LatencyTap::new();
    let opts = EngineStageOptions {
        sequencing: Sequencing::EventTime,
        checkpoint_dir: cdir.clone(),
        checkpoint_every: cfg.checkpoint_every,
        clock: mam_core::sys::mono_ns,
        // The LP fills every order at once: nothing is left to wait for after the script.
        drain_timeout_ns: 5_000_000_000,
        tap: Some(tap.clone()),
        batch: 64,
        admin: None,
        sync: SYNC,
        forward_allocations: true,
    };
    let rings = EngineRings {
        market: Some(mrx),
        masters: Some(arx),
        fills: frx,
        orders: otx,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let (engine_stage, eout, estats) = EngineStage::new(engine, journal, opts, rings, stop);
    let start = Instant::now();
    let lout: Arc<Mutex<Option<LpReport>>> = Arc::default();
    let stages: Vec<Box<dyn Stage>> = vec![
        Box::new(ScriptSource::new(
            script.clone(),
            mtx,
            atx,
            cfg.duration.map(|d| start + d),
        )),
        Box::new(engine_stage),
        Box::new(LpStage::new(orx, ftx, quotes, cfg.seed, lout.clone())),
    ];
    let runner = RunnerConfig {
        mode: cfg.mode,
        idle: vec![IdleStrategy::backoff()],
        pin: cfg.pin,
    };
    let p = Pipeline::start(stages, &runner)?;
    let pinned = p.pinned_cores().to_vec();
    p.join()?;
    let run_ns = start.elapsed().as_nanos() as u64;

    let er: EngineStageReport = eout
        .lock()
        .expect("lock")
        .take()
        .context("engine stage ended without a report")?;
    let lr = lout
        .lock()
        .expect("lock")
        .take()
        .context("LP stage ended without a report")?;
    if let Some(e) = &er.error {
        anyhow::bail!("engine stopped: {e}");
    }
    let rings = [
        ("market", &mstats),
        ("masters", &astats),
        ("orders", &ostats),
        ("fills", &fstats),
    ];
    let ran = Ran {
        er,
        lr,
        estats,
        hist: histograms(&tap),
        pinned,
        run_ns,
    };
    summarize(cfg, &script, &symbols, &jdir, &cdir, ran, &rings, wall)
}

/// What the stages left behind.
struct Ran {
    er: EngineStageReport,
    lr: LpReport,
    estats: Arc<EngineStageStats>,
    hist: Vec<(&'static str, &'static str, Histogram<u64>)>,
    pinned: Vec<usize>,
    run_ns: u64,
}

/// The engine stage's histograms (the daemon's names) and the LP's order-ring wait, labelled.
fn histograms(tap: &LatencyTap) -> Vec<(&'static str, &'static str, Histogram<u64>)> {
    let mut got = tap.take();
    [
        ("feed_to_engine", "quote: source stamp → engine take"),
        (
            "master_to_engine",
            "manager command: source stamp → engine take",
        ),
        ("fill_to_engine", "fill: LP send → engine take"),
        ("engine_apply", "engine apply (journal, allocation, risk)"),
        (
            "master_to_first_order",
            "master → first child order on the ring",
        ),
        (
            "master_to_last_order",
            "master → last child order on the ring",
        ),
        ("journal_sync", "journal sync (end of duty cycle)"),
    ]
    .into_iter()
    .filter_map(|(k, label)| got.remove(k).map(|h| (k, label, h)))
    .collect()
}

/// The summary and its readable lines.
#[allow(clippy::too_many_arguments)]
fn summarize(
    cfg: &DemoConfig,
    script: &[mam_core::engine::Input],
    symbols: &SymbolTable,
    jdir: &std::path::Path,
    cdir: &std::path::Path,
    ran: Ran,
    rings: &[(&str, &Arc<RingStats>)],
    wall: Instant,
) -> anyhow::Result<Outcome> {
    let Ran {
        er,
        lr,
        estats,
        mut hist,
        pinned,
        run_ns,
    } = ran;
    let digest = er.engine.digest();
    drop(er.journal);
    let (checks, facts) = check::run(jdir, symbols, &lr, &er.engine)?;
    let c = *er.engine.counters();
    let touched = touched_accounts(&er.engine);
    let mut ok = checks.iter().all(|x| x.failed == 0) && c.invariant_failures == 0;
    ok &= er.engine.open_tickets() == 0 && er.engine.open_orders() == 0 || cfg.duration.is_some();

    if let Some(h) = lr.queue_ns.clone() {
        let at = hist.len().min(4);
        hist.insert(at, ("order_ring_wait", "order ring wait (engine → LP)", h));
    }
    let checkpoints = estats.checkpoints.load(Relaxed) + 1; // + the one before the start
    let (syncs, sync_ns, sync_max_ns) = (
        estats.syncs.load(Relaxed),
        estats.sync_ns.load(Relaxed),
        estats.sync_max_ns.load(Relaxed),
    );
    let kinds: serde_json::Map<String, Value> = facts
        .kinds
        .iter()
        .map(|(k, n)| {
            let name = mam_core::engine::decision::kind_name(*k).unwrap_or("?");
            (name.to_string(), Value::from(*n))
        })
        .collect();
    let summary = json!({
        "mode": cfg.mode.as_str(),
        "pinned_cores": pinned,
        "accounts": cfg.accounts,
        "trades": cfg.trades,
        "seed": cfg.seed,
        "inputs": script.len(),
        "engine": {
            "inputs": c.inputs, "opens": c.opens, "closes": c.closes,
            "balance_changes": c.balance_changes, "market_events": c.market_events,
            "fills": c.fills, "orders": c.orders, "child_orders": c.child_orders,
            "block_orders": c.block_orders, "orders_filled": c.orders_filled,
            "risk_rejects": c.risk_rejects, "refused_inputs": c.refused,
            "tickets_flat": c.tickets_flat, "open_tickets": er.engine.open_tickets(),
            "margin_calls": c.margin_calls, "stop_outs": c.stop_outs,
            "loss_limits": c.limit_holds, "limit_orders": c.limit_orders,
            "open_orders": er.engine.open_orders(),
            "money_residual": mam_core::num::Money(c.money_residual).to_string(),
        },
        "lp": { "orders": lr.orders.len(), "fills": lr.fills },
        "accounts_touched": touched,
        "invariants": {
            "engine": { "checked": c.invariant_checks, "failed": c.invariant_failures },
            "journal": checks,
        },
        "latency_ns": hist.iter().map(|(k, _, h)| (k.to_string(), stats::percentiles(h))).collect::<serde_json::Map<_, _>>(),
        "rings": rings.iter().map(|(n, s)| ring_json(n, s)).collect::<Vec<_>>(),
        "checkpoints": checkpoints,
        "journal_sync": {
            "policy": SYNC.name(),
            "syncs": syncs,
            "total_ns": sync_ns,
            "max_ns": sync_max_ns,
        },
        "journal": {
            "dir": jdir.display().to_string(),
            "records": facts.records,
            "last_seq": facts.last_seq,
            "kinds": kinds,
            "adaptive": {
                "masters": facts.adaptive.0,
                "static_steps": facts.adaptive.1,
                "adapted_steps": facts.adaptive.2,
            },
        },
        "state_digest": format!("{digest:016x}"),
        "pipeline_ms": run_ns as f64 / 1e6,
        "wall_ms": wall.elapsed().as_secs_f64() * 1e3,
        "ok": ok,
    });
    let mut text = vec![
        format!(
            "mam run (demo): {} accounts, {} master trades, seed {}, {} mode{}",
            cfg.accounts,
            cfg.trades,
            cfg.seed,
            cfg.mode.as_str(),
            if pinned.is_empty() { String::new() } else { format!(", pinned to cores {pinned:?}") }
        ),
        format!(
            "inputs: {} ({} opens, {} closes, {} deposits/withdrawals, {} quotes, {} fills); refused {}",
            c.inputs, c.opens, c.closes, c.balance_changes, c.market_events, c.fills, c.refused
        ),
        format!(
            "orders: {} ({} per-account children, {} blocks), {} filled, {} risk rejects; LP sent {} fill increments",
            c.orders, c.child_orders, c.block_orders, c.orders_filled, c.risk_rejects, lr.fills
        ),
        format!(
            "accounts touched: {touched} of {}; tickets closed flat: {}; money residual of blocks: {}",
            cfg.accounts,
            c.tickets_flat,
            mam_core::num::Money(c.money_residual)
        ),
        format!(
            "limits: {} margin calls, {} stop-outs, {} loss limits crossed, {} engine orders (stop-out, flatten)",
            c.margin_calls, c.stop_outs, c.limit_holds, c.limit_orders
        ),
        format!(
            "adaptive: {} of the masters through the adaptive layer (the others static): Σ \
             static quota {} steps -> Σ adapted {} steps; `mam explain --state DIR --ticket N` \
             says why",
            facts.adaptive.0, facts.adaptive.1, facts.adaptive.2
        ),
        "invariants:".to_string(),
        format!(
            "  {:<60} checked {:>8}  failed {}",
            "engine (Σ alloc, zero after full close, fills within targets, money identity)",
            c.invariant_checks,
            c.invariant_failures
        ),
    ];
    for x in &checks {
        text.push(format!(
            "  {:<60} checked {:>8}  failed {}",
            x.name, x.checked, x.failed
        ));
    }
    text.push("latency (wall clock, per stage):".to_string());
    for (_, n, h) in &hist {
        text.push(stats::line(n, h));
    }
    text.push("rings (back-pressure):".to_string());
    for &(n, s) in rings {
        text.push(format!(
            "  {n:<7} pushed {:>9} popped {:>9} found full {:>6} times, waited {:.3} ms (max {:.3} ms)",
            s.pushed.load(Relaxed),
            s.popped.load(Relaxed),
            s.full.load(Relaxed),
            s.wait_ns.load(Relaxed) as f64 / 1e6,
            s.max_wait_ns.load(Relaxed) as f64 / 1e6
        ));
    }
    text.push(format!(
        "journal: {} records (last seq {}) in {}; {} checkpoints in {}",
        facts.records,
        facts.last_seq,
        jdir.display(),
        checkpoints,
        cdir.display()
    ));
    text.push(format!(
        "journal sync: {}; {} syncs, {:.1} ms in all, mean {:.1} µs, max {:.1} µs",
        SYNC,
        syncs,
        sync_ns as f64 / 1e6,
        sync_ns as f64 / 1e3 / syncs.max(1) as f64,
        sync_max_ns as f64 / 1e3
    ));
    text.push(format!("state digest: {digest:016x}"));
    text.push(format!(
        "pipeline {:.1} ms, total {:.1} ms: {}",
        run_ns as f64 / 1e6,
        wall.elapsed().as_secs_f64() * 1e3,
        if ok { "OK" } else { "INVARIANT FAILED" }
    ));
    Ok(Outcome { summary, text, ok })
}

/// Accounts the run touched: those whose ledger holds a position or booked money.
fn touched_accounts(engine: &Engine) -> usize {
    let l = engine.ledger();
    (0..l.accounts() as u32)
        .filter(|&a| {
            l.open_positions(a) > 0
                || (0..l.instruments() as u32).any(|s| {
                    let p = l.position(a, s);
                    !p.qty.is_zero()
                        || !p.realised.is_zero()
                        || !p.commission.is_zero()
                        || p.cost != 0
                })
        })
        .count()
}
