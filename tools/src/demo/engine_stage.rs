//! The engine stage: merges the feed ring and the fill ring into one input stream ordered by
//! event time, applies each input through the engine (journal first), and sends the orders.
//!
//! The merge is what makes a run repeat exactly whatever the thread timing: the next input is
//! taken only once every order sent has had its final fill delivered (the LP sends all of an
//! order's increments at once, each with its own future event time), so the engine always
//! knows every fill that could come before the next feed input. Fills wait in a buffer ordered
//! by (event time, ClOrdID, exec id) and go first on equal times.
//!
//! Durability as in the daemon's engine stage ([`SyncPolicy`]): each duty cycle ends with at
//! most one journal sync, and under `every` the cycle's orders reach the ring only after it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hdrhistogram::Histogram;
use mam_core::engine::input::Input;
use mam_core::engine::Engine;
use mam_core::event::{ExecStatus, FillEvent, ORD_TYPE_ALLOC, ORD_TYPE_CANCEL};
use mam_core::journal::{GroupCommit, Journal, SyncPolicy};
use mam_core::pipeline::{RingRx, Stage};
use mam_gateway::latency::mono_ns;

use super::pump::{Pump, StampedFill, StampedFrame, StampedOrder};
use super::stats::histogram;

/// What the engine stage hands back when it is done.
#[derive(Debug)]
pub struct EngineReport {
    /// The engine at the end.
    pub engine: Engine,
    /// The journal (synced).
    pub journal: Journal,
    /// Accounts that received a share of any open.
    pub touched: Vec<bool>,
    /// Latency histograms (ns): JSON key, label, histogram.
    pub hist: Vec<(&'static str, &'static str, Histogram<u64>)>,
    /// An error that stopped the engine, if any.
    pub error: Option<String>,
    /// Checkpoints written while running (the final one included).
    pub checkpoints: u64,
    /// The sync policy and the syncs done at the end of duty cycles.
    pub sync: GroupCommit,
}

/// The engine stage.
#[derive(Debug)]
pub struct EngineStage {
    engine: Option<Engine>,
    journal: Option<Journal>,
    feed: RingRx<StampedFrame>,
    fills: RingRx<StampedFill>,
    orders: Option<Pump<StampedOrder>>,
    head: Option<StampedFrame>,
    feed_done: bool,
    buffered: BTreeMap<(u64, u64, u64), (FillEvent, u64)>,
    awaiting: BTreeSet<u64>,
    /// Per master input being sent: when it was taken, orders left to push, first pushed.
    batch: Option<(u64, usize, bool)>,
    touched: Vec<bool>,
    start: Instant,
    checkpoints: PathBuf,
    /// Write a checkpoint after this many inputs (0: only at the end).
    checkpoint_every: u64,
    since_checkpoint: u64,
    checkpoints_written: u64,
    commit: GroupCommit,
    h_checkpoint: Histogram<u64>,
    h_sync: Histogram<u64>,
    h_feed_queue: Histogram<u64>,
    h_fill_queue: Histogram<u64>,
    h_apply: Histogram<u64>,
    h_first: Histogram<u64>,
    h_last: Histogram<u64>,
    out: Arc<Mutex<Option<EngineReport>>>,
    done: bool,
}

