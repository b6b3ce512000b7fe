//! The engine stage: market data, master orders and fills in; one journaled input stream
//! through the [`Engine`]; child orders out.
//!
//! ```text
//!  RingRx<MarketEvent> ─┐
//!  RingRx<EdgeFrame> ───┼─► sequencer ─► Engine::apply (journal first) ─► RingTx<EdgeOrder>
//!  RingRx<EdgeFrame> ───┘   (fills)
//! ```
//!
//! Two [`Sequencing`]s decide the order of inputs (see `docs/daemon.md`):
//! - [`Sequencing::Arrival`]: whatever the rings hold, fills first (they free risk), then
//!   master orders, then market data, a bounded batch of each per duty cycle;
//! - [`Sequencing::EventTime`] (module `event_time`): a merge by event time behind every
//!   source's watermark, lock-stepped with the LP, so the journal is a function of the inputs
//!   alone.
//!
//! Durability ([`SyncPolicy`], `journal.sync` in the daemon's file): each duty cycle applies
//! the inputs it takes, then ends with at most one journal sync (group commit, [`GroupCommit`]).
//! Under [`SyncPolicy::Every`] the cycle's orders are held until that sync has returned, so no
//! order leaves before the records that produced it are on disk; under `Interval` and
//! `Checkpoint` orders go to the ring as soon as they are journaled.
//!
//! Orders are never dropped: if the order ring is full they wait in a backlog (counted in the
//! ring's stats) and no new input is taken until it drains (nor, while orders are held for the
//! cycle's sync, once they would fill the ring's free room). Fills the engine already holds
//! (an LP resending after a restart) are dropped by cumulative quantity
//! ([`Engine::order_progress`]) before they are journaled.

pub mod admin;
pub mod attach;
mod event_time;
mod fill_rings;
mod managers;

pub use managers::{manager_source, report_manager};
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;

use self::admin::{AdminOutcome, AdminQueue, ModelSwapped, ModelSwaps, SnapshotWriter};
use super::directory::AccountDirectory;
use super::msg::{EdgeFrame, EdgeOrder, ManagerReport};
use super::ring::{RingRx, RingTx};
use super::runner::Stage;
use super::tap::LatencyTap;
use crate::engine::input::Input;
use crate::engine::origin::Origin;
use crate::engine::{Decision, Engine};
use crate::event::{
    ChildOrder, ExecStatus, FillEvent, MarketEvent, ORD_TYPE_ALLOC, ORD_TYPE_CANCEL,
};
use crate::journal::{GroupCommit, Journal, SyncPolicy};

/// How the engine stage orders its inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sequencing {
    /// In the order they are taken off the rings (production).
    Arrival,
    /// Merged by event time behind watermarks, lock-stepped with the LP (replay, tests).
    EventTime,
}

impl Sequencing {
    /// From `arrival` or `event_time`.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "arrival" => Some(Self::Arrival),
            "event_time" => Some(Self::EventTime),
            _ => None,
        }
    }
    /// The config name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Arrival => "arrival",
            Self::EventTime => "event_time",
        }
    }
}

/// Engine stage settings.
#[derive(Debug, Clone)]
pub struct EngineStageOptions {
    /// Input order.
    pub sequencing: Sequencing,
    /// Where checkpoints go.
    pub checkpoint_dir: PathBuf,
    /// Write a checkpoint after this many inputs (0: only when the stage finishes).
    pub checkpoint_every: u64,
    /// The edge clock (monotonic ns; the same clock the edge stages stamp with).
    pub clock: fn() -> u64,
    /// After a stop, how long to wait for the fills of orders still open before finishing
    /// (ns). What does not arrive is asked for again after the restart.
    pub drain_timeout_ns: u64,
    /// Where histograms are published.
    pub tap: Option<LatencyTap>,
    /// Most inputs taken from one ring per duty cycle.
    pub batch: usize,
    /// Operator inputs (kill switch, adaptive switch, deposits and withdrawals, account
    /// changes) from any thread, each answered ([`admin`]). Applied (and journaled) before
    /// anything else in a duty cycle.
    pub admin: Option<Arc<AdminQueue>>,
    /// When the journal is synced, and whether orders wait for it (module docs).
    pub sync: SyncPolicy,
    /// Hand the engine's allocation lines (one per account of each finished block) to the LP
    /// stage, for AllocationInstructions. Without an LP that takes them they are dropped (the
    /// journal keeps each block's total line; replay recomputes the rest): a block over 1,000
    /// accounts would otherwise put 1,000 messages on the order ring for nothing.
    pub forward_allocations: bool,
}

