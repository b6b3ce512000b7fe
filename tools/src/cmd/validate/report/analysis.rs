//! One run's series turned into the report's metrics (see `metrics` for the definitions).

use serde::Serialize;

use super::metrics::{self as m, round};
use super::types::RunSeries;

/// The fan chart's percentiles of cumulative return across accounts.
pub const FAN_PERCENTILES: [u32; 5] = [5, 25, 50, 75, 95];

/// Decimals every return-like fraction is written and compared with (1e-8 = 0.000001 %).
pub const FRACTION_DECIMALS: u32 = 8;

/// The headline numbers of one run. Fractions are plain (0.01 = 1 %), money is Money raw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunMetrics {
    /// The run's name (`static`, `adaptive`).
    pub name: String,
    /// Accounts.
    pub accounts: usize,
    /// Days.
    pub days: usize,
    /// Composite (asset-weighted) return over the run: the daily asset-weighted mean returns,
    /// chain-linked.
    pub aggregate_return: f64,
    /// Annualised volatility of the composite's daily returns (sample σ × √periods per year).
    pub annualised_volatility: Option<f64>,
    /// Mean over days of the daily asset-weighted standard deviation of account returns.
    pub dispersion_daily_mean: Option<f64>,
    /// Largest daily asset-weighted standard deviation.
    pub dispersion_daily_max: Option<f64>,
    /// Mean over days of the daily high–low range of account returns.
    pub range_daily_mean: Option<f64>,
    /// Asset-weighted standard deviation of the accounts' cumulative returns over the whole
    /// run (weights: equity at the start).
    pub dispersion_period: Option<f64>,
    /// High–low range of the accounts' cumulative returns over the whole run.
    pub range_period: Option<f64>,
    /// Lowest account cumulative return over the run.
    pub low_period: Option<f64>,
    /// Highest account cumulative return over the run.
    pub high_period: Option<f64>,
    /// Mean over days of the equity synchronisation (mean absolute deviation of cumulative
    /// returns from their asset-weighted mean).
    pub sync_mean: Option<f64>,
    /// Equity synchronisation on the last day.
    pub sync_final: Option<f64>,
    /// Accounts with a drawdown tolerance.
    pub accounts_with_tolerance: u32,
    /// Accounts whose drawdown reached their tolerance at least once.
    pub accounts_breaching: u32,
    /// Breaches in all (each run of days at or past the tolerance counts once).
    pub breaches: u32,
    /// Median over accounts of the maximum drawdown.
    pub max_drawdown_median: f64,
    /// Largest maximum drawdown of any account.
    pub max_drawdown_worst: f64,
    /// Stop-outs, all accounts.
    pub stop_outs: u64,
    /// Accounts stopped out at least once.
    pub accounts_stopped_out: u32,
    /// Margin calls, all accounts.
    pub margin_calls: u64,
    /// Account-allocations inside the manager's bounds.
    pub in_bounds: u64,
    /// All account-allocations.
    pub allocations: u64,
    /// `in_bounds / allocations` in percent (must be 100); `None` with no allocations.
    pub exposure_in_bounds_pct: Option<f64>,
    /// Mean daily Σ |position notional|, Money raw (rounded to a micro-unit).
    pub mean_exposure_notional: Option<i64>,
    /// Mean daily Σ used margin, Money raw (rounded).
    pub mean_margin_used: Option<i64>,
    /// Mean exposure notional / mean margin used.
    pub capital_efficiency: Option<f64>,
    /// Σ traded notional, Money raw.
    pub turnover: i64,
    /// Commissions + spread cost, Money raw.
    pub cost: i64,
}

/// The daily series behind the plots (index = day).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DailySeries {
    /// Composite (asset-weighted mean) return of the day.
    pub composite_return: Vec<Option<f64>>,
    /// Asset-weighted standard deviation of the day's account returns.
    pub dispersion: Vec<Option<f64>>,
    /// High–low range of the day's account returns.
    pub range: Vec<Option<f64>>,
    /// Equity synchronisation after the day.
    pub sync: Vec<Option<f64>>,
    /// `fan[k][day]`: the `FAN_PERCENTILES[k]`-th percentile of cumulative return across
    /// accounts after the day.
    pub fan: Vec<Vec<f64>>,
}

/// Per-account results (index = account).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountStats {
    /// Cumulative time-weighted return over the run.
    pub cumulative_return: Vec<f64>,
    /// Maximum drawdown (flows excluded).
    pub max_drawdown: Vec<f64>,
    /// Drawdown tolerance as a fraction (0 = none).
    pub tolerance: Vec<f64>,
    /// Breaches of that tolerance.
    pub breaches: Vec<u32>,
}

/// Everything the report shows of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunAnalysis {
    /// Headline numbers.
    pub metrics: RunMetrics,
    /// Daily series.
    pub daily: DailySeries,
    /// Per-account results.
    pub accounts: AccountStats,
}

fn r8(x: f64) -> f64 {
    round(x, FRACTION_DECIMALS)
}

fn r8o(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite()).map(r8)
}

