//! Reconciliation with the LP after a restart: an OrderStatusRequest (35=H) for every order
//! the engine still tracks that the session store holds as sent, and the rule that turns each
//! answer (ExecutionReport, ExecType I) into what the engine needs, never counting a fill
//! twice (`docs/daemon.md`, "Restart").
//!
//! The requests go once the LP's resend is over (the session no longer waits for a gap): FIX
//! delivers in sequence, so every report the LP sent before its answer has been handled by
//! then, and an order that one of them ended is not asked about. For each order the stage
//! keeps what the engine holds of it once it has applied every fill pushed so far (`held`):
//! its cumulative quantity at start plus each pushed fill the engine takes, by the engine
//! stage's own rule (a fill counts when its CumQty is above what the engine holds). With the
//! answer's CumQty `C`:
//!
//! - `C == held` and OrdStatus Canceled, Expired, Done for day or Rejected: the order is done
//!   at the LP; a fill with no quantity and status Canceled (Rejected) ends it.
//! - `C == held` otherwise: nothing (the order lives on, or the engine already has it all).
//! - `C > held`: the LP filled what its resend did not bring (it gap-filled its reports): one
//!   fill of `C − held`, with the answer's status (a done order ends with it), at the price
//!   that makes the order's notional the LP's: `(C × AvgPx − N) / (C − held)`, `N` the
//!   notional of what the engine holds. That is AvgPx itself when the engine holds nothing;
//!   otherwise `N` is known only if every fill the engine holds went through this stage since
//!   the start (its prices were seen), and the price is rounded to the last decimal of
//!   [`Price`] (half away from zero). When the engine held part of the order before the start,
//!   its price is not the LP stage's to read: nothing is sent (below).
//! - `C < held`, or a price that cannot be known: nothing is sent; the mismatch is counted and
//!   logged as an error for the operator.
//!
//! An LP that refuses 35=H (BusinessMessageReject or session Reject: QuickFIX's executor) or
//! does not answer within the timeout leaves the stage on the resend alone, said once in the
//! log. Late answers are still applied by the same rule (it is safe at any point in the LP's
//! sequence).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

use mam_core::event::{ChildOrder, ExecStatus, FillEvent, Side};
use mam_core::num::{div_round_i128, Price, Qty, Rounding};

use super::account::AccountField;
use super::stage::LpStats;
use crate::fix::convert::{exec_id_u64, ClOrdIdText};
use crate::fix::msg::{msg_type, ExecutionReport, OrderStatusRequest};
use crate::fix::num::parse_u64;
use crate::fix::session::initiator::Initiator;

/// One order asked about.
#[derive(Debug)]
struct Tracked {
    order: ChildOrder,
    /// What the engine holds once it has applied every fill pushed so far.
    held: Qty,
    /// What it held at the start (bought at prices this stage never saw).
    start: Qty,
    /// Raw quantity × raw price of the fills it took since the start.
    notional: i128,
    /// Ended by a pushed fill: nothing to ask or reconcile.
    done: bool,
    /// The LP's OrderID, once a report carried it.
    order_id: Option<Vec<u8>>,
    /// Asked on the current connection.
    asked: bool,
    answered: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the Logon and the end of the LP's resend.
    Waiting,
    /// Requests sent; waiting for the answers.
    Asked,
    /// Every answer in, or nothing to ask.
    Done,
    /// The LP refused or ignored the requests: the resend alone recovers the fills.
    FellBack,
}

/// The stage's reconciliation state (see the module documentation).
#[derive(Debug)]
pub(super) struct Recon {
    orders: BTreeMap<u64, Tracked>,
    phase: Phase,
    timeout_ns: u64,
    /// Monotonic time the answers are awaited from (pushed forward while they cannot come).
    since_ns: u64,
    /// Some order is marked asked on the current connection.
    any_asked: bool,
}

impl Recon {
    /// Tracks `open` (orders in the store, with what the engine holds of each at start).
    pub(super) fn new(open: impl IntoIterator<Item = (ChildOrder, Qty)>, timeout_ns: u64) -> Self {
        let orders: BTreeMap<u64, Tracked> = open
            .into_iter()
            .map(|(order, held)| {
                let t = Tracked {
                    order,
                    held,
                    start: held,
                    notional: 0,
                    done: false,
                    order_id: None,
                    asked: false,
                    answered: false,
                };
                (order.cl_ord_id, t)
            })
            .collect();
        let phase = if orders.is_empty() {
            Phase::Done
        } else {
            Phase::Waiting
        };
        Recon {
            orders,
            phase,
            timeout_ns,
            since_ns: 0,
            any_asked: false,
        }
    }

