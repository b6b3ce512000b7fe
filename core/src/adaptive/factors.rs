//! Factor evaluation: the shared factors of one master (volatility, liquidity, spread), each
//! account's own (margin buffer, drawdown, currency legs), their product clamped to the
//! account's `[min_scale, max_scale]`, and the exact lot-step size that results.
//!
//! Factors are [`Factor`] (I32F32) bit patterns held in `i64`: products and quotients are
//! integer operations, identical on every machine.

use super::model::{ClusterParams, Regime, PPB};
use crate::alloc::{LotLimits, MinLotPolicy};
use crate::num::{Factor, Ratio};

/// 1.0 as [`Factor`] bits.
pub const ONE: i64 = 1 << 32;

/// [`AccountFactors::flags`]: the product was under `min_scale` and raised to it.
pub const FLAG_RAISED_TO_MIN: u32 = 1;
/// The product was above `max_scale` and lowered to it.
pub const FLAG_CUT_TO_MAX: u32 = 2;
/// The broker's lot rules (min lot, max lot) forced a size outside the manager's bounds.
pub const FLAG_LOT_RULES: u32 = 4;
/// The account has no bounds (`min_scale = max_scale = 0`): it keeps its static size.
pub const FLAG_NO_BOUNDS: u32 = 8;
/// The margin buffer cut the account (stressed regime, thin margin).
pub const FLAG_MARGIN_CUT: u32 = 16;
/// The account is at or past its drawdown tolerance (factor 0).
pub const FLAG_DD_LIMIT: u32 = 32;

/// [`Ratio::ONE_RAW`] as `u64` (a divisor the compiler turns into a multiply).
const RATIO_ONE: u64 = Ratio::ONE_RAW as u64;

/// A [`Ratio`] as factor bits (rounded down).
#[inline]
pub fn of_ratio(r: Ratio) -> i64 {
    let x = r.raw();
    if (0..1 << 32).contains(&x) {
        // `x << 32` fits in a u64: the same quotient as the 128-bit division, without it.
        return (((x as u64) << 32) / RATIO_ONE) as i64;
    }
    ((i128::from(x) << 32) / i128::from(Ratio::ONE_RAW)) as i64
}

/// `num / den` as factor bits, clamped to `[0, 2^31)`; `den ≤ 0` gives `ONE`.
#[inline]
pub fn frac(num: i128, den: i128) -> i64 {
    if den <= 0 {
        return ONE;
    }
    let n = num.max(0);
    if n < 1 << 95 {
        // `n << 32` stays positive: an unsigned division gives the same quotient, and a
        // 64-bit one when both fit (no call into the 128-bit signed division).
        let (x, d) = ((n as u128) << 32, den as u128);
        let q = match (u64::try_from(x), u64::try_from(d)) {
            (Ok(x), Ok(d)) => u128::from(x / d),
            _ => x / d,
        };
        return q.min((i32::MAX as u128) << 32) as i64;
    }
    ((n << 32) / den).min(i128::from(i32::MAX) << 32) as i64
}

/// `a × b` of factor bits (rounded down), saturating.
#[inline]
pub fn mul(a: i64, b: i64) -> i64 {
    ((i128::from(a) * i128::from(b)) >> 32).clamp(0, i128::from(i64::MAX)) as i64
}

/// A factor as a [`Factor`] (for display).
pub fn as_factor(bits: i64) -> Factor {
    Factor::from_bits(bits)
}

/// What one master shares across its accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shared {
    /// Forecast sigma per interval (1e-9), 0 without a fitted model.
    pub sigma: u64,
    /// The symbol's target sigma, 0 without a fitted model.
    pub sigma_target: u64,
    /// The regime label.
    pub regime: u8,
    /// `sigma_target / sigma` before any cluster clamp (ONE without a model).
    pub vol: i64,
    /// `√(Q / V)`: master quantity over the visible depth at the touch (0 = no depth known).
    pub sqrt_qv: i64,
    /// `norm / spread` before the cluster clamp (ONE without a norm).
    pub spread: i64,
    /// Probability of slippage beyond the threshold for the symbol and hour, ppb.
    pub slip_ppb: u64,
}

