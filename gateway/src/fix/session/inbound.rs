//! The receiving half: framing, validation, sequence-number rules, admin messages.

use super::{DisconnectReason, Event, Outbound, Role, Rx, Session, SessionError, State};
use crate::fix::decode::{frame, FieldError, Frame, Garble, Message, RejectReason};
use crate::fix::msg::{self, msg_type};
use crate::fix::num::parse_u64;
use crate::fix::tag;

/// Header fields that must appear exactly once.
const ONCE: [u32; 4] = [49, 56, 34, 52];

/// The MsgSeqNum of a message that did not parse, read leniently (for a Reject's RefSeqNum).
fn lenient_seq(b: &[u8]) -> Option<u64> {
    let i = b.windows(4).position(|w| w == b"\x0134=")?;
    let v = &b[i + 4..];
    let end = v.iter().position(|&c| c == crate::fix::SOH)?;
    parse_u64(&v[..end]).ok()
}

fn lenient_type(b: &[u8]) -> &[u8] {
    super::outbound::msg_type_of(b)
}

/// What handling one message asks of the caller.
enum Flow {
    Continue,
    Stop,
}

impl Session {
    /// Feeds bytes that arrived from the peer (any split: half messages wait for the rest).
    /// Garbled input is dropped and reported; nothing here panics on any input.
    pub fn on_bytes(
        &mut self,
        now: u64,
        mut input: &[u8],
        out: &mut dyn Outbound,
        ev: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), SessionError> {
        let Some(mut rx) = self.rx.take() else {
            return Ok(());
        };
        let r = (|| {
            while !input.is_empty() {
                if rx.discard || self.state == State::Disconnected {
                    return Ok(());
                }
                let room = rx.buf.len() - rx.len;
                let n = room.min(input.len());
                rx.buf[rx.len..rx.len + n].copy_from_slice(&input[..n]);
                rx.len += n;
                input = &input[n..];
                self.drain(now, &mut rx, out, ev)?;
            }
            Ok(())
        })();
        self.rx = Some(rx);
        r
    }

    fn drain(
        &mut self,
        now: u64,
        rx: &mut Rx,
        out: &mut dyn Outbound,
        ev: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), SessionError> {
        let mut at = 0;
        while at < rx.len && !rx.discard {
            match frame(&rx.buf[at..rx.len], self.cfg.max_msg_len) {
                Frame::Incomplete => break,
                Frame::Garbled { skip, why } => {
                    self.stats.garbled += 1;
                    tracing::debug!(?why, skip, "FIX: garbled input dropped");
                    ev(Event::Garbled { why, bytes: skip });
                    at += skip;
                }
                Frame::Oversized { declared } => {
                    tracing::warn!(
                        declared,
                        limit = self.cfg.max_msg_len,
                        "FIX: oversized message, logging out"
                    );
                    let text = format!(
                        "message of {declared} bytes exceeds the limit of {}",
                        self.cfg.max_msg_len
                    );
                    self.logout(now, out, Some(text.as_bytes()))?;
                    rx.discard = true;
                    self.disconnect(now, DisconnectReason::Oversized, ev);
                    at = rx.len;
                }
                Frame::Complete { len } => {
                    let bytes = &rx.buf[at..at + len];
                    at += len;
                    self.last_recv_ns = now;
                    self.test_req_sent = None;
                    let flow = match rx.dec.parse(bytes) {
                        Ok(m) => self.handle(now, &m, out, ev)?,
                        Err(e) if e.is_garbled() => {
                            // FIX 4.4: first three fields out of order = garbled: dropped as
                            // if never received, its MsgSeqNum not counted.
                            self.stats.garbled += 1;
                            tracing::debug!(what = e.what, "FIX: garbled message dropped");
                            ev(Event::Garbled {
                                why: Garble::HeaderOrder,
                                bytes: len,
                            });
                            Flow::Continue
                        }
                        Err(e) => {
                            self.handle_malformed(now, bytes, e.reason, e.tag, e.what, out, ev)?
                        }
                    };
                    if let Flow::Stop = flow {
                        rx.discard = true;
                    }
                }
            }
        }
        rx.buf.copy_within(at..rx.len, 0);
        rx.len -= at;
        Ok(())
    }

