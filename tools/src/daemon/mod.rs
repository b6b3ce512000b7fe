//! `mam run --config mam.toml`: the daemon (docs/daemon.md).
//!
//! ```text
//!  SoupBinTCP / UDP ─► feed ──MarketEvent──► engine ──EdgeOrder──► LP ─► FIX LP
//!  FIX manager ──────► manager ─EdgeFrame──►   ▲ ◄──EdgeFrame(fill)──┘
//! ```
//!
//! Start-up recovers the engine (or starts it fresh), tells each source where to resume, runs
//! the four stages on the pipeline runner, prints a stats line every `stats_interval`, and on
//! SIGINT/SIGTERM (or `duration`) raises the stop flag: the sources stop taking input and log
//! out, the engine drains and writes a final checkpoint, the LP stage logs out once the order
//! ring is empty, the latency logs are flushed, and the process exits 0.

pub mod config;
mod edges;
pub mod reload;
pub mod resume;
mod rings;
pub mod session_changes;
pub mod sessions;
mod signals;
pub(crate) mod stats;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use mam_core::adaptive::AdaptiveModel;
use mam_core::pipeline::engine_stage::admin::{
    share_snapshots, snapshot_buffer, AdminQueue, ModelSwaps, SharedSnapshots, SnapshotWriter,
};
use mam_core::pipeline::engine_stage::attach::Attachments;
use mam_core::pipeline::engine_stage::{
    EngineRings, EngineStage, EngineStageOptions, EngineStageReport, EngineStageStats, ReportSlot,
};
use mam_core::pipeline::{
    AccountDirectory, EdgeFrame, IdleStrategy, LatencyTap, ManagerReport, Pipeline, RingRx, RingTx,
    RunnerConfig, Stage,
};
use mam_core::symbol::SymbolTable;

use config::{Checked, DaemonConfig};
use resume::{Started, StatePaths};
use rings::Rings;
use signals::OperatorSignals;
use stats::StatsReporter;

/// Binds `addr` without listening and lets it go: fails if another socket listens there. A
/// probe that listened could accept (and then drop) a client that connects at that instant.
fn probe_listen(key: &str, addr: &str) -> anyhow::Result<()> {
    let a: std::net::SocketAddr = addr
        .parse()
        .with_context(|| format!("{key} = \"{addr}\": expected IP:PORT"))?;
    let s = socket2::Socket::new(socket2::Domain::for_address(a), socket2::Type::STREAM, None)
        .with_context(|| format!("{key} = \"{addr}\": socket"))?;
    // As the acceptor sets it: a port left in TIME_WAIT by the previous run is usable.
    s.set_reuse_address(true)
        .with_context(|| format!("{key} = \"{addr}\": SO_REUSEADDR"))?;
    s.bind(&a.into())
        .with_context(|| format!("{key} = \"{addr}\": cannot listen"))
}

/// What the start reads before touching anything: the file, checked, its symbols and model.
struct Loaded {
    cfg: DaemonConfig,
    checked: Checked,
    symbols: SymbolTable,
    paths: StatePaths,
    model: Option<AdaptiveModel>,
}

/// Reads and checks everything the start needs; nothing on disk changes.
fn load(config_path: &Path, duration: Option<Duration>) -> anyhow::Result<Loaded> {
    let cfg = DaemonConfig::load(config_path)?;
    let mut checked = cfg.check()?;
    if duration.is_some() {
        checked.duration = duration;
    }
    let symbols = match &cfg.symbols {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("symbols {}", p.display()))?;
            SymbolTable::with_overrides(&text)
                .with_context(|| format!("symbols {}", p.display()))?
        }
        None => SymbolTable::builtin(),
    };
    let paths = StatePaths::new(&cfg.state);
    // Loaded (and checked) before anything starts: a wrong version or checksum is refused here.
    let model = match &cfg.engine.adaptive_model {
        Some(p) => Some(
            crate::model_file::load(Path::new(p))
                .with_context(|| format!("engine.adaptive_model = {p:?}"))?
                .0,
        ),
        None => None,
    };
    Ok(Loaded {
        cfg,
        checked,
        symbols,
        paths,
        model,
    })
}

