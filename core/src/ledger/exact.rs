//! The two exact operations the ledger is built from: `x × m ÷ d` rounded half-to-even without
//! overflowing `i128`, and the conversion of a quote-currency amount into an account currency.

use crate::num::POW10;

/// `x × m ÷ d`, rounded half-to-even, exact; `d > 0`, `m >= 0`. `None` only if the result
/// does not fit in `i128`.
///
/// Computed as `⌊x/d⌋ × m + (x mod d) × m ÷ d` (Euclidean quotient and remainder), so the
/// intermediate products stay within `i128` whenever `d × m` and the result do: a cost basis of
/// 1e28 times a quantity of 1e15 would overflow a plain `x × m` (1e43), not this.
#[inline]
pub fn mul_div_half_even(x: i128, m: i128, d: i128) -> Option<i128> {
    debug_assert!(d > 0 && m >= 0);
    let q = x.div_euclid(d);
    let r = x.rem_euclid(d);
    let base = q.checked_mul(m)?;
    let t = r.checked_mul(m)?;
    let whole = base.checked_add(t / d)?;
    let rem = t % d;
    // value = whole + rem/d with 0 <= rem < d: round half to even.
    let up = match (2 * rem).cmp(&d) {
        core::cmp::Ordering::Greater => true,
        core::cmp::Ordering::Less => false,
        core::cmp::Ordering::Equal => whole % 2 != 0,
    };
    if up {
        whole.checked_add(1)
    } else {
        Some(whole)
    }
}

/// Scale of a quote-currency amount in the ledger: `Qty` raw × `Price` raw (1e-6 × 1e-8).
pub const QUOTE_SCALE: i128 = 100_000_000_000_000;

/// What converts a quote-currency amount (scale [`QUOTE_SCALE`]) to account micro-units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// Same currency: divide by 1e8.
    Identity,
    /// Multiply by a mid whose `bid + ask` (raw, 1e-8) is this.
    Multiply(i128),
    /// Divide by a mid whose `bid + ask` (raw, 1e-8) is this.
    Divide(i128),
}

impl Rate {
    /// `x` (quote currency at [`QUOTE_SCALE`]) in account micro-units, half-to-even; `None` on
    /// overflow.
    ///
    /// - identity: `x ÷ 1e8`;
    /// - multiply by the mid `(b + a) / 2`: `x × (b + a) ÷ (2 × 1e16)`;
    /// - divide by the mid: `x × 2 ÷ (b + a)`.
    ///
    /// One rounding, at the end.
    #[inline]
    pub fn to_money(self, x: i128) -> Option<i128> {
        let e8 = i128::from(POW10[8]);
        match self {
            Rate::Identity => mul_div_half_even(x, 1, e8),
            Rate::Multiply(s) => mul_div_half_even(x, s, 2 * e8 * e8),
            Rate::Divide(s) => mul_div_half_even(x, 2, s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn half_even_ties() {
        assert_eq!(mul_div_half_even(5, 1, 2), Some(2));
        assert_eq!(mul_div_half_even(7, 1, 2), Some(4));
        assert_eq!(mul_div_half_even(-5, 1, 2), Some(-2));
        assert_eq!(mul_div_half_even(-7, 1, 2), Some(-4));
        assert_eq!(mul_div_half_even(-6, 1, 4), Some(-2));
        assert_eq!(
            mul_div_half_even(10i128.pow(28), 10i128.pow(15), 10i128.pow(15)),
            Some(10i128.pow(28))
        );
    }

    proptest! {
        #[test]
        fn agrees_with_the_wide_product(x in -(1i128 << 90)..(1i128 << 90), m in 0i128..(1 << 30), d in 1i128..(1 << 30)) {
            // x × m fits in i128 here, so the plain formula is the oracle.
            let p = x * m;
            let (q, r) = (p.div_euclid(d), p.rem_euclid(d));
            let want = match (2 * r).cmp(&d) {
                core::cmp::Ordering::Greater => q + 1,
                core::cmp::Ordering::Less => q,
                core::cmp::Ordering::Equal => q + (q & 1),
            };
            prop_assert_eq!(mul_div_half_even(x, m, d), Some(want));
        }
    }
}
