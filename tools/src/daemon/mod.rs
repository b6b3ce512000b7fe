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
pub mod resume;
pub(crate) mod stats;

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use mam_core::engine::input::{RiskCommand, ADAPTIVE_OFF, ADAPTIVE_ON, RISK_KILL, RISK_RESET};
use mam_core::engine::Input;
use mam_core::pipeline::engine_stage::admin::{snapshot_buffer, AdminQueue, AdminRequest};
use mam_core::pipeline::engine_stage::{EngineRings, EngineStage, EngineStageOptions};
use mam_core::pipeline::{ring, LatencyTap, Pipeline, RunnerConfig, Stage};
use mam_core::symbol::SymbolTable;

use config::DaemonConfig;
use resume::StatePaths;
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

/// Runs the daemon from `config_path`; `duration` overrides the file's.
pub fn run(config_path: &Path, duration: Option<Duration>) -> anyhow::Result<ExitCode> {
    // Installed first: a SIGINT/SIGTERM during start-up lets the start finish (it is atomic,
    // resume.rs) and ends the process cleanly, rather than killing it half way (exit 143).
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handlers")?;
    }
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
    // Listening addresses are checked before the state directory is touched: a port in use
    // fails the start with nothing on disk changed (the admin port is kept bound; the
    // manager's is probed: bound, never listened on, so no client is accepted and dropped).
    let admin_listener = checked
        .admin
        .map(|(a, _)| crate::admin::AdminServer::bind(a))
        .transpose()?;
    if cfg.manager.enabled {
        probe_listen("manager.listen", &cfg.manager.listen)?;
    }
    let started = resume::start(&cfg, checked.engine, &symbols, &paths, model)?;
    let mut out = std::io::stdout();
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
    )?;

    if stop.load(Ordering::Relaxed) {
        writeln!(
            out,
            "stopped during start-up (signal): the state directory is ready for the next start"
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    // SIGUSR1 engages the kill switch (no new child orders), SIGUSR2 releases it.
    let (kill, release) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    signal_hook::flag::register(signal_hook::consts::SIGUSR1, kill.clone())
        .context("installing signal handlers")?;
    signal_hook::flag::register(signal_hook::consts::SIGUSR2, release.clone())
        .context("installing signal handlers")?;
    // SIGRTMIN+1 switches the adaptive layer off (every master gets its static allocation at
    // once), SIGRTMIN+2 back on: journaled engine inputs (`kill -s RTMIN+1 PID`).
    let (adaptive_off, adaptive_on) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    #[cfg(target_os = "linux")]
    {
        signal_hook::flag::register(libc::SIGRTMIN() + 1, adaptive_off.clone())
            .context("installing signal handlers")?;
        signal_hook::flag::register(libc::SIGRTMIN() + 2, adaptive_on.clone())
            .context("installing signal handlers")?;
    }
    // Operator inputs from signals and the admin API (docs/admin.md).
    let admin = Arc::new(AdminQueue::new(256));
    let tap = LatencyTap::new();
    let cap = cfg.pipeline.ring;
    let (mtx, mrx, mstats) = ring(cap);
    let (atx, arx, astats) = ring(cap);
    let (ftx, frx, fstats) = ring(cap);
    let (otx, orx, ostats) = ring(cap);
    let (rtx, rrx, _) = ring(cap);

    // Reports a crash took between the journal and the manager's socket: sent first.
    let unsent = if cfg.manager.enabled && started.restarted {
        resume::unsent_reports(&paths)?
    } else {
        Vec::new()
    };
    if !unsent.is_empty() {
        writeln!(
            out,
            "  manager: {} reports journaled but never sent: sending them first",
            unsent.len()
        )?;
    }
    let edges = edges::build(edges::EdgeInputs {
        cfg: &cfg,
        symbols: &symbols,
        paths: &paths,
        started: &started,
        market_tx: mtx,
        master_tx: atx,
        fill_tx: ftx,
        order_rx: orx,
        report_rx: rrx,
        stop: stop.clone(),
        tap: tap.clone(),
    })?;
    for l in &edges.lines {
        writeln!(out, "  {l}")?;
    }
    out.flush()?;

    let manager_enabled = cfg.manager.enabled;
    let feed_enabled = edges.feed.is_some();
    let opts = EngineStageOptions {
        sequencing: checked.sequencing,
        checkpoint_dir: paths.checkpoints.clone(),
        checkpoint_every: cfg.engine.checkpoint_every,
        clock: mam_gateway::latency::mono_ns,
        drain_timeout_ns: checked.drain_timeout.as_nanos() as u64,
        tap: Some(tap.clone()),
        batch: 256,
        admin: Some(admin.clone()),
        sync: checked.sync,
        forward_allocations: cfg.lp.allocation_instructions,
    };
    let rings = EngineRings {
        market: feed_enabled.then_some(mrx),
        masters: manager_enabled.then_some(arx),
        fills: frx,
        orders: otx,
    };
    let (engine_stage, report, estats) =
        EngineStage::new(started.engine, started.journal, opts, rings, stop.clone());
    let mut engine_stage = if manager_enabled {
        engine_stage.with_reports(rtx).with_unsent_reports(unsent)
    } else {
        engine_stage
    };
    let mut snapshot_reader = None;
    if let Some((_, every)) = checked.admin {
        let (w, r) = snapshot_buffer(u64::try_from(every.as_nanos()).unwrap_or(u64::MAX));
        engine_stage = engine_stage.with_snapshots(w);
        snapshot_reader = Some(r);
    }

    let mut stages: Vec<Box<dyn Stage>> = Vec::new();
    let mut idle = Vec::new();
    if let Some(f) = edges.feed {
        stages.push(f);
        idle.push(checked.idle[0]);
    }
    if let Some(m) = edges.manager {
        stages.push(m);
        idle.push(checked.idle[1]);
    }
    stages.push(Box::new(engine_stage));
    idle.push(checked.idle[2]);
    stages.push(edges.lp);
    idle.push(checked.idle[3]);
    let names: Vec<String> = stages.iter().map(|s| s.name().to_string()).collect();

    let mut reporter = StatsReporter::new(
        tap,
        estats,
        vec![
            ("feed", mstats),
            ("masters", astats),
            ("orders", ostats),
            ("fills", fstats),
        ],
        edges.counters,
        checked.sync,
        &checked.latency_dir,
    )?;
    let admin_server = match (admin_listener, snapshot_reader) {
        (Some(listener), Some(reader)) => {
            let token = crate::admin::load_or_create_token(cfg.admin.token.as_deref(), &cfg.state)?;
            let (engine_stats, rings) = reporter.sources();
            let shared = Arc::new(crate::admin::AdminShared {
                snapshot: std::sync::Mutex::new(reader),
                queue: admin.clone(),
                symbols: symbols.clone(),
                token,
                engine: engine_stats,
                rings,
                live: reporter.live(),
                next_id: std::sync::atomic::AtomicU64::new(0),
                started: Instant::now(),
                stopping: AtomicBool::new(false),
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
            Some(server)
        }
        _ => None,
    };
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
        for (flag, action, what) in [
            (
                &kill,
                RISK_KILL,
                "kill switch engaged (SIGUSR1): no new child orders",
            ),
            (&release, RISK_RESET, "kill switch released (SIGUSR2)"),
            (
                &adaptive_off,
                ADAPTIVE_OFF,
                "adaptive layer off (SIGRTMIN+1): static allocation",
            ),
            (&adaptive_on, ADAPTIVE_ON, "adaptive layer on (SIGRTMIN+2)"),
        ] {
            if flag.swap(false, Ordering::Relaxed) {
                let cmd = RiskCommand {
                    ts_ns: mam_gateway::fix::session::initiator::now_ns(),
                    action,
                    _pad: 0,
                };
                let req = AdminRequest {
                    id: 0,
                    input: Input::Risk(cmd),
                };
                if admin.push(req).is_ok() {
                    writeln!(out, "{what}")?;
                }
            }
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
    if let Some(server) = admin_server {
        server.stop();
    }
    let report = report
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .context("the engine stage ended without a report")?;
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