/// The start-up lines: state, recovery, journal policy, where each source resumes.
fn print_start(
    out: &mut impl Write,
    cfg: &DaemonConfig,
    checked: &Checked,
    started: &Started,
) -> std::io::Result<()> {
    writeln!(
        out,
        "mam run: state {} ({}), {} accounts, {} mode, {} sequencing",
        cfg.state.display(),
        if started.restarted {
            "restarted"
        } else {
            "fresh"
        },
        started.engine.accounts().id.len(),
        checked.mode.as_str(),
        checked.sequencing.as_str()
    )?;
    if let Some(r) = &started.recovery {
        writeln!(out, "  {r}")?;
    }
    writeln!(
        out,
        "  journal: sync {}; checkpoint every {} inputs",
        checked.sync, cfg.engine.checkpoint_every
    )?;
    writeln!(
        out,
        "  resume: market data at seq {}, manager after MsgSeqNum {}",
        started.market_next,
        started
            .manager_last
            .map_or("- (none journaled)".to_string(), |s| s.to_string())
    )
}

/// Runs the daemon from `config_path`; `duration` overrides the file's.
pub fn run(config_path: &Path, duration: Option<Duration>) -> anyhow::Result<ExitCode> {
    let stop = stop_on_signals()?;
    let Loaded {
        cfg,
        checked,
        symbols,
        paths,
        model,
    } = load(config_path, duration)?;
    let admin_listener = bind_listeners(&cfg, &checked)?;
    let started = resume::start(&cfg, checked.engine, &symbols, &paths, model)?;
    let mut out = std::io::stdout();
    print_start(&mut out, &cfg, &checked, &started)?;
    if stop.load(Ordering::Relaxed) {
        writeln!(
            out,
            "stopped during start-up (signal): the state directory is ready for the next start"
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let signals = OperatorSignals::install()?;
    // Operator inputs from signals and the admin API (docs/admin.md).
    let admin = Arc::new(AdminQueue::new(256));
    let tap = LatencyTap::new();
    let rings = Rings::new(&cfg);
    let unsent = rings::unsent_reports(&mut out, &cfg, &started, &paths)?;
    let directory = AccountDirectory::new(started.engine.accounts().id.clone());
    let model_swaps = Arc::new(ModelSwaps::default());
    let (snapshot_writer, snapshots) = snapshot_ends(&checked);
    let edges = edges::build(edges::EdgeInputs {
        cfg: &cfg,
        symbols: &symbols,
        paths: &paths,
        started: &started,
        market_tx: Some(rings.market_tx),
        managers: rings.managers,
        fill_txs: rings.fill_txs,
        order_rx: Some(rings.orders_rx),
        stop: stop.clone(),
        tap: tap.clone(),
        directory: directory.clone(),
        snapshots: snapshots.clone(),
    })?;
    for l in &edges.lines {
        writeln!(out, "  {l}")?;
    }
    let attachments = Arc::new(Attachments::default());
    let late = sessions::LateCounters::default();
    let operator = Operator::new(
        config_path,
        &cfg,
        &edges,
        signals,
        admin.clone(),
        &model_swaps,
        session_changes::SessionParts {
            ctx: edges.context.clone(),
            host: edges.managers.handle(),
            engine: attachments.clone(),
            router: edges.lp_changes.clone(),
            late: late.clone(),
        },
    )?;
    out.flush()?;

    let engine = EngineParts {
        started,
        stop: stop.clone(),
        admin: admin.clone(),
        tap: tap.clone(),
        rings: EngineRings {
            market: edges.feed.is_some().then_some(rings.market_rx),
            masters: None,
            fills: rings.fills_rx,
            orders: rings.orders_tx,
        },
        managers: rings.engine_managers,
        more_fills: rings.more_fills,
        unsent,
        directory,
        snapshots: snapshot_writer,
        model_swaps,
        attachments,
        open_orders_clock: edges.open_orders_clock,
    };
    let (engine_stage, report, estats) = engine_stage(&cfg, &checked, &paths, engine);
    let (stages, idle) = in_order(edges.feed, edges.managers, engine_stage, edges.lp, &checked);
    let mut reporter = StatsReporter::new(
        tap,
        estats,
        rings.shown,
        edges.counters,
        checked.sync,
        &checked.latency_dir,
    )?
    .with_late_counters(late);
    let admin_server = match (admin_listener, snapshots) {
        (Some(listener), Some(reader)) => Some(start_admin(
            &mut out, &cfg, &symbols, listener, reader, &operator, &reporter,
        )?),
        _ => None,
    };
    let pipeline = start_pipeline(&mut out, stages, idle, &cfg, &checked)?;
    supervise(
        &mut out,
        pipeline,
        &checked,
        &stop,
        &operator,
        &mut reporter,
    )?;
    if let Some(server) = admin_server {
        server.stop();
    }
    let report = report
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .context("the engine stage ended without a report")?;
    print_end(&mut out, report, reporter)
}

/// The stop flag, raised by SIGINT/SIGTERM. Installed first: a signal during start-up lets
/// the start finish (it is atomic, resume.rs) and ends the process cleanly, rather than
/// killing it half way (exit 143).
fn stop_on_signals() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handlers")?;
    }
    Ok(stop)
}

