//! Two LPs behind the router over real loopback FIX, both simulated ([`SimLp`]): orders go to
//! the LP their symbol is routed to, a cancel goes to the LP that holds its order, an LP that
//! is down hands its symbols to its fallback, and every fill comes back on its own LP's ring.
//!
//! Waits are conditions polled with a generous guard, never timed assertions.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mam_core::engine::input::Input;
use mam_core::event::{ChildOrder, ORD_TYPE_CANCEL};
use mam_core::num::{Price, Qty};
use mam_core::pipeline::{ring, EdgeFrame, EdgeOrder, RingRx, RingTx, Stage};
use mam_core::symbol::SymbolTable;
use mam_gateway::lp::{
    LpOptions, LpRouterStage, LpRoutes, LpStage, RoutedLp, RouterChange, RouterChanges, SimLp,
    SimLpOptions, SimLpThread,
};

struct Rig {
    router: LpRouterStage,
    orders: RingTx<EdgeOrder>,
    fills: Vec<RingRx<EdgeFrame>>,
    /// ClOrdID → (LP index whose ring it came back on, CumQty).
    got: BTreeMap<u64, (usize, Qty)>,
}

impl Rig {
    fn cycle(&mut self) {
        self.router.do_work();
        for (i, rx) in self.fills.iter_mut().enumerate() {
            while let Some(f) = rx.pop() {
                if let Some(Input::Fill(f)) = f.decode() {
                    self.got.insert(f.cl_ord_id, (i, f.cum_qty));
                }
            }
        }
    }

    fn until(&mut self, what: &str, cond: impl Fn(&Rig) -> bool) {
        let t0 = Instant::now();
        while !cond(self) {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "gave up waiting for: {what}"
            );
            self.cycle();
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    fn push(&mut self, c: ChildOrder) {
        let o = EdgeOrder {
            cause_edge_ns: 1,
            pushed_ns: 1,
            index: 0,
            count: 1,
            order: c,
        };
        self.orders.try_push(o).expect("room");
    }

    fn up(&self, i: usize) -> bool {
        self.router.lps()[i].stage.is_logged_on()
    }
}

fn order(id: u64, symbol: &str) -> ChildOrder {
    ChildOrder {
        cl_ord_id: id,
        account: 1,
        instrument: SymbolTable::builtin().id_of(symbol).unwrap(),
        qty: Qty::from_int(1000).unwrap(),
        price: Price::from_raw(110_000_000),
        side: 1,
        ord_type: 2,
        ..Default::default()
    }
}

/// A simulated LP `name` (filling at once when `auto_fill`) and mam's session to it.
fn sim_lp(
    dir: &std::path::Path,
    name: &str,
    auto_fill: bool,
    stop: &Arc<AtomicBool>,
) -> (SimLpThread, RoutedLp, RingRx<EdgeFrame>) {
    let mut o = SimLpOptions::new(&dir.join(format!("sim-{name}")));
    o.sender = format!("LP{name}");
    o.auto_fill = auto_fill;
    let sim = SimLp::bind(o).unwrap().spawn().unwrap();
    let mut opts = LpOptions::new(
        sim.addr(),
        "MAM",
        &format!("LP{name}"),
        &dir.join(format!("mam-{name}")),
    );
    opts.backoff_min = Duration::from_millis(10);
    opts.backoff_max = Duration::from_millis(50);
    let (tx, orx, _) = ring::<EdgeOrder>(64);
    let (ftx, frx, _) = ring::<EdgeFrame>(64);
    let symbols = SymbolTable::builtin();
    let stage = LpStage::new(opts, &symbols, orx, ftx, stop.clone(), None).unwrap();
    (sim, RoutedLp::new(name, stage, tx), frx)
}

#[test]
fn orders_follow_their_symbol_cancels_their_order_and_a_down_lp_its_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let symbols = SymbolTable::builtin();
    let usdjpy = symbols.id_of("USDJPY").unwrap() as usize;
    let mut sims = Vec::new();
    let mut lps = Vec::new();
    let mut fills = Vec::new();
    let stop = Arc::new(AtomicBool::new(false));
    for (i, name) in ["A", "B"].into_iter().enumerate() {
        // A fills at once; B keeps its orders working (so one can be cancelled there).
        let (sim, lp, frx) = sim_lp(dir.path(), name, i == 0, &stop);
        lps.push(lp);
        fills.push(frx);
        sims.push(sim);
    }
    let mut by_instrument = vec![0; symbols.iter().count()];
    by_instrument[usdjpy] = 1;
    let routes = LpRoutes {
        by_instrument,
        fallback: vec![None, Some(0)],
    };
    let (otx, orx, _) = ring::<EdgeOrder>(64);
    let mut r = Rig {
        router: LpRouterStage::new(orx, lps, routes, &[]),
        orders: otx,
        fills,
        got: BTreeMap::new(),
    };
    r.until("both LPs logged on", |r| r.up(0) && r.up(1));

