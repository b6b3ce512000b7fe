//! Limits that act: margin call, stop-out, daily loss and maximum drawdown per account.
//!
//! Each account is checked exactly when something about it changes: its own fills and
//! balance changes, the end of one of its limit orders, and any quote that leaves its price box
//! ([`crate::ledger::guard`]), which is the first quote at which a limit can be crossed. A quote
//! inside every box costs two ordered-index probes, whatever the number of accounts.
//!
//! - **Margin call** at a margin level at or below `margin_call_level` (default 100 %):
//!   journaled when raised and when lifted; no orders.
//! - **Stop-out** at or below `stop_out_level` (default 50 %): the engine closes the
//!   account's position with the largest loss with a per-account order of its own (whatever
//!   the master's routing), waits for it to finish, checks again, and closes the next while the
//!   level is still at or below the stop-out. Each is journaled with the level that triggered.
//! - **Daily loss**: equity at or below the day's opening equity less `daily_loss_limit`;
//!   **maximum drawdown**: equity at or below `equity_hwm × (1 − drawdown_tolerance)`. The
//!   account's action: close-only (no new opens) or, with the flatten flag, close everything
//!   too. Journaled when crossed; lifted at the first quote of a new UTC day (the daily loss
//!   always, the drawdown once equity is back above its limit, after a deposit).
//!
//! The high-water mark moves at the account's own events (fills, deposits and withdrawals) and
//! at each new day: points every replay sees alike. Limit orders carry the master ticket
//! [`LIMIT_TICKET`]; the account's shares in tickets of that symbol go to zero when they are
//! sent (the position is closed whatever ticket built it).

use std::collections::BTreeSet;

use bytemuck::{Pod, Zeroable};

use super::apply::mark_hwm;
use super::decision::Decision;
use super::state::OrderState;
use super::{Engine, CL_ORD_ID_SHIFT};
use crate::account::{FLAG_LIMIT_CLOSE_ONLY_SET, FLAG_LIMIT_FLATTEN};
use crate::event::{ChildOrder, OrdType, Side};
use crate::ledger::guard::{Bound, Condition};
use crate::ledger::Valuation;
use crate::num::{Qty, Ratio};

/// Master ticket of the orders the engine sends on its own (stop-outs, flattening).
pub const LIMIT_TICKET: u64 = u64::MAX;

/// Journal kind of a [`LimitEvent`].
pub const KIND_LIMIT: u16 = 37;

/// [`LimitEvent::event`] codes.
pub mod event {
    /// Margin level at or below the margin-call level.
    pub const MARGIN_CALL: u8 = 1;
    /// Margin level back above it.
    pub const MARGIN_CALL_LIFTED: u8 = 2;
    /// Margin level at or below the stop-out level: a position is closed.
    pub const STOP_OUT: u8 = 3;
    /// Daily loss limit crossed.
    pub const DAILY_LOSS: u8 = 4;
    /// Maximum drawdown crossed.
    pub const DRAWDOWN: u8 = 5;
    /// A new day lifted a daily-loss or drawdown hold.
    pub const LIFTED: u8 = 6;

    /// Short stable text of a code.
    pub fn text(code: u8) -> &'static str {
        match code {
            MARGIN_CALL => "margin call",
            MARGIN_CALL_LIFTED => "margin call lifted",
            STOP_OUT => "stop-out",
            DAILY_LOSS => "daily loss limit",
            DRAWDOWN => "maximum drawdown",
            LIFTED => "limit lifted",
            _ => "?",
        }
    }
}

/// A limit crossed or lifted (56 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
#[repr(C)]
pub struct LimitEvent {
    /// Event time of the input that caused the check.
    pub ts_ns: u64,
    /// Journal sequence of that input.
    pub input_seq: u64,
    /// Equity at the check (micro-units).
    pub equity: i64,
    /// Margin at the check.
    pub margin: i64,
    /// Margin level (percent, 6 decimals); −1 without margin in use.
    pub level: i64,
    /// The limit crossed: a level (percent, 6 decimals) or an equity (micro-units).
    pub threshold: i64,
    /// Account index.
    pub account: u32,
    /// An [`event`] code.
    pub event: u8,
    /// 0 none, 1 close-only, 2 flatten, 3 close the largest loss.
    pub action: u8,
    /// Orders sent.
    pub orders: u16,
}

const MC: u8 = 1;
const SO_PENDING: u8 = 2;
const DAILY: u8 = 4;
const DD: u8 = 8;

/// Default margin-call level, percent.
pub const DEFAULT_MARGIN_CALL: i64 = 100;
/// Default stop-out level, percent.
pub const DEFAULT_STOP_OUT: i64 = 50;
const DAY_NS: u64 = 86_400_000_000_000;

