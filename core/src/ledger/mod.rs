//! The ledger: what every account holds and what it is worth, built from fills only.
//!
//! Per account × instrument a net position: quantity (`Qty`, signed, long positive) and cost
//! basis `K = Σ qty × px` of the fills that built it, kept exactly in `i128` at the scale of
//! `Qty` raw × `Price` raw (1e-14 of the quote currency), plus the realised P&L, commission and
//! swap booked on it. The average entry price is `K ÷ qty`, shown half-to-even to 1e-8; it is
//! never stored, so it never drifts.
//!
//! **A fill** of signed quantity `dq` at `px`:
//! - that opens or adds: `qty += dq`, `K += dq × px` (exact);
//! - that reduces by `r = min(|dq|, |qty|)`: the closed cost is `Kc = K × r ÷ qty`, half-to-even
//!   (exact: see [`exact::mul_div_half_even`]); realised P&L in the quote currency is
//!   `sign(qty) × (r × px − |Kc|)`, converted to the account currency at the fill (one rounding,
//!   half-to-even, to the micro-unit), and `K −= Kc`. A position closed to zero has `K = 0`
//!   exactly, so nothing is left behind; the rest of `dq` past zero opens the other way at `px`;
//! - commission: `commission_per_lot × |dq| ÷ contract_size`, half-to-even to the micro-unit;
//! - the balance takes realised P&L − commission − swap at once.
//!
//! **Marking** (MetaTrader's rule): a long is marked at the bid, a short at the ask.
//! Unrealised P&L of a position is `convert(qty × mark − K)`; equity is the balance plus the
//! unrealised P&L of the account's positions; used margin is
//! `Σ convert(|qty| × mark) × margin_rate ÷ leverage` (each term rounded half-to-even once
//! after conversion and once after the division); free margin is equity − margin; the margin
//! level is equity ÷ margin (compared exactly, never rounded, against the limits).
//!
//! **Conversion** from the quote currency to the account currency goes through the symbol that
//! joins the two ([`SymbolTable::conversion`]), at the mid of its latest quote:
//! USDJPY on a USD account divides by USDJPY's own mid, EURGBP on a USD account multiplies by
//! GBPUSD's mid. Until the converting symbol has a quote, the position's own fill price stands
//! in where it is the same symbol; otherwise the amount is taken as already converted and
//! [`Ledger::unconverted`] counts it (a feed normally quotes every symbol before anyone trades).
//!
//! **Cost.** A quote stores two prices: O(1), whatever the number of accounts. An account's
//! equity and margin are derived on demand from its own row (one entry per instrument): the
//! engine asks when a model, a check or a limit needs them, never on every quote. A full mark
//! of every account streams the position columns once.

pub mod exact;
pub mod guard;
mod position;

#[cfg(test)]
mod tests;

use crate::num::{Money, Price, Qty, Ratio};
use crate::symbol::{Conversion, SymbolTable};
use exact::Rate;
pub use position::Position;

/// What one account is worth at the latest quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Valuation {
    /// Balance (deposits, withdrawals, realised P&L, commission, swap).
    pub balance: Money,
    /// Σ unrealised P&L of the open positions.
    pub unrealised: Money,
    /// Balance + unrealised.
    pub equity: Money,
    /// Used margin.
    pub margin: Money,
}

impl Valuation {
    /// Equity − margin.
    pub fn free_margin(&self) -> Money {
        Money(self.equity.raw().saturating_sub(self.margin.raw()))
    }

    /// Margin level in percent (6 decimals, half-to-even); `None` without margin in use.
    pub fn margin_level(&self) -> Option<Ratio> {
        if self.margin.raw() <= 0 {
            return None;
        }
        let v = exact::mul_div_half_even(
            i128::from(self.equity.raw()),
            100 * i128::from(Ratio::ONE_RAW),
            i128::from(self.margin.raw()),
        )?;
        i64::try_from(v).ok().map(Ratio)
    }

    /// True if the margin level is at or below `level_percent` (exact comparison of
    /// `equity × 100` with `level × margin`). False without margin in use.
    pub fn level_at_or_below(&self, level_percent: Ratio) -> bool {
        self.margin.raw() > 0
            && i128::from(self.equity.raw()) * 100 * i128::from(Ratio::ONE_RAW)
                <= i128::from(level_percent.raw()) * i128::from(self.margin.raw())
    }
}

