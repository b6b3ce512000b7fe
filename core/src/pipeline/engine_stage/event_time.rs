//! Event-time sequencing: the journal as a function of the inputs alone.
//!
//! Each source is in event-time order (a capture's timestamps; a manager's TransactTimes) and
//! says how far it has got (its *watermark*: market data, the last timestamp seen; the manager,
//! its clock messages). The next input is the earliest head, taken only when no source can
//! still send something earlier: a master order at `t` goes once market data has reached `t`;
//! a quote at `t` goes once the manager's clock has passed `t` (a master order wins a tie).
//!
//! Fills are lock-stepped: after an input emits orders, nothing else is taken until every one
//! of them is done (filled, rejected or cancelled); then their fills are applied in
//! (ClOrdID, cumulative quantity) order, stamped with the event time of the input that caused
//! the orders; market data is journaled without its arrival stamp. So neither socket timing
//! nor the LP's pace changes a byte of the journal.
//! After a restart the orders the engine still tracks are awaited again.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

use super::{rec, EngineStage, FillBuffer};
use crate::engine::input::Input;
use crate::engine::Engine;
use crate::event::{ChildOrder, ExecStatus, MarketEvent};
use crate::num::Qty;
use crate::pipeline::msg::EdgeFrame;
use crate::pipeline::ring::RingRx;

/// The sequencer's state.
#[derive(Debug)]
pub(super) struct State {
    market_head: Option<MarketEvent>,
    /// Each manager's next master, decoded once as it became the head, and the frame it came
    /// in (index = manager number).
    master_heads: Vec<Option<(Input, EdgeFrame)>>,
    /// Last market timestamp seen (`u64::MAX` once the feed ended or when there is none).
    market_wm: u64,
    /// Each manager's clock (`u64::MAX` once it ended or when there is none).
    manager_wms: Vec<u64>,
    /// Orders emitted and not yet done: ClOrdID → (quantity, done).
    awaiting: BTreeMap<u64, (Qty, bool)>,
    fills: FillBuffer,
    /// Event time of the last master or market input applied (stamps lock-stepped fills).
    clock: u64,
}

impl State {
    pub(super) fn new(engine: &Engine, no_market: bool, no_manager: bool) -> Self {
        let awaiting = engine
            .open_order_ids()
            .filter_map(|id| engine.order_progress(id).map(|(q, _)| (id, (q, false))))
            .collect();
        State {
            market_head: None,
            master_heads: vec![None],
            market_wm: if no_market { u64::MAX } else { 0 },
            manager_wms: vec![if no_manager { u64::MAX } else { 0 }],
            awaiting,
            fills: FillBuffer::new(),
            clock: 0,
        }
    }

    pub(super) fn await_order(&mut self, o: &ChildOrder) {
        self.awaiting.insert(o.cl_ord_id, (o.qty, false));
    }

    pub(super) fn heads_empty(&self) -> bool {
        self.market_head.is_none() && self.master_heads.iter().all(Option::is_none)
    }

    /// After a restart: the event time of the input whose orders are awaited again (their
    /// fills are stamped with it, as they would have been without the restart).
    pub(super) fn resume_clock(&mut self, t: u64) {
        self.clock = t;
    }

    /// One more manager, without a session until it [joins](Self::manager_joins).
    pub(super) fn add_manager(&mut self) {
        self.master_heads.push(None);
        self.manager_wms.push(u64::MAX);
    }

    /// Manager `m` has a session: its clock starts at 0.
    pub(super) fn manager_joins(&mut self, m: usize) {
        self.manager_wms[m] = 0;
    }

    /// Manager `m` has a session again (a config reload): its clock starts at the event time
    /// of the last input applied, which no master of it can precede.
    pub(super) fn manager_rejoins(&mut self, m: usize) {
        self.manager_wms[m] = self.clock;
    }

    /// True if manager `m`'s next master was taken off its ring and not applied yet.
    pub(super) fn has_master_head(&self, m: usize) -> bool {
        self.master_heads.get(m).is_some_and(Option::is_some)
    }

    /// Manager `m`'s bound: the time of its next master, else its clock.
    fn manager_bound(&self, m: usize) -> u64 {
        self.master_heads[m]
            .as_ref()
            .map_or(self.manager_wms[m], |(i, _)| i.ts_ns())
    }

    /// The manager whose master goes next, if one may: the earliest head (the lower number
    /// wins a tie), taken only when no other manager can still send one earlier (or, with a
    /// lower number, as early).
    fn next_master(&self) -> Option<(usize, u64)> {
        let (m, t) = (0..self.master_heads.len())
            .filter_map(|m| Some((m, self.master_heads[m].as_ref()?.0.ts_ns())))
            .min_by_key(|&(m, t)| (t, m))?;
        let clear = (0..self.master_heads.len())
            .filter(|&o| o != m)
            .all(|o| self.manager_bound(o) > t || (o > m && self.manager_bound(o) >= t));
        clear.then_some((m, t))
    }

