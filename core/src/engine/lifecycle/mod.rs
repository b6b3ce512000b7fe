//! The master order's life beyond open and close: pending masters held until the quote stream
//! reaches their price, stop-loss and take-profit held per ticket, cancels propagated to every
//! working child, and one report per change for the manager (an ExecutionReport with quantities
//! aggregated exactly from the children, or an OrderCancelReject).
//!
//! Everything here is engine state, driven by journaled inputs only: a trigger is the quote
//! that reached the level (journaled before it), so a replay triggers the same orders at the
//! same place, exactly once. `docs/daemon.md` ("Order lifecycle") is the manager's contract.

pub(super) mod codec;
pub mod record;

use crate::alloc::LotLimits;
use crate::event::{ChildOrder, MarketEvent, OrdType, Side, ORD_TYPE_CANCEL};
use crate::num::{div_round_i128, Lots, Price, Qty, Rounding};

use super::decision::{Decision, RefusedCode};
use super::input::{Input, MasterClose, MasterOpen, CLOSE_FULL, MODE_BLOCK, MODE_PER_ACCOUNT};
use super::limits::LIMIT_TICKET;
use super::Engine;
use record::*;

type Refusal = (RefusedCode, u64);

/// A manager's order the engine reports on (an open, a close, or the engine's SL/TP close).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MasterOrder {
    pub ticket: u64,
    pub instrument: u32,
    /// Side of this order (a close's is opposite to its ticket's).
    pub side: u8,
    pub closing: bool,
    pub ord_type: u8,
    /// Limit or stop price (0: market).
    pub price: Price,
    /// The order's size.
    pub order_qty: Qty,
    /// Σ children sent.
    pub sent: Qty,
    /// Σ fills.
    pub cum: Qty,
    /// Σ of what children left unfilled when they ended.
    pub gone: Qty,
    /// Σ last_qty × last_px (raw × raw), for the average price.
    pub notional: i128,
    /// Children still working.
    pub working: u32,
    /// The cancel request being worked (0: none; [`KILL_REQUEST`]: the kill switch).
    pub cancel_id: u64,
    /// Held by the engine (a pending master not yet triggered).
    pub held: bool,
}

/// A pending master: the open to run when the market reaches its price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Pending {
    pub open: MasterOpen,
}

/// A ticket's stop-loss and take-profit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Protect {
    pub instrument: u32,
    /// Side of the ticket.
    pub side: u8,
    pub sl: Price,
    pub tp: Price,
    /// Routing of the close.
    pub mode: u8,
}

/// The lifecycle's part of the engine state.
#[derive(Debug, Clone, Default)]
pub(super) struct Lifecycle {
    pub masters: std::collections::BTreeMap<u64, MasterOrder>,
    pub pending: std::collections::BTreeMap<u64, Pending>,
    pub protect: std::collections::BTreeMap<u64, Protect>,
    /// Per instrument: pending masters plus protected tickets (quotes of an instrument with
    /// none skip the scan; derived, not encoded).
    pub armed: Vec<u32>,
}

impl Lifecycle {
    pub fn new(instruments: usize) -> Self {
        Lifecycle {
            armed: vec![0; instruments],
            ..Lifecycle::default()
        }
    }

    /// Recounts `armed` from the maps (after a decode).
    pub fn rearm(&mut self) {
        self.armed.iter_mut().for_each(|a| *a = 0);
        let ins = self
            .pending
            .values()
            .map(|p| p.open.instrument)
            .chain(self.protect.values().map(|p| p.instrument));
        for i in ins {
            if let Some(a) = self.armed.get_mut(i as usize) {
                *a += 1;
            }
        }
    }

    fn arm(&mut self, instrument: u32, up: bool) {
        if let Some(a) = self.armed.get_mut(instrument as usize) {
            *a = if up { *a + 1 } else { a.saturating_sub(1) };
        }
    }
}

fn status_of(m: &MasterOrder) -> u8 {
    if m.cancel_id != 0 && m.working > 0 {
        b'6'
    } else if m.cum.raw() == 0 {
        b'0'
    } else if m.cum < m.order_qty {
        b'1'
    } else {
        b'2'
    }
}

