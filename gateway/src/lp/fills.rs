//! The fill side of [`LpStage`](super::LpStage): ExecutionReports (and session-level rejects
//! of our orders) become [`EdgeFrame`] fills on the engine's ring, never dropped.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;

use mam_core::engine::input::Input;
use mam_core::event::{ExecStatus, FillEvent};
use mam_core::pipeline::{EdgeFrame, RingTx};
use rustc_hash::FxHashSet;

use super::stage::LpStats;
use super::status::Recon;
use crate::fix::convert::{er_order_ref, er_to_fill, ConvertError};
use crate::fix::decode::{Decoder, Message};
use crate::fix::msg::{msg_type, ExecutionReport};
use crate::fix::num::parse_u64;
use crate::fix::store::Store;
use crate::fix::tag;
use crate::latency::mono_ns;

/// The engine's fill ring plus a backlog for fills that found it full: the stage must not block
/// (in `shared` threading mode the engine runs on the same thread), so a fill that does not fit
/// waits here, in arrival order, and goes first on the next cycle.
#[derive(Debug)]
pub(super) struct FillOut {
    tx: Option<RingTx<EdgeFrame>>,
    backlog: VecDeque<EdgeFrame>,
    /// Orders sent to this LP (or held by it at start) and not yet ended by a fill, a cancel
    /// or a reject: a router drains an LP a reload removes until this is empty.
    /// FxHash: one insert per order sent.
    working: FxHashSet<u64>,
}

impl FillOut {
    pub(super) fn new(tx: RingTx<EdgeFrame>) -> Self {
        FillOut {
            tx: Some(tx),
            backlog: VecDeque::new(),
            working: FxHashSet::default(),
        }
    }

    /// Order `cl_ord_id` is working at the LP.
    pub(super) fn working(&mut self, cl_ord_id: u64) {
        self.working.insert(cl_ord_id);
    }

    /// Orders working at the LP.
    pub(super) fn working_orders(&self) -> usize {
        self.working.len()
    }

    /// Fills waiting for room on the ring.
    pub(super) fn backlog(&self) -> usize {
        self.backlog.len()
    }

    /// Pushes `f`, or queues it behind earlier waiting fills (counted as a wait).
    pub(super) fn push(&mut self, f: EdgeFrame, stats: &LpStats) {
        if self.backlog.is_empty() {
            if let Some(tx) = self.tx.as_mut() {
                if tx.try_push(f).is_ok() {
                    return;
                }
            }
        }
        stats.fill_waits.fetch_add(1, Relaxed);
        self.backlog.push_back(f);
    }

    /// Moves waiting fills onto the ring while it has room; returns how many went.
    pub(super) fn drain(&mut self) -> usize {
        let Some(tx) = self.tx.as_mut() else {
            return 0;
        };
        let mut n = 0;
        while let Some(&f) = self.backlog.front() {
            if tx.try_push(f).is_err() {
                break;
            }
            self.backlog.pop_front();
            n += 1;
        }
        n
    }

    /// Drops the sender (the engine sees the ring abandoned); returns the fills that never
    /// reached it (the LP resends them on the next start: the session asks for everything).
    pub(super) fn close(&mut self) -> usize {
        self.drain();
        self.tx = None;
        let left = self.backlog.len();
        self.backlog.clear();
        left
    }
}

/// An ExecutionReport from the LP: acks (New, PendingNew) are counted, everything the engine
/// must know (fills, partial fills, cancels, rejects, also for ClOrdIDs it may not know) is
/// forwarded as a fill stamped with the monotonic receive time and the report's MsgSeqNum.
/// Answers to OrderStatusRequests (ExecType I) go to the reconciliation ([`Recon`]), which
/// says what, if anything, the engine gets from them.
pub(super) fn on_exec_report(
    m: &Message<'_>,
    out: &mut FillOut,
    recon: &mut Recon,
    stats: &LpStats,
) {
    stats.exec_reports.fetch_add(1, Relaxed);
    let recv_ns = mono_ns();
    let er = match ExecutionReport::parse(m) {
        Ok(er) => er,
        Err(e) => {
            stats.ignored.fetch_add(1, Relaxed);
            tracing::warn!(seq = ?m.seq().ok(), error = ?e, "LP: unreadable ExecutionReport ignored");
            return;
        }
    };
    recon.note_order_id(er_order_ref(&er), er.order_id);
    let seq = m.seq().unwrap_or(0);
    if er.exec_type == b'I' {
        if let Some(f) = recon.on_answer(&er, recv_ns, stats) {
            forward(f, seq, out, recon, stats);
        }
        return;
    }
    let trade = matches!(er.exec_type, b'F' | b'1' | b'2');
    if !trade && matches!(er.ord_status, b'0' | b'A') {
        stats.acks.fetch_add(1, Relaxed);
        return;
    }
    let f = match er_to_fill(&er, recv_ns) {
        Ok(f) => f,
        Err(e) => {
            stats.ignored.fetch_add(1, Relaxed);
            let level_warn = matches!(e, ConvertError::ForeignClOrdId | ConvertError::Field(_));
            if level_warn {
                tracing::warn!(seq, error = %e, "LP: ExecutionReport not for a mam order, ignored");
            } else {
                tracing::info!(seq, error = %e, "LP: ExecutionReport status not forwarded");
            }
            return;
        }
    };
    forward(f, seq, out, recon, stats);
}

