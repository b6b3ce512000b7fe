//! Stage-to-stage rings: bounded SPSC `rtrb` queues of Pod messages whose back-pressure is
//! counted, never silent.
//!
//! Orders and fills wait when a ring is full ([`RingTx::push_wait`]) and the wait is measured;
//! market data may instead be conflated per instrument ([`ConflatingTx`]), each replaced event
//! counted.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use bytemuck::Pod;
use crossbeam_utils::CachePadded;

use super::idle::IdleStrategy;
use crate::event::MarketEvent;

/// Counters of one ring, shared with the stats reporter (relaxed atomics: figures, not sync).
///
/// `pushed` is written only by the producer and `popped` only by the consumer, each on its own
/// cache line and with a plain store of a count the side keeps itself: a shared line (or a
/// locked `fetch_add`) on every push and pop made the two cores fight over it in dedicated
/// mode (docs/latency.md, "Ring counters").
#[derive(Debug, Default)]
pub struct RingStats {
    /// Messages pushed.
    pub pushed: CachePadded<AtomicU64>,
    /// Messages popped.
    pub popped: CachePadded<AtomicU64>,
    /// Pushes that found the ring full at least once.
    pub full: AtomicU64,
    /// Total nanoseconds producers spent waiting on a full ring.
    pub wait_ns: AtomicU64,
    /// Longest single wait in nanoseconds.
    pub max_wait_ns: AtomicU64,
    /// Market events replaced by a newer one for the same instrument (conflation).
    pub conflated: AtomicU64,
}

impl RingStats {
    /// Messages in flight (pushed but not yet popped).
    pub fn depth(&self) -> u64 {
        self.pushed
            .load(Relaxed)
            .saturating_sub(self.popped.load(Relaxed))
    }
}

/// The ring was full; the message is handed back (like `rtrb::PushError::Full`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full<T>(pub T);

/// The consumer or producer side was dropped while a producer waited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Abandoned<T>(pub T);

/// Producer half of a stage ring.
#[derive(Debug)]
pub struct RingTx<T> {
    inner: rtrb::Producer<T>,
    stats: Arc<RingStats>,
    /// Pushed so far (this side's own count, stored into `stats.pushed`).
    pushed: u64,
}

/// Consumer half of a stage ring.
#[derive(Debug)]
pub struct RingRx<T> {
    inner: rtrb::Consumer<T>,
    stats: Arc<RingStats>,
    /// Popped so far (this side's own count, stored into `stats.popped`).
    popped: u64,
}

/// A bounded ring of `capacity` Pod messages with fresh counters.
pub fn ring<T: Pod>(capacity: usize) -> (RingTx<T>, RingRx<T>, Arc<RingStats>) {
    let (p, c) = rtrb::RingBuffer::new(capacity);
    let stats = Arc::new(RingStats::default());
    (
        RingTx {
            inner: p,
            stats: stats.clone(),
            pushed: 0,
        },
        RingRx {
            inner: c,
            stats: stats.clone(),
            popped: 0,
        },
        stats,
    )
}

impl<T: Pod> RingTx<T> {
    /// Pushes if there is room.
    #[inline]
    pub fn try_push(&mut self, v: T) -> Result<(), Full<T>> {
        match self.inner.push(v) {
            Ok(()) => {
                // The only writer of `pushed`: a plain store, no locked read-modify-write.
                self.pushed += 1;
                self.stats.pushed.store(self.pushed, Relaxed);
                Ok(())
            }
            Err(rtrb::PushError::Full(v)) => Err(Full(v)),
        }
    }

    /// Pushes, waiting with `idle` while the ring is full; the wait is measured into the stats.
    /// Fails only if the consumer is gone.
    pub fn push_wait(&mut self, v: T, idle: IdleStrategy) -> Result<(), Abandoned<T>> {
        let v = match self.try_push(v) {
            Ok(()) => return Ok(()),
            Err(Full(v)) => v,
        };
        self.stats.full.fetch_add(1, Relaxed);
        let start = Instant::now();
        let mut idler = idle.idler();
        loop {
            if self.inner.is_abandoned() {
                return Err(Abandoned(v));
            }
            if self.inner.slots() > 0 {
                break;
            }
            idler.idle(0);
        }
        let waited = start.elapsed().as_nanos() as u64;
        self.stats.wait_ns.fetch_add(waited, Relaxed);
        self.stats.max_wait_ns.fetch_max(waited, Relaxed);
        self.try_push(v).map_err(|Full(v)| Abandoned(v))
    }

    /// Free slots.
    pub fn slots(&self) -> usize {
        self.inner.slots()
    }

    /// The ring's counters (a producer that keeps its own backlog counts its waits here).
    pub fn stats(&self) -> &Arc<RingStats> {
        &self.stats
    }

    /// True if the consumer was dropped.
    pub fn is_abandoned(&self) -> bool {
        self.inner.is_abandoned()
    }
}

