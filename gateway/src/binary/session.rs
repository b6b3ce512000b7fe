//! The binary order-entry session (FIXP lite) over any [`Transport`].
//!
//! - The initiator sends `Establish` with the next sequence number it will use; the acceptor
//!   answers `EstablishAck` with its own. Each side compares the peer's announced next number
//!   with what it expects: higher means messages were lost (→ `RetransmitRequest`), lower means
//!   the peer lost its store (→ `Terminate(SequenceTooLow)`).
//! - Every application message carries its sequence number. The expected one is delivered; an
//!   older one is a duplicate and dropped; a newer one is a gap: it is dropped and the missing
//!   range (including it) is requested once, then replayed by the peer from its store.
//! - `Sequence` is the heartbeat, sent after `keepalive` of silence; it also reveals a lost last
//!   message. Three keepalives without anything from the peer end the session.
//! - Sequence numbers and sent messages live in a memory-mapped [`SeqStore`], so both survive a
//!   restart; a retransmit request is answered from the store, even after a restart.
//!
//! Garbage (anything that does not decode) is counted and ignored, never fatal. Back-pressure
//! from the transport never loses a session message: it stays pending and goes on the next
//! `poll`. Time comes in as `now_ns` arguments.

use super::codec::{
    decode, AppMessage, AppView, DecodeError, Message, SessionMessage, MAX_MESSAGE_LEN,
};
use super::store::{SeqStore, StoreError};
use crate::transport::{Transport, TransportError};
use thiserror::Error;

/// TerminationCode values of the schema.
pub mod termination {
    /// Normal end.
    pub const FINISHED: u8 = 0;
    /// Establish for a session id this side does not serve.
    pub const UNKNOWN_SESSION: u8 = 1;
    /// The peer announced a sequence number below what was already received.
    pub const SEQUENCE_TOO_LOW: u8 = 2;
    /// Nothing heard for three keepalive intervals.
    pub const KEEPALIVE_TIMEOUT: u8 = 3;
    /// Messages out of protocol order.
    pub const PROTOCOL_ERROR: u8 = 4;
    /// An Establish stamped further from the acceptor's clock than its tolerance.
    pub const CLOCK_SKEW: u8 = 5;
}

/// Which end of the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sends Establish.
    Initiator,
    /// Answers Establish.
    Acceptor,
}

/// Session state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Nothing exchanged yet.
    Idle,
    /// Establish sent, no ack yet.
    Establishing,
    /// Application messages flow.
    Established,
    /// Ended, with a TerminationCode.
    Terminated(u8),
}

/// Fixed parameters.
#[derive(Debug, Clone, Copy)]
pub struct SessionConfig {
    /// Session id both ends agree on.
    pub session_id: u64,
    /// Heartbeat interval.
    pub keepalive_ms: u32,
    /// Initiator or acceptor.
    pub role: Role,
    /// Acceptor: an Establish whose timestampNs is further than this (ns) from the clock given
    /// to [`Session::poll`] is terminated (ClockSkew), as FIX's SendingTime accuracy check ends
    /// a Logon: a peer whose clock is off would stamp every TransactTime off too. `None`: not
    /// checked. Only Establish carries a send stamp in this protocol.
    pub sending_time_tolerance_ns: Option<u64>,
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Application messages delivered in order.
    pub delivered: u64,
    /// Application messages dropped as already seen.
    pub duplicates: u64,
    /// Gaps detected (each triggered at most one outstanding request).
    pub gaps: u64,
    /// Retransmit requests sent.
    pub retransmit_requests: u64,
    /// Messages replayed to the peer from the store.
    pub replayed: u64,
    /// Sequence numbers the peer could no longer replay (skipped, reported).
    pub lost: u64,
    /// Chunks that did not decode.
    pub decode_errors: u64,
    /// Messages that made no sense in the current state.
    pub protocol_errors: u64,
    /// Sends refused by transport back-pressure.
    pub back_pressure: u64,
}

/// Why a session call failed.
#[derive(Debug, Error)]
pub enum SessionError {
    /// The transport refused (see [`TransportError::is_retryable`]).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Application messages need an established session.
    #[error("session not established (state {0:?})")]
    NotEstablished(State),
}

impl SessionError {
    /// True if the same call may succeed later (back-pressure).
    pub fn is_retryable(&self) -> bool {
        matches!(self, SessionError::Transport(e) if e.is_retryable())
    }
}

#[derive(Debug, Clone, Copy)]
struct Replay {
    request_ts: u64,
    next: u64,
    end: u64,
    header_sent: bool,
}