/// Live counters for the stats line (relaxed atomics).
#[derive(Debug, Default)]
pub struct EngineStageStats {
    /// Inputs journaled.
    pub inputs: AtomicU64,
    /// Market events applied.
    pub market: AtomicU64,
    /// Master orders applied.
    pub masters: AtomicU64,
    /// Fills applied.
    pub fills: AtomicU64,
    /// Fills dropped: already held (resent) or for orders the engine no longer tracks.
    pub fills_dropped: AtomicU64,
    /// Manager inputs dropped after a restart because the journal held them already (the
    /// first inputs of a message a kill cut between its inputs, sent again whole).
    pub inputs_journaled_already: AtomicU64,
    /// Child orders emitted.
    pub orders: AtomicU64,
    /// Operator commands applied.
    pub admin: AtomicU64,
    /// Duty cycles that found the next input held back by a watermark (event time).
    pub watermark_waits: AtomicU64,
    /// Orders emitted and not yet done that the stage waits for (event time).
    pub awaiting: AtomicU64,
    /// Last journal sequence written.
    pub journal_seq: AtomicU64,
    /// Checkpoints written.
    pub checkpoints: AtomicU64,
    /// Orders the engine tracks.
    pub open_orders: AtomicU64,
    /// Journal syncs at the end of a duty cycle (checkpoints and rollovers sync too, uncounted).
    pub syncs: AtomicU64,
    /// Their total time (ns).
    pub sync_ns: AtomicU64,
    /// The longest (ns).
    pub sync_max_ns: AtomicU64,
    /// Last journal sequence known on disk ([`Journal::synced_seq`]).
    pub synced_seq: AtomicU64,
    /// Margin calls raised (engine counter, published after each input).
    pub margin_calls: AtomicU64,
    /// Stop-outs (each closes one position).
    pub stop_outs: AtomicU64,
    /// Daily-loss and drawdown limits crossed.
    pub loss_limits: AtomicU64,
    /// Reports dropped from memory for a manager whose session is gone, past
    /// [`attach::REPORTS_KEPT_AWAY`] (the next start sends them from the journal).
    pub reports_dropped_away: AtomicU64,
}

/// What the stage hands back when it finishes.
#[derive(Debug)]
pub struct EngineStageReport {
    /// The engine at the end.
    pub engine: Engine,
    /// The journal (a final checkpoint was written unless `error` says otherwise).
    pub journal: Journal,
    /// What stopped the stage early, if anything.
    pub error: Option<String>,
}

/// Where the finished stage leaves its report.
pub type ReportSlot = Arc<Mutex<Option<EngineStageReport>>>;

/// The stage's rings.
#[derive(Debug)]
pub struct EngineRings {
    /// Market data (None: no feed).
    pub market: Option<RingRx<MarketEvent>>,
    /// Manager 0's master orders and watermarks (None: no manager); more managers join with
    /// [`EngineStage::with_manager`].
    pub masters: Option<RingRx<EdgeFrame>>,
    /// Fills from the LP stage (more LPs: [`EngineStage::with_fills`]).
    pub fills: RingRx<EdgeFrame>,
    /// Child orders to the LP stage.
    pub orders: RingTx<EdgeOrder>,
}

/// Latency histograms (ns), published to the tap under these names.
#[derive(Debug)]
struct Hists {
    feed: Histogram<u64>,
    master: Histogram<u64>,
    fill: Histogram<u64>,
    apply: Histogram<u64>,
    /// The applies of master orders alone (inputs with a manager's edge stamp).
    master_apply: Histogram<u64>,
    first: Histogram<u64>,
    last: Histogram<u64>,
    sync: Histogram<u64>,
    snapshot: Histogram<u64>,
}

