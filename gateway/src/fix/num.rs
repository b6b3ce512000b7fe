//! Integer and exact-decimal text for FIX values, on bytes, without allocation.
//!
//! Decimals come from and go to [`mam_core::num`]'s scaled integers: `Qty` (6 decimals) and
//! `Price` (8 decimals) are written in their shortest exact form (`10000`, `1.1`), and read back
//! exactly; a value with more decimals than the type holds is refused, never rounded.

use mam_core::num::POW10;

/// Longest text of a `u64` (20 digits).
pub const MAX_U64_DIGITS: usize = 20;

/// Two-digit pairs "00".."99", so integers are written two digits per division.
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes `v` in decimal ending at index `end` of `buf`; returns the start index.
#[inline(always)]
fn put_digits(mut v: u64, buf: &mut [u8], mut end: usize) -> usize {
    while v >= 100 {
        let p = (v % 100) as usize * 2;
        v /= 100;
        end -= 2;
        buf[end] = PAIRS[p];
        buf[end + 1] = PAIRS[p + 1];
    }
    if v >= 10 {
        let p = v as usize * 2;
        end -= 2;
        buf[end] = PAIRS[p];
        buf[end + 1] = PAIRS[p + 1];
    } else {
        end -= 1;
        buf[end] = b'0' + v as u8;
    }
    end
}

/// Writes `v` in decimal at the end of `buf`; returns the start index of the digits.
#[inline]
pub fn fmt_u64(v: u64, buf: &mut [u8; MAX_U64_DIGITS]) -> usize {
    put_digits(v, buf, MAX_U64_DIGITS)
}

/// Longest text of a scaled decimal: sign, 19 digits, point.
pub const MAX_DECIMAL_LEN: usize = 22;

/// Writes `raw × 10^-decimals` in its shortest exact form (no trailing fraction zeros, no point
/// for whole numbers) at the end of `buf`; returns the start index.
#[inline]
pub fn fmt_decimal(raw: i64, decimals: u32, buf: &mut [u8; MAX_DECIMAL_LEN]) -> usize {
    // The two scales mam uses get their own copies, so the divisions are by constants.
    match decimals {
        6 => fmt_decimal_const::<6>(raw, buf),
        8 => fmt_decimal_const::<8>(raw, buf),
        _ => fmt_decimal_any(raw, decimals, buf),
    }
}

#[inline(always)]
fn fmt_decimal_const<const D: u32>(raw: i64, buf: &mut [u8; MAX_DECIMAL_LEN]) -> usize {
    fmt_decimal_any(raw, D, buf)
}

#[inline(always)]
fn fmt_decimal_any(raw: i64, decimals: u32, buf: &mut [u8; MAX_DECIMAL_LEN]) -> usize {
    let neg = raw < 0;
    let a = raw.unsigned_abs();
    let p = POW10[decimals as usize] as u64;
    let (int, mut frac) = (a / p, a % p);
    let mut i = MAX_DECIMAL_LEN;
    if frac != 0 {
        let mut width = decimals as usize;
        // Trailing zeros by 10^4, 10^2, 10 before the digit-at-a-time loop (a price such as
        // 1.1 has seven): three divisions by constants instead of seven (issue 12, NOS encode).
        if frac % 10_000 == 0 {
            frac /= 10_000;
            width -= 4;
        }
        if frac % 100 == 0 {
            frac /= 100;
            width -= 2;
        }
        while frac % 10 == 0 {
            frac /= 10;
            width -= 1;
        }
        let s = put_digits(frac, buf, i);
        // Leading zeros of the fraction (1.05 → "05").
        buf[i - width..s].fill(b'0');
        i -= width + 1;
        buf[i] = b'.';
    }
    i = put_digits(int, buf, i);
    if neg {
        i -= 1;
        buf[i] = b'-';
    }
    i
}

/// Why a FIX number did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumFault {
    /// Not digits (FIX "incorrect data format").
    Format,
    /// Digits, but more decimals than the type holds or out of range ("value is incorrect").
    Range,
}

