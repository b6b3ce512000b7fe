//! A blocking SoupBinTCP 4.0 server for one capture's messages, one client at a time.
//!
//! A client logs in with the sequence number it wants next; the server answers Login Accepted
//! with the first number it will send and streams Sequenced Data from there at the chosen pace,
//! a Server Heartbeat after each second without output, and End of Session after the last
//! message. It then keeps the connection (heartbeating) until the client logs out, closes, or
//! goes quiet for [`ServerConfig::client_timeout`]. The next client (a restarted daemon) is
//! served from its own requested number, which is what lets a consumer resume without loss or
//! duplicates.
//!
//! Pacing (`Speed::Times`) follows the capture timestamps from the first message a client is
//! sent: a resumed client is not made to wait for the part of the day it skipped.
//!
//! Each connection has a reader thread (client packets: heartbeats, logout, close) and the
//! serving thread writes with a short timeout so a stop request or a vanished client is noticed
//! even while the client's receive window is full.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::codec::{alpha, trim, Decoder, LoginRequest, Packet, RejectReason, SESSION_LEN};
use super::messages::SoupMessage;
pub use super::server_config::{ServerConfig, ServerError, ServerStats, ServerStop};
use crate::replay::Speed;

/// Granularity of waits: how soon stop requests and departed clients are noticed.
const TICK: Duration = Duration::from_millis(20);
/// Output is flushed once this many bytes are buffered (max speed sends in large writes).
const FLUSH_AT: usize = 64 * 1024;

/// The server of one capture's messages.
#[derive(Debug)]
pub struct SoupServer {
    listener: TcpListener,
    cfg: ServerConfig,
    session: [u8; SESSION_LEN],
    messages: Arc<Vec<SoupMessage>>,
    stop: ServerStop,
    stats: ServerStats,
}

/// State shared by a connection's reader thread and the serving thread.
#[derive(Debug)]
struct Conn {
    /// When the connection was accepted; `last_seen_ms` counts from here.
    epoch: Instant,
    gone: AtomicBool,
    logout: AtomicBool,
    done: AtomicBool,
    /// Milliseconds since the connection started at the client's last packet.
    last_seen_ms: AtomicU64,
    client_heartbeats: AtomicU64,
    malformed: AtomicU64,
}

impl Conn {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            gone: AtomicBool::new(false),
            logout: AtomicBool::new(false),
            done: AtomicBool::new(false),
            last_seen_ms: AtomicU64::new(0),
            client_heartbeats: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
        }
    }
}

enum Outcome {
    Ok,
    Gone,
}

