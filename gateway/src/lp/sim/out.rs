//! What the simulated LP sends: ExecutionReports and refusals, queued in order and sent
//! while the client is logged on.

use std::sync::atomic::Ordering::Relaxed;

use super::book::PendingEr;
use super::SimLp;
use crate::fix::alloc::AllocationInstructionAck;
use crate::fix::msg::{
    msg_type, BusinessMessageReject, ExecutionReport, OrderCancelReject, Reject,
};
use crate::fix::session::initiator::now_ns;
use crate::fix::tag;

/// One message waiting to go to the client.
// Nearly every message is an Er: boxing it would allocate per report for no saving.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub(super) enum Out {
    Er(PendingEr),
    /// An OrderCancelReject (35=9) of the client's cancel request.
    CancelReject {
        order_id: Vec<u8>,
        cl_ord_id: Vec<u8>,
        orig_cl_ord_id: Vec<u8>,
        ord_status: u8,
        /// CxlRejReason: 0 too late, 1 unknown order.
        reason: u32,
    },
    /// An AllocationInstructionAck (35=P).
    AllocAck {
        alloc_id: Vec<u8>,
        accepted: bool,
    },
    /// A session-level Reject of the client's message.
    SessionReject {
        ref_seq: u64,
        text: &'static [u8],
    },
    /// A BusinessMessageReject of the client's message.
    BusinessReject {
        ref_seq: u64,
        ref_msg_type: &'static [u8],
        ref_id: Option<Vec<u8>>,
        reason: u32,
        text: &'static [u8],
    },
}

impl SimLp {
    /// Sends what waits, in order, until the session cannot take more; returns how many went.
    pub(super) fn send_queued(&mut self) -> usize {
        let mut n = 0;
        while let Some(out) = self.queue.front() {
            let before = self.acceptor.session(0).next_sender_seq();
            let now = now_ns();
            let r = match out {
                Out::Er(p) => {
                    let er = ExecutionReport {
                        order_id: &p.order_id,
                        cl_ord_id: Some(&p.cl_ord_id),
                        orig_cl_ord_id: p.orig_cl_ord_id.as_deref(),
                        exec_id: &p.exec_id,
                        exec_type: p.exec_type,
                        ord_status: p.ord_status,
                        account: p.account.as_deref(),
                        symbol: &p.symbol,
                        side: p.side,
                        order_qty: p.order_qty,
                        price: p.price,
                        last_qty: p.last.map(|l| l.0),
                        last_px: p.last.map(|l| l.1),
                        leaves_qty: p.leaves,
                        cum_qty: p.cum,
                        avg_px: p.avg_px,
                        text: p.text,
                    };
                    self.acceptor
                        .send_app(0, now, msg_type::EXECUTION_REPORT, |w| {
                            er.encode(w);
                            if let Some(r) = p.rej_reason {
                                w.field(tag::ORD_REJ_REASON, r);
                            }
                            if let Some(r) = &p.req_id {
                                w.field(tag::ORD_STATUS_REQ_ID, r);
                            }
                        })
                }
                Out::CancelReject {
                    order_id,
                    cl_ord_id,
                    orig_cl_ord_id,
                    ord_status,
                    reason,
                } => {
                    let r = OrderCancelReject {
                        order_id,
                        cl_ord_id,
                        orig_cl_ord_id,
                        ord_status: *ord_status,
                        response_to: b'1',
                        reason: Some(*reason),
                        text: Some(if *reason == 0 {
                            &b"too late to cancel"[..]
                        } else {
                            &b"unknown order"[..]
                        }),
                    };
                    self.acceptor
                        .send_app(0, now, msg_type::ORDER_CANCEL_REJECT, |w| r.encode(w))
                }
                Out::AllocAck { alloc_id, accepted } => {
                    let a = AllocationInstructionAck {
                        alloc_id,
                        status: if *accepted { 0 } else { 1 },
                        rej_code: (!*accepted).then_some(1),
                        transact_time_ns: now,
                        text: (!*accepted).then_some(&b"AllocQty do not add up to Quantity"[..]),
                    };
                    self.acceptor
                        .send_app(0, now, msg_type::ALLOCATION_INSTRUCTION_ACK, |w| {
                            a.encode(w)
                        })
                }
                Out::SessionReject { ref_seq, text } => {
                    let r = Reject {
                        ref_seq_num: *ref_seq,
                        ref_tag: None,
                        ref_msg_type: Some(msg_type::NEW_ORDER_SINGLE),
                        reason: Some(99),
                        text: Some(text),
                    };
                    self.acceptor.send_session_reject(0, now, &r)
                }
                Out::BusinessReject {
                    ref_seq,
                    ref_msg_type,
                    ref_id,
                    reason,
                    text,
                } => {
                    let b = BusinessMessageReject {
                        ref_seq_num: Some(*ref_seq),
                        ref_msg_type,
                        ref_id: ref_id.as_deref(),
                        reason: *reason,
                        text: Some(text),
                    };
                    self.acceptor
                        .send_app(0, now, msg_type::BUSINESS_MESSAGE_REJECT, |w| b.encode(w))
                }
            };
            // Stored means sent: a broken connection delivers it by resend later.
            if r.is_err() && self.acceptor.session(0).next_sender_seq() == before {
                break;
            }
            if let Out::Er(p) = out {
                if p.last.is_some() {
                    self.shared.stats.fills.fetch_add(1, Relaxed);
                }
                self.shared.stats.exec_reports.fetch_add(1, Relaxed);
            }
            self.queue.pop_front();
            n += 1;
        }
        n
    }
}
