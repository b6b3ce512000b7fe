//! Shared by the LP stage tests (`lp.rs`, `lp_status.rs`): the stage driven by hand, and an
//! engine side that records every fill and applies them by the engine stage's own rule, so a
//! fill counted twice fails the test.
#![allow(dead_code, missing_debug_implementations)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mam_core::engine::input::Input;
use mam_core::event::{ChildOrder, ExecStatus, FillEvent};
use mam_core::num::{Price, Qty};
use mam_core::pipeline::{ring, EdgeFrame, EdgeOrder, RingRx, RingTx, Stage};
use mam_core::symbol::SymbolTable;
use mam_gateway::latency::{mono_ns, LatencyTap};
use mam_gateway::lp::{LpOptions, LpStage, SimLp, SimLpOptions, SimLpThread};

/// What the engine holds of one order (`Engine::order_progress`), and whether it still
/// tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    pub qty: Qty,
    pub cum: Qty,
    pub open: bool,
}

/// The engine's side of the two rings, and what it learned.
pub struct Engine {
    pub orders: Option<RingTx<EdgeOrder>>,
    pub fills: RingRx<EdgeFrame>,
    /// Every fill received, per ClOrdID, in order, with its origin MsgSeqNum.
    pub got: BTreeMap<u64, Vec<(FillEvent, u64)>>,
    /// Orders pushed (what the engine tracks).
    pub tracked: BTreeMap<u64, ChildOrder>,
    /// What the engine holds of each order, by the engine stage's rule.
    pub book: BTreeMap<u64, Held>,
    /// The fills the engine applied (not dropped as already held), per ClOrdID.
    pub applied: BTreeMap<u64, Vec<FillEvent>>,
}

impl Engine {
    /// The engine stage's rule (`fill_is_new`, then `Engine::fill`): a fill counts when its
    /// order is tracked and its CumQty is above what the engine holds, or it ends the order;
    /// the engine adds LastQty. Going past the order's quantity is a fill counted twice.
    fn apply(&mut self, f: FillEvent) {
        let Some(h) = self.book.get_mut(&f.cl_ord_id).filter(|h| h.open) else {
            return;
        };
        let ends = f.status == ExecStatus::Canceled as u8 || f.status == ExecStatus::Rejected as u8;
        if f.cum_qty <= h.cum && !ends {
            return;
        }
        let cum = h.cum.raw() + f.last_qty.raw();
        assert!(
            cum <= h.qty.raw(),
            "order {}: {} filled of {} (a fill counted twice): {f:?}",
            f.cl_ord_id,
            cum,
            h.qty.raw()
        );
        h.cum = Qty::from_raw(cum);
        h.open = !(ends || h.cum == h.qty);
        self.applied.entry(f.cl_ord_id).or_default().push(f);
    }

    /// Open orders and what the engine holds of each: `LpOptions::engine_cum` on a restart.
    pub fn open_cum(&self) -> BTreeMap<u64, Qty> {
        self.book
            .iter()
            .filter(|(_, h)| h.open)
            .map(|(&id, h)| (id, h.cum))
            .collect()
    }

    /// Open orders: `LpOptions::resend` on a restart (the stage skips those it sent).
    pub fn open_orders(&self) -> Vec<ChildOrder> {
        self.book
            .iter()
            .filter(|(_, h)| h.open)
            .map(|(id, _)| self.tracked[id])
            .collect()
    }
}

pub struct Rig {
    pub stage: LpStage,
    pub engine: Engine,
    pub stop: Arc<AtomicBool>,
}

pub fn eurusd() -> u32 {
    SymbolTable::builtin().id_of("EURUSD").unwrap()
}

pub fn order(id: u64) -> ChildOrder {
    ChildOrder {
        cl_ord_id: id,
        account: (id % 7) as u32,
        instrument: eurusd(),
        qty: Qty::from_int(1000 * (1 + id as i64 % 5)).unwrap(),
        price: Price::from_raw(110_000_000 + id as i64 * 1000),
        side: 1 + (id % 2) as u8,
        ord_type: 2,
        ..Default::default()
    }
}

pub fn rig(opts: LpOptions, tap: Option<LatencyTap>) -> Rig {
    let (otx, orx, _) = ring::<EdgeOrder>(32);
    let (ftx, frx, _) = ring::<EdgeFrame>(8);
    let stop = Arc::new(AtomicBool::new(false));
    let stage = LpStage::new(opts, &SymbolTable::builtin(), orx, ftx, stop.clone(), tap).unwrap();
    Rig {
        stage,
        engine: Engine {
            orders: Some(otx),
            fills: frx,
            got: BTreeMap::new(),
            tracked: BTreeMap::new(),
            book: BTreeMap::new(),
            applied: BTreeMap::new(),
        },
        stop,
    }
}