impl Hists {
    fn new() -> Self {
        // 1 ns .. 1 h at 3 significant digits, the bounds used everywhere in mam.
        let h = || Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid bounds");
        Hists {
            feed: h(),
            master: h(),
            fill: h(),
            apply: h(),
            master_apply: h(),
            first: h(),
            last: h(),
            sync: h(),
            snapshot: h(),
        }
    }
    fn publish(&mut self, tap: &LatencyTap) {
        tap.publish("feed_to_engine", &mut self.feed);
        tap.publish("master_to_engine", &mut self.master);
        tap.publish("fill_to_engine", &mut self.fill);
        tap.publish("engine_apply", &mut self.apply);
        tap.publish("engine_apply_master", &mut self.master_apply);
        tap.publish("master_to_first_order", &mut self.first);
        tap.publish("master_to_last_order", &mut self.last);
        tap.publish("journal_sync", &mut self.sync);
        tap.publish("engine_snapshot", &mut self.snapshot);
    }
}

fn rec(h: &mut Histogram<u64>, ns: u64) {
    let _ = h.record(ns.clamp(1, 3_600_000_000_000));
}

/// The engine stage (see the module docs).
#[derive(Debug)]
pub struct EngineStage {
    engine: Option<Engine>,
    journal: Option<Journal>,
    opts: EngineStageOptions,
    market: Option<RingRx<MarketEvent>>,
    /// Manager sessions by number (manager 0 always present, possibly without a ring).
    managers: Vec<managers::ManagerLink>,
    fills: fill_rings::FillRings,
    orders: Option<RingTx<EdgeOrder>>,
    backlog: VecDeque<EdgeOrder>,
    backlog_since: u64,
    /// Orders of this duty cycle waiting for its journal sync (`SyncPolicy::Every` only).
    held: Vec<EdgeOrder>,
    commit: GroupCommit,
    emitted: Vec<ChildOrder>,
    stop: Arc<AtomicBool>,
    stop_seen_ns: Option<u64>,
    seq: event_time::State,
    hists: Hists,
    last_publish: u64,
    /// Idle cycles since the periodic work last ran (it runs on one in [`IDLE_CLOCK_EVERY`]).
    idle_cycles: u32,
    since_checkpoint: u64,
    stats: Arc<EngineStageStats>,
    report: ReportSlot,
    done: bool,
    /// Where readers get the state (None: nobody reads it).
    snapshots: Option<SnapshotWriter>,
    directory: Option<AccountDirectory>,
    model_swaps: Option<Arc<ModelSwaps>>,
    /// Answers to this cycle's operator inputs, sent after its sync.
    admin_answers: Vec<AdminOutcome>,
    /// Reused buffer of one input's reports.
    reports_scratch: Vec<ManagerReport>,
    /// Arrival sequencing: the manager whose ring is read next.
    next_manager: usize,
    /// Sessions a config reload adds ([`attach::Attachments`]).
    attachments: Option<Arc<attach::Attachments>>,
    /// A manager waiting for its previous session's ring to drain.
    waiting_attachment: Option<attach::Attachment>,
}

impl EngineStage {
    /// A stage over `engine` and `journal` (both recovered or fresh) and its rings. `stop` is
    /// the daemon's shutdown flag; the stage finishes once its sources have ended (their
    /// rings abandoned and empty) and its orders are out.
    pub fn new(
        engine: Engine,
        journal: Journal,
        opts: EngineStageOptions,
        rings: EngineRings,
        stop: Arc<AtomicBool>,
    ) -> (Self, ReportSlot, Arc<EngineStageStats>) {
        let seq = event_time::State::new(&engine, rings.market.is_none(), rings.masters.is_none());
        let manager0 = managers::ManagerLink {
            rx: rings.masters,
            ..Default::default()
        };
        let stats = Arc::new(EngineStageStats::default());
        let report = ReportSlot::default();
        let now = (opts.clock)();
        stats.synced_seq.store(journal.synced_seq(), Relaxed);
        let stage = EngineStage {
            engine: Some(engine),
            journal: Some(journal),
            market: rings.market,
            managers: vec![manager0],
            fills: fill_rings::FillRings::new(rings.fills),
            orders: Some(rings.orders),
            backlog: VecDeque::new(),
            backlog_since: 0,
            held: Vec::new(),
            commit: GroupCommit::new(opts.sync, now),
            emitted: Vec::new(),
            stop,
            stop_seen_ns: None,
            seq,
            hists: Hists::new(),
            last_publish: now,
            idle_cycles: 0,
            since_checkpoint: 0,
            stats: stats.clone(),
            report: report.clone(),
            done: false,
            snapshots: None,
            directory: None,
            model_swaps: None,
            admin_answers: Vec::new(),
            reports_scratch: Vec::new(),
            next_manager: 0,
            attachments: None,
            waiting_attachment: None,
            opts,
        };
        (stage, report, stats)
    }

