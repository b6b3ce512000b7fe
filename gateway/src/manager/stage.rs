//! [`ManagerStage`]: the FIX acceptor for the money manager as a pipeline stage.
//!
//! Each duty cycle: push what waits for the engine ring (and send the replies that follow it),
//! then, only if nothing waits, one non-blocking acceptor turn that reads at most
//! [`READ_LIMIT`] bytes, then push and reply again. A full ring never drops a frame: the frame
//! stays queued and the socket is not read until it fits (TCP then pushes back on the manager).
//! The acceptor's handler cannot send while the session hands a message over, so every reply
//! is queued behind the frame it answers and leaves once that frame is on the ring.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Acquire, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use mam_core::engine::input::Input;
use mam_core::pipeline::{EdgeFrame, RingTx, Stage};
use mam_core::symbol::SymbolTable;
use thiserror::Error;

use super::convert::{
    master_from_nos, watermark_from_tss, MasterDefaults, MasterRefusal, OrdRejReason,
};
use super::reply::{Outbox, Reply};
use crate::fix::decode::Message;
use crate::fix::session::acceptor::{Acceptor, AcceptorOptions};
use crate::fix::session::initiator::now_ns;
use crate::fix::session::{Event, Role, Session, SessionConfig, SessionError, State};
use crate::fix::store::{Store, StoreError};
use crate::latency::{mono_ns, new_histogram, LatencyTap};

/// Most bytes one duty cycle reads from the manager's socket.
pub const READ_LIMIT: usize = 64 << 10;
/// How long a stop waits for the manager's Logout reply.
pub const LOGOUT_WAIT_NS: u64 = 2_000_000_000;
/// Name of the latency histogram published to the tap: bytes read → frame on the ring, ns.
pub const HIST_NAME: &str = "manager_in";

/// How the manager stage listens and converts.
#[derive(Debug, Clone)]
pub struct ManagerOptions {
    /// Address to listen on (`manager.listen`).
    pub listen: SocketAddr,
    /// Our CompID (`manager.comp_id`).
    pub sender_comp: String,
    /// The manager's CompID (`manager.peer_comp_id`).
    pub target_comp: String,
    /// The Password(554) the manager's Logon must carry, if any.
    pub password: Option<String>,
    /// The session's store (`<state>/fix-manager/`).
    pub store_dir: PathBuf,
    /// HeartBtInt (s) until the manager's Logon sets its own.
    pub heart_bt_int: u32,
    /// The last master MsgSeqNum the journal holds: the session expects the one after it, so
    /// the manager resends everything later (FIX resend on its next Logon).
    pub resume_after: Option<u64>,
    /// Listen on a non-loopback address (refused otherwise).
    pub allow_remote: bool,
    /// Model, routing and min-lot policy of orders that do not say.
    pub defaults: MasterDefaults,
}

/// Why the stage cannot start.
#[derive(Debug, Error)]
pub enum ManagerError {
    /// A non-loopback address without `allow_remote`.
    #[error("manager.listen {0} is not a loopback address (set allow_remote to listen on it)")]
    Remote(SocketAddr),
    /// The session store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The session.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// Binding the listener.
    #[error("manager.listen {addr}: {source}")]
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

/// Counters of the stage (a cheap copy; see [`ManagerCounters`] for the live, shared ones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ManagerStats {
    /// Master orders pushed onto the engine ring.
    pub accepted: u64,
    /// Master orders refused with an ExecutionReport reject.
    pub refused: u64,
    /// Session-level Rejects (35=3) sent, by the session or by the conversion.
    pub session_rejects: u64,
    /// BusinessMessageRejects (35=j) sent.
    pub business_rejects: u64,
    /// Watermark-only frames pushed (TradingSessionStatus).
    pub watermarks: u64,
    /// Frames that found the ring full.
    pub ring_waits: u64,
    /// Total ns frames waited for the ring.
    pub ring_wait_ns: u64,
    /// Logons of the manager.
    pub logons: u64,
    /// Disconnections.
    pub disconnects: u64,
    /// Replies that could not be sent (the manager was gone or logging out).
    pub replies_lost: u64,
}

/// The stage's counters as relaxed atomics, readable from the stats thread while it runs.
#[derive(Debug, Default)]
pub struct ManagerCounters {
    accepted: AtomicU64,
    refused: AtomicU64,
    session_rejects: AtomicU64,
    business_rejects: AtomicU64,
    watermarks: AtomicU64,
    ring_waits: AtomicU64,
    ring_wait_ns: AtomicU64,
    logons: AtomicU64,
    disconnects: AtomicU64,
    replies_lost: AtomicU64,
}