impl SoupServer {
    /// Listens on `cfg.addr` to serve `messages` (soup sequence `k` = `messages[k - 1]`).
    pub fn bind(cfg: ServerConfig, messages: Vec<SoupMessage>) -> Result<Self, ServerError> {
        if !cfg.addr.ip().is_loopback() && !cfg.allow_remote {
            return Err(ServerError::NotLoopback(cfg.addr));
        }
        if cfg.session.len() > SESSION_LEN || !cfg.session.is_ascii() {
            return Err(ServerError::Session(cfg.session.clone()));
        }
        let bind = |source| ServerError::Bind {
            addr: cfg.addr,
            source,
        };
        let listener = TcpListener::bind(cfg.addr).map_err(bind)?;
        listener.set_nonblocking(true).map_err(bind)?;
        Ok(Self {
            listener,
            session: alpha(&cfg.session),
            cfg,
            messages: Arc::new(messages),
            stop: ServerStop::default(),
            stats: ServerStats::default(),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
    /// Messages served per client.
    pub fn len(&self) -> usize {
        self.messages.len()
    }
    /// True if there is nothing to serve but End of Session.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
    /// A handle that stops [`SoupServer::run`].
    pub fn stop_handle(&self) -> ServerStop {
        self.stop.clone()
    }
    /// Counters so far.
    pub fn stats(&self) -> ServerStats {
        self.stats
    }

    /// Serves clients one after another until stopped or `max_clients` have been served.
    pub fn run(&mut self) -> Result<ServerStats, ServerError> {
        loop {
            if self.stop.is_stopped()
                || self.cfg.max_clients.is_some_and(|n| self.stats.served >= n)
            {
                return Ok(self.stats);
            }
            match self.listener.accept() {
                Ok((s, peer)) => {
                    self.stats.connections += 1;
                    if let Err(e) = self.serve(s) {
                        tracing::info!("soup server: client {peer}: {e}");
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(TICK),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ServerError::Accept(e)),
            }
        }
    }

    /// Reads the Login Request (the first packet) within the client timeout.
    fn read_login(&mut self, s: &mut TcpStream) -> io::Result<Option<LoginRequest>> {
        s.set_read_timeout(Some(TICK))?;
        let start = Instant::now();
        let mut dec = Decoder::new();
        loop {
            if let Some(p) = dec.next_packet() {
                return Ok(match p {
                    Ok(Packet::LoginRequest(l)) => Some(l),
                    _ => None,
                });
            }
            if self.stop.is_stopped() || start.elapsed() > self.cfg.client_timeout {
                return Ok(None);
            }
            match dec.read_from(s) {
                Ok(0) => return Ok(None),
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn serve(&mut self, mut s: TcpStream) -> io::Result<()> {
        s.set_nonblocking(false)?;
        let _ = s.set_nodelay(true);
        let Some(login) = self.read_login(&mut s)? else {
            self.stats.protocol_errors += 1;
            return Ok(());
        };
        let matches =
            |want: &Option<String>, got: &[u8]| want.as_deref().is_none_or(|w| w == trim(got));
        let reject = if !(matches(&self.cfg.username, &login.username)
            && matches(&self.cfg.password, &login.password))
        {
            Some(RejectReason::NotAuthorized)
        } else {
            let want = trim(&login.session);
            (!want.is_empty() && want != trim(&self.session))
                .then_some(RejectReason::SessionNotAvailable)
        };
        if let Some(r) = reject {
            self.stats.rejected += 1;
            let mut b = Vec::new();
            // A fixed-size packet always encodes.
            let _ = Packet::LoginRejected(r).encode(&mut b);
            s.set_write_timeout(Some(TICK))?;
            let _ = s.write_all(&b);
            let _ = s.shutdown(Shutdown::Both);
            return Ok(());
        }
        // 1-based; 0 means "from the end"; past the end waits at the end.
        let end = self.messages.len() as u64 + 1;
        let first = if login.seq == 0 {
            end
        } else {
            login.seq.min(end)
        };
        self.stats.logins += 1;
        let conn = Arc::new(Conn::new());
        let reader = {
            let (mut rs, conn) = (s.try_clone()?, conn.clone());
            std::thread::Builder::new()
                .name("soup-server-rx".into())
                .spawn(move || read_client(&mut rs, &conn))?
        };
        s.set_write_timeout(Some(TICK))?;
        let r = self.stream(&mut s, &conn, first);
        conn.done.store(true, Relaxed);
        let _ = s.shutdown(Shutdown::Both);
        let _ = reader.join();
        self.stats.served += 1;
        self.stats.client_heartbeats += conn.client_heartbeats.load(Relaxed);
        self.stats.malformed += conn.malformed.load(Relaxed);
        if conn.logout.load(Relaxed) {
            self.stats.logouts += 1;
        }
        r
    }

    /// Login Accepted, the messages from `first`, End of Session, then heartbeats until the
    /// client leaves.
    fn stream(&mut self, s: &mut TcpStream, conn: &Conn, first: u64) -> io::Result<()> {
        let mut out = Vec::with_capacity(FLUSH_AT + 4096);
        let mut last_out = Instant::now();
        let _ = Packet::LoginAccepted {
            session: self.session,
            seq: first,
        }
        .encode(&mut out);
        let from = usize::try_from(first - 1).unwrap_or(usize::MAX);
        let all = self.messages.clone();
        let msgs = all.get(from..).unwrap_or(&[]);
        let (t0, ts0) = (Instant::now(), msgs.first().map_or(0, |m| m.ts_ns));
        for m in msgs {
            if let Speed::Times { milli } = self.cfg.speed {
                let rel = u128::from(m.ts_ns.saturating_sub(ts0)) * 1000 / u128::from(milli);
                let due = t0 + Duration::from_nanos(rel.min(u128::from(u64::MAX)) as u64);
                if due > Instant::now() {
                    if let Outcome::Gone = self.flush(s, conn, &mut out, &mut last_out)? {
                        return Ok(());
                    }
                    if let Outcome::Gone = self.idle_until(s, conn, due, &mut last_out)? {
                        return Ok(());
                    }
                }
            }
            if self.stop.is_stopped() || conn.gone.load(Relaxed) {
                return Ok(());
            }
            if Packet::SequencedData(&m.bytes).encode(&mut out).is_ok() {
                self.stats.messages += 1;
            }
            if out.len() >= FLUSH_AT {
                if let Outcome::Gone = self.flush(s, conn, &mut out, &mut last_out)? {
                    return Ok(());
                }
            }
        }
        let _ = Packet::EndOfSession.encode(&mut out);
        if let Outcome::Gone = self.flush(s, conn, &mut out, &mut last_out)? {
            return Ok(());
        }
        self.stats.end_of_session += 1;
        // Far future: idle until the client leaves, times out or the server stops.
        let never = Instant::now() + Duration::from_secs(100 * 365 * 86_400);
        self.idle_until(s, conn, never, &mut last_out)?;
        Ok(())
    }

    /// Waits until `due` (sleeping, then spinning the last 200 µs for pacing accuracy),
    /// heartbeating when idle and watching for stop, departure and client silence.
    fn idle_until(
        &mut self,
        s: &mut TcpStream,
        conn: &Conn,
        due: Instant,
        last_out: &mut Instant,
    ) -> io::Result<Outcome> {
        loop {
            if self.stop.is_stopped() || conn.gone.load(Relaxed) {
                return Ok(Outcome::Gone);
            }
            let now = Instant::now();
            let seen = Duration::from_millis(conn.last_seen_ms.load(Relaxed));
            if now.duration_since(conn.epoch).saturating_sub(seen) > self.cfg.client_timeout {
                self.stats.timeouts += 1;
                return Ok(Outcome::Gone);
            }
            if now.duration_since(*last_out) >= self.cfg.heartbeat {
                let mut hb = Vec::with_capacity(3);
                let _ = Packet::ServerHeartbeat.encode(&mut hb);
                if let Outcome::Gone = self.flush(s, conn, &mut hb, last_out)? {
                    return Ok(Outcome::Gone);
                }
                self.stats.heartbeats += 1;
            }
            if now >= due {
                return Ok(Outcome::Ok);
            }
            let left = due - now;
            if left > Duration::from_micros(200) {
                std::thread::sleep((left - Duration::from_micros(200)).min(TICK));
            } else {
                std::hint::spin_loop();
            }
        }
    }

    /// Writes `out` whole (retrying on write timeouts while the client is still there).
    fn flush(
        &mut self,
        s: &mut TcpStream,
        conn: &Conn,
        out: &mut Vec<u8>,
        last_out: &mut Instant,
    ) -> io::Result<Outcome> {
        let mut at = 0;
        while at < out.len() {
            match s.write(&out[at..]) {
                Ok(0) => return Ok(Outcome::Gone),
                Ok(n) => at += n,
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {
                    if self.stop.is_stopped() || conn.gone.load(Relaxed) {
                        return Ok(Outcome::Gone);
                    }
                }
                Err(e) if is_disconnect(&e) => return Ok(Outcome::Gone),
                Err(e) => return Err(e),
            }
        }
        self.stats.bytes += out.len() as u64;
        out.clear();
        *last_out = Instant::now();
        Ok(Outcome::Ok)
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected
            | io::ErrorKind::UnexpectedEof
    )
}

/// The reader thread: client heartbeats, logout, malformed packets, end of stream.
fn read_client(s: &mut TcpStream, conn: &Conn) {
    let _ = s.set_read_timeout(Some(TICK));
    let mut dec = Decoder::new();
    let mut buf = [0u8; 4096];
    while !conn.done.load(Relaxed) {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => dec.feed(&buf[..n]),
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
        conn.last_seen_ms
            .store(conn.epoch.elapsed().as_millis() as u64, Relaxed);
        while let Some(p) = dec.next_packet() {
            match p {
                Ok(Packet::ClientHeartbeat) => {
                    conn.client_heartbeats.fetch_add(1, Relaxed);
                }
                Ok(Packet::LogoutRequest) => {
                    conn.logout.store(true, Relaxed);
                    conn.gone.store(true, Relaxed);
                    return;
                }
                // Unsequenced Data and Debug have no meaning for a market-data feed.
                Ok(_) => {}
                Err(_) => {
                    conn.malformed.fetch_add(1, Relaxed);
                }
            }
        }
    }
    conn.gone.store(true, Relaxed);
}