/// Per-account limit state (part of the engine state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct LimitState {
    /// `MC | SO_PENDING | DAILY | DD`.
    pub flags: u8,
    /// Equity at the start of the current day.
    pub day_start: i64,
}

/// The price boxes of every account, indexed per symbol (not state: redrawn on recovery).
#[derive(Debug, Clone, Default)]
pub(super) struct Watch {
    lower: Vec<BTreeSet<(i64, u32)>>,
    upper: Vec<BTreeSet<(i64, u32)>>,
    boxes: Vec<Vec<Bound>>,
    /// Per account: the width index of its last box (where the next search starts).
    hint: Vec<u8>,
    syms: Vec<u32>,
    tmp: Vec<Bound>,
    hits: Vec<u32>,
}

impl Watch {
    pub(super) fn new(accounts: usize, instruments: usize) -> Self {
        Watch {
            lower: vec![BTreeSet::new(); instruments],
            upper: vec![BTreeSet::new(); instruments],
            boxes: vec![Vec::new(); accounts],
            hint: vec![2; accounts],
            ..Watch::default()
        }
    }

    /// One more account, with no box yet (an added account holds no position).
    pub(super) fn add_account(&mut self) {
        self.boxes.push(Vec::new());
        self.hint.push(2);
    }

    fn remove(&mut self, a: u32) {
        for b in self.boxes[a as usize].drain(..) {
            self.lower[b.instrument as usize].remove(&(b.lo, a));
            self.upper[b.instrument as usize].remove(&(b.hi, a));
        }
    }

    /// Makes `tmp` account `a`'s box. A box is a function of the quotes and its width alone,
    /// so after a fill (every account of a block reboxed at one quote) it is usually the box
    /// the account had: then the ordered indexes are left as they are. Two `BTreeSet` updates
    /// per bound were a quarter of a block round trip's instructions (`mam bench instructions
    /// --only engine.round_trip`, stop 26).
    fn replace(&mut self, a: u32) {
        if self.boxes[a as usize] == self.tmp {
            return;
        }
        self.remove(a);
        for b in &self.tmp {
            self.lower[b.instrument as usize].insert((b.lo, a));
            self.upper[b.instrument as usize].insert((b.hi, a));
        }
        self.boxes[a as usize].clone_from(&self.tmp);
    }

    /// Accounts whose box a quote `bid`/`ask` of `s` leaves, ascending, into `hits`.
    fn triggered(&mut self, s: usize, bid: i64, ask: i64) {
        self.hits.clear();
        let lo = &self.lower[s];
        self.hits
            .extend(lo.range((bid.saturating_add(1), 0)..).map(|&(_, a)| a));
        let hi = &self.upper[s];
        self.hits.extend(hi.range(..(ask, 0)).map(|&(_, a)| a));
        self.hits.sort_unstable();
        self.hits.dedup();
    }

    /// Accounts watched on symbol `s` (for tests and statistics).
    pub(super) fn watched(&self, s: usize) -> usize {
        self.lower[s].len()
    }
}

fn level_of(v: &Valuation) -> i64 {
    v.margin_level().map_or(-1, |r| r.raw())
}

impl Engine {
    fn levels(&self, a: usize) -> (i64, i64) {
        let pct = |r: Ratio, d: i64| {
            if r.raw() > 0 {
                r.raw()
            } else {
                d * Ratio::ONE_RAW
            }
        };
        (
            pct(self.accounts.margin_call_level[a], DEFAULT_MARGIN_CALL),
            pct(self.accounts.stop_out_level[a], DEFAULT_STOP_OUT),
        )
    }

    /// `equity_hwm × (1 − drawdown_tolerance)` as the two sides of an exact comparison:
    /// crossed when `equity × 1e6 <= this`.
    fn dd_line(&self, a: usize) -> Option<i128> {
        let tol = self.accounts.drawdown_tolerance[a].raw();
        (tol > 0).then(|| {
            i128::from(self.accounts.equity_hwm[a].raw())
                * i128::from(Ratio::ONE_RAW - tol.min(Ratio::ONE_RAW))
        })
    }

    fn daily_line(&self, a: usize) -> Option<i64> {
        let lim = self.accounts.daily_loss_limit[a].raw();
        (lim > 0).then(|| self.limit_state[a].day_start.saturating_sub(lim))
    }