    /// A report for `cl_ord_id` carried the LP's OrderID (asked with it, if still open).
    pub(super) fn note_order_id(&mut self, cl_ord_id: Option<&[u8]>, order_id: &[u8]) {
        if self.orders.is_empty() {
            return; // not a restart: nothing to do on the fill path
        }
        let Some(cl) = cl_ord_id.and_then(|c| parse_u64(c).ok()) else {
            return;
        };
        if let Some(t) = self.orders.get_mut(&cl) {
            if t.order_id.as_deref() != Some(order_id) {
                t.order_id = Some(order_id.to_vec());
            }
        }
    }

    /// A fill pushed to the engine: what the engine will hold, by its own rule.
    pub(super) fn pushed(&mut self, f: &FillEvent) {
        let Some(t) = self.orders.get_mut(&f.cl_ord_id) else {
            return;
        };
        if t.done {
            return;
        }
        // The engine stage's rule: news when CumQty is above what it holds, or an end.
        let ends = f.status == ExecStatus::Canceled as u8 || f.status == ExecStatus::Rejected as u8;
        if f.cum_qty <= t.held && !ends {
            return;
        }
        t.held = Qty::from_raw(t.held.raw().saturating_add(f.last_qty.raw()));
        t.notional += i128::from(f.last_qty.raw()) * i128::from(f.last_px.raw());
        t.done = ends || t.held >= t.order.qty;
    }

    /// The connection is gone: unanswered orders are asked again after the next Logon.
    pub(super) fn on_disconnect(&mut self) {
        if !std::mem::take(&mut self.any_asked) {
            return;
        }
        for t in self.orders.values_mut() {
            t.asked = false;
        }
        if self.phase == Phase::Asked {
            self.phase = Phase::Waiting;
        }
    }

    /// Per cycle: asks once logged on and the LP's resend is over, then watches the timeout.
    /// `ready` is "logged on and not waiting for a resend". Returns the requests sent.
    pub(super) fn turn(
        &mut self,
        ini: &mut Initiator,
        symbols: &[Vec<u8>],
        accounts: &AccountField,
        now: u64,
        mono: u64,
        stats: &LpStats,
    ) -> usize {
        let ready = ini.is_logged_on() && !ini.session().awaiting_resend();
        match self.phase {
            Phase::Done | Phase::FellBack => 0,
            Phase::Waiting if ready => self.ask(ini, symbols, accounts, now, mono, stats),
            Phase::Waiting => 0,
            Phase::Asked => {
                if !ready {
                    // The answers cannot come while the resend runs: the wait starts after.
                    self.since_ns = mono;
                } else if mono.saturating_sub(self.since_ns) > self.timeout_ns {
                    self.fall_back(
                        &format!("no answer within {} ms", self.timeout_ns / 1_000_000),
                        stats,
                    );
                }
                0
            }
        }
    }

    fn ask(
        &mut self,
        ini: &mut Initiator,
        symbols: &[Vec<u8>],
        accounts: &AccountField,
        now: u64,
        mono: u64,
        stats: &LpStats,
    ) -> usize {
        let mut n = 0;
        for t in self.orders.values_mut() {
            if t.done || t.answered || t.asked {
                continue;
            }
            let c = &t.order;
            let (Some(sym), Some(side)) =
                (symbols.get(c.instrument as usize), Side::from_u8(c.side))
            else {
                // Never sent either (send_child refuses these): nothing to ask.
                t.done = true;
                continue;
            };
            let id = ClOrdIdText::new(c.cl_ord_id);
            let acct = accounts.text(c.account);
            let req = OrderStatusRequest {
                order_id: t.order_id.as_deref(),
                cl_ord_id: id.as_bytes(),
                req_id: None,
                account: acct.as_ref().map(|a| a.as_bytes()),
                symbol: sym,
                side,
            };
            match ini.send_app(now, msg_type::ORDER_STATUS_REQUEST, |w| req.encode(w)) {
                Ok(_) => {
                    t.asked = true;
                    self.any_asked = true;
                    n += 1;
                    stats.status_sent.fetch_add(1, Relaxed);
                }
                // Not now (back-pressure, or the connection went): the rest next cycle.
                Err(_) => return n,
            }
        }
        let _ = ini.flush();
        if self.orders.values().all(|t| t.done || t.answered) {
            if n == 0 {
                tracing::info!("LP: every open order was settled by the resend; no status asked");
            }
            self.phase = Phase::Done;
        } else if self
            .orders
            .values()
            .all(|t| t.done || t.answered || t.asked)
        {
            tracing::info!(
                orders = n,
                "LP: OrderStatusRequest sent for the open orders"
            );
            self.phase = Phase::Asked;
            self.since_ns = mono;
        }
        n
    }

