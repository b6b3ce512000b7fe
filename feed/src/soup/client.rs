//! A non-blocking (mio) SoupBinTCP 4.0 client that survives server restarts.
//!
//! It connects, logs in asking for the next sequence number it has not delivered, delivers
//! each Sequenced Data message with its number, sends a Client Heartbeat after each second
//! without output, and when the connection goes away (closed, reset, or silent for
//! [`ClientConfig::server_timeout`]) reconnects after a doubling backoff, asking again for the
//! next undelivered number. Messages the server repeats are dropped (counted), and messages it
//! skips are reported as a gap: what is delivered is each number at most once, in order.
//! A server that comes back numbering a new space — a new session in its Login Accepted, or
//! the same session from 1 again — is a reset ([`ClientEvent::Reset`], counted): the new
//! space is delivered from its first number, not dropped as already seen.
//!
//! [`SoupClient::poll`] does a bounded amount of work: it delivers at most `max_data` messages
//! and reads from the socket only when its buffer holds no whole packet, so a caller that stops
//! taking messages stops reading and TCP flow control holds the server back (nothing buffers
//! without bound here). mio is edge-triggered, so the socket is read until `WouldBlock` before
//! the client ever blocks in `Poll::poll`.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use super::codec::{Decoder, LoginRequest, Packet, RejectReason};
use super::session::{handle, Action, Link, State};
pub use super::session::{ClientEvent, ClientStats};
use crate::recv::sys;

const CONN: Token = Token(0);

/// How to connect.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Server address.
    pub addr: SocketAddr,
    /// Username (up to 6 characters).
    pub username: String,
    /// Password (up to 10 characters).
    pub password: String,
    /// Session to join; empty joins the server's current one.
    pub session: String,
    /// Client Heartbeat after this long without output (1 s in the spec).
    pub heartbeat: Duration,
    /// The server is taken as gone after this long without a packet (it heartbeats every 1 s).
    pub server_timeout: Duration,
    /// First reconnect delay; doubles on each failure up to `backoff_max`.
    pub backoff_min: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
    /// Reconnect when the connection is lost (false: close for good).
    pub reconnect: bool,
}

impl ClientConfig {
    /// Defaults: no credentials, current session, 1 s heartbeats, 15 s server timeout, backoff
    /// 50 ms doubling to 2 s, reconnecting.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            username: String::new(),
            password: String::new(),
            session: String::new(),
            heartbeat: Duration::from_secs(1),
            server_timeout: Duration::from_secs(15),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
            reconnect: true,
        }
    }
}

/// The client. Create with [`SoupClient::connect`], drive with [`SoupClient::poll`].
#[derive(Debug)]
pub struct SoupClient {
    cfg: ClientConfig,
    poll: Poll,
    events: Events,
    stream: Option<mio::net::TcpStream>,
    dec: Decoder,
    out: Vec<u8>,
    link: Link,
    backoff: Duration,
    last_sent: Instant,
    last_recv: Instant,
    logout_deadline: Option<Instant>,
    /// The last read returned `WouldBlock`: blocking in `Poll::poll` is safe.
    drained: bool,
}

impl SoupClient {
    /// Starts connecting to `cfg.addr`; the first login will ask for `next_seq` (1 = from the
    /// start, 0 = only new messages).
    pub fn connect(cfg: ClientConfig, next_seq: u64) -> io::Result<Self> {
        let now = Instant::now();
        let mut c = Self {
            backoff: cfg.backoff_min,
            cfg,
            poll: Poll::new()?,
            events: Events::with_capacity(4),
            stream: None,
            dec: Decoder::new(),
            out: Vec::with_capacity(256),
            link: Link {
                state: State::Backoff { until: now },
                next_seq,
                recv_seq: 0,
                session: None,
                ended: false,
                logging_out: false,
                rejected: None,
                recv_ns: 0,
                stats: ClientStats::default(),
                last_error: None,
            },
            last_sent: now,
            last_recv: now,
            logout_deadline: None,
            drained: false,
        };
        c.start_connect();
        Ok(c)
    }

