//! [`LpRouterStage`]: several LP sessions behind one stage, an order routed to one of them.
//!
//! The engine's order ring feeds the router; the router feeds each LP's own ring, and each
//! [`LpStage`] sends to its LP and pushes that LP's fills onto its own fill ring into the
//! engine. Which LP an order goes to:
//!
//! - a new order: the LP its symbol is routed to ([`LpRoutes`]); if that LP's session is not
//!   logged on and its fallback's is, the fallback. With neither up it waits for the routed
//!   one (nothing is dropped);
//! - a cancel request or a block's allocation lines: the LP that holds the order they name,
//!   whatever it is now (only that LP knows the order).
//!
//! A config reload changes the set while it runs ([`RouterChanges`]): an LP added takes
//! orders from the next routing on; new routes apply to new orders; an LP removed takes no
//! new order and is *drained*: it keeps its session for the cancels, fills and allocation
//! lines of the orders it holds, and logs out once none is working there.
//!
//! The route is decided here, at the edge, and not journaled: which LP fills an order changes
//! no decision of the engine (fills are allocated the same whoever executes them), and after a
//! restart each LP's session store says which orders that LP holds
//! ([`sent_orders`](super::sent_orders)), which is what cancels and the resend need.

use std::sync::Arc;

use crossbeam_queue::ArrayQueue;

use mam_core::event::{ORD_TYPE_ALLOC, ORD_TYPE_CANCEL};
use mam_core::pipeline::{EdgeOrder, RingRx, RingTx, Stage};
use rustc_hash::FxHashMap;

use super::stage::LpStage;

/// Most orders routed per duty cycle (the LP stages send in batches of their own).
pub const ROUTE_BATCH: usize = 256;

/// Where each symbol's orders go: LP index by instrument id, and each LP's fallback.
#[derive(Debug, Clone, Default)]
pub struct LpRoutes {
    /// LP index by instrument id; instruments past the end go to LP 0.
    pub by_instrument: Vec<usize>,
    /// Fallback LP index of each LP, if it has one.
    pub fallback: Vec<Option<usize>>,
}

impl LpRoutes {
    /// The LP `instrument` is routed to.
    pub fn primary(&self, instrument: u32) -> usize {
        self.by_instrument
            .get(instrument as usize)
            .copied()
            .unwrap_or(0)
    }

    /// The LP a new order for `instrument` goes to, given which LPs are logged on now.
    pub fn pick(&self, instrument: u32, up: impl Fn(usize) -> bool) -> usize {
        let primary = self.primary(instrument);
        match self.fallback.get(primary).copied().flatten() {
            Some(f) if !up(primary) && up(f) => f,
            _ => primary,
        }
    }
}

/// One LP behind the router.
#[derive(Debug)]
pub struct RoutedLp {
    /// Its name (`[lp]` is `lp`), for logs and counters.
    pub name: String,
    /// The LP's stage (its own order ring is fed by `tx`).
    pub stage: LpStage,
    /// The router's end of that ring (dropped once the engine's ring has ended and
    /// everything on it was passed on, or once a removed LP is drained, so the LP stage sees
    /// its source end).
    pub tx: Option<RingTx<EdgeOrder>>,
    /// Removed by a reload: no new orders; drained, then logged out.
    pub removed: bool,
}

impl RoutedLp {
    /// LP `name` with its stage and the sender of the stage's order ring.
    pub fn new(name: &str, stage: LpStage, tx: RingTx<EdgeOrder>) -> Self {
        RoutedLp {
            name: name.to_string(),
            stage,
            tx: Some(tx),
            removed: false,
        }
    }

    /// True once a removed LP holds nothing: its ring is empty, its start-up resend is sent,
    /// no order is working there and no fill waits for the engine.
    fn drained(&self) -> bool {
        self.tx.as_ref().is_none_or(|t| t.stats().depth() == 0)
            && self.stage.resend_left() == 0
            && self.stage.working_orders() == 0
            && self.stage.fill_backlog() == 0
    }
}

/// A change to a running router (a config reload).
#[derive(Debug)]
pub enum RouterChange {
    /// One more LP (its index is the next one).
    Add(Box<RoutedLp>),
    /// New routes for new orders (indices as the router numbers its LPs).
    Routes(LpRoutes),
    /// No new orders for this LP; drain it, then log it out.
    Remove(String),
}

/// The queue of [`RouterChange`]s (several producers: the signal thread and the admin API).
#[derive(Debug)]
pub struct RouterChanges(ArrayQueue<RouterChange>);

impl Default for RouterChanges {
    fn default() -> Self {
        RouterChanges(ArrayQueue::new(64))
    }
}

impl RouterChanges {
    /// Queues `c`; gives it back if 64 changes already wait.
    pub fn push(&self, c: RouterChange) -> Result<(), RouterChange> {
        self.0.push(c)
    }
}

/// Routes the engine's orders over several [`LpStage`]s (see the module docs).
#[derive(Debug)]
pub struct LpRouterStage {
    orders: RingRx<EdgeOrder>,
    lps: Vec<RoutedLp>,
    routes: LpRoutes,
    /// Which LP holds each order sent (or queued) since start, and those its store held.
    /// It grows by one entry per order for the life of the process (tens of bytes each: a
    /// million orders a day is tens of MB): the router never sees an order end, because fills
    /// go from each LP stage straight to the engine. Pruning it needs the LP stages to say when
    /// an order is done.
    /// FxHash: one insert per order routed.
    held_by: FxHashMap<u64, usize>,
    /// An order whose LP's ring was full: retried first.
    waiting: Option<(usize, EdgeOrder)>,
    /// Orders routed to each LP (the stats line).
    routed: Vec<u64>,
    /// New orders that went to a fallback.
    fallbacks: u64,
    /// Changes from a config reload, if it can change.
    changes: Option<Arc<RouterChanges>>,
    /// LPs removed and not yet drained.
    draining: usize,
}

