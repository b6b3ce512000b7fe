//! `mam validate`: the same manager trades through the real engine twice, static and
//! adaptive, on the same accounts; the report says which did better, metric by metric
//! (docs/validation.md).

pub mod book;
pub mod replay;
pub mod report;
pub mod strategy;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use mam_core::adaptive::AdaptiveModel;
use mam_core::symbol::SymbolTable;

use crate::histdata::{self, UtcRange};

/// The six FX pairs and gold of `../shared/data/histdata/`.
pub const DEFAULT_SYMBOLS: &str = "AUDUSD,EURUSD,GBPUSD,USDCAD,USDCHF,USDJPY,XAUUSD";

/// Arguments of `mam validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A directory of HistData.com M1 files (zips as distributed).
    #[arg(long)]
    pub bars: PathBuf,
    /// Symbols to trade, comma-separated.
    #[arg(long, default_value = DEFAULT_SYMBOLS)]
    pub symbols: String,
    /// The model file `mam train` wrote. Its training period must not overlap `--from..--to`.
    #[arg(long)]
    pub model: PathBuf,
    /// Accounts CSV (as `mam accounts import` reads); default: a generated book.
    #[arg(long)]
    pub accounts: Option<PathBuf>,
    /// Accounts in the generated book.
    #[arg(long, default_value_t = 1000)]
    pub generate: usize,
    /// Manager strategy: `trend` or `meanrev`.
    #[arg(long, default_value = "trend")]
    pub strategy: String,
    /// Seed of the strategy, the book and its cash flows.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Notional of one master position as a multiple of the book's balance.
    #[arg(long, default_value = "3")]
    pub leverage: String,
    /// First UTC date replayed (inclusive).
    #[arg(long)]
    pub from: String,
    /// End of the replay (exclusive).
    #[arg(long)]
    pub to: String,
    /// Directory for report.json and report.html.
    #[arg(long)]
    pub out: PathBuf,
}

/// The closes of every symbol in `range`.
pub fn load_closes(
    dir: &std::path::Path,
    symbols: &[String],
    range: UtcRange,
) -> anyhow::Result<Vec<replay::Closes>> {
    let mut out = Vec::new();
    let (y0, y1) = (
        histdata::year_of(range.from_ns),
        histdata::year_of(range.to_ns - 1),
    );
    for s in symbols {
        let mut paths = Vec::new();
        for y in y0..=y1 {
            paths.push(histdata::find_zip(dir, s, y)?);
        }
        let bars = histdata::read_bars(&paths, range)?;
        if bars.bars.is_empty() {
            bail!(
                "{s}: no bars between {} and {}",
                histdata::format_date(range.from_ns),
                histdata::format_date(range.to_ns)
            );
        }
        out.push(replay::Closes {
            symbol: s.clone(),
            bars: bars
                .bars
                .iter()
                .map(|b| (b.ts_utc_ns, b.close.raw()))
                .collect(),
        });
    }
    Ok(out)
}

/// Parses `3` or `0.5` into millionths.
fn leverage_ppm(s: &str) -> anyhow::Result<i64> {
    let r = mam_core::num::Ratio::parse(s).with_context(|| format!("--leverage {s:?}"))?;
    if r.raw() < 100_000 || r.raw() > 100_000_000 {
        bail!("--leverage {s}: expected 0.1 to 100");
    }
    Ok(r.raw())
}

