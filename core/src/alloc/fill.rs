//! Block fills allocated back to the accounts, incrementally.
//!
//! A block order for `Σ targetᵢ` steps may fill in several increments. Each increment is
//! apportioned **on its own** over the accounts in proportion to their targets (largest
//! remainder, rotating tie-break), capped at each account's remaining target; steps a cap frees
//! are apportioned again over the accounts with room left. Allocations only ever add, so no
//! account gives back quantity (the Alabama paradox of re-apportioning a growing cumulative
//! total cannot happen), and when the block is complete every account holds exactly its target.
//!
//! An LP may fill a quantity that is not a whole number of lot steps; the sub-step part waits
//! in [`BlockFill::pending`] until later fills complete a step (it is reported, never dropped).
//!
//! **Price.** Every account gets the block's average price `Σ qty × px / Σ qty`, computed
//! exactly in `i128` and rounded half-to-even to the [`Price`] scale (1e-8).
//! **Money.** Each account's notional is `qtyᵢ × avg_px` rounded half-to-even to the micro-unit;
//! the block notional is `Σ qty × px` of the fills, rounded the same way once. The difference
//! is [`Settlement::residual`]: Σ account notionals + residual = block notional, exactly. It
//! holds the per-account rounding (at most half a micro-unit each), the average price's rounding
//! and the value of any pending sub-step quantity.

use super::apportion::{apportion, ApportionParams, Scratch};
use super::{check_len, AllocError, LotLimits, MinLotPolicy, Mode};
use crate::num::{div_round_i128, Lots, Money, NumError, Price, Qty, Rounding, POW10};

/// What one increment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Increment {
    /// Whole steps allocated by this increment.
    pub steps: u64,
    /// Sub-step quantity waiting for later fills.
    pub pending: Qty,
    /// Leftover steps dealt by remainder (advance the rotation cursor by this).
    pub dealt: u64,
}

/// Average price and money of the fills so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settlement {
    /// The block's average price (half-even to 1e-8).
    pub avg_px: Price,
    /// `Σ qty × px` of every fill, half-even to the micro-unit.
    pub block_notional: Money,
    /// Block notional − Σ account notionals.
    pub residual: Money,
}

/// The fill state of one block order.
#[derive(Debug, Clone)]
pub struct BlockFill {
    target: Vec<u64>,
    filled: Vec<u64>,
    target_total: u64,
    filled_total: u64,
    step_qty: Qty,
    pending: Qty,
    fill_qty: i128,
    fill_cost: i128,
    sub: Vec<u64>,
    tmp: Vec<u64>,
}

impl BlockFill {
    /// A block whose accounts should end with `target` steps each; `step_qty` is one lot step
    /// in base units (EURUSD 0.01 lot: 1,000 units).
    pub fn new(target: Vec<u64>, step_qty: Qty) -> Result<Self, AllocError> {
        if step_qty.raw() <= 0 {
            return Err(AllocError::BadRequest(
                "step quantity must be positive".into(),
            ));
        }
        let total = target
            .iter()
            .try_fold(0u64, |a, &t| a.checked_add(t))
            .ok_or(AllocError::Num(NumError::Overflow("block target")))?;
        let n = target.len();
        Ok(BlockFill {
            filled: vec![0; n],
            sub: Vec::with_capacity(n),
            tmp: vec![0; n],
            target,
            target_total: total,
            filled_total: 0,
            step_qty,
            pending: Qty::ZERO,
            fill_qty: 0,
            fill_cost: 0,
        })
    }

    /// Each account's target steps.
    pub fn target(&self) -> &[u64] {
        &self.target
    }
    /// Each account's filled steps.
    pub fn filled(&self) -> &[u64] {
        &self.filled
    }
    /// Σ targets.
    pub fn target_total(&self) -> u64 {
        self.target_total
    }
    /// Σ filled.
    pub fn filled_total(&self) -> u64 {
        self.filled_total
    }
    /// Sub-step quantity received but not yet allocated.
    pub fn pending(&self) -> Qty {
        self.pending
    }
    /// True when every account holds its target.
    pub fn is_complete(&self) -> bool {
        self.filled_total == self.target_total
    }

