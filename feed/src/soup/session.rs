//! The client's session state machine: what each packet from the server means once logged in
//! or while logging in, apart from the socket so it can be reasoned about (and so packets
//! borrowed from the decoder can be handled while the client's other fields change).

use std::time::Instant;

use super::codec::{Packet, RejectReason, SoupError, SESSION_LEN};

/// What the client reports to its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientEvent<'a> {
    /// Logged in; `seq` is the first number the server will send.
    LoggedIn {
        /// Session (space-padded).
        session: [u8; SESSION_LEN],
        /// First sequence number the server will send.
        seq: u64,
    },
    /// One message, numbered from 1 in the session.
    Data {
        /// Its soup sequence number.
        seq: u64,
        /// The message.
        msg: &'a [u8],
        /// Monotonic time of the socket read that brought it ([`crate::recv::sys::mono_ns`]).
        recv_ns: u64,
    },
    /// The server restarted its numbering (a new session, or the same one numbered from 1
    /// again): what follows is a new sequence space, delivered from `seq` on.
    Reset {
        /// Session of the new space (space-padded).
        session: [u8; SESSION_LEN],
        /// First sequence number of the new space the server will send.
        seq: u64,
    },
    /// The server started after the number asked for: these messages will never come.
    Gap {
        /// First missing number.
        first_missing: u64,
        /// How many.
        missing: u64,
    },
    /// End of Session: nothing more will come.
    EndOfSession,
    /// The login was refused; the client is closed.
    Rejected(RejectReason),
    /// The connection was lost (a reconnect follows unless closed or ended).
    Disconnected,
}

/// Client counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Connection attempts.
    pub connects: u64,
    /// Attempts after the first (after a loss or failure).
    pub reconnects: u64,
    /// Logins accepted.
    pub logins: u64,
    /// Logins rejected.
    pub rejected: u64,
    /// Connections lost or failed.
    pub disconnects: u64,
    /// Connections dropped because the server was silent too long.
    pub timeouts: u64,
    /// Messages delivered.
    pub messages: u64,
    /// Message bytes delivered.
    pub bytes: u64,
    /// Messages received again after a reconnect and dropped.
    pub duplicates: u64,
    /// Resets: a later login accepted in a new session, or in the same one numbered from 1
    /// again (a restarted server); the new space's messages are delivered, not dropped.
    pub resets: u64,
    /// Gaps reported (the server started after the number asked for).
    pub gaps: u64,
    /// Messages lost in those gaps.
    pub missing: u64,
    /// Server Heartbeats received.
    pub server_heartbeats: u64,
    /// Client Heartbeats sent.
    pub heartbeats_sent: u64,
    /// Malformed or out-of-place packets (skipped; before login they drop the connection).
    pub malformed: u64,
    /// Debug packets received.
    pub debug: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    Backoff { until: Instant },
    Connecting { since: Instant },
    LoggingIn,
    Active,
    Closed,
}

/// What a received packet asks of the connection.
pub(super) enum Action {
    Continue,
    Drop(String),
    Close,
}

/// Session state, apart from the decoder so packets borrowed from it can be handled.
#[derive(Debug)]
pub(super) struct Link {
    pub(super) state: State,
    pub(super) next_seq: u64,
    pub(super) recv_seq: u64,
    /// Session of the last accepted login.
    pub(super) session: Option<[u8; SESSION_LEN]>,
    pub(super) ended: bool,
    pub(super) logging_out: bool,
    pub(super) rejected: Option<RejectReason>,
    pub(super) recv_ns: u64,
    pub(super) stats: ClientStats,
    pub(super) last_error: Option<String>,
}

/// Applies one received packet; returns what to do and the events delivered.
pub(super) fn handle(
    l: &mut Link,
    p: Result<Packet<'_>, SoupError>,
    on: &mut impl FnMut(ClientEvent<'_>),
) -> (Action, usize) {
    let logging_in = l.state == State::LoggingIn;
    let p = match p {
        Ok(p) => p,
        Err(e) => {
            l.stats.malformed += 1;
            let why = format!("malformed packet from the server: {e}");
            // Before login nothing is in step yet; after it, the framing still is.
            if logging_in {
                return (Action::Drop(why), 0);
            }
            if l.stats.malformed == 1 {
                tracing::warn!("soup client: {why}");
            }
            l.last_error = Some(why);
            return (Action::Continue, 0);
        }
    };
    match p {
        Packet::LoginAccepted { session, seq } if logging_in => {
            l.state = State::Active;
            l.stats.logins += 1;
            on(ClientEvent::LoggedIn { session, seq });
            let mut n = 1;
            // A server numbering a new space: without this, every number up to where the old
            // space stopped would be dropped as already delivered.
            let reset = l.session.is_some_and(|old| old != session)
                || (l.session.is_some() && seq == 1 && l.next_seq > 1);
            l.session = Some(session);
            if reset {
                l.stats.resets += 1;
                l.next_seq = seq;
                on(ClientEvent::Reset { session, seq });
                n += 1;
            } else if l.next_seq > 0 && seq > l.next_seq {
                let missing = seq - l.next_seq;
                l.stats.gaps += 1;
                l.stats.missing += missing;
                on(ClientEvent::Gap {
                    first_missing: l.next_seq,
                    missing,
                });
                n += 1;
            }
            // Asked for 0 ("from now on"): take the server's number as the start.
            if l.next_seq == 0 || seq > l.next_seq {
                l.next_seq = seq;
            }
            l.recv_seq = seq;
            (Action::Continue, n)
        }
        Packet::LoginRejected(r) if logging_in => {
            l.stats.rejected += 1;
            l.rejected = Some(r);
            l.last_error = Some(format!("login rejected: {r:?}"));
            on(ClientEvent::Rejected(r));
            (Action::Close, 1)
        }
        Packet::SequencedData(msg) if l.state == State::Active => {
            let seq = l.recv_seq;
            l.recv_seq += 1;
            if seq < l.next_seq {
                l.stats.duplicates += 1;
                return (Action::Continue, 0);
            }
            l.next_seq = seq + 1;
            l.stats.messages += 1;
            l.stats.bytes += msg.len() as u64;
            on(ClientEvent::Data {
                seq,
                msg,
                recv_ns: l.recv_ns,
            });
            (Action::Continue, 1)
        }
        Packet::EndOfSession if l.state == State::Active => {
            l.ended = true;
            on(ClientEvent::EndOfSession);
            (Action::Continue, 1)
        }
        Packet::ServerHeartbeat => {
            l.stats.server_heartbeats += 1;
            (Action::Continue, 0)
        }
        Packet::Debug(_) => {
            l.stats.debug += 1;
            (Action::Continue, 0)
        }
        Packet::UnsequencedData(_) => (Action::Continue, 0),
        other => {
            // A client-side packet, or a session packet out of place.
            l.stats.malformed += 1;
            let why = format!(
                "unexpected {:?} packet from the server",
                other.type_byte() as char
            );
            if logging_in {
                return (Action::Drop(why), 0);
            }
            l.last_error = Some(why);
            (Action::Continue, 0)
        }
    }
}
