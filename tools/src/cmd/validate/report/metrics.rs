//! The report's metrics: pure functions over plain slices.
//!
//! These use `f64`. They describe a finished run for people to read; nothing here feeds back
//! into allocation, state or the journal, where binary floating point is not allowed
//! (DEVELOPERS.md). Inputs arrive as exact integers (Money raw) and are converted once, here.
//! Outputs are rounded when written (see `round`).

/// A daily return that cannot be computed: the account's equity at the start of the day was
/// zero or negative (wiped out). Such days are left out of cross-sections.
pub type MaybeReturn = Option<f64>;

/// Daily time-weighted returns of one account, external flows excluded:
///
/// `r_t = (E_t − E_{t−1} − F_t) / E_{t−1}`, with `E_{−1}` = `start`,
///
/// where `E_t` is the end-of-day equity and `F_t` the net external flow of day `t`, taken as
/// arriving at the end of the day (so it neither earns nor counts as a return). `None` where
/// `E_{t−1} ≤ 0`. `flows` may be empty (no flows).
pub fn daily_returns(start: i64, equity: &[i64], flows: &[i64]) -> Vec<MaybeReturn> {
    let mut prev = start;
    equity
        .iter()
        .enumerate()
        .map(|(t, &e)| {
            let f = flows.get(t).copied().unwrap_or(0);
            let r = (prev > 0)
                .then(|| (i128::from(e) - i128::from(prev) - i128::from(f)) as f64 / prev as f64);
            prev = e;
            r
        })
        .collect()
}

/// Cumulative (chain-linked, time-weighted) return after each day: `C_t = Π_{s≤t}(1 + r_s) − 1`.
/// A day without a return (`None`) links as 0.
pub fn cumulative(returns: &[MaybeReturn]) -> Vec<f64> {
    let mut w = 1.0;
    returns
        .iter()
        .map(|r| {
            w *= 1.0 + r.unwrap_or(0.0);
            w - 1.0
        })
        .collect()
}

/// The cross-section of one period's returns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dispersion {
    /// Accounts in the cross-section.
    pub n: usize,
    /// Asset-weighted mean return (the composite's return for the period).
    pub mean: f64,
    /// Asset-weighted standard deviation of the returns about `mean`.
    pub std: f64,
    /// Lowest return.
    pub low: f64,
    /// Highest return.
    pub high: f64,
}

impl Dispersion {
    /// The high–low range, `high − low`.
    pub fn range(&self) -> f64 {
        self.high - self.low
    }
}

/// Internal dispersion of one period's account returns, as the GIPS standards define it.
///
/// GIPS 2020 (Global Investment Performance Standards for Firms, CFA Institute), provision
/// 5.A.1, requires a composite report to show a measure of *internal dispersion* of the
/// individual portfolios' returns for each period, and leaves the measure to the firm (the
/// GIPS Handbook's explanation of that provision and the GIPS Q&A on internal dispersion list
/// the high/low range, the interquartile range, and the equal- or asset-weighted standard
/// deviation). The asset-weighted form, with `A_i` each portfolio's assets at the *beginning*
/// of the period:
///
/// `R_c = Σ R_i·A_i / Σ A_i`, `σ = √( Σ A_i·(R_i − R_c)² / Σ A_i )`
///
/// (a population deviation: the weights are the whole composite, not a sample of it). Pairs
/// are `(return, beginning-of-period assets)`; a pair with weight ≤ 0 or a non-finite return
/// is left out. `None` if nothing is left.
pub fn asset_weighted_dispersion(pairs: &[(f64, f64)]) -> Option<Dispersion> {
    let ok = || {
        pairs
            .iter()
            .copied()
            .filter(|&(r, w)| w > 0.0 && r.is_finite())
    };
    let (mut n, mut sw, mut swr) = (0usize, 0.0, 0.0);
    let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
    for (r, w) in ok() {
        n += 1;
        sw += w;
        swr += w * r;
        low = low.min(r);
        high = high.max(r);
    }
    if n == 0 {
        return None;
    }
    let mean = swr / sw;
    let var = ok().map(|(r, w)| w * (r - mean) * (r - mean)).sum::<f64>() / sw;
    Some(Dispersion {
        n,
        mean,
        std: var.max(0.0).sqrt(),
        low,
        high,
    })
}

