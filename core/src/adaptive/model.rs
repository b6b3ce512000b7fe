//! The fitted parameters the engine runs: plain integers (decimal ppb/ppm and scaled returns),
//! so a model file says exactly what the engine computes. `mam train` fits them offline in
//! floating point and rounds them once into these; the engine never sees a float.
//!
//! Units:
//! - a **return** is the relative change of the mid over one sampling interval, in units of
//!   1e-9 ([`RET_ONE`] = 1.0): a 0.01 % EURUSD minute is 100,000;
//! - a **variance** is in units of 1e-18 (a return squared);
//! - **ppb** (parts per 10^9) for GARCH weights and probabilities; [`Ratio`] (6 decimals) for
//!   the factor parameters a manager reads (floors, cuts, caps).

use crate::num::Ratio;

/// One whole return in the 1e-9 units returns are kept in.
pub const RET_ONE: i64 = 1_000_000_000;
/// One in parts per billion.
pub const PPB: u64 = 1_000_000_000;
/// States of the regime filter: calm, normal, stressed (ordered by volatility).
pub const REGIMES: usize = 3;
/// Buckets of the regime filter's emission (|return| / reference sigma, see [`RegimeModel`]).
pub const BUCKETS: usize = 8;
/// Version of the model layout; a model file of another version is refused.
pub const MODEL_VERSION: u32 = 1;

/// Regime labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Regime {
    /// Volatility well under its norm.
    Calm = 0,
    /// The usual.
    Normal = 1,
    /// Volatility well above its norm.
    Stressed = 2,
}

impl Regime {
    /// From the journaled byte.
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Regime::Calm),
            1 => Some(Regime::Normal),
            2 => Some(Regime::Stressed),
            _ => None,
        }
    }
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Regime::Calm => "calm",
            Regime::Normal => "normal",
            Regime::Stressed => "stressed",
        }
    }
}

/// One-step variance forecast `var' = omega + alpha·r² + beta·var` (GARCH(1,1); EWMA is
/// `omega = 0, alpha = 1 − λ, beta = λ`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VolParams {
    /// Constant term, variance units (1e-18).
    pub omega: u64,
    /// Weight of the last squared return, ppb.
    pub alpha_ppb: u64,
    /// Weight of the last variance, ppb. `alpha + beta ≤ 10^9`.
    pub beta_ppb: u64,
    /// Variance the forecast starts from before any return (variance units).
    pub initial_var: u64,
}

impl VolParams {
    /// RiskMetrics' EWMA, λ = 0.94 (J.P. Morgan/Reuters, *RiskMetrics — Technical Document*,
    /// 4th ed., 1996, §5.3: the decay factor chosen for daily data).
    pub const fn riskmetrics(initial_var: u64) -> Self {
        VolParams {
            omega: 0,
            alpha_ppb: 60_000_000,
            beta_ppb: 940_000_000,
            initial_var,
        }
    }
}

/// A discrete-emission hidden Markov model over the regimes. The emission of one sampled
/// return is its bucket: `|r| / sigma_ref` compared with `edges` (in thousandths), so the
/// forward filter is integer multiply-add and a renormalisation, with no `exp` anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegimeModel {
    /// Reference sigma the buckets are relative to (return units; the training period's
    /// unconditional sigma per interval).
    pub sigma_ref: u64,
    /// Upper edges of buckets 0..BUCKETS−1 in thousandths of `sigma_ref`, ascending (the last
    /// bucket is everything above the last edge).
    pub edges: [u32; BUCKETS - 1],
    /// Transition probabilities `trans[from][to]`, ppb; each row sums to 10^9.
    pub trans: [[u32; REGIMES]; REGIMES],
    /// Emission probabilities `emit[state][bucket]`, ppb; each row sums to 10^9, no zero.
    pub emit: [[u32; BUCKETS]; REGIMES],
    /// Posterior (ppb) a state needs before the label switches to it (hysteresis; > 5·10^8).
    pub switch_ppb: u32,
}

/// Everything per symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolModel {
    /// Symbol name as the symbol table spells it (`EURUSD`).
    pub symbol: String,
    /// Sampling interval of returns (ns since the epoch, aligned): 60 s for 1-minute bars.
    pub sample_ns: u64,
    /// The variance forecaster.
    pub vol: VolParams,
    /// Volatility target per interval (return units): the vol factor is `target / sigma`.
    pub sigma_target: u64,
    /// The regime filter.
    pub regime: RegimeModel,
}

