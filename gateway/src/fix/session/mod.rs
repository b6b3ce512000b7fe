//! The FIX session layer: a deterministic state machine over bytes in, bytes out and a clock
//! value passed in, so every rule is testable without sockets; plus the socket drivers.
//!
//! [`Session::on_bytes`] takes whatever arrived (any split, any garbage), [`Session::on_tick`]
//! runs the timers, [`Session::send_app`] sends an application message. Output goes to an
//! [`Outbound`] (a [`Transport`] or a `Vec<u8>`), and what the
//! application must know arrives as [`Event`]s. Time is UTC nanoseconds since the epoch, given
//! by the caller: it stamps SendingTime and drives heartbeats.
//!
//! Every outgoing message is written to the [`Store`] before it reaches the wire. A message
//! the transport cannot take yet (back-pressure) stays in the store and goes out, in order, on
//! the next call; the number waiting is bounded ([`SessionConfig::max_pending`]).
//!
//! The rules (FIX 4.4 session protocol) are listed in `docs/fix.md`.

mod inbound;
mod outbound;

pub mod acceptor;
pub mod initiator;

use thiserror::Error;

use super::decode::{Decoder, Garble, RejectReason};
use super::encode::{EncodeError, HeaderTemplate};
use super::store::{Store, StoreError};
use crate::transport::{Transport, TransportError};

/// Where the session writes its bytes.
pub trait Outbound {
    /// Hands `bytes` (one whole message) to the wire. `WouldBlock` means "not now, retry".
    fn send(&mut self, bytes: &[u8]) -> Result<(), TransportError>;
}

impl<T: Transport + ?Sized> Outbound for T {
    fn send(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        match Transport::send(self, bytes) {
            // Room may appear once what is queued goes out: flush and try once more.
            Err(TransportError::WouldBlock { .. }) => {
                self.flush()?;
                Transport::send(self, bytes)
            }
            r => r,
        }
    }
}

impl Outbound for Vec<u8> {
    fn send(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.extend_from_slice(bytes);
        Ok(())
    }
}

/// Which end of the connection this session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Connects and sends the first Logon (mam to an LP).
    Initiator,
    /// Waits for the peer's Logon (a manager sending master orders to mam).
    Acceptor,
}

/// A session's settings.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// BeginString, `FIX.4.4`.
    pub begin_string: Vec<u8>,
    /// Our CompID (SenderCompID on what we send).
    pub sender: Vec<u8>,
    /// Their CompID.
    pub target: Vec<u8>,
    /// Initiator or acceptor.
    pub role: Role,
    /// HeartBtInt in seconds the initiator proposes (the acceptor adopts the peer's).
    pub heart_bt_int: u32,
    /// Start both sequence numbers at 1 on every Logon. Initiator: send ResetSeqNumFlag=Y on
    /// its Logon. Acceptor: reset when the peer's Logon arrives and answer with
    /// ResetSeqNumFlag=Y. Default `false`: sequence numbers persist across connections (what
    /// the manager session relies on to resend master orders after a reconnect).
    pub reset_on_logon: bool,
    /// Start both sequence numbers at 1 once a Logout exchange completes. Default `false`.
    pub reset_on_logout: bool,
    /// Start both sequence numbers at 1 whenever the connection ends, Logout or not.
    /// Default `false`.
    pub reset_on_disconnect: bool,
    /// Check every inbound message against the FIX 4.4 data dictionary ([`crate::fix::dict`])
    /// and answer a violation with a session-level Reject. Default: on for an acceptor (the
    /// manager session), off for an initiator, because LPs put their own tags and values on
    /// ExecutionReports and a fill must never be refused over a tag mam does not read. Only
    /// applies when `begin_string` is FIX.4.4.
    pub validate: bool,
    /// Largest distance, ns, between an inbound SendingTime (52) and the session's clock
    /// before the message is rejected (373=10) and the session logged out, as FIX 4.4 says.
    /// Default 120 s; `None` turns the check off.
    pub sending_time_tolerance_ns: Option<u64>,
    /// Initiator: Username to send. Acceptor: ignored.
    pub username: Option<Vec<u8>>,
    /// Initiator: Password to send. Acceptor: the Password the peer must send.
    pub password: Option<Vec<u8>>,
    /// Largest incoming message, in bytes; anything declared larger ends the session.
    pub max_msg_len: usize,
    /// Most outgoing messages waiting for the transport before `send_app` refuses.
    pub max_pending: u64,
    /// How long to wait for the Logon (or the Logout reply), ns.
    pub logon_timeout_ns: u64,
    /// Answer a ResendRequest with the stored application messages (FIX's rule, the default),
    /// or gap-fill them like admin messages: what LPs do that expect an OrderStatusRequest
    /// after a reconnect instead (the simulated LP plays one with this).
    pub resend_app: bool,
}

