//! [`SimLp`]: a simulated liquidity provider, a FIX 4.4 acceptor that fills every order.
//!
//! For each NewOrderSingle: an ack (ExecutionReport New), then `partial` partial fills, then
//! the final fill, all at once. A limit order fills at its price; a market order at
//! `market_price` moved `slippage_ticks` ticks against the client (a buy pays more). A ClOrdID
//! seen before is rejected (OrdRejReason 6, duplicate order), as a real LP would, and counted:
//! tests use it to prove no order went out twice. Every order's arrival is stamped with
//! [`mono_ns`] and kept for a latency harness in the same process ([`SimLpHandle::arrivals`]).
//!
//! An AllocationInstruction (35=J) is kept and acknowledged (35=P; AllocStatus 0, or 1 when
//! its AllocQty do not add up to its Quantity).
//!
//! An OrderCancelRequest (35=F) cancels what is left of an open order (ExecutionReport
//! Canceled) or is refused with an OrderCancelReject (35=9: too late, unknown order).
//!
//! An OrderStatusRequest (35=H) is answered with an ExecutionReport ExecType I (Order Status)
//! carrying the order's OrdStatus, CumQty, LeavesQty and AvgPx, or OrdStatus Rejected with
//! OrdRejReason 5 for an order it does not know ([`StatusRequests`] can make it refuse or
//! ignore them instead, like LPs that do not support them).
//!
//! Tests steer it through [`SimLpHandle`]: with [`SimLpOptions::auto_fill`] off, orders are
//! only acknowledged until [`SimLpHandle::fill`] or [`SimLpHandle::cancel`];
//! [`SimLpHandle::refuse`] makes it refuse a given ClOrdID at the session level (35=3) or with
//! a BusinessMessageReject (35=j); [`SimLpOptions::resend_reports`] off makes it gap-fill its
//! ExecutionReports when asked to resend them.
//!
//! ExecutionReports that cannot go (the client is not logged on) wait, in order, and go out
//! after its next Logon; the session store keeps what was sent for FIX resends.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mam_core::event::{OrdType, Side};
use mam_core::num::{Price, Qty};

use super::stage::LpError;
use crate::fix::alloc::ReceivedAllocation;
use crate::fix::convert::exec_id_u64;
use crate::fix::decode::Message;
use crate::fix::msg::{msg_type, NewOrderSingle, OrderCancelRequest, OrderStatusRequest};
use crate::fix::session::acceptor::{Acceptor, AcceptorOptions};
use crate::fix::session::initiator::now_ns;
use crate::fix::session::{Event, Role, Session, SessionConfig, SessionError};
use crate::fix::store::Store;
use crate::latency::mono_ns;

/// How the simulated LP behaves.
#[derive(Debug, Clone)]
pub struct SimLpOptions {
    /// Address to listen on (port 0: any free port).
    pub bind: SocketAddr,
    /// The LP's CompID.
    pub sender: String,
    /// The client's CompID (mam's).
    pub target: String,
    /// The session store directory.
    pub store_dir: PathBuf,
    /// Partial fills before the final fill (each an equal share; the final takes the rest).
    pub partial: u32,
    /// Ticks a market order's fill moves against the client.
    pub slippage_ticks: i64,
    /// One tick.
    pub tick: Price,
    /// The price market orders fill at (before slippage).
    pub market_price: Price,
    /// Fill every order at once (the default); off: acknowledge orders and wait for
    /// [`SimLpHandle::fill`] or [`SimLpHandle::cancel`].
    pub auto_fill: bool,
    /// How OrderStatusRequests are answered.
    pub status: StatusRequests,
    /// Resend ExecutionReports when the client asks (FIX's rule, the default); off: gap-fill
    /// them, as LPs do that expect an OrderStatusRequest after a reconnect instead.
    pub resend_reports: bool,
    /// Fill a limit order that is marketable against `market_price` at `market_price` (the
    /// price improvement an LP gives), not at its limit. Off by default: every limit order
    /// fills at its limit.
    pub price_improvement: bool,
    /// Keep every AllocationInstruction received for [`SimLpHandle::allocations`] (the
    /// default). Off for long runs: a 1,000-account block fill is 1,000 kept lines, and the
    /// socket bench's heap growth (page faults, `mprotect`) was a fifth of SimLp's thread.
    pub keep_allocations: bool,
}

