//! `mam bench pipeline`: end-to-end latency of the daemon's pipeline, coordinated omission
//! corrected, for each threading mode × account count × routing.
//!
//! In-process (always): load generator → rings → the real engine stage (engine + journal in a
//! temporary directory) → rings → an LP edge that stamps each child order as it pops it.
//! Socket-to-socket (`--socket`): the same figures through `mam run --config` over loopback.
//! Each figure is printed beside its target; the `.hlog` interval logs and `.hgrm` tables of
//! every figure and configuration go to `--out` (default: a new temporary directory, printed).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use mam_benches::pipeline::{
    default_out_dir, run_in_process, run_socket, Figure, FigureSummary, InProcessConfig,
    ManagerProtocol, Routing, RunResult, SocketConfig, SocketResult, TARGET_LAST_CHILD_P99_NS,
};
use mam_core::pipeline::ThreadingMode;
use serde_json::{json, Value};

/// Arguments of `mam bench pipeline`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Account counts (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "100,1000,10000")]
    pub accounts: Vec<usize>,
    /// Threading modes: shared, dedicated (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "shared,dedicated")]
    pub modes: Vec<String>,
    /// Routings: block, per-account (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "block,per-account")]
    pub routing: Vec<String>,
    /// Master orders per second (opens and closes alternate).
    #[arg(long, default_value_t = 1_000)]
    pub rate: u64,
    /// Cap on child orders per second: a configuration's master rate is lowered to
    /// this ÷ children per master (per-account routing sends one child per account).
    #[arg(long, default_value_t = 200_000)]
    pub max_children_per_sec: u64,
    /// Quotes per second on the market ring.
    #[arg(long, default_value_t = 10_000)]
    pub quote_rate: u64,
    /// Measured seconds per configuration.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Warm-up seconds per configuration (sent, not recorded).
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Also measure socket-to-socket through `mam run --config` (this binary), same
    /// accounts, modes and routings, each twice in the same run: the manager over FIX
    /// (`socket` rows) and over binary order entry (`socket-bin` rows).
    #[arg(long)]
    pub socket: bool,
    /// Socket run: a pcap of mam SBE quotes to serve over SoupBinTCP (default: hours 08-09 of
    /// ../shared/data/dukascopy/EURUSD-2019-02-04, converted with `mam capture convert`).
    #[arg(long)]
    pub capture: Option<PathBuf>,
    /// Socket run: feed pace relative to the capture (`100x`, `max`).
    #[arg(long, default_value = "100x")]
    pub feed_speed: String,
    /// Socket run only (skip the in-process configurations).
    #[arg(long)]
    pub socket_only: bool,
    /// Tickets held open before a master closes the oldest (a close follows its open by
    /// twice as many master intervals or more), in-process and socket alike.
    #[arg(long, default_value_t = mam_benches::pipeline::CLOSE_LAG)]
    pub close_lag: u64,
    /// Socket run: the daemon sends no AllocationInstructions to the LP.
    #[arg(long)]
    pub no_allocation_instructions: bool,
    /// Output directory for the `.hlog` and `.hgrm` files.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Do not pin stage threads to cores.
    #[arg(long)]
    pub no_pin: bool,
    /// Engine-stage batch: inputs taken per ring per duty cycle.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Keep each configuration's journal and checkpoints in `DIR/<label>/` (for `mam journal`;
    /// a socket configuration's daemon state in `DIR/<label>/state`).
    #[arg(long)]
    pub keep_journal: Option<PathBuf>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Run each in-process configuration twice: as is, and with the engine publishing its
    /// snapshot for the admin API while a client polls it at 10 Hz (`+admin` rows).
    #[arg(long)]
    pub admin: bool,
}

/// The 1-minute load average (the machine is shared: figures are read beside it).
fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1e3
}

/// One printed configuration: in-process or socket.
struct Row<'a> {
    config: &'static str,
    mode: ThreadingMode,
    accounts: usize,
    routing: Routing,
    rate: u64,
    figures: &'a [FigureSummary],
}

impl<'a> From<&'a RunResult> for Row<'a> {
    fn from(r: &'a RunResult) -> Self {
        Row {
            config: if r.label.ends_with("+admin") {
                "in-proc+adm"
            } else {
                "in-process"
            },
            mode: r.mode,
            accounts: r.accounts,
            routing: r.routing,
            rate: r.rate,
            figures: &r.figures,
        }
    }
}

