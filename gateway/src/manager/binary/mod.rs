//! The daemon's second manager edge: binary order entry (SBE, `gateway/schema/mam-oe-sbe.xml`,
//! templates 20-25) for co-located managers, with the contract of the FIX manager session
//! (`docs/daemon.md`; the binary side: `docs/binary-order-entry.md`).
//!
//! - [`convert`]: MasterOrder / MasterCancel / MasterReplace / ManagerClock → engine inputs,
//!   through the FIX edge's rules ([`crate::manager::rules`]), and refusals as MasterRejects.
//! - [`report`]: the engine's reports as MasterReports.
//! - [`BinaryManagerStage`]: the acceptor as a pipeline stage (one session on a non-blocking
//!   TCP listener, loopback by default), with the FIX stage's ring discipline, clock and
//!   refusals.
//! - [`client`]: the manager's end (`mam manager --protocol binary`, the tests, the benchmark).

pub mod client;
pub mod convert;
pub mod report;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Acquire};
use std::sync::Arc;

use mam_core::pipeline::{EdgeFrame, ManagerReport, RingRx, RingTx, Stage};
use mam_core::symbol::SymbolTable;
use thiserror::Error;

use super::backlog::{Backlog, Delivery};
use super::clock::{ManagerClock as Clock, STOPPING};
use super::convert::{scope_input, MasterDefaults, MasterRefusal, OrdRejReason, SharedDefaults};
use super::resume::rewound;
use super::rules::Converted;
use super::stats::{inc, ManagerCounters, ManagerStats};
use crate::binary::codec::{AppMessage, AppView};
use crate::binary::framed::Framed;
use crate::binary::master_msg::{self as msg, MasterReject};
use crate::binary::session::{Role, Session, SessionConfig, State};
use crate::binary::store::{SeqStore, StoreError};
use crate::fix::session::initiator::now_ns;
use crate::latency::{mono_ns, LatencyTap};
use crate::transport::tcp::{TcpOptions, TcpTransport};

/// Name of the latency histogram published to the tap: bytes read → frame on the ring, ns.
pub const HIST_NAME: &str = "manager_in_binary";
/// A connection that has not established its session after this long is closed (ns).
pub const ESTABLISH_WAIT_NS: u64 = 2_000_000_000;
/// Messages the store keeps for retransmission by default (256 bytes each).
pub const STORE_CAPACITY: u32 = 16_384;

/// How the binary manager stage listens and converts.
#[derive(Debug, Clone)]
pub struct BinaryManagerOptions {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The session id the manager's Establish must carry.
    pub session_id: u64,
    /// Heartbeat interval (ms): Sequence after this much silence; three without a word from
    /// the manager end the session.
    pub keepalive_ms: u32,
    /// The session's store file (`<state>/binary-manager-<number>.store`).
    pub store_path: PathBuf,
    /// Messages the store keeps for retransmission.
    pub store_capacity: u32,
    /// The last master seqNo the journal holds: the session expects the one after it, so the
    /// manager retransmits everything later when it establishes.
    pub resume_after: Option<u64>,
    /// Listen on a non-loopback address (refused otherwise).
    pub allow_remote: bool,
    /// Model, routing and min-lot policy of orders that do not say.
    pub defaults: MasterDefaults,
    /// The manager's number (bits 56-61 of its ids).
    pub manager: u8,
    /// SendingTime accuracy: an Establish stamped further than this (ns) from our clock is
    /// terminated (ClockSkew); `None`: not checked. The daemon's default is 120 s, as for FIX
    /// (`manager.sending_time_tolerance`).
    pub sending_time_tolerance_ns: Option<u64>,
}

/// Why the stage cannot start.
#[derive(Debug, Error)]
pub enum BinaryManagerError {
    /// A non-loopback address without `allow_remote`.
    #[error("listen {0} is not a loopback address (set allow_remote to listen on it)")]
    Remote(SocketAddr),
    /// The session store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Binding the listener.
    #[error("listen {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// The latency histogram.
    #[error(transparent)]
    Latency(#[from] crate::latency::LatencyError),
}

type Conn = Session<Framed<TcpTransport>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    Draining,
    Done,
}

