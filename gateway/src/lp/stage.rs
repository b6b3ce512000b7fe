//! [`LpStage`]: the daemon's stage toward the LP (mam is the FIX initiator).
//!
//! Per cycle ([`Stage::do_work`]): waiting fills go to the engine first, then the socket is
//! served once without blocking (connect with backoff, logon, heartbeats, ExecutionReports in),
//! then, after a restart and once the LP's resend is over, the OrderStatusRequests for the open
//! orders go out (their answers are reconciled with what the engine holds: `status`), then,
//! while logged on, the start-up resend list and then up to [`ORDER_BATCH`] orders from the
//! engine's ring are sent and flushed together.
//!
//! An order the LP refuses at the session level (Reject 35=3, or a BusinessMessageReject 35=j
//! naming it) ends as Rejected; the refusal is written to `refused-orders` beside the session
//! store first, so a restart ends the order again if the engine never journaled it.
//!
//! Nothing is dropped: an order that cannot go (not logged on, or the session's pending queue
//! is full) is held and retried; a fill the engine's ring cannot take waits in a backlog. While
//! that backlog is long the socket is not read, so the LP is slowed by TCP, not by loss.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use mam_core::event::{ChildOrder, Side, ORD_TYPE_CANCEL};
use mam_core::num::Qty;
use mam_core::pipeline::{AccountDirectory, EdgeFrame, EdgeOrder, RingRx, RingTx, Stage};
use mam_core::symbol::SymbolTable;
use thiserror::Error;

use super::account::{AccountField, AccountText};
use super::fills::{self, FillOut, RefusedRef};
use super::refusals::RefusalLog;
use super::sent::{sent_orders, SentError, SentOrders};
use super::status::Recon;
use crate::fix::convert::{cancel_cl_ord_id, child_to_nos, ClOrdIdText};
use crate::fix::decode::Decoder;
use crate::fix::msg::{msg_type, OrderCancelRequest};
use crate::fix::session::initiator::{now_ns, Initiator, InitiatorOptions};
use crate::fix::session::{Event, Role, Session, SessionConfig, SessionError, State};
use crate::fix::store::{Store, StoreError};
use crate::latency::{mono_ns, new_histogram, LatencyError, LatencyTap};

/// Most orders sent per cycle (then one flush): bounds a cycle's work and batches syscalls.
pub const ORDER_BATCH: usize = 64;
/// Most allocation account lines gathered per cycle (see `send_orders`).
pub const ALLOC_LINE_BATCH: usize = 4096;
/// Fills waiting for the engine beyond which the socket is not read until they drain.
const BACKLOG_PAUSE: usize = 4096;
/// How long to wait for the LP's Logout reply when stopping.
const LOGOUT_WAIT_NS: u64 = 2_000_000_000;

