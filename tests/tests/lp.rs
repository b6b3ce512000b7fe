//! The LP stage over real loopback FIX: against the simulated LP ([`SimLp`]) and against
//! QuickFIX's executor. Orders go out once, fills come back on the engine's ring, a restart
//! (stage dropped mid-stream, rebuilt on the same store) neither loses nor repeats an order,
//! and stopping exchanges Logouts.
//!
//! The QuickFIX test needs `apt-get install -y libquickfix17 libquickfix-doc` (CI's .ci/run
//! installs them); without the executor binary it fails, saying how to install it.

mod lp_util;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::Ordering;

use lp_util::{lp_opts, order, rig, sim, Rig};
use mam_core::event::{ChildOrder, ExecStatus};
use mam_core::num::Price;
use mam_core::pipeline::EdgeOrder;
use mam_gateway::fix::store::Store;
use mam_gateway::latency::{mono_ns, LatencyTap};
use mam_gateway::lp::{sent_cl_ord_ids, SimLp, SimLpOptions};
use mam_tests::quickfix::{Executor, InteropError};

#[test]
fn every_order_arrives_once_and_every_fill_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let lp = sim(dir.path(), 2);
    let tap = LatencyTap::new();
    let mut r = rig(
        lp_opts(lp.addr(), "LP", &dir.path().join("mam")),
        Some(tap.clone()),
    );
    r.push(1..=300);
    r.until("300 orders filled", |r| r.all_filled(1..=300));
    for id in 1..=300 {
        let c = order(id);
        let v = &r.engine.got[&id];
        let trades: Vec<_> = v.iter().filter(|(f, _)| !f.last_qty.is_zero()).collect();
        assert_eq!(trades.len(), 3, "order {id}: two partials and the final");
        let sum: i64 = trades.iter().map(|(f, _)| f.last_qty.raw()).sum();
        assert_eq!(sum, c.qty.raw(), "order {id}: fills add up");
        let last = trades.last().unwrap().0;
        assert_eq!((last.cum_qty, last.last_px), (c.qty, c.price), "order {id}");
        assert!(
            v.iter().all(|(_, seq)| *seq > 0),
            "origin_seq is the MsgSeqNum"
        );
    }
    let seen = lp.handle().seen();
    assert_eq!(seen.len(), 300);
    assert!(seen.values().all(|&n| n == 1), "each ClOrdID arrived once");
    let arrivals = lp.handle().arrivals();
    assert_eq!(arrivals.len(), 300);
    r.stop();
    let s = r.stage.stats().snapshot();
    assert_eq!(
        (s.orders_sent, s.acks, s.fills, s.rejects),
        (300, 300, 900, 0)
    );
    assert_eq!((s.logouts, s.fills_undelivered, s.ignored), (1, 0, 0));
    assert_eq!(
        lp.handle().stats().logouts.load(Ordering::Relaxed),
        1,
        "Logout exchanged"
    );
    let h = tap.take();
    for name in [
        "order_ring_wait",
        "master_to_first_child_out",
        "master_to_last_child_out",
    ] {
        assert_eq!(h.get(name).map(|h| h.len()), Some(300), "{name}");
    }
    assert!(
        r.engine.fills.is_abandoned(),
        "the fill sender is dropped when done"
    );
}