impl<'a> From<&'a SocketResult> for Row<'a> {
    fn from(r: &'a SocketResult) -> Self {
        Row {
            config: match r.protocol {
                ManagerProtocol::Fix => "socket",
                ManagerProtocol::Binary => "socket-bin",
            },
            mode: r.mode,
            accounts: r.accounts,
            routing: r.routing,
            rate: r.rate,
            figures: &r.figures,
        }
    }
}

/// The target beside a figure, if it has one, and whether it was met. The socket figure of
/// the same configuration is printed beside it with the target named, not judged.
fn target(r: &Row, f: &FigureSummary) -> Option<(String, Option<bool>)> {
    let applies = f.name == Figure::LastChild.name()
        && r.mode == ThreadingMode::Shared
        && r.accounts == 1_000;
    applies.then(|| {
        let t = format!("p99 ≤ {} µs in-process", us(TARGET_LAST_CHILD_P99_NS));
        let met =
            (r.config == "in-process").then_some(f.count > 0 && f.p99 <= TARGET_LAST_CHILD_P99_NS);
        (t, met)
    })
}

fn figure_json(r: &Row, f: &FigureSummary) -> Value {
    let mut v = json!({
        "count": f.count, "p50_ns": f.p50, "p90_ns": f.p90, "p99_ns": f.p99,
        "p999_ns": f.p999, "max_ns": f.max, "mean_ns": f.mean,
        "hlog": f.hlog.display().to_string(), "hgrm": f.hgrm.display().to_string(),
    });
    if let Some((t, met)) = target(r, f) {
        v["target"] = json!(t);
        if let Some(m) = met {
            v["target_met"] = json!(m);
        }
    }
    v
}

fn result_json(r: &RunResult, load: (f64, f64)) -> Value {
    let c = &r.engine;
    json!({
        "loadavg_1m_before": load.0,
        "loadavg_1m_after": load.1,
        "config": "in-process",
        "label": r.label,
        "mode": r.mode.as_str(),
        "accounts": r.accounts,
        "routing": r.routing.as_str(),
        "master_rate_per_s": r.rate,
        "quote_rate_per_s": r.quote_rate,
        "seconds": r.seconds,
        "pinned_cores": r.pinned_cores,
        "threads": r.threads,
        "masters_sent": r.masters_sent,
        "masters_complete": r.masters_complete,
        "child_orders": r.child_orders,
        "generator_max_late_ns": r.max_late_ns,
        "lost_samples": r.lost_samples,
        "journal_records": r.journal_records,
        "engine": {
            "inputs": c.inputs, "opens": c.opens, "closes": c.closes, "fills": c.fills,
            "market_events": c.market_events, "orders": c.orders, "refused": c.refused,
            "risk_rejects": c.risk_rejects, "invariant_failures": c.invariant_failures,
        },
        "figures": figures_json(&Row::from(r)),
    })
}

fn figures_json(r: &Row) -> Value {
    Value::Object(
        r.figures
            .iter()
            .map(|f| (f.name.clone(), figure_json(r, f)))
            .collect(),
    )
}

fn socket_json(r: &SocketResult) -> Value {
    json!({
        "config": "socket",
        "manager_protocol": r.protocol.as_str(),
        "label": r.label,
        "mode": r.mode.as_str(),
        "accounts": r.accounts,
        "routing": r.routing.as_str(),
        "master_rate_per_s": r.rate,
        "masters_sent": r.masters_sent,
        "masters_matched": r.masters_matched,
        "child_orders": r.child_orders,
        "generator_late_p50_ns": r.late_p50_ns,
        "generator_late_max_ns": r.late_max_ns,
        "daemon": r.daemon_lines,
        "daemon_latency_dir": r.daemon_latency_dir.display().to_string(),
        "figures": figures_json(&Row::from(r)),
    })
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<11} {:<9} {:>8} {:<11} {:>6}  {:<28} {:>8} {:>9} {:>9} {:>9} {:>9}  target",
        "config",
        "mode",
        "accounts",
        "routing",
        "rate",
        "figure",
        "count",
        "p50 µs",
        "p99 µs",
        "p99.9 µs",
        "max µs"
    );
    for r in rows {
        for f in r
            .figures
            .iter()
            .filter(|f| Figure::from_name(&f.name).is_some())
        {
            let label = Figure::from_name(&f.name).map_or("", Figure::label);
            let t = match target(r, f) {
                Some((t, Some(true))) => format!("{t}: met"),
                Some((t, Some(false))) => format!("{t}: MISSED"),
                Some((t, None)) => format!("(beside: {t})"),
                None => String::new(),
            };
            println!(
                "{:<11} {:<9} {:>8} {:<11} {:>6}  {:<28} {:>8} {:>9.2} {:>9.2} {:>9.2} {:>9.2}  {t}",
                r.config,
                r.mode.as_str(),
                r.accounts,
                r.routing.as_str(),
                r.rate,
                label,
                f.count,
                us(f.p50),
                us(f.p99),
                us(f.p999),
                us(f.max),
            );
        }
    }
}

