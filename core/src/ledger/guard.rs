//! Price boxes that make limit checks cost nothing per quote.
//!
//! A limit (margin call, stop-out, daily loss, maximum drawdown) is an affine condition on an
//! account's equity `E` and margin `M`: `a·E + b·M + c > 0` while it holds. Checking every
//! account on every quote would cost O(accounts) per quote. Instead each account gets a
//! **box**: for every symbol its value depends on (the symbols it holds, and the symbols that
//! convert their P&L), a price interval `[lo, hi]` around the current quote such that, while
//! every such symbol's bid stays `>= lo` and ask `<= hi`, no condition can fail. A quote that
//! leaves an account's box (found in O(log n) from an ordered index per symbol) makes the
//! engine check that account exactly, act if a limit is crossed, and draw a new box.
//!
//! Why a box is sound: each position contributes `a·U + b·M` where `U` and `M` are, in the
//! position's own price `p` and the converter's mid `c`, linear (same currency), bilinear
//! (`× c`) or linear over `c` (`÷ c`). Each of these takes its minimum over a rectangle at a
//! corner, so the sum of the per-position minima over the four corners is a lower bound of the
//! condition over the whole box (sharing variables between positions only makes it looser).
//! The ledger rounds each term to the micro-unit; a safety margin of a few micro-units per term
//! covers the rounding. The boxes are not state: a recovered engine draws them again, and since
//! a limit can only be crossed by a quote outside the box, every crossing is found at the first
//! quote past the level whatever the boxes were.

use super::Ledger;

/// One condition `a·E + b·M + c > 0` that must keep holding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Condition {
    /// Coefficient of equity (micro-units).
    pub a: i128,
    /// Coefficient of margin (micro-units).
    pub b: i128,
    /// Constant.
    pub c: i128,
}

/// A price interval of one symbol inside which an account needs no check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// Instrument.
    pub instrument: u32,
    /// A bid below this leaves the box.
    pub lo: i64,
    /// An ask above this leaves the box.
    pub hi: i64,
}

/// Widths tried, as right shifts of the price (1/16 of the price down to 1/2^20).
const SHIFTS: [u32; 8] = [4, 6, 8, 10, 12, 14, 17, 20];

impl Ledger {
    /// The symbols account `a`'s value depends on, ascending, deduplicated, into `out`.
    pub fn sensitive_symbols(&self, account: u32, out: &mut Vec<u32>) {
        out.clear();
        let a = account as usize;
        for s in 0..self.ni {
            if self.qty[a * self.ni + s] == 0 {
                continue;
            }
            out.push(s as u32);
            if let Some(k) = self.converter(a, s) {
                out.push(k);
            }
        }
        out.sort_unstable();
        out.dedup();
    }

    /// The instrument converting position `(a, s)`, if not the same currency.
    fn converter(&self, a: usize, s: usize) -> Option<u32> {
        match self.conv[self.ccy_of[a] as usize * self.ni + s] {
            Some(crate::symbol::Conversion::Multiply(k))
            | Some(crate::symbol::Conversion::Divide(k)) => Some(k),
            _ => None,
        }
    }

    /// `(U, margin)` of position `(a, s)` with its mark at `mark` and its converter's
    /// `bid + ask` at `mid2` (micro-units, rounded as [`Ledger::value`] rounds).
    fn term_at(
        &self,
        a: usize,
        s: usize,
        mark: i64,
        mid2: Option<i128>,
        lev: (i128, f64),
    ) -> (i128, i128) {
        use super::exact::{margin_half_even, Rate};
        let i = a * self.ni + s;
        let (q, k) = (self.qty[i], self.cost[i]);
        let rate = match (self.conv[self.ccy_of[a] as usize * self.ni + s], mid2) {
            (Some(crate::symbol::Conversion::Multiply(_)), Some(m)) => Rate::Multiply(m),
            (Some(crate::symbol::Conversion::Divide(_)), Some(m)) => Rate::Divide(m),
            _ => Rate::Identity,
        };
        let v = i128::from(q) * i128::from(mark);
        let (u, n) = rate.to_money2(v - k, v.abs());
        let (u, n) = (u.unwrap_or(i128::MIN / 4), n.unwrap_or(i128::MAX / 4));
        let m = margin_half_even(n, self.margin_rate[s], lev.0, lev.1).unwrap_or(i128::MAX / 4);
        (u, m)
    }

