//! Exact decimal numbers: scaled `i64` newtypes whose precision is part of the type.
//!
//! Money, prices and quantities are decimal, so they are never held in binary floating point
//! nor in the `fixed` crate's binary fractions (which cannot hold 0.01 exactly). Each type is an
//! `i64` count of `10^-DECIMALS` units:
//!
//! | type | decimals | unit | range |
//! |---|---|---|---|
//! | [`Qty`] | 6 | 1e-6 of a base unit (FX: 1 lot = 100,000 units) | ±9.2e12 units |
//! | [`Price`] | 8 | 1e-8 of the quote currency | ±9.2e10 (JPY, BTC fit) |
//! | [`Money`] | 6 | micro-units of the account currency | ±9.2e12 |
//! | [`Lots`] | 4 | 1e-4 lot | ±9.2e14 lots |
//! | [`Ratio`] | 6 | 1e-6 (multipliers, percents, risk fractions as entered) | ±9.2e12 |
//!
//! Arithmetic is checked: overflow is an error ([`NumError::Overflow`]), never a wrap.
//! Conversions that lose digits take a [`Rounding`] and say so in their name.

use core::fmt;
use core::str::FromStr;

use bytemuck::{Pod, Zeroable};
use thiserror::Error;

/// What went wrong with a number.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NumError {
    /// The result does not fit in the type.
    #[error("arithmetic overflow in {0}")]
    Overflow(&'static str),
    /// Division by zero.
    #[error("division by zero in {0}")]
    DivByZero(&'static str),
    /// The text is not a decimal number.
    #[error("`{text}` is not a decimal number: {why}")]
    Parse {
        /// The text that was refused.
        text: String,
        /// Why it was refused.
        why: &'static str,
    },
    /// The text has more decimals than the type holds, and parsing is exact.
    #[error("`{text}` has more than {max} decimals")]
    TooPrecise {
        /// The text that was refused.
        text: String,
        /// How many decimals the type holds.
        max: u32,
    },
}

/// How a conversion that drops digits rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rounding {
    /// Toward negative infinity.
    Floor,
    /// Toward positive infinity.
    Ceil,
    /// Toward zero.
    TowardZero,
    /// To nearest, ties away from zero (the schoolbook rule).
    HalfAwayFromZero,
    /// To nearest, ties to even (banker's rounding).
    HalfEven,
}

/// Powers of ten that fit in an `i64`.
pub const POW10: [i64; 19] = {
    let mut t = [1i64; 19];
    let mut i = 1;
    while i < 19 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// `n / d` rounded as `mode` says, exact in `i128`. `d` must not be zero.
pub fn div_round_i128(n: i128, d: i128, mode: Rounding) -> i128 {
    debug_assert!(d != 0);
    // Most operands fit in 64 bits (a child order's notional, a price rescaled): one hardware
    // division (or a multiply, for a constant divisor) instead of two calls into the 128-bit
    // division routines, which were 8 % of the engine thread (docs/latency.md). Same
    // truncated quotient and remainder; `d == -1` stays on the 128-bit path (i64::MIN / -1).
    let (q, r) = match (i64::try_from(n), i64::try_from(d)) {
        (Ok(a), Ok(b)) if b != -1 => (i128::from(a / b), i128::from(a % b)),
        _ => (n / d, n % d),
    };
    round_quotient(n, d, q, r, mode)
}

/// The truncated quotient `q` and remainder `r` of `n / d` rounded as `mode` says.
#[inline(always)]
fn round_quotient(n: i128, d: i128, q: i128, r: i128, mode: Rounding) -> i128 {
    if r == 0 {
        return q;
    }
    // `q` is truncated toward zero; `neg` says the true quotient is negative.
    let neg = (n < 0) != (d < 0);
    let away = if neg { q - 1 } else { q + 1 };
    match mode {
        Rounding::TowardZero => q,
        Rounding::Floor => {
            if neg {
                q - 1
            } else {
                q
            }
        }
        Rounding::Ceil => {
            if neg {
                q
            } else {
                q + 1
            }
        }
        Rounding::HalfAwayFromZero | Rounding::HalfEven => {
            let twice = (r.unsigned_abs()) * 2;
            let dabs = d.unsigned_abs();
            if twice > dabs {
                away
            } else if twice < dabs {
                q
            } else if mode == Rounding::HalfAwayFromZero || q % 2 != 0 {
                away
            } else {
                q
            }
        }
    }
}

/// Parses a decimal string into an integer count of `10^-decimals` units, exactly.
/// Accepts an optional sign, digits, an optional point and fraction; refuses anything longer
/// than `decimals` after the point unless the extra digits are zeros.
pub fn parse_scaled(text: &str, decimals: u32) -> Result<i64, NumError> {
    let err = |why| NumError::Parse {
        text: text.to_string(),
        why,
    };
    let s = text.trim();
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        Some(_) => (false, s),
        None => return Err(err("empty")),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return Err(err("no digits"));
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err("only digits, one '.' and a leading sign are allowed"));
    }
    let frac_trim = frac.trim_end_matches('0');
    if frac_trim.len() > decimals as usize {
        return Err(NumError::TooPrecise {
            text: text.to_string(),
            max: decimals,
        });
    }
    let mut v: i128 = 0;
    for b in int.bytes() {
        v = v * 10 + i128::from(b - b'0');
        if v > i128::from(i64::MAX) {
            return Err(NumError::Overflow("parse"));
        }
    }
    let mut f: i128 = 0;
    for b in frac_trim.bytes() {
        f = f * 10 + i128::from(b - b'0');
    }
    f *= i128::from(POW10[decimals as usize - frac_trim.len()]);
    let total = v * i128::from(POW10[decimals as usize]) + f;
    let total = if neg { -total } else { total };
    i64::try_from(total).map_err(|_| NumError::Overflow("parse"))
}

