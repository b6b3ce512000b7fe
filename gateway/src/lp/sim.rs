//! [`SimLp`]: a simulated liquidity provider, a FIX 4.4 acceptor that fills every order.
//!
//! For each NewOrderSingle: an ack (ExecutionReport New), then `partial` partial fills, then
//! the final fill, all at once. A limit order fills at its price; a market order at
//! `market_price` moved `slippage_ticks` ticks against the client (a buy pays more). A ClOrdID
//! seen before is rejected (OrdRejReason 6, duplicate order), as a real LP would, and counted:
//! tests use it to prove no order went out twice. Every order's arrival is stamped with
//! [`mono_ns`] and kept for a latency harness in the same process ([`SimLpHandle::arrivals`]).
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
use crate::fix::convert::exec_id_u64;
use crate::fix::decode::Message;
use crate::fix::msg::{msg_type, ExecutionReport, NewOrderSingle};
use crate::fix::session::acceptor::{Acceptor, AcceptorOptions};
use crate::fix::session::initiator::now_ns;
use crate::fix::session::{Event, Role, Session, SessionConfig, SessionError};
use crate::fix::store::Store;
use crate::fix::tag;
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
}

#[derive(Debug, Default)]
struct Shared {
    arrivals: Mutex<Vec<(u64, u64)>>,
    seen: Mutex<BTreeMap<u64, u32>>,
    stats: SimLpStats,
}

/// A view of a [`SimLp`] that other threads can read.
#[derive(Debug, Clone)]
pub struct SimLpHandle(Arc<Shared>);

