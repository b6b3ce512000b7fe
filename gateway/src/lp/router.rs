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
//! The route is decided here, at the edge, and not journaled: which LP fills an order changes
//! no decision of the engine (fills are allocated the same whoever executes them), and after a
//! restart each LP's session store says which orders that LP holds
//! ([`sent_orders`](super::sent_orders)), which is what cancels and the resend need.

use std::collections::HashMap;

use mam_core::event::{ORD_TYPE_ALLOC, ORD_TYPE_CANCEL};
use mam_core::pipeline::{EdgeOrder, RingRx, RingTx, Stage};

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
    /// everything on it was passed on, so the LP stage sees its source end).
    pub tx: Option<RingTx<EdgeOrder>>,
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
    held_by: HashMap<u64, usize>,
    /// An order whose LP's ring was full: retried first.
    waiting: Option<(usize, EdgeOrder)>,
    /// Orders routed to each LP (the stats line).
    routed: Vec<u64>,
    /// New orders that went to a fallback.
    fallbacks: u64,
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
        let mut held_by = HashMap::new();
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
        }
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
            lps.get(k).is_some_and(|l| l.stage.is_logged_on())
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
                break;
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
        let mut work = self.dispatch();
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