/// Writes `raw × 10^-decimals` as a decimal with exactly `shown` decimals (`shown <= decimals`
/// drops digits toward zero only if they are zero; callers pass `shown = decimals` to be exact).
pub fn fmt_scaled(f: &mut fmt::Formatter<'_>, raw: i64, decimals: u32, shown: u32) -> fmt::Result {
    let p = POW10[decimals as usize] as u64;
    let neg = raw < 0;
    let a = raw.unsigned_abs();
    let (int, frac) = (a / p, a % p);
    if neg {
        f.write_str("-")?;
    }
    if shown == 0 {
        return write!(f, "{int}");
    }
    let frac = frac / POW10[(decimals - shown) as usize] as u64;
    write!(f, "{int}.{frac:0width$}", width = shown as usize)
}

/// Smallest number of decimals (at least `min`) that shows `raw` exactly.
pub fn exact_decimals(raw: i64, decimals: u32, min: u32) -> u32 {
    let mut shown = decimals;
    while shown > min && raw % POW10[(decimals - shown + 1) as usize] == 0 {
        shown -= 1;
    }
    shown
}

macro_rules! scaled {
    ($(#[$doc:meta])* $name:ident, $decimals:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Pod, Zeroable)]
        #[repr(transparent)]
        pub struct $name(pub i64);

        impl $name {
            /// Decimal places held; part of the type.
            pub const DECIMALS: u32 = $decimals;
            /// `10^DECIMALS`: the raw value of one whole unit.
            pub const ONE_RAW: i64 = POW10[$decimals as usize];
            /// Zero.
            pub const ZERO: Self = Self(0);
            /// The largest value.
            pub const MAX: Self = Self(i64::MAX);

            /// From the raw scaled integer.
            #[inline]
            pub const fn from_raw(raw: i64) -> Self {
                Self(raw)
            }
            /// The raw scaled integer.
            #[inline]
            pub const fn raw(self) -> i64 {
                self.0
            }
            /// From a whole number of units.
            pub fn from_int(v: i64) -> Result<Self, NumError> {
                v.checked_mul(Self::ONE_RAW)
                    .map(Self)
                    .ok_or(NumError::Overflow(stringify!($name)))
            }
            /// Checked addition.
            #[inline]
            pub fn checked_add(self, o: Self) -> Result<Self, NumError> {
                self.0
                    .checked_add(o.0)
                    .map(Self)
                    .ok_or(NumError::Overflow(concat!(stringify!($name), " +")))
            }
            /// Checked subtraction.
            #[inline]
            pub fn checked_sub(self, o: Self) -> Result<Self, NumError> {
                self.0
                    .checked_sub(o.0)
                    .map(Self)
                    .ok_or(NumError::Overflow(concat!(stringify!($name), " -")))
            }
            /// Checked multiplication by an integer.
            #[inline]
            pub fn checked_mul_int(self, k: i64) -> Result<Self, NumError> {
                self.0
                    .checked_mul(k)
                    .map(Self)
                    .ok_or(NumError::Overflow(concat!(stringify!($name), " *")))
            }
            /// `self × num / den`, computed exactly in `i128` and rounded as `mode` says.
            pub fn mul_div(self, num: i64, den: i64, mode: Rounding) -> Result<Self, NumError> {
                if den == 0 {
                    return Err(NumError::DivByZero(stringify!($name)));
                }
                let v = div_round_i128(i128::from(self.0) * i128::from(num), i128::from(den), mode);
                i64::try_from(v)
                    .map(Self)
                    .map_err(|_| NumError::Overflow(concat!(stringify!($name), " mul_div")))
            }
            /// True if zero.
            #[inline]
            pub const fn is_zero(self) -> bool {
                self.0 == 0
            }
            /// True if below zero.
            #[inline]
            pub const fn is_negative(self) -> bool {
                self.0 < 0
            }
            /// Parses a decimal string exactly; more decimals than the type holds is an error.
            pub fn parse(text: &str) -> Result<Self, NumError> {
                parse_scaled(text, $decimals).map(Self)
            }
            /// Prints with exactly `shown` decimals (at most `DECIMALS`), truncating toward zero.
            pub fn display_with(self, shown: u32) -> impl fmt::Display {
                struct D(i64, u32);
                impl fmt::Display for D {
                    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        fmt_scaled(f, self.0, $decimals, self.1)
                    }
                }
                D(self.0, shown.min($decimals))
            }
        }

        impl FromStr for $name {
            type Err = NumError;
            fn from_str(s: &str) -> Result<Self, NumError> {
                Self::parse(s)
            }
        }

        /// Prints the shortest exact decimal (at least one decimal place).
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let shown = exact_decimals(self.0, $decimals, 1.min($decimals));
                fmt_scaled(f, self.0, $decimals, shown)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }
    };
}

