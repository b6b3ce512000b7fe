//! The in-process LP: fills every order it receives in several increments at its own quotes
//! (the generated feed, looked up at each fill's time) plus a few points of adverse slippage,
//! never through a limit price. Everything about a fill (sizes, times, prices, ids) derives
//! from the order and the seed, never from arrival order or the clock, so runs repeat exactly.
//! All of an order's increments are sent as soon as the order arrives; the engine stage
//! (event-time sequencing) applies them once the order is done, in (ClOrdID, cumulative
//! quantity) order, stamped with the time of the input that caused the order.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;
use mam_core::engine::input::Input;
use mam_core::event::{
    ChildOrder, ExecStatus, FillEvent, MarketEvent, OrdType, Side, ORD_TYPE_ALLOC, ORD_TYPE_CANCEL,
};
use mam_core::num::{Price, Qty};
use mam_core::pipeline::{EdgeFrame, EdgeOrder, RingRx, RingTx, Stage};
use mam_core::sys::mono_ns;

use super::gen::Rng;

/// Each instrument's quotes by time, for the LP's own prices.
#[derive(Debug, Default)]
pub struct Quotes {
    /// Per instrument id: (time, bid, ask), ascending.
    by_instrument: Vec<Vec<(u64, Price, Price)>>,
    /// One price tick per instrument id.
    point: Vec<Price>,
}

impl Quotes {
    /// Indexes `events`; `points` gives each instrument's tick.
    pub fn new(events: &[MarketEvent], points: &[(u32, Price)]) -> Self {
        let n = points.iter().map(|p| p.0 as usize + 1).max().unwrap_or(0);
        let mut q = Quotes {
            by_instrument: vec![Vec::new(); n],
            point: vec![Price(1); n],
        };
        for &(id, p) in points {
            q.point[id as usize] = p;
        }
        for e in events {
            if let Some(v) = q.by_instrument.get_mut(e.instrument as usize) {
                v.push((e.source_ns, e.bid, e.ask));
            }
        }
        q
    }

    /// The latest quote at or before `ts` (or the first one).
    fn at(&self, instrument: u32, ts: u64) -> Option<(Price, Price)> {
        let v = self.by_instrument.get(instrument as usize)?;
        let i = v.partition_point(|q| q.0 <= ts);
        let q = v.get(i.saturating_sub(1))?;
        Some((q.1, q.2))
    }
}

/// The fills of one order: 1-3 increments for a child, 3-6 for a block, whole base units.
pub fn fills_for(o: &ChildOrder, quotes: &Quotes, seed: u64) -> Vec<FillEvent> {
    let mut r = Rng(seed ^ o.cl_ord_id.wrapping_mul(0x2545_F491_4F6C_DD1D));
    let block = o.account == u32::MAX;
    let unit = Qty::ONE_RAW;
    let units = o.qty.raw() / unit;
    let parts = if block { r.range(3, 6) } else { r.range(1, 3) }.min(units.max(1));
    // Cut points: sizes differ, every part at least one unit, the last completes the order.
    let mut sizes = Vec::with_capacity(parts as usize);
    let mut left = o.qty.raw();
    for p in 0..parts {
        let rest = parts - p;
        let q = if rest == 1 {
            left
        } else {
            let avg = left / unit / rest;
            (r.range(avg / 2, avg.max(1) * 3 / 2).max(1) * unit).min(left - (rest - 1) * unit)
        };
        sizes.push(q);
        left -= q;
    }
    let side = Side::from_u8(o.side).unwrap_or(Side::Buy);
    let point = quotes
        .point
        .get(o.instrument as usize)
        .copied()
        .unwrap_or(Price(1));
    let mut ts = o.ts_ns + 150_000;
    let mut cum = 0;
    sizes
        .iter()
        .enumerate()
        .map(|(i, &q)| {
            ts += r.range(50_000, 2_000_000) as u64;
            let (bid, ask) = quotes.at(o.instrument, ts).unwrap_or((Price(1), Price(1)));
            let slip = r.range(-1, 3) * point.raw();
            let mut px = match side {
                Side::Buy => ask.raw() + slip,
                Side::Sell => bid.raw() - slip,
            };
            if o.ord_type == OrdType::Limit as u8 && o.price.raw() > 0 {
                px = match side {
                    Side::Buy => px.min(o.price.raw()),
                    Side::Sell => px.max(o.price.raw()),
                };
            }
            cum += q;
            let last = i + 1 == sizes.len();
            FillEvent {
                recv_ns: ts,
                cl_ord_id: o.cl_ord_id,
                exec_id: o.cl_ord_id * 16 + i as u64,
                last_qty: Qty(q),
                last_px: Price(px.max(1)),
                cum_qty: Qty(cum),
                leaves_qty: Qty(o.qty.raw() - cum),
                status: if last {
                    ExecStatus::Filled as u8
                } else {
                    ExecStatus::PartiallyFilled as u8
                },
                _pad: [0; 7],
            }
        })
        .collect()
}