/// What the session's callback touches.
#[derive(Debug)]
struct Handler {
    symbols: SymbolTable,
    manager: u8,
    defaults: MasterDefaults,
    time: Clock,
    /// Frames for the engine and the MasterRejects behind them, in arrival order.
    backlog: Backlog<MasterReject>,
    stats: Arc<ManagerCounters>,
    read_ns: u64,
    events: usize,
}

impl Handler {
    /// Queues a frame for the engine and the reply behind it (see [`Backlog::queue`]).
    fn queue(&mut self, frame: Option<EdgeFrame>, order: bool, reply: Option<MasterReject>) {
        self.backlog.queue(frame, order, self.read_ns, reply);
    }

    fn refuse(&mut self, v: &AppView<'_>, orig: u64, r: &MasterRefusal, f: Option<EdgeFrame>) {
        tracing::info!(seq = v.seq_no(), refusal = %r, "binary manager message refused");
        match r {
            MasterRefusal::Session { .. } => inc(&self.stats.session_rejects),
            MasterRefusal::Order { .. } => inc(&self.stats.refused),
        }
        let reject = convert::reject_of(r, v.template() as u16, v.seq_no(), v.cl_ord_id(), orig);
        self.queue(f, false, Some(reject));
    }

    fn on_app(&mut self, v: &AppView<'_>) {
        self.events += 1;
        let seq = v.seq_no();
        match v.to_owned_message() {
            AppMessage::MasterOrder(o) => {
                if self.time.stopping {
                    let r = MasterRefusal::order(OrdRejReason::Other, 0, b"", STOPPING);
                    return self.refuse(v, o.orig_cl_ord_id, &r, None);
                }
                match convert::master_from_binary(&o, &self.symbols, &self.defaults) {
                    Ok(c) => self.on_order(v, c, o.orig_cl_ord_id),
                    Err(r) => {
                        // A refused order's TransactTime is still the manager's clock.
                        let f = (o.transact_time_ns != 0)
                            .then(|| self.time.advance(o.transact_time_ns))
                            .flatten()
                            .map(|w| EdgeFrame::watermark(self.read_ns, seq, w));
                        self.refuse(v, o.orig_cl_ord_id, &r, f)
                    }
                }
            }
            AppMessage::MasterCancel(c) => {
                let r = convert::cancel_from_binary(&c);
                self.on_request(v, c.orig_cl_ord_id, r)
            }
            AppMessage::MasterReplace(a) => {
                let r = convert::amend_from_binary(&a, &self.symbols, &self.defaults);
                self.on_request(v, a.orig_cl_ord_id, r)
            }
            AppMessage::ManagerClock(c) => match convert::watermark_from_binary(&c) {
                Ok(w) => {
                    self.time.on_clock(w);
                    let f = EdgeFrame::watermark(self.read_ns, seq, self.time.watermark());
                    self.queue(Some(f), false, None);
                }
                Err(r) => self.refuse(v, 0, &r, None),
            },
            _ => self.unsupported(
                seq,
                v.template() as u16,
                &format!(
                    "template {:?} ({}) is not one a manager sends",
                    v.template(),
                    v.template() as u16
                ),
            ),
        }
    }

    fn unsupported(&mut self, seq: u64, template: u16, text: &str) {
        inc(&self.stats.business_rejects);
        tracing::info!(seq, template, text, "binary manager message unsupported");
        let r = MasterReject {
            ref_seq_no: seq,
            ref_template_id: template,
            kind: msg::REJECT_UNSUPPORTED,
            reason: 3,
            text: MasterReject::text_field(text),
            ..MasterReject::default()
        };
        self.queue(None, false, Some(r));
    }

