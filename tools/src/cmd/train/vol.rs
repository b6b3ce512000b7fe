//! The variance forecasters: RiskMetrics EWMA (λ = 0.94) and GARCH(1,1) fitted by Gaussian
//! maximum likelihood, compared by QLIKE on one-step-ahead forecasts.
//!
//! Both are the one recursion the engine runs, `h' = ω + α·r² + β·h`, so each is scored
//! exactly as the engine would run it: the fitted floats are first rounded into
//! [`VolParams`] (ppb weights, 1e-18 variances) and the forecasts recomputed from those.

use anyhow::{anyhow, Context};
use argmin::core::{CostFunction, Executor};
use argmin::solver::neldermead::NelderMead;
use mam_core::adaptive::{VolParams, PPB};

/// Variance units per 1.0 of variance (returns are 1e-9, so variances 1e-18).
pub const VAR_ONE: f64 = 1e18;

/// The recursion in floating point (natural units: a return of 1e-4 is 1e-4).
#[derive(Debug, Clone, Copy)]
pub struct Recursion {
    omega: f64,
    alpha: f64,
    beta: f64,
    h0: f64,
}

impl Recursion {
    /// The floats the engine's integers stand for.
    pub fn of(v: &VolParams) -> Self {
        Recursion {
            omega: v.omega as f64 / VAR_ONE,
            alpha: v.alpha_ppb as f64 / PPB as f64,
            beta: v.beta_ppb as f64 / PPB as f64,
            h0: v.initial_var as f64 / VAR_ONE,
        }
    }

    /// `h[t]`, the forecast of `r[t]`'s variance made before `r[t]` was seen.
    pub fn forecasts(&self, r: &[f64]) -> Vec<f64> {
        let mut h = self.h0;
        r.iter()
            .map(|&x| {
                let out = h;
                h = self.omega + self.alpha * x * x + self.beta * h;
                out
            })
            .collect()
    }
}

/// Mean QLIKE loss `r²/h − ln(r²/h) − 1` (Patton 2011, "Volatility forecast comparison using
/// imperfect volatility proxies") and the number of returns it averaged. Zero returns are left
/// out: their proxy `r² = 0` makes the loss infinite for every forecaster alike.
pub fn qlike(r: &[f64], h: &[f64]) -> (f64, u64) {
    let (mut sum, mut n) = (0.0, 0u64);
    for (&x, &h) in r.iter().zip(h) {
        if x != 0.0 && h > 0.0 {
            let q = x * x / h;
            sum += q - q.ln() - 1.0;
            n += 1;
        }
    }
    (if n == 0 { f64::NAN } else { sum / n as f64 }, n)
}

/// Gaussian negative log-likelihood of GARCH(1,1) on standardised squared returns, as a
/// function of unconstrained parameters: `ω = e^θ0`, persistence `p = P·logistic(θ1)`,
/// `α = p·logistic(θ2)`, `β = p − α`. Every θ is a valid, stationary GARCH.
struct Nll<'a> {
    x2: &'a [f64],
}

/// Largest persistence allowed (α + β < 1 keeps the variance stationary).
const MAX_PERSISTENCE: f64 = 0.999_999;

fn logistic(t: f64) -> f64 {
    1.0 / (1.0 + (-t).exp())
}

fn unpack(t: &[f64]) -> (f64, f64, f64) {
    let p = MAX_PERSISTENCE * logistic(t[1]);
    let alpha = p * logistic(t[2]);
    (t[0].exp(), alpha, p - alpha)
}

impl CostFunction for Nll<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, t: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        let (omega, alpha, beta) = unpack(t);
        let mut h = 1.0f64; // the standardised sample variance
        let mut nll = 0.0;
        for &x2 in self.x2 {
            nll += h.ln() + x2 / h;
            h = (omega + alpha * x2 + beta * h).max(1e-12);
        }
        Ok(0.5 * nll)
    }
}