scaled!(
    /// A quantity in base units of the instrument, 6 decimals (FX: 1 lot = 100,000 units).
    Qty,
    6
);
scaled!(
    /// A price, 8 decimals: EURUSD 1.12345, USDJPY 155.123 and BTCUSD 97000.5 all fit exactly.
    Price,
    8
);
scaled!(
    /// Money in micro-units of the account currency.
    Money,
    6
);
scaled!(
    /// A size in lots, 4 decimals (lot steps are 0.01 or 0.001 in practice).
    Lots,
    4
);
scaled!(
    /// A decimal ratio as a person enters it (lot multiplier 1.5, percent 33.3, risk fraction
    /// 0.01), 6 decimals. Computed factors that need no decimal exactness use [`Factor`].
    Ratio,
    6
);

/// A computed factor (adaptive scaling, weights, EWMA state): binary fixed point, deterministic
/// and fast. Never holds anything a person wrote as a decimal.
pub type Factor = fixed::types::I32F32;

impl Money {
    /// Notional of `qty` at `price`: `qty × price`, rounded as `mode` says to the micro-unit.
    pub fn notional(qty: Qty, price: Price, mode: Rounding) -> Result<Money, NumError> {
        // qty has 6 decimals, price 8, money 6: divide the product by 10^8.
        let v = div_round_i128(
            i128::from(qty.0) * i128::from(price.0),
            i128::from(POW10[Price::DECIMALS as usize]),
            mode,
        );
        i64::try_from(v)
            .map(Money)
            .map_err(|_| NumError::Overflow("Money::notional"))
    }
}