impl Engine {
    fn report(&self, seq: u64, ts: u64, order_id: u64, m: &MasterOrder) -> MasterReport {
        let avg = if m.cum.raw() > 0 {
            div_round_i128(m.notional, i128::from(m.cum.raw()), Rounding::HalfEven)
        } else {
            0
        };
        let (sl, tp) = match self.life.protect.get(&m.ticket) {
            Some(p) if !m.closing => (p.sl, p.tp),
            _ => (Price::ZERO, Price::ZERO),
        };
        let leaves = if m.held {
            m.order_qty
        } else {
            Qty(m.sent.raw() - m.cum.raw() - m.gone.raw()).max(Qty::ZERO)
        };
        MasterReport {
            ts_ns: ts,
            input_seq: seq,
            order_id,
            ticket: m.ticket,
            order_qty: m.order_qty,
            cum_qty: m.cum,
            leaves_qty: leaves,
            avg_px: Price(i64::try_from(avg).unwrap_or(0)),
            price: m.price,
            stop_loss: sl,
            take_profit: tp,
            instrument: m.instrument,
            ord_status: status_of(m),
            side: m.side,
            ord_type: m.ord_type,
            flags: if m.closing { REPORT_CLOSING } else { 0 },
            ..MasterReport::default()
        }
    }

    fn push_report(
        &self,
        seq: u64,
        ts: u64,
        order_id: u64,
        exec_type: u8,
        request_id: u64,
        d: &mut Vec<Decision>,
    ) {
        if let Some(m) = self.life.masters.get(&order_id) {
            let mut r = self.report(seq, ts, order_id, m);
            r.exec_type = exec_type;
            r.request_id = request_id;
            d.push(Decision::Report(r));
        }
    }

    /// A pending master: validated as an open would be, then held (not allocated) until a
    /// quote reaches its price.
    pub(super) fn hold(
        &mut self,
        seq: u64,
        o: &MasterOpen,
        d: &mut Vec<Decision>,
    ) -> Result<(), Refusal> {
        let t = o.ticket;
        let bad = (RefusedCode::BadField, t);
        let spec = *self
            .symbols
            .by_id(o.instrument)
            .ok_or((RefusedCode::UnknownInstrument, t))?;
        Side::from_u8(o.side).ok_or(bad)?;
        let held = o.policy & (POLICY_HELD_LIMIT | POLICY_HELD_STOP);
        if held == POLICY_HELD_LIMIT | POLICY_HELD_STOP
            || o.limit_price.raw() <= 0
            || !matches!(o.mode, MODE_BLOCK | MODE_PER_ACCOUNT)
        {
            return Err(bad);
        }
        self.model_of(o)?;
        if self.risk.is_killed() {
            return Err((RefusedCode::KillSwitch, t));
        }
        if self.tickets.contains_key(&t)
            || self.life.pending.contains_key(&t)
            || self.life.masters.contains_key(&t)
        {
            return Err((RefusedCode::DuplicateOrder, t));
        }
        let limits = LotLimits::of(&spec);
        let steps = limits
            .steps_of(o.lots)
            .map_err(|_| (RefusedCode::BadRequest, t))?;
        let qty = limits
            .qty_of(&spec, steps)
            .map_err(|_| (RefusedCode::Overflow, t))?;
        let ord_type = if held == POLICY_HELD_STOP {
            OrdType::Stop
        } else {
            OrdType::Limit
        };
        self.life.pending.insert(t, Pending { open: *o });
        self.life.arm(o.instrument, true);
        self.life.masters.insert(
            t,
            MasterOrder {
                ticket: t,
                instrument: o.instrument,
                side: o.side,
                closing: false,
                ord_type: ord_type as u8,
                price: o.limit_price,
                order_qty: qty,
                sent: Qty::ZERO,
                cum: Qty::ZERO,
                gone: Qty::ZERO,
                notional: 0,
                working: 0,
                cancel_id: 0,
                held: true,
            },
        );
        self.push_report(seq, o.ts_ns, t, exec::NEW, 0, d);
        Ok(())
    }