/// How the LP stage connects and what it must do at start.
#[derive(Debug, Clone)]
pub struct LpOptions {
    /// The LP's FIX acceptor.
    pub addr: SocketAddr,
    /// Our CompID (SenderCompID).
    pub sender_comp: String,
    /// The LP's CompID.
    pub target_comp: String,
    /// Password (554) for the Logon, if the LP wants one.
    pub password: Option<String>,
    /// The session store (sequence numbers and every sent message; survives restarts).
    pub store_dir: PathBuf,
    /// HeartBtInt proposed on Logon, seconds.
    pub heart_bt_int: u32,
    /// Send Account (1) = the sub-account's id on each per-account order (not on block orders).
    pub account_tag: bool,
    /// Account ids by index (NUL-padded, as the account store keeps them): what Account (1)
    /// carries. Empty: the decimal index. Shared with the engine stage, which appends the
    /// accounts added while the daemon runs.
    pub account_ids: AccountDirectory,
    /// Send an AllocationInstruction (35=J) for every finished block (the default; off for an
    /// LP that books blocks only).
    pub allocation_instructions: bool,
    /// BeginString of the session: [`BEGIN_FIX44`](crate::fix::BEGIN_FIX44) (the default) or
    /// [`BEGIN_FIX42`](crate::fix::BEGIN_FIX42).
    pub begin_string: Vec<u8>,
    /// Orders to send first, in this order, once logged on: those the engine tracks that the
    /// store does not hold as sent. Any that the store does hold are skipped (counted), so an
    /// order is never sent twice even if the caller passes too many.
    pub resend: Vec<ChildOrder>,
    /// The daemon restarted: ask the LP for every ExecutionReport again (expected incoming
    /// sequence number 1 before the Logon); the engine drops fills it already holds.
    pub restarted: bool,
    /// On a restart, what the engine holds of each order it still tracks: ClOrdID → its
    /// cumulative filled quantity (`Engine::order_progress`). Every order of `resend` that the
    /// store holds as sent and that is listed here is asked about with an OrderStatusRequest
    /// once the LP's resend is over, and the answers are reconciled against it
    /// (`docs/daemon.md`, "Restart"); an order not listed is never asked about.
    pub engine_cum: BTreeMap<u64, Qty>,
    /// How long to wait for the status answers (counted while logged on and not waiting for a
    /// resend) before relying on the resend alone.
    pub status_timeout: Duration,
    /// First reconnect delay (doubles after each failure up to `backoff_max`).
    pub backoff_min: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
    /// When stopping while not logged on, how long orders may still wait for a Logon before
    /// the stage gives up (they are not in the store, so the next start sends them).
    pub stop_grace: Duration,
}

impl LpOptions {
    /// Options for `sender_comp` → `target_comp` at `addr` with the store in `store_dir`:
    /// 30 s heartbeats, no password, no Account tag, nothing to resend, reconnect after
    /// 100 ms doubling to 5 s, 5 s stop grace, status answers awaited 10 s.
    pub fn new(addr: SocketAddr, sender_comp: &str, target_comp: &str, store_dir: &Path) -> Self {
        LpOptions {
            addr,
            sender_comp: sender_comp.into(),
            target_comp: target_comp.into(),
            password: None,
            store_dir: store_dir.to_path_buf(),
            heart_bt_int: 30,
            account_tag: false,
            account_ids: AccountDirectory::default(),
            allocation_instructions: true,
            begin_string: crate::fix::BEGIN_FIX44.to_vec(),
            resend: Vec::new(),
            restarted: false,
            engine_cum: BTreeMap::new(),
            status_timeout: Duration::from_secs(10),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            stop_grace: Duration::from_secs(5),
        }
    }
}