    /// Sends the engine's reports on its manager's orders (ExecutionReports, cancel rejects)
    /// to `tx`, each once the journal sync that covers it is done. A full ring never blocks
    /// the engine: reports wait in memory, in order.
    /// These are manager 0's; [`EngineStage::with_manager`] adds the others.
    pub fn with_reports(mut self, tx: RingTx<ManagerReport>) -> Self {
        self.managers[0].reports = Some(tx);
        self
    }

    /// After a restart in event time: `t` is the event time of the input that caused the
    /// orders still open (their `ts_ns`; nothing else is taken while they are awaited), which
    /// stamps their fills, as it would have without the restart. Without it they would carry
    /// 0, and the journal would depend on where the process was killed.
    pub fn with_event_clock(mut self, t: u64) -> Self {
        self.seq.resume_clock(t);
        self
    }

    /// Reports journaled before this start that never reached the manager (a restart re-sends
    /// them first, in journal order; see `docs/daemon.md`, "Restart"). Call it after every
    /// manager has been added: each report goes to its own manager's backlog.
    pub fn with_unsent_reports(mut self, reports: impl IntoIterator<Item = ManagerReport>) -> Self {
        for r in reports {
            self.queue_report(r);
        }
        self
    }

    /// Publishes the engine's state to `w`'s reader ([`admin::snapshot_buffer`]).
    pub fn with_snapshots(mut self, w: SnapshotWriter) -> Self {
        self.snapshots = Some(w);
        self
    }

    /// Appends each account the engine adds to `d` (the ids the LP stage writes).
    pub fn with_account_directory(mut self, d: AccountDirectory) -> Self {
        self.directory = Some(d);
        self
    }

    /// Takes adaptive-model swaps from `m` ([`ModelSwaps`]).
    pub fn with_model_swaps(mut self, m: Arc<ModelSwaps>) -> Self {
        self.model_swaps = Some(m);
        self
    }

    /// A queued model swap: the model from the next input on, and a checkpoint that carries
    /// it written before any (see [`ModelSwaps`]). A model the engine refuses is answered as
    /// such and changes nothing; a checkpoint that fails stops the stage like any other.
    fn model_cycle(&mut self) -> Result<usize, String> {
        // As for operator inputs: nothing queued costs one load, no reference count moves.
        let q = match self.model_swaps.as_ref() {
            Some(q) if !q.is_idle() => q.clone(),
            _ => return Ok(0),
        };
        let Some((id, model)) = q.pop_request() else {
            return Ok(0);
        };
        let (Some(e), Some(journal)) = (self.engine.as_mut(), self.journal.as_mut()) else {
            q.answer(id, Err("the engine has stopped".into()));
            return Ok(1);
        };
        let before = e.adaptive().fingerprint();
        let marked = match e.swap_adaptive_model(*model, journal, crate::sys::utc_now_ns()) {
            Err(crate::engine::EngineError::Config(why)) => {
                q.answer(id, Err(why));
                return Ok(1);
            }
            Err(err) => return Err(format!("model swap: {err}")),
            Ok(m) => m,
        };
        let swapped = ModelSwapped {
            before,
            after: e.adaptive().fingerprint(),
            checkpoint_seq: e.applied_seq(),
        };
        // The same model marks nothing and needs no checkpoint.
        if marked.is_some() {
            self.checkpoint()?;
        }
        q.answer(id, Ok(swapped));
        Ok(1)
    }

    /// Applies queued operator inputs; their answers wait for the end of the duty cycle
    /// ([`answer_admin`](Self::answer_admin)).
    fn admin_cycle(&mut self) -> Result<usize, String> {
        // The common case, nothing queued, costs one load: no reference count moves.
        let q = match self.opts.admin.as_ref() {
            Some(q) if !q.is_idle() => q.clone(),
            _ => return Ok(0),
        };
        let mut n = 0;
        while let Some(req) = q.pop_request() {
            n += 1;
            let mut out = AdminOutcome {
                id: req.id,
                seq: 0,
                refused: None,
                not_applied: true,
            };
            if admin::is_admin_input(&req.input) && self.engine.is_some() {
                let seq = self.apply(&req.input, None, 0)?;
                out.seq = seq;
                out.not_applied = false;
                out.refused = self.engine.as_ref().and_then(|e| admin::refusal(e, seq));
            }
            self.admin_answers.push(out);
        }
        Ok(n)
    }