/// What the engine knows of one account for this master.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccountView {
    /// Equity now (Money raw).
    pub equity: i64,
    /// High-water mark (Money raw).
    pub hwm: i64,
    /// Drawdown tolerance (Ratio raw, 0.2 = 20 %; 0 = none).
    pub tolerance: i64,
    /// Margin in use now (Money raw).
    pub margin_used: i64,
    /// Margin the static size would add (Money raw).
    pub new_margin: i64,
    /// Per currency leg of the symbol that is not the account currency: (exposure the account
    /// holds now, exposure the static size adds), signed, Money raw.
    pub legs: [(i64, i64); 2],
    /// Forecast one-interval risk of the account's positions now and with the static size
    /// added (Money raw; both 0 when the correlation factor is off).
    pub risk: (u64, u64),
}

/// Every factor of one account, and the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccountFactors {
    /// Volatility (cluster-clamped).
    pub vol: i64,
    /// Liquidity (square-root impact against the cluster's cap).
    pub liquidity: i64,
    /// Spread against its hourly norm (cluster-clamped).
    pub spread: i64,
    /// Margin buffer.
    pub margin: i64,
    /// Drawdown tolerance.
    pub drawdown: i64,
    /// Currency-leg exposure.
    pub legs: i64,
    /// Correlated risk of the positions against the cluster's cap.
    pub risk: i64,
    /// Slippage probability for the symbol and hour.
    pub slippage: i64,
    /// Product of all eight.
    pub product: i64,
    /// The product clamped to the account's bounds.
    pub scale: i64,
    /// `FLAG_*`.
    pub flags: u32,
}

fn clamp_r(x: i64, lo: Ratio, hi: Ratio) -> i64 {
    x.clamp(of_ratio(lo), of_ratio(hi))
}

/// What one cluster's parameters and one master's [`Shared`] factors fix for every account of
/// the cluster: computed once per master and cluster ([`ClusterFactors::new`]), then used by
/// [`account_factors_in`] for each account. [`account_factors`] is the two in one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterFactors {
    vol: i64,
    spread: i64,
    liquidity: i64,
    /// The product's first three steps, in its order: `((ONE × vol) × liquidity) × spread`.
    head: i64,
    /// Stressed regime and a margin level set: the margin buffer is evaluated.
    margin_on: bool,
    stressed_margin_level: i64,
    margin_cut: i64,
    dd_power: u32,
    dd_floor: i64,
    leg_cap: i64,
    risk_cap: i64,
    slippage: i64,
}

impl ClusterFactors {
    /// The shared part of cluster `c`'s factors for a master with shared factors `sh`.
    pub fn new(c: &ClusterParams, sh: &Shared) -> Self {
        let vol = clamp_r(sh.vol, c.vol_min, c.vol_max);
        let spread = clamp_r(sh.spread, c.spread_min, c.spread_max);
        let mut liquidity = ONE;
        if c.impact_cap.raw() > 0 && sh.sqrt_qv > 0 {
            // Expected impact in sigmas: Y·√(Q/V); scale so it stays under the cap.
            let impact = mul(of_ratio(c.impact_y), sh.sqrt_qv);
            if impact > of_ratio(c.impact_cap) {
                liquidity = frac(i128::from(of_ratio(c.impact_cap)), i128::from(impact));
            }
        }
        ClusterFactors {
            vol,
            spread,
            liquidity,
            head: mul(mul(mul(ONE, vol), liquidity), spread),
            margin_on: sh.regime == Regime::Stressed as u8 && c.stressed_margin_level.raw() > 0,
            stressed_margin_level: c.stressed_margin_level.raw(),
            margin_cut: of_ratio(c.margin_cut),
            dd_power: c.dd_power,
            dd_floor: of_ratio(c.dd_floor),
            leg_cap: c.leg_cap.raw(),
            risk_cap: c.risk_cap.raw(),
            slippage: if c.slip_cut.raw() > 0 && sh.slip_ppb > 0 {
                // 1 − cut × p, p in ppb.
                let cut = i128::from(c.slip_cut.raw()) * i128::from(sh.slip_ppb.min(PPB));
                let one = i128::from(Ratio::ONE_RAW) * i128::from(PPB);
                frac(one - cut, one)
            } else {
                ONE
            },
        }
    }

    /// Whether the margin buffer reads [`AccountView::new_margin`] (and `margin_used`): only
    /// in a stressed regime with a margin level set. Otherwise the view need not carry it.
    pub fn reads_margin(&self) -> bool {
        self.margin_on
    }