impl SimLpHandle {
    /// Takes the arrivals recorded so far: (ClOrdID, [`mono_ns`] at receipt), in arrival
    /// order. A ClOrdID that is not a decimal u64 is kept as its 64-bit FNV-1a hash.
    pub fn arrivals(&self) -> Vec<(u64, u64)> {
        std::mem::take(&mut *self.0.arrivals.lock().unwrap_or_else(|e| e.into_inner()))
    }
    /// How many times each ClOrdID arrived.
    pub fn seen(&self) -> BTreeMap<u64, u32> {
        self.0
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
    /// The counters.
    pub fn stats(&self) -> &SimLpStats {
        &self.0.stats
    }
}

/// One ExecutionReport waiting to go, with owned fields.
#[derive(Debug, Clone)]
struct PendingEr {
    cl_ord_id: Vec<u8>,
    exec_id: Vec<u8>,
    exec_type: u8,
    ord_status: u8,
    account: Option<Vec<u8>>,
    symbol: Vec<u8>,
    side: Side,
    order_qty: Qty,
    price: Option<Price>,
    last: Option<(Qty, Price)>,
    leaves: Qty,
    cum: Qty,
    avg_px: Price,
    rej_reason: Option<&'static [u8]>,
}

/// The simulated LP (see the module documentation). Drive it with [`SimLp::turn`], or run it
/// on its own thread with [`SimLp::spawn`].
#[derive(Debug)]
pub struct SimLp {
    acceptor: Acceptor,
    opts: SimLpOptions,
    shared: Arc<Shared>,
    queue: VecDeque<PendingEr>,
}

impl SimLp {
    /// Opens the store and listens.
    pub fn bind(opts: SimLpOptions) -> Result<Self, LpError> {
        let store = Store::open(&opts.store_dir)?;
        let cfg = SessionConfig::new(Role::Acceptor, &opts.sender, &opts.target);
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
        let SimLp {
            acceptor,
            opts,
            shared,
            queue,
        } = self;
        let mut n = 0;
        acceptor.turn(now_ns(), Some(timeout), &mut |_, e| {
            n += 1;
            match e {
                Event::App { msg, .. } if msg.msg_type() == msg_type::NEW_ORDER_SINGLE => {
                    on_order(msg, opts, shared, queue)
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

    fn send_queued(&mut self) -> usize {
        let mut n = 0;
        while let Some(p) = self.queue.front() {
            let er = ExecutionReport {
                order_id: &p.cl_ord_id,
                cl_ord_id: Some(&p.cl_ord_id),
                orig_cl_ord_id: None,
                exec_id: &p.exec_id,
                exec_type: p.exec_type,
                ord_status: p.ord_status,
                account: p.account.as_deref(),
                symbol: &p.symbol,
                side: p.side,
                order_qty: Some(p.order_qty),
                price: p.price,
                last_qty: p.last.map(|l| l.0),
                last_px: p.last.map(|l| l.1),
                leaves_qty: p.leaves,
                cum_qty: p.cum,
                avg_px: p.avg_px,
                text: p.rej_reason.map(|_| &b"duplicate ClOrdID"[..]),
            };
            let rej = p.rej_reason;
            let before = self.acceptor.session(0).next_sender_seq();
            let r = self
                .acceptor
                .send_app(0, now_ns(), msg_type::EXECUTION_REPORT, |w| {
                    er.encode(w);
                    if let Some(r) = rej {
                        w.field(tag::ORD_REJ_REASON, r);
                    }
                });
            // Stored means sent: a broken connection delivers it by resend later.
            if r.is_err() && self.acceptor.session(0).next_sender_seq() == before {
                break;
            }
            if p.last.is_some() {
                self.shared.stats.fills.fetch_add(1, Relaxed);
            }
            self.shared.stats.exec_reports.fetch_add(1, Relaxed);
            self.queue.pop_front();
            n += 1;
        }
        n
    }
}

/// The fill price of an order: its limit, or the market price moved against the client.
fn fill_price(o: &NewOrderSingle<'_>, opts: &SimLpOptions) -> Price {
    match (o.ord_type, o.price) {
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

fn on_order(m: &Message<'_>, opts: &SimLpOptions, shared: &Shared, q: &mut VecDeque<PendingEr>) {
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
    shared
        .arrivals
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((id, arrival));
    let times = {
        let mut seen = shared.seen.lock().unwrap_or_else(|e| e.into_inner());
        let t = seen.entry(id).or_insert(0);
        *t += 1;
        *t
    };
    let base = PendingEr {
        cl_ord_id: o.cl_ord_id.to_vec(),
        exec_id: Vec::new(),
        exec_type: b'0',
        ord_status: b'0',
        account: o.account.map(<[u8]>::to_vec),
        symbol: o.symbol.to_vec(),
        side: o.side,
        order_qty: o.qty,
        price: o.price,
        last: None,
        leaves: o.qty,
        cum: Qty::ZERO,
        avg_px: Price::ZERO,
        rej_reason: None,
    };
    let exec_id = |n: u32| format!("{}.{n}", String::from_utf8_lossy(o.cl_ord_id)).into_bytes();
    if times > 1 {
        shared.stats.duplicates.fetch_add(1, Relaxed);
        tracing::warn!(cl_ord_id = %String::from_utf8_lossy(o.cl_ord_id), times, "SimLp: duplicate ClOrdID rejected");
        q.push_back(PendingEr {
            exec_id: format!("{}.dup{times}", String::from_utf8_lossy(o.cl_ord_id)).into_bytes(),
            exec_type: b'8',
            ord_status: b'8',
            leaves: Qty::ZERO,
            rej_reason: Some(b"6"),
            ..base
        });
        return;
    }
    q.push_back(PendingEr {
        exec_id: exec_id(0),
        ..base.clone()
    });
    let px = fill_price(&o, opts);
    let total = o.qty.raw();
    let parts = i64::from(opts.partial) + 1;
    let share = total / parts;
    let mut cum = 0i64;
    let mut n = 1;
    for _ in 0..opts.partial {
        if share == 0 {
            break;
        }
        cum += share;
        q.push_back(PendingEr {
            exec_id: exec_id(n),
            exec_type: b'F',
            ord_status: b'1',
            last: Some((Qty::from_raw(share), px)),
            leaves: Qty::from_raw(total - cum),
            cum: Qty::from_raw(cum),
            avg_px: px,
            ..base.clone()
        });
        n += 1;
    }
    q.push_back(PendingEr {
        exec_id: exec_id(n),
        exec_type: b'F',
        ord_status: b'2',
        last: Some((Qty::from_raw(total - cum), px)),
        leaves: Qty::ZERO,
        cum: o.qty,
        avg_px: px,
        ..base
    });
}

mod thread;
pub use thread::SimLpThread;