    /// An open or close sent `accepted` children worth `sent` for the manager's `order_id`:
    /// its New (or, for a pending master, Triggered) report; a Rejected one if risk refused
    /// every child.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn master_sent(
        &mut self,
        seq: u64,
        ts: u64,
        order_id: u64,
        ticket: u64,
        instrument: u32,
        side: Side,
        closing: bool,
        price: Price,
        order_qty: Qty,
        accepted: u32,
        sent: Qty,
        risk_rejected: bool,
        d: &mut Vec<Decision>,
    ) {
        if order_id == 0 || ticket == LIMIT_TICKET {
            return;
        }
        let ord_type = if price.is_zero() {
            OrdType::Market
        } else {
            OrdType::Limit
        } as u8;
        let mut exec_type = exec::NEW;
        match self.life.masters.get_mut(&order_id) {
            Some(m) if m.held => {
                m.held = false;
                exec_type = exec::TRIGGERED;
                m.sent = sent;
                m.working = accepted;
            }
            Some(m) if m.ticket == ticket && m.closing == closing => {
                // A scale-in under the same order id adds to it.
                m.order_qty = Qty(m.order_qty.raw().saturating_add(order_qty.raw()));
                m.sent = Qty(m.sent.raw().saturating_add(sent.raw()));
                m.working += accepted;
            }
            _ => {
                self.life.masters.insert(
                    order_id,
                    MasterOrder {
                        ticket,
                        instrument,
                        side: side as u8,
                        closing,
                        ord_type,
                        price,
                        order_qty,
                        sent,
                        cum: Qty::ZERO,
                        gone: Qty::ZERO,
                        notional: 0,
                        working: accepted,
                        cancel_id: 0,
                        held: false,
                    },
                );
            }
        }
        if accepted == 0 {
            // Every child refused by pre-trade risk (journaled before this).
            let m = self.life.masters.get(&order_id).expect("inserted");
            if m.working == 0 {
                let mut r = self.report(seq, ts, order_id, m);
                r.leaves_qty = Qty::ZERO;
                if risk_rejected {
                    r.exec_type = exec::REJECTED;
                    r.ord_status = b'8';
                    r.reason = RefusedCode::RiskRejected as u16;
                } else {
                    // Nothing to send (a close of residuals only): done at once.
                    r.exec_type = exec::DONE_FOR_DAY;
                    r.ord_status = b'3';
                }
                d.push(Decision::Report(r));
                self.life.masters.remove(&order_id);
                return;
            }
        }
        self.push_report(seq, ts, order_id, exec_type, 0, d);
    }

    /// A child of `order_id` filled `last_qty` at `last_px` (maybe nothing, for a status
    /// change); `ended` holds what it left unfilled if it is done.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn master_fill(
        &mut self,
        seq: u64,
        ts: u64,
        order_id: u64,
        last_qty: Qty,
        last_px: Price,
        ended: Option<Qty>,
        d: &mut Vec<Decision>,
    ) {
        let Some(m) = self.life.masters.get_mut(&order_id) else {
            return;
        };
        if last_qty.raw() > 0 {
            m.cum = Qty(m.cum.raw() + last_qty.raw());
            m.notional += i128::from(last_qty.raw()) * i128::from(last_px.raw());
        }
        if let Some(left) = ended {
            m.gone = Qty(m.gone.raw() + left.raw());
            m.working = m.working.saturating_sub(1);
        }
        let done = m.working == 0;
        let (cancel_id, filled) = (m.cancel_id, m.cum == m.order_qty);
        if last_qty.raw() > 0 {
            let m = &self.life.masters[&order_id];
            let mut r = self.report(seq, ts, order_id, m);
            r.exec_type = exec::TRADE;
            r.last_qty = last_qty;
            r.last_px = last_px;
            if done {
                r.leaves_qty = Qty::ZERO;
            }
            d.push(Decision::Report(r));
        }
        if !done {
            return;
        }
        let m = self.life.masters.remove(&order_id).expect("present");
        if filled {
            if cancel_id != 0 && cancel_id != KILL_REQUEST {
                // Every child filled before the cancel reached it.
                let mut r = self.report(seq, ts, order_id, &m);
                r.exec_type = exec::CANCEL_REJECT;
                r.request_id = cancel_id;
                r.reason = RefusedCode::TooLateToCancel as u16;
                d.push(Decision::Report(r));
            }
            return;
        }
        let mut r = self.report(seq, ts, order_id, &m);
        r.leaves_qty = Qty::ZERO;
        if cancel_id != 0 {
            r.exec_type = exec::CANCELED;
            r.ord_status = b'4';
            r.request_id = if cancel_id == KILL_REQUEST {
                0
            } else {
                cancel_id
            };
            if cancel_id == KILL_REQUEST {
                r.reason = RefusedCode::KillSwitch as u16;
            }
        } else {
            r.exec_type = exec::DONE_FOR_DAY;
            r.ord_status = b'3';
        }
        d.push(Decision::Report(r));
    }

    /// Sends a cancel request for every working child of `order_id` (opening children only
    /// when `opening_only`); returns how many.
    fn cancel_children(
        &mut self,
        seq: u64,
        ts: u64,
        order_id: Option<u64>,
        d: &mut Vec<Decision>,
    ) -> u32 {
        let _ = seq;
        let mut n = 0;
        for (cl, o) in self.orders.iter() {
            let hit = match order_id {
                Some(id) => o.order_id == id,
                // The kill switch: every opening child (closes and stop-outs keep working).
                None => !o.closing && o.ticket != LIMIT_TICKET,
            };
            if !hit {
                continue;
            }
            n += 1;
            d.push(Decision::Cancel(ChildOrder {
                ts_ns: ts,
                cl_ord_id: cl,
                master_ticket: o.ticket,
                account: o.account,
                instrument: o.instrument,
                qty: o.qty,
                price: Price::ZERO,
                side: o.side,
                ord_type: ORD_TYPE_CANCEL,
                route: self.config.route,
                _pad: [0; 4],
            }));
        }
        self.counters.cancel_requests += u64::from(n);
        n
    }

    /// The manager cancels `c.order_id`.
    pub(super) fn cancel(
        &mut self,
        seq: u64,
        c: &MasterCancel,
        d: &mut Vec<Decision>,
    ) -> Result<(), Refusal> {
        let id = c.order_id;
        let Some(m) = self.life.masters.get(&id) else {
            // Unknown, or already done.
            return Err((RefusedCode::UnknownMasterOrder, id));
        };
        if m.held {
            let mut m = self.life.masters.remove(&id).expect("present");
            if let Some(p) = self.life.pending.remove(&id) {
                self.life.arm(p.open.instrument, false);
            }
            if let Some(p) = self.life.protect.remove(&id) {
                self.life.arm(p.instrument, false);
            }
            m.held = false;
            let mut r = self.report(seq, c.ts_ns, id, &m);
            r.exec_type = exec::CANCELED;
            r.ord_status = b'4';
            r.leaves_qty = Qty::ZERO;
            r.request_id = c.cancel_id;
            d.push(Decision::Report(r));
            return Ok(());
        }
        if m.cancel_id != 0 {
            return Err((RefusedCode::AlreadyPendingCancel, id));
        }
        if m.working == 0 {
            return Err((RefusedCode::TooLateToCancel, id));
        }
        self.cancel_children(seq, c.ts_ns, Some(id), d);
        let m = self.life.masters.get_mut(&id).expect("present");
        m.cancel_id = c.cancel_id;
        self.push_report(seq, c.ts_ns, id, exec::PENDING_CANCEL, c.cancel_id, d);
        Ok(())
    }

    /// Checks a stop-loss or take-profit against the market: a buy ticket's stop-loss below
    /// the bid and take-profit above it (a sell ticket's, around the ask); against the
    /// trigger price while the master is pending.
    fn levels_ok(
        &self,
        side: u8,
        instrument: u32,
        pending: Option<Price>,
        sl: Price,
        tp: Price,
    ) -> bool {
        let buy = side == Side::Buy as u8;
        let reference = match pending {
            Some(p) => Some(p),
            None => self
                .ledger
                .quote(instrument)
                .map(|(b, a)| if buy { b } else { a }),
        };
        let Some(r) = reference else {
            return true;
        };
        let sl_ok = sl.is_zero() || if buy { sl < r } else { sl > r };
        let tp_ok = tp.is_zero() || if buy { tp > r } else { tp < r };
        sl_ok && tp_ok && sl.raw() >= 0 && tp.raw() >= 0
    }

    /// The manager replaces a pending master's size or price, or sets, moves or removes a
    /// ticket's stop-loss and take-profit.
    pub(super) fn amend(
        &mut self,
        seq: u64,
        a: &MasterAmend,
        d: &mut Vec<Decision>,
    ) -> Result<(), Refusal> {
        let id = a.order_id;
        if a.flags & !(AMEND_LOTS | AMEND_PRICE | AMEND_SL | AMEND_TP) != 0
            || !matches!(a.mode, MODE_BLOCK | MODE_PER_ACCOUNT)
        {
            return Err((RefusedCode::BadField, id));
        }
        let pending = self.life.pending.get(&id).copied();
        let (instrument, side) = match (&pending, self.tickets.get(&id)) {
            (Some(p), _) => (p.open.instrument, p.open.side),
            (None, Some(t)) if t.book.master_open() > 0 || t.working > 0 => {
                (t.instrument, t.side as u8)
            }
            _ => return Err((RefusedCode::UnknownMasterOrder, id)),
        };
        if pending.is_none() && a.flags & (AMEND_LOTS | AMEND_PRICE) != 0 {
            // Its children are at the LPs: cancel it and send a new one.
            return Err((RefusedCode::ReplaceWorking, id));
        }
        let mut open = pending.map(|p| p.open);
        if let Some(o) = open.as_mut() {
            let spec = *self
                .symbols
                .by_id(o.instrument)
                .ok_or((RefusedCode::UnknownInstrument, id))?;
            if a.flags & AMEND_LOTS != 0 {
                LotLimits::of(&spec)
                    .steps_of(a.lots)
                    .map_err(|_| (RefusedCode::BadRequest, id))?;
                o.lots = a.lots;
            }
            if a.flags & AMEND_PRICE != 0 {
                if a.price.raw() <= 0 {
                    return Err((RefusedCode::BadField, id));
                }
                o.limit_price = a.price;
            }
        }
        let old = self.life.protect.get(&id).copied();
        let mut sl = old.map_or(Price::ZERO, |p| p.sl);
        let mut tp = old.map_or(Price::ZERO, |p| p.tp);
        if a.flags & AMEND_SL != 0 {
            sl = a.stop_loss;
        }
        if a.flags & AMEND_TP != 0 {
            tp = a.take_profit;
        }
        if !self.levels_ok(side, instrument, open.map(|o| o.limit_price), sl, tp) {
            return Err((RefusedCode::BadStopLevel, id));
        }
        // Valid: apply.
        if let Some(o) = open {
            self.life.pending.insert(id, Pending { open: o });
            let spec = *self.symbols.by_id(o.instrument).expect("checked");
            let limits = LotLimits::of(&spec);
            let steps = limits.steps_of(o.lots).unwrap_or(0);
            let qty = limits.qty_of(&spec, steps).unwrap_or(Qty::ZERO);
            if let Some(m) = self.life.masters.get_mut(&id) {
                m.order_qty = qty;
                m.price = o.limit_price;
            }
        }
        if old.is_some() {
            self.life.protect.remove(&id);
            self.life.arm(instrument, false);
        }
        if !sl.is_zero() || !tp.is_zero() {
            let mode = if a.flags & (AMEND_SL | AMEND_TP) != 0 {
                a.mode
            } else {
                old.map_or(a.mode, |p| p.mode)
            };
            self.life.protect.insert(
                id,
                Protect {
                    instrument,
                    side,
                    sl,
                    tp,
                    mode,
                },
            );
            self.life.arm(instrument, true);
        }
        let exec_type = if a.amend_id == 0 {
            exec::RESTATED
        } else {
            exec::REPLACED
        };
        if self.life.masters.contains_key(&id) {
            self.push_report(seq, a.ts_ns, id, exec_type, a.amend_id, d);
        } else {
            // The opening order is done; the ticket still reports under its id.
            let t = &self.tickets[&id];
            let m = MasterOrder {
                ticket: id,
                instrument,
                side,
                closing: false,
                ord_type: OrdType::Market as u8,
                price: Price::ZERO,
                order_qty: Qty::ZERO,
                sent: Qty::ZERO,
                cum: Qty::ZERO,
                gone: Qty::ZERO,
                notional: 0,
                working: t.working,
                cancel_id: 0,
                held: false,
            };
            let mut r = self.report(seq, a.ts_ns, id, &m);
            r.exec_type = exec_type;
            r.request_id = a.amend_id;
            r.ord_status = b'2';
            d.push(Decision::Report(r));
        }
        Ok(())
    }

    /// After a quote of `m.instrument`: pending masters whose price it reached are opened,
    /// tickets whose stop-loss or take-profit it reached are closed in full.
    pub(super) fn check_triggers(&mut self, seq: u64, m: &MarketEvent, d: &mut Vec<Decision>) {
        if self
            .life
            .armed
            .get(m.instrument as usize)
            .copied()
            .unwrap_or(0)
            == 0
        {
            return;
        }
        let (bid, ask) = (m.bid, m.ask);
        let mut fire: Vec<(u64, u8, Price)> = Vec::new();
        for (&t, p) in &self.life.pending {
            let o = &p.open;
            if o.instrument != m.instrument {
                continue;
            }
            let buy = o.side == Side::Buy as u8;
            let px = o.limit_price;
            let stop = o.policy & POLICY_HELD_STOP != 0;
            let hit = match (buy, stop) {
                (true, false) => ask <= px,
                (true, true) => ask >= px,
                (false, false) => bid >= px,
                (false, true) => bid <= px,
            };
            if hit {
                fire.push((t, if stop { TRIGGER_STOP } else { TRIGGER_LIMIT }, px));
            }
        }
        let mut stale = Vec::new();
        for (&t, p) in &self.life.protect {
            if p.instrument != m.instrument || self.life.pending.contains_key(&t) {
                continue;
            }
            match self.tickets.get(&t) {
                Some(ts) if ts.book.master_open() > 0 => {}
                _ => {
                    stale.push(t);
                    continue;
                }
            }
            let buy = p.side == Side::Buy as u8;
            let sl = !p.sl.is_zero() && if buy { bid <= p.sl } else { ask >= p.sl };
            let tp = !p.tp.is_zero() && if buy { bid >= p.tp } else { ask <= p.tp };
            if sl {
                fire.push((t, TRIGGER_SL, p.sl));
            } else if tp {
                fire.push((t, TRIGGER_TP, p.tp));
            }
        }
        for t in stale {
            self.life.protect.remove(&t);
            self.life.arm(m.instrument, false);
        }
        for (t, what, level) in fire {
            let side = match what {
                TRIGGER_LIMIT | TRIGGER_STOP => self.life.pending[&t].open.side,
                _ => self.life.protect[&t].side,
            };
            d.push(Decision::Trigger(Trigger {
                ts_ns: m.source_ns,
                input_seq: seq,
                ticket: t,
                bid,
                ask,
                level,
                instrument: m.instrument,
                what,
                side,
                _pad: [0; 2],
            }));
            self.counters.triggers += 1;
            match what {
                TRIGGER_LIMIT | TRIGGER_STOP => {
                    let p = self.life.pending.remove(&t).expect("present");
                    self.life.arm(m.instrument, false);
                    let mut o = p.open;
                    o.ts_ns = m.source_ns;
                    o.policy &= !(POLICY_HELD_LIMIT | POLICY_HELD_STOP);
                    if what == TRIGGER_STOP {
                        let s = Side::from_u8(o.side).unwrap_or(Side::Buy);
                        let dec = self
                            .symbols
                            .by_id(o.instrument)
                            .map_or(8, |s| s.price_decimals);
                        o.limit_price = self.close_price(o.instrument, s, dec);
                    }
                    let r = self.open(seq, &o, d);
                    if let Err((code, _)) = r {
                        self.master_refused(seq, m.source_ns, t, code, d);
                    }
                }
                _ => {
                    let p = self.life.protect.remove(&t).expect("present");
                    self.life.arm(m.instrument, false);
                    let bit = if what == TRIGGER_SL {
                        ORDER_ID_SL
                    } else {
                        ORDER_ID_TP
                    };
                    let c = MasterClose {
                        ts_ns: m.source_ns,
                        ticket: t,
                        lots: Lots(0),
                        full: CLOSE_FULL,
                        residual: 1,
                        mode: p.mode,
                        _pad: [0; 5],
                        order_id: t | bit,
                    };
                    if let Err((code, _)) = self.close(seq, &c, d) {
                        self.master_refused(seq, m.source_ns, t | bit, code, d);
                    }
                }
            }
        }
    }

    /// The manager's order `order_id` was refused: its Rejected report.
    fn master_refused(
        &mut self,
        seq: u64,
        ts: u64,
        order_id: u64,
        code: RefusedCode,
        d: &mut Vec<Decision>,
    ) {
        let m = self.life.masters.remove(&order_id);
        let mut r = MasterReport {
            ts_ns: ts,
            input_seq: seq,
            order_id,
            ticket: order_id & MAX_ORDER_ID,
            exec_type: exec::REJECTED,
            ord_status: b'8',
            reason: code as u16,
            ..MasterReport::default()
        };
        if let Some(m) = m {
            let base = self.report(seq, ts, order_id, &m);
            r = MasterReport {
                exec_type: exec::REJECTED,
                ord_status: b'8',
                reason: code as u16,
                leaves_qty: Qty::ZERO,
                ..base
            };
        }
        d.push(Decision::Report(r));
    }

    /// An input was refused: the manager hears of it if it was one of its orders or requests.
    pub(super) fn on_refused(
        &mut self,
        seq: u64,
        input: &Input,
        code: RefusedCode,
        d: &mut Vec<Decision>,
    ) {
        match input {
            Input::Open(o) if o.ticket != LIMIT_TICKET => {
                let mut r = MasterReport {
                    ts_ns: o.ts_ns,
                    input_seq: seq,
                    order_id: o.ticket,
                    ticket: o.ticket,
                    instrument: o.instrument,
                    side: o.side,
                    price: o.limit_price,
                    exec_type: exec::REJECTED,
                    ord_status: b'8',
                    reason: code as u16,
                    ..MasterReport::default()
                };
                r.ord_type = if o.policy & POLICY_HELD_STOP != 0 {
                    OrdType::Stop as u8
                } else if o.limit_price.is_zero() {
                    OrdType::Market as u8
                } else {
                    OrdType::Limit as u8
                };
                if let Some(spec) = self.symbols.by_id(o.instrument) {
                    let l = LotLimits::of(spec);
                    if let Ok(q) = l.steps_of(o.lots).and_then(|s| l.qty_of(spec, s)) {
                        r.order_qty = q;
                    }
                }
                d.push(Decision::Report(r));
            }
            Input::Close(c) if c.order_id != 0 => {
                let mut r = MasterReport {
                    ts_ns: c.ts_ns,
                    input_seq: seq,
                    order_id: c.order_id,
                    ticket: c.ticket,
                    exec_type: exec::REJECTED,
                    ord_status: b'8',
                    reason: code as u16,
                    flags: REPORT_CLOSING,
                    ..MasterReport::default()
                };
                if let Some(t) = self.tickets.get(&c.ticket) {
                    r.instrument = t.instrument;
                    r.side = t.side.opposite() as u8;
                }
                d.push(Decision::Report(r));
            }
            Input::Cancel(c) => d.push(Decision::Report(self.cancel_reject(
                seq,
                c.ts_ns,
                c.order_id,
                c.cancel_id,
                code,
                0,
            ))),
            Input::Amend(a) if a.amend_id != 0 => d.push(Decision::Report(self.cancel_reject(
                seq,
                a.ts_ns,
                a.order_id,
                a.amend_id,
                code,
                REPORT_TO_REPLACE,
            ))),
            Input::Amend(a) => {
                // The order's own SL/TP: restated as refused, the order stands.
                let mut r = match self.life.masters.get(&a.order_id) {
                    Some(m) => self.report(seq, a.ts_ns, a.order_id, m),
                    None => self.cancel_reject(seq, a.ts_ns, a.order_id, 0, code, 0),
                };
                r.exec_type = exec::RESTATED;
                r.reason = code as u16;
                d.push(Decision::Report(r));
            }
            _ => {}
        }
    }

    fn cancel_reject(
        &self,
        seq: u64,
        ts: u64,
        order_id: u64,
        request_id: u64,
        code: RefusedCode,
        flags: u8,
    ) -> MasterReport {
        let base = match self.life.masters.get(&order_id) {
            Some(m) => self.report(seq, ts, order_id, m),
            None => MasterReport {
                ts_ns: ts,
                input_seq: seq,
                order_id,
                ticket: order_id & MAX_ORDER_ID,
                ord_status: b'8',
                ..MasterReport::default()
            },
        };
        MasterReport {
            exec_type: exec::CANCEL_REJECT,
            request_id,
            reason: code as u16,
            flags: base.flags | flags,
            ..base
        }
    }

    /// The kill switch: every opening child is cancelled at its LP, every pending master
    /// dropped; closes and the engine's own stop-outs keep working.
    pub(super) fn kill_cancels(&mut self, seq: u64, ts: u64, d: &mut Vec<Decision>) {
        self.cancel_children(seq, ts, None, d);
        let held: Vec<u64> = self.life.pending.keys().copied().collect();
        for id in held {
            let c = MasterCancel {
                ts_ns: ts,
                order_id: id,
                cancel_id: 0,
            };
            let _ = self.cancel(seq, &c, d);
        }
        let ids: Vec<u64> = self
            .life
            .masters
            .iter()
            .filter(|(_, m)| !m.closing && m.working > 0 && m.cancel_id == 0)
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            self.life.masters.get_mut(&id).expect("present").cancel_id = KILL_REQUEST;
        }
    }
}