    /// Whether the currency-leg factor reads [`AccountView::legs`] (a leg cap is set).
    pub fn reads_legs(&self) -> bool {
        self.leg_cap > 0
    }

    /// Whether the correlated-risk factor reads [`AccountView::risk`] (a risk cap is set).
    pub fn reads_risk(&self) -> bool {
        self.risk_cap > 0
    }
}

/// The factors of one account of cluster `c`.
pub fn account_factors(
    c: &ClusterParams,
    sh: &Shared,
    v: &AccountView,
    min_scale: Ratio,
    max_scale: Ratio,
) -> AccountFactors {
    account_factors_in(&ClusterFactors::new(c, sh), v, min_scale, max_scale)
}

/// The factors of one account of the cluster `cf` was made for (the same result as
/// [`account_factors`] with that cluster's parameters and the master's shared factors).
#[inline]
pub fn account_factors_in(
    cf: &ClusterFactors,
    v: &AccountView,
    min_scale: Ratio,
    max_scale: Ratio,
) -> AccountFactors {
    let mut f = AccountFactors {
        vol: cf.vol,
        spread: cf.spread,
        liquidity: cf.liquidity,
        margin: ONE,
        drawdown: ONE,
        legs: ONE,
        risk: ONE,
        slippage: cf.slippage,
        ..AccountFactors::default()
    };
    if cf.margin_on {
        // Margin level after the trade, percent: equity / (used + new) × 100.
        let need = i128::from(v.margin_used) + i128::from(v.new_margin);
        let thin = need > 0
            && i128::from(v.equity) * 100 * i128::from(Ratio::ONE_RAW)
                < need * i128::from(cf.stressed_margin_level);
        if thin {
            f.margin = cf.margin_cut;
            f.flags |= FLAG_MARGIN_CUT;
        }
    }
    if v.tolerance > 0 && v.hwm > 0 {
        let dd = i128::from((v.hwm - v.equity).max(0));
        // x = 1 − (dd / hwm) / tol = (tol·hwm − dd·1e6) / (tol·hwm)
        let den = i128::from(v.tolerance) * i128::from(v.hwm);
        let num = den - dd * i128::from(Ratio::ONE_RAW);
        if num <= 0 {
            f.drawdown = 0;
            f.flags |= FLAG_DD_LIMIT;
        } else {
            // At the high-water mark num = den: x is exactly ONE, no division needed (under
            // 2^95, where `frac` would not wrap).
            let x = if num == den && den < 1 << 95 {
                ONE
            } else {
                frac(num, den)
            };
            let mut p = ONE;
            for _ in 0..cf.dd_power {
                p = mul(p, x);
            }
            f.drawdown = p.max(cf.dd_floor);
        }
    }
    if cf.leg_cap > 0 {
        let e = v.equity.max(0);
        // equity × cap / 1e6 (both non-negative: 64-bit when the product fits).
        let cap = match (e as u64).checked_mul(cf.leg_cap as u64) {
            Some(x) => i128::from(x / RATIO_ONE),
            None => i128::from(e) * i128::from(cf.leg_cap) / i128::from(Ratio::ONE_RAW),
        };
        for &(held, add) in &v.legs {
            if add == 0 || (held != 0 && (held > 0) != (add > 0)) {
                continue; // nothing added, or a hedge: it lowers the leg's exposure
            }
            let room = cap - i128::from(held.unsigned_abs());
            let add = i128::from(add.unsigned_abs());
            let g = if room <= 0 {
                0
            } else if room >= add && room < 1 << 95 {
                // room / add ≥ 1, which the min makes ONE: no division needed (under 2^95,
                // where `frac` would not wrap).
                ONE
            } else {
                frac(room, add).min(ONE)
            };
            f.legs = f.legs.min(g);
        }
    }
    if cf.risk_cap > 0 && v.risk.1 > v.risk.0 {
        // Marginal: scale the trade so the risk stays under cap × equity (linear in the
        // trade's size between the risk now and the risk with it).
        let cap =
            i128::from(v.equity.max(0)) * i128::from(cf.risk_cap) / i128::from(Ratio::ONE_RAW);
        let (now, after) = (i128::from(v.risk.0), i128::from(v.risk.1));
        if after > cap {
            f.risk = if cap <= now {
                0
            } else {
                frac(cap - now, after - now).min(ONE)
            };
        }
    }
    // The product in the order vol, liquidity, spread (hoisted), margin, drawdown, legs, risk,
    // slippage.
    f.product = mul(
        mul(mul(mul(mul(cf.head, f.margin), f.drawdown), f.legs), f.risk),
        f.slippage,
    );
    if min_scale.raw() == 0 && max_scale.raw() == 0 {
        f.scale = ONE;
        f.flags |= FLAG_NO_BOUNDS;
    } else {
        let (lo, hi) = (of_ratio(min_scale), of_ratio(max_scale));
        f.scale = f.product.clamp(lo, hi.max(lo));
        if f.product < lo {
            f.flags |= FLAG_RAISED_TO_MIN;
        } else if f.product > hi {
            f.flags |= FLAG_CUT_TO_MAX;
        }
    }
    f
}