/// Runs `mam validate`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let range = UtcRange {
        from_ns: histdata::parse_date(&a.from)?,
        to_ns: histdata::parse_date(&a.to)?,
    };
    if range.from_ns >= range.to_ns {
        bail!("--from {} is not before --to {}", a.from, a.to);
    }
    let (model, meta) = crate::model_file::load(&a.model)?;
    let train = UtcRange {
        from_ns: histdata::parse_date(&meta.train_from)?,
        to_ns: histdata::parse_date(&meta.train_to)?,
    };
    if train.from_ns < range.to_ns && range.from_ns < train.to_ns {
        bail!(
            "the model was trained on {}..{}, which overlaps the validation period {}..{}: \
             validate on months the model has not seen (walk-forward)",
            meta.train_from,
            meta.train_to,
            a.from,
            a.to
        );
    }
    let symbols: Vec<String> = a.symbols.split(',').map(|s| s.trim().to_string()).collect();
    let table = SymbolTable::builtin();
    let data = load_closes(&a.bars, &symbols, range)?;
    let accounts = match &a.accounts {
        Some(p) => crate::accounts_io::load_accounts(p)?,
        None => book::generate(a.generate, a.seed),
    };
    let flows = book::flows(&accounts, range.from_ns, range.to_ns, a.seed);
    let lev = leverage_ppm(&a.leverage)?;
    let run_one = |adaptive: bool, leverage_ppm: i64, name: &str| {
        let p = replay::RunParams {
            symbols: &table,
            model: &model,
            adaptive,
            strategy: &a.strategy,
            seed: a.seed,
            leverage_ppm,
            accounts: &accounts,
            flows: &flows,
        };
        let t0 = std::time::Instant::now();
        let out = replay::run(&p, &data)?;
        eprintln!(
            "{name}: leverage {}, {} trades, {} days, {:.1} s",
            mam_core::num::Ratio(leverage_ppm),
            out.trades,
            out.days.len(),
            t0.elapsed().as_secs_f64()
        );
        anyhow::Ok(out)
    };
    let stat = run_one(false, lev, "static")?;
    let adap = run_one(true, lev, "adaptive")?;
    // The static rule scaled to the adaptive run's average gross exposure: what is left of
    // adaptive's advantage once it is not simply smaller.
    let mean = |v: &[i64]| v.iter().map(|&x| i128::from(x)).sum::<i128>() / v.len().max(1) as i128;
    let (es, ea) = (mean(&stat.exposure), mean(&adap.exposure));
    let matched_lev = if es > 0 {
        (i128::from(lev) * ea / es).clamp(1, i128::from(i64::MAX)) as i64
    } else {
        lev
    };
    let matched = run_one(false, matched_lev, report::MATCHED)?;
    let runs = vec![stat, adap, matched];
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let day = |ns: u64| (ns / 86_400_000_000_000) as u32;
    let text = std::fs::read_to_string(&a.model).unwrap_or_default();
    let checksum = text
        .lines()
        .find_map(|l| l.strip_prefix("checksum = "))
        .unwrap_or("")
        .trim_matches('"')
        .to_string();
    let meta_out = report::Meta {
        strategy: format!("{} (seed {}, leverage {})", a.strategy, a.seed, a.leverage),
        symbols: symbols.clone(),
        train: report::DayRange {
            first: day(train.from_ns),
            last: day(train.to_ns) - 1,
        },
        validate: report::DayRange {
            first: day(range.from_ns),
            last: day(range.to_ns) - 1,
        },
        accounts: accounts.id.len() as u32,
        split: format!(
            "walk-forward: trained on {}..{} ({}), validated on {}..{} (never seen by the fit)",
            meta.train_from, meta.train_to, meta.split, a.from, a.to
        ),
        model_path: a.model.display().to_string(),
        model_checksum: checksum,
    };
    let series: Vec<report::RunSeries> = runs
        .into_iter()
        .zip(["static", "adaptive", report::MATCHED])
        .map(|(r, name)| to_series(r, name, &accounts))
        .collect();
    let summary = report::write_report(&a.out, &meta_out, &series, &Default::default())?;
    println!("{}", summary.table());
    println!(
        "report: {} ({} plots) and {}",
        summary.html.display(),
        summary.plots.len(),
        summary.json.display()
    );
    let _ = &model as &AdaptiveModel;
    Ok(ExitCode::SUCCESS)
}

fn to_series(
    r: replay::RunOutput,
    name: &str,
    accounts: &mam_core::account::AccountVecs,
) -> report::RunSeries {
    report::RunSeries {
        name: name.into(),
        days: r.days,
        equity: r.equity,
        balance_start: accounts.balance.iter().map(|b| b.raw()).collect(),
        deposits: r.flows,
        tolerance: accounts
            .drawdown_tolerance
            .iter()
            .map(|t| t.raw())
            .collect(),
        stop_outs: r.stop_outs,
        margin_calls: r.margin_calls,
        in_bounds: r.in_bounds,
        allocations: r.allocations,
        exposure_notional: r.exposure,
        margin_used: r.margin,
        turnover: r.turnover,
        cost: r.cost,
        factors: r
            .factors
            .into_iter()
            .map(|f| report::FactorSample {
                ts_ns: f.ts,
                symbol: f.symbol,
                name: f.name.into(),
                value_ppm: f.ppm,
            })
            .collect(),
        regime: r
            .regime
            .into_iter()
            .map(|g| report::RegimeSample {
                ts_ns: g.ts,
                symbol: g.symbol,
                // For the plot only.
                price: g.price as f64 / 1e8,
                label: g.label,
            })
            .collect(),
    }
}
