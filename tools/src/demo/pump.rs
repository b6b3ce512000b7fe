//! Ring messages with a wall-clock stamp beside the payload (for latency only: the engine
//! journals the payload, never the stamp), and [`Pump`]: a producer that never blocks its
//! thread. Messages wait in a local backlog while the ring is full; each time the ring is found
//! full is counted and the time until it had room again is added to the ring's wait counters.
//! (A blocking push would deadlock `shared` mode, where one thread runs every stage.)

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use bytemuck::{Pod, Zeroable};
use mam_core::engine::input::InputFrame;
use mam_core::event::{ChildOrder, FillEvent};
use mam_core::pipeline::{RingStats, RingTx};

/// An engine input on the feed ring.
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub struct StampedFrame {
    /// Push time, ns since the run started.
    pub t_ns: u64,
    /// The input.
    pub frame: InputFrame,
}

/// A child order on the order ring.
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub struct StampedOrder {
    /// Push time, ns since the run started.
    pub t_ns: u64,
    /// The order.
    pub order: ChildOrder,
}

/// A fill on the fill ring.
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub struct StampedFill {
    /// Push time, ns since the run started.
    pub t_ns: u64,
    /// The fill.
    pub fill: FillEvent,
}

/// A message whose push time can be set.
pub trait Stamped: Pod {
    /// Sets the push time.
    fn stamp(&mut self, t_ns: u64);
}

impl Stamped for StampedFrame {
    fn stamp(&mut self, t: u64) {
        self.t_ns = t;
    }
}
impl Stamped for StampedOrder {
    fn stamp(&mut self, t: u64) {
        self.t_ns = t;
    }
}
impl Stamped for StampedFill {
    fn stamp(&mut self, t: u64) {
        self.t_ns = t;
    }
}

/// A non-blocking producer with a counted backlog (see the module docs).
#[derive(Debug)]
pub struct Pump<T> {
    tx: RingTx<T>,
    stats: Arc<RingStats>,
    backlog: VecDeque<T>,
    full_since: Option<u64>,
}

impl<T: Stamped> Pump<T> {
    /// Wraps a ring's producer and its counters.
    pub fn new(tx: RingTx<T>, stats: Arc<RingStats>) -> Self {
        Pump {
            tx,
            stats,
            backlog: VecDeque::new(),
            full_since: None,
        }
    }

    /// Queues a message (sent by the next [`flush`](Self::flush)).
    pub fn send(&mut self, v: T) {
        self.backlog.push_back(v);
    }

    /// Messages waiting for room.
    pub fn backlog(&self) -> usize {
        self.backlog.len()
    }

    /// Pushes waiting messages while the ring has room, stamping each; returns how many went.
    pub fn flush(&mut self, start: Instant) -> usize {
        let mut n = 0;
        while let Some(&v) = self.backlog.front() {
            let now = start.elapsed().as_nanos() as u64;
            let mut v = v;
            v.stamp(now);
            match self.tx.try_push(v) {
                Ok(()) => {
                    self.backlog.pop_front();
                    n += 1;
                    if let Some(since) = self.full_since.take() {
                        let w = now.saturating_sub(since);
                        self.stats.wait_ns.fetch_add(w, Relaxed);
                        self.stats.max_wait_ns.fetch_max(w, Relaxed);
                    }
                }
                Err(_) => {
                    if self.full_since.is_none() {
                        self.full_since = Some(now);
                        self.stats.full.fetch_add(1, Relaxed);
                    }
                    break;
                }
            }
        }
        n
    }
}
