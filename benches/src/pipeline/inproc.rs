//! The in-process run: load generator → rings → [`EngineStage`] (real engine, real journal in a
//! temporary directory) → rings → LP edge, on the pipeline runner in `shared` or `dedicated`
//! mode.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use mam_core::engine::{Engine, EngineConfig, EngineCounters, MAX_TABLE};
use mam_core::journal::{Journal, JournalConfig, SyncPolicy};
use mam_core::num::{Lots, Money, Price, Qty};
use mam_core::pipeline::engine_stage::admin::snapshot_buffer;
use mam_core::pipeline::engine_stage::{
    EngineRings, EngineStage, EngineStageOptions, ReportSlot, Sequencing,
};
use mam_core::pipeline::{
    ring, IdleStrategy, LatencyTap, Pipeline, RingRx, RunnerConfig, Stage, ThreadingMode,
};
use mam_core::symbol::SymbolTable;
use mam_gateway::latency::mono_ns;

use super::loadgen::{quote, LoadCounters, LoadGen, LoadPlan};
use super::lp_edge::{LpCounters, LpEdge, Sample};
use super::record::{FigureSummary, Recorder, DRAIN_EVERY};
use super::{accounts, BenchError, Routing};

/// One in-process configuration.
#[derive(Debug, Clone)]
pub struct InProcessConfig {
    /// Accounts.
    pub accounts: usize,
    /// Routing of every master order.
    pub routing: Routing,
    /// Threading mode of the pipeline runner.
    pub mode: ThreadingMode,
    /// Master orders per second (opens and closes alternate).
    pub rate: u64,
    /// Quotes per second (0: no market stream).
    pub quote_rate: u64,
    /// Measured seconds (after the warm-up).
    pub seconds: f64,
    /// Warm-up seconds (sent, not recorded).
    pub warmup: f64,
    /// Tickets held open before a master closes the oldest ([`super::CLOSE_LAG`] by default;
    /// see [`super::loadgen::master_schedule`]).
    pub close_lag: u64,
    /// Where the `.hlog` and `.hgrm` files go.
    pub out: PathBuf,
    /// Pin stage threads to cores.
    pub pin: bool,
    /// Engine-stage batch (inputs per ring per duty cycle).
    pub batch: usize,
    /// Keep the journal and checkpoints in `<dir>/<label>/` (default: a temporary directory,
    /// removed after the run).
    pub keep_journal: Option<PathBuf>,
    /// Publish the engine's snapshot for the admin API (every 100 ms, as the daemon's default)
    /// and read it this many times a second from another thread, as a polling client does.
    pub admin_poll_hz: Option<u32>,
}

/// The daemon's default `admin.snapshot_interval` (ns).
const SNAPSHOT_EVERY_NS: u64 = 100_000_000;

/// What one configuration measured.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// `inproc-<mode>-<accounts>-<routing>`: the prefix of the output files.
    pub label: String,
    /// Threading mode.
    pub mode: ThreadingMode,
    /// Accounts.
    pub accounts: usize,
    /// Routing.
    pub routing: Routing,
    /// Master orders per second.
    pub rate: u64,
    /// Quotes per second.
    pub quote_rate: u64,
    /// Measured seconds.
    pub seconds: f64,
    /// Cores the stage threads were pinned to, in thread order.
    pub pinned_cores: Vec<usize>,
    /// Stage threads and their idle strategies, e.g. `loadgen+engine+lp-edge: busy-spin`.
    pub threads: Vec<String>,
    /// The three figures, then the engine stage's own histograms.
    pub figures: Vec<FigureSummary>,
    /// Master orders sent.
    pub masters_sent: u64,
    /// Master orders whose last child reached the LP edge.
    pub masters_complete: u64,
    /// Child orders that reached the LP edge.
    pub child_orders: u64,
    /// Largest lateness of the generator behind an intended send time (ns).
    pub max_late_ns: u64,
    /// LP-edge samples lost (sample ring full).
    pub lost_samples: u64,
    /// The engine's counters at the end (refusals and risk rejects should be 0).
    pub engine: EngineCounters,
    /// Journal records written.
    pub journal_records: u64,
}

