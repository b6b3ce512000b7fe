//! Exact rationals on `i128` (reduced at every step; an overflow is a test failure, never a
//! wrong answer), and the one rounding the ledger documents: half-to-even at a decimal scale.
//! Written for the tests from the documentation, sharing nothing with `mam_core::ledger`.

use std::cmp::Ordering;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// `n / d`, `d > 0`, reduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct R {
    n: i128,
    d: i128,
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

fn checked(v: Option<i128>) -> i128 {
    v.expect("reference rational overflowed i128: keep the test's amounts smaller")
}

impl R {
    pub const ZERO: R = R { n: 0, d: 1 };

    pub fn new(n: i128, d: i128) -> R {
        assert!(d != 0, "division by zero in the reference");
        let s = if d < 0 { -1 } else { 1 };
        let g = gcd(n, d);
        R {
            n: s * n / g,
            d: s * d / g,
        }
    }

    pub fn int(n: i128) -> R {
        R { n, d: 1 }
    }

    /// `raw × 10^-decimals` (a `Qty`, `Price` or `Money` raw value as a number).
    pub fn scaled(raw: i64, decimals: u32) -> R {
        R::new(i128::from(raw), 10i128.pow(decimals))
    }

    pub fn is_zero(self) -> bool {
        self.n == 0
    }

    pub fn signum(self) -> i128 {
        self.n.signum()
    }

    pub fn abs(self) -> R {
        R {
            n: self.n.abs(),
            d: self.d,
        }
    }

    pub fn min(self, o: R) -> R {
        if self <= o {
            self
        } else {
            o
        }
    }

    /// Rounded half-to-even to `decimals` places, as a raw integer at that scale.
    pub fn round_raw(self, decimals: u32) -> i128 {
        let x = self * R::int(10i128.pow(decimals));
        let (q, r) = (x.n.div_euclid(x.d), x.n.rem_euclid(x.d));
        match checked(r.checked_mul(2)).cmp(&x.d) {
            Ordering::Less => q,
            Ordering::Greater => q + 1,
            Ordering::Equal => q + (q & 1),
        }
    }

    /// Rounded half-to-even to `decimals` places, as a number.
    pub fn round(self, decimals: u32) -> R {
        R::new(self.round_raw(decimals), 10i128.pow(decimals))
    }

    /// The exact raw integer at `decimals` places; panics if the value has more places.
    pub fn exact_raw(self, decimals: u32) -> i128 {
        let v = self.round_raw(decimals);
        assert_eq!(
            R::new(v, 10i128.pow(decimals)),
            self,
            "{self:?} has more than {decimals} decimals"
        );
        v
    }
}

impl Default for R {
    fn default() -> R {
        R::ZERO
    }
}

impl PartialOrd for R {
    fn partial_cmp(&self, o: &R) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for R {
    fn cmp(&self, o: &R) -> Ordering {
        (*self - *o).n.cmp(&0)
    }
}

impl Add for R {
    type Output = R;
    fn add(self, o: R) -> R {
        let g = gcd(self.d, o.d);
        let d = checked((self.d / g).checked_mul(o.d));
        let n = checked(
            checked(self.n.checked_mul(o.d / g)).checked_add(checked(o.n.checked_mul(self.d / g))),
        );
        R::new(n, d)
    }
}

impl Neg for R {
    type Output = R;
    fn neg(self) -> R {
        R {
            n: -self.n,
            d: self.d,
        }
    }
}

impl Sub for R {
    type Output = R;
    fn sub(self, o: R) -> R {
        self + (-o)
    }
}

impl Mul for R {
    type Output = R;
    fn mul(self, o: R) -> R {
        let g1 = gcd(self.n, o.d);
        let g2 = gcd(o.n, self.d);
        R::new(
            checked((self.n / g1).checked_mul(o.n / g2)),
            checked((self.d / g2).checked_mul(o.d / g1)),
        )
    }
}

impl Div for R {
    type Output = R;
    fn div(self, o: R) -> R {
        assert!(!o.is_zero(), "division by zero in the reference");
        self * R::new(o.d, o.n)
    }
}

#[test]
fn half_even_at_a_scale() {
    assert_eq!(R::new(5, 2).round_raw(0), 2);
    assert_eq!(R::new(7, 2).round_raw(0), 4);
    assert_eq!(R::new(-5, 2).round_raw(0), -2);
    assert_eq!(R::new(-7, 2).round_raw(0), -4);
    assert_eq!(R::new(1, 3).round_raw(6), 333_333);
    assert_eq!(R::new(25, 10_000_000).round_raw(6), 2);
    assert_eq!(R::scaled(-1_234_567, 6).round_raw(3), -1_235);
    assert_eq!(R::new(3, 4) + R::new(1, 4), R::int(1));
    assert_eq!(R::new(3, 4) / R::new(-3, 8), R::int(-2));
    assert!(R::new(1, 3) < R::new(1, 2));
}
