//! One net position and the arithmetic of a fill on it (see the module docs of `ledger`).

use super::exact::mul_div_half_even;
use crate::num::{Money, Price, Qty};

/// A net position of one account in one instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// Net quantity, long positive.
    pub qty: Qty,
    /// Cost basis `Σ qty × px` (same sign as `qty`), at `Qty` raw × `Price` raw.
    pub cost: i128,
    /// Realised P&L booked on this position, account currency.
    pub realised: Money,
    /// Commission charged on its fills.
    pub commission: Money,
    /// Swap charged (none is charged yet: present so statements and the state carry it).
    pub swap: Money,
}

/// What a fill did to a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Step {
    /// Realised P&L in the quote currency at `Qty` raw × `Price` raw.
    pub realised_quote: i128,
    /// Quantity that reduced the position (raw).
    pub closed: i64,
    /// Quantity that opened or added (raw).
    pub opened: i64,
}

impl Position {
    /// Average entry price, half-to-even to 1e-8; `None` when flat.
    pub fn avg_price(&self) -> Option<Price> {
        if self.qty.raw() == 0 {
            return None;
        }
        mul_div_half_even(self.cost, 1, i128::from(self.qty.raw()).abs())
            .map(|v| v.abs())
            .and_then(|v| i64::try_from(v).ok())
            .map(Price)
    }

    /// Applies a fill of signed `dq` at `px` (raw); `None` on overflow (then `self` is
    /// unchanged).
    pub(super) fn apply(&mut self, dq: i64, px: i64) -> Option<Step> {
        let q = self.qty.raw();
        let k = self.cost;
        let mut step = Step::default();
        if dq == 0 {
            return Some(step);
        }
        let (nq, nk) = if q == 0 || (q > 0) == (dq > 0) {
            step.opened = dq.checked_abs()?;
            let nk = k.checked_add(i128::from(dq) * i128::from(px))?;
            (q.checked_add(dq)?, nk)
        } else {
            let r = dq.unsigned_abs().min(q.unsigned_abs());
            let sign = i128::from(q.signum());
            // Closed cost: |K| × r ÷ |q|, half-to-even (exact; r = |q| gives |K| itself).
            let kc = mul_div_half_even(k.abs(), i128::from(r), i128::from(q.unsigned_abs()))?;
            step.realised_quote = sign * (i128::from(r) * i128::from(px) - kc);
            step.closed = r as i64;
            let mut nq = q - q.signum() * r as i64;
            let mut nk = k - sign * kc;
            let rest = dq.unsigned_abs() - r;
            if rest > 0 {
                debug_assert!(nq == 0 && nk == 0);
                step.opened = rest as i64;
                nq = dq.signum() * rest as i64;
                nk = i128::from(nq) * i128::from(px);
            }
            (nq, nk)
        };
        self.qty = Qty(nq);
        self.cost = nk;
        Some(step)
    }
}