/// The engine settings of the bench: the permissive demo limits with position and order-size
/// caps lifted (every order is filled at once, and a block order carries every account's
/// share), and the order-rate and open-order tables large enough for 10,000 children per
/// master order with room for an LP edge that falls behind.
pub fn engine_config() -> EngineConfig {
    let mut c = EngineConfig::permissive();
    c.risk.max_order_qty = Qty(i64::MAX / 4);
    c.risk.max_order_notional = Money(i64::MAX / 4);
    c.risk.max_account_qty = Qty(i64::MAX / 4);
    c.risk.max_account_notional = Money(i64::MAX / 4);
    // A stall of the machine (it is shared) lets fills lag and orders bunch up: the tables
    // are sized so that no risk limit refuses an order of the bench.
    c.risk.max_orders_per_sec = MAX_TABLE;
    c.risk.max_open_orders = 1_000_000;
    c.risk.max_account_open_orders = 100_000;
    c
}

/// Size of each open: two lot steps (0.02 lots) per account, so an equity split with
/// round-up gives every account a child.
pub fn master_lots(accounts: usize) -> Lots {
    Lots(200 * accounts.max(1) as i64)
}

/// Market orders are filled at this price (EURUSD-like, within the quotes' range).
pub const FILL_PX: Price = Price(108_500_000);

/// Ring capacities: above 2 × 10,000 children so a master order's children and fills never
/// wait on a full ring.
const ORDER_RING: usize = 1 << 15;
const INPUT_RING: usize = 1 << 12;
const SAMPLE_RING: usize = 1 << 16;

/// The idle strategy of each stage (loadgen, engine, LP edge) in `mode`: `shared` runs one
/// busy-spinning thread; `dedicated` busy-spins the engine on its own core and lets the
/// generator and the LP edge (which share the other core of a 2-core machine) yield.
pub fn idle_strategies(mode: ThreadingMode) -> Vec<IdleStrategy> {
    match mode {
        ThreadingMode::Shared => vec![IdleStrategy::BusySpin],
        ThreadingMode::Dedicated => vec![
            IdleStrategy::Yield,
            IdleStrategy::BusySpin,
            IdleStrategy::Yield,
        ],
    }
}

fn idle_name(i: IdleStrategy) -> &'static str {
    match i {
        IdleStrategy::BusySpin => "busy-spin",
        IdleStrategy::Yield => "yield",
        IdleStrategy::Backoff { .. } => "backoff",
    }
}