/// The margin a notional `n` (Money raw) takes at `margin_rate` (Ratio raw) and `leverage`:
/// `n × rate / (max(leverage, 1) × 1e6)`, rounded toward zero, at most `i64::MAX`.
#[inline]
pub fn new_margin(n: i64, margin_rate: i64, leverage: u32) -> i64 {
    if let (Ok(n), Ok(r)) = (u64::try_from(n), u64::try_from(margin_rate)) {
        if let Some(x) = n.checked_mul(r) {
            // Non-negative and within 64 bits: a 64-bit division, the same quotient (the
            // divisor is under 2^52).
            let lev = u64::from(leverage.max(1)) * Ratio::ONE_RAW as u64;
            return (x / lev).min(i64::MAX as u64) as i64;
        }
    }
    let lev = i128::from(leverage.max(1)) * i128::from(Ratio::ONE_RAW);
    (i128::from(n) * i128::from(margin_rate) / lev).min(i128::from(i64::MAX)) as i64
}

/// The manager's bounds in lot steps for a static size: `[⌈s·min⌉, ⌊s·max⌋]` (min and max
/// decimal, so exact). Without bounds: `[s, s]`.
pub fn step_bounds(static_steps: u64, min_scale: Ratio, max_scale: Ratio) -> (u64, u64) {
    if min_scale.raw() == 0 && max_scale.raw() == 0 {
        return (static_steps, static_steps);
    }
    let (min, max) = (
        min_scale.raw().max(0) as u64,
        max_scale.raw().max(min_scale.raw()).max(0) as u64,
    );
    if let (Some(a), Some(b)) = (
        static_steps
            .checked_mul(min)
            .and_then(|a| a.checked_add(RATIO_ONE - 1)),
        static_steps.checked_mul(max),
    ) {
        // Both products fit in a u64: divisions by a constant, as the 128-bit ones give.
        let (lo, hi) = (a / RATIO_ONE, b / RATIO_ONE);
        return (lo, hi.max(lo));
    }
    let s = i128::from(static_steps);
    let one = i128::from(Ratio::ONE_RAW);
    let lo = (s * i128::from(min) + one - 1) / one;
    let hi = s * i128::from(max) / one;
    (lo as u64, hi.max(lo) as u64)
}

/// The adaptive size in lot steps: `static × scale` to the nearest step (ties to even), kept
/// inside [`step_bounds`], then the broker's lot rules (max lot caps; under the min lot, 0 or
/// the min lot as the policy prefers among those inside the bounds, else 0). Returns the steps and
/// [`FLAG_LOT_RULES`] when the lot rules pushed the size outside the bounds.
pub fn bounded_steps(
    static_steps: u64,
    scale: i64,
    min_scale: Ratio,
    max_scale: Ratio,
    limits: LotLimits,
    policy: MinLotPolicy,
) -> (u64, u32) {
    let (lo, hi) = step_bounds(static_steps, min_scale, max_scale);
    let x = u128::from(static_steps) * scale.max(0) as u128;
    let (q, r) = ((x >> 32) as u64, x & 0xFFFF_FFFF);
    let half = 1u128 << 31;
    let mut s = if r > half || (r == half && q & 1 == 1) {
        q + 1
    } else {
        q
    };
    s = s.clamp(lo, hi);
    if s > limits.max_steps {
        s = limits.max_steps;
    } else if s > 0 && s < limits.min_steps {
        // Under the min lot: 0 or the min lot, whichever the policy prefers among those the
        // bounds allow; 0 when neither is allowed (never more than the bounds).
        let (zero_ok, min_ok) = (lo == 0, limits.min_steps <= hi);
        s = match policy {
            MinLotPolicy::RoundUp if min_ok => limits.min_steps,
            MinLotPolicy::Zero if !zero_ok && min_ok => limits.min_steps,
            _ => 0,
        };
    }
    let flag = if s < lo || s > hi { FLAG_LOT_RULES } else { 0 };
    (s, flag)
}

