//! The two exact operations the ledger is built from: `x × m ÷ d` rounded half-to-even without
//! overflowing `i128`, and the conversion of a quote-currency amount into an account currency.

use crate::num::POW10;

/// `x × m ÷ d`, rounded half-to-even, exact; `d > 0`, `m >= 0`. `None` only if the result
/// does not fit in `i128`.
///
/// The common case (the product below 2^126, `d` below 2^59, the quotient below 2^52) takes
/// [`mul_div_small`], which needs no 128-bit division; anything else takes
/// [`mul_div_general`]. Both give the same result wherever both apply (tested).
#[inline]
pub fn mul_div_half_even(x: i128, m: i128, d: i128) -> Option<i128> {
    debug_assert!(d > 0 && m >= 0);
    match mul_div_small(x, m, d) {
        Some(v) => Some(v),
        None => mul_div_general(x, m, d),
    }
}

/// Divisors [`mul_div_small_inv`] takes: below 2^59.
const D_MAX: i128 = 1 << 59;

/// `x × m ÷ d` half-to-even when `|x × m| < 2^126`, `0 < d < 2^59` and the quotient is below
/// 2^52; `None` otherwise (then nothing was decided). See [`mul_div_small_inv`].
#[inline]
pub fn mul_div_small(x: i128, m: i128, d: i128) -> Option<i128> {
    if d <= 0 || d >= D_MAX {
        return None;
    }
    mul_div_small_inv(x, m, d, 1.0 / (d as i64 as f64))
}

/// [`mul_div_small`] with `inv`, an approximation of `1 / d` (`1.0 / d as f64` or a
/// constant), given by the caller: no division at all when `d` is a constant or shared.
///
/// Half-to-even is symmetric (`round(−y) = −round(y)`), so it works on `u = |x × m|`. The
/// quotient is estimated in `f64` (`u`, `inv` and the product each rounded once: a relative
/// error below 2^-50, so at most a few units off below 2^52), then made exact with integer
/// arithmetic: `r = u − q·d` is brought into `[0, d)` by stepping `q`, which is the definition
/// of `q = ⌊u/d⌋`, `r = u mod d`, whatever the estimate was (an estimate 8 or more units off,
/// from a poor `inv`, gives `None` rather than a long walk). The rounding then compares `2r`
/// with `d` as [`mul_div_general`] does.
#[inline(always)]
pub fn mul_div_small_inv(x: i128, m: i128, d: i128, inv: f64) -> Option<i128> {
    const TWO64: f64 = 18_446_744_073_709_551_616.0;
    const Q_MAX: f64 = 4_503_599_627_370_496.0; // 2^52
    let ax = x.unsigned_abs();
    let um = m as u128;
    if m < 0 || d <= 0 || d >= D_MAX || ax.leading_zeros() + um.leading_zeros() < 130 {
        return None;
    }
    // |x| < 2^a and m < 2^b with a + b <= 126: the product fits in 126 bits.
    let u = ax * um;
    let d64 = d as i64;
    // The estimate q and r = u − q·d, exact whenever q is within 8 of ⌊u/d⌋ (|r| < 2^62).
    let (q, r) = if u >> 63 == 0 {
        let v = u as i64;
        let qf = v as f64 * inv;
        if !(0.0..Q_MAX).contains(&qf) {
            return None;
        }
        let q = qf as i64;
        // Wrapping: the true r fits in i64 whenever the check below passes, so the wrapped
        // value is the true one.
        (q, v.wrapping_sub(q.wrapping_mul(d64)))
    } else {
        let uf = ((u >> 64) as u64) as f64 * TWO64 + (u as u64) as f64;
        let qf = uf * inv;
        if !(0.0..Q_MAX).contains(&qf) {
            return None;
        }
        let q = qf as i64;
        let r = u as i128 - i128::from(q) * d;
        if r.unsigned_abs() >= 1 << 62 {
            return None;
        }
        (q, r as i64)
    };
    if r <= -(d64 << 3) || r >= d64 << 3 {
        return None;
    }
    let (mut q, mut r) = (q, r);
    while r < 0 {
        q -= 1;
        r += d64;
    }
    while r >= d64 {
        q += 1;
        r -= d64;
    }
    let up = match (2 * r).cmp(&d64) {
        core::cmp::Ordering::Greater => true,
        core::cmp::Ordering::Less => false,
        core::cmp::Ordering::Equal => q & 1 != 0,
    };
    let v = i128::from(q + i64::from(up));
    Some(if x < 0 { -v } else { v })
}