/// Checks the listening addresses before the state directory is touched: a port in use fails
/// the start with nothing on disk changed. The admin port is kept bound (returned); the
/// managers' are probed: bound, never listened on, so no client is accepted and dropped.
fn bind_listeners(
    cfg: &DaemonConfig,
    checked: &Checked,
) -> anyhow::Result<Option<std::net::TcpListener>> {
    let admin_listener = checked
        .admin
        .map(|(a, _)| crate::admin::AdminServer::bind(a))
        .transpose()?;
    for m in cfg.manager_sessions() {
        probe_listen(&format!("listen of manager {}", m.number), &m.listen)?;
    }
    Ok(admin_listener)
}

/// The engine's published snapshot, both ends, if anything reads it: the admin API and the
/// manager sessions' position requests (one reader, shared; the engine never waits for
/// either).
fn snapshot_ends(checked: &Checked) -> (Option<SnapshotWriter>, Option<SharedSnapshots>) {
    match checked.snapshots {
        Some(every) => {
            let (w, r) = snapshot_buffer(u64::try_from(every.as_nanos()).unwrap_or(u64::MAX));
            (Some(w), Some(share_snapshots(r)))
        }
        None => (None, None),
    }
}

/// The stages in the runner's order (feed if any, managers, engine, LP) and each one's idle
/// strategy.
fn in_order(
    feed: Option<Box<dyn Stage>>,
    managers: sessions::ManagerHost,
    engine: EngineStage,
    lp: Box<dyn Stage>,
    checked: &Checked,
) -> (Vec<Box<dyn Stage>>, Vec<IdleStrategy>) {
    let mut stages: Vec<Box<dyn Stage>> = Vec::new();
    let mut idle = Vec::new();
    if let Some(f) = feed {
        stages.push(f);
        idle.push(checked.idle[0]);
    }
    stages.push(Box::new(managers));
    idle.push(checked.idle[1]);
    stages.push(Box::new(engine));
    idle.push(checked.idle[2]);
    stages.push(lp);
    idle.push(checked.idle[3]);
    (stages, idle)
}

/// Starts the stages on the pipeline runner and says which run, in what mode, where.
fn start_pipeline(
    out: &mut impl Write,
    stages: Vec<Box<dyn Stage>>,
    idle: Vec<IdleStrategy>,
    cfg: &DaemonConfig,
    checked: &Checked,
) -> anyhow::Result<Pipeline> {
    let names: Vec<String> = stages.iter().map(|s| s.name().to_string()).collect();
    let runner = RunnerConfig {
        mode: checked.mode,
        idle,
        pin: cfg.pipeline.pin,
    };
    let pipeline = Pipeline::start(stages, &runner)?;
    writeln!(
        out,
        "  stages {names:?} running ({} mode{})",
        checked.mode.as_str(),
        if pipeline.pinned_cores().is_empty() {
            String::new()
        } else {
            format!(", pinned to cores {:?}", pipeline.pinned_cores())
        }
    )?;
    out.flush()?;
    Ok(pipeline)
}

/// What the engine stage is built from.
struct EngineParts {
    started: Started,
    stop: Arc<AtomicBool>,
    admin: Arc<AdminQueue>,
    tap: LatencyTap,
    rings: EngineRings,
    /// Per manager session: its number, master ring and report ring.
    managers: Vec<(u8, RingRx<EdgeFrame>, RingTx<ManagerReport>)>,
    /// Fill rings of the LPs after the first.
    more_fills: Vec<RingRx<EdgeFrame>>,
    /// Reports a crash left unsent (each goes to its manager).
    unsent: Vec<ManagerReport>,
    /// Account ids by index, shared with the LP stage.
    directory: AccountDirectory,
    /// Where the engine publishes its snapshot, if anything reads it.
    snapshots: Option<SnapshotWriter>,
    /// Adaptive-model swaps (a config reload).
    model_swaps: Arc<ModelSwaps>,
    /// Sessions a config reload adds.
    attachments: Arc<Attachments>,
    /// The event time of the orders open at the start.
    open_orders_clock: u64,
}

