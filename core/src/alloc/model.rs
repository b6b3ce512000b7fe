//! The static models of classic MAM, reading [`AccountColumns`].
//!
//! Two families:
//!
//! - **Proportional** ([`StaticModel::Equity`], [`Balance`](StaticModel::Balance),
//!   [`FreeMargin`](StaticModel::FreeMargin), [`Percent`](StaticModel::Percent)): each account
//!   has an integer weight and the master size is apportioned exactly by
//!   [`apportion`](super::apportion()): allocated + unallocated = requested, always.
//!   Weights are the raw micro-unit amounts (negative equity, balance or free margin weigh 0);
//!   percent weights are the raw percent (1e-6 %) with a sink of `100 % − Σ percent` that stays
//!   unallocated. If the percents of the eligible accounts sum past 100 %, they are used as plain
//!   proportional weights (the master is shared in their ratio) and
//!   [`Allocation::oversubscribed`] says so.
//! - **Per-account targets** ([`Multiplier`](StaticModel::Multiplier),
//!   [`Fixed`](StaticModel::Fixed), [`Risk`](StaticModel::Risk),
//!   [`Ratio`](StaticModel::Ratio)): each account's size is computed on its own, exactly as a
//!   fraction of lot steps, then rounded to a step: to the **nearest step, ties to even** for
//!   multiplier, fixed and ratio (no bias up or down over many accounts), **down** for risk
//!   (rounding a risk size up would risk more than the account's fraction). Then the max lot
//!   caps and the min-lot policy apply. [`Allocation::demand`] is Σ of the rounded sizes, and
//!   `demand − allocated` (what the limits removed) is reported as unallocated. The master
//!   block for these models is Σ of the children, so block and per-account mode coincide.
//!
//! Accounts without [`FLAG_ACTIVE`], accounts flagged [`FLAG_CLOSE_ONLY`] and accounts a loss
//! limit holds ([`FLAG_LIMIT_CLOSE_ONLY_SET`]) get nothing on opens (their weight and target
//! are 0).

use super::apportion::{apportion_summed, ApportionParams, Scratch};
use super::{check_len, AllocError, LotLimits, MinLotPolicy, Mode};
use crate::account::{AccountColumns, FLAG_ACTIVE, FLAG_CLOSE_ONLY, FLAG_LIMIT_CLOSE_ONLY_SET};
use crate::num::{div_round_i128, Lots, Money, Price, Qty, Ratio, Rounding, POW10};

/// Raw value of 100 % in a [`Ratio`].
pub const HUNDRED_PERCENT: u64 = 100 * Ratio::ONE_RAW as u64;

/// True if an account with these flags may receive an opening order.
#[inline]
pub fn can_open(flags: u16) -> bool {
    flags & (FLAG_ACTIVE | FLAG_CLOSE_ONLY | FLAG_LIMIT_CLOSE_ONLY_SET) == FLAG_ACTIVE
}

/// Which column a [`StaticModel::Ratio`] scales by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// The account's balance.
    Balance,
    /// The account's equity.
    Equity,
}

/// A static allocation model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaticModel {
    /// In proportion to equity.
    Equity,
    /// In proportion to balance.
    Balance,
    /// In proportion to free margin (equity − margin used).
    FreeMargin,
    /// Each account's `percent` of the master (0-100); the rest stays unallocated.
    Percent,
    /// Master lots × the account's `multiplier`.
    Multiplier,
    /// The account's `fixed_lots`, whatever the master size.
    Fixed,
    /// Lots such that a stop-loss `sl_distance` away loses `risk_fraction × equity`.
    Risk {
        /// Stop-loss distance in price (e.g. 25 pips of EURUSD = 0.0025). Must be positive.
        sl_distance: Price,
        /// Value of one unit of the quote currency in the account currency (1 for XXXUSD with
        /// a USD account). Must be positive.
        quote_to_account: Price,
        /// Base units per lot of the symbol ([`SymbolSpec::contract_size`](crate::symbol::SymbolSpec)).
        contract_size: Qty,
    },
    /// Master lots × `multiplier` × the account's basis / `reference` (the master account's
    /// balance or equity): the "lot ratio by balance/equity" model.
    Ratio {
        /// Balance or equity.
        basis: Basis,
        /// The master account's amount in the same currency. Must be positive.
        reference: Money,
    },
}