/// `u ÷ d` half-to-even for `u < 2^126`, `0 < d < 2^59`, `inv` an approximation of `1 / d`;
/// `None` when the quotient is 2^52 or more (or `inv` is too far off). Same method as
/// [`mul_div_small_inv`] (an `f64` estimate made exact by the remainder), for callers that
/// hold the dividend already and want an `i64`.
#[inline(always)]
pub fn div_round_u(u: u128, d: i64, inv: f64) -> Option<i64> {
    const TWO64: f64 = 18_446_744_073_709_551_616.0;
    const Q_MAX: f64 = 4_503_599_627_370_496.0; // 2^52
    if u >> 126 != 0 || d <= 0 || d >= 1 << 59 {
        return None;
    }
    let uf = if u >> 63 == 0 {
        u as i64 as f64
    } else {
        ((u >> 64) as u64) as f64 * TWO64 + (u as u64) as f64
    };
    let qf = uf * inv;
    if !(0.0..Q_MAX).contains(&qf) {
        return None;
    }
    let mut q = qf as i64;
    let r = u as i128 - i128::from(q) * i128::from(d);
    let lim = i128::from(d) << 3;
    if r <= -lim || r >= lim {
        return None;
    }
    let mut r = r as i64;
    while r < 0 {
        q -= 1;
        r += d;
    }
    while r >= d {
        q += 1;
        r -= d;
    }
    let up = 2 * r > d || (2 * r == d && q & 1 != 0);
    Some(q + i64::from(up))
}

/// [`div_round_u`] of a signed dividend (half-to-even is symmetric).
#[inline(always)]
pub fn div_round(t: i128, d: i64, inv: f64) -> Option<i64> {
    let v = div_round_u(t.unsigned_abs(), d, inv)?;
    Some(if t < 0 { -v } else { v })
}

/// `x ÷ 1e8` half-to-even (the identity conversion): in `i64` with a constant divisor (a
/// multiplication) when `x` fits, else [`mul_div_half_even`].
#[inline(always)]
pub fn div_e8_half_even(x: i128) -> Option<i128> {
    const E8: u64 = 100_000_000;
    match i64::try_from(x) {
        Ok(v) => {
            let u = v.unsigned_abs();
            let (q, r) = (u / E8, u % E8);
            let up = 2 * r > E8 || (2 * r == E8 && q & 1 != 0);
            let m = i128::from(q + u64::from(up));
            Some(if v < 0 { -m } else { m })
        }
        Err(_) => {
            mul_div_small_inv(x, 1, E8 as i128, 1e-8).or_else(|| mul_div_general(x, 1, E8 as i128))
        }
    }
}

/// Margin of a notional `n` (micro-units): `n × margin_rate ÷ (leverage × 1e6)`, half-to-even,
/// `leverage >= 1`; `inv_leverage` approximates `1 / leverage`. With a margin rate of 1 (raw
/// 1e6) that is `n ÷ leverage`, the same number, so the same rounding, with a divisor that fits
/// in 32 bits.
#[inline(always)]
pub fn margin_half_even(
    n: i128,
    margin_rate: i64,
    leverage: i128,
    inv_leverage: f64,
) -> Option<i128> {
    const ONE: i64 = crate::num::Ratio::ONE_RAW;
    if margin_rate == ONE {
        mul_div_small_inv(n, 1, leverage, inv_leverage).or_else(|| mul_div_general(n, 1, leverage))
    } else {
        mul_div_half_even(n, i128::from(margin_rate), leverage * i128::from(ONE))
    }
}