/// The engine stage with the daemon's options, publishing its snapshot when anything reads
/// it.
fn engine_stage(
    cfg: &DaemonConfig,
    checked: &Checked,
    paths: &StatePaths,
    parts: EngineParts,
) -> (EngineStage, ReportSlot, Arc<EngineStageStats>) {
    let opts = EngineStageOptions {
        sequencing: checked.sequencing,
        checkpoint_dir: paths.checkpoints.clone(),
        checkpoint_every: cfg.engine.checkpoint_every,
        clock: mam_core::sys::mono_ns,
        drain_timeout_ns: checked.drain_timeout.as_nanos() as u64,
        tap: Some(parts.tap),
        batch: 256,
        admin: Some(parts.admin),
        sync: checked.sync,
        forward_allocations: cfg.lp.allocation_instructions,
    };
    let partial = parts.started.partial;
    let (stage, report, estats) = EngineStage::new(
        parts.started.engine,
        parts.started.journal,
        opts,
        parts.rings,
        parts.stop,
    );
    let stage = stage
        .with_account_directory(parts.directory)
        .with_model_swaps(parts.model_swaps)
        .with_attachments(parts.attachments)
        .with_event_clock(parts.open_orders_clock);
    let mut stage = stage;
    for rx in parts.more_fills {
        stage = stage.with_fills(rx);
    }
    for (n, rx, tx) in parts.managers {
        stage = stage.with_manager(n, rx, Some(tx));
    }
    stage = stage.with_partial_messages(&partial);
    let mut stage = stage.with_unsent_reports(parts.unsent);
    if let Some(w) = parts.snapshots {
        stage = stage.with_snapshots(w);
    }
    (stage, report, estats)
}

/// Starts the admin HTTP server on its bound listener (docs/admin.md) and says where.
fn start_admin(
    out: &mut impl Write,
    cfg: &DaemonConfig,
    symbols: &SymbolTable,
    listener: std::net::TcpListener,
    reader: SharedSnapshots,
    operator: &Operator,
    reporter: &StatsReporter,
) -> anyhow::Result<crate::admin::AdminServer> {
    let token = crate::admin::load_or_create_token(cfg.admin.token.as_deref(), &cfg.state)?;
    let (engine_stats, rings) = reporter.sources();
    let shared = Arc::new(crate::admin::AdminShared {
        snapshot: reader,
        queue: operator.admin.clone(),
        symbols: symbols.clone(),
        token,
        engine: engine_stats,
        rings,
        live: reporter.live(),
        next_id: std::sync::atomic::AtomicU64::new(0),
        started: Instant::now(),
        stopping: AtomicBool::new(false),
        reloader: operator.reloader.clone(),
        sessions: operator.sessions.clone(),
        manager: operator
            .defaults
            .clone()
            .map(|defaults| crate::admin::manager::ManagerInfo {
                comp_id: cfg.manager.comp_id.clone(),
                peer_comp_id: cfg.manager.peer_comp_id.clone(),
                defaults,
            }),
    });
    let server = crate::admin::AdminServer::start(listener, shared)?;
    writeln!(
        out,
        "  admin: http://{}/ (API, dashboard, /metrics; token {})",
        server.addr,
        if cfg.admin.token.is_some() {
            "as admin.token sets".to_string()
        } else {
            format!("in {}", cfg.state.join("admin.token").display())
        }
    )?;
    Ok(server)
}

/// Where an operator's actions come in: the signals, the admin queue they and the admin API
/// push engine inputs onto, and the config reloader (SIGHUP, `POST /api/reload`).
struct Operator {
    signals: OperatorSignals,
    admin: Arc<AdminQueue>,
    reloader: Arc<reload::Reloader>,
    /// The manager stage's live defaults, when the manager session is on.
    defaults: Option<Arc<mam_gateway::manager::SharedDefaults>>,
    /// The manager sessions that run (a reload changes them).
    sessions: Arc<std::sync::Mutex<Vec<crate::admin::manager::SessionInfo>>>,
}