    /// After the cycle's journal sync: refreshes the snapshot, then answers the cycle's
    /// operator inputs, so whoever got an answer has its change on disk (under `sync =
    /// every`) and reads a snapshot that holds it.
    fn answer_admin(&mut self) {
        if self.admin_answers.is_empty() {
            return;
        }
        if self.admin_answers.iter().any(|a| !a.not_applied) {
            self.publish_snapshot(self.now(), true);
        }
        if let Some(q) = self.opts.admin.as_ref() {
            for a in self.admin_answers.drain(..) {
                q.answer(a);
            }
        }
    }

    /// Refills the readers' snapshot when due at `now` (`force`: in any case).
    fn publish_snapshot(&mut self, now: u64, force: bool) {
        let (Some(w), Some(e)) = (self.snapshots.as_mut(), self.engine.as_ref()) else {
            return;
        };
        if w.maybe_publish(e, now, force) {
            rec(
                &mut self.hists.snapshot,
                (self.opts.clock)().saturating_sub(now),
            );
        }
    }

    fn now(&self) -> u64 {
        (self.opts.clock)()
    }

    /// Journals and applies `input`, then queues its orders. `cause_edge_ns`: when the input
    /// reached mam (0: not a master order, no latency recorded).
    fn apply(
        &mut self,
        input: &Input,
        origin: Option<Origin>,
        cause_edge_ns: u64,
    ) -> Result<u64, String> {
        let (Some(engine), Some(journal)) = (self.engine.as_mut(), self.journal.as_mut()) else {
            return Ok(0);
        };
        let t0 = (self.opts.clock)();
        let mut emitted = std::mem::take(&mut self.emitted);
        emitted.clear();
        let seq = engine
            .apply_from(origin.as_ref(), input, journal, |o| emitted.push(*o))
            .map_err(|e| format!("engine: {e}"))?;
        let n = emitted.len() as u32;
        if let (Input::AddAccount(a), Some(dir)) = (input, self.directory.as_ref()) {
            if engine.accounts().id.len() > dir.len() {
                // Added (not refused): its id before any order of it.
                dir.push(a.id);
            }
        }
        if self.takes_reports() {
            let mut reports = std::mem::take(&mut self.reports_scratch);
            if let Some(e) = self.engine.as_ref() {
                for (i, d) in e.last_decisions().iter().enumerate() {
                    if let Decision::Report(r) = d {
                        reports.push(ManagerReport {
                            journal_seq: seq + 1 + i as u64,
                            report: *r,
                        });
                    }
                }
            }
            for r in reports.drain(..) {
                self.queue_report(r);
            }
            self.reports_scratch = reports;
        }
        let hold = self.opts.sync.holds_orders();
        let now = if n > 0 && !hold {
            (self.opts.clock)()
        } else {
            0
        };
        let all = self.opts.forward_allocations;
        let forwarded = move |o: &&ChildOrder| all || o.ord_type != ORD_TYPE_ALLOC;
        let n = if all {
            n
        } else {
            emitted.iter().filter(forwarded).count() as u32
        };
        for (i, o) in emitted.iter().filter(forwarded).enumerate() {
            // Cancel requests and allocation lines get no fills of their own: nothing to await.
            if self.opts.sequencing == Sequencing::EventTime
                && o.ord_type != ORD_TYPE_CANCEL
                && o.ord_type != ORD_TYPE_ALLOC
            {
                self.seq.await_order(o);
            }
            let o = EdgeOrder {
                cause_edge_ns,
                pushed_ns: 0,
                index: i as u32,
                count: n,
                order: *o,
            };
            if hold {
                // Released by `end_cycle`, after the sync that covers this input.
                self.held.push(o);
            } else {
                self.queue_order(o, now);
            }
        }
        self.emitted = emitted;
        let t1 = (self.opts.clock)();
        rec(&mut self.hists.apply, t1.saturating_sub(t0));
        if cause_edge_ns != 0 {
            rec(&mut self.hists.master_apply, t1.saturating_sub(t0));
        }
        let s = &self.stats;
        s.inputs.fetch_add(1, Relaxed);
        s.orders.fetch_add(u64::from(n), Relaxed);
        s.journal_seq.store(seq, Relaxed);
        if let Some(e) = self.engine.as_ref() {
            let c = e.counters();
            s.margin_calls.store(c.margin_calls, Relaxed);
            s.stop_outs.store(c.stop_outs, Relaxed);
            s.loss_limits.store(c.limit_holds, Relaxed);
        }
        match input {
            Input::Market(_) => s.market.fetch_add(1, Relaxed),
            Input::Fill(_) => s.fills.fetch_add(1, Relaxed),
            Input::Risk(_)
            | Input::Balance(_)
            | Input::Account(_)
            | Input::Limit(_)
            | Input::AddAccount(_) => s.admin.fetch_add(1, Relaxed),
            _ => s.masters.fetch_add(1, Relaxed),
        };
        self.since_checkpoint += 1;
        if self.opts.checkpoint_every > 0 && self.since_checkpoint >= self.opts.checkpoint_every {
            self.checkpoint()?;
        }
        Ok(seq)
    }