/// What the LP saw, for the summary and the checks.
#[derive(Debug, Default)]
pub struct LpReport {
    /// Orders received, as (ClOrdID, ticket, account, side, qty).
    pub orders: Vec<(u64, u64, u32, u8, i64)>,
    /// Fill increments sent.
    pub fills: u64,
    /// Σ filled quantity (raw).
    pub filled_qty: i64,
    /// Allocation instructions received, per block ClOrdID: (Σ per-account lines, the total
    /// line's quantity), both raw.
    pub allocations: BTreeMap<u64, (i64, i64)>,
    /// Cancel requests received (the LP has always filled the order by then).
    pub cancels: u64,
    /// Order ring wait: engine push → LP pop (ns).
    pub queue_ns: Option<Histogram<u64>>,
}

/// The in-process LP stage: takes the engine stage's orders, sends back fills as the
/// daemon's LP gateway stage does (an [`EdgeFrame`] per ExecutionReport).
pub struct LpStage {
    rx: RingRx<EdgeOrder>,
    tx: Option<RingTx<EdgeFrame>>,
    /// Fills that did not fit on the ring yet, in order.
    backlog: VecDeque<EdgeFrame>,
    quotes: Arc<Quotes>,
    seed: u64,
    report: LpReport,
    hist: Histogram<u64>,
    out: Arc<Mutex<Option<LpReport>>>,
    done: bool,
}

/// Most fills held back before the LP stops taking orders (the engine's order ring then
/// fills and its own backlog holds the rest).
const BACKLOG_MAX: usize = 4096;

impl LpStage {
    /// An LP reading orders from `rx` and sending fills through `tx`.
    pub fn new(
        rx: RingRx<EdgeOrder>,
        tx: RingTx<EdgeFrame>,
        quotes: Arc<Quotes>,
        seed: u64,
        out: Arc<Mutex<Option<LpReport>>>,
    ) -> Self {
        LpStage {
            rx,
            tx: Some(tx),
            backlog: VecDeque::new(),
            quotes,
            seed,
            report: LpReport::default(),
            hist: super::stats::histogram(),
            out,
            done: false,
        }
    }

    fn take(&mut self, eo: &EdgeOrder) {
        let c = eo.order;
        match c.ord_type {
            ORD_TYPE_ALLOC => {
                let a = self.report.allocations.entry(c.cl_ord_id).or_default();
                if c.account == u32::MAX {
                    a.1 = c.qty.raw();
                } else {
                    a.0 += c.qty.raw();
                }
            }
            ORD_TYPE_CANCEL => self.report.cancels += 1,
            _ => {
                self.report.orders.push((
                    c.cl_ord_id,
                    c.master_ticket,
                    c.account,
                    c.side,
                    c.qty.raw(),
                ));
                for f in fills_for(&c, &self.quotes, self.seed) {
                    self.report.fills += 1;
                    self.report.filled_qty += f.last_qty.raw();
                    let now = mono_ns();
                    self.backlog
                        .push_back(EdgeFrame::input(&Input::Fill(f), now, f.exec_id, 0));
                }
            }
        }
    }
}

impl Stage for LpStage {
    fn name(&self) -> &str {
        "lp"
    }

    fn do_work(&mut self) -> usize {
        let Some(tx) = self.tx.as_mut() else { return 0 };
        let mut work = 0;
        while let Some(f) = self.backlog.front() {
            if tx.try_push(*f).is_err() {
                break;
            }
            self.backlog.pop_front();
            work += 1;
        }
        while self.backlog.len() < BACKLOG_MAX {
            let Some(o) = self.rx.pop() else { break };
            let _ = self
                .hist
                .record(mono_ns().saturating_sub(o.pushed_ns).max(1));
            self.take(&o);
            work += 1;
        }
        if self.rx.is_abandoned() && self.rx.is_empty() && self.backlog.is_empty() {
            self.done = true;
            self.tx = None; // the engine sees the fill ring abandoned
            let mut r = std::mem::take(&mut self.report);
            r.queue_ns = Some(self.hist.clone());
            *self.out.lock().expect("lp report lock") = Some(r);
        }
        work
    }

    fn is_done(&self) -> bool {
        self.done
    }
}

impl std::fmt::Debug for LpStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LpStage").field("done", &self.done).finish()
    }
}