impl LpRouterStage {
    /// A router over `lps` (LP 0 first). `held` lists, for each LP, the orders its session
    /// store holds as sent (a restart: their cancels and allocation lines go there).
    pub fn new(
        orders: RingRx<EdgeOrder>,
        lps: Vec<RoutedLp>,
        routes: LpRoutes,
        held: &[Vec<u64>],
    ) -> Self {
        let mut held_by = FxHashMap::default();
        for (i, ids) in held.iter().enumerate() {
            for &id in ids {
                held_by.insert(id, i);
            }
        }
        let n = lps.len();
        LpRouterStage {
            orders,
            lps,
            routes,
            held_by,
            waiting: None,
            routed: vec![0; n],
            fallbacks: 0,
            changes: None,
            draining: 0,
        }
    }

    /// Takes changes from `c` while it runs ([`RouterChanges`]).
    pub fn with_changes(mut self, c: Arc<RouterChanges>) -> Self {
        self.changes = Some(c);
        self
    }

    /// Applies queued changes; drains removed LPs.
    fn change(&mut self) -> usize {
        let mut work = 0;
        while let Some(c) = self.changes.as_ref().and_then(|q| q.0.pop()) {
            work += 1;
            match c {
                RouterChange::Add(lp) => {
                    self.lps.push(*lp);
                    self.routed.push(0);
                }
                RouterChange::Routes(r) => self.routes = r,
                RouterChange::Remove(name) => {
                    let live = self.lps.iter_mut().find(|l| l.name == name && !l.removed);
                    if let Some(l) = live {
                        l.removed = true;
                        self.draining += 1;
                    }
                }
            }
        }
        if self.draining > 0 {
            let held = self.waiting.as_ref().map(|w| w.0);
            for (i, l) in self.lps.iter_mut().enumerate() {
                if l.removed && l.tx.is_some() && held != Some(i) && l.drained() {
                    // Its stage sees the ring end and logs out as at a stop.
                    l.tx = None;
                    l.stage.retire();
                    self.draining -= 1;
                    work += 1;
                }
            }
        }
        work
    }

    /// The LPs, in index order.
    pub fn lps(&self) -> &[RoutedLp] {
        &self.lps
    }

    /// Orders routed to each LP since start, and how many new orders went to a fallback.
    pub fn routed(&self) -> (&[u64], u64) {
        (&self.routed, self.fallbacks)
    }

    fn route(&mut self, o: &EdgeOrder) -> usize {
        let c = &o.order;
        // A cancel request and allocation lines name an order: only its LP knows it.
        let names_order = c.ord_type == ORD_TYPE_CANCEL || c.ord_type == ORD_TYPE_ALLOC;
        if let Some(&i) = names_order
            .then(|| self.held_by.get(&c.cl_ord_id))
            .flatten()
        {
            return i;
        }
        let lps = &self.lps;
        let i = self.routes.pick(c.instrument, |k| {
            lps.get(k)
                .is_some_and(|l| l.stage.is_logged_on() && !l.removed)
        });
        if i != self.routes.primary(c.instrument) {
            self.fallbacks += 1;
        }
        if !names_order {
            self.held_by.insert(c.cl_ord_id, i);
        }
        i
    }

    /// Moves orders from the engine's ring to the LPs' rings; stops at a full one.
    fn dispatch(&mut self) -> usize {
        let mut n = 0;
        while n < ROUTE_BATCH {
            let (i, o) = match self.waiting.take() {
                Some(w) => w,
                None => match self.orders.pop() {
                    Some(o) => (self.route(&o), o),
                    None => break,
                },
            };
            let Some(tx) = self.lps[i].tx.as_mut() else {
                // Only a removed LP, drained and logged out, has no ring while the engine
                // runs: nothing was working there, so a cancel (or allocation line) for it came
                // after its order ended, and the engine hears that end from the fill.
                tracing::warn!(
                    lp = %self.lps[i].name,
                    cl_ord_id = o.order.cl_ord_id,
                    "LP router: order for an LP removed by a reload, after its end; dropped"
                );
                n += 1;
                continue;
            };
            if tx.try_push(o).is_err() {
                self.waiting = Some((i, o));
                break;
            }
            self.routed[i] += 1;
            n += 1;
        }
        n
    }
}

impl Stage for LpRouterStage {
    fn name(&self) -> &str {
        "lp"
    }

    fn do_work(&mut self) -> usize {
        let mut work = self.change() + self.dispatch();
        for l in &mut self.lps {
            work += l.stage.do_work();
        }
        if self.waiting.is_none() && self.orders.is_abandoned() && self.orders.is_empty() {
            // The engine is gone and everything it sent is on an LP's ring: each LP stage
            // sees its own ring end.
            for l in &mut self.lps {
                l.tx = None;
            }
        }
        work
    }

    fn is_done(&self) -> bool {
        self.lps.iter().all(|l| l.stage.is_done())
    }
}