/// What the simulated LP does with an OrderStatusRequest (35=H).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusRequests {
    /// Answer it (ExecutionReport ExecType I).
    Answer,
    /// Refuse it with a BusinessMessageReject, reason 3 (unsupported message type), as
    /// QuickFIX's executor does.
    Refuse,
    /// Never answer (an LP that drops what it does not know).
    Ignore,
}

/// How [`SimLpHandle::refuse`] makes the LP refuse an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A session-level Reject (35=3) with RefSeqNum = the order's MsgSeqNum.
    Session,
    /// A BusinessMessageReject (35=j) with RefSeqNum, RefMsgType D and BusinessRejectRefID =
    /// the ClOrdID.
    Business,
}

impl SimLpOptions {
    /// Defaults: 127.0.0.1, any port, `LP` ← `MAM`, no partials, no slippage, tick 0.00001,
    /// market orders at 1.10000.
    pub fn new(store_dir: &Path) -> Self {
        SimLpOptions {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            sender: "LP".into(),
            target: "MAM".into(),
            store_dir: store_dir.to_path_buf(),
            partial: 0,
            slippage_ticks: 0,
            tick: Price::from_raw(1_000),
            market_price: Price::from_raw(110_000_000),
            auto_fill: true,
            status: StatusRequests::Answer,
            resend_reports: true,
            price_improvement: false,
            keep_allocations: true,
        }
    }
}

/// The simulated LP's counters.
#[derive(Debug, Default)]
pub struct SimLpStats {
    /// NewOrderSingles received (duplicates included).
    pub orders: AtomicU64,
    /// Orders whose ClOrdID had been seen before (rejected).
    pub duplicates: AtomicU64,
    /// NewOrderSingles that did not parse (the session rejects most before).
    pub bad: AtomicU64,
    /// ExecutionReports sent (stored by the session).
    pub exec_reports: AtomicU64,
    /// Fills sent (partial and final).
    pub fills: AtomicU64,
    /// Logons completed.
    pub logons: AtomicU64,
    /// Logouts received.
    pub logouts: AtomicU64,
    /// OrderStatusRequests received.
    pub status_requests: AtomicU64,
    /// Of those, about orders it did not know (answered Rejected, unknown order).
    pub status_unknown: AtomicU64,
    /// Orders refused on request ([`SimLpHandle::refuse`]).
    pub refused: AtomicU64,
    /// Orders cancelled on request ([`SimLpHandle::cancel`]).
    pub cancels: AtomicU64,
    /// OrderCancelRequests (35=F) received.
    pub cancel_requests: AtomicU64,
    /// Of those, refused with an OrderCancelReject (35=9): the order was done or unknown.
    pub cancel_rejects: AtomicU64,
    /// AllocationInstructions (35=J) received.
    pub allocations: AtomicU64,
    /// Of those, rejected (AllocStatus 1: Σ AllocQty is not the Quantity, or unreadable).
    pub alloc_rejects: AtomicU64,
    /// Requests through the handle applied (fill, cancel; done or not): a test knows its
    /// request is in the LP's state, and its report queued, once this counts it.
    pub commands: AtomicU64,
}

/// What a test asks of the LP between turns.
#[derive(Debug, Clone, Copy)]
enum Command {
    Fill(u64, Option<Qty>),
    Cancel(u64),
}

