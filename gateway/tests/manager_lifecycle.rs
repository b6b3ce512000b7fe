//! The manager stage's life cycle on real loopback sockets: restart with `resume_after`
//! (the manager resends exactly what the journal lacks), stop (refusals, Logout, the ring's
//! end), the listen address rule, and the decode latency published to the tap.

#[path = "manager_util.rs"]
mod util;

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use mam_core::engine::input::Input;
use mam_core::pipeline::{ring, EdgeFrame, Stage};
use mam_core::symbol::SymbolTable;
use mam_gateway::fix::decode::Decoder;
use mam_gateway::manager::ManagerStage;
use util::*;

#[test]
fn restart_resends_exactly_what_the_journal_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let (run, mut rx) = start(dir.path(), None, 64);
    let mut mgr = Mgr::connect(run.addr, dir.path());
    let mut seqs = Vec::new();
    for i in 1..=6u64 {
        let tt = format!("20260101-10:00:0{i}");
        seqs.push(mgr.send(b"D", &refs(&open_order(&i.to_string(), "100000", &tt))));
    }
    let first = pop(&mut rx, 6);
    assert_eq!(first.iter().map(|f| f.origin_seq).collect::<Vec<_>>(), seqs);
    // The journal holds the first four; the stage dies.
    let journaled = seqs[3];
    run.kill();
    drop(rx);
    drop(mgr);

    let (run, mut rx) = start(dir.path(), Some(journaled), 64);
    let mut mgr = Mgr::connect(run.addr, dir.path());
    let again = pop(&mut rx, 2);
    let tickets: Vec<_> = again
        .iter()
        .map(|f| match f.decode() {
            Some(Input::Open(o)) => (o.ticket, f.origin_seq),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(tickets, vec![(5, seqs[4]), (6, seqs[5])]);
    assert_eq!(
        again[0].frame, first[4].frame,
        "the same input, byte for byte"
    );
    // A fresh order after the resend comes next, and nothing else came in between.
    let s7 = mgr.send(b"D", &refs(&open_order("7", "100000", "20260101-10:00:07")));
    let next = pop(&mut rx, 1);
    assert_eq!(next[0].origin_seq, s7);
    assert!(rx.pop().is_none());
    run.kill();
}

#[test]
fn stop_exchanges_logout_then_the_stage_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let (run, mut rx) = start(dir.path(), None, 64);
    let mut mgr = Mgr::connect(run.addr, dir.path());
    mgr.send(b"D", &refs(&open_order("1", "100000", "20260101-10:00:01")));
    pop(&mut rx, 1);
    run.stop.store(true, Ordering::Release);
    mgr.until("the stage's Logout", |m| m.logged_out);
    let stage = run.join();
    assert!(stage.is_done());
    assert!(stage.local_addr().is_none(), "the listener is closed");
    assert!(rx.is_abandoned(), "the engine sees the source end");
    assert!(rx.pop().is_none());
    let st = stage.stats();
    assert_eq!((st.accepted, st.logons, st.disconnects), (1, 1, 1));

    // Nobody connected: done at once.
    let dir = tempfile::tempdir().unwrap();
    let (run, rx) = start(dir.path(), None, 4);
    run.stop.store(true, Ordering::Release);
    assert!(run.join().is_done());
    assert!(rx.is_abandoned());
}

#[test]
fn remote_listen_needs_allow_remote() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, _rx, _) = ring::<EdgeFrame>(4);
    let mut o = opts(dir.path(), None);
    o.listen = SocketAddr::from(([0, 0, 0, 0], 0));
    let stop = Arc::new(AtomicBool::new(false));
    let e = ManagerStage::new(o, SymbolTable::builtin(), tx, stop, None).unwrap_err();
    assert!(e.to_string().contains("not a loopback"), "{e}");
}