/// A second stage on the same store after a crash of the first: `restarted`, every order
/// the engine still tracks offered for resend, and what it holds of each; the engine's state
/// carries over (it was recovered from its journal).
pub fn restarted(mut opts: LpOptions, engine: &Engine) -> Rig {
    opts.restarted = true;
    opts.resend = engine.open_orders();
    opts.engine_cum = engine.open_cum();
    let mut r = rig(opts, None);
    r.engine.tracked = engine.tracked.clone();
    r.engine.book = engine.book.clone();
    r
}

impl Rig {
    /// One cycle of the stage, then the engine takes every fill.
    pub fn cycle(&mut self) {
        self.stage.do_work();
        while let Some(f) = self.engine.fills.pop() {
            let Some(Input::Fill(fe)) = f.decode() else {
                panic!("the LP stage pushed a frame that is not a fill: {f:?}")
            };
            assert_eq!(f.edge_ns, fe.recv_ns);
            self.engine
                .got
                .entry(fe.cl_ord_id)
                .or_default()
                .push((fe, f.origin_seq));
            self.engine.apply(fe);
        }
    }

    /// Offers `c` to the order ring, cycling until it has room; the engine tracks it.
    pub fn push_order(&mut self, c: ChildOrder) {
        self.engine.tracked.insert(c.cl_ord_id, c);
        self.engine.book.insert(
            c.cl_ord_id,
            Held {
                qty: c.qty,
                cum: Qty::ZERO,
                open: true,
            },
        );
        self.push_raw(c);
    }

    /// Offers a cancel request for order `id` to the ring (what the engine's `Decision::Cancel`
    /// becomes), cycling until it has room.
    pub fn push_cancel(&mut self, id: u64) {
        let mut c = self.engine.tracked[&id];
        c.ord_type = mam_core::event::ORD_TYPE_CANCEL;
        self.push_raw(c);
    }

    /// Offers `c` to the ring as it is (the engine does not track it), cycling until it has
    /// room.
    pub fn push_raw(&mut self, c: ChildOrder) {
        let t0 = Instant::now();
        let mut v = EdgeOrder {
            cause_edge_ns: mono_ns(),
            pushed_ns: mono_ns(),
            index: 0,
            count: 1,
            order: c,
        };
        while let Err(full) = self.engine.orders.as_mut().unwrap().try_push(v) {
            v = full.0;
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "ring never had room"
            );
            self.cycle();
        }
    }

    /// Offers orders `ids` to the ring as room allows, cycling, until all are pushed.
    pub fn push(&mut self, ids: impl IntoIterator<Item = u64>) {
        for id in ids {
            self.push_order(order(id));
        }
    }

    /// Cycles until `cond`; 60 s turns a hang into a failure that says what.
    pub fn until(&mut self, what: &str, cond: impl Fn(&Rig) -> bool) {
        let t0 = Instant::now();
        while !cond(self) {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "gave up waiting for: {what} (stats {:?})",
                self.stage.stats().snapshot()
            );
            self.cycle();
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    pub fn filled(&self, id: u64) -> bool {
        self.engine
            .got
            .get(&id)
            .is_some_and(|v| v.iter().any(|(f, _)| f.status == ExecStatus::Filled as u8))
    }

    pub fn all_filled(&self, ids: std::ops::RangeInclusive<u64>) -> bool {
        ids.into_iter().all(|id| self.filled(id))
    }

    /// What the engine holds of order `id`.
    pub fn held(&self, id: u64) -> Held {
        self.engine.book[&id]
    }

    /// A crash: the stage goes without a Logout (what it pushed and the engine did not take
    /// is lost with it); the engine's state is what its journal would hold.
    pub fn crash(self) -> Engine {
        let Rig { stage, engine, .. } = self;
        drop(stage);
        engine
    }

    /// Runs the stage alone (the engine takes nothing) until `cond`; 60 s guard.
    pub fn stage_until(&mut self, what: &str, cond: impl Fn(&Rig) -> bool) {
        let t0 = Instant::now();
        while !cond(self) {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "gave up waiting for: {what} (stats {:?})",
                self.stage.stats().snapshot()
            );
            self.stage.do_work();
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Engine finished: stop set, order ring abandoned; cycles until the stage is done.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.engine.orders = None;
        self.until("the stage to finish", |r| r.stage.is_done());
    }
}

pub fn sim(dir: &Path, partial: u32) -> SimLpThread {
    let mut o = SimLpOptions::new(&dir.join("sim"));
    o.partial = partial;
    SimLp::bind(o).unwrap().spawn().unwrap()
}

pub fn lp_opts(addr: std::net::SocketAddr, target: &str, store: &Path) -> LpOptions {
    let mut o = LpOptions::new(addr, "MAM", target, store);
    o.account_tag = true;
    o.backoff_min = Duration::from_millis(10);
    o.backoff_max = Duration::from_millis(100);
    o
}