impl ManagerCounters {
    /// The counters now.
    pub fn snapshot(&self) -> ManagerStats {
        ManagerStats {
            accepted: self.accepted.load(Relaxed),
            refused: self.refused.load(Relaxed),
            session_rejects: self.session_rejects.load(Relaxed),
            business_rejects: self.business_rejects.load(Relaxed),
            watermarks: self.watermarks.load(Relaxed),
            ring_waits: self.ring_waits.load(Relaxed),
            ring_wait_ns: self.ring_wait_ns.load(Relaxed),
            logons: self.logons.load(Relaxed),
            disconnects: self.disconnects.load(Relaxed),
            replies_lost: self.replies_lost.load(Relaxed),
        }
    }
}

fn inc(c: &AtomicU64) {
    c.fetch_add(1, Relaxed);
}

/// What waits to go out, in arrival order.
#[derive(Debug)]
struct Item {
    frame: Option<EdgeFrame>,
    /// A master order (counted as accepted once on the ring) rather than a watermark.
    order: bool,
    /// When the bytes were read (monotonic ns).
    read_ns: u64,
    reply: Option<Reply>,
}

/// Everything the acceptor's event handler touches (apart from the acceptor itself).
#[derive(Debug)]
struct Handler {
    symbols: SymbolTable,
    defaults: MasterDefaults,
    /// Highest TransactTime seen (the manager's clock).
    clock: u64,
    /// The manager said its session is closed (340=3): watermark `u64::MAX`.
    closed: bool,
    stopping: bool,
    backlog: VecDeque<Item>,
    out: Outbox,
    stats: Arc<ManagerCounters>,
    read_ns: u64,
    events: usize,
}

impl Handler {
    fn watermark(&self) -> u64 {
        if self.closed {
            u64::MAX
        } else {
            self.clock
        }
    }

    fn queue(&mut self, frame: Option<EdgeFrame>, order: bool, reply: Option<Reply>) {
        self.backlog.push_back(Item {
            frame,
            order,
            read_ns: self.read_ns,
            reply,
        });
    }

    fn on_event(&mut self, e: Event<'_>) {
        self.events += 1;
        let s = &self.stats;
        match e {
            Event::LoggedOn { .. } => inc(&s.logons),
            Event::Disconnect { .. } => inc(&s.disconnects),
            Event::RejectSent { .. } => inc(&s.session_rejects),
            Event::BusinessRejectSent { .. } => inc(&s.business_rejects),
            Event::App { msg, .. } => self.on_app(msg),
            _ => {}
        }
    }

    /// One application message in sequence (resent ones, PossDup=Y, alike).
    fn on_app(&mut self, m: &Message<'_>) {
        let seq = m.seq().unwrap_or(0);
        match m.msg_type() {
            b"D" => self.on_order(m, seq),
            b"h" => match watermark_from_tss(m) {
                Ok(w) => {
                    if w == u64::MAX {
                        self.closed = true;
                    } else {
                        self.closed = false;
                        self.clock = self.clock.max(w);
                    }
                    let f = EdgeFrame::watermark(self.read_ns, seq, self.watermark());
                    self.queue(Some(f), false, None);
                }
                Err(r) => self.refuse(m, seq, &r),
            },
            // Never answer a reject with a reject.
            b"j" => tracing::warn!(seq, "manager sent a BusinessMessageReject"),
            _ => {
                inc(&self.stats.business_rejects);
                let r = self.out.unsupported(m, seq);
                self.queue(None, false, Some(r));
            }
        }
    }

    fn on_order(&mut self, m: &Message<'_>, seq: u64) {
        if self.stopping {
            let r = MasterRefusal::order(OrdRejReason::Other, 0, b"", "mam is shutting down");
            return self.refuse(m, seq, &r);
        }
        let input = match master_from_nos(m, &self.symbols, &self.defaults) {
            Ok(i) => i,
            Err(r) => return self.refuse(m, seq, &r),
        };
        let ts = input.ts_ns();
        let tt = m.get(60).unwrap_or_default();
        if self.closed {
            let r = MasterRefusal::order(
                OrdRejReason::Other,
                60,
                tt,
                "the manager's trading session is closed (340=3): send 340=2 first",
            );
            return self.refuse(m, seq, &r);
        }
        if ts < self.clock {
            let r = MasterRefusal::order(
                OrdRejReason::Other,
                60,
                tt,
                "TransactTime is below the manager's clock (it must not decrease)",
            );
            return self.refuse(m, seq, &r);
        }
        self.clock = ts;
        let ticket = match input {
            Input::Open(o) => o.ticket,
            Input::Close(c) => c.ticket,
            _ => 0,
        };
        let f = EdgeFrame::input(&input, self.read_ns, seq, self.watermark());
        let r = self.out.er_new(m, seq, ticket);
        self.queue(Some(f), true, Some(r));
    }

