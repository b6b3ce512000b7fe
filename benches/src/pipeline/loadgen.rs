//! The in-process load generator: a pipeline stage that sends master orders and quotes at fixed
//! rates, each stamped with its **intended** send time.
//!
//! Message `i` of a stream is due at `start + i × interval`. Its edge stamp (`EdgeFrame::edge_ns`
//! for a master order, `MarketEvent::recv_ns` for a quote) is that intended time, not the time
//! the push happened: if the generator runs late (its thread was busy running the engine in
//! `shared` mode, a ring was full, the OS preempted it), every message it delayed carries the
//! delay into the latencies measured downstream. That is the coordinated-omission correction.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use mam_core::engine::input::{
    model_code, Input, MasterClose, MasterOpen, CLOSE_FULL, MODE_BLOCK, MODE_PER_ACCOUNT,
};
use mam_core::event::{MarketEvent, MarketEventKind, Side};
use mam_core::num::{Lots, Money, Price, Qty};
use mam_core::pipeline::{EdgeFrame, RingStats, RingTx, Stage};
use mam_gateway::latency::mono_ns;

use super::Routing;

/// What the generator sends.
#[derive(Debug, Clone, Copy)]
pub struct LoadPlan {
    /// Monotonic ns of quote 0.
    pub start_ns: u64,
    /// Monotonic ns of master order 0.
    pub master_start_ns: u64,
    /// Master orders to send (opens and closes alternate: even = open of ticket `i/2 + 1`,
    /// odd = its full close).
    pub masters: u64,
    /// ns between master orders.
    pub master_interval_ns: u64,
    /// Quotes to send (0: no market stream).
    pub quotes: u64,
    /// ns between quotes.
    pub quote_interval_ns: u64,
    /// Instrument id of every message.
    pub instrument: u32,
    /// Size of each open (lots).
    pub lots: Lots,
    /// Routing of opens and closes.
    pub routing: Routing,
}

/// Counters the generator shares with the harness (relaxed: figures, not synchronisation).
#[derive(Debug, Default)]
pub struct LoadCounters {
    /// Master orders pushed.
    pub masters: AtomicU64,
    /// Quotes pushed.
    pub quotes: AtomicU64,
    /// Largest lateness of a push behind its intended time, ns.
    pub max_late_ns: AtomicU64,
    /// Set once both streams are sent and the rings dropped.
    pub done: AtomicBool,
}

/// The generator stage.
#[derive(Debug)]
pub struct LoadGen {
    plan: LoadPlan,
    masters: Option<RingTx<EdgeFrame>>,
    market: Option<RingTx<MarketEvent>>,
    next_master: u64,
    next_quote: u64,
    primed: Option<Arc<RingStats>>,
    counters: Arc<LoadCounters>,
}

impl LoadGen {
    /// A generator pushing onto `masters` and (if given) `market`.
    ///
    /// `primed`: the caller pushed quote 0 of the plan onto the market ring already; these are
    /// that ring's counters. No master order goes before the engine has taken that quote (a
    /// market order needs a reference price, and an engine running late would otherwise take
    /// a master order ahead of a quote waiting beside it: master orders go first in arrival
    /// sequencing). The generator's quotes then start at 1.
    pub fn new(
        plan: LoadPlan,
        masters: RingTx<EdgeFrame>,
        market: Option<RingTx<MarketEvent>>,
        primed: Option<Arc<RingStats>>,
        counters: Arc<LoadCounters>,
    ) -> Self {
        LoadGen {
            plan,
            masters: Some(masters),
            market,
            next_master: 0,
            next_quote: u64::from(primed.is_some()),
            primed,
            counters,
        }
    }
}

