//! [`ManagerStage`]: the FIX acceptor for the money manager as a pipeline stage.
//!
//! Each duty cycle: push what waits for the engine ring (and send the replies that follow it),
//! then, only if nothing waits, one non-blocking acceptor turn that reads at most
//! [`READ_LIMIT`] bytes, then push and reply again. A full ring never drops a frame: the frame
//! stays queued and the socket is not read until it fits (TCP then pushes back on the manager).
//! The acceptor's handler cannot send while the session hands a message over, so every reply
//! is queued behind the frame it answers and leaves once that frame is on the ring.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Acquire};
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use mam_core::pipeline::engine_stage::admin::SharedSnapshots;
use mam_core::pipeline::{AccountDirectory, EdgeFrame, ManagerReport, RingRx, RingTx, Stage};
use mam_core::symbol::SymbolTable;
use thiserror::Error;

use super::backlog::{Backlog, Delivery};
use super::convert::{MasterDefaults, SharedDefaults};
use super::handler::Handler;
use super::reply::Outbox;
use super::resume::rewound;
use super::stats::inc;
pub use super::stats::{ManagerCounters, ManagerStats};
use crate::fix::session::acceptor::{Acceptor, AcceptorOptions};
use crate::fix::session::initiator::now_ns;
use crate::fix::session::{Role, Session, SessionConfig, SessionError, State};
use crate::fix::store::{Store, StoreError};
use crate::latency::{mono_ns, LatencyTap};

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
    /// Deposits and withdrawals from this session (MamAccountRequest) without MamRebalance
    /// re-split the manager's open tickets by the new equity weights (`on_deposit =
    /// "rebalance"`); otherwise positions stay.
    pub rebalance_deposits: bool,
    /// The manager's number (0 for the first session, as before there were several): the
    /// bits 56–61 of its tickets, and the manager column of the accounts that follow it.
    pub manager: u8,
    /// SendingTime accuracy: a message stamped further than this (ns) from our clock gets a
    /// Reject (SessionRejectReason 10) and a Logout; `None`: not checked. The daemon's
    /// default is 120 s (`manager.sending_time_tolerance`).
    pub sending_time_tolerance_ns: Option<u64>,
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
    stop: Arc<AtomicBool>,
    phase: Phase,
    /// A manager connection was up after the previous turn (counts disconnections of any
    /// kind, socket drops included).
    was_connected: bool,
    /// The engine's reports on master orders (None: not wired).
    reports: Option<RingRx<ManagerReport>>,
    /// Defaults an operator may change while running (a config reload).
    live: Option<Arc<SharedDefaults>>,
    /// A report taken from the ring that could not go out yet (manager away, back-pressure).
    report_wait: Option<ManagerReport>,
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
        if let Some(want) = rewound(store.next_target_seq(), opts.resume_after, "fix") {
            store.set_next_target_seq(want);
        }
        let mut cfg = SessionConfig::new(Role::Acceptor, &opts.sender_comp, &opts.target_comp);
        cfg.heart_bt_int = opts.heart_bt_int;
        cfg.password = opts.password.as_ref().map(|p| p.as_bytes().to_vec());
        cfg.sending_time_tolerance_ns = opts.sending_time_tolerance_ns;
        let mut session = Session::new(cfg, store)?;
        session.accept_app_type(b"h");
        session.accept_app_type(b"F");
        session.accept_app_type(b"G");
        session.accept_app_type(b"AN");
        session.accept_app_type(super::account_request::ACCOUNT_REQUEST);
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
        let stats = Arc::new(ManagerCounters::default());
        Ok(ManagerStage {
            acc: Some(acc),
            h: Handler {
                symbols,
                manager: opts.manager,
                defaults: opts.defaults,
                time: Default::default(),
                backlog: Backlog::new(tx, stats.clone(), tap, HIST_NAME)?,
                out: Outbox::default(),
                stats,
                read_ns: 0,
                events: 0,
                snapshots: None,
                accounts: None,
                rebalance_deposits: opts.rebalance_deposits,
            },
            stop,
            phase: Phase::Running,
            was_connected: false,
            reports: None,
            live: None,
            report_wait: None,
        })
    }

    /// Takes the model, routing and min-lot defaults from `d` at every duty cycle (a config
    /// reload stores new ones there) instead of [`ManagerOptions::defaults`] alone.
    pub fn with_live_defaults(mut self, d: Arc<SharedDefaults>) -> Self {
        self.h.defaults = d.load();
        self.live = Some(d);
        self
    }

    /// Takes the engine's reports from `rx` and sends each to the manager (ExecutionReport or
    /// OrderCancelReject). While the manager is away they wait, in order: the ring then fills
    /// and the engine keeps them (nothing is dropped).
    pub fn with_reports(mut self, rx: RingRx<ManagerReport>) -> Self {
        self.reports = Some(rx);
        self
    }

    /// Answers RequestForPositions (35=AN) from the engine's published snapshot
    /// ([`SharedSnapshots`], shared with any other reader such as the admin API). Without it,
    /// such requests get a RequestForPositionsAck with PosReqResult 4 (not supported).
    pub fn with_positions(mut self, snapshots: SharedSnapshots) -> Self {
        self.h.snapshots = Some(snapshots);
        self
    }

    /// Takes MamAccountRequests (35=UA): deposits, withdrawals and setting changes of this
    /// manager's accounts, looked up by id in `dir` (without it they are answered with a
    /// BusinessMessageReject, unsupported).
    pub fn with_account_directory(mut self, dir: AccountDirectory) -> Self {
        self.h.accounts = Some(dir);
        self
    }

    /// Sends waiting reports while the session takes them.
    fn send_reports(&mut self) -> usize {
        let (Some(rx), Some(acc)) = (self.reports.as_mut(), self.acc.as_mut()) else {
            return 0;
        };
        if acc.session(0).state() != State::Active || (self.report_wait.is_none() && rx.is_empty())
        {
            return 0;
        }
        // Read only with a report to send: every clock read is paid on every turn of a shared
        // thread (about 13 a turn, 17 % of an idle daemon's thread under perf, stop 26).
        let now = now_ns();
        let mut n = 0;
        while let Some(r) = self.report_wait.take().or_else(|| rx.pop()) {
            let symbols = &self.h.symbols;
            let accounts = self.h.accounts.as_ref();
            let mt = super::report::report_msg_type(&r.report);
            let before = acc.session(0).next_sender_seq();
            let sent = acc.send_app(0, now, mt, |w| {
                super::report::write_report(&r, symbols, accounts, w)
            });
            match sent {
                // Err but stored before the failure (the transport broke while writing it):
                // it is sent; the manager gets it by resend after it reconnects.
                Ok(_) => {
                    n += 1;
                    inc(&self.h.stats.reports);
                }
                Err(_) if acc.session(0).next_sender_seq() > before => {
                    n += 1;
                    inc(&self.h.stats.reports);
                }
                Err(SessionError::Backpressure { .. }) => {
                    self.report_wait = Some(r);
                    break;
                }
                Err(e) => {
                    // Logged off between the check and the send: try again later.
                    tracing::debug!(error = %e, "manager report waits");
                    self.report_wait = Some(r);
                    break;
                }
            }
        }
        n
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
        self.h.backlog.histogram()
    }

    /// Pushes queued frames and sends the replies behind them, in order, until the ring is
    /// full or the session pushes back. Returns the items completed.
    fn drain(&mut self) -> usize {
        if self.h.backlog.is_empty() {
            return 0;
        }
        let now = now_ns();
        let (acc, out) = (&mut self.acc, &self.h.out);
        let n = self.h.backlog.drain(|r| {
            let sent = match acc.as_mut() {
                Some(acc) => acc.send_app(0, now, r.msg_type, |w| out.write(&r, w)),
                None => Err(SessionError::NotLoggedOn(State::Disconnected)),
            };
            match sent {
                Ok(_) => Delivery::Sent,
                Err(SessionError::Backpressure { .. }) => Delivery::Later(r),
                Err(e) => {
                    tracing::warn!(error = %e, "manager reply not sent");
                    Delivery::Lost
                }
            }
        });
        if self.h.backlog.is_empty() {
            self.h.out.clear();
        }
        n
    }

    fn finish(&mut self) {
        if let Some(mut acc) = self.acc.take() {
            acc.flush();
        }
        self.h.backlog.close();
        self.phase = Phase::Done;
        self.h.backlog.publish(mono_ns(), true);
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
            self.h.backlog.publish(self.h.read_ns, false);
            return work;
        }
        if self.phase == Phase::Running && self.stop.load(Acquire) {
            self.phase = Phase::Draining;
            self.h.time.stopping = true;
        }
        let now = now_ns();
        if let Some(d) = self.live.as_ref() {
            self.h.defaults = d.load();
        }
        self.h.read_ns = mono_ns();
        self.h.events = 0;
        if let Some(acc) = self.acc.as_mut() {
            let h = &mut self.h;
            if let Err(e) = acc.turn(now, Some(Duration::ZERO), &mut |_, e| h.on_event(e)) {
                tracing::warn!(error = %e, "manager session error");
            }
        }
        work += self.h.events;
        let connected = self.session_state() != State::Disconnected;
        if self.was_connected && !connected {
            inc(&self.h.stats.disconnects);
        }
        self.was_connected = connected;
        work += self.drain();
        if self.h.backlog.is_empty() {
            work += self.send_reports();
        }
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
        self.h.backlog.publish(self.h.read_ns, false);
        work
    }

    fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }
}
