//! What the stage does with each event of the manager's session: master orders and clock
//! messages become frames, every message gets its reply queued behind its frame.

use std::sync::Arc;

use mam_core::engine::input::Input;
use mam_core::pipeline::engine_stage::admin::SharedSnapshots;
use mam_core::pipeline::{AccountDirectory, EdgeFrame};
use mam_core::symbol::SymbolTable;

use super::account_request::{account_request_input, AccountRefusal};
use super::backlog::Backlog;
use super::clock::{self, ManagerClock};
use super::convert::{
    amend_from_ocrr, cancel_from_ocr, master_from_nos, scope_input, watermark_from_tss,
    MasterDefaults,
};
use super::positions::{self, PosReqResult};
use super::refusal::{MasterRefusal, OrdRejReason};
use super::reply::{Outbox, Reply};
use super::stats::{inc, ManagerCounters};
use crate::fix::decode::{Message, RejectReason};
use crate::fix::session::Event;
use crate::fix::tag;

/// Everything the acceptor's event handler touches (apart from the acceptor itself).
#[derive(Debug)]
pub(super) struct Handler {
    pub(super) symbols: SymbolTable,
    /// This session's manager number: its ids go to the engine with it, its position
    /// requests see its accounts only.
    pub(super) manager: u8,
    pub(super) defaults: MasterDefaults,
    /// The manager's clock (watermark) and stop state.
    pub(super) time: ManagerClock,
    /// Frames for the engine and the replies behind them, in arrival order.
    pub(super) backlog: Backlog<Reply>,
    pub(super) out: Outbox,
    pub(super) stats: Arc<ManagerCounters>,
    pub(super) read_ns: u64,
    pub(super) events: usize,
    /// The engine's published snapshot, read to answer RequestForPositions (`None`: not
    /// wired, such requests are answered "not supported").
    pub(super) snapshots: Option<SharedSnapshots>,
    /// Account ids by index, to turn a MamAccountRequest's Account into an index (`None`:
    /// not wired, such requests are answered "not supported").
    pub(super) accounts: Option<AccountDirectory>,
    /// Deposits and withdrawals without MamRebalance rebalance (the session's `on_deposit`).
    pub(super) rebalance_deposits: bool,
}

impl Handler {
    pub(super) fn watermark(&self) -> u64 {
        self.time.watermark()
    }

    /// Queues a frame for the engine and the reply behind it (see [`Backlog::queue`]).
    fn queue(&mut self, frame: Option<EdgeFrame>, order: bool, reply: Option<Reply>) {
        self.backlog.queue(frame, order, self.read_ns, reply);
    }

    pub(super) fn on_event(&mut self, e: Event<'_>) {
        self.events += 1;
        let s = &self.stats;
        match e {
            Event::LoggedOn { .. } => inc(&s.logons),
            Event::RejectSent { .. } => inc(&s.session_rejects),
            Event::BusinessRejectSent { .. } => inc(&s.business_rejects),
            Event::App { msg, .. } => self.on_app(msg),
            _ => {}
        }
    }

    /// One application message in sequence (resent ones, PossDup=Y, alike).
    fn on_app(&mut self, m: &Message<'_>) {
        let seq = m.seq().unwrap_or(0);
        match m.msg_type() {
            b"D" => self.on_order(m, seq),
            b"F" => {
                let r = cancel_from_ocr(m);
                self.on_request(m, seq, r);
            }
            b"G" => {
                let r = amend_from_ocrr(m, &self.symbols, &self.defaults);
                self.on_request(m, seq, r);
            }
            b"h" => match watermark_from_tss(m) {
                Ok(w) => {
                    self.time.on_clock(w);
                    let f = EdgeFrame::watermark(self.read_ns, seq, self.watermark());
                    self.queue(Some(f), false, None);
                }
                Err(r) => self.refuse(m, seq, &r),
            },
            b"AN" => self.on_positions(m, seq),
            b"UA" => self.on_account_request(m, seq),
            // Never answer a reject with a reject.
            b"j" => tracing::warn!(seq, "manager sent a BusinessMessageReject"),
            _ => {
                inc(&self.stats.business_rejects);
                let r = self.out.unsupported(m, seq);
                self.queue(None, false, Some(r));
            }
        }
    }

    fn on_order(&mut self, m: &Message<'_>, seq: u64) {
        if self.time.stopping {
            let r = MasterRefusal::order(OrdRejReason::Other, 0, b"", clock::STOPPING);
            return self.refuse(m, seq, &r);
        }
        let conv = match master_from_nos(m, &self.symbols, &self.defaults) {
            Ok(c) => c,
            Err(r) => {
                // A refused order's TransactTime is still the manager's clock.
                let f = self.advance_clock(m, seq);
                return self.refuse_with(m, seq, &r, f);
            }
        };
        let mut input = conv.input;
        scope_input(&mut input, self.manager);
        let ts = input.ts_ns();
        let tt = m.get(60).unwrap_or_default();
        if let Some(why) = self.time.not_now(ts) {
            let r = MasterRefusal::order(OrdRejReason::Other, 60, tt, why);
            return self.refuse(m, seq, &r);
        }
        self.time.accept(ts);
        // The engine answers: New (or Rejected) once it has journaled and applied the order,
        // then every fill (gateway/src/manager/report.rs).
        // Each input is marked as its part of the message: a kill between the two leaves the
        // journal with the first only, and the restart asks for the message again whole.
        let parts = 1 + u8::from(conv.then.is_some());
        let f = EdgeFrame::input(&input, self.read_ns, seq, self.watermark()).part_of(0, parts);
        self.queue(Some(f), true, None);
        if let Some(mut then) = conv.then {
            scope_input(&mut then, self.manager);
            let f = EdgeFrame::input(&then, self.read_ns, seq, self.watermark()).part_of(1, parts);
            self.queue(Some(f), false, None);
        }
    }