#[test]
fn orders_that_meet_a_stop_are_refused_as_shutting_down() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx, _) = ring::<EdgeFrame>(8);
    let stop = Arc::new(AtomicBool::new(false));
    let mut stage = ManagerStage::new(
        opts(dir.path(), None),
        SymbolTable::builtin(),
        tx,
        stop.clone(),
        None,
    )
    .unwrap();
    let mut raw = Raw {
        s: TcpStream::connect(stage.local_addr().unwrap()).unwrap(),
        seq: 0,
        buf: Vec::new(),
        dec: Decoder::new(),
    };
    raw.send("A", &[(98, "0"), (108, "30"), (554, "pw")]);
    assert_eq!(pump(&mut stage, &mut raw).msg_type, "A");
    // On loopback the order is in the stage's socket once write returns; the stop comes
    // before the stage reads it.
    let s = raw.send("D", &refs(&open_order("9", "100000", "20260101-10:00:00")));
    stop.store(true, Ordering::Release);
    let r = pump(&mut stage, &mut raw);
    assert_eq!(
        (r.msg_type.as_str(), r.get(150), r.get(103)),
        ("8", "8", "99")
    );
    assert_eq!(r.get(17), format!("M{s}"));
    assert!(r.get(58).contains("shutting down"), "{r:?}");
    assert_eq!(pump(&mut stage, &mut raw).msg_type, "5", "then the Logout");
    raw.send("5", &[]);
    let t0 = Instant::now();
    while !stage.is_done() {
        guard(t0, "the stage to finish");
        stage.do_work();
    }
    assert!(rx.pop().is_none() && rx.is_abandoned());
    assert_eq!(stage.stats().refused, 1);
}

/// "manager decode" (bytes read → frame on the ring) through the tap, with the figures printed
/// (`cargo test --release -p mam-gateway --test manager_lifecycle -- --nocapture latency`).
#[test]
fn decode_latency_is_published_to_the_tap() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx, _) = ring::<EdgeFrame>(1024);
    let stop = Arc::new(AtomicBool::new(false));
    let tap = mam_gateway::latency::LatencyTap::new();
    let stage = ManagerStage::new(
        opts(dir.path(), None),
        SymbolTable::builtin(),
        tx,
        stop.clone(),
        Some(tap.clone()),
    )
    .unwrap();
    let addr = stage.local_addr().unwrap();
    let mut stage = stage;
    let h = thread::spawn(move || {
        while !stage.is_done() {
            if stage.do_work() == 0 {
                thread::yield_now();
            }
        }
    });
    let mut mgr = Mgr::connect(addr, dir.path());
    let show = |what: &str, h: &hdrhistogram::Histogram<u64>| {
        println!(
            "manager decode (bytes read -> frame on the ring), {what}, {} orders: p50 {} ns, p99 {} ns, p99.9 {} ns, max {} ns",
            h.len(),
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max()
        );
    };
    let tt = |i: usize| {
        format!(
            "20260101-10:{:02}:{:02}.{:03}",
            i / 60_000,
            (i / 1000) % 60,
            i % 1000
        )
    };
    // One order at a time: the next leaves once the previous is on the ring.
    let paced = 2_000usize;
    for i in 1..=paced {
        mgr.send(b"D", &refs(&open_order(&i.to_string(), "100000", &tt(i))));
        pop(&mut rx, 1);
        if i % 64 == 0 {
            mgr.turn();
        }
    }
    let mut one = mam_gateway::latency::new_histogram().unwrap();
    let t0 = Instant::now();
    while one.len() < paced as u64 {
        guard(t0, "the stage to publish");
        mgr.turn();
        if let Some(h) = tap.take().get("manager_in") {
            one.add(h).unwrap();
        }
    }
    show("one at a time", &one);
    // A burst: the manager writes as fast as it can; the stage reads up to 64 KiB per turn.
    let burst = 5_000usize;
    let mut popped = 0;
    for i in paced + 1..=paced + burst {
        mgr.send(b"D", &refs(&open_order(&i.to_string(), "100000", &tt(i))));
        while rx.pop().is_some() {
            popped += 1;
        }
        if i % 64 == 0 {
            mgr.turn();
        }
    }
    let t0 = Instant::now();
    while popped < burst {
        guard(t0, "every frame");
        mgr.turn();
        while rx.pop().is_some() {
            popped += 1;
        }
    }
    stop.store(true, Ordering::Release);
    mgr.until("the stage's Logout", |m| m.logged_out);
    h.join().unwrap();
    let hists = tap.take();
    let hist = hists.get("manager_in").expect("published as manager_in");
    assert_eq!(one.len() + hist.len(), (paced + burst) as u64);
    show("burst", hist);
}
