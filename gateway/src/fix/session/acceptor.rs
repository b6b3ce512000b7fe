//! The acceptor's socket driver: managers connect and send master orders.
//!
//! It binds to 127.0.0.1 unless told otherwise. A new connection is held, unbound, until its
//! first whole message: only a Logon whose SenderCompID/TargetCompID match a configured
//! session that is not already connected is handed to that session (which then checks the
//! password and the sequence numbers). Anything else is refused, logged and closed. A fault on
//! one connection closes that connection only.

use std::net::SocketAddr;
use std::time::Duration;

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};

use super::{Event, Session, SessionError, State};
use crate::fix::decode::{frame, Decoder, Frame};
use crate::fix::encode::MsgWriter;
use crate::transport::tcp::{TcpOptions, TcpTransport};
use crate::transport::{Transport, TransportError};

const LISTENER: Token = Token(usize::MAX);

/// Where and how the acceptor listens.
#[derive(Debug, Clone, Copy)]
pub struct AcceptorOptions {
    /// Address to bind (default 127.0.0.1, port 0 = any free port).
    pub bind: SocketAddr,
    /// Socket buffer sizes.
    pub tcp: TcpOptions,
    /// Most simultaneous connections (bound or not). When all are taken, a new connection
    /// replaces the oldest one that has not logged on yet (sockets that never send a Logon
    /// cannot lock a manager out); only when every connection is logged on is it refused.
    pub max_connections: usize,
    /// How long an unbound connection may take to send its Logon, ns (default 2 s: a manager
    /// sends its Logon as soon as it connects; an idle socket is closed quickly).
    pub logon_timeout_ns: u64,
}

impl Default for AcceptorOptions {
    fn default() -> Self {
        AcceptorOptions {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            tcp: TcpOptions::default(),
            max_connections: 64,
            logon_timeout_ns: 2_000_000_000,
        }
    }
}

/// Why a connection was refused before reaching a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The first message was not a Logon (or did not parse).
    NotLogon,
    /// No configured session has these CompIDs.
    UnknownCompId,
    /// The session for these CompIDs is already connected.
    AlreadyConnected,
    /// No Logon within the timeout, or more bytes than one message before it.
    Timeout,
    /// Too many connections.
    Full,
}

#[derive(Debug)]
struct Conn {
    t: TcpTransport,
    session: Option<usize>,
    pre: Box<[u8]>,
    pre_len: usize,
    since: u64,
    peer: SocketAddr,
}

/// Counters of an [`Acceptor`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AcceptorStats {
    /// Connections accepted by the socket.
    pub connections: u64,
    /// Connections refused before a session (see [`Refusal`]).
    pub refused: u64,
}

/// A FIX acceptor over mio TCP, serving a fixed set of sessions.
#[derive(Debug)]
pub struct Acceptor {
    listener: TcpListener,
    addr: SocketAddr,
    poll: Poll,
    events: Events,
    sessions: Vec<Session>,
    bound: Vec<Option<usize>>,
    conns: Vec<Option<Conn>>,
    opts: AcceptorOptions,
    rx: Box<[u8]>,
    dec: Decoder,
    stats: AcceptorStats,
    /// Most bytes read from one connection per [`Acceptor::turn`].
    read_limit: usize,
    /// The listener may hold a connection: set by its (edge-triggered) readiness, cleared
    /// when `accept` would block. An `accept` on every turn cost the daemon's shared thread
    /// 10 % of its time (the kernel allocates a socket inode before it finds the queue
    /// empty; `perf record`, stop 25).
    listener_ready: bool,
}