impl StaticModel {
    /// True for the models whose children always sum with the unallocated part to the master.
    pub fn is_proportional(&self) -> bool {
        matches!(
            self,
            StaticModel::Equity
                | StaticModel::Balance
                | StaticModel::FreeMargin
                | StaticModel::Percent
        )
    }

    /// True for the models that read equity or margin (which move with every quote).
    pub fn reads_equity(&self) -> bool {
        matches!(
            self,
            StaticModel::Equity
                | StaticModel::FreeMargin
                | StaticModel::Risk { .. }
                | StaticModel::Ratio {
                    basis: Basis::Equity,
                    ..
                }
        )
    }

    /// The name `mam allocate --model` uses.
    pub fn name(&self) -> &'static str {
        match self {
            StaticModel::Equity => "equity",
            StaticModel::Balance => "balance",
            StaticModel::FreeMargin => "free-margin",
            StaticModel::Percent => "percent",
            StaticModel::Multiplier => "multiplier",
            StaticModel::Fixed => "fixed",
            StaticModel::Risk { .. } => "risk",
            StaticModel::Ratio {
                basis: Basis::Balance,
                ..
            } => "balance-ratio",
            StaticModel::Ratio {
                basis: Basis::Equity,
                ..
            } => "equity-ratio",
        }
    }
}

/// One master order to allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    /// Master size (a multiple of the lot step).
    pub lots: Lots,
    /// The model.
    pub model: StaticModel,
    /// Sizes under the min lot.
    pub policy: MinLotPolicy,
    /// Block or per-account.
    pub mode: Mode,
    /// Tie-break cursor (see [`apportion`](super::apportion())).
    pub rotation: u64,
}

/// Totals of one allocation, in lot steps. Per-account steps are in the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Allocation {
    /// Master size.
    pub requested: u64,
    /// What the model asked for: `requested` for proportional models, Σ of the rounded
    /// per-account sizes otherwise.
    pub demand: u64,
    /// Σ of the children.
    pub allocated: u64,
    /// `demand − allocated`: for proportional models the sink's share plus, in per-account
    /// mode, what the limits removed (negative when round-ups added more); for target models
    /// what the limits removed or added.
    pub unallocated: i64,
    /// Steps of the percent model's unallocated share (part of `unallocated`).
    pub sink: u64,
    /// Leftover steps dealt by largest remainder: advance the rotation cursor by this.
    pub dealt: u64,
    /// Percent model: the eligible percents summed past 100 % and were scaled down.
    pub oversubscribed: bool,
}

/// Buffers reused across orders (weights and apportionment scratch).
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    w: Vec<u64>,
    scratch: Scratch,
}

impl Workspace {
    /// Buffers for up to `n` accounts: with them, [`allocate`] does not allocate.
    pub fn with_capacity(n: usize) -> Self {
        Workspace {
            w: Vec::with_capacity(n),
            scratch: Scratch::with_capacity(n),
        }
    }
}

/// Allocates `order` over the accounts into `out` (lot steps, one entry per account).
pub fn allocate(
    cols: &AccountColumns<'_>,
    limits: LotLimits,
    order: &Order,
    out: &mut [u64],
    ws: &mut Workspace,
) -> Result<Allocation, AllocError> {
    let n = cols.len();
    check_len("out", out.len(), n)?;
    let requested = limits.steps_of(order.lots)?;
    if !order.model.is_proportional() {
        let demand = targets(cols, limits, order, out)?;
        let allocated: u64 = out.iter().sum();
        return Ok(Allocation {
            requested,
            demand,
            allocated,
            unallocated: demand as i64 - allocated as i64,
            ..Allocation::default()
        });
    }
    let ws_sum = weights(cols, order.model, &mut ws.w)?;
    let params = ApportionParams {
        total: requested,
        limits,
        policy: order.policy,
        mode: order.mode,
        rotation: order.rotation,
        sink_weight: ws_sum.sink,
    };
    let o = apportion_summed(&ws.w, ws_sum.sum, &params, out, &mut ws.scratch)?;
    Ok(Allocation {
        requested,
        demand: requested,
        allocated: o.allocated,
        unallocated: o.unallocated,
        sink: o.sink,
        dealt: o.dealt,
        oversubscribed: ws_sum.oversubscribed,
    })
}