/// What booking one fill on one account did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Booked {
    /// Realised P&L in the account currency.
    pub realised: Money,
    /// Commission charged.
    pub commission: Money,
    /// Quantity that reduced the position.
    pub closed: Qty,
    /// Quantity that opened or added.
    pub opened: Qty,
}

/// A fill the ledger cannot book (the amounts overflow its integers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("ledger overflow booking {what}")]
pub struct LedgerOverflow {
    /// What overflowed.
    pub what: &'static str,
}

/// Positions and marks (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ledger {
    n: usize,
    ni: usize,
    qty: Vec<i64>,
    cost: Vec<i128>,
    realised: Vec<i64>,
    commission: Vec<i64>,
    swap: Vec<i64>,
    open: Vec<u16>,
    lp_net: Vec<i64>,
    unallocated: Vec<i64>,
    bid: Vec<i64>,
    ask: Vec<i64>,
    unconverted: u64,
    // Fixed at construction from the symbol table and the account currencies (not state).
    conv: Vec<Option<Conversion>>,
    ccy_of: Vec<u16>,
    currencies: Vec<[u8; 8]>,
    contract: Vec<i64>,
    margin_rate: Vec<i64>,
}

/// Conversion tables for accounts in these currencies: the distinct currencies, sorted; each
/// account's index among them; per (currency, instrument) how the instrument's quote currency
/// converts to it.
type CurrencyTables = (Vec<[u8; 8]>, Vec<u16>, Vec<Option<Conversion>>);

fn currency_tables(symbols: &SymbolTable, account_ccy: &[[u8; 8]]) -> CurrencyTables {
    let ni = symbols.iter().count();
    let mut currencies: Vec<[u8; 8]> = account_ccy.to_vec();
    currencies.sort_unstable();
    currencies.dedup();
    let ccy_of = account_ccy
        .iter()
        .map(|c| currencies.binary_search(c).expect("listed") as u16)
        .collect();
    let mut conv = Vec::with_capacity(currencies.len() * ni);
    for c in &currencies {
        for s in 0..ni as u32 {
            conv.push(symbols.conversion(s, c).map_err(|e| e.to_string()).ok());
        }
    }
    (currencies, ccy_of, conv)
}

impl Ledger {
    /// An empty ledger for accounts with these currencies over `symbols`. An instrument whose
    /// quote currency no symbol converts to some account currency is listed by
    /// [`missing_conversions`](Self::missing_conversions); amounts in it are taken as converted
    /// (and counted in [`unconverted`](Self::unconverted)).
    pub fn new(symbols: &SymbolTable, account_ccy: &[[u8; 8]]) -> Self {
        let ni = symbols.iter().count();
        let n = account_ccy.len();
        let (currencies, ccy_of, conv) = currency_tables(symbols, account_ccy);
        Ledger {
            n,
            ni,
            qty: vec![0; n * ni],
            cost: vec![0; n * ni],
            realised: vec![0; n * ni],
            commission: vec![0; n * ni],
            swap: vec![0; n * ni],
            open: vec![0; n],
            lp_net: vec![0; ni],
            unallocated: vec![0; ni],
            bid: vec![0; ni],
            ask: vec![0; ni],
            unconverted: 0,
            conv,
            ccy_of,
            currencies,
            contract: symbols.iter().map(|s| s.contract_size.raw()).collect(),
            margin_rate: symbols.iter().map(|s| s.margin_rate.raw()).collect(),
        }
    }

    /// One more account in `ccy`, holding nothing. A currency no account had before is
    /// added to the conversion tables (rebuilt from `symbols`, the table the ledger was made
    /// with).
    pub fn add_account(&mut self, symbols: &SymbolTable, ccy: [u8; 8]) {
        match self.currencies.binary_search(&ccy) {
            Ok(c) => self.ccy_of.push(c as u16),
            Err(_) => {
                let mut all: Vec<[u8; 8]> = self
                    .ccy_of
                    .iter()
                    .map(|&c| self.currencies[c as usize])
                    .collect();
                all.push(ccy);
                (self.currencies, self.ccy_of, self.conv) = currency_tables(symbols, &all);
            }
        }
        self.n += 1;
        let ni = self.ni;
        for v in [
            &mut self.qty,
            &mut self.realised,
            &mut self.commission,
            &mut self.swap,
        ] {
            v.resize(v.len() + ni, 0);
        }
        self.cost.resize(self.cost.len() + ni, 0);
        self.open.push(0);
    }