/// Why the LP stage cannot start.
#[derive(Debug, Error)]
pub enum LpError {
    /// The session store cannot be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store holds something that is not mam's.
    #[error(transparent)]
    Sent(#[from] SentError),
    /// The file of orders refused at the session level cannot be opened.
    #[error("LP stage: {path}: {source}")]
    Refusals {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The session cannot be built (bad CompIDs).
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The poller or a histogram cannot be created.
    #[error("LP stage: {0}")]
    Setup(String),
}

impl From<LatencyError> for LpError {
    fn from(e: LatencyError) -> Self {
        LpError::Setup(e.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    /// Logout sent at this monotonic time.
    LoggingOut(u64),
    Done,
}

/// What became of one order.
pub(super) enum Sent {
    Yes,
    /// Not now: keep it and retry.
    Wait,
    /// Never: tell the engine it is rejected.
    Refused,
    /// A cancel request that cannot be written: logged and dropped (the order stays working
    /// and ends as the LP reports it).
    Dropped,
}

/// The latency histograms the stage records (ns, monotonic clock).
#[derive(Debug)]
struct Hists {
    ring_wait: Histogram<u64>,
    first_out: Histogram<u64>,
    last_out: Histogram<u64>,
    /// The socket write of a cycle that carried a master's first or last child (`lp_write`):
    /// the part of "child on the ring → child out" spent in the kernel.
    write: Histogram<u64>,
}

/// The LP stage (see the module documentation).
#[derive(Debug)]
pub struct LpStage {
    ini: Initiator,
    orders: RingRx<EdgeOrder>,
    fills: FillOut,
    stop: Arc<AtomicBool>,
    /// Symbol text by instrument id.
    symbols: Vec<Vec<u8>>,
    accounts: AccountField,
    /// The allocation being gathered (lines of one block until its total line).
    alloc: AllocOut,
    /// FIX 4.2: NewOrderSingle carries HandlInst (decided once, not per order).
    handl_inst: bool,
    resend: Vec<ChildOrder>,
    resend_next: usize,
    /// An order popped that could not go yet.
    held: Option<EdgeOrder>,
    waiting: bool,
    /// Cause edge times of this batch's first (`true`) and last (`false`) children.
    batch_out: Vec<(u64, bool)>,
    hists: Hists,
    tap: Option<LatencyTap>,
    last_publish_ns: u64,
    stats: Arc<LpStats>,
    /// Refusals of our messages received this cycle, resolved after the socket turn.
    refused_refs: Vec<RefusedRef>,
    refusals: RefusalLog,
    recon: Recon,
    dec: Decoder,
    phase: Phase,
    logout_seen: bool,
    stop_since_ns: Option<u64>,
    stop_grace_ns: u64,
    /// A reload removed this LP: it ends as at a stop once its order ring has ended.
    retired: bool,
}

impl LpStage {
    /// Opens the store (expected incoming number set to 1 when `opts.restarted`), builds the
    /// session and the initiator (it connects on the first [`Stage::do_work`]).
    pub fn new(
        opts: LpOptions,
        symbols: &SymbolTable,
        orders: RingRx<EdgeOrder>,
        fills: RingTx<EdgeFrame>,
        stop: Arc<AtomicBool>,
        tap: Option<LatencyTap>,
    ) -> Result<Self, LpError> {
        let mut store = Store::open(&opts.store_dir)?;
        let sent = sent_orders(&store)?;
        if opts.restarted {
            store.set_next_target_seq(1);
        }
        let refusals = RefusalLog::open(&opts.store_dir).map_err(|source| LpError::Refusals {
            path: opts.store_dir.join(super::refusals::FILE),
            source,
        })?;
        let stats = Arc::new(LpStats::default());
        // Orders refused before the restart whose end the engine never journaled: ended now,
        // never sent again, never asked about.
        let (refused, open): (Vec<ChildOrder>, Vec<ChildOrder>) = opts
            .resend
            .iter()
            .partition(|c| refusals.contains(c.cl_ord_id));
        let resend = dedupe_resend(&open, &sent, &stats);
        let recon = Recon::new(
            open.iter()
                .filter(|c| c.ord_type != ORD_TYPE_CANCEL && sent.orders.contains(&c.cl_ord_id))
                .filter_map(|c| opts.engine_cum.get(&c.cl_ord_id).map(|&q| (*c, q))),
            opts.status_timeout.as_nanos() as u64,
        );
        let mut cfg = SessionConfig::new(Role::Initiator, &opts.sender_comp, &opts.target_comp);
        cfg.heart_bt_int = opts.heart_bt_int;
        cfg.password = opts.password.as_ref().map(|p| p.as_bytes().to_vec());
        cfg.begin_string = opts.begin_string.clone();
        let session = Session::new(cfg, store)?;
        let mut io = InitiatorOptions::new(opts.addr);
        io.backoff_min = opts.backoff_min;
        io.backoff_max = opts.backoff_max.max(opts.backoff_min);
        let ini = Initiator::new(session, io).map_err(|e| LpError::Setup(e.to_string()))?;
        let mut stage = LpStage {
            ini,
            orders,
            fills: FillOut::new(fills),
            stop,
            symbols: symbols
                .iter()
                .map(|s| s.name_str().as_bytes().to_vec())
                .collect(),
            accounts: AccountField::new(opts.account_tag, opts.account_ids.clone()),
            alloc: AllocOut::new(opts.allocation_instructions),
            handl_inst: opts.begin_string == crate::fix::BEGIN_FIX42,
            resend,
            resend_next: 0,
            held: None,
            waiting: false,
            batch_out: Vec::with_capacity(ORDER_BATCH),
            hists: Hists {
                ring_wait: new_histogram()?,
                first_out: new_histogram()?,
                last_out: new_histogram()?,
                write: new_histogram()?,
            },
            tap,
            last_publish_ns: mono_ns(),
            stats,
            refused_refs: Vec::new(),
            refusals,
            recon,
            dec: Decoder::new(),
            phase: Phase::Running,
            logout_seen: false,
            stop_since_ns: None,
            stop_grace_ns: opts.stop_grace.as_nanos() as u64,
            retired: false,
        };
        // What the LP holds from before the restart is working there until it ends.
        for c in open.iter().filter(|c| c.ord_type != ORD_TYPE_CANCEL) {
            if sent.orders.contains(&c.cl_ord_id) {
                stage.fills.working(c.cl_ord_id);
            }
        }
        for c in refused {
            tracing::warn!(
                cl_ord_id = c.cl_ord_id,
                "LP: order refused at the session level before the restart; ending it"
            );
            stage.stats.refused_before_restart.fetch_add(1, Relaxed);
            fills::forward(
                fills::rejected(c.cl_ord_id),
                0,
                &mut stage.fills,
                &mut stage.recon,
                &stage.stats,
            );
        }
        Ok(stage)
    }

    /// The counters (shared: readable while the stage runs on its thread).
    pub fn stats(&self) -> Arc<LpStats> {
        self.stats.clone()
    }
    /// The FIX session (sequence numbers, store, session counters).
    pub fn session(&self) -> &Session {
        self.ini.session()
    }
    /// True when logged on to the LP.
    pub fn is_logged_on(&self) -> bool {
        self.ini.is_logged_on()
    }
    /// Start-up resend orders not yet sent.
    pub fn resend_left(&self) -> usize {
        self.resend.len() - self.resend_next
    }
    /// Fills waiting for room on the engine's ring.
    pub fn fill_backlog(&self) -> usize {
        self.fills.backlog()
    }
    /// Ends the session as a stop does, without the daemon stopping: once the order ring has
    /// ended (its sender dropped) and everything on it is sent, log out and finish. For an LP
    /// a config reload removed ([`LpRouterStage`](super::LpRouterStage)).
    pub fn retire(&mut self) {
        self.retired = true;
    }
    /// Orders sent to the LP (or held by it at start) that have not ended yet.
    pub fn working_orders(&self) -> usize {
        self.fills.working_orders()
    }
}

/// The resend list without the orders (and cancel requests) the store already holds, or
/// listed twice.
fn dedupe_resend(list: &[ChildOrder], sent: &SentOrders, stats: &LpStats) -> Vec<ChildOrder> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(list.len());
    for c in list {
        let cancel = c.ord_type == ORD_TYPE_CANCEL;
        let held = if cancel { &sent.cancels } else { &sent.orders };
        if held.contains(&c.cl_ord_id) || !seen.insert((c.cl_ord_id, cancel)) {
            stats.resend_skipped.fetch_add(1, Relaxed);
            tracing::warn!(
                cl_ord_id = c.cl_ord_id,
                "LP: resend skipped, the order is already in the session store"
            );
        } else {
            out.push(*c);
        }
    }
    out
}

/// Encodes and sends one order on the session.
fn send_child(
    ini: &mut Initiator,
    symbols: &[Vec<u8>],
    accounts: &AccountField,
    handl_inst: bool,
    c: &ChildOrder,
    now: u64,
) -> Sent {
    let Some(sym) = symbols.get(c.instrument as usize) else {
        tracing::error!(
            cl_ord_id = c.cl_ord_id,
            instrument = c.instrument,
            "LP: order for an unknown instrument id, rejected at the edge"
        );
        return Sent::Refused;
    };
    let id = ClOrdIdText::new(c.cl_ord_id);
    let acct = accounts.text(c.account);
    let account = acct.as_ref().map(AccountText::as_bytes);
    if c.ord_type == ORD_TYPE_CANCEL {
        return send_cancel(ini, sym, account, c, &id, now);
    }
    let nos = match child_to_nos(c, &id, account, sym, now) {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(error = %e, "LP: order cannot be encoded, rejected at the edge");
            return Sent::Refused;
        }
    };
    let before = ini.session().next_sender_seq();
    let sent = ini.send_app(now, msg_type::NEW_ORDER_SINGLE, |w| {
        nos.encode(w);
        if handl_inst {
            // Automated execution, private, no broker intervention.
            w.char(crate::fix::tag::HANDL_INST, b'1');
        }
    });
    match sent {
        Ok(_) => Sent::Yes,
        Err(SessionError::NotLoggedOn(_) | SessionError::Backpressure { .. }) => Sent::Wait,
        // Stored before the failure (the transport broke while writing it): it is sent, the
        // LP gets it by resend after the reconnect.
        Err(_) if ini.session().next_sender_seq() > before => Sent::Yes,
        Err(SessionError::Encode(e)) => {
            tracing::error!(cl_ord_id = c.cl_ord_id, error = %e, "LP: order cannot be encoded, rejected at the edge");
            Sent::Refused
        }
        Err(e) => {
            tracing::warn!(cl_ord_id = c.cl_ord_id, error = %e, "LP: order not sent, will retry");
            Sent::Wait
        }
    }
}

/// Sends an OrderCancelRequest (35=F) for working order `c` (OrigClOrdID its id, ClOrdID
/// [`cancel_cl_ord_id`]); the LP answers with a Canceled ExecutionReport (the engine's fill
/// path ends the order) or an OrderCancelReject (counted; the order ends as the LP reports it).
fn send_cancel(
    ini: &mut Initiator,
    symbol: &[u8],
    account: Option<&[u8]>,
    c: &ChildOrder,
    orig: &ClOrdIdText,
    now: u64,
) -> Sent {
    let Some(side) = Side::from_u8(c.side) else {
        tracing::error!(
            cl_ord_id = c.cl_ord_id,
            side = c.side,
            "LP: cancel request with a bad side, dropped"
        );
        return Sent::Dropped;
    };
    let before = ini.session().next_sender_seq();
    let cl = cancel_cl_ord_id(c.cl_ord_id, before);
    let req = OrderCancelRequest {
        orig_cl_ord_id: orig.as_bytes(),
        cl_ord_id: cl.as_bytes(),
        account,
        symbol,
        side,
        qty: Some(c.qty),
        transact_time_ns: c.ts_ns.max(1),
    };
    match ini.send_app(now, msg_type::ORDER_CANCEL_REQUEST, |w| req.encode(w)) {
        Ok(_) => Sent::Yes,
        Err(SessionError::NotLoggedOn(_) | SessionError::Backpressure { .. }) => Sent::Wait,
        Err(_) if ini.session().next_sender_seq() > before => Sent::Yes,
        Err(SessionError::Encode(e)) => {
            tracing::error!(cl_ord_id = c.cl_ord_id, error = %e, "LP: cancel request cannot be encoded, dropped");
            Sent::Dropped
        }
        Err(e) => {
            tracing::warn!(cl_ord_id = c.cl_ord_id, error = %e, "LP: cancel request not sent, will retry");
            Sent::Wait
        }
    }
}

mod alloc;
mod cycle;
mod stats;
use alloc::AllocOut;
pub use stats::{LpCounts, LpStats};