    fn checkpoint(&mut self) -> Result<(), String> {
        let (Some(engine), Some(journal)) = (self.engine.as_ref(), self.journal.as_mut()) else {
            return Ok(());
        };
        engine
            .write_checkpoint(&self.opts.checkpoint_dir, journal)
            .map_err(|e| format!("checkpoint: {e}"))?;
        self.since_checkpoint = 0;
        self.stats.checkpoints.fetch_add(1, Relaxed);
        Ok(())
    }

    /// Pushes `o` (stamped `now`) if nothing waits before it and there is room; else it joins
    /// the backlog.
    fn queue_order(&mut self, o: EdgeOrder, now: u64) {
        if self.backlog.is_empty() {
            if self.push_order(o, now) {
                return;
            }
            self.backlog_since = now;
            if let Some(tx) = &self.orders {
                tx.stats().full.fetch_add(1, Relaxed);
            }
        }
        self.backlog.push_back(o);
    }

    /// Pushes one order stamped `now` if the ring has room; records master → first / last
    /// order. The LP stage gone (shutdown) counts as pushed: its store decides at restart.
    fn push_order(&mut self, mut o: EdgeOrder, now: u64) -> bool {
        let Some(tx) = self.orders.as_mut() else {
            return true;
        };
        o.pushed_ns = now;
        if tx.try_push(o).is_err() {
            return false;
        }
        if o.cause_edge_ns != 0 {
            let lat = now.saturating_sub(o.cause_edge_ns);
            if o.index == 0 {
                rec(&mut self.hists.first, lat);
            }
            if o.index + 1 == o.count {
                rec(&mut self.hists.last, lat);
            }
        }
        true
    }

    /// Pushes waiting orders while there is room (one clock read per call: the stamps of one
    /// batch differ by a few ring pushes).
    fn flush_orders(&mut self) -> usize {
        if self.backlog.is_empty() || self.orders.is_none() {
            return 0;
        }
        let now = (self.opts.clock)();
        let mut n = 0;
        while let Some(&o) = self.backlog.front() {
            if !self.push_order(o, now) {
                break;
            }
            self.backlog.pop_front();
            n += 1;
        }
        if n > 0 && self.backlog.is_empty() {
            if let Some(tx) = &self.orders {
                let waited = now.saturating_sub(self.backlog_since);
                let st = tx.stats();
                st.wait_ns.fetch_add(waited, Relaxed);
                st.max_wait_ns.fetch_max(waited, Relaxed);
            }
        }
        n
    }

    /// True while no new input may be taken: orders wait for room on the ring, or the orders
    /// held for this cycle's sync already fill the room there is (back-pressure, module docs).
    fn blocked(&self) -> bool {
        !self.backlog.is_empty()
            || (!self.held.is_empty()
                && self
                    .orders
                    .as_ref()
                    .is_some_and(|tx| self.held.len() >= tx.slots()))
    }