/// Session messages owed to the peer, sent after the receive loop (the transport is busy
/// delivering during it) and kept across back-pressure.
#[derive(Debug, Default)]
struct Pending {
    ack: bool,
    retransmit: Option<(u64, u32)>,
    terminate: Option<u8>,
    replay: Option<Replay>,
}

#[derive(Debug)]
struct Inner {
    store: SeqStore,
    cfg: SessionConfig,
    state: State,
    last_recv_ns: u64,
    last_sent_ns: u64,
    retransmit_outstanding: bool,
    pending: Pending,
    stats: SessionStats,
    /// The last bytes that did not decode, and why (for an edge that answers them).
    last_decode_error: Option<DecodeError>,
}

/// A binary order-entry session over transport `T`.
#[derive(Debug)]
pub struct Session<T: Transport> {
    transport: T,
    inner: Inner,
}

impl Inner {
    fn compare_peer_next(&mut self, peer_next: u64) {
        let expected = self.store.next_in();
        if peer_next > expected {
            self.request(expected, peer_next - expected);
        } else if peer_next < expected {
            self.pending.terminate = Some(termination::SEQUENCE_TOO_LOW);
        }
    }

    fn request(&mut self, from: u64, count: u64) {
        if !self.retransmit_outstanding {
            self.retransmit_outstanding = true;
            self.pending.retransmit = Some((from, count.min(u64::from(u32::MAX)) as u32));
        }
    }

    fn on_chunk(&mut self, mut chunk: &[u8], now_ns: u64, on_app: &mut dyn FnMut(&AppView<'_>)) {
        while !chunk.is_empty() {
            let (msg, len) = match decode(chunk) {
                Ok(m) => m,
                Err(e) => {
                    self.stats.decode_errors += 1;
                    self.last_decode_error = Some(e);
                    return;
                }
            };
            chunk = &chunk[len..];
            self.last_recv_ns = now_ns;
            match msg {
                Message::Session(s) => self.on_session(s, now_ns),
                Message::App(view) => self.on_app(&view, on_app),
            }
        }
    }

    fn on_session(&mut self, msg: SessionMessage, now_ns: u64) {
        let own = self.cfg.session_id;
        match msg {
            SessionMessage::Establish {
                session_id,
                timestamp_ns,
                next_seq_no,
                ..
            } if self.cfg.role == Role::Acceptor => {
                if session_id != own {
                    self.pending.terminate = Some(termination::UNKNOWN_SESSION);
                    return;
                }
                let tolerance = self.cfg.sending_time_tolerance_ns;
                if tolerance.is_some_and(|t| timestamp_ns.abs_diff(now_ns) > t) {
                    self.pending.terminate = Some(termination::CLOCK_SKEW);
                    return;
                }
                self.state = State::Established;
                self.retransmit_outstanding = false;
                self.pending.ack = true;
                self.compare_peer_next(next_seq_no);
            }
            SessionMessage::EstablishAck {
                session_id,
                next_seq_no,
                ..
            } if self.cfg.role == Role::Initiator && session_id == own => {
                self.state = State::Established;
                self.retransmit_outstanding = false;
                self.compare_peer_next(next_seq_no);
            }
            SessionMessage::Sequence { next_seq_no } if self.state == State::Established => {
                self.compare_peer_next(next_seq_no);
            }
            SessionMessage::RetransmitRequest {
                session_id,
                timestamp_ns,
                from_seq_no,
                count,
            } if session_id == own && self.state == State::Established => {
                let start = from_seq_no.max(self.store.oldest_out());
                let end = from_seq_no
                    .saturating_add(u64::from(count))
                    .min(self.store.next_out());
                if start < end {
                    self.pending.replay = Some(Replay {
                        request_ts: timestamp_ns,
                        next: start,
                        end,
                        header_sent: false,
                    });
                }
            }
            SessionMessage::Retransmission {
                session_id,
                next_seq_no,
                ..
            } if session_id == own => {
                self.retransmit_outstanding = false;
                let expected = self.store.next_in();
                if next_seq_no > expected {
                    // The peer no longer holds these: skip them, loudly.
                    self.stats.lost += next_seq_no - expected;
                    self.store.set_next_in(next_seq_no);
                }
            }
            SessionMessage::Terminate { code, .. } => self.state = State::Terminated(code),
            _ => self.stats.protocol_errors += 1,
        }
    }

    fn on_app(&mut self, view: &AppView<'_>, on_app: &mut dyn FnMut(&AppView<'_>)) {
        if self.state != State::Established {
            self.stats.protocol_errors += 1;
            return;
        }
        let seq = view.seq_no();
        let expected = self.store.next_in();
        if seq == expected {
            self.store.set_next_in(seq + 1);
            self.stats.delivered += 1;
            on_app(view);
        } else if seq < expected {
            self.stats.duplicates += 1;
        } else {
            self.stats.gaps += 1;
            self.request(expected, seq - expected + 1);
        }
    }
}