/// The default socket-run capture: two hours of the shared Dukascopy EURUSD day, converted.
pub fn default_capture(out: &std::path::Path) -> anyhow::Result<PathBuf> {
    let src = mam_core::shared_data::shared_path("dukascopy/EURUSD-2019-02-04")
        .map_err(|e| anyhow::anyhow!("{e}; or give --capture FILE: a pcap of mam SBE quotes"))?;
    let day = out.join("capture/EURUSD-2019-02-04");
    std::fs::create_dir_all(&day)?;
    for h in ["08h_ticks.bi5", "09h_ticks.bi5"] {
        std::fs::copy(src.join(h), day.join(h)).with_context(|| format!("copying {h}"))?;
    }
    let pcap = out.join("capture/eurusd.pcap");
    let st = std::process::Command::new(std::env::current_exe()?)
        .args(["capture", "convert", "--from", "dukascopy"])
        .arg(&day)
        .args(["--symbol", "EURUSD", "--out"])
        .arg(&pcap)
        .stdout(std::process::Stdio::null())
        .status()?;
    anyhow::ensure!(st.success(), "mam capture convert failed ({st})");
    Ok(pcap)
}

/// What `mam bench pipeline` measured.
#[derive(Debug)]
pub struct Report {
    /// Where the `.hlog` and `.hgrm` files went.
    pub out: PathBuf,
    /// In-process configurations, each with the load average before and after.
    pub results: Vec<(RunResult, (f64, f64))>,
    /// Socket-to-socket configurations.
    pub sockets: Vec<SocketResult>,
}

/// Measures every configuration of `mam bench pipeline` (progress on stderr unless `--json`).
pub fn measure(a: &Args) -> anyhow::Result<Report> {
    let (modes, routings) = modes_and_routings(a)?;
    anyhow::ensure!(
        a.seconds > 0.0 && a.warmup >= 0.0,
        "--seconds must be > 0, --warmup ≥ 0"
    );
    let out = out_dir(a)?;
    if !a.json {
        println!(
            "mam bench pipeline: {} s per configuration after {} s warm-up, {} quotes/s; files in {}",
            a.seconds, a.warmup, a.quote_rate, out.display()
        );
    }
    let mut results = Vec::new();
    if !a.socket_only {
        for &mode in &modes {
            for &accounts in &a.accounts {
                for &routing in &routings {
                    results.extend(in_process(a, mode, accounts, routing, &out)?);
                }
            }
        }
    }
    let sockets = if a.socket || a.socket_only {
        socket_to_socket(a, &modes, &routings, &out)?
    } else {
        Vec::new()
    };
    Ok(Report {
        out,
        results,
        sockets,
    })
}

