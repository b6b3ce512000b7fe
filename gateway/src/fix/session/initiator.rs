//! The initiator's socket driver: connects (again, with backoff, after any loss), feeds the
//! socket to the [`Session`] and flushes what it writes. mam uses it toward LPs.

use std::net::SocketAddr;
use std::time::Duration;

use mio::{Events, Interest, Poll, Token};

use super::{Event, Session, SessionError, State};
use crate::fix::encode::MsgWriter;
use crate::transport::tcp::{TcpOptions, TcpTransport};
use crate::transport::{Transport, TransportError};

const CONN: Token = Token(0);

/// UTC nanoseconds since the epoch from the system clock (the value the drivers pass in):
/// `mam_core::sys::utc_now_ns`, the repository's one wall clock.
pub use mam_core::sys::utc_now_ns as now_ns;

/// Where and how the initiator connects.
#[derive(Debug, Clone, Copy)]
pub struct InitiatorOptions {
    /// The acceptor's address.
    pub addr: SocketAddr,
    /// Socket buffer sizes.
    pub tcp: TcpOptions,
    /// Longest wait for one connect.
    pub connect_timeout: Duration,
    /// First reconnect delay (doubles after each failure).
    pub backoff_min: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
}

impl InitiatorOptions {
    /// Defaults for `addr`: 1 MiB send buffer, reconnect after 100 ms doubling to 5 s.
    pub fn new(addr: SocketAddr) -> Self {
        InitiatorOptions {
            addr,
            tcp: TcpOptions::default(),
            connect_timeout: Duration::from_secs(2),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
        }
    }
}

/// A FIX initiator over mio TCP.
#[derive(Debug)]
pub struct Initiator {
    session: Session,
    opts: InitiatorOptions,
    poll: Poll,
    events: Events,
    conn: Option<TcpTransport>,
    rx: Box<[u8]>,
    backoff_ns: u64,
    next_attempt_ns: u64,
    connects: u64,
    /// Connection attempts that failed, in all.
    connect_failures: u64,
    /// Failed attempts since the last connection (0 while connected).
    failing: u64,
}

impl Initiator {
    /// An initiator for `session` (not connected yet: [`Initiator::turn`] connects).
    pub fn new(session: Session, opts: InitiatorOptions) -> std::io::Result<Self> {
        Ok(Initiator {
            rx: vec![0; opts.tcp.recv_chunk.max(4096)].into_boxed_slice(),
            session,
            backoff_ns: opts.backoff_min.as_nanos() as u64,
            opts,
            poll: Poll::new()?,
            events: Events::with_capacity(16),
            conn: None,
            next_attempt_ns: 0,
            connects: 0,
            connect_failures: 0,
            failing: 0,
        })
    }

    /// The session.
    pub fn session(&self) -> &Session {
        &self.session
    }
    /// True when logged on.
    pub fn is_logged_on(&self) -> bool {
        self.session.is_active()
    }
    /// Connections made so far.
    pub fn connects(&self) -> u64 {
        self.connects
    }
    /// Connection attempts that failed (refused, timed out, unreachable) so far.
    pub fn connect_failures(&self) -> u64 {
        self.connect_failures
    }
    /// The connection's counters, when connected.
    pub fn tcp_stats(&self) -> Option<crate::transport::tcp::TcpStats> {
        self.conn.as_ref().map(|c| c.stats())
    }

