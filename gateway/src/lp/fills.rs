//! The fill side of [`LpStage`](super::LpStage): ExecutionReports (and session-level rejects
//! of our orders) become [`EdgeFrame`] fills on the engine's ring, never dropped.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;

use mam_core::engine::input::Input;
use mam_core::event::{ExecStatus, FillEvent};
use mam_core::pipeline::{EdgeFrame, RingTx};

use super::stage::LpStats;
use crate::fix::convert::{er_to_fill, ConvertError};
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
}

impl FillOut {
    pub(super) fn new(tx: RingTx<EdgeFrame>) -> Self {
        FillOut {
            tx: Some(tx),
            backlog: VecDeque::new(),
        }
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
pub(super) fn on_exec_report(m: &Message<'_>, out: &mut FillOut, stats: &LpStats) {
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
                tracing::warn!(seq = ?m.seq().ok(), error = %e, "LP: ExecutionReport not for a mam order, ignored");
            } else {
                tracing::info!(seq = ?m.seq().ok(), error = %e, "LP: ExecutionReport status not forwarded");
            }
            return;
        }
    };
    if f.status == ExecStatus::Rejected as u8 {
        stats.rejects.fetch_add(1, Relaxed);
    } else {
        stats.fills.fetch_add(1, Relaxed);
    }
    let frame = EdgeFrame::input(&Input::Fill(f), recv_ns, m.seq().unwrap_or(0), 0);
    out.push(frame, stats);
}

/// The LP refused our message `ref_seq` at the session level (Reject 35=3, or a
/// BusinessMessageReject): if it was an order, the engine gets a Rejected fill for it, or it
/// would wait for that order forever. `origin_seq` is the refusal's MsgSeqNum.
pub(super) fn on_refused(
    store: &Store,
    dec: &mut Decoder,
    ref_seq: u64,
    origin_seq: u64,
    out: &mut FillOut,
    stats: &LpStats,
) {
    let Some(bytes) = store.get(ref_seq) else {
        tracing::warn!(ref_seq, "LP rejected a message we no longer hold");
        return;
    };
    let Ok(m) = dec.decode(bytes) else { return };
    if m.msg_type() != msg_type::NEW_ORDER_SINGLE {
        tracing::warn!(ref_seq, msg_type = %String::from_utf8_lossy(m.msg_type()), "LP rejected an admin message");
        return;
    }
    let Some(cl_ord_id) = m.get(tag::CL_ORD_ID.num).and_then(|v| parse_u64(v).ok()) else {
        return;
    };
    tracing::warn!(
        ref_seq,
        cl_ord_id,
        "LP rejected the order at the session level"
    );
    stats.rejects.fetch_add(1, Relaxed);
    out.push(rejected(cl_ord_id, origin_seq), stats);
}

/// A Rejected fill made at mam's edge (no ExecutionReport behind it: exec_id 0).
pub(super) fn rejected(cl_ord_id: u64, origin_seq: u64) -> EdgeFrame {
    let recv_ns = mono_ns();
    let f = FillEvent {
        recv_ns,
        cl_ord_id,
        status: ExecStatus::Rejected as u8,
        ..Default::default()
    };
    EdgeFrame::input(&Input::Fill(f), recv_ns, origin_seq, 0)
}
