//! `mam validate`'s report: the static and adaptive runs' series in, `report.json` and
//! `report.html` out, and a [`ReportSummary`] whose [`table`](ReportSummary::table) the CLI
//! prints.
//!
//! - `types`: what the replay driver fills in ([`RunSeries`], [`Meta`]);
//! - `metrics`: the definitions, pure functions (documented in docs/validation.md);
//! - `analysis`: one run's metrics and daily series;
//! - `verdict`: adaptive against static, metric by metric;
//! - `plots`, `html`: the page.
//!
//! This module depends on no other part of `mam` (so the driver and the tests can use it as
//! is).

pub mod analysis;
pub mod html;
pub mod metrics;
pub mod plots;
#[cfg(test)]
pub mod synthetic;
pub mod types;
pub mod verdict;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use serde::Serialize;
use serde_json::json;

pub use analysis::{RunAnalysis, RunMetrics};
pub use types::{iso_date, DayRange, FactorSample, Meta, RegimeSample, RunSeries};
pub use verdict::Verdict;

use html::{Plot, Section};
use plots::{ns_to_days, palette, run_color, tag};

/// How the report is computed and drawn.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Periods per year for annualising daily volatility (252 trading days).
    pub periods_per_year: f64,
    /// Most points per line in the factor and regime plots (longer series are bucketed).
    pub max_plot_points: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        Self {
            periods_per_year: 252.0,
            max_plot_points: 1500,
        }
    }
}

/// What `write_report` wrote, with the headline numbers.
#[derive(Debug, Clone)]
pub struct ReportSummary {
    /// `report.json`.
    pub json: PathBuf,
    /// `report.html`.
    pub html: PathBuf,
    /// Each run's metrics, in the order given.
    pub runs: Vec<RunMetrics>,
    /// Adaptive against static (`None` unless runs named `static` and `adaptive` are given).
    pub verdict: Option<Verdict>,
    /// Adaptive against the static rule at adaptive's average exposure (a run named
    /// [`MATCHED`]), if given.
    pub verdict_matched: Option<Verdict>,
    /// `(id, title)` of each plot in the HTML, in page order.
    pub plots: Vec<(String, String)>,
}

impl ReportSummary {
    /// A plain-text table, one row per metric: each run's value, and adaptive's outcome.
    pub fn table(&self) -> String {
        let mut rows: Vec<Vec<String>> = Vec::new();
        let mut head = vec!["metric".to_string()];
        head.extend(self.runs.iter().map(|r| r.name.clone()));
        if self.verdict.is_some() {
            head.push("adaptive".into());
        }
        if self.verdict_matched.is_some() {
            head.push("vs matched".into());
        }
        rows.push(head);
        for (i, d) in verdict::METRICS.iter().enumerate() {
            let mut row = vec![d.label.to_string()];
            row.extend(self.runs.iter().map(|r| d.unit.show((d.get)(r))));
            if let Some(v) = &self.verdict {
                row.push(v.metrics[i].1.outcome.word().to_string());
            }
            if let Some(v) = &self.verdict_matched {
                row.push(v.metrics[i].1.outcome.word().to_string());
            }
            rows.push(row);
        }
        let cols = rows[0].len();
        let width: Vec<usize> = (0..cols)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for (i, r) in rows.iter().enumerate() {
            for (c, cell) in r.iter().enumerate() {
                let pad = width[c] - cell.chars().count();
                if c == 0 {
                    let _ = write!(out, "{cell}{}", " ".repeat(pad));
                } else {
                    let _ = write!(out, "  {}{cell}", " ".repeat(pad));
                }
            }
            out.push('\n');
            if i == 0 {
                let total = width.iter().sum::<usize>() + 2 * (cols - 1);
                out.push_str(&"-".repeat(total));
                out.push('\n');
            }
        }
        if let Some(v) = &self.verdict {
            let _ = writeln!(
                out,
                "\nadaptive beat static on {}, tied on {}, lost on {} of {} metrics",
                v.beat,
                v.tied,
                v.lost,
                v.metrics.len()
            );
            let _ = writeln!(
                out,
                "claim (DESIGN.md §5) {} on this data:",
                if v.claim.holds {
                    "holds"
                } else {
                    "does not hold"
                }
            );
            for p in &v.claim.parts {
                let _ = writeln!(out, "  - {p}");
            }
        }
        if let Some(v) = &self.verdict_matched {
            let _ =
                writeln!(
                out,
                "\nagainst the static rule at adaptive's average exposure ({MATCHED}): adaptive \
                 beat it on {}, tied on {}, lost on {}; the claim {} (the parts below compare \
                 with {MATCHED}, whatever they name):",
                v.beat,
                v.tied,
                v.lost,
                if v.claim.holds { "holds" } else { "does not hold" }
            );
            for p in &v.claim.parts {
                let _ = writeln!(out, "  - {p}");
            }
        }
        let _ = writeln!(out, "\n{}\n{}", self.json.display(), self.html.display());
        out
    }
}