/// Computes one run's metrics. `run` must have passed `RunSeries::check`.
pub fn analyse(run: &RunSeries, periods_per_year: f64) -> RunAnalysis {
    let n = run.accounts();
    let days = run.days.len();
    let returns: Vec<Vec<m::MaybeReturn>> = (0..n)
        .map(|a| {
            let flows = run.deposits.get(a).map(Vec::as_slice).unwrap_or(&[]);
            m::daily_returns(run.balance_start[a], &run.equity[a], flows)
        })
        .collect();
    let cum: Vec<Vec<f64>> = returns.iter().map(|r| m::cumulative(r)).collect();
    let start_w: Vec<f64> = run.balance_start.iter().map(|&b| b as f64).collect();

    let mut daily = DailySeries {
        composite_return: Vec::with_capacity(days),
        dispersion: Vec::with_capacity(days),
        range: Vec::with_capacity(days),
        sync: Vec::with_capacity(days),
        fan: vec![Vec::with_capacity(days); FAN_PERCENTILES.len()],
    };
    let mut pairs = Vec::with_capacity(n);
    let mut col = Vec::with_capacity(n);
    for t in 0..days {
        // Beginning-of-day equity weights the day's returns (GIPS: beginning-of-period assets).
        pairs.clear();
        for (a, ra) in returns.iter().enumerate() {
            if let Some(r) = ra[t] {
                let bop = if t == 0 {
                    run.balance_start[a]
                } else {
                    run.equity[a][t - 1]
                };
                pairs.push((r, bop as f64));
            }
        }
        let d = m::asset_weighted_dispersion(&pairs);
        daily.composite_return.push(d.map(|d| d.mean));
        daily.dispersion.push(d.map(|d| d.std));
        daily.range.push(d.map(|d| d.range()));
        pairs.clear();
        pairs.extend((0..n).map(|a| (cum[a][t], start_w[a])));
        daily.sync.push(m::sync_mad(&pairs));
        col.clear();
        col.extend((0..n).map(|a| cum[a][t]).filter(|c| c.is_finite()));
        col.sort_by(f64::total_cmp);
        for (k, p) in FAN_PERCENTILES.iter().enumerate() {
            daily.fan[k].push(m::quantile_sorted(&col, f64::from(*p) / 100.0));
        }
    }

    let composite: Vec<f64> = daily.composite_return.iter().flatten().copied().collect();
    let present = |xs: &[Option<f64>]| xs.iter().flatten().copied().collect::<Vec<f64>>();
    let disp = present(&daily.dispersion);
    let range = present(&daily.range);
    let sync = present(&daily.sync);
    let last: Vec<(f64, f64)> = (0..n).map(|a| (cum[a][days - 1], start_w[a])).collect();
    let period = m::asset_weighted_dispersion(&last);

    let dds: Vec<Vec<f64>> = cum.iter().map(|c| m::drawdowns(c)).collect();
    let tolerance: Vec<f64> = run.tolerance.iter().map(|&t| t as f64 / 1e6).collect();
    let acc_breaches: Vec<u32> = (0..n).map(|a| m::breaches(&dds[a], tolerance[a])).collect();
    let max_dd: Vec<f64> = dds
        .iter()
        .map(|d| d.iter().copied().fold(0.0, f64::max))
        .collect();
    let mut sorted_dd = max_dd.clone();
    sorted_dd.sort_by(f64::total_cmp);

    let mean_money = |xs: &[i64]| {
        (!xs.is_empty())
            .then(|| xs.iter().map(|&x| i128::from(x)).sum::<i128>() as f64 / xs.len() as f64)
            .map(|v| v.round() as i64)
    };

    let metrics = RunMetrics {
        name: run.name.clone(),
        accounts: n,
        days,
        aggregate_return: r8(m::chain(&composite)),
        annualised_volatility: r8o(m::annualised_volatility(&composite, periods_per_year)),
        dispersion_daily_mean: r8o(m::mean(&disp)),
        dispersion_daily_max: r8o(disp.iter().copied().reduce(f64::max)),
        range_daily_mean: r8o(m::mean(&range)),
        dispersion_period: r8o(period.map(|d| d.std)),
        range_period: r8o(period.map(|d| d.range())),
        low_period: r8o(period.map(|d| d.low)),
        high_period: r8o(period.map(|d| d.high)),
        sync_mean: r8o(m::mean(&sync)),
        sync_final: r8o(daily.sync.last().copied().flatten()),
        accounts_with_tolerance: run.tolerance.iter().filter(|&&t| t > 0).count() as u32,
        accounts_breaching: acc_breaches.iter().filter(|&&b| b > 0).count() as u32,
        breaches: acc_breaches.iter().sum(),
        max_drawdown_median: r8(m::quantile_sorted(&sorted_dd, 0.5)),
        max_drawdown_worst: r8(sorted_dd.last().copied().unwrap_or(0.0)),
        stop_outs: run.stop_outs.iter().map(|&s| u64::from(s)).sum(),
        accounts_stopped_out: run.stop_outs.iter().filter(|&&s| s > 0).count() as u32,
        margin_calls: run.margin_calls.iter().map(|&s| u64::from(s)).sum(),
        in_bounds: run.in_bounds,
        allocations: run.allocations,
        exposure_in_bounds_pct: m::percent_in_bounds(run.in_bounds, run.allocations)
            .map(|p| round(p, 6)),
        mean_exposure_notional: mean_money(&run.exposure_notional),
        mean_margin_used: mean_money(&run.margin_used),
        capital_efficiency: m::capital_efficiency(&run.exposure_notional, &run.margin_used)
            .map(|c| round(c, 6)),
        turnover: run.turnover,
        cost: run.cost,
    };
    let round_all = |v: &mut Vec<Option<f64>>| v.iter_mut().for_each(|x| *x = r8o(*x));
    round_all(&mut daily.composite_return);
    round_all(&mut daily.dispersion);
    round_all(&mut daily.range);
    round_all(&mut daily.sync);
    daily
        .fan
        .iter_mut()
        .for_each(|v| v.iter_mut().for_each(|x| *x = r8(*x)));
    RunAnalysis {
        metrics,
        daily,
        accounts: AccountStats {
            cumulative_return: cum.iter().map(|c| r8(c[days - 1])).collect(),
            max_drawdown: max_dd.into_iter().map(r8).collect(),
            tolerance,
            breaches: acc_breaches,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two accounts over two days, everything by hand.
    #[test]
    fn two_accounts_by_hand() {
        let run = RunSeries {
            name: "static".into(),
            days: vec![100, 101],
            // A: 100 → 110 → 99 (+10 %, −10 %); B: 300 → 300 → 330 (0 %, +10 %).
            equity: vec![vec![110, 99], vec![300, 330]],
            balance_start: vec![100, 300],
            tolerance: vec![50_000, 0], // A: 5 %
            stop_outs: vec![1, 0],
            margin_calls: vec![2, 1],
            in_bounds: 4,
            allocations: 4,
            exposure_notional: vec![1000, 3000],
            margin_used: vec![100, 100],
            turnover: 5,
            cost: 1,
            ..Default::default()
        };
        run.check().unwrap();
        let a = analyse(&run, 252.0);
        let mt = &a.metrics;
        // Day 0: (0.10 on 100, 0 on 300): mean 0.025, σ² = (100·0.075² + 300·0.025²)/400
        //        = (0.5625 + 0.1875)/400 = 0.001875.
        // Day 1: (−0.10 on 110, 0.10 on 300): mean (−11 + 30)/410 = 19/410.
        assert_eq!(a.daily.composite_return[0], Some(0.025));
        assert_eq!(a.daily.dispersion[0], Some(r8(0.001875f64.sqrt())));
        assert_eq!(a.daily.range[0], Some(0.1));
        assert_eq!(a.daily.range[1], Some(0.2));
        let m1 = 19.0 / 410.0;
        assert_eq!(a.daily.composite_return[1], Some(r8(m1)));
        assert_eq!(mt.aggregate_return, r8(1.025 * (1.0 + m1) - 1.0));
        // Cumulative after day 1: A −1 %, B +10 % on weights 100, 300: M = 0.0725,
        // σ² = (100·0.0825² + 300·0.0275²)/400, sync = (0.0825 + 0.0275)/2 = 0.055.
        let var = (100.0 * 0.0825f64.powi(2) + 300.0 * 0.0275f64.powi(2)) / 400.0;
        assert_eq!(mt.dispersion_period, Some(r8(var.sqrt())));
        assert_eq!(mt.range_period, Some(0.11));
        assert_eq!(mt.sync_final, Some(0.055));
        // Day 0 sync: cum 0.10, 0 → M 0.025 → (0.075 + 0.025)/2 = 0.05.
        assert_eq!(a.daily.sync[0], Some(0.05));
        assert_eq!(mt.sync_mean, Some(0.0525));
        // A's drawdown 10 % ≥ its 5 %: one breach; B has no tolerance.
        assert_eq!(a.accounts.max_drawdown, vec![0.1, 0.0]);
        assert_eq!(a.accounts.breaches, vec![1, 0]);
        assert_eq!((mt.accounts_breaching, mt.breaches), (1, 1));
        assert_eq!(mt.accounts_with_tolerance, 1);
        assert_eq!(mt.max_drawdown_median, 0.05);
        assert_eq!(mt.max_drawdown_worst, 0.1);
        assert_eq!((mt.stop_outs, mt.accounts_stopped_out), (1, 1));
        assert_eq!(mt.margin_calls, 3);
        assert_eq!(mt.exposure_in_bounds_pct, Some(100.0));
        assert_eq!(mt.capital_efficiency, Some(20.0));
        assert_eq!(mt.mean_exposure_notional, Some(2000));
        // Fan median of (A, B) cumulative on day 1: (−0.01 + 0.10)/2.
        assert_eq!(a.daily.fan[2][1], 0.045);
        assert_eq!(a.daily.fan[0][1], r8(-0.01 + 0.05 * 0.11));
    }
}