/// The threading modes and routings `--modes` and `--routing` name.
fn modes_and_routings(a: &Args) -> anyhow::Result<(Vec<ThreadingMode>, Vec<Routing>)> {
    let modes = a
        .modes
        .iter()
        .map(|m| {
            ThreadingMode::from_name(m)
                .with_context(|| format!("unknown mode `{m}` (shared, dedicated)"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let routings = a
        .routing
        .iter()
        .map(|m| {
            Routing::from_name(m)
                .with_context(|| format!("unknown routing `{m}` (block, per-account)"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((modes, routings))
}

/// Where the files go: `--out`, created, or the default directory.
fn out_dir(a: &Args) -> anyhow::Result<PathBuf> {
    Ok(match &a.out {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            d.clone()
        }
        None => default_out_dir()?,
    })
}

/// The master order rate of a configuration: `--rate`, lowered so that the child orders it
/// makes stay within `--max-children-per-sec`.
fn rate_of(a: &Args, accounts: usize, routing: Routing) -> u64 {
    let children = match routing {
        Routing::Block => 1,
        Routing::PerAccount => accounts.max(1) as u64,
    };
    a.rate.min(a.max_children_per_sec / children).max(2)
}

/// One in-process configuration, without and (with `--admin`) with the admin API polled:
/// each result with the load average before and after.
fn in_process(
    a: &Args,
    mode: ThreadingMode,
    accounts: usize,
    routing: Routing,
    out: &Path,
) -> anyhow::Result<Vec<(RunResult, (f64, f64))>> {
    let mut results = Vec::new();
    for admin_poll_hz in [None, Some(10)] {
        if admin_poll_hz.is_some() && !a.admin {
            continue;
        }
        let cfg = InProcessConfig {
            accounts,
            routing,
            mode,
            rate: rate_of(a, accounts, routing),
            quote_rate: a.quote_rate,
            seconds: a.seconds,
            warmup: a.warmup,
            close_lag: a.close_lag,
            out: out.to_path_buf(),
            pin: !a.no_pin,
            batch: a.batch,
            keep_journal: a.keep_journal.clone(),
            admin_poll_hz,
        };
        let before = loadavg();
        let r = run_in_process(&cfg)
            .with_context(|| format!("{} {accounts} {}", mode.as_str(), routing.as_str()))?;
        let c = &r.engine;
        if c.refused + c.risk_rejects > 0 {
            eprintln!(
                "  warning: {}: the engine refused {} inputs and risk-rejected {} orders; those master orders have no child and are missing from the figures",
                r.label, c.refused, c.risk_rejects
            );
        }
        if !a.json {
            eprintln!(
                "  {}: {} masters sent, {} complete, {} child orders; pinned {:?} ({}); generator late ≤ {:.1} µs; load average {before:.2} → {:.2}",
                r.label, r.masters_sent, r.masters_complete, r.child_orders, r.pinned_cores,
                r.threads.join(", "), us(r.max_late_ns), loadavg()
            );
        }
        results.push((r, (before, loadavg())));
    }
    Ok(results)
}

/// The socket-to-socket configurations, each manager protocol beside the other.
fn socket_to_socket(
    a: &Args,
    modes: &[ThreadingMode],
    routings: &[Routing],
    out: &Path,
) -> anyhow::Result<Vec<SocketResult>> {
    let mut sockets = Vec::new();
    let capture = match &a.capture {
        Some(c) => c.clone(),
        None => default_capture(out)?,
    };
    let feed_speed = a
        .feed_speed
        .parse()
        .map_err(|e| anyhow::anyhow!("--feed-speed {}: {e}", a.feed_speed))?;
    for &mode in modes {
        for &accounts in &a.accounts {
            for (routing, protocol) in routings
                .iter()
                .flat_map(|&r| [(r, ManagerProtocol::Fix), (r, ManagerProtocol::Binary)])
            {
                let cfg = SocketConfig {
                    mam: std::env::current_exe()?,
                    capture: capture.clone(),
                    feed_speed,
                    accounts,
                    routing,
                    mode,
                    rate: rate_of(a, accounts, routing),
                    seconds: a.seconds,
                    warmup: a.warmup,
                    out: out.to_path_buf(),
                    pin: !a.no_pin,
                    protocol,
                    close_lag: a.close_lag,
                    allocation_instructions: !a.no_allocation_instructions,
                    keep_journal: a.keep_journal.clone(),
                };
                let before = loadavg();
                let r = run_socket(&cfg).with_context(|| {
                    format!(
                        "socket {} {accounts} {} ({} manager)",
                        mode.as_str(),
                        routing.as_str(),
                        protocol.as_str()
                    )
                })?;
                if !a.json {
                    eprintln!(
                        "  {}: {} masters sent, {} matched to child orders, {} child orders at the LP; generator late p50 {:.1} µs, max {:.1} µs; daemon: {}; load average {before:.2} → {:.2}",
                        r.label, r.masters_sent, r.masters_matched, r.child_orders,
                        us(r.late_p50_ns), us(r.late_max_ns),
                        r.daemon_lines.join(" | "), loadavg()
                    );
                }
                sockets.push(r);
            }
        }
    }
    Ok(sockets)
}

/// Runs `mam bench pipeline`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let Report {
        out,
        results,
        sockets,
    } = measure(&a)?;
    if a.json {
        println!(
            "{}",
            json!({
                "bench": "pipeline",
                "out": out.display().to_string(),
                "target": { "figure": Figure::LastChild.name(), "config": "in-process", "mode": "shared", "accounts": 1000, "p99_ns": TARGET_LAST_CHILD_P99_NS },
                "in_process": results.iter().map(|(r, l)| result_json(r, *l)).collect::<Vec<_>>(),
                "socket": sockets.iter().map(socket_json).collect::<Vec<_>>(),
            })
        );
    } else {
        let mut rows: Vec<Row> = results.iter().map(|(r, _)| Row::from(r)).collect();
        rows.extend(sockets.iter().map(Row::from));
        print_table(&rows);
        if !(a.socket || a.socket_only) {
            println!("socket-to-socket: not run (add --socket)");
        }
    }
    Ok(ExitCode::SUCCESS)
}