    fn on_order(&mut self, v: &AppView<'_>, conv: Converted, orig: u64) {
        let seq = v.seq_no();
        let mut input = conv.input;
        scope_input(&mut input, self.manager);
        let ts = input.ts_ns();
        if let Some(why) = self.time.not_now(ts) {
            let r = MasterRefusal::order(OrdRejReason::Other, 60, ts.to_string().as_bytes(), why);
            return self.refuse(v, orig, &r, None);
        }
        self.time.accept(ts);
        // The engine answers (New or Rejected, then every fill) from its journal.
        // Each input is marked as its part of the message: a kill between the two leaves the
        // journal with the first only, and the restart asks for the message again whole.
        let parts = 1 + u8::from(conv.then.is_some());
        let f =
            EdgeFrame::input(&input, self.read_ns, seq, self.time.watermark()).part_of(0, parts);
        self.queue(Some(f), true, None);
        if let Some(mut then) = conv.then {
            scope_input(&mut then, self.manager);
            let f =
                EdgeFrame::input(&then, self.read_ns, seq, self.time.watermark()).part_of(1, parts);
            self.queue(Some(f), false, None);
        }
    }

    fn on_request(
        &mut self,
        v: &AppView<'_>,
        orig: u64,
        r: Result<mam_core::engine::input::Input, MasterRefusal>,
    ) {
        let mut input = match r {
            Ok(i) => match self.time.not_now(i.ts_ns()) {
                None => i,
                Some(why) => {
                    let r = MasterRefusal::order(OrdRejReason::Other, 60, b"", why);
                    return self.refuse(v, orig, &r, None);
                }
            },
            Err(r) => return self.refuse(v, orig, &r, None),
        };
        scope_input(&mut input, self.manager);
        self.time.accept(input.ts_ns());
        let f = EdgeFrame::input(&input, self.read_ns, v.seq_no(), self.time.watermark());
        self.queue(Some(f), true, None);
    }
}

/// The manager's binary order-entry session as a [`Stage`]: master orders in, [`EdgeFrame`]s
/// out, the engine's reports back as MasterReports.
#[derive(Debug)]
pub struct BinaryManagerStage {
    listener: Option<std::net::TcpListener>,
    local: SocketAddr,
    cfg: SessionConfig,
    /// The store between connections (`None` while a session holds it).
    store: Option<SeqStore>,
    conn: Option<Conn>,
    /// When the current connection was accepted (monotonic ns), until it establishes.
    accepted_at: Option<u64>,
    h: Handler,
    stop: Arc<AtomicBool>,
    phase: Phase,
    reports: Option<RingRx<ManagerReport>>,
    live: Option<Arc<SharedDefaults>>,
    report_wait: Option<ManagerReport>,
    /// When to look for a second connection again (monotonic ns; see `accept`).
    next_accept_ns: u64,
}

/// How often a stage with a session up looks for another connection (to close it).
const ACCEPT_EVERY_NS: u64 = 1_000_000;

impl BinaryManagerStage {
    /// Opens the store (rewinding its expected seqNo to `resume_after + 1` if it is ahead),
    /// binds the listener and returns the stage.
    pub fn new(
        opts: BinaryManagerOptions,
        symbols: SymbolTable,
        tx: RingTx<EdgeFrame>,
        stop: Arc<AtomicBool>,
        tap: Option<LatencyTap>,
    ) -> Result<Self, BinaryManagerError> {
        if !opts.listen.ip().is_loopback() && !opts.allow_remote {
            return Err(BinaryManagerError::Remote(opts.listen));
        }
        let mut store = SeqStore::open(&opts.store_path, opts.session_id, opts.store_capacity)?;
        if let Some(want) = rewound(store.next_in(), opts.resume_after, "binary") {
            store.set_next_in(want);
        }
        let bind = |source| BinaryManagerError::Bind {
            addr: opts.listen,
            source,
        };
        let listener = std::net::TcpListener::bind(opts.listen).map_err(bind)?;
        listener.set_nonblocking(true).map_err(bind)?;
        let local = listener.local_addr().map_err(bind)?;
        let stats = Arc::new(ManagerCounters::default());
        Ok(BinaryManagerStage {
            listener: Some(listener),
            local,
            cfg: SessionConfig {
                session_id: opts.session_id,
                keepalive_ms: opts.keepalive_ms,
                role: Role::Acceptor,
                sending_time_tolerance_ns: opts.sending_time_tolerance_ns,
            },
            store: Some(store),
            conn: None,
            accepted_at: None,
            h: Handler {
                symbols,
                manager: opts.manager,
                defaults: opts.defaults,
                time: Clock::default(),
                backlog: Backlog::new(tx, stats.clone(), tap, HIST_NAME)?,
                stats,
                read_ns: 0,
                events: 0,
            },
            stop,
            phase: Phase::Running,
            reports: None,
            live: None,
            report_wait: None,
            next_accept_ns: 0,
        })
    }

