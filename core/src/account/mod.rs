//! Sub-accounts: the record a person imports and exports, the column view allocation reads,
//! and the memory-mapped [`AccountStore`](store::AccountStore).
//!
//! The store keeps accounts as a structure of arrays: each field is one contiguous Pod column,
//! so a model that reads only equity streams 8 bytes per account, not a whole record.

use bytemuck::{Pod, Zeroable};

pub mod store;

use crate::num::{Lots, Money, Ratio};

/// Flag: the account takes new orders.
pub const FLAG_ACTIVE: u16 = 1;
/// Flag: the account may only reduce positions (no new opens).
pub const FLAG_CLOSE_ONLY: u16 = 2;
/// Flag: when the account crosses its daily loss limit or its maximum drawdown, close
/// everything. Without it the action is close-only: open positions stay, new opens are refused.
/// Set per account on import (the CSV's `limit_action` column).
pub const FLAG_LIMIT_FLATTEN: u16 = 4;
/// Flag: set by the engine while a loss limit holds the account close-only (not set by
/// imports). Kept apart from [`FLAG_CLOSE_ONLY`] so that lifting the hold (a new UTC day) does
/// not clear a close-only the operator set.
pub const FLAG_LIMIT_CLOSE_ONLY_SET: u16 = 8;
/// Bits 8–13 of the flags word: the manager (MAM group) whose masters the account follows,
/// 0–63. Kept in the flags column rather than a column of its own so that allocation's
/// eligibility test stays one load and one compare per account, and store files of layout
/// version 2 read as manager 0 (the only one there was).
pub const FLAG_MANAGER_MASK: u16 = 0x3f << FLAG_MANAGER_SHIFT;
/// Where [`FLAG_MANAGER_MASK`] starts.
pub const FLAG_MANAGER_SHIFT: u32 = 8;
/// How many managers one engine serves (the width of [`FLAG_MANAGER_MASK`]).
pub const MAX_MANAGERS: usize = 64;

/// The manager an account with these flags follows.
#[inline]
pub fn manager_of(flags: u16) -> u8 {
    ((flags & FLAG_MANAGER_MASK) >> FLAG_MANAGER_SHIFT) as u8
}

/// `flags` with the manager set to `m` (`m` < [`MAX_MANAGERS`]; higher bits are dropped).
#[inline]
pub fn with_manager(flags: u16, m: u8) -> u16 {
    (flags & !FLAG_MANAGER_MASK) | ((u16::from(m) << FLAG_MANAGER_SHIFT) & FLAG_MANAGER_MASK)
}

/// The default account currency, as [`AccountRecord::currency`] stores it.
pub const USD: [u8; 8] = *b"USD\0\0\0\0\0";

/// One account, whole: what `mam accounts import|export|show` reads and writes.
///
/// `repr(C)` without padding (the fields are ordered by alignment; a const assertion below
/// checks the size), so it is Pod and its size is the store header's `record_size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct AccountRecord {
    /// Account id as ASCII, NUL-padded (at most 16 bytes).
    pub id: [u8; 16],
    /// Balance (closed P&L plus deposits minus withdrawals).
    pub balance: Money,
    /// Equity (balance plus floating P&L).
    pub equity: Money,
    /// Margin in use.
    pub margin_used: Money,
    /// Highest equity seen (drawdown is measured from it).
    pub equity_hwm: Money,
    /// Lot multiplier for the `multiplier` model (1.5 = one and a half times the master).
    pub multiplier: Ratio,
    /// Share of the master order in percent (0-100) for the `percent` model.
    pub percent: Ratio,
    /// Fixed size for the `fixed` model.
    pub fixed_lots: Lots,
    /// Fraction of equity risked at the stop-loss for the `risk` model (0.01 = 1 %).
    pub risk_fraction: Ratio,
    /// Largest drawdown from the high-water mark the investor tolerates (0.2 = 20 %).
    pub drawdown_tolerance: Ratio,
    /// Lower bound of the adaptive scale factor the manager allows.
    pub min_scale: Ratio,
    /// Upper bound of the adaptive scale factor the manager allows.
    pub max_scale: Ratio,
    /// Account leverage (100 = 1:100).
    pub leverage: u32,
    /// Cluster / jurisdiction tag.
    pub cluster: u16,
    /// [`FLAG_ACTIVE`], [`FLAG_CLOSE_ONLY`], [`FLAG_LIMIT_FLATTEN`],
    /// [`FLAG_LIMIT_CLOSE_ONLY_SET`].
    pub flags: u16,
    /// Commission charged per lot traded, per side, in the account currency (0: none).
    pub commission_per_lot: Money,
    /// Largest loss of equity within one UTC day before the limit action
    /// ([`FLAG_LIMIT_FLATTEN`] or close-only); 0 = no limit.
    pub daily_loss_limit: Money,
    /// Margin level in percent (100 = 100 %) at which a margin call is raised; 0 = the engine
    /// default (100 %).
    pub margin_call_level: Ratio,
    /// Margin level in percent at which positions are closed; 0 = the engine default (50 %).
    pub stop_out_level: Ratio,
    /// Account currency as an ASCII code, NUL-padded (`USD`, `EUR`, `JPY`, `USDT`); see
    /// [`encode_currency`].
    pub currency: [u8; 8],
}