    fn disconnect(&mut self, now: u64, reason: DisconnectReason, ev: &mut dyn FnMut(Event<'_>)) {
        tracing::info!(?reason, "FIX: disconnecting");
        let logout = reason == DisconnectReason::LogoutComplete && self.cfg.reset_on_logout;
        if logout || self.cfg.reset_on_disconnect {
            self.reset_seqs(now);
        }
        self.set_state(State::Disconnected, now);
        ev(Event::Disconnect { reason });
    }

    fn logout_and_disconnect(
        &mut self,
        now: u64,
        out: &mut dyn Outbound,
        text: &str,
        reason: DisconnectReason,
        ev: &mut dyn FnMut(Event<'_>),
    ) -> Result<Flow, SessionError> {
        tracing::warn!(text, "FIX: logging out");
        self.send_admin(now, out, msg_type::LOGOUT, |w| {
            msg::Logout {
                text: Some(text.as_bytes()),
            }
            .encode(w)
        })?;
        self.disconnect(now, reason, ev);
        Ok(Flow::Stop)
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_malformed(
        &mut self,
        now: u64,
        bytes: &[u8],
        reason: RejectReason,
        tag: u32,
        what: &str,
        out: &mut dyn Outbound,
        ev: &mut dyn FnMut(Event<'_>),
    ) -> Result<Flow, SessionError> {
        if self.state != State::Active {
            tracing::warn!(what, "FIX: malformed message before logon");
            self.disconnect(now, DisconnectReason::LogonRefused, ev);
            return Ok(Flow::Stop);
        }
        let expected = self.store.next_target_seq();
        match lenient_seq(bytes) {
            Some(seq) if seq == expected => {
                self.store.set_next_target_seq(seq + 1);
                self.reject(now, out, seq, lenient_type(bytes), reason, tag, what, ev)?;
                Ok(Flow::Continue)
            }
            Some(seq) if seq > expected => {
                self.request_resend(now, out, expected, seq, ev)?;
                Ok(Flow::Continue)
            }
            // Already seen, or no readable MsgSeqNum: nothing to refer a Reject to.
            _ => {
                tracing::debug!(
                    what,
                    "FIX: malformed message without a usable MsgSeqNum ignored"
                );
                Ok(Flow::Continue)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn reject(
        &mut self,
        now: u64,
        out: &mut dyn Outbound,
        seq: u64,
        msg_type: &[u8],
        reason: RejectReason,
        tag: u32,
        what: &str,
        ev: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), SessionError> {
        tracing::info!(seq, ?reason, tag, what, "FIX: session-level reject");
        let text = match crate::fix::tag::name(tag) {
            Some(n) => format!("{what} (tag {tag} {n})"),
            None => format!("{what} (tag {tag})"),
        };
        self.send_reject(now, out, seq, msg_type, reason, tag, &text)?;
        ev(Event::RejectSent {
            ref_seq: seq,
            reason,
            tag,
        });
        Ok(())
    }

    fn request_resend(
        &mut self,
        now: u64,
        out: &mut dyn Outbound,
        expected: u64,
        received: u64,
        ev: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), SessionError> {
        if let Some(u) = self.resend_until {
            // Already asked, with EndSeqNo 0 ("everything"): this message comes back too.
            self.resend_until = Some(u.max(received - 1));
            return Ok(());
        }
        tracing::info!(
            expected,
            received,
            "FIX: sequence gap, sending ResendRequest"
        );
        self.send_admin(now, out, msg_type::RESEND_REQUEST, |w| {
            msg::ResendRequest {
                begin: expected,
                end: 0,
            }
            .encode(w)
        })?;
        self.resend_until = Some(received - 1);
        ev(Event::GapDetected { expected, received });
        Ok(())
    }

    fn handle(
        &mut self,
        now: u64,
        m: &Message<'_>,
        out: &mut dyn Outbound,
        ev: &mut dyn FnMut(Event<'_>),
    ) -> Result<Flow, SessionError> {
        let mt = m.msg_type();
        if m.begin_string() != self.cfg.begin_string.as_slice() {
            if self.state == State::AwaitingLogon {
                self.disconnect(now, DisconnectReason::WrongBeginString, ev);
                return Ok(Flow::Stop);
            }
            return self.logout_and_disconnect(
                now,
                out,
                "incorrect BeginString",
                DisconnectReason::WrongBeginString,
                ev,
            );
        }
        let seq = match m.seq() {
            Ok(s) => s,
            Err(_) => {
                if self.state != State::Active {
                    self.disconnect(now, DisconnectReason::SeqMissing, ev);
                    return Ok(Flow::Stop);
                }
                return self.logout_and_disconnect(
                    now,
                    out,
                    "MsgSeqNum missing or not a number",
                    DisconnectReason::SeqMissing,
                    ev,
                );
            }
        };
        let logon_phase = matches!(self.state, State::AwaitingLogon | State::LogonSent);
        if logon_phase && mt != msg_type::LOGON {
            tracing::warn!(state = ?self.state, "FIX: first message is not a Logon");
            self.disconnect(now, DisconnectReason::LogonRefused, ev);
            return Ok(Flow::Stop);
        }
        // CompIDs: theirs is our target, ours is their target. A CompID that is present and
        // wrong is a CompID problem (Reject 9, Logout); one that is missing is a required tag
        // missing (Reject 1, below, like any header field), except on the Logon.
        let theirs_ok = m.get(49).map(|v| v == self.cfg.target.as_slice());
        let ours_ok = m.get(56).map(|v| v == self.cfg.sender.as_slice());
        let missing = theirs_ok.is_none() || ours_ok.is_none();
        if theirs_ok == Some(false) || ours_ok == Some(false) || (logon_phase && missing) {
            if logon_phase {
                self.disconnect(now, DisconnectReason::CompIdProblem, ev);
                return Ok(Flow::Stop);
            }
            let t = if theirs_ok == Some(false) { 49 } else { 56 };
            self.reject(
                now,
                out,
                seq,
                mt,
                RejectReason::CompIdProblem,
                t,
                "CompID problem",
                ev,
            )?;
            return self.logout_and_disconnect(
                now,
                out,
                "CompID problem",
                DisconnectReason::CompIdProblem,
                ev,
            );
        }
        let header = self.check_header(now, m);
        let poss_dup = m.flag(tag::POSS_DUP_FLAG.num).unwrap_or(false);
        if mt == msg_type::LOGON {
            return self.on_logon(now, m, seq, header, out, ev);
        }
        // SequenceReset-Reset ignores MsgSeqNum.
        if mt == msg_type::SEQUENCE_RESET && !m.flag(tag::GAP_FILL_FLAG.num).unwrap_or(false) {
            return self.on_reset(now, m, seq, out, ev);
        }
        let expected = self.store.next_target_seq();
        if seq > expected {
            if mt == msg_type::LOGOUT {
                return self.on_logout(now, out, ev);
            }
            // A ResendRequest is answered even when it arrives ahead of a gap (FIX session
            // rules): the peer will gap-fill it, so it would never come back.
            if mt == msg_type::RESEND_REQUEST && header.is_ok() {
                if let Ok(r) = msg::ResendRequest::parse(m) {
                    ev(Event::ResendRequested {
                        begin: r.begin,
                        end: r.end,
                    });
                    self.start_replay(r.begin, r.end);
                }
            }
            self.request_resend(now, out, expected, seq, ev)?;
            self.pump(now, out)?;
            return Ok(Flow::Continue);
        }
        if seq < expected {
            if poss_dup {
                ev(Event::DuplicateIgnored { seq });
                return Ok(Flow::Continue);
            }
            let text = format!("MsgSeqNum too low, expecting {expected} but received {seq}");
            return self.logout_and_disconnect(now, out, &text, DisconnectReason::SeqTooLow, ev);
        }
        // In sequence.
        self.store.set_next_target_seq(seq + 1);
        if self.resend_until.is_some_and(|u| seq >= u) {
            self.resend_until = None;
        }
        if let Err(e) = header {
            return self.header_fault(now, out, seq, mt, e, ev);
        }
        // The data dictionary: a message that fails it changes nothing but the inbound
        // MsgSeqNum (FIX: a rejected, well-framed message is still counted).
        if let Err(e) = self.dictionary(m) {
            let what = reason_text(e.reason);
            self.reject(now, out, seq, mt, e.reason, e.tag, what, ev)?;
            return Ok(Flow::Continue);
        }
        self.stats.received += 1;
        self.dispatch(now, m, seq, poss_dup, out, ev)
    }

    /// Header rules beyond CompIDs: each of 49/56/34/52 once, CompIDs present, SendingTime
    /// readable and within the tolerance of our clock, PossDupFlag valid and OrigSendingTime
    /// present on possible duplicates and not later than SendingTime.
    fn check_header(&self, now: u64, m: &Message<'_>) -> Result<(), FieldError> {
        for t in ONCE {
            if m.count(t) > 1 {
                return Err(FieldError {
                    tag: t,
                    reason: RejectReason::TagAppearsMoreThanOnce,
                });
            }
        }
        m.req(tag::SENDER_COMP_ID.num)?;
        m.req(tag::TARGET_COMP_ID.num)?;
        let st = m.req(tag::SENDING_TIME.num)?;
        let Some(sent) = crate::fix::time::parse_utc(st) else {
            return Err(FieldError {
                tag: tag::SENDING_TIME.num,
                reason: RejectReason::IncorrectDataFormat,
            });
        };
        // `now` 0: a driver without a clock value; nothing to compare with.
        if let (Some(tol), true) = (self.cfg.sending_time_tolerance_ns, now != 0) {
            if sent.abs_diff(now) > tol {
                return Err(FieldError {
                    tag: tag::SENDING_TIME.num,
                    reason: RejectReason::SendingTimeAccuracy,
                });
            }
        }
        if m.flag(tag::POSS_DUP_FLAG.num)? && m.msg_type() != msg_type::SEQUENCE_RESET {
            let orig = m.req(tag::ORIG_SENDING_TIME.num)?;
            let Some(orig) = crate::fix::time::parse_utc(orig) else {
                return Err(FieldError {
                    tag: tag::ORIG_SENDING_TIME.num,
                    reason: RejectReason::IncorrectDataFormat,
                });
            };
            // A resend cannot have been first sent after it is sent again.
            if orig > sent {
                return Err(FieldError {
                    tag: tag::ORIG_SENDING_TIME.num,
                    reason: RejectReason::SendingTimeAccuracy,
                });
            }
        }
        Ok(())
    }

    /// The data dictionary check, when this session validates (FIX.4.4 only), of the message
    /// types the session handles: a type it does not support gets a BusinessMessageReject
    /// (unsupported message type) whatever its fields, as FIX prescribes.
    fn dictionary(&self, m: &Message<'_>) -> Result<(), FieldError> {
        let mt = m.msg_type();
        let handled =
            msg_type::is_admin(mt) || msg::has_parser(mt) || self.app_types.iter().any(|t| t == mt);
        if handled && self.cfg.validate && m.begin_string() == crate::fix::BEGIN_FIX44 {
            crate::fix::dict::validate(m)
        } else {
            Ok(())
        }
    }

    /// A header fault on an in-sequence message: Reject; a SendingTime accuracy problem also
    /// ends the session (FIX 4.4: Reject, then Logout, then disconnect).
    fn header_fault(
        &mut self,
        now: u64,
        out: &mut dyn Outbound,
        seq: u64,
        mt: &[u8],
        e: FieldError,
        ev: &mut dyn FnMut(Event<'_>),
    ) -> Result<Flow, SessionError> {
        self.reject(
            now,
            out,
            seq,
            mt,
            e.reason,
            e.tag,
            reason_text(e.reason),
            ev,
        )?;
        if e.reason == RejectReason::SendingTimeAccuracy {
            return self.logout_and_disconnect(
                now,
                out,
                "SendingTime accuracy problem",
                DisconnectReason::SendingTimeAccuracy,
                ev,
            );
        }
        Ok(Flow::Continue)
    }

    fn dispatch(
        &mut self,
        now: u64,
        m: &Message<'_>,
        seq: u64,
        poss_dup: bool,
        out: &mut dyn Outbound,
        ev: &mut dyn FnMut(Event<'_>),
    ) -> Result<Flow, SessionError> {
        let mt = m.msg_type();
        let bad = |e: FieldError| Some(e);
        let fault: Option<FieldError> = match mt {
            b"0" => msg::TestReqId::parse(m, false).err().and_then(bad),
            b"1" => match msg::TestReqId::parse(m, true) {
                Ok(msg::TestReqId(id)) => {
                    self.send_admin(now, out, msg_type::HEARTBEAT, |w| {
                        msg::TestReqId(id).encode(w)
                    })?;
                    None
                }
                Err(e) => Some(e),
            },
            b"2" => match msg::ResendRequest::parse(m) {
                Ok(r) => {
                    tracing::info!(begin = r.begin, end = r.end, "FIX: peer asks for a resend");
                    ev(Event::ResendRequested {
                        begin: r.begin,
                        end: r.end,
                    });
                    self.start_replay(r.begin, r.end);
                    self.pump(now, out)?;
                    None
                }
                Err(e) => Some(e),
            },
            b"3" => match msg::Reject::parse(m) {
                Ok(r) => {
                    tracing::warn!(ref_seq = r.ref_seq_num, reason = ?r.reason, text = ?r.text.map(String::from_utf8_lossy), "FIX: peer rejected a message");
                    ev(Event::RejectReceived {
                        ref_seq: r.ref_seq_num,
                        reason: r.reason,
                    });
                    None
                }
                Err(e) => Some(e),
            },
            b"4" => match msg::SequenceReset::parse(m) {
                Ok(r) if r.new_seq_no > seq => {
                    self.store.set_next_target_seq(r.new_seq_no);
                    if self.resend_until.is_some_and(|u| r.new_seq_no > u) {
                        self.resend_until = None;
                    }
                    None
                }
                Ok(_) => Some(FieldError::value(tag::NEW_SEQ_NO.num)),
                Err(e) => Some(e),
            },
            b"5" => return self.on_logout(now, out, ev),
            b"A" => Some(FieldError {
                tag: 35,
                reason: RejectReason::Other,
            }),
            _ => match msg::validate_app(m) {
                Some(Ok(())) => {
                    ev(Event::App { msg: m, poss_dup });
                    None
                }
                Some(Err(e)) => Some(e),
                None if self.app_types.iter().any(|t| t == mt) => {
                    ev(Event::App { msg: m, poss_dup });
                    None
                }
                None if !valid_msg_type(mt) => Some(FieldError {
                    tag: 35,
                    reason: RejectReason::InvalidMsgType,
                }),
                None => {
                    tracing::info!(seq, msg_type = %String::from_utf8_lossy(mt), "FIX: unsupported message type");
                    self.send_admin(now, out, msg_type::BUSINESS_MESSAGE_REJECT, |w| {
                        msg::BusinessMessageReject {
                            ref_seq_num: Some(seq),
                            ref_msg_type: mt,
                            ref_id: None,
                            reason: 3,
                            text: Some(b"Unsupported Message Type"),
                        }
                        .encode(w)
                    })?;
                    ev(Event::BusinessRejectSent { ref_seq: seq });
                    None
                }
            },
        };
        if let Some(e) = fault {
            self.reject(
                now,
                out,
                seq,
                mt,
                e.reason,
                e.tag,
                reason_text(e.reason),
                ev,
            )?;
        }
        Ok(Flow::Continue)
    }

    fn on_logout(
        &mut self,
        now: u64,
        out: &mut dyn Outbound,
        ev: &mut dyn FnMut(Event<'_>),
    ) -> Result<Flow, SessionError> {
        ev(Event::LoggedOut);
        if self.state != State::LogoutSent {
            self.send_admin(now, out, msg_type::LOGOUT, |w| {
                msg::Logout { text: None }.encode(w)
            })?;
        }
        self.disconnect(now, DisconnectReason::LogoutComplete, ev);
        Ok(Flow::Stop)
    }

    fn on_reset(
        &mut self,
        now: u64,
        m: &Message<'_>,
        seq: u64,
        out: &mut dyn Outbound,
        ev: &mut dyn FnMut(Event<'_>),
    ) -> Result<Flow, SessionError> {
        let expected = self.store.next_target_seq();
        match msg::SequenceReset::parse(m) {
            Ok(r) if r.new_seq_no >= expected => {
                tracing::info!(
                    from = expected,
                    to = r.new_seq_no,
                    "FIX: SequenceReset-Reset"
                );
                self.store.set_next_target_seq(r.new_seq_no);
                self.resend_until = None;
            }
            Ok(_) => self.reject(
                now,
                out,
                seq,
                m.msg_type(),
                RejectReason::ValueIncorrect,
                tag::NEW_SEQ_NO.num,
                "NewSeqNo below the expected MsgSeqNum",
                ev,
            )?,
            Err(e) => self.reject(
                now,
                out,
                seq,
                m.msg_type(),
                e.reason,
                e.tag,
                "bad SequenceReset",
                ev,
            )?,
        }
        Ok(Flow::Continue)
    }

    fn on_logon(
        &mut self,
        now: u64,
        m: &Message<'_>,
        seq: u64,
        header: Result<(), FieldError>,
        out: &mut dyn Outbound,
        ev: &mut dyn FnMut(Event<'_>),
    ) -> Result<Flow, SessionError> {
        if self.state == State::Active {
            return self.logon_while_active(now, m, seq, header, out, ev);
        }
        if !matches!(self.state, State::AwaitingLogon | State::LogonSent) {
            return Ok(Flow::Continue);
        }
        let logon = match msg::Logon::parse(m) {
            Ok(l) => l,
            Err(e) => return self.refuse_logon(now, e, out, ev),
        };
        if self.cfg.role == Role::Acceptor {
            // The password first: an unauthenticated peer learns nothing about its clock or
            // its message.
            if let Some(pw) = self.cfg.password.as_deref() {
                if logon.password != Some(pw) {
                    tracing::warn!(peer = %String::from_utf8_lossy(&self.cfg.target), "FIX: Logon refused: wrong password");
                    return self.logout_and_disconnect(
                        now,
                        out,
                        "Logon refused",
                        DisconnectReason::LogonRefused,
                        ev,
                    );
                }
            }
        }
        if let Err(e) = header {
            if e.reason == RejectReason::SendingTimeAccuracy {
                // FIX 4.4: Reject (373=10), then Logout, also on the Logon.
                self.store.set_next_target_seq(seq + 1);
                return self.header_fault(now, out, seq, m.msg_type(), e, ev);
            }
            return self.refuse_logon(now, e, out, ev);
        }
        if let Err(e) = self.dictionary(m) {
            return self.refuse_logon(now, e, out, ev);
        }
        let reset = logon.reset_seq_num || self.cfg.reset_on_logon;
        if self.cfg.role == Role::Acceptor {
            if reset {
                self.reset_seqs(now);
            }
            if logon.heart_bt_int > 0 {
                self.heart_bt_ns = u64::from(logon.heart_bt_int) * 1_000_000_000;
            }
        } else if logon.reset_seq_num {
            // The acceptor starts its numbers again at 1.
            self.store.set_next_target_seq(1);
        }
        let expected = self.store.next_target_seq();
        if seq < expected && !reset {
            let text = format!("MsgSeqNum too low, expecting {expected} but received {seq}");
            return self.logout_and_disconnect(now, out, &text, DisconnectReason::SeqTooLow, ev);
        }
        if self.cfg.role == Role::Acceptor {
            self.send_logon(now, out, reset)?;
        }
        self.set_state(State::Active, now);
        tracing::info!(peer = %String::from_utf8_lossy(&self.cfg.target), reset, "FIX: logged on");
        ev(Event::LoggedOn { reset });
        if seq > expected {
            self.request_resend(now, out, expected, seq, ev)?;
        } else {
            self.store.set_next_target_seq(seq + 1);
        }
        self.pump(now, out)?;
        Ok(Flow::Continue)
    }

    /// A Logon that cannot be accepted: the acceptor answers with a Logout, the initiator
    /// just disconnects.
    fn refuse_logon(
        &mut self,
        now: u64,
        e: FieldError,
        out: &mut dyn Outbound,
        ev: &mut dyn FnMut(Event<'_>),
    ) -> Result<Flow, SessionError> {
        tracing::warn!(tag = e.tag, reason = ?e.reason, "FIX: invalid Logon");
        if self.cfg.role == Role::Acceptor {
            let text = format!("invalid Logon: {} (tag {})", reason_text(e.reason), e.tag);
            return self.logout_and_disconnect(now, out, &text, DisconnectReason::LogonRefused, ev);
        }
        self.disconnect(now, DisconnectReason::LogonRefused, ev);
        Ok(Flow::Stop)
    }

    /// A Logon on a live session. With ResetSeqNumFlag=Y it starts both sides again at 1
    /// (FIX 4.4: the peer's Logon is then MsgSeqNum 1 and we answer with a Logon carrying
    /// ResetSeqNumFlag=Y, our MsgSeqNum 1); any other second Logon is rejected.
    fn logon_while_active(
        &mut self,
        now: u64,
        m: &Message<'_>,
        seq: u64,
        header: Result<(), FieldError>,
        out: &mut dyn Outbound,
        ev: &mut dyn FnMut(Event<'_>),
    ) -> Result<Flow, SessionError> {
        let resets = matches!(msg::Logon::parse(m), Ok(l) if l.reset_seq_num);
        if resets && header.is_ok() && self.dictionary(m).is_ok() {
            tracing::info!(
                seq,
                "FIX: Logon with ResetSeqNumFlag=Y: sequence numbers reset"
            );
            self.reset_seqs(now);
            self.send_logon(now, out, true)?;
            ev(Event::LoggedOn { reset: true });
            if seq > 1 {
                self.request_resend(now, out, 1, seq, ev)?;
            } else {
                self.store.set_next_target_seq(seq + 1);
            }
            return Ok(Flow::Continue);
        }
        if seq == self.store.next_target_seq() {
            self.store.set_next_target_seq(seq + 1);
            self.reject(
                now,
                out,
                seq,
                m.msg_type(),
                RejectReason::Other,
                35,
                "already logged on",
                ev,
            )?;
        }
        Ok(Flow::Continue)
    }

    /// Runs the timers: heartbeat when we have been quiet for HeartBtInt, TestRequest when the
    /// peer has, disconnect when it stays silent or a Logon/Logout is not answered in time.
    /// Also pushes anything waiting for the transport.
    pub fn on_tick(
        &mut self,
        now: u64,
        out: &mut dyn Outbound,
        ev: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), SessionError> {
        match self.state {
            State::Disconnected => return Ok(()),
            State::LogonSent | State::AwaitingLogon | State::LogoutSent => {
                if now.saturating_sub(self.state_since) >= self.cfg.logon_timeout_ns {
                    self.disconnect(now, DisconnectReason::Timeout, ev);
                    return Ok(());
                }
            }
            State::Active => {
                let hb = self.heart_bt_ns;
                if hb > 0 {
                    if now.saturating_sub(self.last_sent_ns) >= hb {
                        self.send_admin(now, out, msg_type::HEARTBEAT, |w| {
                            msg::TestReqId(None).encode(w)
                        })?;
                    }
                    let quiet = now.saturating_sub(self.last_recv_ns);
                    match self.test_req_sent {
                        None if quiet >= hb + hb / 5 => {
                            let mut id = [0u8; crate::fix::num::MAX_U64_DIGITS];
                            let s = crate::fix::num::fmt_u64(now, &mut id);
                            let id = &id[s..];
                            self.send_admin(now, out, msg_type::TEST_REQUEST, |w| {
                                msg::TestReqId(Some(id)).encode(w)
                            })?;
                            self.test_req_sent = Some(now);
                        }
                        Some(t) if now.saturating_sub(t) >= hb + hb / 5 => {
                            self.disconnect(now, DisconnectReason::PeerSilent, ev);
                            return Ok(());
                        }
                        _ => {}
                    }
                }
            }
        }
        self.pump(now, out)?;
        Ok(())
    }
}

/// Text(58) of a session-level Reject: the SessionRejectReason in words.
fn reason_text(r: RejectReason) -> &'static str {
    match r {
        RejectReason::InvalidTagNumber => "invalid tag number",
        RejectReason::RequiredTagMissing => "required tag missing",
        RejectReason::TagNotDefinedForMsgType => "tag not defined for this message type",
        RejectReason::UndefinedTag => "undefined tag",
        RejectReason::TagWithoutValue => "tag specified without a value",
        RejectReason::ValueIncorrect => "value is incorrect (out of range) for this tag",
        RejectReason::IncorrectDataFormat => "incorrect data format for value",
        RejectReason::CompIdProblem => "CompID problem",
        RejectReason::SendingTimeAccuracy => "SendingTime accuracy problem",
        RejectReason::InvalidMsgType => "invalid MsgType",
        RejectReason::TagAppearsMoreThanOnce => "tag appears more than once",
        RejectReason::TagOutOfOrder => "tag specified out of required order",
        RejectReason::RepeatingGroupOutOfOrder => "repeating group fields out of order",
        RejectReason::IncorrectNumInGroupCount => "incorrect NumInGroup count for repeating group",
        RejectReason::NonDataValueIncludesDelimiter => "non-data value includes field delimiter",
        RejectReason::Other => "message refused",
    }
}

/// FIX MsgType syntax: one or two ASCII letters/digits.
fn valid_msg_type(t: &[u8]) -> bool {
    !t.is_empty() && t.len() <= 2 && t.iter().all(|c| c.is_ascii_alphanumeric())
}
