//! The live feed as a pipeline stage: a busy-polled UDP receiver of the mam SBE feed, the FX
//! books, and the market-data ring to the engine (`mam_core::pipeline`).
//!
//! Each duty cycle first sends events that waited for room, then reads at most
//! [`UdpSbeStage::BATCH`] datagrams straight from the non-blocking socket (no poll call: the
//! runner's idle strategy decides how to wait), turns them into [`MarketEvent`]s through the
//! books and offers them to a [`ConflatingTx`]: under back-pressure quotes conflate per
//! instrument (counted by the ring), while `Gap` and `Heartbeat` events, which carry no
//! instrument, wait for room and are never dropped.

use mam_core::event::MarketEvent;
use mam_core::pipeline::ring::ConflatingTx;
use mam_core::pipeline::runner::Stage;

use super::{MamSbeFraming, RecvStats, UdpReceiver};
use crate::fxbook::FxBooks;

/// UDP receiver → FX books → market-data ring.
#[derive(Debug)]
pub struct UdpSbeStage {
    rx: UdpReceiver<MamSbeFraming>,
    books: FxBooks,
    tx: ConflatingTx,
    events: u64,
    errors: u64,
}

impl UdpSbeStage {
    /// Most datagrams read per duty cycle.
    pub const BATCH: usize = 256;

    /// A stage reading `rx`, keeping `books`, sending to `tx`.
    pub fn new(rx: UdpReceiver<MamSbeFraming>, books: FxBooks, tx: ConflatingTx) -> Self {
        Self {
            rx,
            books,
            tx,
            events: 0,
            errors: 0,
        }
    }
    /// Receiver counters (packets, gaps, duplicates…).
    pub fn recv_stats(&self) -> RecvStats {
        self.rx.stats()
    }
    /// The books.
    pub fn books(&self) -> &FxBooks {
        &self.books
    }
    /// Events offered to the ring so far.
    pub fn events(&self) -> u64 {
        self.events
    }
    /// Socket errors seen (all counted; the first one is logged).
    pub fn errors(&self) -> u64 {
        self.errors
    }
}

impl Stage for UdpSbeStage {
    fn name(&self) -> &str {
        "feed-udp-sbe"
    }

    fn do_work(&mut self) -> usize {
        let mut work = self.tx.drain_pending();
        let (books, tx, events) = (&mut self.books, &mut self.tx, &mut self.events);
        let r = self.rx.drain_max(Self::BATCH, &mut |d| {
            books.apply_delivered(d, &mut |e: MarketEvent| {
                tx.offer(e);
                *events += 1;
            })
        });
        match r {
            Ok(n) => work += n,
            Err(e) => {
                if self.errors == 0 {
                    tracing::warn!("feed-udp-sbe: receive error: {e}");
                }
                self.errors += 1;
            }
        }
        work
    }
}