    /// Ends a duty cycle: the journal sync the policy asks for (one for everything the cycle
    /// journaled), then the cycle's held orders to the ring. A failed sync releases nothing:
    /// the error stops the stage, and the restart sends what the LP never got.
    fn end_cycle(&mut self) -> Result<usize, String> {
        let Some(journal) = self.journal.as_mut() else {
            return Ok(0);
        };
        // No clock read on the (many) idle cycles with nothing to sync, nor ever under the
        // checkpoint policy (the journal is synced at checkpoints, not at cycle ends).
        let synced = if journal.has_unsynced() && self.commit.policy() != SyncPolicy::Checkpoint {
            let now = (self.opts.clock)();
            self.commit
                .end_of_cycle(journal, now, self.opts.clock)
                .map_err(|e| format!("journal sync: {e}"))?
        } else {
            None
        };
        if let Some(ns) = synced {
            rec(&mut self.hists.sync, ns);
            let s = &self.stats;
            s.syncs.fetch_add(1, Relaxed);
            s.sync_ns.fetch_add(ns, Relaxed);
            s.sync_max_ns.fetch_max(ns, Relaxed);
        }
        // Also moved by a checkpoint in the cycle.
        self.stats.synced_seq.store(journal.synced_seq(), Relaxed);
        // Reports leave after the cycle's sync, as orders do under `every` (the other policies
        // send both before it).
        // Every held order comes from an input journaled this cycle, and `Every` syncs any
        // cycle that journaled something (a checkpoint in the middle synced it already).
        debug_assert!(self.held.is_empty() || !journal.has_unsynced());
        let reported = self.flush_reports();
        if self.held.is_empty() {
            return Ok(reported);
        }
        let now = (self.opts.clock)();
        let mut held = std::mem::take(&mut self.held);
        let n = held.len();
        for o in held.drain(..) {
            self.queue_order(o, now);
        }
        self.held = held; // keep the allocation
        Ok(n + reported)
    }

    /// True if `f` is news to the engine: its order is tracked and the fill adds quantity or
    /// ends the order. Resent and unknown fills are dropped (counted).
    fn fill_is_new(&self, f: &FillEvent) -> bool {
        let Some(engine) = &self.engine else {
            return false;
        };
        let fresh = match engine.order_progress(f.cl_ord_id) {
            None => false,
            Some((_, cum)) => {
                f.cum_qty > cum
                    || f.status == ExecStatus::Rejected as u8
                    || f.status == ExecStatus::Canceled as u8
            }
        };
        if !fresh {
            self.stats.fills_dropped.fetch_add(1, Relaxed);
        }
        fresh
    }

    /// One arrival-order duty cycle.
    fn arrival_cycle(&mut self) -> Result<usize, String> {
        let mut work = 0;
        for _ in 0..self.opts.batch {
            if self.blocked() {
                return Ok(work);
            }
            let Some(fr) = self.fills.pop() else { break };
            work += 1;
            let now = self.now();
            rec(&mut self.hists.fill, now.saturating_sub(fr.edge_ns));
            if let Some(Input::Fill(f)) = fr.decode() {
                if self.fill_is_new(&f) {
                    self.apply(&Input::Fill(f), None, 0)?;
                }
            }
        }
        for _ in 0..self.opts.batch {
            if self.blocked() {
                return Ok(work);
            }
            // Managers in turn, one master each per round.
            let m = self.next_manager % self.managers.len();
            self.next_manager = self.next_manager.wrapping_add(1);
            let Some(fr) = self.managers[m].rx.as_mut().and_then(RingRx::pop) else {
                if self
                    .managers
                    .iter()
                    .all(|l| l.rx.as_ref().is_none_or(RingRx::is_empty))
                {
                    break;
                }
                continue;
            };
            work += 1;
            let now = self.now();
            if let Some(input) = fr.decode() {
                rec(&mut self.hists.master, now.saturating_sub(fr.edge_ns));
                if !self.journaled_already(m, &fr) {
                    let origin = managers::origin_of(m, &fr);
                    self.apply(&input, Some(origin), fr.edge_ns)?;
                }
            }
        }
        for _ in 0..self.opts.batch {
            if self.blocked() {
                return Ok(work);
            }
            let Some(m) = self.market.as_mut().and_then(RingRx::pop) else {
                break;
            };
            work += 1;
            let now = self.now();
            rec(&mut self.hists.feed, now.saturating_sub(m.recv_ns));
            self.apply(&Input::Market(m), None, 0)?;
        }
        Ok(work)
    }