impl EngineStage {
    /// A stage owning `engine` and `journal`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        engine: Engine,
        journal: Journal,
        feed: RingRx<StampedFrame>,
        fills: RingRx<StampedFill>,
        orders: Pump<StampedOrder>,
        start: Instant,
        checkpoints: PathBuf,
        checkpoint_every: u64,
        sync: SyncPolicy,
        out: Arc<Mutex<Option<EngineReport>>>,
    ) -> Self {
        let n = engine.accounts().id.len();
        EngineStage {
            engine: Some(engine),
            journal: Some(journal),
            feed,
            fills,
            orders: Some(orders),
            head: None,
            feed_done: false,
            buffered: BTreeMap::new(),
            awaiting: BTreeSet::new(),
            batch: None,
            touched: vec![false; n],
            start,
            checkpoints,
            checkpoint_every,
            since_checkpoint: 0,
            checkpoints_written: 0,
            commit: GroupCommit::new(sync, mono_ns()),
            h_checkpoint: histogram(),
            h_sync: histogram(),
            h_feed_queue: histogram(),
            h_fill_queue: histogram(),
            h_apply: histogram(),
            h_first: histogram(),
            h_last: histogram(),
            out,
            done: false,
        }
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Pushes waiting orders; records master → first / last order latencies.
    fn flush_orders(&mut self) -> usize {
        let Some(tx) = self.orders.as_mut() else {
            return 0;
        };
        let before = tx.backlog();
        let n = tx.flush(self.start);
        if n > 0 {
            let now = self.start.elapsed().as_nanos() as u64;
            if let Some((t0, left, first)) = self.batch.as_mut() {
                if !*first {
                    let _ = self.h_first.record(now.saturating_sub(*t0).max(1));
                    *first = true;
                }
                *left = left.saturating_sub(n.min(before));
                if *left == 0 {
                    let _ = self.h_last.record(now.saturating_sub(*t0).max(1));
                    self.batch = None;
                }
            }
        }
        n
    }

    /// Ends a duty cycle: the sync the policy asks for, then the cycle's orders to the ring
    /// (under `every` they waited in the pump's backlog for it). A failed sync sends nothing.
    fn end_cycle(&mut self) -> Result<usize, String> {
        let Some(journal) = self.journal.as_mut() else {
            return Ok(0);
        };
        if let Some(ns) = self
            .commit
            .end_of_cycle(journal, mono_ns(), mono_ns)
            .map_err(|e| format!("journal sync: {e}"))?
        {
            let _ = self.h_sync.record(ns.max(1));
        }
        Ok(self.flush_orders())
    }

    fn apply(&mut self, input: &Input, stamp: Option<u64>) -> Result<(), String> {
        let (Some(engine), Some(journal), Some(tx)) = (
            self.engine.as_mut(),
            self.journal.as_mut(),
            self.orders.as_mut(),
        ) else {
            return Ok(());
        };
        let t = Instant::now();
        let before = tx.backlog();
        let awaiting = &mut self.awaiting;
        engine
            .apply(input, journal, |o| {
                // Allocation lines and cancel requests get no fills of their own.
                if o.ord_type != ORD_TYPE_ALLOC && o.ord_type != ORD_TYPE_CANCEL {
                    awaiting.insert(o.cl_ord_id);
                }
                tx.send(StampedOrder { t_ns: 0, order: *o });
            })
            .map_err(|e| e.to_string())?;
        let _ = self.h_apply.record((t.elapsed().as_nanos() as u64).max(1));
        self.since_checkpoint += 1;
        if self.checkpoint_every > 0 && self.since_checkpoint >= self.checkpoint_every {
            let t = Instant::now();
            engine
                .write_checkpoint(&self.checkpoints, journal)
                .map_err(|e| format!("checkpoint: {e}"))?;
            let _ = self
                .h_checkpoint
                .record((t.elapsed().as_nanos() as u64).max(1));
            self.since_checkpoint = 0;
            self.checkpoints_written += 1;
        }
        let sent = tx.backlog() - before;
        if let (Some(t0), true) = (stamp, sent > 0) {
            if matches!(input, Input::Open(_) | Input::Close(_)) && self.batch.is_none() {
                self.batch = Some((t0, sent, false));
            }
        }
        Ok(())
    }

    fn step(&mut self) -> Result<usize, String> {
        let mut work = 0;
        while let Some(f) = self.fills.pop() {
            let now = self.now();
            let _ = self.h_fill_queue.record(now.saturating_sub(f.t_ns).max(1));
            let e = f.fill;
            if e.status == ExecStatus::Filled as u8
                || e.status == ExecStatus::Canceled as u8
                || e.status == ExecStatus::Rejected as u8
            {
                self.awaiting.remove(&e.cl_ord_id);
            }
            self.buffered
                .insert((e.recv_ns, e.cl_ord_id, e.exec_id), (e, f.t_ns));
            work += 1;
        }
        work += self.flush_orders();
        for _ in 0..256 {
            if !self.awaiting.is_empty() || self.orders.as_ref().map_or(0, |t| t.backlog()) > 0 {
                break; // wait for the LP (see the module docs)
            }
            if self.head.is_none() && !self.feed_done {
                self.head = self.feed.pop();
                if self.head.is_none() && self.feed.is_abandoned() {
                    self.head = self.feed.pop();
                    self.feed_done = self.head.is_none();
                }
                if let Some(h) = &self.head {
                    let now = self.now();
                    let _ = self.h_feed_queue.record(now.saturating_sub(h.t_ns).max(1));
                }
            }
            let head_ts = self
                .head
                .as_ref()
                .map(|h| Input::from_frame(&h.frame).map_or(0, |i| i.ts_ns()));
            let fill_first = match (self.buffered.keys().next(), head_ts) {
                (Some(k), Some(h)) => k.0 <= h,
                (Some(_), None) => self.feed_done,
                (None, _) => false,
            };
            if fill_first {
                let (_, (f, _)) = self.buffered.pop_first().expect("non-empty");
                self.apply(&Input::Fill(f), None)?;
            } else if let Some(h) = self.head.take() {
                let input = Input::from_frame(&h.frame)
                    .ok_or_else(|| format!("undecodable frame of kind {}", h.frame.kind))?;
                // "Master in" is when the engine takes the input off the feed ring (the feed
                // replays at full speed, so its ring wait is a backlog, reported apart).
                let taken = self.now();
                self.apply(&input, Some(taken))?;
            } else {
                break;
            }
            work += 1;
            if !self.commit.policy().holds_orders() {
                work += self.flush_orders();
            }
        }
        work += self.end_cycle()?;
        Ok(work)
    }

    fn finish(&mut self, error: Option<String>) {
        let (Some(engine), Some(mut journal)) = (self.engine.take(), self.journal.take()) else {
            return;
        };
        let mut error = error;
        if error.is_none() {
            let t = Instant::now();
            match engine.write_checkpoint(&self.checkpoints, &mut journal) {
                Ok(_) => {
                    let _ = self
                        .h_checkpoint
                        .record((t.elapsed().as_nanos() as u64).max(1));
                    self.checkpoints_written += 1;
                }
                Err(e) => error = Some(format!("final checkpoint: {e}")),
            }
        }
        self.orders = None; // the LP sees the order ring abandoned
        self.done = true;
        let hist = vec![
            (
                "feed_ring_wait",
                "feed ring wait (backlog: feed runs ahead)",
                self.h_feed_queue.clone(),
            ),
            (
                "engine_apply",
                "engine apply (journal + decide)",
                self.h_apply.clone(),
            ),
            (
                "master_to_first_order",
                "master taken → first order on ring",
                self.h_first.clone(),
            ),
            (
                "master_to_last_order",
                "master taken → last order on ring",
                self.h_last.clone(),
            ),
            (
                "fill_ring_wait",
                "fill ring wait (LP → engine)",
                self.h_fill_queue.clone(),
            ),
            (
                "journal_sync",
                "journal sync at the end of a duty cycle",
                self.h_sync.clone(),
            ),
            (
                "checkpoint",
                "checkpoint (sync journal, write, rename)",
                self.h_checkpoint.clone(),
            ),
        ];
        // Accounts touched: those whose ledger holds a position or booked money.
        let l = engine.ledger();
        for (a, t) in self.touched.iter_mut().enumerate() {
            *t = (0..l.instruments() as u32).any(|s| {
                let p = l.position(a as u32, s);
                !p.qty.is_zero() || !p.realised.is_zero() || !p.commission.is_zero() || p.cost != 0
            }) || l.open_positions(a as u32) > 0;
        }
        *self.out.lock().expect("engine report lock") = Some(EngineReport {
            engine,
            journal,
            touched: std::mem::take(&mut self.touched),
            checkpoints: self.checkpoints_written,
            sync: self.commit,
            hist,
            error,
        });
    }
}

impl Stage for EngineStage {
    fn name(&self) -> &str {
        "engine"
    }

    fn do_work(&mut self) -> usize {
        if self.done {
            // After an error: keep draining so the other stages can finish.
            let mut n = 0;
            while self.feed.pop().is_some() {
                n += 1;
            }
            while self.fills.pop().is_some() {
                n += 1;
            }
            return n;
        }
        match self.step() {
            Ok(w) => {
                let idle = self.feed_done
                    && self.head.is_none()
                    && self.buffered.is_empty()
                    && self.awaiting.is_empty()
                    && !matches!(self.orders.as_ref(), Some(t) if t.backlog() > 0);
                if idle {
                    self.finish(None);
                    return w + 1;
                }
                w
            }
            Err(e) => {
                self.finish(Some(e));
                1
            }
        }
    }

    fn is_done(&self) -> bool {
        self.done
    }
}