/// Fits GARCH(1,1) to the training returns; `var` is their sample variance. Returns
/// `(ω, α, β)` in natural units.
fn fit_garch(r: &[f64], var: f64) -> anyhow::Result<(f64, f64, f64)> {
    let x2: Vec<f64> = r.iter().map(|&x| x * x / var).collect();
    // Start from RiskMetrics-like persistence with variance targeting: α 0.05, β 0.93.
    let logit = |q: f64| (q / (1.0 - q)).ln();
    let start = [
        (0.02f64).ln(),
        logit(0.98 / MAX_PERSISTENCE),
        logit(0.05 / 0.98),
    ];
    let mut simplex = vec![start.to_vec()];
    for i in 0..3 {
        let mut v = start.to_vec();
        v[i] += 0.7;
        simplex.push(v);
    }
    let solver = NelderMead::new(simplex)
        .with_sd_tolerance(1e-9)
        .map_err(|e| anyhow!("{e}"))?;
    let res = Executor::new(Nll { x2: &x2 }, solver)
        .configure(|s| s.max_iters(1_000))
        .run()
        .map_err(|e| anyhow!("{e}"))
        .context("GARCH likelihood maximisation failed")?;
    let best = res
        .state()
        .best_param
        .clone()
        .ok_or_else(|| anyhow!("GARCH fit found no parameters"))?;
    let (omega, alpha, beta) = unpack(&best);
    Ok((omega * var, alpha, beta))
}

/// What the volatility fit chose and how the candidates scored.
#[derive(Debug, Clone)]
pub struct VolFit {
    /// The parameters kept.
    pub params: VolParams,
    /// `ewma` or `garch`.
    pub chosen: &'static str,
    /// The fitted GARCH, rounded (reported even when EWMA is kept).
    pub garch: VolParams,
    /// QLIKE in sample: EWMA, GARCH.
    pub qlike_in: [f64; 2],
    /// QLIKE out of sample, if there is a test period.
    pub qlike_out: Option<[f64; 2]>,
    /// Median forecast sigma of the chosen forecaster in sample (return units, 1e-9).
    pub sigma_target: u64,
}

/// Fits both forecasters on `r[..train]`, scores them in and out of sample, keeps the better
/// out of sample (in sample when there is no test period).
pub fn fit(r: &[f64], train: usize) -> anyhow::Result<VolFit> {
    let tr = &r[..train];
    let var = tr.iter().map(|x| x * x).sum::<f64>() / tr.len() as f64;
    if var.is_nan() || var <= 0.0 {
        return Err(anyhow!("every training return is zero"));
    }
    let initial_var = (var * VAR_ONE).round() as u64;
    let ewma = VolParams::riskmetrics(initial_var);
    let (omega, alpha, beta) = fit_garch(tr, var)?;
    let garch = round(omega, alpha, beta, initial_var);
    let score = |v: &VolParams| {
        // One pass over both periods: the test period starts from the trained state.
        let h = Recursion::of(v).forecasts(r);
        let out = (train < r.len()).then(|| qlike(&r[train..], &h[train..]).0);
        (qlike(tr, &h[..train]).0, out, h)
    };
    let (e_in, e_out, e_h) = score(&ewma);
    let (g_in, g_out, g_h) = score(&garch);
    let garch_better = match (e_out, g_out) {
        (Some(e), Some(g)) => g < e,
        _ => g_in < e_in,
    };
    let (params, chosen, h) = if garch_better {
        (garch, "garch", g_h)
    } else {
        (ewma, "ewma", e_h)
    };
    Ok(VolFit {
        params,
        chosen,
        garch,
        qlike_in: [e_in, g_in],
        qlike_out: e_out.zip(g_out).map(|(e, g)| [e, g]),
        sigma_target: median_sigma(&h[..train]),
    })
}

/// Rounds GARCH floats into the engine's integers, keeping `α + β ≤ 1` and `ω > 0`.
fn round(omega: f64, alpha: f64, beta: f64, initial_var: u64) -> VolParams {
    let alpha_ppb = (alpha * PPB as f64).round() as u64;
    let beta_ppb = ((beta * PPB as f64).round() as u64).min(PPB - alpha_ppb);
    VolParams {
        omega: ((omega * VAR_ONE).round() as u64).max(1),
        alpha_ppb,
        beta_ppb,
        initial_var,
    }
}

/// The sigma target: the median forecast sigma over the training period, so the volatility
/// factor `target / sigma` is above 1 half the time and below it the other half.
fn median_sigma(h: &[f64]) -> u64 {
    let mut s: Vec<f64> = h.to_vec();
    s.sort_by(f64::total_cmp);
    let mid = s[s.len() / 2];
    ((mid.sqrt() * 1e9).round() as u64).max(1)
}