/// Runs one configuration and writes its files into `cfg.out`.
pub fn run_in_process(cfg: &InProcessConfig) -> Result<RunResult, BenchError> {
    let label = label(cfg);
    let tmp = tempfile::Builder::new()
        .prefix("mam-bench-pipeline-")
        .tempdir()
        .map_err(|source| BenchError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
    let work = work_dir(cfg, &label, tmp.path())?;
    let symbols = SymbolTable::builtin();
    let instrument = symbols
        .id_of("EURUSD")
        .ok_or_else(|| BenchError::Engine("no EURUSD in the built-in symbols".into()))?;
    let engine = Engine::new(symbols, accounts(cfg.accounts), engine_config())
        .map_err(|e| BenchError::Engine(e.to_string()))?;
    let (journal, _) = Journal::open(&work.join("journal"), JournalConfig::default())?;

    let (mtx, mrx, _) = ring(INPUT_RING);
    let (mut qtx, qrx, qstats) = ring(INPUT_RING);
    let (otx, orx, _) = ring(ORDER_RING);
    let (ftx, frx, _) = ring(ORDER_RING);
    let (stx, mut srx, _) = ring::<Sample>(SAMPLE_RING);
    let tap = LatencyTap::new();
    let stop = Arc::new(AtomicBool::new(false));
    let rings = EngineRings {
        market: Some(qrx),
        masters: Some(mrx),
        fills: frx,
        orders: otx,
    };
    let (engine_stage, report) = engine_stage(engine, journal, cfg, &work, rings, &tap, &stop);
    let (engine_stage, poller) = with_admin_poller(engine_stage, cfg, &stop);

    let rate = cfg.rate.max(1);
    // Setup margin before message 0, so thread start-up is not charged to the first messages.
    let start_ns = mono_ns() + 50_000_000;
    let measure_from = start_ns + (cfg.warmup * 1e9) as u64;
    let plan = load_plan(cfg, rate, start_ns, instrument);
    // Quote 0 goes now: the engine has a reference price before any master order.
    qtx.try_push(quote(&plan, 0, mono_ns()))
        .map_err(|_| BenchError::Incomplete("market ring full at start".into()))?;
    let gen_counters = Arc::new(LoadCounters::default());
    let lp_counters = Arc::new(LpCounters::default());
    let stages: Vec<Box<dyn Stage>> = vec![
        Box::new(LoadGen::new(
            plan,
            mtx,
            Some(qtx),
            Some(qstats),
            gen_counters.clone(),
        )),
        Box::new(engine_stage),
        Box::new(LpEdge::new(
            orx,
            ftx,
            FILL_PX,
            measure_from,
            stx,
            lp_counters.clone(),
        )),
    ];
    let idle = idle_strategies(cfg.mode);
    let threads = thread_names(cfg.mode, &idle);
    let mut rec = Recorder::new(&cfg.out, &label)?;
    let p = Pipeline::start(
        stages,
        &RunnerConfig {
            mode: cfg.mode,
            idle,
            pin: cfg.pin,
        },
    )?;
    let pinned_cores = p.pinned_cores().to_vec();
    let deadline = measure_from + ((cfg.seconds + 60.0) * 1e9) as u64;
    let timed_out = watch(
        &p,
        &mut rec,
        &mut srx,
        &tap,
        &report,
        measure_from,
        deadline,
        &stop,
    )?;
    p.join()?;
    stop.store(true, Ordering::Release);
    if let Some(t) = poller {
        let _ = t.join();
    }
    rec.end_interval(&mut srx, &tap)?;
    let figures = rec.finish()?;
    let r = take_report(&report)?;
    let result = RunResult {
        label,
        mode: cfg.mode,
        accounts: cfg.accounts,
        routing: cfg.routing,
        rate,
        quote_rate: cfg.quote_rate,
        seconds: cfg.seconds,
        pinned_cores,
        threads,
        figures,
        masters_sent: gen_counters.masters.load(Ordering::Relaxed),
        masters_complete: lp_counters.masters.load(Ordering::Relaxed),
        child_orders: lp_counters.orders.load(Ordering::Relaxed),
        max_late_ns: gen_counters.max_late_ns.load(Ordering::Relaxed),
        lost_samples: lp_counters.lost_samples.load(Ordering::Relaxed),
        engine: *r.0.counters(),
        journal_records: r.1,
    };
    if timed_out {
        return Err(BenchError::Incomplete(format!(
            "{}: the pipeline did not finish {} s after the run ({} of {} master orders complete)",
            result.label, 60, result.masters_complete, result.masters_sent
        )));
    }
    Ok(result)
}

/// `inproc-<mode>-<accounts>-<routing>[+admin]`: the prefix of the configuration's files.
fn label(cfg: &InProcessConfig) -> String {
    format!(
        "inproc-{}-{}-{}{}",
        cfg.mode.as_str(),
        cfg.accounts,
        cfg.routing.as_str(),
        if cfg.admin_poll_hz.is_some() {
            "+admin"
        } else {
            ""
        }
    )
}

/// Where the journal and checkpoints go: `<keep_journal>/<label>/` (its journal of an earlier
/// run removed) or the temporary directory `tmp`.
fn work_dir(cfg: &InProcessConfig, label: &str, tmp: &Path) -> Result<PathBuf, BenchError> {
    let work = match &cfg.keep_journal {
        Some(d) => d.join(label),
        None => tmp.to_path_buf(),
    };
    if work.join("journal").exists() {
        std::fs::remove_dir_all(work.join("journal")).map_err(|source| BenchError::Io {
            path: work.join("journal"),
            source,
        })?;
    }
    Ok(work)
}

/// The engine stage of the bench, with the daemon's options but for the checkpoints (none)
/// and the sync policy (see below), and its report slot.
fn engine_stage(
    engine: Engine,
    journal: Journal,
    cfg: &InProcessConfig,
    work: &Path,
    rings: EngineRings,
    tap: &LatencyTap,
    stop: &Arc<AtomicBool>,
) -> (EngineStage, ReportSlot) {
    let (engine_stage, report, _stats) = EngineStage::new(
        engine,
        journal,
        EngineStageOptions {
            sequencing: Sequencing::Arrival,
            checkpoint_dir: work.join("checkpoints"),
            checkpoint_every: 0,
            clock: mono_ns,
            // Generous: on a loaded machine the LP edge may lag the engine by more than a
            // second, and a drain cut short would count its orders as lost.
            drain_timeout_ns: 10_000_000_000,
            tap: Some(tap.clone()),
            batch: cfg.batch.max(1),
            admin: None,
            // The figures of docs/latency.md were taken before `journal.sync` existed and
            // leave the disk out; `mam bench journal` measures the sync on its own.
            sync: SyncPolicy::Checkpoint,
            forward_allocations: false,
        },
        rings,
        stop.clone(),
    );
    (engine_stage, report)
}

/// The admin API's side, with `admin_poll_hz`: the engine publishes its snapshot, a reader
/// thread polls it until `stop`.
fn with_admin_poller(
    engine_stage: EngineStage,
    cfg: &InProcessConfig,
    stop: &Arc<AtomicBool>,
) -> (EngineStage, Option<JoinHandle<i64>>) {
    let Some(hz) = cfg.admin_poll_hz else {
        return (engine_stage, None);
    };
    let (w, mut r) = snapshot_buffer(SNAPSHOT_EVERY_NS);
    let stop = stop.clone();
    let every = std::time::Duration::from_secs(1) / hz.max(1);
    let poller = std::thread::spawn(move || {
        // What a request reads: every account's money (kept, so it is not optimised out).
        let mut seen = 0i64;
        while !stop.load(Ordering::Relaxed) {
            let s = r.read();
            seen = s
                .accounts
                .iter()
                .fold(seen, |a, x| a.wrapping_add(x.equity.raw()));
            std::thread::sleep(every);
        }
        seen
    });
    (engine_stage.with_snapshots(w), Some(poller))
}

/// The generator's plan: `rate` master orders and `quote_rate` quotes a second for the
/// warm-up and the measured seconds, from `start_ns`.
fn load_plan(cfg: &InProcessConfig, rate: u64, start_ns: u64, instrument: u32) -> LoadPlan {
    let total = cfg.warmup + cfg.seconds;
    // An even count: every open is followed by its close.
    let masters = ((rate as f64 * total) as u64 + 1) & !1;
    let quotes = (cfg.quote_rate as f64 * total) as u64;
    LoadPlan {
        start_ns,
        master_start_ns: start_ns,
        masters,
        close_lag: cfg.close_lag,
        master_interval_ns: 1_000_000_000 / rate,
        quotes,
        quote_interval_ns: 1_000_000_000u64
            .checked_div(cfg.quote_rate)
            .unwrap_or(u64::MAX),
        instrument,
        lots: master_lots(cfg.accounts),
        routing: cfg.routing,
    }
}

/// The stage threads of `mode` and their idle strategies, for the report.
fn thread_names(mode: ThreadingMode, idle: &[IdleStrategy]) -> Vec<String> {
    match mode {
        ThreadingMode::Shared => vec![format!("loadgen+engine+lp-edge: {}", idle_name(idle[0]))],
        ThreadingMode::Dedicated => ["loadgen", "engine", "lp-edge"]
            .iter()
            .zip(idle)
            .map(|(n, i)| format!("{n}: {}", idle_name(*i)))
            .collect(),
    }
}

/// Records the LP edge's samples while the pipeline runs: the warm-up's are discarded at
/// `measure_from`, then one interval a second, until the engine stage reports its end.
/// Past `deadline` it stops the pipeline and returns `true` (timed out).
#[allow(clippy::too_many_arguments)]
fn watch(
    p: &Pipeline,
    rec: &mut Recorder,
    srx: &mut RingRx<Sample>,
    tap: &LatencyTap,
    report: &ReportSlot,
    measure_from: u64,
    deadline: u64,
    stop: &AtomicBool,
) -> Result<bool, BenchError> {
    let handle = p.stop_handle();
    let mut measuring = false;
    let mut next_interval = u64::MAX;
    loop {
        std::thread::sleep(DRAIN_EVERY);
        rec.drain(srx)?;
        let now = mono_ns();
        if !measuring && now >= measure_from {
            rec.discard(tap);
            measuring = true;
            next_interval = now + 1_000_000_000;
        } else if measuring && now >= next_interval {
            rec.end_interval(srx, tap)?;
            next_interval += 1_000_000_000;
        }
        if report.lock().map(|r| r.is_some()).unwrap_or(true) {
            return Ok(false);
        }
        if now > deadline {
            stop.store(true, Ordering::Release);
            handle.stop();
            return Ok(true);
        }
    }
}

fn take_report(slot: &ReportSlot) -> Result<(Engine, u64), BenchError> {
    let r = slot
        .lock()
        .map_err(|_| BenchError::Engine("report lock poisoned".into()))?
        .take()
        .ok_or_else(|| BenchError::Engine("the engine stage left no report".into()))?;
    if let Some(e) = r.error {
        return Err(BenchError::Engine(e));
    }
    let records = r.journal.last_seq().unwrap_or(0);
    Ok((r.engine, records))
}