#[derive(Debug, Default)]
struct Shared {
    arrivals: Mutex<Vec<(u64, u64)>>,
    seen: Mutex<BTreeMap<u64, u32>>,
    commands: Mutex<VecDeque<Command>>,
    refuse: Mutex<BTreeMap<u64, Refusal>>,
    allocations: Mutex<Vec<ReceivedAllocation>>,
    stats: SimLpStats,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A view of a [`SimLp`] that other threads can read.
#[derive(Debug, Clone)]
pub struct SimLpHandle(Arc<Shared>);

impl SimLpHandle {
    /// Takes the arrivals recorded so far: (ClOrdID, [`mono_ns`] at receipt), in arrival
    /// order. A ClOrdID that is not a decimal u64 is kept as its 64-bit FNV-1a hash.
    pub fn arrivals(&self) -> Vec<(u64, u64)> {
        std::mem::take(&mut *lock(&self.0.arrivals))
    }
    /// How many times each ClOrdID arrived.
    pub fn seen(&self) -> BTreeMap<u64, u32> {
        lock(&self.0.seen).clone()
    }
    /// Fills `qty` of open order `cl_ord_id` (all that is left with `None`) at its price, on
    /// the LP's next turn (the report waits for the client's Logon if it is away).
    pub fn fill(&self, cl_ord_id: u64, qty: Option<Qty>) {
        lock(&self.0.commands).push_back(Command::Fill(cl_ord_id, qty));
    }
    /// Cancels what is left of open order `cl_ord_id` (an unsolicited cancel), on the LP's
    /// next turn.
    pub fn cancel(&self, cl_ord_id: u64) {
        lock(&self.0.commands).push_back(Command::Cancel(cl_ord_id));
    }
    /// The AllocationInstructions received so far, in order.
    pub fn allocations(&self) -> Vec<ReceivedAllocation> {
        lock(&self.0.allocations).clone()
    }
    /// When order `cl_ord_id` arrives, refuse it `how` instead of accepting it (it stays
    /// unknown to the LP).
    pub fn refuse(&self, cl_ord_id: u64, how: Refusal) {
        lock(&self.0.refuse).insert(cl_ord_id, how);
    }
    /// The counters.
    pub fn stats(&self) -> &SimLpStats {
        &self.0.stats
    }
}

/// The simulated LP (see the module documentation). Drive it with [`SimLp::turn`], or run it
/// on its own thread with [`SimLp::spawn`].
#[derive(Debug)]
pub struct SimLp {
    acceptor: Acceptor,
    opts: SimLpOptions,
    shared: Arc<Shared>,
    queue: VecDeque<Out>,
    book: Book,
}

impl SimLp {
    /// Opens the store and listens.
    pub fn bind(opts: SimLpOptions) -> Result<Self, LpError> {
        let store = Store::open(&opts.store_dir)?;
        let mut cfg = SessionConfig::new(Role::Acceptor, &opts.sender, &opts.target);
        cfg.resend_app = opts.resend_reports;
        let session = Session::new(cfg, store)?;
        let ao = AcceptorOptions {
            bind: opts.bind,
            ..AcceptorOptions::default()
        };
        let acceptor = Acceptor::bind(vec![session], ao)
            .map_err(|e| LpError::Setup(format!("SimLp: bind {}: {e}", opts.bind)))?;
        Ok(SimLp {
            acceptor,
            opts,
            shared: Arc::default(),
            queue: VecDeque::new(),
            book: Book::default(),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.acceptor.local_addr()
    }
    /// A handle to its arrivals and counters.
    pub fn handle(&self) -> SimLpHandle {
        SimLpHandle(self.shared.clone())
    }
    /// The FIX session.
    pub fn session(&self) -> &Session {
        self.acceptor.session(0)
    }

    /// One turn: wait up to `timeout` for the socket, answer what arrived, send what waits.
    /// Returns the number of session events handled plus reports sent.
    pub fn turn(&mut self, timeout: Duration) -> Result<usize, SessionError> {
        let mut n = self.run_commands();
        let SimLp {
            acceptor,
            opts,
            shared,
            queue,
            book,
        } = self;
        acceptor.turn(now_ns(), Some(timeout), &mut |_, e| {
            n += 1;
            match e {
                Event::App { msg, .. } if msg.msg_type() == msg_type::NEW_ORDER_SINGLE => {
                    on_order(msg, opts, shared, queue, book)
                }
                Event::App { msg, .. } if msg.msg_type() == msg_type::ALLOCATION_INSTRUCTION => {
                    on_allocation(msg, shared, opts.keep_allocations, queue)
                }
                Event::App { msg, .. } if msg.msg_type() == msg_type::ORDER_CANCEL_REQUEST => {
                    on_cancel(msg, shared, queue, book)
                }
                Event::App { msg, .. } if msg.msg_type() == msg_type::ORDER_STATUS_REQUEST => {
                    on_status(msg, opts.status, shared, queue, book)
                }
                Event::LoggedOn { .. } => {
                    shared.stats.logons.fetch_add(1, Relaxed);
                }
                Event::LoggedOut => {
                    shared.stats.logouts.fetch_add(1, Relaxed);
                }
                _ => {}
            }
        })?;
        Ok(n + self.send_queued())
    }

    /// Applies what the tests asked for through the handle.
    fn run_commands(&mut self) -> usize {
        let cmds = std::mem::take(&mut *lock(&self.shared.commands));
        for c in &cmds {
            let done = match *c {
                Command::Fill(id, qty) => self.book.fill(id, qty, &mut self.queue),
                Command::Cancel(id) => {
                    let ok = self.book.cancel(id, &mut self.queue);
                    if ok {
                        self.shared.stats.cancels.fetch_add(1, Relaxed);
                    }
                    ok
                }
            };
            if !done {
                tracing::warn!(command = ?c, "SimLp: no such open order");
            }
            self.shared.stats.commands.fetch_add(1, Relaxed);
        }
        cmds.len()
    }
}

/// The fill price of an order: its limit (or, with `price_improvement`, the market price if
/// that is better for the client), or the market price moved against the client.
fn fill_price(o: &NewOrderSingle<'_>, opts: &SimLpOptions) -> Price {
    match (o.ord_type, o.price) {
        (OrdType::Limit, Some(p)) if opts.price_improvement => match o.side {
            Side::Buy => p.min(opts.market_price),
            Side::Sell => p.max(opts.market_price),
        },
        (OrdType::Limit, Some(p)) => p,
        _ => {
            let slip = opts.tick.raw().saturating_mul(opts.slippage_ticks);
            let m = opts.market_price.raw();
            Price::from_raw(match o.side {
                Side::Buy => m.saturating_add(slip),
                Side::Sell => m.saturating_sub(slip),
            })
        }
    }
}

fn on_order(
    m: &Message<'_>,
    opts: &SimLpOptions,
    shared: &Shared,
    q: &mut VecDeque<Out>,
    book: &mut Book,
) {
    let arrival = mono_ns();
    shared.stats.orders.fetch_add(1, Relaxed);
    let o = match NewOrderSingle::parse(m) {
        Ok(o) => o,
        Err(e) => {
            shared.stats.bad.fetch_add(1, Relaxed);
            tracing::warn!(error = ?e, "SimLp: unreadable NewOrderSingle");
            return;
        }
    };
    let id = exec_id_u64(o.cl_ord_id);
    lock(&shared.arrivals).push((id, arrival));
    let times = {
        let mut seen = lock(&shared.seen);
        let t = seen.entry(id).or_insert(0);
        *t += 1;
        *t
    };
    let base = PendingEr {
        order_id: o.cl_ord_id.to_vec(),
        cl_ord_id: o.cl_ord_id.to_vec(),
        orig_cl_ord_id: None,
        exec_id: Vec::new(),
        exec_type: b'0',
        ord_status: b'0',
        account: o.account.map(<[u8]>::to_vec),
        symbol: o.symbol.to_vec(),
        side: o.side,
        order_qty: Some(o.qty),
        price: o.price,
        last: None,
        leaves: o.qty,
        cum: Qty::ZERO,
        avg_px: Price::ZERO,
        rej_reason: None,
        req_id: None,
        text: None,
    };
    if times > 1 {
        shared.stats.duplicates.fetch_add(1, Relaxed);
        tracing::warn!(cl_ord_id = %String::from_utf8_lossy(o.cl_ord_id), times, "SimLp: duplicate ClOrdID rejected");
        q.push_back(Out::Er(PendingEr {
            exec_id: format!("{}.dup{times}", String::from_utf8_lossy(o.cl_ord_id)).into_bytes(),
            exec_type: b'8',
            ord_status: b'8',
            leaves: Qty::ZERO,
            rej_reason: Some(b"6"),
            text: Some(b"duplicate ClOrdID"),
            ..base
        }));
        return;
    }
    if let Some(how) = lock(&shared.refuse).get(&id).copied() {
        shared.stats.refused.fetch_add(1, Relaxed);
        let ref_seq = m.seq().unwrap_or(0);
        q.push_back(match how {
            Refusal::Session => Out::SessionReject {
                ref_seq,
                text: b"order refused at the session level",
            },
            Refusal::Business => Out::BusinessReject {
                ref_seq,
                ref_msg_type: msg_type::NEW_ORDER_SINGLE,
                ref_id: Some(o.cl_ord_id.to_vec()),
                reason: 0,
                text: b"order refused",
            },
        });
        return;
    }
    book.accept(
        id,
        base,
        fill_price(&o, opts),
        opts.auto_fill,
        opts.partial,
        q,
    );
}

/// An AllocationInstruction: kept for the tests ([`SimLpHandle::allocations`]) and answered
/// with an AllocationInstructionAck, AllocStatus 0 (accepted) when Σ AllocQty = Quantity, else
/// 1 (block level reject) with AllocRejCode 1 (incorrect quantity).
fn on_allocation(m: &Message<'_>, shared: &Shared, keep: bool, q: &mut VecDeque<Out>) {
    shared.stats.allocations.fetch_add(1, Relaxed);
    // The session validated it (ReceivedAllocation::parse): it parses.
    let Ok(a) = ReceivedAllocation::parse(m) else {
        return;
    };
    let sum: i64 = a.allocs.iter().map(|l| l.qty.raw()).sum();
    let ok = sum == a.quantity.raw();
    if !ok {
        shared.stats.alloc_rejects.fetch_add(1, Relaxed);
    }
    q.push_back(Out::AllocAck {
        alloc_id: a.alloc_id.clone(),
        accepted: ok,
    });
    if keep {
        lock(&shared.allocations).push(a);
    }
}

/// An OrderCancelRequest: what is left of an open order is cancelled (ExecutionReport
/// Canceled, ClOrdID the request's, OrigClOrdID the order's); a done or unknown order gets an
/// OrderCancelReject (CxlRejReason 0 too late, 1 unknown order), as FIX 4.4 prescribes.
fn on_cancel(m: &Message<'_>, shared: &Shared, q: &mut VecDeque<Out>, book: &mut Book) {
    shared.stats.cancel_requests.fetch_add(1, Relaxed);
    // The session validated the required fields: it parses.
    let Ok(r) = OrderCancelRequest::parse(m) else {
        return;
    };
    if !book.cancel_request(exec_id_u64(r.orig_cl_ord_id), &r, q) {
        shared.stats.cancel_rejects.fetch_add(1, Relaxed);
    }
}

fn on_status(
    m: &Message<'_>,
    mode: StatusRequests,
    shared: &Shared,
    q: &mut VecDeque<Out>,
    book: &Book,
) {
    shared.stats.status_requests.fetch_add(1, Relaxed);
    match mode {
        StatusRequests::Ignore => {}
        StatusRequests::Refuse => q.push_back(Out::BusinessReject {
            ref_seq: m.seq().unwrap_or(0),
            ref_msg_type: msg_type::ORDER_STATUS_REQUEST,
            ref_id: None,
            reason: 3,
            text: b"Unsupported Message Type",
        }),
        StatusRequests::Answer => {
            // The session validated it (required fields): it parses.
            let Ok(r) = OrderStatusRequest::parse(m) else {
                return;
            };
            if !book.status(exec_id_u64(r.cl_ord_id), &r, q) {
                shared.stats.status_unknown.fetch_add(1, Relaxed);
            }
        }
    }
}

mod book;
mod out;
mod thread;
use book::{Book, PendingEr};
use out::Out;
pub use thread::SimLpThread;

#[cfg(test)]
mod tests {
    use super::*;

    fn order(side: Side, ord_type: OrdType, price: Option<Price>) -> NewOrderSingle<'static> {
        NewOrderSingle {
            cl_ord_id: b"1",
            account: None,
            symbol: b"EURUSD",
            side,
            qty: Qty::from_raw(1_000_000),
            ord_type,
            price,
            time_in_force: None,
            transact_time_ns: 0,
        }
    }

    /// Limits fill at their limit unless price improvement is on; then a marketable limit
    /// fills at the market, and one away from the market still at its limit.
    #[test]
    fn limits_fill_at_the_limit_or_improved_to_the_market() {
        let mut o = SimLpOptions::new(Path::new("unused"));
        o.market_price = Price::from_raw(114_000_000);
        let px = |raw| Some(Price::from_raw(raw));
        let buy_above = order(Side::Buy, OrdType::Limit, px(117_000_000));
        let buy_below = order(Side::Buy, OrdType::Limit, px(113_000_000));
        let sell_below = order(Side::Sell, OrdType::Limit, px(111_000_000));
        let sell_above = order(Side::Sell, OrdType::Limit, px(115_000_000));
        assert_eq!(fill_price(&buy_above, &o), Price::from_raw(117_000_000));
        assert_eq!(fill_price(&sell_below, &o), Price::from_raw(111_000_000));
        o.price_improvement = true;
        assert_eq!(fill_price(&buy_above, &o), o.market_price);
        assert_eq!(fill_price(&sell_below, &o), o.market_price);
        assert_eq!(fill_price(&buy_below, &o), Price::from_raw(113_000_000));
        assert_eq!(fill_price(&sell_above, &o), Price::from_raw(115_000_000));
        // Market orders: the market, slipped against the client.
        o.slippage_ticks = 2;
        let m = order(Side::Buy, OrdType::Market, None);
        assert_eq!(fill_price(&m, &o), Price::from_raw(114_002_000));
    }
}