// 16 + 11 × 8 + 4 + 2 + 2 + 4 × 8 + 8: no padding anywhere. The store header records this
// size, so a change here must come with a new layout version.
const _: () = assert!(core::mem::size_of::<AccountRecord>() == 152);

/// Every field zero except the currency, which is [`USD`] (an all-zero currency is not a valid
/// code, and `..AccountRecord::default()` should give a record an import would accept).
impl Default for AccountRecord {
    fn default() -> Self {
        AccountRecord {
            currency: USD,
            ..Self::zeroed()
        }
    }
}

impl AccountRecord {
    /// The id as text (up to the first NUL).
    pub fn id_str(&self) -> &str {
        let end = self.id.iter().position(|&b| b == 0).unwrap_or(16);
        core::str::from_utf8(&self.id[..end]).unwrap_or("?")
    }

    /// The currency code as text (up to the first NUL).
    pub fn currency_str(&self) -> &str {
        let end = self.currency.iter().position(|&b| b == 0).unwrap_or(8);
        core::str::from_utf8(&self.currency[..end]).unwrap_or("?")
    }

    /// Free margin: equity minus margin used.
    pub fn free_margin(&self) -> Money {
        Money(self.equity.0.saturating_sub(self.margin_used.0))
    }
}

/// Borrowed columns of `n` accounts, index `i` in each column being account `i`.
/// This is what allocation reads: contiguous, one field at a time.
#[derive(Debug, Clone, Copy)]
pub struct AccountColumns<'a> {
    /// Ids.
    pub id: &'a [[u8; 16]],
    /// Balances.
    pub balance: &'a [Money],
    /// Equities.
    pub equity: &'a [Money],
    /// Margins used.
    pub margin_used: &'a [Money],
    /// Equity high-water marks.
    pub equity_hwm: &'a [Money],
    /// Lot multipliers.
    pub multiplier: &'a [Ratio],
    /// Percent shares.
    pub percent: &'a [Ratio],
    /// Fixed sizes.
    pub fixed_lots: &'a [Lots],
    /// Risk fractions.
    pub risk_fraction: &'a [Ratio],
    /// Drawdown tolerances.
    pub drawdown_tolerance: &'a [Ratio],
    /// Adaptive lower bounds.
    pub min_scale: &'a [Ratio],
    /// Adaptive upper bounds.
    pub max_scale: &'a [Ratio],
    /// Leverages.
    pub leverage: &'a [u32],
    /// Cluster tags.
    pub cluster: &'a [u16],
    /// Flags.
    pub flags: &'a [u16],
    /// Commissions per lot and side.
    pub commission_per_lot: &'a [Money],
    /// Daily loss limits.
    pub daily_loss_limit: &'a [Money],
    /// Margin-call levels (percent).
    pub margin_call_level: &'a [Ratio],
    /// Stop-out levels (percent).
    pub stop_out_level: &'a [Ratio],
    /// Currency codes.
    pub currency: &'a [[u8; 8]],
}

