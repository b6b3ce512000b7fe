//! The in-process LP edge: a pipeline stage that takes the engine's child orders off the order
//! ring, stamps each master's first and last child the moment it pops them, and fills every
//! order in full back onto the fill ring (so open-order and risk limits stay flat however long
//! the run).
//!
//! The stamps are `CLOCK_MONOTONIC` ns, the clock the load generator stamped the intended send
//! times with; the figures are `pop time − EdgeOrder::cause_edge_ns`. Each sample goes to the
//! harness thread over a ring (a push of 16 bytes), not into a histogram here: adding and
//! resetting a histogram of mam's bounds walks ~400 KB, which in `shared` mode would stall the
//! very thread being measured.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use mam_core::engine::input::Input;
use mam_core::event::{ExecStatus, FillEvent, ORD_TYPE_ALLOC, ORD_TYPE_CANCEL};
use mam_core::num::{Price, Qty};
use mam_core::pipeline::{EdgeFrame, EdgeOrder, RingRx, RingTx, Stage};
use mam_gateway::latency::mono_ns;

use super::Figure;

/// Counters the LP edge shares with the harness.
#[derive(Debug, Default)]
pub struct LpCounters {
    /// Child orders taken off the ring.
    pub orders: AtomicU64,
    /// Master orders whose last child arrived.
    pub masters: AtomicU64,
    /// Fills handed back to the engine.
    pub fills: AtomicU64,
    /// Samples lost because the sample ring was full (the harness fell behind).
    pub lost_samples: AtomicU64,
}

/// One latency sample on its way to the harness: `[figure as u64, ns]`.
pub type Sample = [u64; 2];

/// The LP edge stage.
#[derive(Debug)]
pub struct LpEdge {
    orders: RingRx<EdgeOrder>,
    fills: RingTx<EdgeFrame>,
    backlog: VecDeque<EdgeFrame>,
    fill_px: Price,
    measure_from_ns: u64,
    samples: RingTx<Sample>,
    counters: Arc<LpCounters>,
    fill_seq: u64,
}

impl LpEdge {
    /// An LP edge filling market orders at `fill_px`; samples caused before `measure_from_ns`
    /// (warm-up) are not recorded.
    pub fn new(
        orders: RingRx<EdgeOrder>,
        fills: RingTx<EdgeFrame>,
        fill_px: Price,
        measure_from_ns: u64,
        samples: RingTx<Sample>,
        counters: Arc<LpCounters>,
    ) -> Self {
        LpEdge {
            orders,
            fills,
            backlog: VecDeque::with_capacity(1 << 16),
            fill_px,
            measure_from_ns,
            samples,
            counters,
            fill_seq: 0,
        }
    }

    fn sample(&mut self, f: Figure, ns: u64) {
        if self.samples.try_push([f as u64, ns]).is_err() {
            self.counters.lost_samples.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn fill_of(&mut self, o: &EdgeOrder, now: u64) -> EdgeFrame {
        let c = &o.order;
        self.fill_seq += 1;
        let px = if c.price.raw() > 0 {
            c.price
        } else {
            self.fill_px
        };
        let f = FillEvent {
            recv_ns: now,
            cl_ord_id: c.cl_ord_id,
            exec_id: c.cl_ord_id,
            last_qty: c.qty,
            last_px: px,
            cum_qty: c.qty,
            leaves_qty: Qty::ZERO,
            status: ExecStatus::Filled as u8,
            _pad: [0; 7],
        };
        EdgeFrame::input(&Input::Fill(f), now, self.fill_seq, now)
    }
}

impl Stage for LpEdge {
    fn name(&self) -> &str {
        "lp-edge"
    }

    fn do_work(&mut self) -> usize {
        let mut work = 0;
        let mut now = 0;
        while let Some(o) = self.orders.pop() {
            if matches!(o.order.ord_type, ORD_TYPE_ALLOC | ORD_TYPE_CANCEL) {
                // A back-office allocation line or a cancel request: not an order to fill.
                continue;
            }
            let edge = o.cause_edge_ns;
            let is_first = o.index == 0;
            let is_last = o.index + 1 >= o.count;
            if is_first || is_last || now == 0 {
                now = mono_ns();
            }
            if edge >= self.measure_from_ns {
                // A stamp before the cause (impossible on one monotonic clock) records 1 ns.
                let ns = now.saturating_sub(edge).max(1);
                if is_first {
                    self.sample(Figure::FirstChild, ns);
                }
                if is_last {
                    self.sample(Figure::LastChild, ns);
                }
            }
            if is_last {
                self.counters.masters.fetch_add(1, Ordering::Relaxed);
            }
            let f = self.fill_of(&o, now);
            self.backlog.push_back(f);
            work += 1;
        }
        if work > 0 {
            self.counters
                .orders
                .fetch_add(work as u64, Ordering::Relaxed);
        }
        // Never wait on a full fill ring: in `shared` mode the engine that empties it runs on
        // this very thread.
        let mut sent = 0u64;
        while let Some(f) = self.backlog.front() {
            if self.fills.try_push(*f).is_err() {
                break;
            }
            self.backlog.pop_front();
            sent += 1;
        }
        if sent > 0 {
            self.counters.fills.fetch_add(sent, Ordering::Relaxed);
            work += sent as usize;
        }
        work
    }

    fn is_done(&self) -> bool {
        self.orders.is_abandoned() && self.orders.is_empty() && self.backlog.is_empty()
    }
}