/// The evaluation as it was before the per-cluster hoisting and the 64-bit fast paths, kept
/// to check that they changed no result, bit for bit, over the whole input range.
#[cfg(test)]
mod same_as_before {
    use super::*;
    use proptest::prelude::*;

    fn of_ratio0(r: Ratio) -> i64 {
        ((i128::from(r.raw()) << 32) / i128::from(Ratio::ONE_RAW)) as i64
    }

    fn frac0(num: i128, den: i128) -> i64 {
        if den <= 0 {
            return ONE;
        }
        ((num.max(0) << 32) / den).min(i128::from(i32::MAX) << 32) as i64
    }

    fn clamp0(x: i64, lo: Ratio, hi: Ratio) -> i64 {
        x.clamp(of_ratio0(lo), of_ratio0(hi))
    }

    fn account_factors0(
        c: &ClusterParams,
        sh: &Shared,
        v: &AccountView,
        min_scale: Ratio,
        max_scale: Ratio,
    ) -> AccountFactors {
        let mut f = AccountFactors {
            vol: clamp0(sh.vol, c.vol_min, c.vol_max),
            spread: clamp0(sh.spread, c.spread_min, c.spread_max),
            liquidity: ONE,
            margin: ONE,
            drawdown: ONE,
            legs: ONE,
            // Factors added after this reference: 1 for the inputs the test gives (no
            // slippage probability, no risk), which the product leaves unchanged.
            risk: ONE,
            slippage: ONE,
            ..AccountFactors::default()
        };
        if c.impact_cap.raw() > 0 && sh.sqrt_qv > 0 {
            let impact = mul(of_ratio0(c.impact_y), sh.sqrt_qv);
            if impact > of_ratio0(c.impact_cap) {
                f.liquidity = frac0(i128::from(of_ratio0(c.impact_cap)), i128::from(impact));
            }
        }
        if sh.regime == Regime::Stressed as u8 && c.stressed_margin_level.raw() > 0 {
            let need = i128::from(v.margin_used) + i128::from(v.new_margin);
            let thin = need > 0
                && i128::from(v.equity) * 100 * i128::from(Ratio::ONE_RAW)
                    < need * i128::from(c.stressed_margin_level.raw());
            if thin {
                f.margin = of_ratio0(c.margin_cut);
                f.flags |= FLAG_MARGIN_CUT;
            }
        }
        if v.tolerance > 0 && v.hwm > 0 {
            let dd = i128::from((v.hwm - v.equity).max(0));
            let den = i128::from(v.tolerance) * i128::from(v.hwm);
            let num = den - dd * i128::from(Ratio::ONE_RAW);
            if num <= 0 {
                f.drawdown = 0;
                f.flags |= FLAG_DD_LIMIT;
            } else {
                let x = frac0(num, den);
                let mut p = ONE;
                for _ in 0..c.dd_power {
                    p = mul(p, x);
                }
                f.drawdown = p.max(of_ratio0(c.dd_floor));
            }
        }
        if c.leg_cap.raw() > 0 {
            let cap = i128::from(v.equity.max(0)) * i128::from(c.leg_cap.raw())
                / i128::from(Ratio::ONE_RAW);
            for &(held, add) in &v.legs {
                if add == 0 || (held != 0 && (held > 0) != (add > 0)) {
                    continue;
                }
                let room = cap - i128::from(held.unsigned_abs());
                let g = if room <= 0 {
                    0
                } else {
                    frac0(room, i128::from(add.unsigned_abs())).min(ONE)
                };
                f.legs = f.legs.min(g);
            }
        }
        f.product = [f.vol, f.liquidity, f.spread, f.margin, f.drawdown, f.legs]
            .into_iter()
            .fold(ONE, mul);
        if min_scale.raw() == 0 && max_scale.raw() == 0 {
            f.scale = ONE;
            f.flags |= FLAG_NO_BOUNDS;
        } else {
            let (lo, hi) = (of_ratio0(min_scale), of_ratio0(max_scale));
            f.scale = f.product.clamp(lo, hi.max(lo));
            if f.product < lo {
                f.flags |= FLAG_RAISED_TO_MIN;
            } else if f.product > hi {
                f.flags |= FLAG_CUT_TO_MAX;
            }
        }
        f
    }

