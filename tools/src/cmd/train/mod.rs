//! `mam train`: fits the adaptive model's volatility forecaster, regime filter and volatility
//! target per symbol from HistData.com 1-minute bars, optionally account clusters, and writes
//! the model file. See docs/adaptive-training.md.

mod cluster;
mod data;
mod regime;
mod vol;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use mam_core::adaptive::{AdaptiveModel, ClusterParams, SymbolModel, VolParams};

use crate::histdata::{self, UtcRange};
use crate::model_file::{self, BarFile, Meta, SymbolFit};

/// The engine samples returns every minute, as the bars are.
const SAMPLE_NS: u64 = 60_000_000_000;
/// Fewer training returns than this cannot support a GARCH or an 8-bucket HMM.
const MIN_TRAIN_RETURNS: usize = 1_000;
/// Fewer test returns than this make the out-of-sample comparison noise.
const MIN_TEST_RETURNS: usize = 100;

/// `mam train` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// HistData.com M1 bar files (zip or CSV) or directories holding them.
    #[arg(long, num_args = 1.., required = true)]
    pub bars: Vec<PathBuf>,
    /// Symbols to fit (default: every symbol found), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub symbols: Vec<String>,
    /// First UTC date of the training period (YYYY-MM-DD).
    #[arg(long)]
    pub from: String,
    /// End of the training period (exclusive) and start of the test period.
    #[arg(long)]
    pub to: String,
    /// End of the out-of-sample test period (exclusive); without it the forecaster is chosen
    /// in sample.
    #[arg(long)]
    pub test_to: Option<String>,
    /// Accounts (CSV as `mam accounts import` reads it, or a store) to cluster.
    #[arg(long)]
    pub accounts: Option<PathBuf>,
    /// Write the accounts back as CSV with their `cluster` column set to the clusters found.
    #[arg(long, requires = "accounts")]
    pub accounts_out: Option<PathBuf>,
    /// The model file to write.
    #[arg(long)]
    pub out: PathBuf,
}

/// What one symbol's fit produced.
struct Fitted {
    model: SymbolModel,
    fit: SymbolFit,
    garch: VolParams,
    zeros: f64,
    gaps: u64,
}