impl Operator {
    /// The operator's ways in: `signals`, the admin API's queue `admin`, and a reloader of
    /// `config_path` that swaps models through `model_swaps` and changes the sessions of
    /// `parts` (built from `cfg` and the started `edges`).
    fn new(
        config_path: &Path,
        cfg: &DaemonConfig,
        edges: &edges::Edges,
        signals: OperatorSignals,
        admin: Arc<AdminQueue>,
        model_swaps: &Arc<ModelSwaps>,
        parts: session_changes::SessionParts,
    ) -> anyhow::Result<Self> {
        let control = Arc::new(session_changes::SessionControl::new(cfg, parts));
        let reloader = reload::Reloader::new(
            config_path,
            Some(edges.context.defaults.clone()),
            model_swaps.clone(),
        )?
        .with_sessions(control.clone());
        Ok(Operator {
            signals,
            admin,
            reloader: Arc::new(reloader),
            defaults: edges.defaults.clone(),
            sessions: control.infos(),
        })
    }
}

/// Watches the running pipeline until it ends: raises the stop flag at a signal or at the
/// run's duration, forwards operator signals, writes the stats line and the latency logs.
fn supervise(
    out: &mut impl Write,
    pipeline: Pipeline,
    checked: &Checked,
    stop: &AtomicBool,
    operator: &Operator,
    reporter: &mut StatsReporter,
) -> anyhow::Result<()> {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let joiner = std::thread::spawn(move || {
        let r = pipeline.join();
        let _ = done_tx.send(());
        r
    });
    let begun = Instant::now();
    let (mut next_line, mut next_log) = (
        begun + checked.stats_interval,
        begun + checked.latency_interval,
    );
    let mut stopping = false;
    loop {
        // Wake every 100 ms at most to see a signal or the duration promptly.
        let finished = done_rx.recv_timeout(Duration::from_millis(100)).is_ok();
        let now = Instant::now();
        if !stopping && checked.duration.is_some_and(|d| begun.elapsed() >= d) {
            stop.store(true, Ordering::Relaxed);
        }
        if !stopping && stop.load(Ordering::Relaxed) {
            stopping = true;
            writeln!(out, "stopping: draining rings, flushing, logging out")?;
            out.flush()?;
        }
        operator.signals.forward(&operator.admin, out)?;
        if operator.signals.take_reload() {
            reload::on_signal(&operator.reloader, &operator.admin, out)?;
            out.flush()?;
        }
        if let Some(line) = reload::signal_model_outcome(&operator.reloader) {
            writeln!(out, "{line}")?;
            out.flush()?;
        }
        if now >= next_log {
            reporter.log_interval()?;
            next_log += checked.latency_interval;
        }
        if now >= next_line || finished {
            reporter.log_interval()?;
            writeln!(out, "{}", reporter.line())?;
            out.flush()?;
            next_line += checked.stats_interval;
        }
        if finished {
            break;
        }
    }
    joiner
        .join()
        .map_err(|_| anyhow::anyhow!("a pipeline thread panicked"))??;
    Ok(())
}

/// The closing lines: latency over the run, the engine's counters and digest, how it ended.
fn print_end(
    out: &mut impl Write,
    report: EngineStageReport,
    mut reporter: StatsReporter,
) -> anyhow::Result<ExitCode> {
    writeln!(out, "latency over the run (ns clock, CLOCK_MONOTONIC):")?;
    for l in reporter.finish()? {
        writeln!(out, "{l}")?;
    }
    let e = &report.engine;
    let c = e.counters();
    writeln!(
        out,
        "engine: {} inputs, {} orders ({} per-account, {} block), {} fills, {} refused, {} risk \
         rejects; {} margin calls, {} stop-outs, {} loss limits crossed, {} engine orders; {} \
         tickets open, {} orders open; journal seq {}; state digest {:016x}",
        c.inputs,
        c.orders,
        c.child_orders,
        c.block_orders,
        c.fills,
        c.refused,
        c.risk_rejects,
        c.margin_calls,
        c.stop_outs,
        c.limit_holds,
        c.limit_orders,
        e.open_tickets(),
        e.open_orders(),
        e.applied_seq(),
        e.digest()
    )?;
    match report.error {
        Some(err) => {
            writeln!(out, "stopped on error: {err}")?;
            Ok(ExitCode::from(1))
        }
        None => {
            writeln!(out, "stopped cleanly")?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
