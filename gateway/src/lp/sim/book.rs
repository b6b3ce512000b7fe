//! The simulated LP's orders: what it accepted, filled and cancelled, so it can answer an
//! OrderStatusRequest (35=H) with the order's state as it has reported it so far.
//!
//! Every change queues its ExecutionReport at once, in order, and the status answer is queued
//! behind them: the answer never describes a fill whose report comes after it.

use std::collections::{BTreeMap, VecDeque};

use mam_core::event::Side;
use mam_core::num::{Price, Qty};

use super::Out;
use crate::fix::msg::{OrderCancelRequest, OrderStatusRequest};

/// One ExecutionReport waiting to go, with owned fields.
#[derive(Debug, Clone)]
pub(super) struct PendingEr {
    pub(super) order_id: Vec<u8>,
    pub(super) cl_ord_id: Vec<u8>,
    /// OrigClOrdID (41): the order a cancel's report is about.
    pub(super) orig_cl_ord_id: Option<Vec<u8>>,
    pub(super) exec_id: Vec<u8>,
    pub(super) exec_type: u8,
    pub(super) ord_status: u8,
    pub(super) account: Option<Vec<u8>>,
    pub(super) symbol: Vec<u8>,
    pub(super) side: Side,
    pub(super) order_qty: Option<Qty>,
    pub(super) price: Option<Price>,
    pub(super) last: Option<(Qty, Price)>,
    pub(super) leaves: Qty,
    pub(super) cum: Qty,
    pub(super) avg_px: Price,
    /// OrdRejReason (103).
    pub(super) rej_reason: Option<&'static [u8]>,
    /// OrdStatusReqID (790), echoed on a status answer.
    pub(super) req_id: Option<Vec<u8>>,
    pub(super) text: Option<&'static [u8]>,
}

/// An order the LP accepted.
#[derive(Debug)]
struct SimOrder {
    /// The order's fields as every report repeats them.
    er: PendingEr,
    qty: Qty,
    /// The price it fills at.
    px: Price,
    cum: Qty,
    /// OrdStatus now.
    status: u8,
    /// Reports sent for it (the next ExecID's suffix).
    execs: u32,
}

impl SimOrder {
    fn is_open(&self) -> bool {
        matches!(self.status, b'0' | b'1')
    }

    fn leaves(&self) -> Qty {
        if self.is_open() {
            Qty::from_raw(self.qty.raw() - self.cum.raw())
        } else {
            Qty::ZERO
        }
    }

    /// The next report: the order as it is now, with `exec_type` and `last`.
    fn report(&mut self, exec_type: u8, last: Option<(Qty, Price)>) -> PendingEr {
        let exec_id = format!(
            "{}.{}",
            String::from_utf8_lossy(&self.er.cl_ord_id),
            self.execs
        );
        self.execs += 1;
        PendingEr {
            exec_id: exec_id.into_bytes(),
            exec_type,
            ord_status: self.status,
            last,
            leaves: self.leaves(),
            cum: self.cum,
            avg_px: if self.cum.is_zero() {
                Price::ZERO
            } else {
                self.px
            },
            ..self.er.clone()
        }
    }
}

/// Every order the LP accepted, by ClOrdID (as [`crate::fix::convert::exec_id_u64`] reads it).
#[derive(Debug, Default)]
pub(super) struct Book {
    orders: BTreeMap<u64, SimOrder>,
}

impl Book {
    /// Accepts an order: queues its ack; with `auto_fill`, also `partial` partial fills and
    /// the final one.
    pub(super) fn accept(
        &mut self,
        id: u64,
        er: PendingEr,
        px: Price,
        auto_fill: bool,
        partial: u32,
        q: &mut VecDeque<Out>,
    ) {
        let qty = er.order_qty.unwrap_or(Qty::ZERO);
        let mut o = SimOrder {
            er,
            qty,
            px,
            cum: Qty::ZERO,
            status: b'0',
            execs: 0,
        };
        q.push_back(Out::Er(o.report(b'0', None)));
        self.orders.insert(id, o);
        if !auto_fill {
            return;
        }
        let total = qty.raw();
        let share = total / (i64::from(partial) + 1);
        if share > 0 {
            for _ in 0..partial {
                self.fill(id, Some(Qty::from_raw(share)), q);
            }
        }
        self.fill(id, None, q);
    }