    /// The earliest time any manager may still send a master at.
    fn managers_bound(&self) -> u64 {
        (0..self.master_heads.len())
            .map(|m| self.manager_bound(m))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Nothing awaited and no fill buffered.
    pub(super) fn idle(&self) -> bool {
        self.awaiting.is_empty() && self.fills.is_empty()
    }
}

impl EngineStage {
    /// Takes fills off the ring into the buffer; once every awaited order is done, applies
    /// them in order.
    fn collect_fills(&mut self) -> Result<usize, String> {
        let mut work = 0;
        while let Some(fr) = self.fills.pop() {
            work += 1;
            let now = self.now();
            rec(&mut self.hists.fill, now.saturating_sub(fr.edge_ns));
            let Some(Input::Fill(f)) = fr.decode() else {
                continue;
            };
            if !self.fill_is_new(&f) {
                continue;
            }
            if let Some((qty, done)) = self.seq.awaiting.get_mut(&f.cl_ord_id) {
                let fin = f.status == ExecStatus::Filled as u8
                    || f.status == ExecStatus::Rejected as u8
                    || f.status == ExecStatus::Canceled as u8
                    || f.cum_qty >= *qty;
                *done |= fin;
            }
            match self.seq.fills.entry((f.cl_ord_id, f.cum_qty.0)) {
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(f);
                }
                std::collections::btree_map::Entry::Occupied(mut o) => {
                    let old = *o.get();
                    if old.last_qty.raw() > 0 && f.last_qty.is_zero() && f.status != old.status {
                        // An end (cancel, reject) at the CumQty a partial fill reached: keep the
                        // fill's quantity and take the end's status, so neither is lost.
                        o.get_mut().status = f.status;
                    } else if f.last_qty.raw() > 0
                        && old.last_qty.is_zero()
                        && f.status != old.status
                    {
                        let status = old.status;
                        *o.get_mut() = f;
                        if status == ExecStatus::Canceled as u8
                            || status == ExecStatus::Rejected as u8
                        {
                            o.get_mut().status = status;
                        }
                    } else {
                        // The same execution twice (an LP resend): one is kept.
                        self.stats.fills_dropped.fetch_add(1, Relaxed);
                    }
                }
            }
        }
        let all_done = self.seq.awaiting.values().all(|&(_, d)| d);
        if all_done && !self.seq.fills.is_empty() {
            let fills = std::mem::take(&mut self.seq.fills);
            self.seq.awaiting.clear();
            for (_, mut f) in fills {
                f.recv_ns = self.seq.clock;
                if self.fill_is_new(&f) {
                    self.apply(&Input::Fill(f), None, 0)?;
                }
                work += 1;
            }
        } else if all_done {
            self.seq.awaiting.clear();
        }
        self.stats
            .awaiting
            .store(self.seq.awaiting.len() as u64, Relaxed);
        Ok(work)
    }

    fn refill_heads(&mut self) -> usize {
        let mut work = 0;
        if self.seq.market_head.is_none() {
            if let Some(m) = self.market.as_mut().and_then(RingRx::pop) {
                work += 1;
                let now = self.now();
                rec(&mut self.hists.feed, now.saturating_sub(m.recv_ns));
                self.seq.market_wm = self.seq.market_wm.max(m.source_ns);
                self.seq.market_head = Some(m);
            } else if Self::ended(&self.market) {
                self.seq.market_wm = u64::MAX;
            }
        }
        for m in 0..self.managers.len() {
            while self.seq.master_heads[m].is_none() {
                let Some(fr) = self.managers[m].rx.as_mut().and_then(RingRx::pop) else {
                    if Self::ended(&self.managers[m].rx) {
                        self.seq.manager_wms[m] = u64::MAX;
                    }
                    break;
                };
                work += 1;
                self.seq.manager_wms[m] = self.seq.manager_wms[m].max(fr.watermark_ns);
                if let Some(input) = fr.decode() {
                    let now = self.now();
                    rec(&mut self.hists.master, now.saturating_sub(fr.edge_ns));
                    if !self.journaled_already(m, &fr) {
                        self.seq.master_heads[m] = Some((input, fr));
                    }
                }
            }
        }
        work
    }

    /// One event-time duty cycle.
    pub(super) fn event_time_cycle(&mut self) -> Result<usize, String> {
        let mut work = self.collect_fills()?;
        for _ in 0..self.opts.batch {
            if self.blocked() || !self.seq.awaiting.is_empty() {
                break;
            }
            work += self.refill_heads();
            let next = self.seq.next_master();
            let any_master = self.seq.master_heads.iter().any(Option::is_some);
            let market_ts = self.seq.market_head.as_ref().map(|m| m.source_ns);
            let market_bound = market_ts.unwrap_or(self.seq.market_wm);
            let manager_bound = self.seq.managers_bound();
            if let Some((m, t)) = next.filter(|&(_, t)| t <= market_bound) {
                let (input, fr) = self.seq.master_heads[m].take().expect("head present");
                self.seq.clock = t;
                let origin = super::managers::origin_of(m, &fr);
                self.apply(&input, Some(origin), fr.edge_ns)?;
            } else if let Some(t) = market_ts.filter(|&t| t < manager_bound) {
                let mut m = self.seq.market_head.take().expect("head present");
                // The arrival stamp was measured (feed_to_engine); it is not journaled, so
                // the journal stays a function of the inputs alone (as for a capture read
                // from a file, where it is 0 too).
                m.recv_ns = 0;
                self.seq.clock = t;
                self.apply(&Input::Market(m), None, 0)?;
            } else {
                if any_master || market_ts.is_some() {
                    self.stats.watermark_waits.fetch_add(1, Relaxed);
                }
                break;
            }
            work += 1;
        }
        Ok(work)
    }
}