/// One factor series' summary for `report.json` (the series itself is only plotted).
#[derive(Debug, Clone, Serialize)]
struct FactorSummary {
    name: String,
    symbol: String,
    samples: usize,
    min_ppm: i64,
    max_ppm: i64,
    mean_ppm: i64,
}

/// Share of samples per regime label, per symbol.
#[derive(Debug, Clone, Serialize)]
struct RegimeSummary {
    symbol: String,
    samples: usize,
    calm: f64,
    normal: f64,
    stressed: f64,
}

fn factor_summaries(run: &RunSeries) -> Vec<FactorSummary> {
    let mut by: BTreeMap<(&str, &str), Vec<i64>> = BTreeMap::new();
    for f in &run.factors {
        by.entry((f.name.as_str(), f.symbol.as_str()))
            .or_default()
            .push(f.value_ppm);
    }
    by.into_iter()
        .map(|((name, symbol), v)| FactorSummary {
            name: name.into(),
            symbol: symbol.into(),
            samples: v.len(),
            min_ppm: v.iter().copied().min().unwrap_or(0),
            max_ppm: v.iter().copied().max().unwrap_or(0),
            mean_ppm: (v.iter().map(|&x| i128::from(x)).sum::<i128>() / v.len() as i128) as i64,
        })
        .collect()
}

fn regime_summaries(run: &RunSeries) -> Vec<RegimeSummary> {
    let mut by: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
    for r in &run.regime {
        by.entry(r.symbol.as_str()).or_default()[usize::from(r.label.min(2))] += 1;
    }
    by.into_iter()
        .map(|(symbol, n)| {
            let t: usize = n.iter().sum();
            let share = |k: usize| metrics::round(n[k] as f64 / t as f64, 6);
            RegimeSummary {
                symbol: symbol.into(),
                samples: t,
                calm: share(0),
                normal: share(1),
                stressed: share(2),
            }
        })
        .collect()
}

/// A name made safe for an element id.
fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

fn plot(id: String, title: String, svg: Result<String>) -> Result<Plot> {
    let svg = svg.with_context(|| format!("drawing plot `{id}`"))?;
    Ok(Plot {
        svg: tag(&svg, &id, &title),
        id,
        title,
    })
}

