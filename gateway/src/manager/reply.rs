//! Replies to the manager, built while the session hands a message over (when the acceptor is
//! borrowed and nothing can be sent) and sent after the frame they follow reached the ring.
//!
//! A reply is a message type and a run of `(tag, value)` fields copied into one byte arena
//! that is emptied whenever nothing waits: no allocation once the arena has grown.

use std::ops::Range;

use crate::fix::decode::Message;
use crate::fix::encode::MsgWriter;
use crate::fix::msg::msg_type;
use crate::fix::num::{fmt_u64, MAX_U64_DIGITS};
use crate::fix::tag;

use super::convert::MasterRefusal;

/// One queued reply: its MsgType and where its fields lie in the [`Outbox`].
#[derive(Debug, Clone)]
pub(super) struct Reply {
    pub msg_type: &'static [u8],
    fields: Range<usize>,
}

/// The arena replies are written into.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    bytes: Vec<u8>,
    fields: Vec<(u32, Range<usize>)>,
}

/// Tags of the NewOrderSingle echoed in every ExecutionReport (ClOrdID, OrigClOrdID, Symbol,
/// Side, OrderQty), in this order.
const ECHO: [u32; 5] = [11, 41, 55, 54, 38];

impl Outbox {
    /// Forgets every reply (call only when none waits).
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.fields.clear();
    }

    pub(super) fn put(&mut self, tag: u32, v: &[u8]) {
        // Values come from a parsed message or from `text_of`: never empty once filtered here,
        // never holding a delimiter.
        if v.is_empty() || v.contains(&crate::fix::SOH) {
            return;
        }
        let s = self.bytes.len();
        self.bytes.extend_from_slice(v);
        self.fields.push((tag, s..self.bytes.len()));
    }

    fn put_id(&mut self, tag: u32, prefix: u8, id: u64) {
        let mut d = [0u8; MAX_U64_DIGITS + 1];
        let s = fmt_u64(id, (&mut d[1..]).try_into().expect("fixed size"));
        d[s] = prefix;
        self.put(tag, &d[s..]);
    }

    pub(super) fn put_u64(&mut self, tag: u32, v: u64) {
        let mut d = [0u8; MAX_U64_DIGITS];
        let s = fmt_u64(v, &mut d);
        self.put(tag, &d[s..]);
    }

    fn echo(&mut self, m: &Message<'_>, with_leaves: bool) {
        for t in ECHO {
            if let Some(v) = m.get(t) {
                self.put(t, v);
            }
        }
        match m.get(tag::ORDER_QTY.num).filter(|_| with_leaves) {
            Some(q) => self.put(tag::LEAVES_QTY.num, q),
            None => self.put(tag::LEAVES_QTY.num, b"0"),
        }
        self.put(tag::CUM_QTY.num, b"0");
        self.put(tag::AVG_PX.num, b"0");
    }

    /// Where the next reply's fields start.
    pub(super) fn mark(&self) -> usize {
        self.fields.len()
    }

    pub(super) fn done(&self, msg_type: &'static [u8], start: usize) -> Reply {
        Reply {
            msg_type,
            fields: start..self.fields.len(),
        }
    }

    /// ExecutionReport Rejected (150=8 39=8) with OrdRejReason and Text.
    pub fn er_reject(&mut self, m: &Message<'_>, seq: u64, code: u32, text: &str) -> Reply {
        let start = self.fields.len();
        self.put(tag::ORDER_ID.num, b"NONE");
        self.put_id(tag::EXEC_ID.num, b'M', seq);
        self.put(tag::EXEC_TYPE.num, b"8");
        self.put(tag::ORD_STATUS.num, b"8");
        self.echo(m, false);
        self.put_u64(tag::ORD_REJ_REASON.num, u64::from(code));
        self.put(tag::TEXT.num, text.as_bytes());
        self.done(msg_type::EXECUTION_REPORT, start)
    }

    /// Session-level Reject (35=3) of message `seq`.
    pub fn session_reject(
        &mut self,
        m: &Message<'_>,
        seq: u64,
        reason: u32,
        tag: u32,
        text: &str,
    ) -> Reply {
        let start = self.fields.len();
        self.put_u64(tag::REF_SEQ_NUM.num, seq);
        if tag != 0 {
            self.put_u64(tag::REF_TAG_ID.num, u64::from(tag));
        }
        self.put(tag::REF_MSG_TYPE.num, m.msg_type());
        self.put_u64(tag::SESSION_REJECT_REASON.num, u64::from(reason));
        self.put(tag::TEXT.num, text.as_bytes());
        self.done(msg_type::REJECT, start)
    }

    /// OrderCancelReject (35=9) of a cancel (F) or replace (G) refused at the edge:
    /// CxlRejReason 99 (other) with the reason in Text.
    pub fn cancel_reject(&mut self, m: &Message<'_>, text: &str) -> Reply {
        let start = self.fields.len();
        self.put(tag::ORDER_ID.num, b"NONE");
        for t in [tag::CL_ORD_ID.num, tag::ORIG_CL_ORD_ID.num] {
            match m.get(t) {
                Some(v) => self.put(t, v),
                None => self.put(t, b"NONE"),
            }
        }
        self.put(tag::ORD_STATUS.num, b"8");
        self.put(434, if m.msg_type() == b"G" { b"2" } else { b"1" });
        self.put(102, b"99");
        self.put(tag::TEXT.num, text.as_bytes());
        self.done(msg_type::ORDER_CANCEL_REJECT, start)
    }

    /// The reply a refusal prescribes.
    pub fn refusal(&mut self, m: &Message<'_>, seq: u64, r: &MasterRefusal) -> Reply {
        let text = r.to_string();
        match r {
            MasterRefusal::Session { reason, tag, .. } => {
                self.session_reject(m, seq, reason.code(), *tag, &text)
            }
            MasterRefusal::Order { .. } if matches!(m.msg_type(), b"F" | b"G") => {
                self.cancel_reject(m, &text)
            }
            MasterRefusal::Order { code, .. } => self.er_reject(m, seq, code.code(), &text),
        }
    }

    /// MamAccountAck (35=UB) status 1: a MamAccountRequest refused at the edge.
    pub fn account_refused(&mut self, m: &Message<'_>, req_id: Option<u64>, text: &str) -> Reply {
        let start = self.mark();
        match req_id {
            Some(r) => self.put_u64(tag::MAM_ACCOUNT_REQ_ID.num, r),
            None => self.put(
                tag::MAM_ACCOUNT_REQ_ID.num,
                m.get(tag::MAM_ACCOUNT_REQ_ID.num).unwrap_or(b"0"),
            ),
        }
        if let Some(a) = m.get(tag::ACCOUNT.num) {
            self.put(tag::ACCOUNT.num, a);
        }
        self.put(tag::MAM_ACCOUNT_STATUS.num, b"1");
        self.put(tag::TEXT.num, text.as_bytes());
        self.done(super::account_request::ACCOUNT_ACK, start)
    }

    /// BusinessMessageReject (35=j, 380=3 unsupported message type).
    pub fn unsupported(&mut self, m: &Message<'_>, seq: u64) -> Reply {
        let start = self.fields.len();
        self.put_u64(tag::REF_SEQ_NUM.num, seq);
        self.put(tag::REF_MSG_TYPE.num, m.msg_type());
        self.put(tag::BUSINESS_REJECT_REASON.num, b"3");
        self.put(tag::TEXT.num, b"Unsupported Message Type");
        self.done(msg_type::BUSINESS_MESSAGE_REJECT, start)
    }

    /// Writes reply `r`'s fields.
    pub fn write(&self, r: &Reply, w: &mut MsgWriter<'_>) {
        for (t, v) in self.fields.get(r.fields.clone()).unwrap_or_default() {
            w.field_num(*t, &self.bytes[v.clone()]);
        }
    }
}