/// Runs `mam train`.
pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let from = histdata::parse_date(&a.from).context("--from")?;
    let to = histdata::parse_date(&a.to).context("--to")?;
    if from >= to {
        bail!("--from {} must be before --to {}", a.from, a.to);
    }
    let test_to = match &a.test_to {
        Some(t) => {
            let t_ns = histdata::parse_date(t).context("--test-to")?;
            if t_ns <= to {
                bail!(
                    "--test-to {t} must be after --to {}: the test period [to, test-to) would \
                     overlap the training period or be empty",
                    a.to
                );
            }
            Some(t_ns)
        }
        None => None,
    };
    let range = UtcRange {
        from_ns: from,
        to_ns: test_to.unwrap_or(to),
    };
    let cat = data::catalogue(&a.bars)?;
    let symbols: Vec<String> = if a.symbols.is_empty() {
        cat.keys().cloned().collect()
    } else {
        a.symbols
            .iter()
            .map(|s| s.trim().to_ascii_uppercase())
            .collect()
    };
    if symbols.is_empty() {
        bail!("no HistData bar files found in {:?}", a.bars);
    }
    for (i, s) in symbols.iter().enumerate() {
        if s.is_empty() || symbols[..i].contains(s) {
            bail!("--symbols: `{s}` is empty or listed twice");
        }
    }
    let files: Vec<Vec<PathBuf>> = symbols
        .iter()
        .map(|s| data::files_for(&cat, s, range))
        .collect::<anyhow::Result<_>>()?;

    let bar = ProgressBar::new(symbols.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let mut fitted = Vec::new();
    for (sym, paths) in symbols.iter().zip(&files) {
        fitted.push(fit_symbol(sym, paths, range, to, test_to.is_some(), &bar)?);
        bar.inc(1);
    }
    bar.finish_and_clear();

    let clusters = match &a.accounts {
        Some(p) => cluster_accounts(p, a.accounts_out.as_deref())?,
        None => vec![ClusterParams::default()],
    };
    let model = AdaptiveModel {
        symbols: fitted.iter().map(|f| f.model.clone()).collect(),
        clusters,
    };
    model.validate().context("the fitted model")?;
    let mut bar_files = Vec::new();
    for p in files.iter().flatten() {
        let bytes = std::fs::metadata(p)
            .with_context(|| format!("{}", p.display()))?
            .len();
        let name = p.file_name().unwrap_or_default().to_string_lossy().into();
        bar_files.push(BarFile { name, bytes });
    }
    let split = match &a.test_to {
        Some(t) => format!(
            "fitted in sample on [{}, {}); forecaster chosen by QLIKE out of sample on [{}, {t})",
            a.from, a.to, a.to
        ),
        None => format!(
            "fitted in sample on [{}, {}); no test period, forecaster chosen in sample",
            a.from, a.to
        ),
    };
    let meta = Meta {
        created_by: format!("mam {} train", env!("CARGO_PKG_VERSION")),
        symbols: symbols.clone(),
        bar_files,
        train_from: histdata::format_date(from),
        train_to: histdata::format_date(to),
        test_to: test_to.map(histdata::format_date),
        split,
        fit: fitted.iter().map(|f| f.fit.clone()).collect(),
    };
    model_file::save(&a.out, &model, &meta)?;
    // Read it back as the engine will: what was written must load and be what was fitted.
    let (loaded, _) = model_file::load(&a.out)?;
    if loaded != model {
        bail!(
            "{}: the model read back differs from the one fitted",
            a.out.display()
        );
    }
    print_report(&fitted);
    println!(
        "wrote {} ({} symbols, {} clusters) in {:.1} s",
        a.out.display(),
        model.symbols.len(),
        model.clusters.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// Reads one symbol's bars and fits its forecaster, target and regime filter.
fn fit_symbol(
    sym: &str,
    paths: &[PathBuf],
    range: UtcRange,
    split_ns: u64,
    has_test: bool,
    bar: &ProgressBar,
) -> anyhow::Result<Fitted> {
    bar.set_message(format!("{sym}: reading bars"));
    let bars = histdata::read_bars(paths, range)?;
    let ret = data::returns(&bars.bars, split_ns);
    let (n_in, n_out) = (ret.train, ret.r.len() - ret.train);
    if n_in < MIN_TRAIN_RETURNS {
        bail!("{sym}: only {n_in} returns in the training period (at least {MIN_TRAIN_RETURNS})");
    }
    if has_test && n_out < MIN_TEST_RETURNS {
        bail!("{sym}: only {n_out} returns in the test period (at least {MIN_TEST_RETURNS})");
    }
    bar.set_message(format!("{sym}: GARCH likelihood"));
    let v = vol::fit(&ret.r, ret.train).with_context(|| format!("{sym}: volatility fit"))?;
    let train_var = v.params.initial_var as f64 / vol::VAR_ONE;
    let sigma_ref = ((train_var.sqrt() * 1e9).round() as u64).max(1);
    let mut it = 0;
    let reg = regime::fit(&ret.units[..ret.train], sigma_ref, || {
        it += 1;
        bar.set_message(format!("{sym}: Baum–Welch iteration {it}"));
    });
    let fit = SymbolFit {
        symbol: sym.to_string(),
        returns_in: n_in as u64,
        returns_out: n_out as u64,
        qlike_ewma_in: v.qlike_in[0],
        qlike_garch_in: v.qlike_in[1],
        qlike_ewma_out: v.qlike_out.map(|q| q[0]),
        qlike_garch_out: v.qlike_out.map(|q| q[1]),
        chosen: v.chosen.to_string(),
        state_share: reg.share,
        hmm_iterations: reg.iterations,
    };
    Ok(Fitted {
        model: SymbolModel {
            symbol: sym.to_string(),
            sample_ns: SAMPLE_NS,
            vol: v.params,
            sigma_target: v.sigma_target,
            regime: reg.model,
        },
        fit,
        garch: v.garch,
        zeros: ret.zeros as f64 / ret.r.len().max(1) as f64,
        gaps: ret.gaps,
    })
}

/// Clusters the accounts in `path`, prints the counts, optionally writes them back.
fn cluster_accounts(
    path: &std::path::Path,
    out: Option<&std::path::Path>,
) -> anyhow::Result<Vec<ClusterParams>> {
    let mut acc = crate::accounts_io::load_accounts(path)?;
    if acc.leverage.is_empty() {
        bail!("{}: no accounts to cluster", path.display());
    }
    let c = cluster::cluster(&acc);
    println!("cluster  accounts  mean leverage  mean balance  stressed margin level");
    for k in 0..c.params.len() {
        println!(
            "{k:>7}  {:>8}  {:>13.1}  {:>12.0}  {:>20}%",
            c.counts[k], c.mean_leverage[k], c.mean_balance[k], c.params[k].stressed_margin_level
        );
    }
    if let Some(out) = out {
        acc.cluster.clone_from(&c.assignment);
        crate::out_file::refuse_same(path, "accounts", out)?;
        let (tmp, file) = crate::out_file::TempOut::create(out)?;
        let mut w = std::io::BufWriter::new(file);
        crate::accounts_io::write_csv(&mut w, &acc.columns())?;
        w.into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("writing {}", tmp.path().display()))?;
        tmp.commit()?;
        println!(
            "wrote the accounts with their clusters to {}",
            out.display()
        );
    }
    Ok(c.params)
}

fn print_report(fitted: &[Fitted]) {
    let q = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.4}"));
    println!(
        "symbol  returns in/out   zero%  gaps  | QLIKE in: EWMA  GARCH | out: EWMA  GARCH \
         | chosen  GARCH a     b     | calm  normal stressed"
    );
    for f in fitted {
        let s = &f.fit;
        println!(
            "{:<7} {:>7}/{:<7} {:>5.1} {:>5}  | {:>13} {:>6} | {:>9} {:>6} | {:<6} {:.3} {:.4} \
             | {:>4.1}% {:>5.1}% {:>5.1}%",
            s.symbol,
            s.returns_in,
            s.returns_out,
            100.0 * f.zeros,
            f.gaps,
            q(Some(s.qlike_ewma_in)),
            q(Some(s.qlike_garch_in)),
            q(s.qlike_ewma_out),
            q(s.qlike_garch_out),
            s.chosen,
            f.garch.alpha_ppb as f64 / 1e9,
            f.garch.beta_ppb as f64 / 1e9,
            100.0 * s.state_share[0],
            100.0 * s.state_share[1],
            100.0 * s.state_share[2],
        );
    }
}