/// Master order `i` of `plan`, stamped with its intended time `t`.
pub fn master_frame(plan: &LoadPlan, i: u64, t: u64) -> EdgeFrame {
    let ticket = i / 2 + 1;
    let mode = match plan.routing {
        Routing::Block => MODE_BLOCK,
        Routing::PerAccount => MODE_PER_ACCOUNT,
    };
    let input = if i.is_multiple_of(2) {
        Input::Open(MasterOpen {
            ts_ns: t,
            ticket,
            lots: plan.lots,
            limit_price: Price::ZERO,
            sl_distance: Price::ZERO,
            quote_to_account: Price::ZERO,
            reference: Money::ZERO,
            instrument: plan.instrument,
            model: model_code::EQUITY,
            side: if ticket.is_multiple_of(2) {
                Side::Buy
            } else {
                Side::Sell
            } as u8,
            policy: 1,
            mode,
        })
    } else {
        Input::Close(MasterClose {
            ts_ns: t,
            ticket,
            lots: plan.lots,
            full: CLOSE_FULL,
            residual: 1,
            mode,
            _pad: [0; 5],
            order_id: 0,
        })
    };
    // origin_seq as a FIX MsgSeqNum would number it; the watermark is the event time itself.
    EdgeFrame::input(&input, t, i + 1, t)
}

/// Quote `k` (EURUSD-like prices walking ±3 points around 1.08500), stamped with its intended
/// time `t` as both the source and the receive time.
pub fn quote(plan: &LoadPlan, k: u64, t: u64) -> MarketEvent {
    let mid = 108_500_000 + ((k % 7) as i64 - 3) * 1_000;
    MarketEvent {
        recv_ns: t,
        source_ns: t,
        seq: k + 1,
        instrument: plan.instrument,
        source: 1,
        kind: MarketEventKind::Quote as u8,
        level: 0,
        bid: Price(mid - 1_000),
        ask: Price(mid + 1_000),
        bid_size: Qty(1_000_000 * Qty::ONE_RAW),
        ask_size: Qty(1_000_000 * Qty::ONE_RAW),
    }
}

impl Stage for LoadGen {
    fn name(&self) -> &str {
        "loadgen"
    }

    fn do_work(&mut self) -> usize {
        let now = mono_ns();
        let mut work = 0;
        // Lateness of the most overdue message pushed this cycle.
        let mut late = 0u64;
        // Everything due is sent now, in intended-time order per stream; a full ring stops the
        // stream until the next cycle (the message keeps its intended time).
        let primed = self
            .primed
            .as_ref()
            .is_none_or(|s| s.popped.load(Ordering::Acquire) > 0);
        if let (Some(tx), true) = (self.masters.as_mut(), primed) {
            while self.next_master < self.plan.masters {
                let t = self.plan.master_start_ns + self.next_master * self.plan.master_interval_ns;
                if t > now {
                    break;
                }
                if tx
                    .try_push(master_frame(&self.plan, self.next_master, t))
                    .is_err()
                {
                    break;
                }
                self.next_master += 1;
                work += 1;
                late = late.max(now - t);
            }
            if self.next_master >= self.plan.masters {
                // Dropping the producer tells the engine stage the source has ended.
                self.masters = None;
            }
        }
        if let Some(tx) = self.market.as_mut() {
            while self.next_quote < self.plan.quotes {
                let t = self.plan.start_ns + self.next_quote * self.plan.quote_interval_ns;
                if t > now {
                    break;
                }
                if tx.try_push(quote(&self.plan, self.next_quote, t)).is_err() {
                    break;
                }
                self.next_quote += 1;
                work += 1;
                late = late.max(now - t);
            }
            if self.next_quote >= self.plan.quotes {
                self.market = None;
            }
        }
        if work > 0 {
            self.counters.max_late_ns.fetch_max(late, Ordering::Relaxed);
            self.counters
                .masters
                .store(self.next_master, Ordering::Relaxed);
            self.counters
                .quotes
                .store(self.next_quote, Ordering::Relaxed);
        }
        if self.is_done() {
            self.counters.done.store(true, Ordering::Release);
        }
        work
    }

    fn is_done(&self) -> bool {
        self.masters.is_none() && self.market.is_none()
    }
}