impl SessionConfig {
    /// FIX 4.4 defaults for `sender` → `target`: 30 s heartbeats, 64 KiB messages.
    pub fn new(role: Role, sender: &str, target: &str) -> Self {
        SessionConfig {
            begin_string: super::BEGIN_FIX44.to_vec(),
            sender: sender.as_bytes().to_vec(),
            target: target.as_bytes().to_vec(),
            role,
            heart_bt_int: 30,
            reset_on_logon: false,
            reset_on_logout: false,
            reset_on_disconnect: false,
            validate: role == Role::Acceptor,
            sending_time_tolerance_ns: Some(120_000_000_000),
            username: None,
            password: None,
            max_msg_len: 64 << 10,
            max_pending: 1 << 20,
            logon_timeout_ns: 10_000_000_000,
            resend_app: true,
        }
    }
}

/// Where the session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// No connection.
    Disconnected,
    /// Initiator: Logon sent, waiting for the answer.
    LogonSent,
    /// Acceptor: connected, waiting for the peer's Logon.
    AwaitingLogon,
    /// Logged on.
    Active,
    /// Logout sent, waiting for the peer's Logout.
    LogoutSent,
}

/// What the application is told.
#[derive(Debug)]
pub enum Event<'a> {
    /// The Logon exchange completed.
    LoggedOn {
        /// Both sides started again at 1.
        reset: bool,
    },
    /// An application message, in sequence (`poss_dup`: the peer marked it as a possible
    /// duplicate while resending).
    App {
        /// The message.
        msg: &'a super::decode::Message<'a>,
        /// PossDupFlag=Y.
        poss_dup: bool,
    },
    /// We sent a session-level Reject.
    RejectSent {
        /// The rejected message's MsgSeqNum.
        ref_seq: u64,
        /// The reason code.
        reason: RejectReason,
        /// The tag concerned (0 if none).
        tag: u32,
    },
    /// We answered a message of an unsupported type with a BusinessMessageReject.
    BusinessRejectSent {
        /// The message's MsgSeqNum.
        ref_seq: u64,
    },
    /// The peer rejected one of our messages (session-level Reject).
    RejectReceived {
        /// RefSeqNum.
        ref_seq: u64,
        /// SessionRejectReason, if given.
        reason: Option<u32>,
    },
    /// Bytes that were not a valid message were dropped (the spec: ignore garbled messages).
    Garbled {
        /// Why.
        why: Garble,
        /// Bytes dropped.
        bytes: usize,
    },
    /// The peer's sequence number ran ahead: we sent a ResendRequest.
    GapDetected {
        /// The number we expected.
        expected: u64,
        /// The number that came.
        received: u64,
    },
    /// The peer asked us to resend.
    ResendRequested {
        /// BeginSeqNo.
        begin: u64,
        /// EndSeqNo (0 = infinity).
        end: u64,
    },
    /// A PossDup message we had already processed was ignored.
    DuplicateIgnored {
        /// Its MsgSeqNum.
        seq: u64,
    },
    /// The peer logged out.
    LoggedOut,
    /// The connection must be closed (the session already sent what the spec requires).
    Disconnect {
        /// Why.
        reason: DisconnectReason,
    },
}