    fn refuse(&mut self, m: &Message<'_>, seq: u64, r: &MasterRefusal) {
        tracing::info!(seq, refusal = %r, "manager message refused");
        match r {
            MasterRefusal::Session { .. } => inc(&self.stats.session_rejects),
            MasterRefusal::Order { .. } => inc(&self.stats.refused),
        }
        let reply = self.out.refusal(m, seq, r);
        self.queue(None, false, Some(reply));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    /// Stop seen: orders are refused; Logout once nothing waits.
    Draining,
    /// Logout sent at this monotonic ns.
    LogoutSent(u64),
    Done,
}

/// The manager's FIX session as a [`Stage`]: master orders in, [`EdgeFrame`]s out.
#[derive(Debug)]
pub struct ManagerStage {
    acc: Option<Acceptor>,
    h: Handler,
    tx: Option<RingTx<EdgeFrame>>,
    stop: Arc<AtomicBool>,
    phase: Phase,
    /// Since when the frame at the head of the backlog waits for the ring (monotonic ns).
    waiting_since: Option<u64>,
    hist: Histogram<u64>,
    tap: Option<LatencyTap>,
    last_publish: u64,
}

impl ManagerStage {
    /// Opens the store (rewinding its expected sequence number to `resume_after + 1` if it is
    /// ahead), binds the listener and returns the stage.
    pub fn new(
        opts: ManagerOptions,
        symbols: SymbolTable,
        tx: RingTx<EdgeFrame>,
        stop: Arc<AtomicBool>,
        tap: Option<LatencyTap>,
    ) -> Result<Self, ManagerError> {
        if !opts.listen.ip().is_loopback() && !opts.allow_remote {
            return Err(ManagerError::Remote(opts.listen));
        }
        let mut store = Store::open(&opts.store_dir)?;
        if let Some(m) = opts.resume_after {
            let want = m.saturating_add(1);
            if store.next_target_seq() > want {
                tracing::info!(
                    from = store.next_target_seq(),
                    to = want,
                    "manager session: expecting the first master order the journal lacks"
                );
                store.set_next_target_seq(want);
            }
        }
        let mut cfg = SessionConfig::new(Role::Acceptor, &opts.sender_comp, &opts.target_comp);
        cfg.heart_bt_int = opts.heart_bt_int;
        cfg.password = opts.password.as_ref().map(|p| p.as_bytes().to_vec());
        let mut session = Session::new(cfg, store)?;
        session.accept_app_type(b"h");
        let aopts = AcceptorOptions {
            bind: opts.listen,
            ..AcceptorOptions::default()
        };
        let mut acc =
            Acceptor::bind(vec![session], aopts).map_err(|source| ManagerError::Bind {
                addr: opts.listen,
                source,
            })?;
        acc.set_read_limit(READ_LIMIT);
        Ok(ManagerStage {
            acc: Some(acc),
            h: Handler {
                symbols,
                defaults: opts.defaults,
                clock: 0,
                closed: false,
                stopping: false,
                backlog: VecDeque::with_capacity(256),
                out: Outbox::default(),
                stats: Arc::new(ManagerCounters::default()),
                read_ns: 0,
                events: 0,
            },
            tx: Some(tx),
            stop,
            phase: Phase::Running,
            waiting_since: None,
            hist: new_histogram()?,
            tap,
            last_publish: mono_ns(),
        })
    }

    /// The address the listener is bound to (`None` once the stage is done).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.acc.as_ref().map(Acceptor::local_addr)
    }
    /// The counters now.
    pub fn stats(&self) -> ManagerStats {
        self.h.stats.snapshot()
    }
    /// The live counters, to read from another thread while the stage runs.
    pub fn counters(&self) -> Arc<ManagerCounters> {
        self.h.stats.clone()
    }
    /// The manager's watermark now (ns; `u64::MAX` while its session is closed).
    pub fn watermark(&self) -> u64 {
        self.h.watermark()
    }
    /// The local "manager decode" histogram (bytes read → frame on the ring, ns) since it was
    /// last published to the tap.
    pub fn histogram(&self) -> &Histogram<u64> {
        &self.hist
    }