    /// Takes the defaults from `d` at every duty cycle (a config reload stores new ones).
    pub fn with_live_defaults(mut self, d: Arc<SharedDefaults>) -> Self {
        self.h.defaults = d.load();
        self.live = Some(d);
        self
    }

    /// Takes the engine's reports from `rx` and sends each to the manager; while it is away
    /// they wait, in order (the ring fills and the engine keeps them).
    pub fn with_reports(mut self, rx: RingRx<ManagerReport>) -> Self {
        self.reports = Some(rx);
        self
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
    /// The counters now.
    pub fn stats(&self) -> ManagerStats {
        self.h.stats.snapshot()
    }
    /// The live counters, to read from another thread while the stage runs.
    pub fn counters(&self) -> Arc<ManagerCounters> {
        self.h.stats.clone()
    }
    /// The manager's watermark now (ns; `u64::MAX` while it has ended).
    pub fn watermark(&self) -> u64 {
        self.h.time.watermark()
    }

    fn established(&self) -> bool {
        self.conn
            .as_ref()
            .is_some_and(|c| c.state() == State::Established)
    }

    /// Accepts a manager connection if none is up (a second one is closed at once: one
    /// session).
    fn accept(&mut self, now: u64) {
        let Some(l) = self.listener.as_ref() else {
            return;
        };
        // With a session up, a second connection is only to be closed: look for one every
        // millisecond, not every duty cycle (an empty `accept` costs a socket inode
        // allocation in the kernel: 10 % of the shared thread in `perf record`, stop 25).
        if self.conn.is_some() && now < self.next_accept_ns {
            return;
        }
        self.next_accept_ns = now + ACCEPT_EVERY_NS;
        loop {
            let (stream, peer) = match l.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    tracing::warn!(error = %e, "binary manager accept failed");
                    return;
                }
            };
            if self.conn.is_some() || self.phase != Phase::Running {
                tracing::warn!(%peer, "binary manager: a session is up already; connection closed");
                continue;
            }
            let Some(store) = self.store.take() else {
                return;
            };
            let t = stream.set_nonblocking(true).and_then(|()| {
                TcpTransport::new(mio::net::TcpStream::from_std(stream), TcpOptions::default())
            });
            match t {
                Ok(t) => {
                    tracing::info!(%peer, "binary manager connected");
                    self.conn = Some(Session::new(Framed::new(t), store, self.cfg));
                    self.accepted_at = Some(mono_ns());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "binary manager connection refused");
                    self.store = Some(store);
                }
            }
        }
    }

    /// Drops the connection, keeping the store for the next one.
    fn disconnect(&mut self, why: &str) {
        if let Some(c) = self.conn.take() {
            tracing::info!(why, "binary manager disconnected");
            if c.state() == State::Established {
                inc(&self.h.stats.disconnects);
            }
            let (_, store) = c.into_parts();
            self.store = Some(store);
        }
        self.accepted_at = None;
    }

    /// One read of the session: messages in sequence go to the handler.
    fn read(&mut self) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let was = conn.state();
        let h = &mut self.h;
        let polled = conn.poll(now_ns(), &mut |v| h.on_app(v));
        if let Some(e) = conn.take_decode_error() {
            h.events += 1;
            h.unsupported(0, 0, &format!("a message did not decode: {e}"));
        }
        let state = conn.state();
        if was != State::Established && state == State::Established {
            inc(&h.stats.logons);
            self.accepted_at = None;
        }
        match (polled, state) {
            (Err(e), _) if !e.is_retryable() => self.disconnect(&e.to_string()),
            (_, State::Terminated(code)) => self.disconnect(&format!("terminated ({code})")),
            _ => {
                if self
                    .accepted_at
                    .is_some_and(|t| mono_ns().saturating_sub(t) >= ESTABLISH_WAIT_NS)
                {
                    self.disconnect("no Establish within 2 s");
                }
            }
        }
    }

    /// Pushes queued frames and sends the replies behind them, in order, until the ring is
    /// full or the session pushes back. Returns the items completed.
    fn drain(&mut self) -> usize {
        let conn = &mut self.conn;
        self.h.backlog.drain(|r| match conn.as_mut() {
            Some(c) if c.state() == State::Established => {
                match c.send(&AppMessage::MasterReject(r), now_ns()) {
                    Ok(_) => Delivery::Sent,
                    Err(e) if e.is_retryable() => Delivery::Later(r),
                    Err(e) => {
                        tracing::warn!(error = %e, "binary manager reply not sent");
                        Delivery::Lost
                    }
                }
            }
            _ => Delivery::Lost,
        })
    }

    /// Sends waiting reports while the session takes them.
    fn send_reports(&mut self) -> usize {
        if !self.established() {
            return 0;
        }
        let (Some(rx), Some(conn)) = (self.reports.as_mut(), self.conn.as_mut()) else {
            return 0;
        };
        let mut n = 0;
        while let Some(r) = self.report_wait.take().or_else(|| rx.pop()) {
            let m = AppMessage::MasterReport(report::master_report(&r, &self.h.symbols));
            match conn.send(&m, now_ns()) {
                Ok(_) => {
                    n += 1;
                    inc(&self.h.stats.reports);
                }
                Err(e) => {
                    if !e.is_retryable() {
                        tracing::debug!(error = %e, "binary manager report waits");
                    }
                    self.report_wait = Some(r);
                    break;
                }
            }
        }
        n
    }

    fn flush(&mut self) {
        if let Some(c) = self.conn.as_mut() {
            if let Err(e) = c.flush() {
                if !e.is_retryable() {
                    self.disconnect(&e.to_string());
                }
            }
        }
    }

    fn finish(&mut self) {
        if let Some(c) = self.conn.as_mut() {
            if c.state() == State::Established {
                if let Err(e) = c.terminate(now_ns()) {
                    tracing::warn!(error = %e, "binary manager Terminate not sent");
                }
            }
        }
        self.disconnect("mam is shutting down");
        self.listener = None;
        self.h.backlog.close();
        self.phase = Phase::Done;
        self.h.backlog.publish(mono_ns(), true);
        tracing::info!(stats = ?self.stats(), "binary manager stage done");
    }
}

impl Stage for BinaryManagerStage {
    fn name(&self) -> &str {
        "manager-binary"
    }

    fn do_work(&mut self) -> usize {
        if self.phase == Phase::Done {
            return 0;
        }
        let mut work = self.drain();
        if !self.h.backlog.is_empty() {
            // The ring is full: leave the socket unread until the frame fits.
            self.flush();
            self.h.backlog.publish(self.h.read_ns, false);
            return work;
        }
        if self.phase == Phase::Running && self.stop.load(Acquire) {
            self.phase = Phase::Draining;
            self.h.time.stopping = true;
        }
        if let Some(d) = self.live.as_ref() {
            self.h.defaults = d.load();
        }
        // One clock read for both: an accept is rare, and a turn reads the clock once.
        self.h.read_ns = mono_ns();
        self.accept(self.h.read_ns);
        self.h.events = 0;
        self.read();
        work += self.h.events;
        work += self.drain();
        if self.h.backlog.is_empty() {
            work += self.send_reports();
        }
        self.flush();
        if self.phase == Phase::Draining && self.h.backlog.is_empty() {
            self.finish();
            work += 1;
        }
        self.h.backlog.publish(self.h.read_ns, false);
        work
    }

    fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }
}