/// Draws every plot of the page, grouped in sections.
fn sections(
    runs: &[RunSeries],
    analyses: &[RunAnalysis],
    opts: &ReportOptions,
) -> Result<Vec<Section>> {
    let days = &runs[0].days;
    let mut out: Vec<Section> = Vec::new();

    // Fans side by side, on one y scale.
    let (lo, hi) = plots::extent(
        analyses
            .iter()
            .flat_map(|a| [&a.daily.fan[0], &a.daily.fan[4]])
            .flat_map(|v| v.iter().copied()),
    );
    let y = (
        lo.min(0.0) - 0.02 * (hi - lo),
        hi.max(0.0) + 0.02 * (hi - lo),
    );
    let y = if y.1 > y.0 { y } else { (-0.01, 0.01) };
    let width = if runs.len() > 1 { 660 } else { 1320 };
    let mut fans = Vec::new();
    for (i, (r, a)) in runs.iter().zip(analyses).enumerate() {
        let title = format!("Cumulative return across accounts: {}", r.name);
        let svg = plots::fan_chart(
            &title,
            days,
            &a.daily.fan,
            y,
            run_color(&r.name, i),
            (width, 360),
        );
        fans.push(plot(format!("fan-{}", slug(&r.name)), title, svg)?);
    }
    out.push((
        "Equity curves",
        "Percentiles 5, 25, 50, 75 and 95 across accounts of each account's cumulative \
         time-weighted return per day. A narrower fan is accounts more in step."
            .into(),
        fans,
        true,
    ));

    // Daily dispersion, both runs on one plot.
    let series: Vec<plots::DailyLine> = runs
        .iter()
        .zip(analyses)
        .enumerate()
        .map(|(i, (r, a))| {
            (
                r.name.clone(),
                a.daily.dispersion.clone(),
                run_color(&r.name, i),
            )
        })
        .collect();
    let title = "Daily dispersion: asset-weighted standard deviation of account returns";
    let svg = plots::daily_lines(title, "asset-weighted σ", days, &series, (1320, 320));
    out.push((
        "Dispersion",
        "Each day, the asset-weighted standard deviation of the accounts' daily returns \
         (GIPS internal dispersion; weights: equity at the start of the day)."
            .into(),
        vec![plot("dispersion-daily".into(), title.into(), svg)?],
        false,
    ));

    // Drawdown-breach bars.
    let cats = [
        "accounts breaching",
        "breaches",
        "stop-outs",
        "margin calls",
    ];
    let bars: Vec<plots::Bars> = analyses
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let m = &a.metrics;
            let v = vec![
                f64::from(m.accounts_breaching),
                f64::from(m.breaches),
                m.stop_outs as f64,
                m.margin_calls as f64,
            ];
            (m.name.clone(), v, run_color(&m.name, i))
        })
        .collect();
    let title = "Drawdown-tolerance breaches, stop-outs and margin calls";
    let svg = plots::grouped_bars(title, &cats, &bars, (1320, 300));
    out.push((
        "Drawdown breaches",
        format!(
            "Accounts with a tolerance: {}. A breach is each run of days whose drawdown \
             (flows excluded) reached the account's tolerance.",
            analyses[0].metrics.accounts_with_tolerance
        ),
        vec![plot("drawdown-breaches".into(), title.into(), svg)?],
        false,
    ));

    // Factors: one small plot per name; a line per symbol (and per run if several have them).
    let with_factors: Vec<&RunSeries> = runs.iter().filter(|r| !r.factors.is_empty()).collect();
    let mut by_name: BTreeMap<&str, BTreeMap<String, plots::Points>> = BTreeMap::new();
    for r in &with_factors {
        for f in &r.factors {
            let label = if with_factors.len() > 1 {
                format!("{} {}", r.name, f.symbol)
            } else {
                f.symbol.clone()
            };
            by_name
                .entry(f.name.as_str())
                .or_default()
                .entry(label)
                .or_default()
                .push((ns_to_days(f.ts_ns), f.value_ppm as f64 / 1e6));
        }
    }
    let mut factor_plots = Vec::new();
    for (name, lines) in by_name {
        let series: Vec<plots::Line> = lines
            .into_iter()
            .enumerate()
            .map(|(i, (label, mut pts))| {
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                let pts = plots::downsample_mean(&pts, opts.max_plot_points);
                (label, pts, palette(i))
            })
            .collect();
        let title = format!("Factor: {name}");
        let svg = plots::time_lines(&title, &series, (436, 260));
        factor_plots.push(plot(format!("factor-{}", slug(name)), title, svg)?);
    }
    out.push((
        "Adaptive factors",
        "The adaptive layer's factor values over time (1.0 = the static quota unchanged), one \
         plot per factor, a line per symbol; long series are bucket means."
            .into(),
        factor_plots,
        true,
    ));

    // Regime over price, one plot per symbol, from the first run that has the regime series
    // (the regime is a property of the market, the same in both runs).
    let mut regime_plots = Vec::new();
    if let Some(r) = runs.iter().find(|r| !r.regime.is_empty()) {
        let mut by_symbol: BTreeMap<&str, Vec<(f64, f64, u8)>> = BTreeMap::new();
        for s in &r.regime {
            by_symbol.entry(s.symbol.as_str()).or_default().push((
                ns_to_days(s.ts_ns),
                s.price,
                s.label,
            ));
        }
        let width = if by_symbol.len() > 1 { 660 } else { 1320 };
        for (symbol, mut samples) in by_symbol {
            samples.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (line, bands) = plots::regime_buckets(&samples, opts.max_plot_points);
            let title = format!("Volatility regime over price: {symbol}");
            let svg = plots::regime_chart(&title, &line, &bands, (width, 340));
            regime_plots.push(plot(format!("regime-{}", slug(symbol)), title, svg)?);
        }
    }
    out.push((
        "Regime",
        "The regime filter's label (calm, normal, stressed) as background bands behind the \
         price; each band is the most frequent label of its bucket of samples."
            .into(),
        regime_plots,
        true,
    ));
    Ok(out)
}