/// The weights of a proportional model, summarised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WeightSum {
    /// Σ of the accounts' weights (the sink not included).
    pub sum: u128,
    /// Weight of the unallocated share (percent model: 100 % − Σ percent).
    pub sink: u64,
    /// Percent model: the eligible percents summed past 100 %.
    pub oversubscribed: bool,
}

/// Fills `w` with the weights of a proportional model (one pass, summing as it goes).
pub fn weights(
    cols: &AccountColumns<'_>,
    model: StaticModel,
    w: &mut Vec<u64>,
) -> Result<WeightSum, AllocError> {
    // All ones for an account that may open, else zero: the weight is masked, not branched on.
    #[inline(always)]
    fn mask(flags: u16) -> u64 {
        0u64.wrapping_sub(u64::from(can_open(flags)))
    }
    #[inline(always)]
    fn fill(w: &mut [u64], flags: &[u16], vals: impl Iterator<Item = i64>) -> u128 {
        // The sum in two 32-bit halves, each in a u64 that cannot overflow below 2^32
        // accounts: a carry-free loop the compiler vectorises.
        let (mut lo, mut hi) = (0u64, 0u64);
        for ((x, &fl), v) in w.iter_mut().zip(flags).zip(vals) {
            let v = (v.max(0) as u64) & mask(fl);
            *x = v;
            lo += v & 0xFFFF_FFFF;
            hi += v >> 32;
        }
        (u128::from(hi) << 32) + u128::from(lo)
    }
    if w.len() != cols.len() {
        w.clear();
        w.resize(cols.len(), 0);
    }
    let sum = match model {
        StaticModel::Equity => fill(w, cols.flags, cols.equity.iter().map(|m| m.raw())),
        StaticModel::Balance => fill(w, cols.flags, cols.balance.iter().map(|m| m.raw())),
        StaticModel::FreeMargin => fill(
            w,
            cols.flags,
            cols.equity
                .iter()
                .zip(cols.margin_used)
                .map(|(e, m)| e.raw().saturating_sub(m.raw())),
        ),
        StaticModel::Percent => {
            let mut sum: u128 = 0;
            for (i, (p, &fl)) in cols.percent.iter().zip(cols.flags).enumerate() {
                if p.raw() < 0 || p.raw() as u64 > HUNDRED_PERCENT {
                    return Err(bad(cols, i, format!("percent {p} outside 0-100")));
                }
                w[i] = p.raw() as u64 & mask(fl);
                sum += u128::from(w[i]);
            }
            let hundred = u128::from(HUNDRED_PERCENT);
            return Ok(WeightSum {
                sum,
                sink: hundred.saturating_sub(sum) as u64,
                oversubscribed: sum > hundred,
            });
        }
        _ => {
            return Err(AllocError::BadRequest(format!(
                "model {} is not proportional",
                model.name()
            )))
        }
    };
    Ok(WeightSum {
        sum,
        ..WeightSum::default()
    })
}