    /// Pushes queued frames and sends the replies behind them, in order, until the ring is
    /// full. Returns the items completed.
    fn drain(&mut self) -> usize {
        let mut n = 0;
        let now = now_ns();
        while let Some(item) = self.h.backlog.front_mut() {
            if let Some(f) = item.frame {
                if let Some(tx) = self.tx.as_mut() {
                    if tx.try_push(f).is_err() {
                        if self.waiting_since.is_none() {
                            self.waiting_since = Some(mono_ns());
                            inc(&self.h.stats.ring_waits);
                        }
                        break;
                    }
                }
                let t = mono_ns();
                if let Some(since) = self.waiting_since.take() {
                    self.h
                        .stats
                        .ring_wait_ns
                        .fetch_add(t.saturating_sub(since), Relaxed);
                }
                self.hist
                    .saturating_record(t.saturating_sub(item.read_ns).max(1));
                inc(if item.order {
                    &self.h.stats.accepted
                } else {
                    &self.h.stats.watermarks
                });
                item.frame = None;
            }
            if let Some(r) = item.reply.take() {
                let sent = match self.acc.as_mut() {
                    Some(acc) => {
                        let out = &self.h.out;
                        acc.send_app(0, now, r.msg_type, |w| out.write(&r, w))
                    }
                    None => Err(SessionError::NotLoggedOn(State::Disconnected)),
                };
                match sent {
                    Ok(_) => {}
                    Err(SessionError::Backpressure { .. }) => {
                        item.reply = Some(r);
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "manager reply not sent");
                        inc(&self.h.stats.replies_lost);
                    }
                }
            }
            self.h.backlog.pop_front();
            n += 1;
        }
        if self.h.backlog.is_empty() {
            self.h.out.clear();
        }
        n
    }

    fn publish(&mut self, force: bool) {
        let now = mono_ns();
        if force || now.saturating_sub(self.last_publish) >= LatencyTap::PUBLISH_NS {
            if let Some(tap) = &self.tap {
                tap.publish(HIST_NAME, &mut self.hist);
            }
            self.last_publish = now;
        }
    }

    fn finish(&mut self) {
        if let Some(mut acc) = self.acc.take() {
            acc.flush();
        }
        // The engine sees the source end once the ring is empty.
        self.tx = None;
        self.phase = Phase::Done;
        self.publish(true);
        tracing::info!(stats = ?self.stats(), "manager stage done");
    }

    fn session_state(&self) -> State {
        self.acc
            .as_ref()
            .map_or(State::Disconnected, |a| a.session(0).state())
    }
}

impl Stage for ManagerStage {
    fn name(&self) -> &str {
        "manager"
    }

    fn do_work(&mut self) -> usize {
        if self.phase == Phase::Done {
            return 0;
        }
        let mut work = self.drain();
        if !self.h.backlog.is_empty() {
            // The ring is full: leave the socket unread until the frame fits.
            if let Some(acc) = self.acc.as_mut() {
                acc.flush();
            }
            self.publish(false);
            return work;
        }
        if self.phase == Phase::Running && self.stop.load(Acquire) {
            self.phase = Phase::Draining;
            self.h.stopping = true;
        }
        let now = now_ns();
        self.h.read_ns = mono_ns();
        self.h.events = 0;
        if let Some(acc) = self.acc.as_mut() {
            let h = &mut self.h;
            if let Err(e) = acc.turn(now, Some(Duration::ZERO), &mut |_, e| h.on_event(e)) {
                tracing::warn!(error = %e, "manager session error");
            }
        }
        work += self.h.events;
        work += self.drain();
        if let Some(acc) = self.acc.as_mut() {
            acc.flush();
        }
        match self.phase {
            Phase::Draining if self.h.backlog.is_empty() => {
                if self.session_state() == State::Active {
                    if let Some(acc) = self.acc.as_mut() {
                        if let Err(e) = acc.logout(0, now, Some(b"mam is shutting down")) {
                            tracing::warn!(error = %e, "manager Logout not sent");
                        }
                    }
                    self.phase = Phase::LogoutSent(mono_ns());
                    work += 1;
                } else {
                    self.finish();
                }
            }
            Phase::LogoutSent(since) => {
                if self.session_state() == State::Disconnected
                    || mono_ns().saturating_sub(since) >= LOGOUT_WAIT_NS
                {
                    self.finish();
                } else {
                    // Bounded (2 s): keeps a stopping runner cycling until the reply comes.
                    work += 1;
                }
            }
            _ => {}
        }
        self.publish(false);
        work
    }

    fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }
}