    /// The LP refused an OrderStatusRequest (or did not answer): the resend alone it is.
    pub(super) fn fall_back(&mut self, why: &str, stats: &LpStats) {
        if self.phase == Phase::FellBack {
            return;
        }
        let unanswered = self
            .orders
            .values()
            .filter(|t| !t.answered && !t.done)
            .count();
        tracing::warn!(
            why,
            unanswered,
            "LP does not answer OrderStatusRequest; relying on resend"
        );
        stats.status_fallbacks.fetch_add(1, Relaxed);
        self.phase = Phase::FellBack;
    }

    /// An answer (ExecutionReport, ExecType I): the fill the engine needs, if any (module
    /// documentation). The caller pushes it (and tells [`Recon::pushed`]).
    pub(super) fn on_answer(
        &mut self,
        er: &ExecutionReport<'_>,
        recv_ns: u64,
        stats: &LpStats,
    ) -> Option<FillEvent> {
        stats.status_answers.fetch_add(1, Relaxed);
        let cl = er.cl_ord_id.and_then(|c| parse_u64(c).ok());
        let Some(t) = cl.and_then(|cl| self.orders.get_mut(&cl)) else {
            tracing::info!(cl_ord_id = ?er.cl_ord_id.map(String::from_utf8_lossy), "LP: status answer for an order not asked about, ignored");
            return None;
        };
        t.answered = true;
        let (cl, qty) = (t.order.cl_ord_id, t.order.qty);
        let (held, c) = (t.held, er.cum_qty);
        // The price of what the LP filled beyond what the engine holds, if it can be known.
        let px = (t.start.raw() == 0 && c > held).then(|| {
            let lp = i128::from(c.raw()) * i128::from(er.avg_px.raw());
            let missing = i128::from(c.raw() - held.raw());
            div_round_i128(lp - t.notional, missing, Rounding::HalfAwayFromZero)
        });
        let done = t.done;
        if self.phase == Phase::Asked && self.orders.values().all(|t| t.done || t.answered) {
            tracing::info!("LP: every OrderStatusRequest answered");
            self.phase = Phase::Done;
        }
        if done {
            return None;
        }
        let end = match er.ord_status {
            b'4' | b'C' | b'3' => Some(ExecStatus::Canceled),
            b'8' => Some(ExecStatus::Rejected),
            _ => None,
        };
        let mismatch = |why: &str| {
            stats.status_mismatches.fetch_add(1, Relaxed);
            tracing::error!(
                cl_ord_id = cl,
                lp_cum = %c,
                held = %held,
                ord_status = %char::from(er.ord_status),
                "LP: status answer does not reconcile: {why}; order left as it is"
            );
            None
        };
        let fill = |last_qty: Qty, last_px: Price, status: ExecStatus| FillEvent {
            recv_ns,
            cl_ord_id: cl,
            exec_id: exec_id_u64(er.exec_id),
            last_qty,
            last_px,
            cum_qty: c,
            leaves_qty: if end.is_some() {
                Qty::ZERO
            } else {
                er.leaves_qty
            },
            status: status as u8,
            _pad: [0; 7],
        };
        let f = if c == held {
            let status = end?;
            stats.status_ended.fetch_add(1, Relaxed);
            tracing::info!(cl_ord_id = cl, ?status, "LP: status answer ends the order");
            fill(Qty::ZERO, Price::ZERO, status)
        } else if c < held {
            return mismatch("the LP reports less filled than mam holds");
        } else {
            let Some(px) = px else {
                return mismatch("the LP filled more than mam received, and the price of what mam held before the restart is not known here");
            };
            let Some(px) = i64::try_from(px).ok().filter(|&p| p > 0) else {
                return mismatch(
                    "the LP filled more than mam received, at no usable price (AvgPx)",
                );
            };
            let status = end.unwrap_or(if c >= qty {
                ExecStatus::Filled
            } else {
                ExecStatus::PartiallyFilled
            });
            let last = Qty::from_raw(c.raw() - held.raw());
            stats.status_fills.fetch_add(1, Relaxed);
            tracing::warn!(cl_ord_id = cl, qty = %last, px = %Price::from_raw(px), "LP: filled what its resend did not bring; one fill made from the status answer");
            fill(last, Price::from_raw(px), status)
        };
        Some(f)
    }
}

#[cfg(test)]
mod tests;