    /// Allocates a fill of `qty` at `px`, writing each account's new steps into `add`.
    /// Refuses (and changes nothing) a non-positive quantity or price, or a fill past the block.
    #[allow(clippy::needless_range_loop)] // parallel columns indexed together
    pub fn apply(
        &mut self,
        qty: Qty,
        px: Price,
        rotation: u64,
        add: &mut [u64],
        scratch: &mut Scratch,
    ) -> Result<Increment, AllocError> {
        let n = self.target.len();
        check_len("add", add.len(), n)?;
        if qty.raw() <= 0 || px.raw() <= 0 {
            return Err(AllocError::BadRequest(format!(
                "fill {qty} @ {px}: quantity and price must be positive"
            )));
        }
        let waiting = self.pending.checked_add(qty)?;
        let steps = (waiting.raw() / self.step_qty.raw()) as u64;
        let room = self.target_total - self.filled_total;
        if steps > room {
            return Err(AllocError::BadRequest(format!(
                "fill {qty} exceeds the block: {steps} steps arrive, {room} remain"
            )));
        }
        let cost = self
            .fill_cost
            .checked_add(i128::from(qty.raw()) * i128::from(px.raw()))
            .ok_or(AllocError::Num(NumError::Overflow("fill cost")))?;
        add.fill(0);
        let mut dealt = 0;
        let mut left = steps;
        let mut first = true;
        while left > 0 {
            // Weights: the targets of accounts with room (all accounts on the first round,
            // since room is only taken away by caps).
            self.sub.clear();
            self.sub.extend(
                self.target
                    .iter()
                    .zip(&self.filled)
                    .zip(add.iter())
                    .map(|((&t, &f), &a)| if f + a < t { t } else { 0 }),
            );
            let params = ApportionParams {
                total: left,
                limits: LotLimits {
                    step: Lots(1),
                    min_steps: 1,
                    max_steps: u64::MAX,
                },
                policy: MinLotPolicy::Zero,
                mode: Mode::PerAccount,
                rotation: rotation.wrapping_add(dealt),
                sink_weight: 0,
            };
            let o = apportion(&self.sub, &params, &mut self.tmp, scratch)?;
            if first {
                dealt = o.dealt;
                first = false;
            }
            let mut placed = 0;
            for i in 0..n {
                let cap = self.target[i] - self.filled[i] - add[i];
                let x = self.tmp[i].min(cap);
                add[i] += x;
                placed += x;
            }
            if placed == 0 {
                // Cannot happen while room >= left; refuse rather than loop.
                return Err(AllocError::BadRequest("fill could not be placed".into()));
            }
            left -= placed;
        }
        for (f, &a) in self.filled.iter_mut().zip(add.iter()) {
            *f += a;
        }
        self.filled_total += steps;
        self.pending = Qty(waiting.raw() % self.step_qty.raw());
        self.fill_cost = cost;
        self.fill_qty += i128::from(qty.raw());
        Ok(Increment {
            steps,
            pending: self.pending,
            dealt,
        })
    }

    /// The block's average price so far (half-even to 1e-8); `None` before any fill.
    pub fn avg_price(&self) -> Option<Price> {
        if self.fill_qty == 0 {
            return None;
        }
        let p = div_round_i128(self.fill_cost, self.fill_qty, Rounding::HalfEven);
        i64::try_from(p).ok().map(Price)
    }

    /// Each account's notional at the average price into `notional`, and the residual.
    pub fn settle(&self, notional: &mut [Money]) -> Result<Settlement, AllocError> {
        check_len("notional", notional.len(), self.filled.len())?;
        let avg_px = self.avg_price().unwrap_or(Price::ZERO);
        let block = div_round_i128(
            self.fill_cost,
            i128::from(POW10[Price::DECIMALS as usize]),
            Rounding::HalfEven,
        );
        let block_notional =
            Money(i64::try_from(block).map_err(|_| NumError::Overflow("block notional"))?);
        let mut sum = Money::ZERO;
        for (m, &f) in notional.iter_mut().zip(&self.filled) {
            let q = self.step_qty.checked_mul_int(f as i64)?;
            *m = Money::notional(q, avg_px, Rounding::HalfEven)?;
            sum = sum.checked_add(*m)?;
        }
        Ok(Settlement {
            avg_px,
            block_notional,
            residual: block_notional.checked_sub(sum)?,
        })
    }
}
