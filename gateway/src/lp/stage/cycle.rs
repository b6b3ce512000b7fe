//! One duty cycle of [`LpStage`]: fills out, socket, orders, stop, histograms.

use std::sync::atomic::Ordering::{Acquire, Relaxed};
use std::time::Duration;

use super::*;
use crate::fix::alloc::AllocationInstructionAck;
use crate::fix::msg::{BusinessMessageReject, OrderCancelReject};
use crate::fix::num::parse_u64;
use crate::lp::fills::{RefType, Refused};
use mam_core::event::ORD_TYPE_ALLOC;

impl Stage for LpStage {
    fn name(&self) -> &str {
        "lp"
    }

    fn do_work(&mut self) -> usize {
        if self.phase == Phase::Done {
            return 0;
        }
        let mut work = self.fills.drain();
        let now = now_ns();
        if self.fills.backlog() < BACKLOG_PAUSE {
            work += self.serve_socket(now);
        }
        let mono = mono_ns();
        work += self.recon.turn(
            &mut self.ini,
            &self.symbols,
            &self.accounts,
            now,
            mono,
            &self.stats,
        );
        if self.phase == Phase::Running {
            work += self.send_orders(now);
        }
        work += self.check_stop(now);
        self.publish(mono, false);
        work
    }

    fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }
}

impl LpStage {
    /// Reads and answers the socket once without blocking; returns the messages handled.
    fn serve_socket(&mut self, now: u64) -> usize {
        let connects = self.ini.connects();
        let LpStage {
            ini,
            fills,
            stats,
            refused_refs,
            recon,
            logout_seen,
            ..
        } = self;
        let mut n = 0;
        let r = ini.turn(now, Some(Duration::ZERO), &mut |e| match e {
            Event::App { msg, .. } if msg.msg_type() == msg_type::EXECUTION_REPORT => {
                n += 1;
                fills::on_exec_report(msg, fills, recon, stats);
            }
            Event::App { msg, .. } if msg.msg_type() == msg_type::BUSINESS_MESSAGE_REJECT => {
                n += 1;
                match BusinessMessageReject::parse(msg) {
                    Ok(b) => refused_refs.push(RefusedRef {
                        seq: b.ref_seq_num,
                        ref_type: match b.ref_msg_type {
                            msg_type::NEW_ORDER_SINGLE => RefType::Order,
                            msg_type::ORDER_STATUS_REQUEST => RefType::Status,
                            _ => RefType::Other,
                        },
                        ref_id: b.ref_id.and_then(|v| parse_u64(v).ok()),
                        origin: msg.seq().unwrap_or(0),
                    }),
                    Err(e) => tracing::warn!(error = ?e, "LP: unreadable BusinessMessageReject"),
                }
            }
            Event::App { msg, .. } if msg.msg_type() == msg_type::ALLOCATION_INSTRUCTION_ACK => {
                n += 1;
                match AllocationInstructionAck::parse(msg) {
                    Ok(a) if matches!(a.status, 0 | 3) => {
                        stats.alloc_acks.fetch_add(1, Relaxed);
                    }
                    Ok(a) => {
                        stats.alloc_rejects.fetch_add(1, Relaxed);
                        tracing::warn!(
                            alloc_id = %String::from_utf8_lossy(a.alloc_id),
                            status = a.status,
                            rej_code = ?a.rej_code,
                            text = %String::from_utf8_lossy(a.text.unwrap_or_default()),
                            "LP rejected an allocation"
                        );
                    }
                    Err(e) => tracing::warn!(error = ?e, "LP: unreadable AllocationInstructionAck"),
                }
            }
            Event::App { msg, .. } if msg.msg_type() == msg_type::ORDER_CANCEL_REJECT => {
                n += 1;
                stats.cancel_rejects.fetch_add(1, Relaxed);
                match OrderCancelReject::parse(msg) {
                    Ok(r) => tracing::info!(
                        order = %String::from_utf8_lossy(r.orig_cl_ord_id),
                        ord_status = %(r.ord_status as char),
                        reason = ?r.reason,
                        text = %String::from_utf8_lossy(r.text.unwrap_or_default()),
                        "LP refused a cancel request: the order stays as the LP reports it"
                    ),
                    Err(e) => tracing::warn!(error = ?e, "LP: unreadable OrderCancelReject"),
                }
            }
            Event::App { msg, .. } => {
                n += 1;
                tracing::info!(msg_type = %String::from_utf8_lossy(msg.msg_type()), "LP: message ignored");
            }
            Event::RejectReceived { ref_seq, reason } => {
                n += 1;
                tracing::warn!(ref_seq, ?reason, "LP: session-level Reject");
                refused_refs.push(RefusedRef {
                    seq: Some(ref_seq),
                    ref_type: RefType::Unknown,
                    ref_id: None,
                    origin: 0,
                });
            }
            Event::LoggedOn { reset } => {
                n += 1;
                tracing::info!(reset, "LP: logged on");
            }
            Event::LoggedOut => {
                n += 1;
                *logout_seen = true;
            }
            Event::Disconnect { reason } => {
                n += 1;
                recon.on_disconnect();
                tracing::warn!(?reason, "LP: session ended");
            }
            _ => n += 1,
        });
        if let Err(e) = r {
            tracing::warn!(error = %e, "LP: session error");
        }
        if !self.ini.is_logged_on() {
            // A connection lost without a Disconnect event (socket error) too.
            self.recon.on_disconnect();
        }
        let after = self.ini.connects();
        if after > connects && connects > 0 {
            self.stats.reconnects.fetch_add(after - connects, Relaxed);
        }
        // Stored only when it moved: the stats thread's cache line stays clean otherwise.
        let failures = self.ini.connect_failures();
        if failures != self.stats.connect_failures.load(Relaxed) {
            self.stats.connect_failures.store(failures, Relaxed);
        }
        for r in std::mem::take(&mut self.refused_refs) {
            match fills::resolve(self.ini.session().store(), &mut self.dec, &r) {
                Refused::Order(cl_ord_id) => {
                    // On disk before the engine hears of it: a kill in between still ends
                    // the order on the next start (the LP gap-fills a Reject when resending).
                    // A refusal seen before (a BusinessMessageReject resent) goes to the
                    // engine again all the same: it drops what it already ended.
                    if self.refusals.record(cl_ord_id) {
                        tracing::warn!(
                            ref_seq = ?r.seq,
                            cl_ord_id,
                            "LP rejected the order at the session level"
                        );
                        self.stats.session_refusals.fetch_add(1, Relaxed);
                    }
                    fills::forward(
                        fills::rejected(cl_ord_id),
                        r.origin,
                        &mut self.fills,
                        &mut self.recon,
                        &self.stats,
                    );
                }
                Refused::Status => self
                    .recon
                    .fall_back("the LP refused an OrderStatusRequest", &self.stats),
                Refused::Other => {}
            }
        }
        n
    }

