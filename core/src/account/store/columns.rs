//! Typed column slices over the raw bytes of a mapped store.

use bytemuck::{try_cast_slice, try_cast_slice_mut, Pod};

use super::layout::{Layout, COLUMNS};
use crate::account::AccountColumns;
use crate::num::{Lots, Money, Ratio};

/// Mutable columns of the accounts in use, index `i` in each being account `i`: what the
/// engine writes through (balances, equities, margins, high-water marks, flags...).
///
/// Writing through these does not update the store checksum; call
/// [`AccountStore::flush`](super::AccountStore::flush) to seal a consistent state.
#[derive(Debug)]
pub struct AccountColumnsMut<'a> {
    /// Ids.
    pub id: &'a mut [[u8; 16]],
    /// Balances.
    pub balance: &'a mut [Money],
    /// Equities.
    pub equity: &'a mut [Money],
    /// Margins used.
    pub margin_used: &'a mut [Money],
    /// Equity high-water marks.
    pub equity_hwm: &'a mut [Money],
    /// Lot multipliers.
    pub multiplier: &'a mut [Ratio],
    /// Percent shares.
    pub percent: &'a mut [Ratio],
    /// Fixed sizes.
    pub fixed_lots: &'a mut [Lots],
    /// Risk fractions.
    pub risk_fraction: &'a mut [Ratio],
    /// Drawdown tolerances.
    pub drawdown_tolerance: &'a mut [Ratio],
    /// Adaptive lower bounds.
    pub min_scale: &'a mut [Ratio],
    /// Adaptive upper bounds.
    pub max_scale: &'a mut [Ratio],
    /// Leverages.
    pub leverage: &'a mut [u32],
    /// Cluster tags.
    pub cluster: &'a mut [u16],
    /// Flags.
    pub flags: &'a mut [u16],
    /// Commissions per lot and side.
    pub commission_per_lot: &'a mut [Money],
    /// Daily loss limits.
    pub daily_loss_limit: &'a mut [Money],
    /// Margin-call levels (percent).
    pub margin_call_level: &'a mut [Ratio],
    /// Stop-out levels (percent).
    pub stop_out_level: &'a mut [Ratio],
    /// Currency codes.
    pub currency: &'a mut [[u8; 8]],
}

/// Casts column `col`'s first `count` entries; `None` if out of bounds or misaligned.
fn col<'a, T: Pod>(bytes: &'a [u8], layout: &Layout, col: usize, count: usize) -> Option<&'a [T]> {
    debug_assert_eq!(core::mem::size_of::<T>(), COLUMNS[col].1);
    try_cast_slice(bytes.get(layout.used(col, count))?).ok()
}

/// The read-only columns of the first `count` accounts; `None` if `bytes` is too short for
/// the layout or a column is misaligned (neither happens for a validated, mapped store).
pub(super) fn columns<'a>(
    bytes: &'a [u8],
    layout: &Layout,
    count: usize,
) -> Option<AccountColumns<'a>> {
    let l = layout;
    Some(AccountColumns {
        id: col(bytes, l, 0, count)?,
        balance: col(bytes, l, 1, count)?,
        equity: col(bytes, l, 2, count)?,
        margin_used: col(bytes, l, 3, count)?,
        equity_hwm: col(bytes, l, 4, count)?,
        multiplier: col(bytes, l, 5, count)?,
        percent: col(bytes, l, 6, count)?,
        fixed_lots: col(bytes, l, 7, count)?,
        risk_fraction: col(bytes, l, 8, count)?,
        drawdown_tolerance: col(bytes, l, 9, count)?,
        min_scale: col(bytes, l, 10, count)?,
        max_scale: col(bytes, l, 11, count)?,
        leverage: col(bytes, l, 12, count)?,
        cluster: col(bytes, l, 13, count)?,
        flags: col(bytes, l, 14, count)?,
        commission_per_lot: col(bytes, l, 15, count)?,
        daily_loss_limit: col(bytes, l, 16, count)?,
        margin_call_level: col(bytes, l, 17, count)?,
        stop_out_level: col(bytes, l, 18, count)?,
        currency: col(bytes, l, 19, count)?,
    })
}

/// Splits the next column off `rest` (whose first byte is at file offset `*at`).
fn take<'a, T: Pod>(
    rest: &mut &'a mut [u8],
    at: &mut usize,
    layout: &Layout,
    col: usize,
    count: usize,
) -> Option<&'a mut [T]> {
    let range = layout.used(col, count);
    let buf = core::mem::take(rest);
    let (_, tail) = buf.split_at_mut_checked(range.start.checked_sub(*at)?)?;
    let (mine, tail) = tail.split_at_mut_checked(range.len())?;
    *rest = tail;
    *at = range.end;
    try_cast_slice_mut(mine).ok()
}

/// The mutable columns of the first `count` accounts (columns lie in increasing offset order,
/// so each is split off the remainder of the previous one).
pub(super) fn columns_mut<'a>(
    bytes: &'a mut [u8],
    layout: &Layout,
    count: usize,
) -> Option<AccountColumnsMut<'a>> {
    let (l, n) = (layout, count);
    let mut rest = bytes;
    let mut at = 0usize;
    let r = &mut rest;
    let a = &mut at;
    Some(AccountColumnsMut {
        id: take(r, a, l, 0, n)?,
        balance: take(r, a, l, 1, n)?,
        equity: take(r, a, l, 2, n)?,
        margin_used: take(r, a, l, 3, n)?,
        equity_hwm: take(r, a, l, 4, n)?,
        multiplier: take(r, a, l, 5, n)?,
        percent: take(r, a, l, 6, n)?,
        fixed_lots: take(r, a, l, 7, n)?,
        risk_fraction: take(r, a, l, 8, n)?,
        drawdown_tolerance: take(r, a, l, 9, n)?,
        min_scale: take(r, a, l, 10, n)?,
        max_scale: take(r, a, l, 11, n)?,
        leverage: take(r, a, l, 12, n)?,
        cluster: take(r, a, l, 13, n)?,
        flags: take(r, a, l, 14, n)?,
        commission_per_lot: take(r, a, l, 15, n)?,
        daily_loss_limit: take(r, a, l, 16, n)?,
        margin_call_level: take(r, a, l, 17, n)?,
        stop_out_level: take(r, a, l, 18, n)?,
        currency: take(r, a, l, 19, n)?,
    })
}

impl AccountColumnsMut<'_> {
    /// Writes a whole record at index `i` (panics if `i` is out of range, like slice indexing).
    pub fn set(&mut self, i: usize, r: &crate::account::AccountRecord) {
        self.id[i] = r.id;
        self.balance[i] = r.balance;
        self.equity[i] = r.equity;
        self.margin_used[i] = r.margin_used;
        self.equity_hwm[i] = r.equity_hwm;
        self.multiplier[i] = r.multiplier;
        self.percent[i] = r.percent;
        self.fixed_lots[i] = r.fixed_lots;
        self.risk_fraction[i] = r.risk_fraction;
        self.drawdown_tolerance[i] = r.drawdown_tolerance;
        self.min_scale[i] = r.min_scale;
        self.max_scale[i] = r.max_scale;
        self.leverage[i] = r.leverage;
        self.cluster[i] = r.cluster;
        self.flags[i] = r.flags;
        self.commission_per_lot[i] = r.commission_per_lot;
        self.daily_loss_limit[i] = r.daily_loss_limit;
        self.margin_call_level[i] = r.margin_call_level;
        self.stop_out_level[i] = r.stop_out_level;
        self.currency[i] = r.currency;
    }
}