impl Acceptor {
    /// Binds and serves `sessions` (each configured with [`super::Role::Acceptor`]).
    pub fn bind(sessions: Vec<Session>, opts: AcceptorOptions) -> std::io::Result<Self> {
        let mut listener = TcpListener::bind(opts.bind)?;
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, sessions = sessions.len(), "FIX acceptor listening");
        Ok(Acceptor {
            listener,
            addr,
            poll,
            events: Events::with_capacity(64),
            bound: vec![None; sessions.len()],
            sessions,
            conns: (0..opts.max_connections).map(|_| None).collect(),
            rx: vec![0; opts.tcp.recv_chunk.max(4096)].into_boxed_slice(),
            dec: Decoder::new(),
            opts,
            stats: AcceptorStats::default(),
            read_limit: usize::MAX,
            listener_ready: true,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
    /// Session `i`.
    pub fn session(&self, i: usize) -> &Session {
        &self.sessions[i]
    }
    /// Counters.
    pub fn stats(&self) -> AcceptorStats {
        self.stats
    }

    /// Sends an application message on session `i`.
    pub fn send_app(
        &mut self,
        i: usize,
        now: u64,
        msg_type: &[u8],
        body: impl FnOnce(&mut MsgWriter<'_>),
    ) -> Result<u64, SessionError> {
        let s = &mut self.sessions[i];
        match self.bound[i].and_then(|c| self.conns[c].as_mut()) {
            Some(c) => s.send_app(now, &mut c.t, msg_type, body),
            None => Err(SessionError::NotLoggedOn(s.state())),
        }
    }

    /// Sends a session-level Reject on session `i` ([`Session::send_session_reject`]).
    pub fn send_session_reject(
        &mut self,
        i: usize,
        now: u64,
        r: &crate::fix::msg::Reject<'_>,
    ) -> Result<u64, SessionError> {
        let s = &mut self.sessions[i];
        match self.bound[i].and_then(|c| self.conns[c].as_mut()) {
            Some(c) => s.send_session_reject(now, &mut c.t, r),
            None => Err(SessionError::NotLoggedOn(s.state())),
        }
    }

    /// Caps the bytes one [`Acceptor::turn`] reads from each connection (default: everything
    /// ready), so a caller that must bound its work per turn can; the rest waits in the socket.
    pub fn set_read_limit(&mut self, bytes: usize) {
        self.read_limit = bytes.max(1);
    }

    /// Starts a Logout on session `i` (a no-op when it is not connected); the session ends
    /// when the peer answers (an [`Event::Disconnect`] from a later turn) or its timeout passes.
    pub fn logout(&mut self, i: usize, now: u64, text: Option<&[u8]>) -> Result<(), SessionError> {
        let s = &mut self.sessions[i];
        if let Some(c) = self.bound[i].and_then(|c| self.conns[c].as_mut()) {
            s.logout(now, &mut c.t, text)?;
            let _ = c.t.flush();
        }
        Ok(())
    }

    /// Writes what is queued on every connection to its socket (a turn also does this).
    pub fn flush(&mut self) {
        for c in self.conns.iter_mut().flatten() {
            // A failed write shows up as a lost connection on the next turn.
            let _ = c.t.flush();
        }
    }

    fn close(&mut self, ci: usize, now: u64) {
        if let Some(mut c) = self.conns[ci].take() {
            let _ = c.t.flush();
            let _ = self.poll.registry().deregister(c.t.stream_mut());
            if let Some(si) = c.session {
                self.bound[si] = None;
                self.sessions[si].on_disconnected(now);
            }
        }
    }

    fn refuse(&mut self, ci: usize, now: u64, why: Refusal, detail: &str) {
        let peer = self.conns[ci].as_ref().map(|c| c.peer);
        tracing::warn!(?peer, ?why, detail, "FIX acceptor: connection refused");
        self.stats.refused += 1;
        self.close(ci, now);
    }

    /// One turn: accept, read, run every session's timers, flush. `ev` gets each event with
    /// the index of its session.
    pub fn turn(
        &mut self,
        now: u64,
        timeout: Option<Duration>,
        ev: &mut dyn FnMut(usize, Event<'_>),
    ) -> Result<(), SessionError> {
        if let Err(e) = self.poll.poll(&mut self.events, timeout) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(TransportError::Io(e).into());
            }
        }
        for e in self.events.iter() {
            if e.token() == LISTENER {
                self.listener_ready = true;
            } else if let Some(Some(c)) = self.conns.get_mut(e.token().0) {
                c.t.mark_readable();
            }
        }
        if self.listener_ready {
            self.accept_all(now)?;
        }
        for ci in 0..self.conns.len() {
            if self.conns[ci].is_some() {
                self.serve(ci, now, ev)?;
            }
        }
        Ok(())
    }

    fn accept_all(&mut self, now: u64) -> Result<(), SessionError> {
        loop {
            let (stream, peer) = match self.listener.accept() {
                Ok(x) => x,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.listener_ready = false;
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "FIX acceptor: accept failed");
                    return Ok(());
                }
            };
            self.stats.connections += 1;
            let free = self.conns.iter().position(Option::is_none);
            let Some(ci) = free.or_else(|| self.evict_oldest_unbound(now)) else {
                tracing::warn!(%peer, why = ?Refusal::Full, "FIX acceptor: connection refused");
                self.stats.refused += 1;
                continue;
            };
            let mut t = TcpTransport::new(stream, self.opts.tcp).map_err(TransportError::Io)?;
            t.track_readiness();
            self.poll
                .registry()
                .register(
                    t.stream_mut(),
                    Token(ci),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .map_err(TransportError::Io)?;
            let cap = self
                .sessions
                .iter()
                .map(|s| s.config().max_msg_len)
                .max()
                .unwrap_or(4096);
            self.conns[ci] = Some(Conn {
                t,
                session: None,
                pre: vec![0; cap].into_boxed_slice(),
                pre_len: 0,
                since: now,
                peer,
            });
        }
    }

    /// Closes the connection that has waited longest without logging on; returns its slot.
    fn evict_oldest_unbound(&mut self, now: u64) -> Option<usize> {
        let ci = self
            .conns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                c.as_ref()
                    .filter(|c| c.session.is_none())
                    .map(|c| (i, c.since))
            })
            .min_by_key(|&(_, since)| since)
            .map(|(i, _)| i)?;
        self.refuse(
            ci,
            now,
            Refusal::Full,
            "oldest connection without a Logon, for a new one",
        );
        Some(ci)
    }

    fn serve(
        &mut self,
        ci: usize,
        now: u64,
        ev: &mut dyn FnMut(usize, Event<'_>),
    ) -> Result<(), SessionError> {
        let Some(c) = self.conns[ci].as_mut() else {
            return Ok(());
        };
        let mut lost = false;
        if c.session.is_none() {
            // Unbound: collect the first message.
            loop {
                let room = &mut c.pre[c.pre_len..];
                if room.is_empty() {
                    break;
                }
                match c.t.recv_into(room) {
                    Ok(0) => break,
                    Ok(n) => c.pre_len += n,
                    Err(_) => {
                        lost = true;
                        break;
                    }
                }
            }
            if lost {
                self.close(ci, now);
                return Ok(());
            }
            return self.try_bind(ci, now, ev);
        }
        let Some(si) = c.session else { return Ok(()) };
        let s = &mut self.sessions[si];
        let lost = std::cell::Cell::new(false);
        let mut wrap = |e: Event<'_>| {
            if let Event::Disconnect { .. } = e {
                lost.set(true);
            }
            ev(si, e)
        };
        let mut read = 0usize;
        while read < self.read_limit {
            let room = self.rx.len().min(self.read_limit - read);
            match c.t.recv_into(&mut self.rx[..room]) {
                Ok(0) => break,
                Ok(n) => {
                    read += n;
                    s.on_bytes(now, &self.rx[..n], &mut c.t, &mut wrap)?
                }
                Err(_) => {
                    lost.set(true);
                    break;
                }
            }
            if s.state() == State::Disconnected {
                break;
            }
        }
        if !lost.get() {
            s.on_tick(now, &mut c.t, &mut wrap)?;
        }
        if c.t.flush().is_err() {
            lost.set(true);
        }
        if lost.get() || s.state() == State::Disconnected {
            self.close(ci, now);
        }
        Ok(())
    }

    fn try_bind(
        &mut self,
        ci: usize,
        now: u64,
        ev: &mut dyn FnMut(usize, Event<'_>),
    ) -> Result<(), SessionError> {
        let Some(c) = self.conns[ci].as_mut() else {
            return Ok(());
        };
        let buf = &c.pre[..c.pre_len];
        let len = match frame(buf, c.pre.len()) {
            Frame::Complete { len } => len,
            Frame::Incomplete
                if now.saturating_sub(c.since) < self.opts.logon_timeout_ns
                    && c.pre_len < c.pre.len() =>
            {
                return Ok(());
            }
            Frame::Incomplete | Frame::Oversized { .. } => {
                self.refuse(ci, now, Refusal::Timeout, "no Logon");
                return Ok(());
            }
            Frame::Garbled { why, .. } => {
                self.refuse(ci, now, Refusal::NotLogon, &why.to_string());
                return Ok(());
            }
        };
        let found = match self.dec.parse(&buf[..len]) {
            Ok(m) if m.msg_type() == b"A" => {
                let (theirs, ours) = (m.get(49).unwrap_or(b""), m.get(56).unwrap_or(b""));
                match self
                    .sessions
                    .iter()
                    .position(|s| s.config().target == theirs && s.config().sender == ours)
                {
                    Some(si) if self.bound[si].is_some() => Err((
                        Refusal::AlreadyConnected,
                        String::from_utf8_lossy(theirs).into_owned(),
                    )),
                    Some(si) => Ok(si),
                    None => Err((
                        Refusal::UnknownCompId,
                        format!(
                            "SenderCompID={} TargetCompID={}",
                            String::from_utf8_lossy(theirs),
                            String::from_utf8_lossy(ours)
                        ),
                    )),
                }
            }
            _ => Err((Refusal::NotLogon, "first message is not a Logon".into())),
        };
        match found {
            Err((why, detail)) => self.refuse(ci, now, why, &detail),
            Ok(si) => {
                c.session = Some(si);
                self.bound[si] = Some(ci);
                let s = &mut self.sessions[si];
                s.on_connected(now, &mut c.t)?;
                let lost = std::cell::Cell::new(false);
                let mut wrap = |e: Event<'_>| {
                    if let Event::Disconnect { .. } = e {
                        lost.set(true);
                    }
                    ev(si, e)
                };
                s.on_bytes(now, &c.pre[..c.pre_len], &mut c.t, &mut wrap)?;
                c.pre_len = 0;
                if c.t.flush().is_err() || lost.get() || s.state() == State::Disconnected {
                    self.close(ci, now);
                }
            }
        }
        Ok(())
    }
}
