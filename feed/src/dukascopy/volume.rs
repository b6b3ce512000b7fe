//! Dukascopy's `f32` volumes (in millions of base units) to exact [`Qty`].
//!
//! The rule: take the `f32`'s shortest decimal representation that reads back as the same
//! `f32` (what Rust's `{:e}` formatting prints: `1e-6`, `1.3e-5`, `0.75`), read that decimal
//! exactly, multiply by 10^6 (millions → units), and express it in `Qty`'s 1e-6 units. Only if
//! that decimal has more than 12 significant places after the point (finer than 1e-6 of a
//! unit, never seen in real files) is it rounded, half to even. So the volume a person reads
//! in the source, e.g. 1.3e-5 million, becomes exactly 13 units, not 12.999999853491317.
//! Negative, infinite and NaN volumes are refused.

use mam_core::num::{div_round_i128, Qty, Rounding};

/// Why a volume was refused.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum VolumeError {
    /// NaN, infinite or negative.
    #[error("volume {0} is not a finite non-negative number")]
    NotFinite(f32),
    /// Does not fit a `Qty`.
    #[error("volume {0} million does not fit a Qty")]
    Overflow(f32),
}

/// Converts a volume in millions (as the `.bi5` stores it) to an exact [`Qty`] of base units.
pub fn millions_to_qty(v: f32) -> Result<Qty, VolumeError> {
    if !v.is_finite() || v < 0.0 {
        return Err(VolumeError::NotFinite(v));
    }
    if v == 0.0 {
        return Ok(Qty::ZERO);
    }
    // Shortest round-trip decimal, scientific form: "d[.ddd]e[-]x".
    let s = format!("{v:e}");
    let (mant, exp) = s.split_once('e').ok_or(VolumeError::NotFinite(v))?;
    let exp: i32 = exp.parse().map_err(|_| VolumeError::NotFinite(v))?;
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    let mut digits: i128 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        digits = digits * 10 + i128::from(b.wrapping_sub(b'0'));
    }
    // value = digits × 10^(exp - frac.len()) millions = digits × 10^(exp - frac.len() + 12) raw.
    let shift = exp - frac.len() as i32 + 12;
    let raw = if shift >= 0 {
        if shift > 30 {
            return Err(VolumeError::Overflow(v));
        }
        digits
            .checked_mul(10i128.pow(shift as u32))
            .ok_or(VolumeError::Overflow(v))?
    } else if -shift > 38 {
        0
    } else {
        div_round_i128(digits, 10i128.pow((-shift) as u32), Rounding::HalfEven)
    };
    i64::try_from(raw)
        .map(Qty)
        .map_err(|_| VolumeError::Overflow(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn shortest_decimal_rule() {
        assert_eq!(millions_to_qty(1.3e-5).unwrap(), Qty::parse("13").unwrap());
        assert_eq!(millions_to_qty(9e-6).unwrap(), Qty::parse("9").unwrap());
        assert_eq!(
            millions_to_qty(0.75).unwrap(),
            Qty::parse("750000").unwrap()
        );
        assert_eq!(
            millions_to_qty(1.12).unwrap(),
            Qty::parse("1120000").unwrap()
        );
        assert_eq!(millions_to_qty(0.0).unwrap(), Qty::ZERO);
        // 1.2345678e-9 million = 0.0012345678 units: rounded half-even to 1e-6 units.
        assert_eq!(millions_to_qty(1.2345678e-9).unwrap(), Qty(1235));
        assert!(millions_to_qty(-1.0).is_err());
        assert!(millions_to_qty(f32::NAN).is_err());
        assert!(millions_to_qty(f32::INFINITY).is_err());
        assert!(matches!(
            millions_to_qty(3e38),
            Err(VolumeError::Overflow(_))
        ));
    }

    proptest! {
        #[test]
        fn never_panics_and_is_close(bits in any::<u32>()) {
            let v = f32::from_bits(bits);
            if let Ok(q) = millions_to_qty(v) {
                // Within half a raw unit plus the f32's own error of the f64 value.
                let exact = f64::from(v) * 1e12;
                prop_assert!((q.0 as f64 - exact).abs() <= 0.5 + exact * 1e-7);
            }
        }
    }
}