impl AccountColumns<'_> {
    /// Number of accounts.
    pub fn len(&self) -> usize {
        self.id.len()
    }
    /// True if there are no accounts.
    pub fn is_empty(&self) -> bool {
        self.id.is_empty()
    }
    /// Account `i` as a whole record.
    pub fn record(&self, i: usize) -> AccountRecord {
        AccountRecord {
            id: self.id[i],
            balance: self.balance[i],
            equity: self.equity[i],
            margin_used: self.margin_used[i],
            equity_hwm: self.equity_hwm[i],
            multiplier: self.multiplier[i],
            percent: self.percent[i],
            fixed_lots: self.fixed_lots[i],
            risk_fraction: self.risk_fraction[i],
            drawdown_tolerance: self.drawdown_tolerance[i],
            min_scale: self.min_scale[i],
            max_scale: self.max_scale[i],
            leverage: self.leverage[i],
            cluster: self.cluster[i],
            flags: self.flags[i],
            commission_per_lot: self.commission_per_lot[i],
            daily_loss_limit: self.daily_loss_limit[i],
            margin_call_level: self.margin_call_level[i],
            stop_out_level: self.stop_out_level[i],
            currency: self.currency[i],
        }
    }
}

/// Owned columns: the in-memory twin of the store, for tests, CSV input and generated demos.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountVecs {
    /// Ids.
    pub id: Vec<[u8; 16]>,
    /// Balances.
    pub balance: Vec<Money>,
    /// Equities.
    pub equity: Vec<Money>,
    /// Margins used.
    pub margin_used: Vec<Money>,
    /// Equity high-water marks.
    pub equity_hwm: Vec<Money>,
    /// Lot multipliers.
    pub multiplier: Vec<Ratio>,
    /// Percent shares.
    pub percent: Vec<Ratio>,
    /// Fixed sizes.
    pub fixed_lots: Vec<Lots>,
    /// Risk fractions.
    pub risk_fraction: Vec<Ratio>,
    /// Drawdown tolerances.
    pub drawdown_tolerance: Vec<Ratio>,
    /// Adaptive lower bounds.
    pub min_scale: Vec<Ratio>,
    /// Adaptive upper bounds.
    pub max_scale: Vec<Ratio>,
    /// Leverages.
    pub leverage: Vec<u32>,
    /// Cluster tags.
    pub cluster: Vec<u16>,
    /// Flags.
    pub flags: Vec<u16>,
    /// Commissions per lot and side.
    pub commission_per_lot: Vec<Money>,
    /// Daily loss limits.
    pub daily_loss_limit: Vec<Money>,
    /// Margin-call levels (percent).
    pub margin_call_level: Vec<Ratio>,
    /// Stop-out levels (percent).
    pub stop_out_level: Vec<Ratio>,
    /// Currency codes.
    pub currency: Vec<[u8; 8]>,
}

impl AccountVecs {
    /// Appends one record.
    pub fn push(&mut self, r: &AccountRecord) {
        self.id.push(r.id);
        self.balance.push(r.balance);
        self.equity.push(r.equity);
        self.margin_used.push(r.margin_used);
        self.equity_hwm.push(r.equity_hwm);
        self.multiplier.push(r.multiplier);
        self.percent.push(r.percent);
        self.fixed_lots.push(r.fixed_lots);
        self.risk_fraction.push(r.risk_fraction);
        self.drawdown_tolerance.push(r.drawdown_tolerance);
        self.min_scale.push(r.min_scale);
        self.max_scale.push(r.max_scale);
        self.leverage.push(r.leverage);
        self.cluster.push(r.cluster);
        self.flags.push(r.flags);
        self.commission_per_lot.push(r.commission_per_lot);
        self.daily_loss_limit.push(r.daily_loss_limit);
        self.margin_call_level.push(r.margin_call_level);
        self.stop_out_level.push(r.stop_out_level);
        self.currency.push(r.currency);
    }

    /// Overwrites account `i` (panics if `i` is out of range, like slice indexing).
    pub fn set(&mut self, i: usize, r: &AccountRecord) {
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

    /// Borrowed view.
    pub fn columns(&self) -> AccountColumns<'_> {
        AccountColumns {
            id: &self.id,
            balance: &self.balance,
            equity: &self.equity,
            margin_used: &self.margin_used,
            equity_hwm: &self.equity_hwm,
            multiplier: &self.multiplier,
            percent: &self.percent,
            fixed_lots: &self.fixed_lots,
            risk_fraction: &self.risk_fraction,
            drawdown_tolerance: &self.drawdown_tolerance,
            min_scale: &self.min_scale,
            max_scale: &self.max_scale,
            leverage: &self.leverage,
            cluster: &self.cluster,
            flags: &self.flags,
            commission_per_lot: &self.commission_per_lot,
            daily_loss_limit: &self.daily_loss_limit,
            margin_call_level: &self.margin_call_level,
            stop_out_level: &self.stop_out_level,
            currency: &self.currency,
        }
    }
}

