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
    /// Master orders to send, an even number: half opens, half full closes, in the order
    /// [`master_schedule`] gives.
    pub masters: u64,
    /// Tickets held open before a master closes the oldest (see [`master_schedule`]).
    pub close_lag: u64,
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

/// Whether master order `k` of `masters` opens or closes, and which ticket: the first opens
/// run until more than `lag` tickets are open, then closes of the oldest ticket and opens of
/// the next alternate, and once every ticket (`masters / 2`) is open the rest close. With
/// `lag` 0 each open is followed by its close; with `lag` L a close follows its open by about
/// 2L master intervals, so a stall of the machine shorter than that cannot let a close reach
/// the engine before its open's fill. Both harnesses (in-process and socket) send this order.
pub fn master_schedule(k: u64, masters: u64, lag: u64) -> (bool, u64) {
    debug_assert!(k < masters && masters.is_multiple_of(2));
    let tickets = masters / 2;
    // The first close: the first odd position past `lag` (the socket harness's rule before
    // this function: open while k is even or at most `lag` tickets are open).
    let first_close = (lag + 1 + lag % 2).min(tickets);
    if k < first_close {
        return (true, k + 1);
    }
    let j = k - first_close;
    let left = tickets - first_close; // opens after the first close
    if j < 2 * left {
        if j.is_multiple_of(2) {
            (false, j / 2 + 1)
        } else {
            (true, first_close + j.div_ceil(2))
        }
    } else {
        (false, j - left + 1)
    }
}

/// Master order `i` of `plan` ([`master_schedule`]), stamped with its intended time `t`.
pub fn master_frame(plan: &LoadPlan, i: u64, t: u64) -> EdgeFrame {
    let (open, ticket) = master_schedule(i, plan.masters, plan.close_lag);
    let mode = match plan.routing {
        Routing::Block => MODE_BLOCK,
        Routing::PerAccount => MODE_PER_ACCOUNT,
    };
    let input = if open {
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

#[cfg(test)]
mod tests {
    use super::master_schedule;
    use proptest::prelude::*;

    proptest! {
        /// Every ticket opens once and closes once, after its open, in ticket order; no more
        /// than `lag + 1` tickets are open before a close; lag 0 is open, close, open, close.
        #[test]
        fn every_ticket_opens_then_closes_once(tickets in 1u64..300, lag in 0u64..40) {
            let masters = 2 * tickets;
            let (mut opened, mut closed) = (0u64, 0u64);
            for k in 0..masters {
                let (open, t) = master_schedule(k, masters, lag);
                if open {
                    opened += 1;
                    prop_assert_eq!(t, opened);
                    prop_assert!(opened - closed <= lag + 2, "k {}", k);
                } else {
                    closed += 1;
                    prop_assert_eq!(t, closed);
                    prop_assert!(closed <= opened);
                }
                if lag == 0 {
                    prop_assert_eq!((open, t), (k.is_multiple_of(2), k / 2 + 1));
                }
            }
            prop_assert_eq!((opened, closed), (tickets, tickets));
        }

        /// While tickets are left to open, it is the socket harness's rule of stop 25: open
        /// when k is even or at most `lag` tickets are open, else close the oldest.
        #[test]
        fn matches_the_stateful_rule_until_the_tail(tickets in 1u64..300, lag in 0u64..40) {
            let masters = 2 * tickets;
            let (mut opened, mut closed) = (0u64, 0u64);
            for k in 0..masters {
                if opened == tickets {
                    break;
                }
                let open = k.is_multiple_of(2) || opened - closed <= lag;
                let t = if open { opened += 1; opened } else { closed += 1; closed };
                prop_assert_eq!(master_schedule(k, masters, lag), (open, t), "k {}", k);
            }
        }
    }
}
