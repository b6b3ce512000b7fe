//! `mam bench pipeline`: end-to-end latency of the daemon's pipeline, coordinated omission
//! corrected, for each threading mode × account count × routing.
//!
//! In-process (always): load generator → rings → the real engine stage (engine + journal in a
//! temporary directory) → rings → an LP edge that stamps each child order as it pops it.
//! Socket-to-socket (`--socket`): the same figures through `mam run --config` over loopback.
//! Each figure is printed beside its target; the `.hlog` interval logs and `.hgrm` tables of
//! every figure and configuration go to `--out` (default: a new temporary directory, printed).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use mam_benches::pipeline::{
    default_out_dir, run_in_process, Figure, FigureSummary, InProcessConfig, Routing, RunResult,
    TARGET_LAST_CHILD_P99_NS,
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
    /// Also measure socket-to-socket through `mam run --config`.
    #[arg(long)]
    pub socket: bool,
    /// Output directory for the `.hlog` and `.hgrm` files.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Do not pin stage threads to cores.
    #[arg(long)]
    pub no_pin: bool,
    /// Engine-stage batch: inputs taken per ring per duty cycle.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Keep each configuration's journal and checkpoints in DIR/<label>/ (for `mam journal`).
    #[arg(long)]
    pub keep_journal: Option<PathBuf>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1e3
}

/// The target beside a figure, if it has one, and whether it was met.
fn target(r: &RunResult, f: &FigureSummary) -> Option<(String, bool)> {
    let applies = f.name == Figure::LastChild.name()
        && r.mode == ThreadingMode::Shared
        && r.accounts == 1_000;
    applies.then(|| {
        (
            format!("p99 ≤ {} µs", us(TARGET_LAST_CHILD_P99_NS)),
            f.count > 0 && f.p99 <= TARGET_LAST_CHILD_P99_NS,
        )
    })
}

fn figure_json(r: &RunResult, f: &FigureSummary) -> Value {
    let mut v = json!({
        "count": f.count, "p50_ns": f.p50, "p90_ns": f.p90, "p99_ns": f.p99,
        "p999_ns": f.p999, "max_ns": f.max, "mean_ns": f.mean,
        "hlog": f.hlog.display().to_string(), "hgrm": f.hgrm.display().to_string(),
    });
    if let Some((t, met)) = target(r, f) {
        v["target"] = json!(t);
        v["target_met"] = json!(met);
    }
    v
}

fn result_json(r: &RunResult) -> Value {
    let c = &r.engine;
    json!({
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
        "figures": r.figures.iter().map(|f| (f.name.clone(), figure_json(r, f))).collect::<serde_json::Map<_, _>>(),
    })
}

fn print_table(results: &[RunResult]) {
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
    for r in results {
        for f in r
            .figures
            .iter()
            .filter(|f| Figure::from_name(&f.name).is_some())
        {
            let label = Figure::from_name(&f.name).map_or("", Figure::label);
            let t = match target(r, f) {
                Some((t, true)) => format!("{t}: met"),
                Some((t, false)) => format!("{t}: MISSED"),
                None => String::new(),
            };
            println!(
                "{:<11} {:<9} {:>8} {:<11} {:>6}  {:<28} {:>8} {:>9.2} {:>9.2} {:>9.2} {:>9.2}  {t}",
                "in-process",
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

/// Runs `mam bench pipeline`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
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
    anyhow::ensure!(
        a.seconds > 0.0 && a.warmup >= 0.0,
        "--seconds must be > 0, --warmup ≥ 0"
    );
    let out = match &a.out {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            d.clone()
        }
        None => default_out_dir()?,
    };
    if !a.json {
        println!(
            "mam bench pipeline: {} s per configuration after {} s warm-up, {} quotes/s; files in {}",
            a.seconds, a.warmup, a.quote_rate, out.display()
        );
    }
    let mut results = Vec::new();
    for &mode in &modes {
        for &accounts in &a.accounts {
            for &routing in &routings {
                let children = match routing {
                    Routing::Block => 1,
                    Routing::PerAccount => accounts.max(1) as u64,
                };
                let rate = a.rate.min(a.max_children_per_sec / children).max(2);
                let cfg = InProcessConfig {
                    accounts,
                    routing,
                    mode,
                    rate,
                    quote_rate: a.quote_rate,
                    seconds: a.seconds,
                    warmup: a.warmup,
                    out: out.clone(),
                    pin: !a.no_pin,
                    batch: a.batch,
                    keep_journal: a.keep_journal.clone(),
                };
                let r = run_in_process(&cfg).with_context(|| {
                    format!("{} {accounts} {}", mode.as_str(), routing.as_str())
                })?;
                if !a.json {
                    let c = &r.engine;
                    eprintln!(
                        "  {}: {} masters sent, {} complete, {} child orders; pinned {:?} ({}); refused {}, risk rejects {}, generator late ≤ {:.1} µs",
                        r.label, r.masters_sent, r.masters_complete, r.child_orders, r.pinned_cores,
                        r.threads.join(", "), c.refused, c.risk_rejects, us(r.max_late_ns)
                    );
                }
                results.push(r);
            }
        }
    }
    let socket_note = if a.socket {
        "socket-to-socket: pending (needs the daemon, `mam run --config`)"
    } else {
        "socket-to-socket: not run (--socket)"
    };
    if a.json {
        println!(
            "{}",
            json!({
                "bench": "pipeline",
                "out": out.display().to_string(),
                "target": { "figure": Figure::LastChild.name(), "config": "in-process", "mode": "shared", "accounts": 1000, "p99_ns": TARGET_LAST_CHILD_P99_NS },
                "in_process": results.iter().map(result_json).collect::<Vec<_>>(),
                "socket": socket_note,
            })
        );
    } else {
        print_table(&results);
        println!("{socket_note}");
    }
    Ok(ExitCode::SUCCESS)
}