    /// True once a source ring is gone or abandoned and drained.
    fn ended<T: bytemuck::Pod>(rx: &Option<RingRx<T>>) -> bool {
        rx.as_ref().is_none_or(|r| r.is_abandoned() && r.is_empty())
    }

    fn sources_ended(&self) -> bool {
        Self::ended(&self.market) && self.managers_ended() && self.seq.heads_empty()
    }

    fn finish(&mut self, error: Option<String>) {
        let mut error = error;
        if error.is_none() {
            if let Err(e) = self.checkpoint() {
                error = Some(e);
            }
        }
        self.answer_admin();
        if error.is_some() {
            // The daemon shuts down: the journal holds everything applied; a restart recovers.
            self.stop.store(true, Relaxed);
        }
        self.publish_snapshot(self.now(), true);
        if let Some(tap) = &self.opts.tap {
            self.hists.publish(tap);
        }
        self.orders = None; // the LP stage sees the order ring abandoned
        if let (Some(engine), Some(journal)) = (self.engine.take(), self.journal.take()) {
            *self.report.lock().unwrap_or_else(|e| e.into_inner()) = Some(EngineStageReport {
                engine,
                journal,
                error,
            });
        }
        self.done = true;
    }

    fn cycle(&mut self) -> Result<usize, String> {
        let mut work = self.flush_orders() + self.flush_reports();
        work += self.model_cycle()?;
        work += self.attach_cycle();
        work += self.admin_cycle()?;
        work += match self.opts.sequencing {
            Sequencing::Arrival => self.arrival_cycle()?,
            Sequencing::EventTime => self.event_time_cycle()?,
        };
        work += self.end_cycle()?;
        self.answer_admin();
        // The snapshot and histogram intervals are 100 ms and 1 s: an idle cycle (a few µs on
        // a shared thread) need not read the clock for them every time.
        if work == 0 {
            self.idle_cycles += 1;
            if self.idle_cycles < IDLE_CLOCK_EVERY {
                return Ok(work);
            }
        }
        // Counting restarts here: an idle daemon never overflows the count.
        self.idle_cycles = 0;
        let now = self.now();
        self.publish_snapshot(now, false);
        if let Some(e) = &self.engine {
            self.stats
                .open_orders
                .store(e.open_orders() as u64, Relaxed);
        }
        if now.saturating_sub(self.last_publish) >= LatencyTap::PUBLISH_NS {
            self.last_publish = now;
            if let Some(tap) = &self.opts.tap {
                self.hists.publish(tap);
            }
        }
        Ok(work)
    }

    /// True when the stage may finish: sources ended, everything taken applied, orders out
    /// and the fills of open orders in; or, after a stop, once the drain timeout has passed
    /// (what was not journaled comes again after the restart: market data and master orders
    /// from where the journal stopped, fills because the LP is asked for everything, orders
    /// because the LP's store does not hold them).
    fn may_finish(&mut self) -> bool {
        let quiet = self.sources_ended()
            && self.backlog.is_empty()
            && self.held.is_empty()
            && self.fills.is_empty()
            && self.engine.as_ref().map_or(0, Engine::open_orders) == 0
            && self.seq.idle();
        if quiet {
            return true;
        }
        if !self.stop.load(Relaxed) {
            return false;
        }
        let now = self.now();
        let since = *self.stop_seen_ns.get_or_insert(now);
        now.saturating_sub(since) >= self.opts.drain_timeout_ns
    }
}

/// One idle cycle in this many does the periodic work (snapshot, histograms) and reads the
/// clock for it; a cycle with work always does. Each clock read is paid on every turn of a
/// shared thread: about 13 a turn were 17 % of an idle daemon's samples (perf, stop 26).
const IDLE_CLOCK_EVERY: u32 = 8;

impl Stage for EngineStage {
    fn name(&self) -> &str {
        "engine"
    }

    fn do_work(&mut self) -> usize {
        if self.done {
            // Keep draining so the other stages can finish.
            let mut n = 0;
            while self.fills.pop().is_some() {
                n += 1;
            }
            return n;
        }
        match self.cycle() {
            Ok(w) => {
                if (w == 0 || self.stop.load(Relaxed)) && self.may_finish() {
                    self.finish(None);
                    return 1;
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

/// Fills buffered in event-time order: (ClOrdID, cumulative quantity) → fill.
type FillBuffer = BTreeMap<(u64, i64), FillEvent>;