    // EURUSD to A (filled there), USDJPY to B (working there).
    r.push(order(1, "EURUSD"));
    r.push(order(2, "EURUSD"));
    r.push(order(3, "USDJPY"));
    let (a, b) = (sims[0].handle().clone(), sims[1].handle().clone());
    r.until("A filled 1 and 2, B has 3", |r| {
        r.got.get(&1).is_some_and(|g| g.0 == 0)
            && r.got.get(&2).is_some_and(|g| g.0 == 0)
            && b.seen().contains_key(&3)
    });
    assert!(!a.seen().contains_key(&3), "{:?}", a.seen());
    assert!(!b.seen().contains_key(&1), "{:?}", b.seen());

    // The cancel of 3 goes to B, the LP that holds it; the Canceled report comes back on B's ring.
    let mut c = order(3, "USDJPY");
    c.ord_type = ORD_TYPE_CANCEL;
    r.push(c);
    r.until("3 cancelled at B", |_| {
        b.stats().cancel_requests.load(Relaxed) == 1
    });
    r.until("B's report of 3 on B's ring", |r| {
        r.got.get(&3).is_some_and(|g| g.0 == 1)
    });
    assert_eq!(a.stats().cancel_requests.load(Relaxed), 0);

    // B goes down: its symbol's next order goes to A, its fallback.
    sims.pop().unwrap().stop();
    r.until("B's session down", |r| !r.up(1));
    r.push(order(4, "USDJPY"));
    r.until("A filled 4", |r| r.got.get(&4).is_some_and(|g| g.0 == 0));
    let (routed, fallbacks) = r.router.routed();
    assert_eq!((routed[0], routed[1], fallbacks), (3, 2, 1));
}

/// A reload's changes on a running router: an LP removed keeps its session while an order is
/// working there (new orders go by the new routes), takes the cancel of that order, and logs
/// out once nothing is working; an LP added takes the orders routed to it.
#[test]
fn a_removed_lp_is_drained_and_an_added_one_takes_its_orders() {
    let dir = tempfile::tempdir().unwrap();
    let symbols = SymbolTable::builtin();
    let usdjpy = symbols.id_of("USDJPY").unwrap() as usize;
    let stop = Arc::new(AtomicBool::new(false));
    let (sim_a, lp_a, fa) = sim_lp(dir.path(), "A", true, &stop);
    let (sim_b, lp_b, fb) = sim_lp(dir.path(), "B", false, &stop);
    let routes = |to: usize, n: usize| {
        let mut by_instrument = vec![0; symbols.iter().count()];
        by_instrument[usdjpy] = to;
        LpRoutes {
            by_instrument,
            fallback: vec![None; n],
        }
    };
    let (otx, orx, _) = ring::<EdgeOrder>(64);
    let changes = Arc::new(RouterChanges::default());
    let mut r = Rig {
        router: LpRouterStage::new(orx, vec![lp_a, lp_b], routes(1, 2), &[])
            .with_changes(changes.clone()),
        orders: otx,
        fills: vec![fa, fb],
        got: BTreeMap::new(),
    };
    r.until("both LPs logged on", |r| r.up(0) && r.up(1));
    r.push(order(3, "USDJPY"));
    let b = sim_b.handle().clone();
    r.until("B has 3, working", |r| {
        b.seen().contains_key(&3) && r.router.lps()[1].stage.working_orders() == 1
    });

    // Remove B: USDJPY goes to A from now on; B stays for order 3.
    changes.push(RouterChange::Routes(routes(0, 2))).unwrap();
    changes.push(RouterChange::Remove("B".into())).unwrap();
    r.push(order(5, "USDJPY"));
    r.until("A filled 5", |r| r.got.get(&5).is_some_and(|g| g.0 == 0));
    assert!(r.up(1), "B holds a working order: still logged on");
    let mut c = order(3, "USDJPY");
    c.ord_type = ORD_TYPE_CANCEL;
    r.push(c);
    r.until("3 cancelled at B, reported on B's ring", |r| {
        r.got.get(&3).is_some_and(|g| g.0 == 1)
    });
    r.until("B drained and logged out", |r| {
        r.router.lps()[1].stage.is_done()
    });
    assert!(!b.seen().contains_key(&5));

    // Add C and route USDJPY to it.
    let (sim_c, lp_c, fc) = sim_lp(dir.path(), "C", true, &stop);
    r.fills.push(fc);
    changes.push(RouterChange::Add(Box::new(lp_c))).unwrap();
    changes.push(RouterChange::Routes(routes(2, 3))).unwrap();
    r.until("C logged on", |r| r.router.lps().len() == 3 && r.up(2));
    r.push(order(6, "USDJPY"));
    r.until("C filled 6", |r| r.got.get(&6).is_some_and(|g| g.0 == 2));
    assert!(!sim_a.handle().seen().contains_key(&6));
    drop((sim_a, sim_b, sim_c));
}