/// Equity synchronisation of one day: the mean absolute deviation of each account's
/// cumulative return from the asset-weighted mean cumulative return,
///
/// `M = Σ w_a·C_a / Σ w_a`, `sync = (1/N) Σ_a |C_a − M|`,
///
/// with `w_a` the account's equity at the start of the run. 0 means every account is exactly
/// in step with the others; lower is better. Pairs are `(cumulative return, weight)`; pairs
/// with weight ≤ 0 are left out. `None` if nothing is left.
pub fn sync_mad(pairs: &[(f64, f64)]) -> Option<f64> {
    let ok = || {
        pairs
            .iter()
            .copied()
            .filter(|&(c, w)| w > 0.0 && c.is_finite())
    };
    let (n, sw, swc) = ok().fold((0usize, 0.0, 0.0), |(n, sw, swc), (c, w)| {
        (n + 1, sw + w, swc + w * c)
    });
    if n == 0 {
        return None;
    }
    let m = swc / sw;
    Some(ok().map(|(c, _)| (c - m).abs()).sum::<f64>() / n as f64)
}

/// Drawdown after each day of a cumulative-return series: `1 − W_t / max(1, max_{s≤t} W_s)`
/// with the wealth index `W_t = 1 + C_t` (flows excluded, since `C` is time-weighted) and the
/// start (`W = 1`) as the first peak. 0 at a new high; 1 when wiped out.
pub fn drawdowns(cum: &[f64]) -> Vec<f64> {
    let mut peak: f64 = 1.0;
    cum.iter()
        .map(|&c| {
            let w = 1.0 + c;
            peak = peak.max(w);
            (1.0 - w / peak).max(0.0)
        })
        .collect()
}

/// The largest drawdown of a cumulative-return series (0 for an empty one).
#[cfg(test)]
pub fn max_drawdown(cum: &[f64]) -> f64 {
    drawdowns(cum).into_iter().fold(0.0, f64::max)
}

/// How many times the drawdown crossed the tolerance: each day that starts a run of days with
/// drawdown ≥ `tolerance` counts once (the engine's line is `equity ≤ hwm × (1 − tolerance)`,
/// so reaching it is a breach). A tolerance ≤ 0 means none: 0 breaches.
pub fn breaches(drawdowns: &[f64], tolerance: f64) -> u32 {
    if tolerance <= 0.0 {
        return 0;
    }
    let mut inside = false;
    let mut n = 0;
    for &d in drawdowns {
        let out = d >= tolerance;
        if out && !inside {
            n += 1;
        }
        inside = out;
    }
    n
}

/// The `p`-th quantile (`0 ≤ p ≤ 1`) of sorted values, interpolated linearly between the
/// closest ranks (Hyndman & Fan's type 7, the default of R and NumPy). `NaN` for no values.
pub fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let h = (n - 1) as f64 * p.clamp(0.0, 1.0);
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
        }
    }
}

/// Arithmetic mean (`None` for no values).
pub fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Sample standard deviation (n − 1 in the denominator; `None` for fewer than 2 values).
pub fn sample_std(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let m = mean(xs)?;
    let ss: f64 = xs.iter().map(|x| (x - m) * (x - m)).sum();
    Some((ss / (xs.len() - 1) as f64).sqrt())
}

/// Annualised volatility of daily returns: sample standard deviation × √`periods_per_year`
/// (252 trading days is the convention).
pub fn annualised_volatility(daily: &[f64], periods_per_year: f64) -> Option<f64> {
    sample_std(daily).map(|s| s * periods_per_year.sqrt())
}

/// Chain-links period returns into one: `Π(1 + r) − 1`.
pub fn chain(returns: &[f64]) -> f64 {
    returns.iter().fold(1.0, |w, r| w * (1.0 + r)) - 1.0
}

