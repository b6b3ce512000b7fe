//! The SoupBinTCP feed as a pipeline stage: [`SoupClient`] → FX books → market-data ring,
//! lossless and resumable.
//!
//! Unlike the UDP stage, nothing conflates: every message a restarted daemon replays from its
//! journal must be the same message, so a full ring means wait. Events that did not fit stay
//! in a queue, in order, and are offered first on the next duty cycle; while any wait, the
//! client delivers nothing more (it keeps heartbeating but stops reading, and TCP flow control
//! holds the server back). Each cycle that found the ring full is counted in
//! [`SoupSbeStage::waits`].
//!
//! Every event carries `seq` = the soup sequence number of the message it came from. One
//! message yields one event for a Quote or Trade; a Depth message yields one event per level,
//! all with the same `seq` (converted FX captures hold quotes only: one event each). A resumed
//! stage is built with `resume_from` = the next soup number wanted, computed by the daemon
//! from its journal.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use mam_core::event::{MarketEvent, MarketEventKind};
use mam_core::pipeline::ring::{Full, RingTx};
use mam_core::pipeline::runner::Stage;

use super::client::{ClientConfig, ClientEvent, ClientStats, SoupClient};
use crate::fxbook::FxBooks;
use crate::sbe::{self, Packet};

/// SoupBinTCP client → FX books → market-data ring, never dropping.
#[derive(Debug)]
pub struct SoupSbeStage {
    client: SoupClient,
    books: FxBooks,
    tx: RingTx<MarketEvent>,
    pending: VecDeque<MarketEvent>,
    stop: Arc<AtomicBool>,
    stopping: bool,
    events: u64,
    waits: u64,
}

impl SoupSbeStage {
    /// Most messages taken from the client per duty cycle.
    pub const BATCH: usize = 256;

    /// A stage that connects with `cfg` and asks for soup message `resume_from` first (1 = the
    /// whole session), keeping `books` and sending to `tx`.
    pub fn new(
        cfg: ClientConfig,
        resume_from: u64,
        books: FxBooks,
        tx: RingTx<MarketEvent>,
    ) -> std::io::Result<Self> {
        Ok(Self {
            client: SoupClient::connect(cfg, resume_from)?,
            books,
            tx,
            pending: VecDeque::new(),
            stop: Arc::new(AtomicBool::new(false)),
            stopping: false,
            events: 0,
            waits: 0,
        })
    }

    /// A flag that stops the stage when set (from any thread): it logs out and is then done.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }
    /// Stops the stage (same as setting [`SoupSbeStage::stop_flag`]).
    pub fn stop(&self) {
        self.stop.store(true, Relaxed);
    }
    /// True once End of Session arrived.
    pub fn ended(&self) -> bool {
        self.client.ended()
    }
    /// Next soup sequence number not yet received (where a restart would resume if every
    /// event so far was journaled).
    pub fn next_seq(&self) -> u64 {
        self.client.next_seq()
    }
    /// Client counters (messages, heartbeats, malformed packets, reconnects…).
    pub fn client_stats(&self) -> ClientStats {
        self.client.stats()
    }
    /// The client's last error, for reports.
    pub fn last_error(&self) -> Option<&str> {
        self.client.last_error()
    }
    /// The books.
    pub fn books(&self) -> &FxBooks {
        &self.books
    }
    /// Events pushed to the ring so far.
    pub fn events(&self) -> u64 {
        self.events
    }
    /// Duty cycles that found the ring full with events waiting.
    pub fn waits(&self) -> u64 {
        self.waits
    }
    /// Events waiting for room in the ring.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Offers waiting events in order; returns how many went.
    fn push_pending(&mut self) -> usize {
        let mut n = 0;
        while let Some(e) = self.pending.pop_front() {
            if let Err(Full(e)) = self.tx.try_push(e) {
                self.pending.push_front(e);
                self.waits += 1;
                break;
            }
            n += 1;
        }
        self.events += n as u64;
        n
    }
}

/// One soup message (a one-message mam SBE packet) into events numbered `seq`.
fn decode(
    books: &mut FxBooks,
    msg: &[u8],
    seq: u64,
    recv_ns: u64,
    out: &mut VecDeque<MarketEvent>,
) {
    let Ok(p) = Packet::parse(msg) else {
        books.undecodable += 1;
        return;
    };
    for m in p.messages() {
        match sbe::decode(m) {
            Ok(m) => books.apply(&m, recv_ns, seq, &mut |e| out.push_back(e)),
            Err(_) => books.undecodable += 1,
        }
    }
}

impl Stage for SoupSbeStage {
    fn name(&self) -> &str {
        "feed-soup-sbe"
    }

    fn do_work(&mut self) -> usize {
        if self.stop.load(Relaxed) && !self.stopping {
            self.stopping = true;
            self.client.logout();
        }
        let mut work = self.push_pending();
        if self.client.ended() && self.pending.is_empty() && !self.stopping {
            // The session is over and everything is on the ring: leave politely.
            self.stopping = true;
            self.client.logout();
        }
        if self.stopping {
            // Finish the logout; events still waiting are offered until the runner returns.
            let _ = self.client.poll(0, Duration::ZERO, &mut |_| {});
            return work;
        }
        let max = if self.pending.is_empty() {
            Self::BATCH
        } else {
            0
        };
        let (books, pending) = (&mut self.books, &mut self.pending);
        let r = self.client.poll(max, Duration::ZERO, &mut |ev| match ev {
            ClientEvent::Data { seq, msg, recv_ns } => decode(books, msg, seq, recv_ns, pending),
            ClientEvent::Gap { first_missing, .. } => pending.push_back(MarketEvent {
                recv_ns: crate::recv::sys::mono_ns(),
                seq: first_missing,
                instrument: u32::MAX,
                source: u16::MAX,
                kind: MarketEventKind::Gap as u8,
                ..MarketEvent::default()
            }),
            _ => {}
        });
        match r {
            Ok(n) => work += n,
            Err(e) => tracing::warn!("feed-soup-sbe: {e}"),
        }
        work + self.push_pending()
    }

    /// Done once logged out or closed after a stop (events still waiting are abandoned:
    /// the daemon resumes from its journal), closed for good (rejected), or at End of
    /// Session with every event pushed.
    fn is_done(&self) -> bool {
        (self.stopping && self.client.is_closed())
            || (self.pending.is_empty() && (self.client.is_closed() || self.client.ended()))
    }
}