    fn step_bounds0(static_steps: u64, min_scale: Ratio, max_scale: Ratio) -> (u64, u64) {
        if min_scale.raw() == 0 && max_scale.raw() == 0 {
            return (static_steps, static_steps);
        }
        let s = i128::from(static_steps);
        let one = i128::from(Ratio::ONE_RAW);
        let lo = (s * i128::from(min_scale.raw().max(0)) + one - 1) / one;
        let hi = s * i128::from(max_scale.raw().max(min_scale.raw()).max(0)) / one;
        (lo as u64, hi.max(lo) as u64)
    }

    /// Typical magnitudes half the time, anything an `i64` holds the other half.
    fn wide(typical: std::ops::Range<i64>) -> impl Strategy<Value = i64> {
        prop_oneof![
            typical,
            any::<i64>(),
            Just(0i64),
            Just(i64::MAX),
            Just(i64::MIN)
        ]
    }

    fn ratio() -> impl Strategy<Value = Ratio> {
        wide(0..3_000_000).prop_map(Ratio)
    }

    /// What `AdaptiveModel::validate` lets through: 0 to 1,000,000.
    fn param() -> impl Strategy<Value = Ratio> {
        const TOP: i64 = 1_000_000 * Ratio::ONE_RAW;
        prop_oneof![0..3_000_000i64, 0..=TOP, Just(0), Just(TOP)].prop_map(Ratio)
    }

    prop_compose! {
        fn cluster()(
            r in proptest::collection::vec(param(), 11), dd_power in 0u32..9,
        ) -> ClusterParams {
            ClusterParams {
                vol_min: r[0].min(r[1]), vol_max: r[0].max(r[1]),
                stressed_margin_level: r[2], margin_cut: r[3], dd_power, dd_floor: r[4],
                leg_cap: r[5], impact_cap: r[6], impact_y: r[7],
                spread_min: r[8].min(r[9]), spread_max: r[8].max(r[9]),
                ..ClusterParams::default()
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn factors_are_bit_identical(
            c in cluster(),
            vol in wide(0..8 * ONE), spread in wide(0..2 * ONE), sqrt_qv in wide(0..4 * ONE),
            regime in 0u8..3,
            equity in wide(-1_000_000_000..1_000_000_000_000),
            hwm in wide(0..2_000_000_000_000),
            tol in wide(0..1_000_000),
            used in wide(0..1_000_000_000_000), new_margin in wide(0..1_000_000_000_000),
            held in wide(-10_000_000_000_000..10_000_000_000_000),
            add in wide(-10_000_000_000_000..10_000_000_000_000),
            held2 in wide(-10_000_000_000_000..10_000_000_000_000),
            at_hwm in any::<bool>(),
            min in ratio(), max in ratio(),
            steps in prop_oneof![0u64..100_000, any::<u64>()],
        ) {
            let equity = if at_hwm { hwm } else { equity };
            // `hwm − equity` is not checked for overflow (both versions): keep to where it
            // does not overflow.
            let equity = if hwm.checked_sub(equity).is_some() { equity } else { hwm / 2 };
            let sh = Shared { sigma: 1, sigma_target: 1, regime, vol, sqrt_qv, spread, slip_ppb: 0 };
            let v = AccountView {
                risk: (0, 0),
                equity,
                hwm,
                tolerance: tol,
                margin_used: used,
                new_margin,
                legs: [(held, add), (held2, add.wrapping_neg())],
            };
            prop_assert_eq!(
                account_factors(&c, &sh, &v, min, max),
                account_factors0(&c, &sh, &v, min, max)
            );
            prop_assert_eq!(step_bounds(steps, min, max), step_bounds0(steps, min, max));
            prop_assert_eq!(of_ratio(min), of_ratio0(min));
        }

        #[test]
        fn frac_is_bit_identical(
            num in prop_oneof![any::<i64>().prop_map(i128::from), any::<i128>()],
            den in prop_oneof![any::<i64>().prop_map(i128::from), any::<i128>(), 1i128..1 << 40],
        ) {
            prop_assert_eq!(frac(num, den), frac0(num, den));
            prop_assert_eq!(frac(num, num), frac0(num, num));
        }
    }
}