/// The restart path of `docs/daemon.md`: the first stage dies mid-stream (some orders filled,
/// some in flight, some never popped), a second one on the same store sends exactly the
/// tracked orders the store does not hold, and the LP resends every fill.
fn restart_run(
    addr: std::net::SocketAddr,
    target: &str,
    dir: &Path,
    done: u64,
    unsent: u64,
) -> Rig {
    let store = dir.join("mam");
    let mut a = rig(lp_opts(addr, target, &store), None);
    a.push(1..=done);
    a.until("some fills", |r| r.all_filled(1..=done / 3));
    // Orders the engine pushed that the stage never popped: tracked, not in the store.
    let start = done + 1;
    for id in start..start + unsent {
        let c = order(id);
        a.engine.tracked.insert(id, c);
        let eo = EdgeOrder {
            cause_edge_ns: mono_ns(),
            pushed_ns: mono_ns(),
            index: 0,
            count: 1,
            order: c,
        };
        a.engine.orders.as_mut().unwrap().try_push(eo).unwrap();
    }
    let (tracked, got_a) = (a.engine.tracked.clone(), a.engine.got.clone());
    drop(a); // a crash: no Logout
    let sent = sent_cl_ord_ids(&Store::open(&store).unwrap()).unwrap();
    let resend: Vec<ChildOrder> = tracked
        .values()
        .filter(|c| !sent.contains(&c.cl_ord_id))
        .copied()
        .collect();
    assert!(
        resend.len() as u64 >= unsent,
        "the never-popped orders are not in the store"
    );
    let mut o = lp_opts(addr, target, &store);
    o.restarted = true;
    // Pass every tracked order not known filled: the stage itself skips those in the store.
    o.resend = tracked
        .values()
        .filter(|c| {
            !got_a
                .get(&c.cl_ord_id)
                .is_some_and(|v| v.iter().any(|(f, _)| f.status == ExecStatus::Filled as u8))
        })
        .copied()
        .collect();
    let expect_resent = resend.len() as u64;
    let mut b = rig(o, None);
    b.engine.tracked = tracked;
    let last = start + unsent - 1;
    b.push(last + 1..=last + 20);
    b.until("every order filled after the restart", |r| {
        r.all_filled(1..=last + 20)
    });
    let s = b.stage.stats().snapshot();
    assert_eq!(s.resent_at_start, expect_resent, "{s:?}");
    assert_eq!(s.orders_sent, 20);
    for id in got_a.keys() {
        assert!(
            b.engine.got.contains_key(id),
            "order {id}: its fills are delivered again after the restart"
        );
    }
    b
}

#[test]
fn restart_sends_each_order_once_and_redelivers_every_fill() {
    let dir = tempfile::tempdir().unwrap();
    let lp = sim(dir.path(), 1);
    let mut b = restart_run(lp.addr(), "LP", dir.path(), 120, 30);
    let seen = lp.handle().seen();
    assert_eq!(seen.len(), 170, "every ClOrdID reached the LP");
    let dup: Vec<_> = seen.iter().filter(|(_, &n)| n != 1).collect();
    assert!(
        dup.is_empty(),
        "ClOrdIDs the LP saw more than once: {dup:?}"
    );
    assert_eq!(lp.handle().stats().duplicates.load(Ordering::Relaxed), 0);
    b.stop();
    assert_eq!(b.stage.stats().snapshot().logouts, 1);
}

#[test]
fn quickfix_executor_fills_and_restart_resends() {
    let dir = tempfile::tempdir().unwrap();
    let ex = match Executor::start(&dir.path().join("executor"), 0, "EXECUTOR", "MAM") {
        Ok(ex) => ex,
        // A missing peer fails the test, saying how to install it (.ci/test does).
        Err(e @ InteropError::NotInstalled) => panic!("{e}"),
        Err(e) => panic!("{e}"),
    };
    let mut b = restart_run(ex.addr(), "EXECUTOR", dir.path(), 90, 25);
    // The executor fills duplicates too, each with a new ExecID: one ExecID per order means
    // it filled each once.
    for (id, v) in &b.engine.got {
        let execs: BTreeSet<u64> = v
            .iter()
            .filter(|(f, _)| !f.last_qty.is_zero())
            .map(|(f, _)| f.exec_id)
            .collect();
        assert_eq!(execs.len(), 1, "order {id} filled once by the executor");
        let c = order(*id);
        let f = v.iter().find(|(f, _)| !f.last_qty.is_zero()).unwrap().0;
        assert_eq!((f.last_qty, f.last_px, f.cum_qty), (c.qty, c.price, c.qty));
    }
    // A market order: the executor refuses it with a session-level Reject; the engine gets a
    // Rejected fill instead of waiting forever.
    let mkt = ChildOrder {
        ord_type: 1,
        price: Price::ZERO,
        ..order(9_999)
    };
    let eo = EdgeOrder {
        cause_edge_ns: mono_ns(),
        pushed_ns: mono_ns(),
        index: 0,
        count: 1,
        order: mkt,
    };
    b.engine.orders.as_mut().unwrap().try_push(eo).unwrap();
    b.until("the market order's reject", |r| {
        r.engine.got.get(&9_999).is_some_and(|v| {
            v.iter()
                .any(|(f, _)| f.status == ExecStatus::Rejected as u8)
        })
    });
    b.stop();
    assert_eq!(
        b.stage.stats().snapshot().logouts,
        1,
        "the executor answered our Logout"
    );
}