/// Factor parameters of one cluster of accounts (cluster 0 is the default for every cluster
/// the model does not list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterParams {
    /// Bounds of the volatility factor.
    pub vol_min: Ratio,
    /// Upper bound of the volatility factor.
    pub vol_max: Ratio,
    /// Margin buffer: in a stressed regime, an account whose margin level after the trade
    /// would be under this (percent, 300 = 300 %) is cut to `margin_cut` of its size.
    pub stressed_margin_level: Ratio,
    /// Factor applied to such an account (0 = skip it, 0.5 = half).
    pub margin_cut: Ratio,
    /// Drawdown: exponent `k` of `(1 − dd/dd_max)^k`.
    pub dd_power: u32,
    /// Drawdown: floor of the factor while the drawdown is under the tolerance.
    pub dd_floor: Ratio,
    /// Correlation: largest net exposure in one currency leg, as a multiple of equity
    /// (5 = five times equity); 0 disables the factor.
    pub leg_cap: Ratio,
    /// Liquidity: largest expected impact `Y·σ·√(Q/V)` in multiples of sigma before the
    /// master is scaled down; 0 disables the factor.
    pub impact_cap: Ratio,
    /// Liquidity: the impact coefficient `Y` of the square-root law (≈ 1, Tóth et al. 2011,
    /// "Anomalous price impact and the critical nature of liquidity in financial markets").
    pub impact_y: Ratio,
    /// Spread: bounds of `norm / current spread` (the norm is per hour of the UTC day).
    pub spread_min: Ratio,
    /// Upper bound of the spread factor.
    pub spread_max: Ratio,
    /// Correlation: largest forecast one-interval standard deviation of the account's
    /// positions (EWMA correlations × forecast sigmas), as a fraction of equity (0.0005 =
    /// 0.05 % per minute); 0 disables the factor.
    pub risk_cap: Ratio,
    /// Slippage: a fill worse than the quote at send by more than this many pips counts as
    /// slipped.
    pub slip_pips: Ratio,
    /// Slippage: the factor is `1 − slip_cut × P(slipped)` for the symbol and hour of the day
    /// (learned from fills); 0 disables it.
    pub slip_cut: Ratio,
}

impl Default for ClusterParams {
    fn default() -> Self {
        let r = |x: i64| Ratio(x * Ratio::ONE_RAW / 100);
        ClusterParams {
            vol_min: r(25),
            vol_max: r(150),
            stressed_margin_level: r(30_000),
            margin_cut: r(50),
            dd_power: 2,
            dd_floor: r(10),
            leg_cap: r(1_000),
            impact_cap: r(50),
            impact_y: r(100),
            spread_min: r(50),
            spread_max: r(100),
            risk_cap: Ratio(500),
            slip_pips: r(50),
            slip_cut: r(50),
        }
    }
}

/// A whole fitted model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdaptiveModel {
    /// Per symbol (symbols the model does not list get factor 1 for volatility and regime
    /// normal).
    pub symbols: Vec<SymbolModel>,
    /// Per cluster; index = the account's `cluster` column. Never empty.
    pub clusters: Vec<ClusterParams>,
}

/// A model that cannot be run, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("adaptive model: {0}")]
pub struct ModelError(pub String);