impl Price {
    /// Rounds to a tick of `10^-decimals` (the instrument's price scale), as `mode` says.
    pub fn round_to_decimals(self, decimals: u32, mode: Rounding) -> Price {
        let unit = i128::from(POW10[(Self::DECIMALS - decimals.min(Self::DECIMALS)) as usize]);
        Price((div_round_i128(i128::from(self.0), unit, mode) * unit) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_and_print_exact() {
        assert_eq!(Lots::parse("1.37").unwrap(), Lots(13_700));
        assert_eq!(Lots(13_700).to_string(), "1.37");
        assert_eq!(Lots(10_000).to_string(), "1.0");
        assert_eq!(Lots(10_000).display_with(2).to_string(), "1.00");
        assert_eq!(Price::parse("155.123").unwrap().to_string(), "155.123");
        assert_eq!(Money::parse("-0.000001").unwrap(), Money(-1));
        assert_eq!(Money(-1).to_string(), "-0.000001");
        assert_eq!(Lots::parse("1.3700").unwrap(), Lots(13_700));
        assert!(matches!(
            Lots::parse("1.00001"),
            Err(NumError::TooPrecise { .. })
        ));
        assert!(Lots::parse("1e3").is_err());
        assert!(Lots::parse("").is_err());
        assert!(Lots::parse(".").is_err());
        assert!(matches!(
            Money::parse("99999999999999999999"),
            Err(NumError::Overflow(_))
        ));
    }

    #[test]
    fn rounding_modes() {
        use Rounding::*;
        assert_eq!(
            div_round_i128(i128::from(i64::MIN), -1, Floor),
            -i128::from(i64::MIN)
        );
        assert_eq!(div_round_i128(7, 2, Floor), 3);
        assert_eq!(div_round_i128(-7, 2, Floor), -4);
        assert_eq!(div_round_i128(-7, 2, Ceil), -3);
        assert_eq!(div_round_i128(5, 2, HalfEven), 2);
        assert_eq!(div_round_i128(7, 2, HalfEven), 4);
        assert_eq!(div_round_i128(5, 2, HalfAwayFromZero), 3);
        assert_eq!(div_round_i128(-5, 2, HalfAwayFromZero), -3);
    }

    #[test]
    fn overflow_is_reported() {
        assert!(Money::MAX.checked_add(Money(1)).is_err());
        assert!(Qty(i64::MAX).mul_div(2, 1, Rounding::Floor).is_err());
        assert!(Qty(1).mul_div(1, 0, Rounding::Floor).is_err());
    }

    #[test]
    fn notional_is_exact() {
        let q = Qty::parse("100000").unwrap();
        let p = Price::parse("1.12345").unwrap();
        assert_eq!(
            Money::notional(q, p, Rounding::Floor).unwrap().to_string(),
            "112345.0"
        );
    }

    proptest! {
        #[test]
        fn print_parse_roundtrip(raw in any::<i64>()) {
            let s = Money(raw).to_string();
            prop_assert_eq!(Money::parse(&s).unwrap(), Money(raw));
            let s = Price(raw).to_string();
            prop_assert_eq!(Price::parse(&s).unwrap(), Price(raw));
        }

        /// The 64-bit fast path rounds exactly as the 128-bit division does.
        #[test]
        fn div_round_fast_path_is_the_128_bit_one(
            n in prop_oneof![any::<i64>().prop_map(i128::from), any::<i128>()],
            d in prop_oneof![any::<i64>().prop_map(i128::from), any::<i128>(), -3i128..=3],
            mode in prop_oneof![
                Just(Rounding::TowardZero),
                Just(Rounding::Floor),
                Just(Rounding::Ceil),
                Just(Rounding::HalfAwayFromZero),
                Just(Rounding::HalfEven),
            ],
        ) {
            prop_assume!(d != 0 && !(n == i128::MIN && d == -1));
            prop_assert_eq!(
                div_round_i128(n, d, mode),
                round_quotient(n, d, n / d, n % d, mode)
            );
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,30}") {
            let _ = Lots::parse(&s);
        }

        #[test]
        fn floor_ceil_bracket(n in -1_000_000_000i128..1_000_000_000, d in 1i128..10_000) {
            let f = div_round_i128(n, d, Rounding::Floor);
            let c = div_round_i128(n, d, Rounding::Ceil);
            prop_assert!(f * d <= n && n <= c * d && c - f <= 1);
        }
    }
}