    /// Draws a box inside which every condition keeps holding for `account` with `balance`
    /// and `leverage`, into `out` (one bound per sensitive symbol), and returns the width index
    /// used (pass it back as `hint` next time: the search starts there, and with `widen` tries
    /// one wider first, so a redraw usually costs one or two evaluations). A symbol without a quote gets a bound any
    /// quote leaves. If no width is narrow enough, every quote of a sensitive symbol leaves the
    /// box (the account is checked at each) and the index is `SHIFTS.len()`.
    #[allow(clippy::too_many_arguments)]
    pub fn guard_box(
        &self,
        account: u32,
        balance: i64,
        leverage: u32,
        conds: &[Condition],
        syms: &[u32],
        hint: usize,
        widen: bool,
        out: &mut Vec<Bound>,
    ) -> usize {
        let a = account as usize;
        let lev = (
            i128::from(leverage.max(1)),
            1.0 / f64::from(leverage.max(1)),
        );
        let fill = |shift: Option<u32>, out: &mut Vec<Bound>| {
            out.clear();
            for &j in syms {
                let (b, k) = (self.bid[j as usize], self.ask[j as usize]);
                out.push(match (b > 0, shift) {
                    (false, _) => Bound {
                        instrument: j,
                        lo: i64::MAX,
                        hi: i64::MIN,
                    },
                    (true, Some(sh)) => {
                        let d = (b >> sh).max(1);
                        Bound {
                            instrument: j,
                            lo: b - d,
                            hi: k.saturating_add(d),
                        }
                    }
                    // Any quote of the symbol leaves it: a box of the current quote would
                    // miss a bid moving up inside the spread.
                    (true, None) => Bound {
                        instrument: j,
                        lo: i64::MAX,
                        hi: i64::MIN,
                    },
                });
            }
        };
        let try_at = |i: usize, out: &mut Vec<Bound>| {
            fill(Some(SHIFTS[i]), out);
            self.box_holds(a, balance, lev, conds, out)
        };
        let start = hint.min(SHIFTS.len() - 1);
        if try_at(start, out) {
            // One wider, if it holds too (positions and prices move both ways).
            if widen && start > 0 && try_at(start - 1, out) {
                return start - 1;
            }
            if widen && start > 0 {
                fill(Some(SHIFTS[start]), out);
            }
            return start;
        }
        for i in start + 1..SHIFTS.len() {
            if try_at(i, out) {
                return i;
            }
        }
        fill(None, out);
        SHIFTS.len()
    }

    /// Whether every condition keeps holding for `account` while the quotes stay inside `bx`
    /// (a box drawn earlier, at other quotes or another position: still sound if this holds
    /// and the current quotes are inside it). `bx` must have a bound for every symbol the
    /// account is sensitive to, or this is false.
    pub fn box_still_holds(
        &self,
        account: u32,
        balance: i64,
        leverage: u32,
        conds: &[Condition],
        bx: &[Bound],
    ) -> bool {
        let lev = (
            i128::from(leverage.max(1)),
            1.0 / f64::from(leverage.max(1)),
        );
        self.box_holds(account as usize, balance, lev, conds, bx)
    }

    fn box_holds(
        &self,
        a: usize,
        balance: i64,
        lev: (i128, f64),
        conds: &[Condition],
        bx: &[Bound],
    ) -> bool {
        let find = |j: u32| bx.iter().find(|b| b.instrument == j).copied();
        // Lower bound of each condition's variable part: Σ over positions of the corner minimum.
        let mut low = [0i128; 4];
        let mut safety = [1i128; 4];
        debug_assert!(conds.len() <= 4);
        for s in 0..self.ni {
            let q = self.qty[a * self.ni + s];
            if q == 0 {
                continue;
            }
            let Some(own) = find(s as u32) else {
                return false;
            };
            if own.lo == i64::MAX {
                return false;
            }
            let marks = [own.lo, own.hi];
            let mids: [Option<i128>; 2] = match self.converter(a, s) {
                None => [None, None],
                Some(k) => match find(k) {
                    Some(c) if c.lo != i64::MAX => {
                        [Some(2 * i128::from(c.lo)), Some(2 * i128::from(c.hi))]
                    }
                    _ => return false,
                },
            };
            // The corners (mark, converter mid); without a converter only the two marks.
            let mut corners = [(0i128, 0i128); 4];
            let n = match mids {
                [None, None] => {
                    corners[0] = self.term_at(a, s, marks[0], None, lev);
                    corners[1] = self.term_at(a, s, marks[1], None, lev);
                    2
                }
                _ => {
                    for (n, (&p, &m)) in marks
                        .iter()
                        .flat_map(|p| mids.iter().map(move |m| (p, m)))
                        .enumerate()
                    {
                        corners[n] = self.term_at(a, s, p, m, lev);
                    }
                    4
                }
            };
            for (i, c) in conds.iter().enumerate() {
                let min = corners[..n]
                    .iter()
                    .map(|&(u, m)| c.a * u + c.b * m)
                    .min()
                    .expect("two or four corners");
                low[i] += min;
                safety[i] += 2 * c.a.abs() + 3 * c.b.abs();
            }
        }
        conds
            .iter()
            .enumerate()
            .all(|(i, c)| c.a * i128::from(balance) + c.c + low[i] - safety[i] > 0)
    }
}