    /// `(account currency, instrument)` pairs no symbol converts (see [`new`](Self::new)).
    pub fn missing_conversions(&self) -> Vec<([u8; 8], u32)> {
        let mut out = Vec::new();
        for (c, ccy) in self.currencies.iter().enumerate() {
            for s in 0..self.ni {
                if self.conv[c * self.ni + s].is_none() {
                    out.push((*ccy, s as u32));
                }
            }
        }
        out
    }

    /// Accounts.
    pub fn accounts(&self) -> usize {
        self.n
    }

    /// Instruments.
    pub fn instruments(&self) -> usize {
        self.ni
    }

    /// Records the latest quote of `instrument` (the caller checked `0 < bid <= ask`).
    #[inline]
    pub fn set_quote(&mut self, instrument: u32, bid: Price, ask: Price) {
        let s = instrument as usize;
        debug_assert!(bid.raw() > 0 && bid <= ask);
        if s < self.ni {
            self.bid[s] = bid.raw();
            self.ask[s] = ask.raw();
        }
    }

    /// Latest bid and ask of `instrument`, if quoted.
    pub fn quote(&self, instrument: u32) -> Option<(Price, Price)> {
        let s = instrument as usize;
        (s < self.ni && self.bid[s] > 0).then(|| (Price(self.bid[s]), Price(self.ask[s])))
    }

    /// The position of `account` in `instrument`.
    pub fn position(&self, account: u32, instrument: u32) -> Position {
        let i = account as usize * self.ni + instrument as usize;
        Position {
            qty: Qty(self.qty[i]),
            cost: self.cost[i],
            realised: Money(self.realised[i]),
            commission: Money(self.commission[i]),
            swap: Money(self.swap[i]),
        }
    }

    /// The net quantity of [`Ledger::position`] alone: one column read, where `position` reads
    /// five. The engine's per-account position checks need only this.
    #[inline]
    pub fn qty(&self, account: u32, instrument: u32) -> Qty {
        Qty(self.qty[account as usize * self.ni + instrument as usize])
    }

    /// Number of instruments `account` holds a non-zero position in.
    pub fn open_positions(&self, account: u32) -> u16 {
        self.open[account as usize]
    }

    /// mam's net position at the LP in `instrument`: Σ of every fill, signed.
    pub fn lp_net(&self, instrument: u32) -> Qty {
        Qty(self.lp_net[instrument as usize])
    }

    /// Quantity filled at the LP but not (yet) in any account: sub-step remainders of block
    /// fills. Σ accounts + this = [`lp_net`](Self::lp_net), always.
    pub fn unallocated(&self, instrument: u32) -> Qty {
        Qty(self.unallocated[instrument as usize])
    }

    /// Σ over accounts of the positions in `instrument` (O(accounts): for checks and reports).
    pub fn sum_positions(&self, instrument: u32) -> i128 {
        let s = instrument as usize;
        (0..self.n)
            .map(|a| i128::from(self.qty[a * self.ni + s]))
            .sum()
    }

    /// Amounts converted at a rate of 1 because their converting symbol had no quote yet.
    pub fn unconverted(&self) -> u64 {
        self.unconverted
    }

    /// The currency code of `account`.
    pub fn currency(&self, account: u32) -> [u8; 8] {
        self.currencies[self.ccy_of[account as usize] as usize]
    }

    /// Records a fill at the LP (signed: buys positive) before its shares are booked.
    pub fn lp_fill(&mut self, instrument: u32, signed: Qty) {
        let s = instrument as usize;
        self.lp_net[s] = self.lp_net[s].saturating_add(signed.raw());
        self.unallocated[s] = self.unallocated[s].saturating_add(signed.raw());
    }

    /// The rate converting `instrument`'s quote currency for `account`; `fallback_px` stands in
    /// for the converter's mid when the converter is `instrument` itself and has no quote.
    #[inline]
    fn rate(&self, account: usize, instrument: usize, fallback_px: i64) -> (Rate, bool) {
        let c = self.conv[self.ccy_of[account] as usize * self.ni + instrument];
        let mid2 = |k: u32| {
            let k = k as usize;
            if self.bid[k] > 0 {
                Some(i128::from(self.bid[k]) + i128::from(self.ask[k]))
            } else if k == instrument && fallback_px > 0 {
                Some(2 * i128::from(fallback_px))
            } else {
                None
            }
        };
        match c {
            None => (Rate::Identity, false),
            Some(Conversion::Identity) => (Rate::Identity, true),
            Some(Conversion::Multiply(k)) => {
                mid2(k).map_or((Rate::Identity, false), |m| (Rate::Multiply(m), true))
            }
            Some(Conversion::Divide(k)) => {
                mid2(k).map_or((Rate::Identity, false), |m| (Rate::Divide(m), true))
            }
        }
    }

