//! The engine stage's fill rings: one per LP session. Which ring a fill comes from does not
//! matter to the engine (event time applies fills in (ClOrdID, CumQty) order once every
//! awaited order is done; arrival order applies them as they come), so they are read in turn.

use super::EngineStage;
use crate::pipeline::msg::EdgeFrame;
use crate::pipeline::ring::RingRx;

/// Every LP's fill ring, read in turn.
#[derive(Debug)]
pub(super) struct FillRings {
    rings: Vec<RingRx<EdgeFrame>>,
    next: usize,
}

impl FillRings {
    pub(super) fn new(first: RingRx<EdgeFrame>) -> Self {
        FillRings {
            rings: vec![first],
            next: 0,
        }
    }

    /// The next fill of any ring, taking the rings in turn.
    pub(super) fn pop(&mut self) -> Option<EdgeFrame> {
        let n = self.rings.len();
        for k in 0..n {
            let i = (self.next + k) % n;
            if let Some(f) = self.rings[i].pop() {
                self.next = (i + 1) % n;
                return Some(f);
            }
        }
        None
    }

    /// One more ring; rings of LP sessions that ended and were drained are dropped.
    pub(super) fn add(&mut self, rx: RingRx<EdgeFrame>) {
        self.rings.retain(|r| !(r.is_abandoned() && r.is_empty()));
        self.rings.push(rx);
        self.next = 0;
    }

    /// True if no ring holds a fill.
    pub(super) fn is_empty(&self) -> bool {
        self.rings.iter().all(RingRx::is_empty)
    }
}

impl EngineStage {
    /// Takes fills from one more LP session's ring too (the first comes with
    /// [`EngineRings::fills`](super::EngineRings::fills)).
    pub fn with_fills(mut self, rx: RingRx<EdgeFrame>) -> Self {
        self.fills.rings.push(rx);
        self
    }
}