    /// Fills `qty` of an open order (everything left with `None`) at its price. Returns false
    /// if the order is unknown or no longer open.
    pub(super) fn fill(&mut self, id: u64, qty: Option<Qty>, q: &mut VecDeque<Out>) -> bool {
        let Some(o) = self.orders.get_mut(&id).filter(|o| o.is_open()) else {
            return false;
        };
        let left = o.qty.raw() - o.cum.raw();
        let n = qty.map_or(left, |q| q.raw().clamp(0, left));
        if n == 0 {
            return false;
        }
        o.cum = Qty::from_raw(o.cum.raw() + n);
        o.status = if n == left { b'2' } else { b'1' };
        let px = o.px;
        q.push_back(Out::Er(o.report(b'F', Some((Qty::from_raw(n), px)))));
        true
    }

    /// Cancels what is left of an open order (unsolicited: ExecType and OrdStatus Canceled).
    /// Returns false if the order is unknown or no longer open.
    pub(super) fn cancel(&mut self, id: u64, q: &mut VecDeque<Out>) -> bool {
        let Some(o) = self.orders.get_mut(&id).filter(|o| o.is_open()) else {
            return false;
        };
        o.status = b'4';
        q.push_back(Out::Er(o.report(b'4', None)));
        true
    }

    /// Answers an OrderCancelRequest for order `id`: cancels what is left of it (true), or
    /// queues an OrderCancelReject (false).
    pub(super) fn cancel_request(
        &mut self,
        id: u64,
        r: &OrderCancelRequest<'_>,
        q: &mut VecDeque<Out>,
    ) -> bool {
        match self.orders.get_mut(&id) {
            Some(o) if o.is_open() => {
                o.status = b'4';
                let mut er = o.report(b'4', None);
                er.cl_ord_id = r.cl_ord_id.to_vec();
                er.orig_cl_ord_id = Some(r.orig_cl_ord_id.to_vec());
                q.push_back(Out::Er(er));
                true
            }
            o => {
                q.push_back(Out::CancelReject {
                    order_id: o
                        .as_ref()
                        .map_or(b"NONE".to_vec(), |o| o.er.order_id.clone()),
                    cl_ord_id: r.cl_ord_id.to_vec(),
                    orig_cl_ord_id: r.orig_cl_ord_id.to_vec(),
                    ord_status: o.as_ref().map_or(b'8', |o| o.status),
                    reason: if o.is_some() { 0 } else { 1 },
                });
                false
            }
        }
    }

    /// Answers an OrderStatusRequest: an ExecutionReport with ExecType I (Order Status) and
    /// ExecID 0 (FIX 4.4) carrying the order's OrdStatus, CumQty, LeavesQty and AvgPx; for an
    /// order it does not know, OrdStatus Rejected with OrdRejReason 5 (Unknown order), CumQty
    /// and LeavesQty 0 and OrderID `NONE`, as FIX 4.4's order state matrices prescribe.
    /// Returns true if the order was known.
    pub(super) fn status(
        &self,
        id: u64,
        r: &OrderStatusRequest<'_>,
        q: &mut VecDeque<Out>,
    ) -> bool {
        let req_id = r.req_id.map(<[u8]>::to_vec);
        let known = self.orders.contains_key(&id);
        let er = match self.orders.get(&id) {
            Some(o) => PendingEr {
                exec_id: b"0".to_vec(),
                exec_type: b'I',
                ord_status: o.status,
                last: None,
                leaves: o.leaves(),
                cum: o.cum,
                avg_px: if o.cum.is_zero() { Price::ZERO } else { o.px },
                req_id,
                ..o.er.clone()
            },
            None => PendingEr {
                order_id: b"NONE".to_vec(),
                cl_ord_id: r.cl_ord_id.to_vec(),
                orig_cl_ord_id: None,
                exec_id: b"0".to_vec(),
                exec_type: b'I',
                ord_status: b'8',
                account: r.account.map(<[u8]>::to_vec),
                symbol: r.symbol.to_vec(),
                side: r.side,
                order_qty: None,
                price: None,
                last: None,
                leaves: Qty::ZERO,
                cum: Qty::ZERO,
                avg_px: Price::ZERO,
                rej_reason: Some(b"5"),
                req_id,
                text: Some(b"unknown order"),
            },
        };
        q.push_back(Out::Er(er));
        known
    }
}