    /// Books `account`'s share `signed` (buys positive) of a fill at `px` in `instrument`,
    /// moving it out of [`unallocated`](Self::unallocated), and applies realised P&L and
    /// commission to `balance`. On error nothing changed.
    pub fn book(
        &mut self,
        account: u32,
        instrument: u32,
        signed: Qty,
        px: Price,
        commission_per_lot: Money,
        balance: &mut Money,
    ) -> Result<Booked, LedgerOverflow> {
        let (a, s) = (account as usize, instrument as usize);
        let i = a * self.ni + s;
        let dq = signed.raw();
        let of = |what| LedgerOverflow { what };
        let mut p = Position {
            qty: Qty(self.qty[i]),
            cost: self.cost[i],
            realised: Money(self.realised[i]),
            commission: Money(self.commission[i]),
            swap: Money(self.swap[i]),
        };
        let was_open = p.qty.raw() != 0;
        let step = p.apply(dq, px.raw()).ok_or(of("position"))?;
        let (rate, converted) = self.rate(a, s, px.raw());
        let realised = rate
            .to_money(step.realised_quote)
            .ok_or(of("realised P&L"))?;
        let realised = i64::try_from(realised).map_err(|_| of("realised P&L"))?;
        let commission = exact::mul_div_half_even(
            i128::from(commission_per_lot.raw()),
            i128::from(dq.unsigned_abs()),
            i128::from(self.contract[s]),
        )
        .and_then(|c| i64::try_from(c).ok())
        .ok_or(of("commission"))?;
        let bal = balance
            .raw()
            .checked_add(realised)
            .and_then(|b| b.checked_sub(commission))
            .ok_or(of("balance"))?;
        p.realised = Money(
            p.realised
                .raw()
                .checked_add(realised)
                .ok_or(of("realised"))?,
        );
        p.commission = Money(
            p.commission
                .raw()
                .checked_add(commission)
                .ok_or(of("commission"))?,
        );
        // Commit.
        *balance = Money(bal);
        if !converted && (step.realised_quote != 0 || self.unconvertible(a, s)) {
            self.unconverted += 1;
        }
        self.qty[i] = p.qty.raw();
        self.cost[i] = p.cost;
        self.realised[i] = p.realised.raw();
        self.commission[i] = p.commission.raw();
        let now_open = p.qty.raw() != 0;
        match (was_open, now_open) {
            (false, true) => self.open[a] += 1,
            (true, false) => self.open[a] -= 1,
            _ => {}
        }
        self.unallocated[s] = self.unallocated[s].saturating_sub(dq);
        Ok(Booked {
            realised: Money(realised),
            commission: Money(commission),
            closed: Qty(step.closed),
            opened: Qty(step.opened),
        })
    }

    fn unconvertible(&self, a: usize, s: usize) -> bool {
        self.conv[self.ccy_of[a] as usize * self.ni + s].is_none()
    }

    /// Unrealised P&L of one position at the latest quotes (zero while unquoted: marked at
    /// cost).
    pub fn unrealised(&self, account: u32, instrument: u32) -> Money {
        let (a, s) = (account as usize, instrument as usize);
        Money(self.unrealised_at(a, s).0)
    }

    /// (unrealised, margin before leverage) of position `(a, s)`, micro-units.
    #[inline(always)]
    fn unrealised_at(&self, a: usize, s: usize) -> (i64, i64) {
        let i = a * self.ni + s;
        let q = self.qty[i];
        if q == 0 {
            return (0, 0);
        }
        let mark = if q > 0 { self.bid[s] } else { self.ask[s] };
        let k = self.cost[i];
        // Before the symbol's first quote its own average price stands in for a conversion
        // through itself (USDJPY on a USD account), as the fill price does when booking.
        let avg = i64::try_from(k.abs() / i128::from(q.unsigned_abs())).unwrap_or(0);
        let (rate, _) = self.rate(a, s, avg);
        let (x, notional) = if mark > 0 {
            let v = i128::from(q) * i128::from(mark);
            (v - k, v.abs())
        } else {
            (0, k.abs())
        };
        let (u, m) = rate.to_money2(x, notional);
        let u = u.and_then(|v| i64::try_from(v).ok());
        let m = m.and_then(|v| i64::try_from(v).ok());
        (u.unwrap_or(i64::MAX), m.unwrap_or(i64::MAX))
    }