/// `x × m ÷ d`, rounded half-to-even, exact, for any `x`, `m >= 0`, `d > 0`; `None` only if
/// the result does not fit in `i128`.
///
/// Computed as `⌊x/d⌋ × m + (x mod d) × m ÷ d` (Euclidean quotient and remainder), so the
/// intermediate products stay within `i128` whenever `d × m` and the result do: a cost basis of
/// 1e28 times a quantity of 1e15 would overflow a plain `x × m` (1e43), not this.
#[cold]
#[inline(never)]
pub fn mul_div_general(x: i128, m: i128, d: i128) -> Option<i128> {
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
    #[inline(always)]
    pub fn to_money(self, x: i128) -> Option<i128> {
        self.to_money_inv(x, self.inv())
    }

    /// [`to_money`](Self::to_money) of two amounts at one rate (one reciprocal for both).
    #[inline(always)]
    pub fn to_money2(self, x: i128, y: i128) -> (Option<i128>, Option<i128>) {
        let inv = self.inv();
        (self.to_money_inv(x, inv), self.to_money_inv(y, inv))
    }

    /// An approximation of 1 ÷ the divisor of [`to_money`](Self::to_money).
    #[inline(always)]
    fn inv(self) -> f64 {
        match self {
            Rate::Identity => 1e-8,
            Rate::Multiply(_) => 0.5e-16,
            Rate::Divide(s) if s > 0 && s < D_MAX => 1.0 / (s as i64 as f64),
            Rate::Divide(_) => 0.0,
        }
    }

    #[inline(always)]
    fn to_money_inv(self, x: i128, inv: f64) -> Option<i128> {
        let e16 = 2 * i128::from(POW10[8]) * i128::from(POW10[8]);
        match self {
            Rate::Identity => div_e8_half_even(x),
            Rate::Multiply(s) => {
                mul_div_small_inv(x, s, e16, 0.5e-16).or_else(|| mul_div_general(x, s, e16))
            }
            Rate::Divide(s) => mul_div_small_inv(x, 2, s, inv).or_else(|| mul_div_general(x, 2, s)),
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

    #[test]
    fn small_path_edges() {
        let cases: &[(i128, i128, i128)] = &[
            (0, 0, 1),
            (0, 5, 7),
            (-1, 1, 2),
            (1, 1, 2),
            (3, 1, 2),
            (-3, 1, 2),
            (5, 3, 2),
            (-5, 3, 2),
            (i128::from(i64::MAX), 1, 1),
            (i128::from(i64::MIN), 1, 1),
            (1 << 100, 1 << 25, 3),
            ((1 << 100) + 12345, 1, 1 << 62),
            (-(1 << 110) - 1, 1, i128::from(i64::MAX)),
            (4_503_599_627_370_495, 1, 1),
            (4_503_599_627_370_497, 1, 1),
            (-4_503_599_627_370_497, 2, 2),
            (
                123_456_789_012_345_678_901_234_567,
                217_000_000,
                20_000_000_000_000_000,
            ),
            (-98_765_432_109_876_543_210, 2, 31_000_000_001),
        ];
        for &(x, m, d) in cases {
            if let Some(v) = mul_div_small(x, m, d) {
                assert_eq!(Some(v), mul_div_general(x, m, d), "{x} × {m} ÷ {d}");
            }
            assert_eq!(mul_div_half_even(x, m, d), mul_div_general(x, m, d));
        }
        // Ties at the boundary of the estimate: every residue near a multiple.
        for d in [
            1i128,
            2,
            3,
            7,
            100_000_000,
            20_000_000_000_000_000,
            (1 << 62) + 1,
        ] {
            for k in [0i128, 1, 1 << 20, 1 << 40, (1 << 51) + 3] {
                for off in -3..=3 {
                    for half in [0, d / 2, (d + 1) / 2] {
                        let x = k * d + half + off;
                        for sx in [x, -x] {
                            let want = mul_div_general(sx, 1, d);
                            assert_eq!(mul_div_half_even(sx, 1, d), want, "{sx} ÷ {d}");
                            let inv = 1.0 / d as f64;
                            if let Some(v) = div_round(sx, d as i64, inv) {
                                assert_eq!(Some(i128::from(v)), want, "div_round {sx} ÷ {d}");
                            } else {
                                assert!(k >= 1 << 51 || d >= 1 << 59, "declined {sx} ÷ {d}");
                            }
                            if sx % 2 == 0 {
                                let got = mul_div_small_inv(sx / 2, 2, d, inv);
                                assert!(got.is_none() || got == want, "{sx}/2 × 2 ÷ {d}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn identity_and_margin_shortcuts() {
        let e8 = 100_000_000i128;
        for x in [
            0i128,
            1,
            -1,
            49_999_999,
            50_000_000,
            -50_000_000,
            150_000_000,
            -150_000_000,
            250_000_000,
            i128::from(i64::MAX),
            i128::from(i64::MIN),
            i128::from(i64::MAX) + 1,
            i128::from(i64::MIN) - 50_000_000,
            (1 << 100) + 50_000_000,
        ] {
            assert_eq!(div_e8_half_even(x), mul_div_general(x, 1, e8), "{x}");
        }
        for (n, rate, lev) in [
            (150, 1_000_000, 100),
            (250, 1_000_000, 100),
            (-250, 1_000_000, 100),
            (12_345_678_901, 1_000_000, 30),
            (12_345_678_901, 50_000, 30),
            (1 << 90, 1_000_000, 3),
        ] {
            let want = mul_div_general(n, i128::from(rate), lev * 1_000_000);
            assert_eq!(margin_half_even(n, rate, lev, 1.0 / lev as f64), want);
        }
    }

    proptest! {
        #[test]
        fn div_round_agrees_with_general(
            t in any::<i128>(),
            shift in 0u32..127,
            d in prop_oneof![1i64..1000, Just(100_000_000), Just(20_000_000_000_000_000), 1i64..(1 << 59)],
        ) {
            let t = t >> shift;
            if let Some(v) = div_round(t, d, 1.0 / d as f64) {
                prop_assert_eq!(Some(i128::from(v)), mul_div_general(t, 1, i128::from(d)));
            }
            if let Some(v) = div_round_u(t.unsigned_abs(), d, 1.0 / d as f64) {
                prop_assert_eq!(
                    Some(i128::from(v)),
                    mul_div_general(t.unsigned_abs() as i128, 1, i128::from(d))
                );
            }
        }

        #[test]
        fn shortcuts_agree_with_general(
            x in any::<i128>(),
            shift in 0u32..127,
            rate in prop_oneof![Just(1_000_000i64), 1i64..100_000_000],
            lev in 1i128..=i128::from(u32::MAX),
            s in 1i128..(1 << 45),
        ) {
            let x = x >> shift;
            let e8 = 100_000_000i128;
            prop_assert_eq!(div_e8_half_even(x), mul_div_general(x, 1, e8));
            prop_assert_eq!(
                margin_half_even(x, rate, lev, 1.0 / lev as f64),
                mul_div_general(x, i128::from(rate), lev * 1_000_000)
            );
            prop_assert_eq!(Rate::Multiply(s).to_money(x), mul_div_general(x, s, 2 * e8 * e8));
            prop_assert_eq!(Rate::Divide(s).to_money(x), mul_div_general(x, 2, s));
        }

        #[test]
        fn small_path_agrees_with_general(
            x in any::<i128>(),
            shift in 0u32..127,
            m in prop_oneof![Just(0i128), Just(1), Just(2), 0i128..(1 << 40), any::<u64>().prop_map(i128::from)],
            d in prop_oneof![1i128..1000, Just(100_000_000), Just(20_000_000_000_000_000), 1i128..=i128::from(i64::MAX)],
        ) {
            let x = x >> shift;
            if let Some(v) = mul_div_small(x, m, d) {
                prop_assert_eq!(Some(v), mul_div_general(x, m, d));
            }
            prop_assert_eq!(mul_div_half_even(x, m, d), mul_div_general(x, m, d));
        }

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