    /// An OrderCancelRequest or OrderCancelReplaceRequest: converted, it goes to the engine,
    /// which answers (Pending Cancel / Canceled / Replaced, or OrderCancelReject); refused at
    /// the edge, it gets its OrderCancelReject (or a session Reject for a malformed message).
    fn on_request(&mut self, m: &Message<'_>, seq: u64, r: Result<Input, MasterRefusal>) {
        let mut input = match r {
            Ok(i) => match self.time.not_now(i.ts_ns()) {
                None => i,
                Some(why) => {
                    let r = MasterRefusal::order(OrdRejReason::Other, 60, b"", why);
                    return self.refuse(m, seq, &r);
                }
            },
            Err(r) => return self.refuse(m, seq, &r),
        };
        scope_input(&mut input, self.manager);
        self.time.accept(input.ts_ns());
        let f = EdgeFrame::input(&input, self.read_ns, seq, self.watermark());
        self.queue(Some(f), true, None);
    }

    /// A MamAccountRequest: the deposit, withdrawal or change goes to the engine, which answers
    /// (35=UB); refused here, it gets its 35=UB (or a session Reject) at once.
    fn on_account_request(&mut self, m: &Message<'_>, seq: u64) {
        let Some(dir) = self.accounts.as_ref() else {
            inc(&self.stats.business_rejects);
            let r = self.out.unsupported(m, seq);
            return self.queue(None, false, Some(r));
        };
        let ts = m.get(60).and_then(crate::fix::time::parse_utc);
        let why = match ts {
            None => Some("TransactTime(60) is required, as UTCTimestamp"),
            Some(t) => self.time.not_now(t),
        };
        let r = match why {
            Some(w) => Err(AccountRefusal::Refused {
                req_id: None,
                text: w.into(),
            }),
            None => account_request_input(
                m,
                dir,
                self.manager,
                ts.unwrap_or(0),
                self.rebalance_deposits,
            ),
        };
        match r {
            Ok(input) => {
                self.time.accept(input.ts_ns());
                let f = EdgeFrame::input(&input, self.read_ns, seq, self.watermark());
                self.queue(Some(f), true, None);
            }
            Err(AccountRefusal::Session(r)) => self.refuse(m, seq, &r),
            Err(AccountRefusal::Refused { req_id, text }) => {
                tracing::info!(seq, %text, "manager account request refused");
                inc(&self.stats.refused);
                let r = self.out.account_refused(m, req_id, &text);
                self.queue(None, false, Some(r));
            }
        }
    }

    /// A RequestForPositions: its ack and reports, read from the engine's latest published
    /// snapshot (never from the engine), queued behind what waits.
    fn on_positions(&mut self, m: &Message<'_>, seq: u64) {
        let Some(req_id) = m.get(tag::POS_REQ_ID.num) else {
            // The dictionary requires it; without validation the session lets it through.
            let r = MasterRefusal::session(
                RejectReason::RequiredTagMissing,
                tag::POS_REQ_ID.num,
                b"",
                "required tag missing",
            );
            return self.refuse(m, seq, &r);
        };
        let a = match &self.snapshots {
            Some(s) => {
                let mut r = s.lock().unwrap_or_else(|e| e.into_inner());
                positions::answer(m, Some(r.read()), &self.symbols, self.manager)
            }
            None => positions::answer(m, None, &self.symbols, self.manager),
        };
        let mut ts = [0u8; crate::fix::time::TS_LEN];
        crate::fix::time::format_utc(crate::fix::session::initiator::now_ns(), &mut ts);
        let replies = self.out.positions(m, req_id, &a, &self.symbols, &ts[..8]);
        match a.result {
            PosReqResult::Valid | PosReqResult::NoPositions => inc(&self.stats.positions_answered),
            _ => {
                tracing::info!(seq, result = a.result.code(), text = %a.text, "manager position request refused");
                inc(&self.stats.positions_refused);
            }
        }
        self.stats
            .position_reports
            .fetch_add(a.lines.len() as u64, std::sync::atomic::Ordering::Relaxed);
        for r in replies {
            self.queue(None, false, Some(r));
        }
    }

    /// A watermark frame if message `seq`'s readable TransactTime moves the open clock on.
    fn advance_clock(&mut self, m: &Message<'_>, seq: u64) -> Option<EdgeFrame> {
        let t = crate::fix::time::parse_utc(m.get(60)?)?;
        let w = self.time.advance(t)?;
        Some(EdgeFrame::watermark(self.read_ns, seq, w))
    }

    fn refuse(&mut self, m: &Message<'_>, seq: u64, r: &MasterRefusal) {
        self.refuse_with(m, seq, r, None)
    }

    fn refuse_with(&mut self, m: &Message<'_>, seq: u64, r: &MasterRefusal, f: Option<EdgeFrame>) {
        tracing::info!(seq, refusal = %r, "manager message refused");
        match r {
            MasterRefusal::Session { .. } => inc(&self.stats.session_rejects),
            MasterRefusal::Order { .. } => inc(&self.stats.refused),
        }
        let reply = self.out.refusal(m, seq, r);
        self.queue(f, false, Some(reply));
    }
}