/// Pushes `f` (from message `origin_seq`) to the engine, counted, and tells the
/// reconciliation what the engine will hold.
pub(super) fn forward(
    f: FillEvent,
    origin_seq: u64,
    out: &mut FillOut,
    recon: &mut Recon,
    stats: &LpStats,
) {
    if f.status == ExecStatus::Rejected as u8 {
        stats.rejects.fetch_add(1, Relaxed);
    } else {
        stats.fills.fetch_add(1, Relaxed);
    }
    recon.pushed(&f);
    let ended = f.status == ExecStatus::Filled as u8
        || f.status == ExecStatus::Canceled as u8
        || f.status == ExecStatus::Rejected as u8;
    if ended {
        out.working.remove(&f.cl_ord_id);
    }
    out.push(
        EdgeFrame::input(&Input::Fill(f), f.recv_ns, origin_seq, 0),
        stats,
    );
}

/// What kind of message of ours a refusal names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RefType {
    /// RefMsgType D.
    Order,
    /// RefMsgType H.
    Status,
    /// Another type.
    Other,
    /// Not said (a session-level Reject's RefMsgType is optional and not kept).
    Unknown,
}

/// A refusal of one of our messages: a session-level Reject (35=3) or a BusinessMessageReject
/// (35=j), as it arrived.
#[derive(Debug, Clone, Copy)]
pub(super) struct RefusedRef {
    /// RefSeqNum (required on 35=3, optional on 35=j).
    pub(super) seq: Option<u64>,
    /// RefMsgType.
    pub(super) ref_type: RefType,
    /// BusinessRejectRefID read as a mam ClOrdID.
    pub(super) ref_id: Option<u64>,
    /// The refusal's own MsgSeqNum (0 when unknown).
    pub(super) origin: u64,
}

/// What a refusal refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    /// Our order with this ClOrdID.
    Order(u64),
    /// One of our OrderStatusRequests.
    Status,
    /// Something else (an admin message, or a message we no longer hold).
    Other,
}

/// Resolves a refusal through the store of sent messages: the stored message at RefSeqNum says
/// what was refused (and the ClOrdID); without one, RefMsgType and BusinessRejectRefID do.
pub(super) fn resolve(store: &Store, dec: &mut Decoder, r: &RefusedRef) -> Refused {
    if let Some(m) = r
        .seq
        .and_then(|s| store.get(s))
        .and_then(|b| dec.decode(b).ok())
    {
        return match m.msg_type() {
            msg_type::NEW_ORDER_SINGLE => m
                .get(tag::CL_ORD_ID.num)
                .and_then(|v| parse_u64(v).ok())
                .map_or(Refused::Other, Refused::Order),
            msg_type::ORDER_STATUS_REQUEST => Refused::Status,
            t => {
                tracing::warn!(ref_seq = ?r.seq, msg_type = %String::from_utf8_lossy(t), "LP refused a message of ours that is not an order");
                Refused::Other
            }
        };
    }
    match (r.ref_type, r.ref_id) {
        (RefType::Order, Some(id)) => Refused::Order(id),
        (RefType::Status, _) => Refused::Status,
        _ => {
            tracing::warn!(ref_seq = ?r.seq, ref_type = ?r.ref_type, "LP refused a message we no longer hold");
            Refused::Other
        }
    }
}

/// A Rejected fill made at mam's edge (no ExecutionReport behind it: exec_id 0).
pub(super) fn rejected(cl_ord_id: u64) -> FillEvent {
    FillEvent {
        recv_ns: mono_ns(),
        cl_ord_id,
        status: ExecStatus::Rejected as u8,
        ..Default::default()
    }
}