/// `in_bounds / allocations` as a percentage; `None` when there were no allocations.
pub fn percent_in_bounds(in_bounds: u64, allocations: u64) -> Option<f64> {
    (allocations > 0).then(|| 100.0 * in_bounds as f64 / allocations as f64)
}

/// Capital efficiency: mean exposure notional / mean margin used (how much notional each unit
/// of margin carried). `None` if either series is empty or no margin was used.
pub fn capital_efficiency(exposure_notional: &[i64], margin_used: &[i64]) -> Option<f64> {
    let m = |xs: &[i64]| {
        (!xs.is_empty()).then(|| xs.iter().map(|&x| x as f64).sum::<f64>() / xs.len() as f64)
    };
    let (e, u) = (m(exposure_notional)?, m(margin_used)?);
    (u > 0.0).then(|| e / u)
}

/// `x` rounded to `decimals` places (how every metric is written out and compared).
pub fn round(x: f64, decimals: u32) -> f64 {
    let k = 10f64.powi(decimals as i32);
    (x * k).round() / k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn returns_exclude_flows() {
        // Start 100; day 0 ends at 110 (+10%); day 1 a deposit of 50 arrives and equity ends
        // at 165: the account itself made 5 on 110 (4.5454…%); day 2 ends at 0 (−100%); day 3
        // starts at 0: undefined.
        let r = daily_returns(100, &[110, 165, 0, 10], &[0, 50, 0, 0]);
        assert!(close(r[0].unwrap(), 0.10));
        assert!(close(r[1].unwrap(), 5.0 / 110.0));
        assert!(close(r[2].unwrap(), -1.0));
        assert_eq!(r[3], None);
        // No flows given: the deposit would count as a return.
        let r = daily_returns(100, &[110, 165], &[]);
        assert!(close(r[1].unwrap(), 0.5));
        // Money raw sizes (1e12 micro-units) do not overflow.
        let r = daily_returns(9_000_000_000_000_000, &[9_000_000_000_000_000], &[]);
        assert_eq!(r[0], Some(0.0));
    }

    #[test]
    fn cumulative_chain_links() {
        let c = cumulative(&[Some(0.10), Some(-0.10), None, Some(0.5)]);
        assert!(close(c[0], 0.10));
        assert!(close(c[1], 1.1 * 0.9 - 1.0)); // −1 %
        assert!(close(c[2], c[1]));
        assert!(close(c[3], 0.99 * 1.5 - 1.0));
        assert!(close(chain(&[0.10, -0.10]), -0.01));
    }

    #[test]
    fn asset_weighted_dispersion_by_hand() {
        // Returns 10 %, 20 %, 40 % on assets 100, 100, 200 (total 400):
        // R_c = (10 + 20 + 80) / 400 = 0.275
        // σ² = (100·0.175² + 100·0.075² + 200·0.125²) / 400
        //    = (3.0625 + 0.5625 + 3.125) / 400 = 0.016875
        let d = asset_weighted_dispersion(&[(0.10, 100.0), (0.20, 100.0), (0.40, 200.0)]).unwrap();
        assert_eq!(d.n, 3);
        assert!(close(d.mean, 0.275));
        assert!(close(d.std, 0.016875f64.sqrt()));
        assert!(close(d.low, 0.10));
        assert!(close(d.high, 0.40));
        assert!(close(d.range(), 0.30));
        // Equal assets: the population standard deviation. 1 %, 3 %: mean 2 %, σ 1 %.
        let d = asset_weighted_dispersion(&[(0.01, 5.0), (0.03, 5.0)]).unwrap();
        assert!(close(d.std, 0.01));
        // Zero-asset and NaN entries are left out; nothing left is None.
        let d = asset_weighted_dispersion(&[(0.5, 0.0), (f64::NAN, 1.0), (0.02, 3.0)]).unwrap();
        assert_eq!((d.n, d.std), (1, 0.0));
        assert_eq!(asset_weighted_dispersion(&[(0.5, 0.0)]), None);
        assert_eq!(asset_weighted_dispersion(&[]), None);
    }

    #[test]
    fn sync_by_hand() {
        // Cumulative 0 %, 10 %, 20 % on weights 1, 1, 2: M = (0 + 0.1 + 0.4)/4 = 0.125;
        // |.| = 0.125, 0.025, 0.075 → mean 0.075.
        let s = sync_mad(&[(0.0, 1.0), (0.10, 1.0), (0.20, 2.0)]).unwrap();
        assert!(close(s, 0.075));
        assert_eq!(sync_mad(&[(0.1, 1.0), (0.1, 9.0)]), Some(0.0));
        assert_eq!(sync_mad(&[]), None);
    }

    #[test]
    fn drawdown_and_breaches_by_hand() {
        // Wealth 1.1, 0.99, 1.21, 0.968, 1.0: peaks 1.1, 1.1, 1.21, 1.21, 1.21.
        let cum = [0.10, -0.01, 0.21, -0.032, 0.0];
        let d = drawdowns(&cum);
        assert!(close(d[0], 0.0));
        assert!(close(d[1], 0.10));
        assert!(close(d[2], 0.0));
        assert!(close(d[3], 0.20));
        assert!(close(d[4], 1.0 - 1.0 / 1.21));
        assert!(close(max_drawdown(&cum), 0.20));
        // Below the start counts from the start: −5 % on day 0 is a 5 % drawdown.
        assert!(close(max_drawdown(&[-0.05]), 0.05));
        // Tolerance 9 %: day 1 (10 %), then days 3–4 (20 %, 17.4 %) as one run.
        assert_eq!(breaches(&d, 0.09), 2);
        assert_eq!(breaches(&d, 0.15), 1);
        assert_eq!(breaches(&d, 0.19), 1);
        assert_eq!(breaches(&d, 0.25), 0);
        // Reaching the line is a breach (the engine's `≤ hwm × (1 − tolerance)`).
        assert_eq!(breaches(&[0.0, 0.5, 0.5, 0.0, 0.5], 0.5), 2);
        assert_eq!(breaches(&d, 0.0), 0, "no tolerance, no breach");
    }

    #[test]
    fn quantiles_type_7() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile_sorted(&v, 0.5), 3.0);
        assert_eq!(quantile_sorted(&v, 0.0), 1.0);
        assert_eq!(quantile_sorted(&v, 1.0), 5.0);
        // h = 4·0.05 = 0.2 → 1 + 0.2·1; h = 4·0.25 = 1 → 2; h = 3.8 → 4.8
        assert!(close(quantile_sorted(&v, 0.05), 1.2));
        assert!(close(quantile_sorted(&v, 0.25), 2.0));
        assert!(close(quantile_sorted(&v, 0.95), 4.8));
        assert_eq!(quantile_sorted(&[7.0], 0.3), 7.0);
        assert!(quantile_sorted(&[], 0.3).is_nan());
    }

    #[test]
    fn volatility_and_ratios() {
        // 1 %, −1 %, 1 %, −1 %: mean 0, sample variance 4·1e-4/3.
        let r = [0.01, -0.01, 0.01, -0.01];
        let s = (4.0e-4f64 / 3.0).sqrt();
        assert!(close(sample_std(&r).unwrap(), s));
        assert!(close(
            annualised_volatility(&r, 252.0).unwrap(),
            s * 252f64.sqrt()
        ));
        assert_eq!(sample_std(&[1.0]), None);
        assert_eq!(mean(&[]), None);
        assert_eq!(percent_in_bounds(5, 5), Some(100.0));
        assert_eq!(percent_in_bounds(3, 4), Some(75.0));
        assert_eq!(percent_in_bounds(0, 0), None);
        // Mean notional 300, mean margin 10 → 30×.
        assert_eq!(capital_efficiency(&[200, 400], &[5, 15]), Some(30.0));
        assert_eq!(capital_efficiency(&[200], &[0]), None);
        assert_eq!(capital_efficiency(&[], &[]), None);
        assert_eq!(round(0.123456789, 4), 0.1235);
        assert_eq!(round(-2.5, 0), -3.0);
    }
}