impl<T: Transport> Session<T> {
    /// A session over `transport` with sequence numbers from `store`.
    pub fn new(transport: T, store: SeqStore, cfg: SessionConfig) -> Self {
        Self {
            transport,
            inner: Inner {
                store,
                cfg,
                state: State::Idle,
                last_recv_ns: 0,
                last_sent_ns: 0,
                retransmit_outstanding: false,
                pending: Pending::default(),
                stats: SessionStats::default(),
                last_decode_error: None,
            },
        }
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.inner.state
    }

    /// Counters.
    pub fn stats(&self) -> SessionStats {
        self.inner.stats
    }

    /// The store (sequence numbers).
    pub fn store(&self) -> &SeqStore {
        &self.inner.store
    }

    /// The transport.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// The transport and the store back (the store outlives a connection: the next one
    /// resumes from its sequence numbers).
    pub fn into_parts(self) -> (T, SeqStore) {
        (self.transport, self.inner.store)
    }

    /// Why the last bytes that did not decode were ignored, once (`None` if nothing new).
    pub fn take_decode_error(&mut self) -> Option<DecodeError> {
        self.inner.last_decode_error.take()
    }

    fn send_session(&mut self, msg: SessionMessage, now_ns: u64) -> Result<(), SessionError> {
        let slot = match self.transport.claim(MAX_MESSAGE_LEN) {
            Ok(s) => s,
            Err(e) => {
                if e.is_retryable() {
                    self.inner.stats.back_pressure += 1;
                }
                return Err(e.into());
            }
        };
        let n = msg.encode(slot).map_err(|e| TransportError::TooLarge {
            len: e.need,
            max: e.have,
        })?;
        self.transport.commit(n)?;
        self.inner.last_sent_ns = now_ns;
        Ok(())
    }

    /// Initiator: sends Establish with the stored next outbound sequence number.
    pub fn establish(&mut self, now_ns: u64) -> Result<(), SessionError> {
        let msg = SessionMessage::Establish {
            session_id: self.inner.cfg.session_id,
            timestamp_ns: now_ns,
            keepalive_ms: self.inner.cfg.keepalive_ms,
            next_seq_no: self.inner.store.next_out(),
        };
        self.send_session(msg, now_ns)?;
        self.inner.state = State::Establishing;
        self.inner.last_recv_ns = now_ns;
        self.transport.flush()?;
        Ok(())
    }

    /// Sends an application message with the next sequence number, stored for replay. On
    /// back-pressure nothing is consumed and the call can be repeated.
    pub fn send(&mut self, msg: &AppMessage, now_ns: u64) -> Result<u64, SessionError> {
        if self.inner.state != State::Established {
            return Err(SessionError::NotEstablished(self.inner.state));
        }
        if self.inner.pending.replay.is_some() {
            // Replay first: keep the peer's view in order.
            self.inner.stats.back_pressure += 1;
            return Err(TransportError::WouldBlock {
                needed: msg.encoded_len(),
            }
            .into());
        }
        let seq = self.inner.store.next_out();
        let slot = match self.transport.claim(msg.encoded_len()) {
            Ok(s) => s,
            Err(e) => {
                if e.is_retryable() {
                    self.inner.stats.back_pressure += 1;
                }
                return Err(e.into());
            }
        };
        let n = match msg.encode(seq, slot) {
            Ok(n) => n,
            Err(e) => {
                self.transport.abort();
                return Err(TransportError::TooLarge {
                    len: e.need,
                    max: e.have,
                }
                .into());
            }
        };
        if let Err(e) = self.inner.store.append_out(seq, &slot[..n]) {
            self.transport.abort();
            return Err(e.into());
        }
        self.transport.commit(n)?;
        self.inner.last_sent_ns = now_ns;
        Ok(seq)
    }

    /// Pushes committed messages out.
    pub fn flush(&mut self) -> Result<usize, SessionError> {
        Ok(self.transport.flush()?)
    }