impl AdaptiveModel {
    /// Checks every invariant the engine relies on; a model file is refused with this reason.
    pub fn validate(&self) -> Result<(), ModelError> {
        let e = |s: String| Err(ModelError(s));
        if self.clusters.is_empty() {
            return e("no cluster parameters (cluster 0 is required)".into());
        }
        for (k, s) in self.symbols.iter().enumerate() {
            let at = format!("symbol {} ({})", k, s.symbol);
            if s.sample_ns == 0 {
                return e(format!("{at}: sample_ns must be positive"));
            }
            let v = &s.vol;
            if v.alpha_ppb + v.beta_ppb > PPB {
                return e(format!("{at}: alpha + beta exceed 1"));
            }
            if v.omega == 0 && v.alpha_ppb + v.beta_ppb < PPB / 2 {
                return e(format!(
                    "{at}: omega 0 with alpha + beta under 0.5 decays to 0"
                ));
            }
            if s.sigma_target == 0 {
                return e(format!("{at}: sigma_target must be positive"));
            }
            let r = &s.regime;
            if r.sigma_ref == 0 {
                return e(format!("{at}: regime sigma_ref must be positive"));
            }
            if r.edges.windows(2).any(|w| w[0] >= w[1]) || r.edges[0] == 0 {
                return e(format!("{at}: regime edges must be positive and ascending"));
            }
            for (i, row) in r.trans.iter().enumerate() {
                if row.iter().map(|&x| u64::from(x)).sum::<u64>() != PPB {
                    return e(format!("{at}: transition row {i} does not sum to 1e9"));
                }
            }
            for (i, row) in r.emit.iter().enumerate() {
                if row.iter().map(|&x| u64::from(x)).sum::<u64>() != PPB || row.contains(&0) {
                    return e(format!(
                        "{at}: emission row {i} must sum to 1e9 with no zero entry"
                    ));
                }
            }
            if u64::from(r.switch_ppb) <= PPB / 2 || u64::from(r.switch_ppb) > PPB {
                return e(format!("{at}: switch_ppb must be in (5e8, 1e9]"));
            }
        }
        for (k, c) in self.clusters.iter().enumerate() {
            let at = format!("cluster {k}");
            let neg = [
                c.vol_min,
                c.vol_max,
                c.stressed_margin_level,
                c.margin_cut,
                c.dd_floor,
                c.leg_cap,
                c.impact_cap,
                c.impact_y,
                c.spread_min,
                c.spread_max,
                c.risk_cap,
                c.slip_pips,
                c.slip_cut,
            ];
            if neg
                .iter()
                .any(|r| r.raw() < 0 || r.raw() > 1_000_000 * Ratio::ONE_RAW)
            {
                return e(format!("{at}: parameters must be in 0..=1,000,000"));
            }
            if c.vol_min > c.vol_max || c.spread_min > c.spread_max {
                return e(format!("{at}: a lower bound is above its upper bound"));
            }
            if c.dd_power > 8 {
                return e(format!("{at}: dd_power {} above 8", c.dd_power));
            }
            if [c.margin_cut, c.dd_floor, c.slip_cut]
                .iter()
                .any(|r| r.raw() > Ratio::ONE_RAW)
            {
                return e(format!(
                    "{at}: margin_cut, dd_floor and slip_cut must be at most 1"
                ));
            }
        }
        Ok(())
    }

    /// A hand-made model of one symbol (RiskMetrics EWMA, 1-minute sampling, σ_target 0.01 %
    /// per minute, a three-state regime filter with plausible tables) and the default cluster:
    /// for tests, benchmarks and examples, not fitted to anything.
    pub fn example(symbol: &str) -> Self {
        AdaptiveModel {
            symbols: vec![SymbolModel {
                symbol: symbol.into(),
                sample_ns: 60_000_000_000,
                vol: VolParams::riskmetrics(10_000_000_000),
                sigma_target: 100_000,
                regime: RegimeModel {
                    sigma_ref: 100_000,
                    edges: [250, 500, 750, 1000, 1500, 2000, 3000],
                    trans: [
                        [980_000_000, 19_000_000, 1_000_000],
                        [10_000_000, 980_000_000, 10_000_000],
                        [1_000_000, 29_000_000, 970_000_000],
                    ],
                    emit: [
                        [
                            300_000_000,
                            250_000_000,
                            200_000_000,
                            150_000_000,
                            70_000_000,
                            20_000_000,
                            9_000_000,
                            1_000_000,
                        ],
                        [
                            150_000_000,
                            150_000_000,
                            150_000_000,
                            150_000_000,
                            200_000_000,
                            100_000_000,
                            80_000_000,
                            20_000_000,
                        ],
                        [
                            20_000_000,
                            30_000_000,
                            50_000_000,
                            100_000_000,
                            200_000_000,
                            200_000_000,
                            200_000_000,
                            200_000_000,
                        ],
                    ],
                    switch_ppb: 800_000_000,
                },
            }],
            clusters: vec![ClusterParams::default()],
        }
    }

    /// A model with no fitted symbols and the default cluster: volatility and regime factors
    /// stay 1 and normal; drawdown, margin, correlation and liquidity factors act. What the
    /// demo and a daemon without a model file run.
    pub fn untrained() -> Self {
        AdaptiveModel {
            symbols: Vec::new(),
            clusters: vec![ClusterParams::default()],
        }
    }
}