    /// At the first market input of a new UTC day (by source time): every account's opening
    /// equity is taken, its high-water mark raised, daily-loss holds lifted, drawdown holds
    /// lifted where equity is back above the line.
    pub(super) fn roll_day(&mut self, ts: u64, seq: u64, d: &mut Vec<Decision>) {
        let day = ts / DAY_NS;
        if day <= self.day {
            return;
        }
        let first = self.day == 0;
        self.day = day;
        for a in 0..self.accounts.id.len() {
            let v = mark_hwm(&self.ledger, &mut self.accounts, a);
            self.limit_state[a].day_start = v.equity.raw();
            if first {
                self.check_account(a, ts, seq, d);
                continue;
            }
            let f = self.limit_state[a].flags;
            let mut lifted = f & DAILY;
            if f & DD != 0 {
                let back = self
                    .dd_line(a)
                    .is_none_or(|l| i128::from(v.equity.raw()) * i128::from(Ratio::ONE_RAW) > l);
                if back {
                    lifted |= DD;
                }
            }
            if lifted != 0 {
                self.limit_state[a].flags &= !lifted;
                if self.limit_state[a].flags & (DAILY | DD) == 0 {
                    self.accounts.flags[a] &= !FLAG_LIMIT_CLOSE_ONLY_SET;
                }
                self.counters.limit_events += 1;
                d.push(self.limit_event(ts, seq, a, &v, event::LIFTED, 0, 0, 0));
            }
            // Checked at this quote, not only boxed around it: the day may open past a level.
            self.check_account(a, ts, seq, d);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn limit_event(
        &self,
        ts: u64,
        seq: u64,
        a: usize,
        v: &Valuation,
        ev: u8,
        threshold: i64,
        action: u8,
        orders: u16,
    ) -> Decision {
        Decision::Limit(LimitEvent {
            ts_ns: ts,
            input_seq: seq,
            equity: v.equity.raw(),
            margin: v.margin.raw(),
            level: level_of(v),
            threshold,
            account: a as u32,
            event: ev,
            action,
            orders,
        })
    }

    /// Checks every account whose box the latest quote of `s` left.
    pub(super) fn check_quote(&mut self, s: u32, ts: u64, seq: u64, d: &mut Vec<Decision>) {
        let Some((bid, ask)) = self.ledger.quote(s) else {
            return;
        };
        self.watch.triggered(s as usize, bid.raw(), ask.raw());
        let hits = std::mem::take(&mut self.watch.hits);
        for &a in &hits {
            self.check_account(a as usize, ts, seq, d);
        }
        self.watch.hits = hits;
    }

    /// Checks account `a` exactly, acts on what it crossed, and draws its box again.
    pub(super) fn check_account(&mut self, a: usize, ts: u64, seq: u64, d: &mut Vec<Decision>) {
        self.check_account_boxed(a, ts, seq, d, true);
    }

    /// [`Self::check_account`] after a fill: the account's box is redrawn no wider than it was
    /// (every account of a block is checked after each fill of it: one box evaluation each
    /// instead of two; a quote that leaves the box widens it again).
    pub(super) fn check_account_after_fill(
        &mut self,
        a: usize,
        ts: u64,
        seq: u64,
        d: &mut Vec<Decision>,
    ) {
        self.check_account_boxed(a, ts, seq, d, false);
    }

    fn check_account_boxed(
        &mut self,
        a: usize,
        ts: u64,
        seq: u64,
        d: &mut Vec<Decision>,
        widen: bool,
    ) {
        let v = self.ledger.value(
            a as u32,
            self.accounts.balance[a],
            self.accounts.leverage[a],
        );
        let (mc, so) = self.levels(a);
        let st = self.limit_state[a];
        if st.flags & SO_PENDING == 0 && v.level_at_or_below(Ratio(so)) {
            // Close the position with the largest loss; the rest wait for it to finish.
            // Among the positions working closes do not already cover.
            let worst = (0..self.ledger.instruments() as u32)
                .filter(|&s| {
                    let p = self.ledger.qty(a as u32, s).raw();
                    let q = p.saturating_add(self.closing_w[a * self.ni + s as usize]);
                    q != 0 && (q > 0) == (p > 0)
                })
                .min_by_key(|&s| (self.ledger.unrealised(a as u32, s), s));
            if let Some(s) = worst {
                let sent = self.limit_close(seq, ts, a, s, d);
                if sent {
                    self.limit_state[a].flags |= SO_PENDING;
                }
                self.counters.stop_outs += 1;
                self.counters.limit_events += 1;
                d.push(self.limit_event(ts, seq, a, &v, event::STOP_OUT, so, 3, u16::from(sent)));
            }
        }
        let in_call = v.level_at_or_below(Ratio(mc));
        if in_call != (st.flags & MC != 0) {
            self.limit_state[a].flags ^= MC;
            self.counters.limit_events += 1;
            let ev = if in_call {
                self.counters.margin_calls += 1;
                event::MARGIN_CALL
            } else {
                event::MARGIN_CALL_LIFTED
            };
            d.push(self.limit_event(ts, seq, a, &v, ev, mc, 0, 0));
        }
        if st.flags & DAILY == 0 {
            if let Some(line) = self.daily_line(a) {
                if v.equity.raw() <= line {
                    self.limit_state[a].flags |= DAILY;
                    self.limit_action(a, ts, seq, &v, event::DAILY_LOSS, line, d);
                }
            }
        }
        if st.flags & DD == 0 {
            if let Some(line) = self.dd_line(a) {
                if i128::from(v.equity.raw()) * i128::from(Ratio::ONE_RAW) <= line {
                    self.limit_state[a].flags |= DD;
                    let t = (line / i128::from(Ratio::ONE_RAW)) as i64;
                    self.limit_action(a, ts, seq, &v, event::DRAWDOWN, t, d);
                }
            }
        }
        self.rebox(a as u32, widen);
    }

    #[allow(clippy::too_many_arguments)]
    fn limit_action(
        &mut self,
        a: usize,
        ts: u64,
        seq: u64,
        v: &Valuation,
        ev: u8,
        threshold: i64,
        d: &mut Vec<Decision>,
    ) {
        self.accounts.flags[a] |= FLAG_LIMIT_CLOSE_ONLY_SET;
        self.counters.limit_events += 1;
        self.counters.limit_holds += 1;
        let flatten = self.accounts.flags[a] & FLAG_LIMIT_FLATTEN != 0;
        let mut sent = 0u16;
        if flatten {
            for s in 0..self.ledger.instruments() as u32 {
                if !self.ledger.qty(a as u32, s).is_zero() && self.limit_close(seq, ts, a, s, d) {
                    sent += 1;
                }
            }
        }
        d.push(self.limit_event(
            ts,
            seq,
            a,
            v,
            ev,
            threshold,
            if flatten { 2 } else { 1 },
            sent,
        ));
    }

    /// Sends a per-account order closing account `a`'s whole position in `s`; false if pre-trade
    /// risk refused it (journaled). The account's shares in tickets of `s` go to zero.
    pub(super) fn limit_close(
        &mut self,
        seq: u64,
        ts: u64,
        a: usize,
        s: u32,
        d: &mut Vec<Decision>,
    ) -> bool {
        // What working closing orders (the manager's or the engine's) do not already close.
        let pos = self.ledger.qty(a as u32, s).raw();
        let q = pos.saturating_add(self.closing_w[a * self.ni + s as usize]);
        if q == 0 || (q > 0) != (pos > 0) {
            return false;
        }
        let Some(spec) = self.symbols.by_id(s).copied() else {
            return false;
        };
        let side = if q > 0 { Side::Sell } else { Side::Buy };
        let price = self.close_price(s, side, spec.price_decimals);
        let c = ChildOrder {
            ts_ns: ts,
            cl_ord_id: (seq << CL_ORD_ID_SHIFT) + self.next_k,
            master_ticket: LIMIT_TICKET,
            account: a as u32,
            instrument: s,
            qty: Qty(q.abs()),
            price,
            side: side as u8,
            ord_type: if price.is_zero() {
                OrdType::Market
            } else {
                OrdType::Limit
            } as u8,
            route: self.config.route,
            _pad: [0; 4],
        };
        self.next_k += 1;
        match self.risk.check_record(&c, self.config.session, ts, true) {
            Ok(()) => {
                self.counters.orders += 1;
                self.counters.child_orders += 1;
                self.counters.limit_orders += 1;
                self.orders.insert(
                    c.cl_ord_id,
                    OrderState {
                        ticket: LIMIT_TICKET,
                        account: a as u32,
                        instrument: s,
                        side: c.side,
                        closing: true,
                        qty: c.qty,
                        cum: Qty::ZERO,
                        step_qty: Qty::ZERO,
                        block: None,
                        order_id: 0,
                    },
                );
                for t in self.tickets.values_mut() {
                    if t.instrument == s && t.book.holdings()[a] > 0 {
                        let h = t.book.holdings()[a];
                        t.book.take_from(a, h);
                    }
                }
                self.closing_w[a * self.ni + s as usize] -= q;
                self.limit_w[a * self.ni + s as usize] -= q;
                d.push(Decision::Order(c));
                true
            }
            Err((_, rec)) => {
                self.counters.risk_rejects += 1;
                d.push(Decision::Reject(rec));
                false
            }
        }
    }

    /// A limit order finished: the stop-out may close the next position.
    pub(super) fn limit_order_done(&mut self, a: usize, ts: u64, seq: u64, d: &mut Vec<Decision>) {
        self.limit_state[a].flags &= !SO_PENDING;
        self.check_account(a, ts, seq, d);
    }

    /// Draws account `a`'s box again from its current positions and limit state.
    pub(super) fn rebox(&mut self, a: u32, widen: bool) {
        let i = a as usize;
        if self.ledger.open_positions(a) == 0 {
            // A flat account has no condition a price can break: any box is sound for it, so
            // after a fill it keeps the one it has (when it reopens, that box is tried first
            // and usually holds: no search, no index update). A quote that leaves the box
            // drops it.
            if widen {
                self.watch.remove(a);
            }
            return;
        }
        let (mc, so) = self.levels(i);
        let st = self.limit_state[i];
        let mut conds = [Condition { a: 0, b: 0, c: 1 }; 4];
        let mut n = 0;
        let e8 = 100 * i128::from(Ratio::ONE_RAW);
        if st.flags & SO_PENDING == 0 {
            conds[n] = Condition {
                a: e8,
                b: -i128::from(so),
                c: 0,
            };
            n += 1;
        }
        conds[n] = if st.flags & MC == 0 {
            Condition {
                a: e8,
                b: -i128::from(mc),
                c: 0,
            }
        } else {
            Condition {
                a: -e8,
                b: i128::from(mc),
                c: 1,
            }
        };
        n += 1;
        if st.flags & DAILY == 0 {
            if let Some(line) = self.daily_line(i) {
                conds[n] = Condition {
                    a: 1,
                    b: 0,
                    c: -i128::from(line),
                };
                n += 1;
            }
        }
        if st.flags & DD == 0 {
            if let Some(line) = self.dd_line(i) {
                conds[n] = Condition {
                    a: i128::from(Ratio::ONE_RAW),
                    b: 0,
                    c: -line,
                };
                n += 1;
            }
        }
        let mut syms = std::mem::take(&mut self.watch.syms);
        let mut tmp = std::mem::take(&mut self.watch.tmp);
        self.ledger.sensitive_symbols(a, &mut syms);
        let old = &self.watch.boxes[i];
        if !widen
            && old.len() == syms.len()
            && old.iter().zip(&syms).all(|(b, &s)| b.instrument == s)
            && self.ledger.box_still_holds(
                a,
                self.accounts.balance[i].raw(),
                self.accounts.leverage[i],
                &conds[..n],
                old,
            )
        {
            // After a fill: the box the account has still holds with its new position (the
            // quotes are inside it, or the quote that left it would have redrawn it). One
            // evaluation, no search, no index update.
            self.watch.syms = syms;
            self.watch.tmp = tmp;
            return;
        }
        self.watch.hint[i] = self.ledger.guard_box(
            a,
            self.accounts.balance[i].raw(),
            self.accounts.leverage[i],
            &conds[..n],
            &syms,
            usize::from(self.watch.hint[i]),
            widen,
            &mut tmp,
        ) as u8;
        self.watch.syms = syms;
        self.watch.tmp = tmp;
        self.watch.replace(a);
    }

    /// Draws every account's box (after recovery).
    pub(super) fn rebox_all(&mut self) {
        for a in 0..self.accounts.id.len() as u32 {
            self.rebox(a, true);
        }
    }

    /// Accounts whose box watches `instrument` (statistics).
    pub fn watched_accounts(&self, instrument: u32) -> usize {
        self.watch.watched(instrument as usize)
    }
}

/// Which limits hold an account (for statements and the dashboard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LimitFlags {
    /// Margin call raised and not lifted.
    pub margin_call: bool,
    /// A stop-out order is working.
    pub stop_out_pending: bool,
    /// The daily loss limit holds the account.
    pub daily_loss: bool,
    /// The maximum drawdown holds the account.
    pub drawdown: bool,
    /// Equity at the start of the current day (micro-units).
    pub day_start_equity: i64,
}

impl Engine {
    /// The limit state of `account`.
    pub fn limit_flags(&self, account: u32) -> Option<LimitFlags> {
        let l = self.limit_state.get(account as usize)?;
        Some(LimitFlags {
            margin_call: l.flags & MC != 0,
            stop_out_pending: l.flags & SO_PENDING != 0,
            daily_loss: l.flags & DAILY != 0,
            drawdown: l.flags & DD != 0,
            day_start_equity: l.day_start,
        })
    }
}