impl<T: Pod> RingRx<T> {
    /// Pops one message if any.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        let v = self.inner.pop().ok()?;
        // The only writer of `popped`: a plain store, no locked read-modify-write.
        self.popped += 1;
        self.stats.popped.store(self.popped, Relaxed);
        Some(v)
    }

    /// Messages ready.
    pub fn len(&self) -> usize {
        self.inner.slots()
    }

    /// True if nothing is ready.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// True if the producer was dropped (and nothing more will come once empty).
    pub fn is_abandoned(&self) -> bool {
        self.inner.is_abandoned()
    }
}

/// Market-data producer that conflates per instrument when the ring is full: the newest event
/// per instrument waits in a side slot and replaces an older one there (counted), so a slow
/// engine sees the latest state of every instrument, never an unbounded backlog.
#[derive(Debug)]
pub struct ConflatingTx {
    tx: RingTx<MarketEvent>,
    /// Pending event per instrument id (index), `None` if nothing waits.
    pending: Vec<Option<MarketEvent>>,
    /// Instrument ids with a pending event, in first-pending order (keeps output deterministic).
    order: Vec<u32>,
}

impl ConflatingTx {
    /// Wraps a market-data ring for `instruments` instrument ids (`0..instruments`).
    pub fn new(tx: RingTx<MarketEvent>, instruments: usize) -> Self {
        ConflatingTx {
            tx,
            pending: vec![None; instruments],
            order: Vec::with_capacity(instruments),
        }
    }

    /// Sends pending events while there is room; returns how many went.
    pub fn drain_pending(&mut self) -> usize {
        let mut sent = 0;
        while let Some(&id) = self.order.first() {
            let ev = self.pending[id as usize].expect("order lists only pending ids");
            if self.tx.try_push(ev).is_err() {
                break;
            }
            self.pending[id as usize] = None;
            self.order.remove(0);
            sent += 1;
        }
        sent
    }

    /// Offers one event: sent at once if the ring has room and nothing is pending, else kept
    /// as the instrument's latest (replacing and counting an older pending one). Events for an
    /// instrument id outside the table are pushed with waiting (never dropped).
    pub fn offer(&mut self, ev: MarketEvent) {
        self.drain_pending();
        let id = ev.instrument as usize;
        if id >= self.pending.len() {
            let _ = self.tx.push_wait(ev, IdleStrategy::Yield);
            return;
        }
        if self.order.is_empty() {
            if let Err(Full(ev)) = self.tx.try_push(ev) {
                self.stats().full.fetch_add(1, Relaxed);
                self.pending[id] = Some(ev);
                self.order.push(ev.instrument);
            }
            return;
        }
        match &mut self.pending[id] {
            Some(old) => {
                *old = ev;
                self.stats().conflated.fetch_add(1, Relaxed);
            }
            slot @ None => {
                *slot = Some(ev);
                self.order.push(ev.instrument);
            }
        }
    }

    /// Events still waiting in side slots.
    pub fn pending(&self) -> usize {
        self.order.len()
    }

    fn stats(&self) -> &RingStats {
        &self.tx.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(instrument: u32, seq: u64) -> MarketEvent {
        MarketEvent {
            instrument,
            seq,
            ..Default::default()
        }
    }

    #[test]
    fn full_ring_hands_the_message_back() {
        let (mut tx, mut rx, stats) = ring::<u64>(2);
        tx.try_push(1).unwrap();
        tx.try_push(2).unwrap();
        assert_eq!(tx.try_push(3), Err(Full(3)));
        assert_eq!(rx.pop(), Some(1));
        tx.try_push(3).unwrap();
        assert_eq!(stats.depth(), 2);
    }

    #[test]
    fn push_wait_measures_and_delivers() {
        let (mut tx, mut rx, stats) = ring::<u64>(1);
        tx.try_push(0).unwrap();
        let t = std::thread::spawn(move || {
            for i in 1..1000u64 {
                tx.push_wait(i, IdleStrategy::Yield).unwrap();
            }
        });
        let mut got = Vec::new();
        while got.len() < 1000 {
            if let Some(v) = rx.pop() {
                got.push(v);
            }
        }
        t.join().unwrap();
        assert_eq!(got, (0..1000).collect::<Vec<_>>());
        assert_eq!(stats.popped.load(Relaxed), 1000);
    }

    #[test]
    fn conflation_keeps_latest_per_instrument_and_counts() {
        let (tx, mut rx, stats) = ring::<MarketEvent>(1);
        let mut c = ConflatingTx::new(tx, 4);
        c.offer(ev(0, 1)); // in ring
        c.offer(ev(1, 2)); // pending
        c.offer(ev(1, 3)); // replaces 2
        c.offer(ev(2, 4)); // pending
        assert_eq!(stats.conflated.load(Relaxed), 1);
        let mut seen = vec![rx.pop().unwrap().seq];
        while c.pending() > 0 {
            c.drain_pending();
            if let Some(e) = rx.pop() {
                seen.push(e.seq);
            }
        }
        seen.extend(rx.pop().map(|e| e.seq));
        assert_eq!(seen, vec![1, 3, 4]);
    }
}