    /// Receives and handles everything ready, handing in-order application messages to
    /// `on_app`, then sends whatever the session owes (acks, requests, replays, heartbeats)
    /// and flushes. Returns the number of application messages delivered.
    pub fn poll(
        &mut self,
        now_ns: u64,
        on_app: &mut dyn FnMut(&AppView<'_>),
    ) -> Result<u64, SessionError> {
        let before = self.inner.stats.delivered;
        let inner = &mut self.inner;
        let polled = self
            .transport
            .poll(&mut |chunk| inner.on_chunk(chunk, now_ns, on_app));
        match polled {
            Ok(_) | Err(TransportError::WouldBlock { .. }) => {}
            Err(TransportError::Closed) if matches!(self.inner.state, State::Terminated(_)) => {}
            Err(e) => return Err(e.into()),
        }
        self.send_pending(now_ns)?;
        self.tick(now_ns)?;
        self.transport.flush()?;
        Ok(self.inner.stats.delivered - before)
    }

    fn send_pending(&mut self, now_ns: u64) -> Result<(), SessionError> {
        let id = self.inner.cfg.session_id;
        let run = |r: Result<(), SessionError>| match r {
            Err(e) if e.is_retryable() => Ok(false),
            Err(e) => Err(e),
            Ok(()) => Ok(true),
        };
        if let Some(code) = self.inner.pending.terminate {
            let msg = SessionMessage::Terminate {
                session_id: id,
                code,
            };
            if run(self.send_session(msg, now_ns))? {
                self.inner.pending = Pending::default();
                self.inner.state = State::Terminated(code);
            }
            return Ok(());
        }
        if self.inner.pending.ack {
            let msg = SessionMessage::EstablishAck {
                session_id: id,
                timestamp_ns: now_ns,
                keepalive_ms: self.inner.cfg.keepalive_ms,
                next_seq_no: self.inner.store.next_out(),
            };
            if !run(self.send_session(msg, now_ns))? {
                return Ok(());
            }
            self.inner.pending.ack = false;
        }
        if let Some((from, count)) = self.inner.pending.retransmit {
            let msg = SessionMessage::RetransmitRequest {
                session_id: id,
                timestamp_ns: now_ns,
                from_seq_no: from,
                count,
            };
            if !run(self.send_session(msg, now_ns))? {
                return Ok(());
            }
            self.inner.pending.retransmit = None;
            self.inner.stats.retransmit_requests += 1;
        }
        while let Some(mut r) = self.inner.pending.replay {
            if !r.header_sent {
                let msg = SessionMessage::Retransmission {
                    session_id: id,
                    request_timestamp_ns: r.request_ts,
                    next_seq_no: r.next,
                    count: (r.end - r.next) as u32,
                };
                if !run(self.send_session(msg, now_ns))? {
                    return Ok(());
                }
                r.header_sent = true;
            } else if r.next < r.end {
                let Some(stored) = self.inner.store.get_out(r.next) else {
                    // Overwritten since the request was accepted: stop; the peer re-requests
                    // and the next header reports the loss.
                    self.inner.pending.replay = None;
                    break;
                };
                match self.transport.claim(stored.len()) {
                    Ok(slot) => {
                        slot.copy_from_slice(stored);
                        self.transport.commit(stored.len())?;
                        r.next += 1;
                        self.inner.stats.replayed += 1;
                        self.inner.last_sent_ns = now_ns;
                    }
                    Err(e) if e.is_retryable() => {
                        self.inner.stats.back_pressure += 1;
                        self.inner.pending.replay = Some(r);
                        return Ok(());
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            self.inner.pending.replay = (r.next < r.end || !r.header_sent).then_some(r);
        }
        Ok(())
    }

    fn tick(&mut self, now_ns: u64) -> Result<(), SessionError> {
        if !matches!(self.inner.state, State::Established | State::Establishing) {
            return Ok(());
        }
        let keepalive = u64::from(self.inner.cfg.keepalive_ms.max(1)) * 1_000_000;
        if now_ns.saturating_sub(self.inner.last_recv_ns) > 3 * keepalive {
            self.inner.pending.terminate = Some(termination::KEEPALIVE_TIMEOUT);
            return self.send_pending(now_ns);
        }
        if self.inner.state == State::Establishing
            && now_ns.saturating_sub(self.inner.last_sent_ns) >= keepalive
        {
            // Establish or its ack was lost (UDP): ask again.
            let last_recv = self.inner.last_recv_ns;
            match self.establish(now_ns) {
                Err(e) if e.is_retryable() => {}
                r => r?,
            }
            self.inner.last_recv_ns = last_recv;
            return Ok(());
        }
        if self.inner.state == State::Established
            && now_ns.saturating_sub(self.inner.last_sent_ns) >= keepalive
        {
            let msg = SessionMessage::Sequence {
                next_seq_no: self.inner.store.next_out(),
            };
            match self.send_session(msg, now_ns) {
                Err(e) if e.is_retryable() => {}
                r => r?,
            }
        }
        Ok(())
    }

    /// Ends the session with `Terminate(Finished)`.
    pub fn terminate(&mut self, now_ns: u64) -> Result<(), SessionError> {
        self.inner.pending.terminate = Some(termination::FINISHED);
        self.send_pending(now_ns)?;
        self.transport.flush()?;
        Ok(())
    }
}