/// Why the session ends a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// Logout exchange completed.
    LogoutComplete,
    /// The first message was not a Logon, or the Logon was refused.
    LogonRefused,
    /// MsgSeqNum lower than expected without PossDupFlag.
    SeqTooLow,
    /// MsgSeqNum missing or unreadable.
    SeqMissing,
    /// Wrong BeginString.
    WrongBeginString,
    /// SenderCompID/TargetCompID do not match the session.
    CompIdProblem,
    /// A message larger than the configured limit.
    Oversized,
    /// Nothing from the peer through a heartbeat interval and a TestRequest.
    PeerSilent,
    /// No Logon (or Logout reply) in time.
    Timeout,
    /// SendingTime too far from our clock, or OrigSendingTime later than SendingTime.
    SendingTimeAccuracy,
}

/// An error the session cannot handle by the protocol itself.
#[derive(Debug, Error)]
pub enum SessionError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A message could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The transport failed (closed or I/O).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// Application messages go out only while logged on.
    #[error("FIX session {0:?} is not logged on")]
    NotLoggedOn(State),
    /// Too many messages wait for the transport: retry later.
    #[error("back-pressure: {pending} messages wait for the transport")]
    Backpressure {
        /// How many.
        pending: u64,
    },
}

/// Counters a session keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Messages received and accepted in sequence.
    pub received: u64,
    /// Messages sent (stored), resends excluded.
    pub sent: u64,
    /// Messages re-sent in answer to ResendRequests (gap fills included).
    pub resent: u64,
    /// Garbled inputs dropped.
    pub garbled: u64,
    /// Session-level Rejects sent.
    pub rejects_sent: u64,
    /// Times the transport pushed back.
    pub backpressure: u64,
}

/// A resend in progress (we are answering the peer's ResendRequest).
#[derive(Debug, Clone, Copy)]
struct Replay {
    next: u64,
    end: u64,
    gap_from: Option<u64>,
}

/// One FIX session.
#[derive(Debug)]
pub struct Session {
    cfg: SessionConfig,
    store: Store,
    header: HeaderTemplate,
    state: State,
    state_since: u64,
    /// Highest sequence number handed to the transport.
    wire_seq: u64,
    replay: Option<Replay>,
    /// We asked for a resend up to this number (inclusive).
    resend_until: Option<u64>,
    heart_bt_ns: u64,
    last_sent_ns: u64,
    last_recv_ns: u64,
    test_req_sent: Option<u64>,
    rx: Option<Rx>,
    scratch: Box<[u8]>,
    replay_dec: Decoder,
    stats: SessionStats,
    /// Application message types this crate does not parse that are still delivered as
    /// [`Event::App`] (see [`Session::accept_app_type`]).
    app_types: Vec<Vec<u8>>,
}

/// The receive side: an input buffer of fixed size and the decoder.
#[derive(Debug)]
struct Rx {
    buf: Box<[u8]>,
    len: usize,
    dec: Decoder,
    /// Drop everything until the connection ends (after an oversized message).
    discard: bool,
}

impl Session {
    /// A session over `store` (its sequence numbers carry on from where they were).
    pub fn new(cfg: SessionConfig, store: Store) -> Result<Self, SessionError> {
        let header = HeaderTemplate::new(&cfg.begin_string, &cfg.sender, &cfg.target)?;
        let max = cfg.max_msg_len.max(256);
        let wire_seq = store.next_sender_seq() - 1;
        Ok(Session {
            header,
            state: State::Disconnected,
            state_since: 0,
            wire_seq,
            replay: None,
            resend_until: None,
            heart_bt_ns: u64::from(cfg.heart_bt_int) * 1_000_000_000,
            last_sent_ns: 0,
            last_recv_ns: 0,
            test_req_sent: None,
            rx: Some(Rx {
                buf: vec![0; max + 64].into_boxed_slice(),
                len: 0,
                dec: Decoder::new(),
                discard: false,
            }),
            scratch: vec![0; max + 512].into_boxed_slice(),
            replay_dec: Decoder::new(),
            stats: SessionStats::default(),
            app_types: Vec::new(),
            store,
            cfg,
        })
    }