#[test]
fn orders_wait_for_the_lp_and_survive_its_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = mam_tests::quickfix::free_port().unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let sim_opts = || {
        let mut o = SimLpOptions::new(&dir.path().join("sim"));
        o.bind = addr;
        o
    };
    // Nobody listens yet: the orders wait (in the ring and one held), none is lost.
    let mut r = rig(lp_opts(addr, "LP", &dir.path().join("mam")), None);
    r.push(1..=20);
    r.until("connect attempts", |r| {
        r.stage.stats().snapshot().order_waits > 0 && !r.stage.is_logged_on()
    });
    let lp = SimLp::bind(sim_opts()).unwrap().spawn().unwrap();
    r.push(21..=60);
    r.until("60 orders filled", |r| r.all_filled(1..=60));
    // The LP goes away (its session store stays) and comes back on the same port.
    let before = lp.handle().seen();
    drop(lp.stop());
    r.push(61..=80);
    r.until("the stage to notice", |r| !r.stage.is_logged_on());
    let lp = SimLp::bind(sim_opts()).unwrap().spawn().unwrap();
    r.push(81..=100);
    r.until("100 orders filled", |r| r.all_filled(1..=100));
    let after = lp.handle().seen();
    let mut all = before.clone();
    for (id, n) in after {
        *all.entry(id).or_default() += n;
    }
    assert_eq!(all.len(), 100);
    assert!(
        all.values().all(|&n| n == 1),
        "no ClOrdID reached the LP twice"
    );
    let s = r.stage.stats().snapshot();
    assert!(s.reconnects >= 1, "{s:?}");
    assert_eq!(s.orders_sent, 100);
    r.stop();
    assert_eq!(r.stage.stats().snapshot().logouts, 1);
}

/// Latency figures, not a check: `cargo test -p mam-gateway --release --test lp -- --ignored
/// --nocapture latency_report`. One order per cycle, the SimLp on its own thread.
#[test]
#[ignore]
fn latency_report() {
    let dir = tempfile::tempdir().unwrap();
    let lp = sim(dir.path(), 0);
    let tap = LatencyTap::new();
    let mut r = rig(
        lp_opts(lp.addr(), "LP", &dir.path().join("mam")),
        Some(tap.clone()),
    );
    r.until("logon", |r| r.stage.is_logged_on());
    let n = 20_000u64;
    let mut causes = BTreeMap::new();
    for id in 1..=n {
        let c = order(id);
        let t = mono_ns();
        causes.insert(id, t);
        let eo = EdgeOrder {
            cause_edge_ns: t,
            pushed_ns: t,
            index: 0,
            count: 1,
            order: c,
        };
        r.engine.orders.as_mut().unwrap().try_push(eo).unwrap();
        r.cycle();
        r.cycle();
    }
    r.until("all filled", |r| r.all_filled(1..=n));
    let mut wire = mam_gateway::latency::new_histogram().unwrap();
    for (id, at) in lp.handle().arrivals() {
        wire.record(at.saturating_sub(causes[&id]).max(1)).unwrap();
    }
    r.stop();
    let mut h = tap.take();
    h.insert("edge_to_lp_arrival", wire);
    for (name, h) in &h {
        println!(
            "{name:28} n={:6} p50={:7} ns p99={:8} ns p99.9={:8} ns max={:9} ns",
            h.len(),
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max()
        );
    }
}