    /// Next sequence number not yet delivered (what a reconnect asks for).
    pub fn next_seq(&self) -> u64 {
        self.link.next_seq
    }
    /// Counters so far.
    pub fn stats(&self) -> ClientStats {
        self.link.stats
    }
    /// True once End of Session arrived.
    pub fn ended(&self) -> bool {
        self.link.ended
    }
    /// True once closed for good (logged out, rejected, or lost without reconnecting).
    pub fn is_closed(&self) -> bool {
        self.link.state == State::Closed
    }
    /// True while logged in.
    pub fn is_logged_in(&self) -> bool {
        self.link.state == State::Active
    }
    /// Why the login was rejected, if it was.
    pub fn rejected(&self) -> Option<RejectReason> {
        self.link.rejected
    }
    /// The last connection error or malformed packet, for reports.
    pub fn last_error(&self) -> Option<&str> {
        self.link.last_error.as_deref()
    }

    /// Sends a Logout Request and closes (at once if not connected).
    pub fn logout(&mut self) {
        match self.link.state {
            State::LoggingIn | State::Active if !self.link.logging_out => {
                let _ = Packet::LogoutRequest.encode(&mut self.out);
                self.link.logging_out = true;
                self.logout_deadline = Some(Instant::now() + Duration::from_secs(1));
                self.flush();
                if self.out.is_empty() {
                    self.close();
                }
            }
            State::LoggingIn | State::Active => {}
            _ => self.close(),
        }
    }

    fn close(&mut self) {
        if let Some(mut s) = self.stream.take() {
            let _ = self.poll.registry().deregister(&mut s);
        }
        self.link.state = State::Closed;
    }

    fn start_connect(&mut self) {
        self.link.stats.connects += 1;
        if self.link.stats.connects > 1 {
            self.link.stats.reconnects += 1;
        }
        self.dec = Decoder::new();
        self.out.clear();
        self.drained = false;
        let r = mio::net::TcpStream::connect(self.cfg.addr).and_then(|mut s| {
            self.poll
                .registry()
                .register(&mut s, CONN, Interest::READABLE | Interest::WRITABLE)?;
            Ok(s)
        });
        match r {
            Ok(s) => {
                self.stream = Some(s);
                self.link.state = State::Connecting {
                    since: Instant::now(),
                };
            }
            Err(e) => self.lost(format!("connecting to {}: {e}", self.cfg.addr)),
        }
    }

    /// The connection is gone: back off and retry, or close for good.
    fn lost(&mut self, why: String) {
        if let Some(mut s) = self.stream.take() {
            let _ = self.poll.registry().deregister(&mut s);
        }
        self.link.stats.disconnects += 1;
        tracing::debug!("soup client: {why}");
        self.link.last_error = Some(why);
        let l = &mut self.link;
        if l.ended || l.logging_out || l.rejected.is_some() || !self.cfg.reconnect {
            l.state = State::Closed;
        } else {
            l.state = State::Backoff {
                until: Instant::now() + self.backoff,
            };
            self.backoff = (self.backoff * 2).min(self.cfg.backoff_max);
        }
    }

