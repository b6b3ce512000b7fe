//! The sending half: every message stored before it goes out, back-pressure as "pending",
//! and resends answered from the store.

use super::{Outbound, Replay, Session, SessionError, State};
use crate::fix::decode::RejectReason;
use crate::fix::encode::MsgWriter;
use crate::fix::msg::{self, msg_type};
use crate::fix::tag;
use crate::transport::TransportError;

/// Header tags the resend rewrites (everything else is copied from the stored message).
fn is_rewritten_header(t: u32) -> bool {
    matches!(t, 8 | 9 | 10 | 34 | 35 | 43 | 49 | 52 | 56 | 97 | 122)
}

impl Session {
    /// Sends an application message of `msg_type` whose body `body` writes. Returns its
    /// sequence number. The message is stored first; if the transport pushes back it waits in
    /// the store and goes out on a later call ([`Session::pump`]).
    #[inline]
    pub fn send_app(
        &mut self,
        now: u64,
        out: &mut dyn Outbound,
        msg_type: &[u8],
        body: impl FnOnce(&mut MsgWriter<'_>),
    ) -> Result<u64, SessionError> {
        if self.state != State::Active {
            return Err(SessionError::NotLoggedOn(self.state));
        }
        let pending = self.pending();
        if pending >= self.cfg.max_pending {
            return Err(SessionError::Backpressure { pending });
        }
        self.send_admin(now, out, msg_type, body)
    }

    /// Stores and sends any message (admin or application) with the next sequence number.
    pub(super) fn send_admin(
        &mut self,
        now: u64,
        out: &mut dyn Outbound,
        msg_type: &[u8],
        body: impl FnOnce(&mut MsgWriter<'_>),
    ) -> Result<u64, SessionError> {
        let seq = self.store.next_sender_seq();
        let mut w = self.header.begin(&mut self.scratch, msg_type, seq, now);
        body(&mut w);
        let r = w.finish()?;
        self.store.append(seq, &self.scratch[r.clone()])?;
        self.stats.sent += 1;
        self.last_sent_ns = now;
        if self.wire_seq + 1 == seq && self.replay.is_none() {
            match out.send(&self.scratch[r]) {
                Ok(()) => self.wire_seq = seq,
                Err(TransportError::WouldBlock { .. }) => self.stats.backpressure += 1,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(seq)
    }

    /// Pushes what waits: first a resend in progress, then stored messages the transport could
    /// not take. Returns `true` when nothing is left waiting.
    pub fn pump(&mut self, now: u64, out: &mut dyn Outbound) -> Result<bool, SessionError> {
        if self.state == State::Disconnected {
            return Ok(true);
        }
        if !self.pump_replay(now, out)? {
            return Ok(false);
        }
        while self.wire_seq + 1 < self.store.next_sender_seq() {
            let seq = self.wire_seq + 1;
            let Some(bytes) = self.store.get(seq) else {
                // Not in the store (cannot happen for our own numbers): skip it, a resend
                // request from the peer will be answered with a gap fill.
                self.wire_seq = seq;
                continue;
            };
            match out.send(bytes) {
                Ok(()) => self.wire_seq = seq,
                Err(TransportError::WouldBlock { .. }) => {
                    self.stats.backpressure += 1;
                    return Ok(false);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(true)
    }

    pub(super) fn start_replay(&mut self, begin: u64, end: u64) {
        let last = self.store.next_sender_seq() - 1;
        let end = if end == 0 || end > last { last } else { end };
        // Messages stored but not yet on the wire are part of the replay now.
        self.wire_seq = self.wire_seq.max(end);
        if begin <= end {
            self.replay = Some(Replay {
                next: begin,
                end,
                gap_from: None,
            });
        }
    }

    /// Sends the resend in progress; `true` when it is done.
    fn pump_replay(&mut self, now: u64, out: &mut dyn Outbound) -> Result<bool, SessionError> {
        while let Some(mut rp) = self.replay {
            if rp.next > rp.end {
                if let Some(from) = rp.gap_from {
                    if !self.send_gap_fill(now, out, from, rp.end + 1)? {
                        return Ok(false);
                    }
                }
                self.replay = None;
                break;
            }
            let seq = rp.next;
            let admin = match self.store.get(seq) {
                None => true,
                Some(b) => !self.cfg.resend_app || msg_type::is_admin(msg_type_of(b)),
            };
            if admin {
                rp.gap_from.get_or_insert(seq);
                rp.next += 1;
                self.replay = Some(rp);
                continue;
            }
            if let Some(from) = rp.gap_from {
                if !self.send_gap_fill(now, out, from, seq)? {
                    return Ok(false);
                }
                rp.gap_from = None;
                self.replay = Some(rp);
            }
            if !self.resend_one(now, out, seq)? {
                return Ok(false);
            }
            rp.next += 1;
            self.replay = Some(rp);
        }
        Ok(true)
    }

    fn send_gap_fill(
        &mut self,
        now: u64,
        out: &mut dyn Outbound,
        seq: u64,
        new_seq: u64,
    ) -> Result<bool, SessionError> {
        let mut w = self
            .header
            .begin(&mut self.scratch, msg_type::SEQUENCE_RESET, seq, now);
        w.flag(tag::POSS_DUP_FLAG, true);
        w.timestamp(tag::ORIG_SENDING_TIME, now);
        msg::SequenceReset {
            gap_fill: true,
            new_seq_no: new_seq,
        }
        .encode(&mut w);
        let r = w.finish()?;
        self.put_resend(out, r)
    }

    /// Re-sends stored message `seq` with PossDupFlag=Y, OrigSendingTime = its SendingTime and
    /// a new SendingTime.
    fn resend_one(
        &mut self,
        now: u64,
        out: &mut dyn Outbound,
        seq: u64,
    ) -> Result<bool, SessionError> {
        let Some(stored) = self.store.get(seq) else {
            return Ok(true);
        };
        let Ok(m) = self.replay_dec.parse(stored) else {
            return Ok(true);
        };
        let mut w = self.header.begin(&mut self.scratch, m.msg_type(), seq, now);
        w.flag(tag::POSS_DUP_FLAG, true);
        if let Some(orig) = m.get(tag::SENDING_TIME.num) {
            w.field(tag::ORIG_SENDING_TIME, orig);
        }
        for f in m.fields().filter(|f| !is_rewritten_header(f.tag)) {
            w.field_num(f.tag, f.value);
        }
        let r = w.finish()?;
        self.put_resend(out, r)
    }

    fn put_resend(
        &mut self,
        out: &mut dyn Outbound,
        r: std::ops::Range<usize>,
    ) -> Result<bool, SessionError> {
        match out.send(&self.scratch[r]) {
            Ok(()) => {
                self.stats.resent += 1;
                Ok(true)
            }
            Err(TransportError::WouldBlock { .. }) => {
                self.stats.backpressure += 1;
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(super) fn send_logon(
        &mut self,
        now: u64,
        out: &mut dyn Outbound,
        reset: bool,
    ) -> Result<(), SessionError> {
        let hb = (self.heart_bt_ns / 1_000_000_000) as u32;
        let (user, pass) = match self.cfg.role {
            super::Role::Initiator => (self.cfg.username.clone(), self.cfg.password.clone()),
            super::Role::Acceptor => (None, None),
        };
        self.send_admin(now, out, msg_type::LOGON, |w| {
            msg::Logon {
                heart_bt_int: hb,
                reset_seq_num: reset,
                username: user.as_deref(),
                password: pass.as_deref(),
            }
            .encode(w)
        })?;
        Ok(())
    }

    /// Sends a session-level Reject (35=3) of the peer's message `r.ref_seq_num` on the
    /// application's behalf: for a message the session accepted that the application refuses
    /// at the session level (a simulated LP refusing an order, in tests). Only while logged on.
    pub fn send_session_reject(
        &mut self,
        now: u64,
        out: &mut dyn Outbound,
        r: &msg::Reject<'_>,
    ) -> Result<u64, SessionError> {
        if self.state != State::Active {
            return Err(SessionError::NotLoggedOn(self.state));
        }
        self.stats.rejects_sent += 1;
        self.send_admin(now, out, msg_type::REJECT, |w| r.encode(w))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn send_reject(
        &mut self,
        now: u64,
        out: &mut dyn Outbound,
        ref_seq: u64,
        ref_msg_type: &[u8],
        reason: RejectReason,
        ref_tag: u32,
        text: &str,
    ) -> Result<(), SessionError> {
        self.stats.rejects_sent += 1;
        let ref_msg_type: Option<&[u8]> = (!ref_msg_type.is_empty()
            && ref_msg_type.len() <= 3
            && !ref_msg_type.contains(&crate::fix::SOH))
        .then_some(ref_msg_type);
        self.send_admin(now, out, msg_type::REJECT, |w| {
            msg::Reject {
                ref_seq_num: ref_seq,
                ref_tag: Some(ref_tag),
                ref_msg_type,
                reason: Some(reason.code()),
                text: Some(text.as_bytes()),
            }
            .encode(w)
        })?;
        Ok(())
    }
}

/// MsgType of an encoded message (the third field), without a full parse.
pub(super) fn msg_type_of(b: &[u8]) -> &[u8] {
    let Some(i) = b.windows(4).position(|w| w == b"\x0135=") else {
        return b"";
    };
    let v = &b[i + 4..];
    let end = v
        .iter()
        .position(|&c| c == crate::fix::SOH)
        .unwrap_or(v.len());
    &v[..end]
}
