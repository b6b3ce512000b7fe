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

/// A [`Ratio`] as factor bits (rounded down).
#[inline]
pub fn of_ratio(r: Ratio) -> i64 {
    ((i128::from(r.raw()) << 32) / i128::from(Ratio::ONE_RAW)) as i64
}

/// `num / den` as factor bits, clamped to `[0, 2^31)`; `den ≤ 0` gives `ONE`.
#[inline]
pub fn frac(num: i128, den: i128) -> i64 {
    if den <= 0 {
        return ONE;
    }
    ((num.max(0) << 32) / den).min(i128::from(i32::MAX) << 32) as i64
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

/// The factors of one account of cluster `c`.
pub fn account_factors(
    c: &ClusterParams,
    sh: &Shared,
    v: &AccountView,
    min_scale: Ratio,
    max_scale: Ratio,
) -> AccountFactors {
    let mut f = AccountFactors {
        vol: clamp_r(sh.vol, c.vol_min, c.vol_max),
        spread: clamp_r(sh.spread, c.spread_min, c.spread_max),
        liquidity: ONE,
        margin: ONE,
        drawdown: ONE,
        legs: ONE,
        risk: ONE,
        slippage: ONE,
        ..AccountFactors::default()
    };
    if c.slip_cut.raw() > 0 && sh.slip_ppb > 0 {
        // 1 − cut × p, p in ppb.
        let cut = i128::from(c.slip_cut.raw()) * i128::from(sh.slip_ppb.min(PPB));
        f.slippage = frac(
            i128::from(Ratio::ONE_RAW) * i128::from(PPB) - cut,
            i128::from(Ratio::ONE_RAW) * i128::from(PPB),
        );
    }
    if c.risk_cap.raw() > 0 && v.risk.1 > v.risk.0 {
        // Marginal: scale the trade so the risk stays under cap × equity (linear in the
        // trade's size between the risk now and the risk with it).
        let cap =
            i128::from(v.equity.max(0)) * i128::from(c.risk_cap.raw()) / i128::from(Ratio::ONE_RAW);
        let (now, after) = (i128::from(v.risk.0), i128::from(v.risk.1));
        if after > cap {
            f.risk = if cap <= now {
                0
            } else {
                frac(cap - now, after - now).min(ONE)
            };
        }
    }
    if c.impact_cap.raw() > 0 && sh.sqrt_qv > 0 {
        // Expected impact in sigmas: Y·√(Q/V); scale so it stays under the cap.
        let impact = mul(of_ratio(c.impact_y), sh.sqrt_qv);
        if impact > of_ratio(c.impact_cap) {
            f.liquidity = frac(i128::from(of_ratio(c.impact_cap)), i128::from(impact));
        }
    }
    if sh.regime == Regime::Stressed as u8 && c.stressed_margin_level.raw() > 0 {
        // Margin level after the trade, percent: equity / (used + new) × 100.
        let need = i128::from(v.margin_used) + i128::from(v.new_margin);
        let thin = need > 0
            && i128::from(v.equity) * 100 * i128::from(Ratio::ONE_RAW)
                < need * i128::from(c.stressed_margin_level.raw());
        if thin {
            f.margin = of_ratio(c.margin_cut);
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
            let x = frac(num, den);
            let mut p = ONE;
            for _ in 0..c.dd_power {
                p = mul(p, x);
            }
            f.drawdown = p.max(of_ratio(c.dd_floor));
        }
    }
    if c.leg_cap.raw() > 0 {
        let cap =
            i128::from(v.equity.max(0)) * i128::from(c.leg_cap.raw()) / i128::from(Ratio::ONE_RAW);
        for &(held, add) in &v.legs {
            if add == 0 || (held != 0 && (held > 0) != (add > 0)) {
                continue; // nothing added, or a hedge: it lowers the leg's exposure
            }
            let room = cap - i128::from(held.unsigned_abs());
            let g = if room <= 0 {
                0
            } else {
                frac(room, i128::from(add.unsigned_abs())).min(ONE)
            };
            f.legs = f.legs.min(g);
        }
    }
    f.product = [
        f.vol,
        f.liquidity,
        f.spread,
        f.margin,
        f.drawdown,
        f.legs,
        f.risk,
        f.slippage,
    ]
    .into_iter()
    .fold(ONE, mul);
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

/// The manager's bounds in lot steps for a static size: `[⌈s·min⌉, ⌊s·max⌋]` (min and max
/// decimal, so exact). Without bounds: `[s, s]`.
pub fn step_bounds(static_steps: u64, min_scale: Ratio, max_scale: Ratio) -> (u64, u64) {
    if min_scale.raw() == 0 && max_scale.raw() == 0 {
        return (static_steps, static_steps);
    }
    let s = i128::from(static_steps);
    let one = i128::from(Ratio::ONE_RAW);
    let lo = (s * i128::from(min_scale.raw().max(0)) + one - 1) / one;
    let hi = s * i128::from(max_scale.raw().max(min_scale.raw()).max(0)) / one;
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