    /// Sends the start-up resend list, then orders from the ring, while logged on.
    fn send_orders(&mut self, now: u64) -> usize {
        let pending =
            self.held.is_some() || !self.orders.is_empty() || self.resend_next < self.resend.len();
        if !pending {
            return 0;
        }
        if !self.ini.is_logged_on() {
            self.note_wait();
            return 0;
        }
        let mut n = 0;
        while self.resend_next < self.resend.len() {
            let c = self.resend[self.resend_next];
            match send_child(
                &mut self.ini,
                &self.symbols,
                &self.accounts,
                self.handl_inst,
                &c,
                now,
            ) {
                Sent::Yes => {
                    self.stats.resent_at_start.fetch_add(1, Relaxed);
                    if c.ord_type != ORD_TYPE_CANCEL {
                        self.fills.working(c.cl_ord_id);
                    }
                }
                Sent::Refused => self.refuse(c.cl_ord_id),
                Sent::Dropped => {}
                Sent::Wait => {
                    self.note_wait();
                    self.flush_batch();
                    return n;
                }
            }
            self.resend_next += 1;
            n += 1;
        }
        // An allocation's account lines are only gathered (a copy each; the block's total line
        // sends the messages), so they have a budget of their own: counted as orders, a
        // 1,000-account block's lines took 16 cycles.
        let mut lines = 0;
        while n < ORDER_BATCH && lines < ALLOC_LINE_BATCH {
            let eo = match self.held.take() {
                Some(o) => o,
                None => match self.orders.pop() {
                    Some(o) => {
                        let _ = self
                            .hists
                            .ring_wait
                            .record(mono_ns().saturating_sub(o.pushed_ns).max(1));
                        o
                    }
                    None => break,
                },
            };
            if eo.order.ord_type == ORD_TYPE_ALLOC {
                let sent = self.alloc.line(
                    &mut self.ini,
                    &self.symbols,
                    &self.accounts,
                    &eo.order,
                    now,
                    &self.stats,
                );
                if let Sent::Wait = sent {
                    self.held = Some(eo);
                    self.note_wait();
                    break;
                }
                if eo.order.account == u32::MAX {
                    n += 1;
                } else {
                    lines += 1;
                }
                continue;
            }
            match send_child(
                &mut self.ini,
                &self.symbols,
                &self.accounts,
                self.handl_inst,
                &eo.order,
                now,
            ) {
                Sent::Yes if eo.order.ord_type == ORD_TYPE_CANCEL => {
                    self.stats.cancels_sent.fetch_add(1, Relaxed);
                }
                Sent::Yes => {
                    self.stats.orders_sent.fetch_add(1, Relaxed);
                    self.fills.working(eo.order.cl_ord_id);
                    if eo.index == 0 {
                        self.batch_out.push((eo.cause_edge_ns, true));
                    }
                    if eo.index.saturating_add(1) >= eo.count {
                        self.batch_out.push((eo.cause_edge_ns, false));
                    }
                }
                Sent::Refused => self.refuse(eo.order.cl_ord_id),
                Sent::Dropped => {}
                Sent::Wait => {
                    self.held = Some(eo);
                    self.note_wait();
                    break;
                }
            }
            n += 1;
        }
        if self.held.is_none() {
            self.waiting = false;
        }
        self.flush_batch();
        n + lines
    }