    /// Writes what is queued; a write error is noticed by the next read.
    fn flush(&mut self) {
        let Some(s) = self.stream.as_mut() else {
            self.out.clear();
            return;
        };
        while !self.out.is_empty() {
            match s.write(&self.out) {
                Ok(0) => break,
                Ok(n) => {
                    self.out.drain(..n);
                    self.last_sent = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }

    /// One round of work: connection progress, heartbeats, at most `max_data` messages
    /// delivered through `on`. Waits up to `wait` for input when there is nothing to do
    /// (`Duration::ZERO` never blocks). Returns the events delivered.
    pub fn poll(
        &mut self,
        max_data: usize,
        wait: Duration,
        on: &mut impl FnMut(ClientEvent<'_>),
    ) -> io::Result<usize> {
        let now = Instant::now();
        match self.link.state {
            State::Closed => return Ok(0),
            State::Backoff { until } => {
                if now < until {
                    self.wait(wait.min(until - now))?;
                    return Ok(0);
                }
                self.start_connect();
                return Ok(0);
            }
            State::Connecting { since } => return self.connecting(since, wait),
            State::LoggingIn | State::Active => {}
        }
        if self.link.logging_out {
            self.flush();
            if self.out.is_empty() || self.logout_deadline.is_some_and(|d| now >= d) {
                self.close();
            }
            return Ok(0);
        }
        if now.duration_since(self.last_sent) >= self.cfg.heartbeat {
            let _ = Packet::ClientHeartbeat.encode(&mut self.out);
            self.link.stats.heartbeats_sent += 1;
        }
        self.flush();
        if max_data == 0 {
            // Not reading by choice (the caller is full): the server's silence is ours.
            self.last_recv = now;
            return Ok(0);
        }
        if self.drained && !self.dec.has_packet() && !wait.is_zero() {
            let hb_due = self
                .cfg
                .heartbeat
                .saturating_sub(now.duration_since(self.last_sent));
            self.wait(wait.min(hb_due))?;
        }
        self.read(max_data, on)
    }

    fn wait(&mut self, d: Duration) -> io::Result<()> {
        if d.is_zero() {
            return Ok(());
        }
        match self.poll.poll(&mut self.events, Some(d)) {
            Err(e) if e.kind() != io::ErrorKind::Interrupted => Err(e),
            _ => Ok(()),
        }
    }

    fn connecting(&mut self, since: Instant, wait: Duration) -> io::Result<usize> {
        let Some(s) = self.stream.as_ref() else {
            self.lost("no socket".into());
            return Ok(0);
        };
        // mio's recipe: an error, or a peer address once the handshake completed.
        let err = match s.take_error() {
            Ok(Some(e)) | Err(e) => Some(e),
            Ok(None) => None,
        };
        if let Some(e) = err {
            self.lost(format!("connecting to {}: {e}", self.cfg.addr));
            return Ok(0);
        }
        match s.peer_addr() {
            Ok(_) => {
                let req = LoginRequest::new(
                    &self.cfg.username,
                    &self.cfg.password,
                    &self.cfg.session,
                    self.link.next_seq,
                );
                let _ = s.set_nodelay(true);
                let _ = Packet::LoginRequest(req).encode(&mut self.out);
                self.link.state = State::LoggingIn;
                self.last_recv = Instant::now();
                self.flush();
                Ok(0)
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                if since.elapsed() > self.cfg.server_timeout {
                    self.lost(format!("connecting to {}: timed out", self.cfg.addr));
                } else {
                    self.wait(wait)?;
                }
                Ok(0)
            }
            Err(e) => {
                self.lost(format!("connecting to {}: {e}", self.cfg.addr));
                Ok(0)
            }
        }
    }

    fn read(&mut self, max_data: usize, on: &mut impl FnMut(ClientEvent<'_>)) -> io::Result<usize> {
        let mut delivered = 0;
        loop {
            while delivered < max_data {
                let Some(p) = self.dec.next_packet() else {
                    break;
                };
                match handle(&mut self.link, p, on) {
                    (Action::Continue, n) => delivered += n,
                    (Action::Close, n) => {
                        delivered += n;
                        self.close();
                        return Ok(delivered);
                    }
                    (Action::Drop(why), n) => {
                        delivered += n;
                        self.lost(why);
                        on(ClientEvent::Disconnected);
                        return Ok(delivered);
                    }
                }
            }
            if delivered >= max_data || self.dec.has_packet() {
                return Ok(delivered);
            }
            let Some(s) = self.stream.as_mut() else {
                return Ok(delivered);
            };
            match self.dec.read_from(s) {
                Ok(0) => {
                    self.lost("server closed the connection".into());
                    on(ClientEvent::Disconnected);
                    return Ok(delivered);
                }
                Ok(_) => {
                    self.drained = false;
                    self.last_recv = Instant::now();
                    self.link.recv_ns = sys::mono_ns();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.drained = true;
                    if self.last_recv.elapsed() > self.cfg.server_timeout {
                        self.link.stats.timeouts += 1;
                        self.lost(format!(
                            "no packet from the server for {:?}",
                            self.cfg.server_timeout
                        ));
                        on(ClientEvent::Disconnected);
                    }
                    return Ok(delivered);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.lost(format!("reading: {e}"));
                    on(ClientEvent::Disconnected);
                    return Ok(delivered);
                }
            }
        }
    }
}