    /// Sends an application message (see [`Session::send_app`]); it leaves on the next
    /// [`Initiator::flush`] or [`Initiator::turn`].
    #[inline]
    pub fn send_app(
        &mut self,
        now: u64,
        msg_type: &[u8],
        body: impl FnOnce(&mut MsgWriter<'_>),
    ) -> Result<u64, SessionError> {
        match self.conn.as_mut() {
            Some(c) => self.session.send_app(now, c, msg_type, body),
            None => Err(SessionError::NotLoggedOn(self.session.state())),
        }
    }

    /// Writes what is queued to the socket.
    pub fn flush(&mut self) -> Result<(), SessionError> {
        if let Some(c) = self.conn.as_mut() {
            if let Err(e) = c.flush() {
                tracing::warn!(error = %e, "FIX initiator: write failed");
                self.drop_conn(super::now_or(0));
            }
        }
        Ok(())
    }

    /// Starts a Logout.
    pub fn logout(&mut self, now: u64, text: Option<&[u8]>) -> Result<(), SessionError> {
        if let Some(c) = self.conn.as_mut() {
            self.session.logout(now, c, text)?;
            let _ = c.flush();
        }
        Ok(())
    }

    /// Drops the connection at once (no Logout): what a crash looks like to the peer.
    pub fn close(&mut self, now: u64) {
        self.drop_conn(now);
    }

    fn drop_conn(&mut self, now: u64) {
        if let Some(mut c) = self.conn.take() {
            let _ = self.poll.registry().deregister(c.stream_mut());
            self.session.on_disconnected(now);
            self.next_attempt_ns = now + self.backoff_ns;
            self.backoff_ns = (self.backoff_ns * 2).min(self.opts.backoff_max.as_nanos() as u64);
        }
    }

    /// One turn of the loop: connect if due, wait up to `timeout` for the socket, hand what
    /// arrived to the session, run its timers and flush. Events go to `ev`.
    pub fn turn(
        &mut self,
        now: u64,
        timeout: Option<Duration>,
        ev: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), SessionError> {
        if self.conn.is_none() {
            if now < self.next_attempt_ns {
                let wait = Duration::from_nanos(self.next_attempt_ns - now);
                std::thread::sleep(timeout.map_or(wait, |t| t.min(wait)));
                return Ok(());
            }
            match TcpTransport::connect(self.opts.addr, self.opts.connect_timeout, self.opts.tcp) {
                Ok(mut c) => {
                    self.poll
                        .registry()
                        .register(
                            c.stream_mut(),
                            CONN,
                            Interest::READABLE | Interest::WRITABLE,
                        )
                        .map_err(TransportError::Io)?;
                    c.track_readiness();
                    self.connects += 1;
                    if self.failing > 0 {
                        tracing::warn!(addr = %self.opts.addr, failed_attempts = self.failing, "FIX initiator: connected after failed attempts");
                    } else {
                        tracing::info!(addr = %self.opts.addr, "FIX initiator: connected");
                    }
                    self.failing = 0;
                    self.session.on_connected(now, &mut c)?;
                    let _ = c.flush();
                    self.conn = Some(c);
                }
                Err(e) => {
                    self.connect_failures += 1;
                    self.failing += 1;
                    // A peer that is down must be seen (a WARN, not only a counter), but a
                    // retry every backoff must not flood the log: the 1st, 2nd, 4th, 8th, ...
                    // failure of a run is logged.
                    if self.failing.is_power_of_two() {
                        tracing::warn!(addr = %self.opts.addr, error = %e, failed_attempts = self.failing, retry_in_ms = self.backoff_ns / 1_000_000, "FIX initiator: peer unreachable, retrying");
                    } else {
                        tracing::debug!(addr = %self.opts.addr, error = %e, "FIX initiator: connect failed");
                    }
                    self.next_attempt_ns = now + self.backoff_ns;
                    self.backoff_ns =
                        (self.backoff_ns * 2).min(self.opts.backoff_max.as_nanos() as u64);
                    return Ok(());
                }
            }
        }
        if let Err(e) = self.poll.poll(&mut self.events, timeout) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(TransportError::Io(e).into());
            }
        }
        if !self.events.is_empty() {
            // The connection is the only thing registered.
            if let Some(c) = self.conn.as_mut() {
                c.mark_readable();
            }
        }
        let lost = std::cell::Cell::new(false);
        let logged_on = std::cell::Cell::new(false);
        {
            let Some(conn) = self.conn.as_mut() else {
                return Ok(());
            };
            let mut wrap = |e: Event<'_>| {
                match e {
                    Event::Disconnect { .. } => lost.set(true),
                    Event::LoggedOn { .. } => logged_on.set(true),
                    _ => {}
                }
                ev(e)
            };
            loop {
                match conn.recv_into(&mut self.rx) {
                    Ok(0) => break,
                    Ok(n) => self.session.on_bytes(now, &self.rx[..n], conn, &mut wrap)?,
                    Err(e) => {
                        tracing::info!(error = %e, "FIX initiator: connection lost");
                        lost.set(true);
                        break;
                    }
                }
                if self.session.state() == State::Disconnected {
                    break;
                }
            }
            if !lost.get() {
                self.session.on_tick(now, conn, &mut wrap)?;
                if conn.flush().is_err() {
                    lost.set(true);
                }
            } else {
                let _ = conn.flush();
            }
        }
        if logged_on.get() {
            self.backoff_ns = self.opts.backoff_min.as_nanos() as u64;
        }
        if lost.get() || self.session.state() == State::Disconnected {
            self.drop_conn(now);
        }
        Ok(())
    }
}
