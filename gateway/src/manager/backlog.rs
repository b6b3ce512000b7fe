//! [`Backlog`]: what a manager edge (FIX or binary) owes, in arrival order: frames for the
//! engine's ring and the replies that answer them.
//!
//! A session hands messages over while it is reading, when it cannot send; and a full ring
//! must never drop a frame. So every frame and every reply is queued here, a frame goes onto
//! the ring at once only if no older frame waits, and a reply leaves only once the frames
//! before it are on the ring: the manager never hears an answer before the engine has the
//! message it answers. Both manager stages own one, so the two protocols keep one order.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use hdrhistogram::Histogram;
use mam_core::pipeline::{EdgeFrame, RingTx};

use super::stats::{inc, ManagerCounters};
use crate::latency::{mono_ns, new_histogram, LatencyError, LatencyTap};

/// One thing owed, in arrival order: a frame for the engine, then the reply to it.
#[derive(Debug)]
struct Item<R> {
    frame: Option<EdgeFrame>,
    /// A master order (counted as accepted once on the ring) rather than a watermark.
    order: bool,
    /// When the bytes were read (monotonic ns).
    read_ns: u64,
    reply: Option<R>,
}

/// What became of a reply the backlog handed to the session.
#[derive(Debug)]
pub(super) enum Delivery<R> {
    /// On its way (or stored for resend).
    Sent,
    /// Never to be sent (no session, or it refused): counted in `replies_lost`.
    Lost,
    /// Back-pressure: the reply goes back to the head of the backlog and waits.
    Later(R),
}

/// The ordered frame-and-reply backlog of a manager edge, with the engine ring it feeds.
#[derive(Debug)]
pub(super) struct Backlog<R> {
    items: VecDeque<Item<R>>,
    /// Items whose frame is not on the ring yet.
    pending_frames: usize,
    /// The engine ring (`None` once the stage is done).
    tx: Option<RingTx<EdgeFrame>>,
    /// Since when the oldest pending frame waits for the ring (monotonic ns).
    waiting_since: Option<u64>,
    /// Bytes read → frame on the ring, ns.
    hist: Histogram<u64>,
    stats: Arc<ManagerCounters>,
    /// Where `hist` is published, under what name, and when it last was (monotonic ns).
    tap: Option<LatencyTap>,
    hist_name: &'static str,
    last_publish: u64,
}

impl<R> Backlog<R> {
    /// An empty backlog feeding `tx`, counting into `stats`, its latency published to `tap`
    /// as `hist_name`.
    pub(super) fn new(
        tx: RingTx<EdgeFrame>,
        stats: Arc<ManagerCounters>,
        tap: Option<LatencyTap>,
        hist_name: &'static str,
    ) -> Result<Self, LatencyError> {
        Ok(Backlog {
            items: VecDeque::with_capacity(256),
            pending_frames: 0,
            tx: Some(tx),
            waiting_since: None,
            hist: new_histogram()?,
            stats,
            tap,
            hist_name,
            last_publish: mono_ns(),
        })
    }

    /// Nothing owed.
    pub(super) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The latency histogram (bytes read → frame on the ring) since it was last published.
    pub(super) fn histogram(&self) -> &Histogram<u64> {
        &self.hist
    }

    /// Hands the histogram to the tap every [`LatencyTap::PUBLISH_NS`], or now if `force`
    /// (the stage's end); `now` is a monotonic time the caller read this turn.
    pub(super) fn publish(&mut self, now: u64, force: bool) {
        if force || now.saturating_sub(self.last_publish) >= LatencyTap::PUBLISH_NS {
            if let Some(tap) = &self.tap {
                tap.publish(self.hist_name, &mut self.hist);
            }
            self.last_publish = now;
        }
    }

    /// Drops the ring: the engine sees the source end once the ring is empty.
    pub(super) fn close(&mut self) {
        self.tx = None;
    }

    /// A frame goes onto the ring at once unless older frames wait; its reply (which must
    /// follow it) waits for [`Backlog::drain`]. `order`: the frame is a master order (counted
    /// as accepted) rather than a watermark. `read_ns`: when its bytes were read.
    pub(super) fn queue(
        &mut self,
        frame: Option<EdgeFrame>,
        order: bool,
        read_ns: u64,
        reply: Option<R>,
    ) {
        let mut item = Item {
            frame,
            order,
            read_ns,
            reply,
        };
        if self.pending_frames == 0 {
            self.push(&mut item);
        }
        if item.frame.is_some() {
            self.pending_frames += 1;
        } else if item.reply.is_none() {
            return;
        }
        self.items.push_back(item);
    }

    /// Pushes queued frames and hands the replies behind them to `send`, in order, until the
    /// ring is full or `send` pushes back. Returns the items completed.
    pub(super) fn drain(&mut self, mut send: impl FnMut(R) -> Delivery<R>) -> usize {
        let mut n = 0;
        while let Some(mut item) = self.items.pop_front() {
            if item.frame.is_some() {
                if !self.push(&mut item) {
                    self.items.push_front(item);
                    break;
                }
                self.pending_frames -= 1;
            }
            if let Some(r) = item.reply.take() {
                match send(r) {
                    Delivery::Sent => {}
                    Delivery::Lost => inc(&self.stats.replies_lost),
                    Delivery::Later(r) => {
                        item.reply = Some(r);
                        self.items.push_front(item);
                        break;
                    }
                }
            }
            n += 1;
        }
        n
    }

    /// Puts `item`'s frame on the ring if there is room (the frame then becomes `None`);
    /// `false` if it must wait (the wait is counted once per frame and timed). An item without
    /// a frame, or a backlog without a ring, passes.
    fn push(&mut self, item: &mut Item<R>) -> bool {
        let (Some(f), Some(tx)) = (item.frame, self.tx.as_mut()) else {
            item.frame = None;
            return true;
        };
        if tx.try_push(f).is_err() {
            if tx.is_abandoned() {
                // The engine is gone: nobody will ever take the frame.
                tracing::warn!(
                    seq = f.origin_seq,
                    "engine ring abandoned: manager frame dropped"
                );
                item.frame = None;
                return true;
            }
            if self.waiting_since.is_none() {
                self.waiting_since = Some(mono_ns());
                inc(&self.stats.ring_waits);
            }
            return false;
        }
        let t = mono_ns();
        if let Some(since) = self.waiting_since.take() {
            let waited = t.saturating_sub(since);
            self.stats.ring_wait_ns.fetch_add(waited, Relaxed);
        }
        self.hist
            .saturating_record(t.saturating_sub(item.read_ns).max(1));
        inc(if item.order {
            &self.stats.accepted
        } else {
            &self.stats.watermarks
        });
        item.frame = None;
        true
    }
}