/// Parses a FIX `SeqNum`/`int`: ASCII digits only, at most 20 of them, fitting a `u64`.
#[inline]
pub fn parse_u64(b: &[u8]) -> Result<u64, NumFault> {
    if b.is_empty() {
        return Err(NumFault::Format);
    }
    if b.len() > MAX_U64_DIGITS {
        return Err(NumFault::Range);
    }
    let mut v: u64 = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return Err(NumFault::Format);
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d)))
            .ok_or(NumFault::Range)?;
    }
    Ok(v)
}

/// Parses a FIX `float`/`Qty`/`Price` exactly into `10^-decimals` units: optional `-`, digits,
/// optional `.` and fraction. Extra fraction digits are accepted only if they are zeros.
#[inline]
pub fn parse_decimal(b: &[u8], decimals: u32) -> Result<i64, NumFault> {
    let (neg, body) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(_) => (false, b),
        None => return Err(NumFault::Format),
    };
    let mut int: u64 = 0;
    let mut i = 0;
    let mut digits = 0;
    while i < body.len() {
        let d = body[i].wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        // 18 digits cannot overflow a u64, so they go unchecked; from the 19th on, the checked
        // step says Range at the digit that overflows, as before (issue 12: FIX ER decode).
        int = if digits < 18 {
            int * 10 + u64::from(d)
        } else {
            int.checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(d)))
                .ok_or(NumFault::Range)?
        };
        i += 1;
        digits += 1;
    }
    let mut frac: u64 = 0;
    let mut fdigits: u32 = 0;
    if i < body.len() {
        if body[i] != b'.' {
            return Err(NumFault::Format);
        }
        i += 1;
        while i < body.len() {
            let d = body[i].wrapping_sub(b'0');
            if d > 9 {
                return Err(NumFault::Format);
            }
            if fdigits < decimals {
                frac = frac * 10 + u64::from(d);
                fdigits += 1;
            } else if d != 0 {
                return Err(NumFault::Range);
            }
            digits += 1;
            i += 1;
        }
    }
    if digits == 0 {
        return Err(NumFault::Format);
    }
    // In u64 with overflow checks rather than a u128 multiply and add: `frac` has
    // at most `decimals` digits, so its term is below 10^decimals; any overflow of u64 is also
    // above i64::MAX, which is Range either way.
    let scaled = int
        .checked_mul(POW10[decimals as usize] as u64)
        .and_then(|v| v.checked_add(frac * POW10[(decimals - fdigits) as usize] as u64))
        .ok_or(NumFault::Range)?;
    let v = i64::try_from(scaled).map_err(|_| NumFault::Range)?;
    Ok(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dec(raw: i64, d: u32) -> String {
        let mut b = [0; MAX_DECIMAL_LEN];
        let s = fmt_decimal(raw, d, &mut b);
        String::from_utf8(b[s..].to_vec()).unwrap()
    }

    #[test]
    fn decimals_are_shortest_and_exact() {
        assert_eq!(dec(110_000_000, 8), "1.1");
        assert_eq!(dec(10_000_000_000, 6), "10000");
        assert_eq!(dec(-1, 6), "-0.000001");
        assert_eq!(dec(0, 8), "0");
        assert_eq!(dec(105_000_000, 8), "1.05");
        assert_eq!(dec(100_000_001, 8), "1.00000001");
        assert_eq!(dec(5, 3), "0.005");
        assert_eq!(parse_decimal(b"1.10000", 8), Ok(110_000_000));
        assert_eq!(parse_decimal(b"1.100000000", 8), Ok(110_000_000));
        assert_eq!(parse_decimal(b"1.000000001", 8), Err(NumFault::Range));
        assert_eq!(parse_decimal(b"1e5", 8), Err(NumFault::Format));
        assert_eq!(parse_decimal(b".", 8), Err(NumFault::Format));
        assert_eq!(parse_decimal(b"", 8), Err(NumFault::Format));
        assert_eq!(parse_decimal(b".5", 8), Ok(50_000_000));
        assert_eq!(parse_u64(b"0042"), Ok(42));
        assert_eq!(parse_u64(b"4x"), Err(NumFault::Format));
        assert_eq!(parse_u64(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), Err(NumFault::Range));
    }

    /// `parse_decimal` before issue 12's fast path, for comparison.
    fn parse_decimal_reference(b: &[u8], decimals: u32) -> Result<i64, NumFault> {
        let (neg, body) = match b.first() {
            Some(b'-') => (true, &b[1..]),
            Some(_) => (false, b),
            None => return Err(NumFault::Format),
        };
        let mut int: u64 = 0;
        let mut i = 0;
        let mut digits = 0;
        while i < body.len() {
            let d = body[i].wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            int = int
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(d)))
                .ok_or(NumFault::Range)?;
            i += 1;
            digits += 1;
        }
        let mut frac: u64 = 0;
        let mut fdigits: u32 = 0;
        if i < body.len() {
            if body[i] != b'.' {
                return Err(NumFault::Format);
            }
            i += 1;
            while i < body.len() {
                let d = body[i].wrapping_sub(b'0');
                if d > 9 {
                    return Err(NumFault::Format);
                }
                if fdigits < decimals {
                    frac = frac * 10 + u64::from(d);
                    fdigits += 1;
                } else if d != 0 {
                    return Err(NumFault::Range);
                }
                digits += 1;
                i += 1;
            }
        }
        if digits == 0 {
            return Err(NumFault::Format);
        }
        let scaled = u128::from(int) * POW10[decimals as usize] as u128
            + u128::from(frac) * POW10[(decimals - fdigits) as usize] as u128;
        let v = i64::try_from(scaled).map_err(|_| NumFault::Range)?;
        Ok(if neg { -v } else { v })
    }

    /// The shortest exact form written the slow way, for comparison.
    fn dec_reference(raw: i64, d: u32) -> String {
        let a = raw.unsigned_abs();
        let p = 10u64.pow(d);
        let mut s = format!("{}", a / p);
        if !a.is_multiple_of(p) {
            let f = format!("{:0w$}", a % p, w = d as usize);
            s.push('.');
            s.push_str(f.trim_end_matches('0'));
        }
        if raw < 0 {
            s.insert(0, '-');
        }
        s
    }

    proptest! {
        #[test]
        fn parse_decimal_agrees_with_the_reference(
            b in proptest::collection::vec(
                proptest::sample::select(b"0123456789.-x9".to_vec()), 0..30),
            d in proptest::sample::select(vec![0u32, 3, 6, 8, 18]),
        ) {
            prop_assert_eq!(parse_decimal(&b, d), parse_decimal_reference(&b, d));
        }
        #[test]
        fn decimal_text_is_the_shortest_exact_form(raw in any::<i64>(), zeros in 0u32..9) {
            let raw = raw.checked_mul(10i64.pow(zeros)).unwrap_or(raw);
            for d in [0u32, 3, 6, 8] {
                prop_assert_eq!(dec(raw, d), dec_reference(raw, d));
            }
        }
        #[test]
        fn decimal_roundtrip(raw in any::<i64>().prop_filter("abs", |v| *v != i64::MIN)) {
            for d in [6u32, 8] {
                prop_assert_eq!(parse_decimal(dec(raw, d).as_bytes(), d), Ok(raw));
            }
        }
        #[test]
        fn u64_roundtrip(v in any::<u64>()) {
            let mut b = [0; MAX_U64_DIGITS];
            let s = fmt_u64(v, &mut b);
            prop_assert_eq!(parse_u64(&b[s..]), Ok(v));
        }
        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..30)) {
            let _ = parse_decimal(&b, 8);
            let _ = parse_u64(&b);
        }
    }
}