/// Per-account target models: fills `out` with each account's rounded and limited size and
/// returns Σ of the rounded sizes before the limits.
#[allow(clippy::needless_range_loop)] // parallel columns indexed together
pub fn targets(
    cols: &AccountColumns<'_>,
    limits: LotLimits,
    order: &Order,
    out: &mut [u64],
) -> Result<u64, AllocError> {
    let step = i128::from(limits.step.raw());
    let lots = i128::from(order.lots.raw());
    let one_ratio = i128::from(Ratio::ONE_RAW);
    let overflow = || AllocError::Num(crate::num::NumError::Overflow("model target"));
    let mul = |a: i128, b: i128| a.checked_mul(b).ok_or_else(overflow);
    // The denominator of the risk model, shared by every account:
    // steps = eq × rf × 10^14 / (sl × contract × conv × step), see docs/allocation.md.
    let risk_den = match order.model {
        StaticModel::Risk {
            sl_distance,
            quote_to_account,
            contract_size,
        } => {
            if sl_distance.raw() <= 0 {
                return Err(AllocError::BadRequest(
                    "risk model: the stop-loss distance must be positive".into(),
                ));
            }
            if quote_to_account.raw() <= 0 {
                return Err(AllocError::BadRequest(
                    "risk model: the quote-to-account conversion must be positive".into(),
                ));
            }
            if contract_size.raw() <= 0 {
                return Err(AllocError::BadRequest(
                    "risk model: the contract size must be positive".into(),
                ));
            }
            let d = mul(
                i128::from(sl_distance.raw()),
                i128::from(quote_to_account.raw()),
            )?;
            Some(mul(mul(d, i128::from(contract_size.raw()))?, step)?)
        }
        _ => None,
    };
    let mut demand: u64 = 0;
    for i in 0..cols.len() {
        if !can_open(cols.flags[i]) {
            out[i] = 0;
            continue;
        }
        let steps: i128 = match order.model {
            StaticModel::Multiplier => {
                let m = i128::from(cols.multiplier[i].raw());
                if m < 0 {
                    return Err(bad(
                        cols,
                        i,
                        format!("multiplier {} is negative", cols.multiplier[i]),
                    ));
                }
                div_round_i128(mul(lots, m)?, one_ratio * step, Rounding::HalfEven)
            }
            StaticModel::Fixed => {
                let f = i128::from(cols.fixed_lots[i].raw());
                if f < 0 {
                    return Err(bad(
                        cols,
                        i,
                        format!("fixed_lots {} is negative", cols.fixed_lots[i]),
                    ));
                }
                div_round_i128(f, step, Rounding::HalfEven)
            }
            StaticModel::Ratio { basis, reference } => {
                if reference.raw() <= 0 {
                    return Err(AllocError::BadRequest(
                        "ratio model: the reference amount must be positive".into(),
                    ));
                }
                let m = i128::from(cols.multiplier[i].raw());
                if m < 0 {
                    return Err(bad(
                        cols,
                        i,
                        format!("multiplier {} is negative", cols.multiplier[i]),
                    ));
                }
                let b = match basis {
                    Basis::Balance => cols.balance[i],
                    Basis::Equity => cols.equity[i],
                };
                let b = i128::from(b.raw().max(0));
                let num = mul(mul(lots, m)?, b)?;
                let den = mul(one_ratio * step, i128::from(reference.raw()))?;
                div_round_i128(num, den, Rounding::HalfEven)
            }
            StaticModel::Risk { .. } => {
                let eq = i128::from(cols.equity[i].raw().max(0));
                let rf = i128::from(cols.risk_fraction[i].raw());
                if !(0..=one_ratio).contains(&rf) {
                    return Err(bad(
                        cols,
                        i,
                        format!("risk_fraction {} outside 0-1", cols.risk_fraction[i]),
                    ));
                }
                let den = risk_den.unwrap_or(1);
                let num = mul(mul(eq, rf)?, RISK_SCALE)?;
                div_round_i128(num, den, Rounding::Floor)
            }
            _ => unreachable!("proportional models are apportioned, not targeted"),
        };
        let steps = u64::try_from(steps).map_err(|_| overflow())?;
        demand = demand.checked_add(steps).ok_or_else(overflow)?;
        out[i] = limit(steps, limits, order.policy);
    }
    Ok(demand)
}

/// Applies max lot and the min-lot policy to one size.
#[inline]
pub fn limit(steps: u64, limits: LotLimits, policy: MinLotPolicy) -> u64 {
    if steps > limits.max_steps {
        limits.max_steps
    } else if steps > 0 && steps < limits.min_steps {
        match policy {
            MinLotPolicy::Zero => 0,
            MinLotPolicy::RoundUp => limits.min_steps,
        }
    } else {
        steps
    }
}

fn bad(cols: &AccountColumns<'_>, i: usize, why: String) -> AllocError {
    AllocError::BadAccount {
        account: cols.record(i).id_str().to_string(),
        index: i,
        why,
    }
}

const RISK_SCALE: i128 = POW10[14] as i128;