    /// What `account` is worth now, with `balance` and `leverage` from the account columns
    /// (a leverage of 0 counts as 1).
    pub fn value(&self, account: u32, balance: Money, leverage: u32) -> Valuation {
        let a = account as usize;
        let mut v = Valuation {
            balance,
            equity: balance,
            ..Valuation::default()
        };
        if self.open[a] == 0 {
            return v;
        }
        let lev = leverage.max(1);
        let inv_lev = 1.0 / f64::from(lev);
        let (mut u, mut m) = (0i64, 0i64);
        let row = a * self.ni;
        for s in 0..self.ni {
            let q = self.qty[row + s];
            if q == 0 {
                continue;
            }
            let (pu, pm) = match self.term_fast(a, s, q, lev, inv_lev) {
                Some(t) => t,
                None => self.term(a, s, lev),
            };
            u = u.saturating_add(pu);
            m = m.saturating_add(pm);
        }
        v.unrealised = Money(u);
        v.equity = Money(balance.raw().saturating_add(u));
        v.margin = Money(m);
        v
    }

    /// (unrealised P&L, margin) of the open position `(a, s)` as [`value`](Self::value) sums
    /// them: each converted and rounded half-to-even once, the margin rounded once more after
    /// the division by the leverage (`i64::MAX` where a term overflows).
    fn term(&self, a: usize, s: usize, lev: u32) -> (i64, i64) {
        let (pu, notional) = self.unrealised_at(a, s);
        let pm = exact::mul_div_half_even(
            i128::from(notional),
            i128::from(self.margin_rate[s]),
            i128::from(lev) * i128::from(Ratio::ONE_RAW),
        )
        .and_then(|x| i64::try_from(x).ok())
        .unwrap_or(i64::MAX);
        (pu, pm)
    }

    /// [`term`](Self::term) of a quoted position whose amounts are in the usual ranges, with
    /// `f64`-estimated quotients made exact ([`exact::div_round`]): the same numbers rounded the
    /// same way, so the same result. `None` (take [`term`](Self::term)) outside those ranges:
    /// no quote yet, amounts of 2^88 or more before a conversion by multiplication, 2^120 or
    /// more before a division, a margin rate other than 1, a quotient of 2^52 or more.
    #[inline(always)]
    fn term_fast(&self, a: usize, s: usize, q: i64, lev: u32, inv_lev: f64) -> Option<(i64, i64)> {
        const E8: i64 = 100_000_000;
        const E16X2: i64 = 2 * E8 * E8;
        if self.margin_rate[s] != Ratio::ONE_RAW {
            return None;
        }
        let mark = if q > 0 { self.bid[s] } else { self.ask[s] };
        if mark <= 0 {
            return None;
        }
        let v = i128::from(q) * i128::from(mark);
        let x = v - self.cost[a * self.ni + s];
        let n = v.unsigned_abs();
        let (pu, nm) = match self.rate(a, s, 0).0 {
            Rate::Identity => (
                exact::div_round(x, E8, 1e-8)?,
                exact::div_round_u(n, E8, 1e-8)?,
            ),
            Rate::Multiply(c) => {
                // |x|, n < 2^88 and c < 2^38: the products stay below 2^126.
                if x.unsigned_abs() >> 88 != 0 || n >> 88 != 0 || !(0..1 << 38).contains(&c) {
                    return None;
                }
                (
                    exact::div_round(x * c, E16X2, 0.5e-16)?,
                    exact::div_round_u(n * c as u128, E16X2, 0.5e-16)?,
                )
            }
            Rate::Divide(c) => {
                if x.unsigned_abs() >> 120 != 0 || n >> 120 != 0 || !(1..1 << 59).contains(&c) {
                    return None;
                }
                let inv = 1.0 / (c as i64 as f64);
                (
                    exact::div_round(2 * x, c as i64, inv)?,
                    exact::div_round_u(2 * n, c as i64, inv)?,
                )
            }
        };
        // Margin rate 1: notional × 1e6 ÷ (leverage × 1e6) is notional ÷ leverage.
        let pm = exact::div_round_u(nm as u128, i64::from(lev), inv_lev)?;
        Some((pu, pm))
    }

    /// `|qty| × px` of `instrument` in `account`'s currency (micro-units, half-to-even; the
    /// largest value on overflow).
    pub fn notional_money(&self, account: u32, instrument: u32, qty: i64, px: Price) -> i64 {
        let (rate, _) = self.rate(account as usize, instrument as usize, px.raw());
        rate.to_money(i128::from(qty.unsigned_abs()) * i128::from(px.raw()))
            .and_then(|v| i64::try_from(v).ok())
            .unwrap_or(i64::MAX)
    }
}