/// NUL-padded ASCII (an id or a currency code) as text, up to the first NUL; `?` if not UTF-8.
pub fn id_text(b: &[u8]) -> &str {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    core::str::from_utf8(&b[..end]).unwrap_or("?")
}

/// True if `id` is what [`encode_id`] makes: 1–16 printable ASCII bytes (no `,` or `"`), then
/// NULs only.
pub fn valid_id(id: &[u8; 16]) -> bool {
    let end = id.iter().position(|&b| b == 0).unwrap_or(16);
    end > 0
        && id[end..].iter().all(|&b| b == 0)
        && core::str::from_utf8(&id[..end]).is_ok_and(|s| encode_id(s) == Some(*id))
}

/// True if `code` is what [`encode_currency`] makes: 3–7 uppercase ASCII letters or digits,
/// then NULs only.
pub fn valid_currency(code: &[u8; 8]) -> bool {
    let end = code.iter().position(|&b| b == 0).unwrap_or(8);
    core::str::from_utf8(&code[..end]).is_ok_and(|s| encode_currency(s) == Some(*code))
}

/// Packs an account id into 16 NUL-padded bytes; `None` if empty, longer than 16 bytes, or not
/// printable ASCII without commas.
pub fn encode_id(id: &str) -> Option<[u8; 16]> {
    let ok = !id.is_empty()
        && id.len() <= 16
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b',' && b != b'"');
    if !ok {
        return None;
    }
    let mut out = [0u8; 16];
    out[..id.len()].copy_from_slice(id.as_bytes());
    Some(out)
}

/// Packs a currency code into 8 NUL-padded bytes; `None` unless it is 3 to 7 ASCII uppercase
/// letters or digits (`USD`, `EUR`, `USDT`). At most 7 so that the stored code always ends in
/// a NUL, like a C string.
pub fn encode_currency(code: &str) -> Option<[u8; 8]> {
    let ok = (3..=7).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if !ok {
        return None;
    }
    let mut out = [0u8; 8];
    out[..code.len()].copy_from_slice(code.as_bytes());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes() {
        assert_eq!(encode_currency("USD"), Some(USD));
        let usdt = encode_currency("USDT").unwrap();
        assert_eq!(&usdt, b"USDT\0\0\0\0");
        for bad in ["", "US", "usd", "USD ", "EURO-1", "ABCDEFGH", "€UR"] {
            assert_eq!(encode_currency(bad), None, "{bad:?}");
        }
        assert!(encode_currency("ABCDEF7").is_some());
        let r = AccountRecord {
            currency: usdt,
            ..AccountRecord::default()
        };
        assert_eq!(r.currency_str(), "USDT");
        assert_eq!(AccountRecord::default().currency_str(), "USD");
    }

    #[test]
    fn vecs_set_overwrites_every_field() {
        let a = AccountRecord {
            id: encode_id("A").unwrap(),
            ..AccountRecord::default()
        };
        let b = AccountRecord {
            id: encode_id("B").unwrap(),
            balance: Money(1),
            equity: Money(2),
            margin_used: Money(3),
            equity_hwm: Money(4),
            multiplier: Ratio(5),
            percent: Ratio(6),
            fixed_lots: Lots(7),
            risk_fraction: Ratio(8),
            drawdown_tolerance: Ratio(9),
            min_scale: Ratio(10),
            max_scale: Ratio(11),
            leverage: 12,
            cluster: 13,
            flags: FLAG_ACTIVE | FLAG_LIMIT_FLATTEN,
            commission_per_lot: Money(14),
            daily_loss_limit: Money(15),
            margin_call_level: Ratio(16),
            stop_out_level: Ratio(17),
            currency: encode_currency("EUR").unwrap(),
        };
        let mut v = AccountVecs::default();
        v.push(&a);
        v.push(&a);
        v.set(1, &b);
        assert_eq!((v.columns().record(0), v.columns().record(1)), (a, b));
    }
}