/// Computes the metrics of `runs`, writes `dir/report.json` and `dir/report.html` (creating
/// `dir`), and returns the headline numbers. Every run must cover the same accounts and days;
/// the verdict compares the run named `adaptive` against the one named `static`.
pub fn write_report(
    dir: &Path,
    meta: &Meta,
    runs: &[RunSeries],
    opts: &ReportOptions,
) -> Result<ReportSummary> {
    if runs.is_empty() {
        bail!("no runs to report");
    }
    for r in runs {
        r.check()?;
        ensure!(
            r.days == runs[0].days && r.accounts() == runs[0].accounts(),
            "runs `{}` and `{}` cover different days or accounts: a comparison needs the same",
            runs[0].name,
            r.name
        );
    }
    ensure!(
        meta.accounts as usize == runs[0].accounts(),
        "meta says {} accounts, the runs have {}",
        meta.accounts,
        runs[0].accounts()
    );
    ensure!(
        opts.periods_per_year > 0.0 && opts.max_plot_points > 1,
        "report options: periods_per_year must be > 0 and max_plot_points > 1"
    );
    let analyses: Vec<RunAnalysis> = runs
        .iter()
        .map(|r| analysis::analyse(r, opts.periods_per_year))
        .collect();
    let by_name = |n: &str| analyses.iter().find(|a| a.metrics.name == n);
    let verdict = match (by_name("static"), by_name("adaptive")) {
        (Some(s), Some(a)) => Some(verdict::verdict(&s.metrics, &a.metrics)),
        _ => None,
    };
    // Against the static rule scaled to adaptive's average exposure: does adapting help, or
    // only being smaller?
    let verdict_matched = match (by_name(MATCHED), by_name("adaptive")) {
        (Some(s), Some(a)) => Some(verdict::verdict(&s.metrics, &a.metrics)),
        _ => None,
    };
    let sections = sections(runs, &analyses, opts)?;
    let plot_ids: Vec<(String, String)> = sections
        .iter()
        .flat_map(|s| s.2.iter().map(|p| (p.id.clone(), p.title.clone())))
        .collect();

    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let days = &runs[0].days;
    let doc = json!({
        "report": "mam validate",
        "version": 1,
        "units": {
            "fractions": "plain fractions (0.01 = 1 %), rounded to 8 decimals",
            "money": "Money raw: micro-units of the account currency (integers)",
            "tolerance": "fraction (the Ratio raw / 1e6)",
            "factor_ppm": "parts per million (1_000_000 = 1.0)",
            "days": "UTC days since 1970-01-01",
        },
        "meta": meta,
        "meta_dates": {
            "train": [iso_date(meta.train.first.into()), iso_date(meta.train.last.into())],
            "validate": [iso_date(meta.validate.first.into()), iso_date(meta.validate.last.into())],
        },
        "fan_percentiles": analysis::FAN_PERCENTILES,
        "days": days,
        "dates": days.iter().map(|&d| iso_date(d.into())).collect::<Vec<_>>(),
        "runs": runs.iter().zip(&analyses).map(|(r, a)| json!({
            "name": r.name,
            "metrics": a.metrics,
            "daily": a.daily,
            "accounts": a.accounts,
            "factors": factor_summaries(r),
            "regime": regime_summaries(r),
        })).collect::<Vec<_>>(),
        "verdict": verdict,
        "verdict_matched": verdict_matched,
        "plots": plot_ids.iter().map(|(id, title)| json!({"id": id, "title": title}))
            .collect::<Vec<_>>(),
    });
    let json_path = dir.join("report.json");
    let html_path = dir.join("report.html");
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.push('\n');
    write_replacing(&json_path, text.as_bytes())?;
    let metrics: Vec<RunMetrics> = analyses.into_iter().map(|a| a.metrics).collect();
    let page = html::page(
        meta,
        &metrics,
        verdict.as_ref(),
        verdict_matched.as_ref(),
        &sections,
    );
    write_replacing(&html_path, page.as_bytes())?;
    Ok(ReportSummary {
        json: json_path,
        html: html_path,
        runs: metrics,
        verdict,
        verdict_matched,
        plots: plot_ids,
    })
}

/// The name of the static run scaled to the adaptive run's average exposure.
pub const MATCHED: &str = "static-matched";

#[cfg(test)]
mod tests;

/// Writes `bytes` to a temporary file beside `path` and renames it over `path`: a failed or
/// killed write never leaves half a report. (This module is also compiled into a test on its
/// own, so it does not use `crate::out_file`.)
fn write_replacing(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.with_context(|| format!("writing {}", path.display()))
}