/// The ledger's state as bytes (little-endian; positions sparse, in account then instrument
/// order), for checkpoints and digests.
mod codec {
    use super::Ledger;

    fn take<'a>(b: &'a [u8], at: &mut usize, n: usize, what: &str) -> Result<&'a [u8], String> {
        let end = at
            .checked_add(n)
            .filter(|&e| e <= b.len())
            .ok_or_else(|| format!("ledger: truncated reading {what}"))?;
        let s = &b[*at..end];
        *at = end;
        Ok(s)
    }
    fn i64_at(b: &[u8], at: &mut usize, what: &str) -> Result<i64, String> {
        Ok(i64::from_le_bytes(
            take(b, at, 8, what)?.try_into().expect("8"),
        ))
    }

    impl Ledger {
        /// Appends the state (everything but what [`Ledger::new`] derives).
        pub(crate) fn encode(&self, out: &mut Vec<u8>) {
            out.extend_from_slice(&(self.n as u64).to_le_bytes());
            out.extend_from_slice(&(self.ni as u64).to_le_bytes());
            for s in 0..self.ni {
                for v in [
                    self.bid[s],
                    self.ask[s],
                    self.lp_net[s],
                    self.unallocated[s],
                ] {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
            out.extend_from_slice(&self.unconverted.to_le_bytes());
            let live = |i: usize| {
                self.qty[i] != 0
                    || self.cost[i] != 0
                    || self.realised[i] != 0
                    || self.commission[i] != 0
                    || self.swap[i] != 0
            };
            let count = (0..self.n * self.ni).filter(|&i| live(i)).count();
            out.extend_from_slice(&(count as u64).to_le_bytes());
            for i in (0..self.n * self.ni).filter(|&i| live(i)) {
                out.extend_from_slice(&(i as u64).to_le_bytes());
                out.extend_from_slice(&self.qty[i].to_le_bytes());
                out.extend_from_slice(&self.cost[i].to_le_bytes());
                out.extend_from_slice(&self.realised[i].to_le_bytes());
                out.extend_from_slice(&self.commission[i].to_le_bytes());
                out.extend_from_slice(&self.swap[i].to_le_bytes());
            }
        }

        /// Reads back what [`encode`](Self::encode) wrote into a fresh ledger of the same
        /// shape; returns the bytes read.
        pub(crate) fn decode(&mut self, b: &[u8]) -> Result<usize, String> {
            let mut at = 0;
            let n = i64_at(b, &mut at, "accounts")? as u64;
            let ni = i64_at(b, &mut at, "instruments")? as u64;
            if n != self.n as u64 || ni != self.ni as u64 {
                return Err(format!(
                    "ledger for {n} accounts × {ni} instruments, engine has {} × {}",
                    self.n, self.ni
                ));
            }
            for s in 0..self.ni {
                self.bid[s] = i64_at(b, &mut at, "bid")?;
                self.ask[s] = i64_at(b, &mut at, "ask")?;
                self.lp_net[s] = i64_at(b, &mut at, "lp net")?;
                self.unallocated[s] = i64_at(b, &mut at, "unallocated")?;
            }
            self.unconverted = i64_at(b, &mut at, "unconverted")? as u64;
            let count = i64_at(b, &mut at, "positions")? as u64;
            if count > (self.n * self.ni) as u64 {
                return Err(format!(
                    "ledger: {count} positions for {} slots",
                    self.n * self.ni
                ));
            }
            let mut last: Option<usize> = None;
            for _ in 0..count {
                let i = i64_at(b, &mut at, "position index")? as u64 as usize;
                if i >= self.n * self.ni || last.is_some_and(|l| l >= i) {
                    return Err(format!("ledger: position index {i} out of order or range"));
                }
                last = Some(i);
                self.qty[i] = i64_at(b, &mut at, "qty")?;
                self.cost[i] =
                    i128::from_le_bytes(take(b, &mut at, 16, "cost")?.try_into().expect("16"));
                self.realised[i] = i64_at(b, &mut at, "realised")?;
                self.commission[i] = i64_at(b, &mut at, "commission")?;
                self.swap[i] = i64_at(b, &mut at, "swap")?;
                if self.qty[i] != 0 {
                    self.open[i / self.ni] += 1;
                }
            }
            Ok(at)
        }
    }
}