    /// Counts one wait per episode (from the first blocked attempt until an order goes).
    fn note_wait(&mut self) {
        if !self.waiting {
            self.waiting = true;
            self.stats.order_waits.fetch_add(1, Relaxed);
        }
    }

    fn refuse(&mut self, cl_ord_id: u64) {
        self.stats.refused.fetch_add(1, Relaxed);
        fills::forward(
            fills::rejected(cl_ord_id),
            0,
            &mut self.fills,
            &mut self.recon,
            &self.stats,
        );
    }

    /// Flushes the socket and records the batch's master → child-out latencies (the orders
    /// are written to the socket once the flush returns).
    fn flush_batch(&mut self) {
        if self.batch_out.is_empty() {
            let _ = self.ini.flush();
            return;
        }
        let before = mono_ns();
        let _ = self.ini.flush();
        let out_ns = mono_ns();
        let _ = self
            .hists
            .write
            .record(out_ns.saturating_sub(before).max(1));
        for (cause, first) in self.batch_out.drain(..) {
            let h = if first {
                &mut self.hists.first_out
            } else {
                &mut self.hists.last_out
            };
            let _ = h.record(out_ns.saturating_sub(cause).max(1));
        }
    }

    /// Stop: once `stop` is set and the engine has finished (its ring abandoned and empty,
    /// nothing held or left to resend), log out, wait for the reply (bounded), finish.
    fn check_stop(&mut self, now: u64) -> usize {
        match self.phase {
            Phase::Done => 0,
            Phase::LoggingOut(since) => {
                let st = self.ini.session().state();
                if self.logout_seen || st == State::Disconnected {
                    if self.logout_seen {
                        self.stats.logouts.fetch_add(1, Relaxed);
                    }
                    self.finish(now);
                } else if mono_ns().saturating_sub(since) > LOGOUT_WAIT_NS {
                    tracing::warn!("LP: no Logout reply within 2 s");
                    self.finish(now);
                }
                // Keep the runner cycling until the exchange ends.
                1
            }
            Phase::Running => {
                let stopping = self.stop.load(Acquire) || self.retired;
                if !stopping || !self.orders.is_abandoned() {
                    return 0;
                }
                let left = self.orders.len()
                    + usize::from(self.held.is_some())
                    + (self.resend.len() - self.resend_next);
                let since = *self.stop_since_ns.get_or_insert_with(mono_ns);
                if left == 0 {
                    if self.ini.is_logged_on() {
                        if let Err(e) = self.ini.logout(now, Some(b"mam stopping")) {
                            tracing::warn!(error = %e, "LP: Logout failed");
                        }
                        self.phase = Phase::LoggingOut(mono_ns());
                    } else {
                        self.finish(now);
                    }
                    return 1;
                }
                if !self.ini.is_logged_on() && mono_ns().saturating_sub(since) > self.stop_grace_ns
                {
                    tracing::warn!(
                        orders = left,
                        "LP: stopping while not logged on; these orders are not in the store and go out on the next start"
                    );
                    self.finish(now);
                    return 1;
                }
                0
            }
        }
    }

    fn finish(&mut self, now: u64) {
        self.phase = Phase::Done;
        self.ini.close(now);
        let left = self.fills.close();
        if left > 0 {
            tracing::warn!(
                fills = left,
                "LP: fills not delivered to the engine (the LP resends them on the next start)"
            );
        }
        self.stats.fills_undelivered.fetch_add(left as u64, Relaxed);
        self.publish(mono_ns(), true);
    }

    /// Hands the histograms to the tap every [`LatencyTap::PUBLISH_NS`] and at the end; `t`
    /// is a monotonic time read this turn (each clock read is paid on every turn).
    fn publish(&mut self, t: u64, force: bool) {
        let Some(tap) = self.tap.as_ref() else {
            return;
        };
        if !force && t.saturating_sub(self.last_publish_ns) < LatencyTap::PUBLISH_NS {
            return;
        }
        self.last_publish_ns = t;
        tap.publish("order_ring_wait", &mut self.hists.ring_wait);
        tap.publish("master_to_first_child_out", &mut self.hists.first_out);
        tap.publish("master_to_last_child_out", &mut self.hists.last_out);
        tap.publish("lp_write", &mut self.hists.write);
    }
}