    /// The settings.
    pub fn config(&self) -> &SessionConfig {
        &self.cfg
    }
    /// Where the session is.
    pub fn state(&self) -> State {
        self.state
    }
    /// True when logged on.
    pub fn is_active(&self) -> bool {
        self.state == State::Active
    }
    /// The counters.
    pub fn stats(&self) -> SessionStats {
        self.stats
    }
    /// The store (sequence numbers and sent messages).
    pub fn store(&self) -> &Store {
        &self.store
    }
    /// Sequence number of the next message we send.
    pub fn next_sender_seq(&self) -> u64 {
        self.store.next_sender_seq()
    }
    /// Sequence number we expect next from the peer.
    pub fn next_target_seq(&self) -> u64 {
        self.store.next_target_seq()
    }
    /// Messages stored but not yet taken by the transport.
    pub fn pending(&self) -> u64 {
        self.store.next_sender_seq() - 1 - self.wire_seq
    }
    /// Delivers application messages of `msg_type` (one this crate has no parser for, e.g.
    /// TradingSessionStatus `h`) as [`Event::App`] instead of answering them with a
    /// BusinessMessageReject; the application validates them.
    pub fn accept_app_type(&mut self, msg_type: &[u8]) {
        if !self.app_types.iter().any(|t| t == msg_type) {
            self.app_types.push(msg_type.to_vec());
        }
    }
    /// True while we wait for the peer to resend a gap.
    pub fn awaiting_resend(&self) -> bool {
        self.resend_until.is_some()
    }

    fn set_state(&mut self, s: State, now: u64) {
        self.state = s;
        self.state_since = now;
    }

    /// A new connection is up: the initiator sends its Logon; the acceptor waits for one.
    pub fn on_connected(&mut self, now: u64, out: &mut dyn Outbound) -> Result<(), SessionError> {
        self.reset_connection(now);
        match self.cfg.role {
            Role::Acceptor => self.set_state(State::AwaitingLogon, now),
            Role::Initiator => {
                if self.cfg.reset_on_logon {
                    self.store.reset(now);
                    self.wire_seq = 0;
                }
                self.send_logon(now, out, self.cfg.reset_on_logon)?;
                self.set_state(State::LogonSent, now);
            }
        }
        Ok(())
    }

    /// The connection is gone (closed by either side).
    pub fn on_disconnected(&mut self, now: u64) {
        if self.cfg.reset_on_disconnect && self.state != State::Disconnected {
            self.reset_seqs(now);
        }
        self.reset_connection(now);
        self.set_state(State::Disconnected, now);
    }

    /// Both sequence numbers back to 1 (a new store generation).
    fn reset_seqs(&mut self, now: u64) {
        self.store.reset(now);
        self.wire_seq = 0;
        self.replay = None;
        self.resend_until = None;
    }

    fn reset_connection(&mut self, now: u64) {
        if let Some(rx) = self.rx.as_mut() {
            rx.len = 0;
            rx.discard = false;
        }
        self.replay = None;
        self.resend_until = None;
        self.test_req_sent = None;
        self.last_recv_ns = now;
        self.last_sent_ns = now;
        // Whatever was not on the wire goes out again by resend if the peer asks for it:
        // after a reconnect, the Logon comes first, then the peer's ResendRequest.
        self.wire_seq = self.store.next_sender_seq() - 1;
    }

    /// Starts a Logout (the session ends when the peer answers or the timeout passes).
    pub fn logout(
        &mut self,
        now: u64,
        out: &mut dyn Outbound,
        text: Option<&[u8]>,
    ) -> Result<(), SessionError> {
        if matches!(
            self.state,
            State::Active | State::LogonSent | State::AwaitingLogon
        ) {
            self.send_admin(now, out, super::msg::msg_type::LOGOUT, |w| {
                super::msg::Logout { text }.encode(w)
            })?;
            self.set_state(State::LogoutSent, now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

/// `now` unless it is 0, then the system clock (for driver paths that have no clock value).
fn now_or(now: u64) -> u64 {
    if now == 0 {
        initiator::now_ns()
    } else {
        now
    }
}
