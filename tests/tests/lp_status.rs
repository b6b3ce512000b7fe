//! Reconciliation with the LP after a restart, over real loopback FIX: OrderStatusRequests
//! (35=H) for the open orders and their answers against the simulated LP ([`SimLp`]), the
//! fallback to the resend alone when the LP refuses or ignores them (also against QuickFIX's
//! executor), and orders the LP refuses at the session level (35=3) or with a
//! BusinessMessageReject (35=j), also across a restart. The engine side applies fills by the
//! engine stage's own rule and fails on a fill counted twice (`lp_util.rs`).
//!
//! Waits are conditions polled with a generous guard, never timed assertions.

mod lp_util;

use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use lp_util::{lp_opts, order, restarted, rig, Rig};
use mam_core::event::{ChildOrder, ExecStatus};
use mam_core::num::{Price, Qty};
use mam_gateway::lp::{Refusal, SimLp, SimLpOptions, SimLpThread, StatusRequests};
use mam_tests::quickfix::{Executor, InteropError};

fn sim_lp(dir: &Path, f: impl FnOnce(&mut SimLpOptions)) -> SimLpThread {
    let mut o = SimLpOptions::new(&dir.join("sim"));
    f(&mut o);
    SimLp::bind(o).unwrap().spawn().unwrap()
}

fn half(id: u64) -> Qty {
    Qty::from_raw(order(id).qty.raw() / 2)
}

/// Waits (cycling only the LP, never reading the stage's socket) until the SimLp has sent
/// `n` reports in all: they sit unread in the old stage's socket when it is dropped, so only
/// the LP's resend (or its status answers) can bring them to the restarted stage.
fn lp_sent(lp: &SimLpThread, n: u64) {
    let t0 = std::time::Instant::now();
    while lp.handle().stats().exec_reports.load(Relaxed) < n {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the LP never sent {n} reports"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Waits until the SimLp has applied `n` requests made through its handle.
fn lp_did(lp: &SimLpThread, n: u64) {
    let t0 = std::time::Instant::now();
    while lp.handle().stats().commands.load(Relaxed) < n {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the LP never applied {n} requests"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Orders 1-6 live at the LP (acknowledged only); the engine has half of order 1. While the
/// first stage does not read, the LP fills the rest of 1, all of 2, half of 3, cancels 4,
/// fills half of 5 and cancels the rest; after the crash (before the restarted stage logs
/// on) it fills 6. Order 7 goes after the restart; 3 fills completely then.
fn reconcile(resend_reports: bool) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let lp = sim_lp(dir.path(), |o| {
        o.auto_fill = false;
        o.resend_reports = resend_reports;
    });
    let h = lp.handle().clone();
    let store = dir.path().join("mam");
    let mut a = rig(lp_opts(lp.addr(), "LP", &store), None);
    a.push(1..=6);
    a.until("six acks", |r| r.stage.stats().snapshot().acks == 6);
    h.fill(1, Some(half(1)));
    a.until("half of order 1", |r| r.held(1).cum == half(1));
    let sent = h.stats().exec_reports.load(Relaxed);
    h.fill(1, None);
    h.fill(2, None);
    h.fill(3, Some(half(3)));
    h.cancel(4);
    h.fill(5, Some(half(5)));
    h.cancel(5);
    lp_sent(&lp, sent + 6);
    let engine = a.crash(); // six reports unread
    h.fill(6, None);
    lp_did(&lp, 8); // in the LP's state before the restarted stage connects
    let mut o = lp_opts(lp.addr(), "LP", &store);
    o.status_timeout = Duration::from_secs(60);
    let mut b = restarted(o, &engine);
    b.until("the status answers", |r| {
        let s = r.stage.stats().snapshot();
        s.status_sent > 0 && s.status_answers >= s.status_sent
    });
    b.push(7..=7);
    b.until("order 7 at the LP", |r| {
        r.stage.stats().snapshot().orders_sent == 1
    });
    h.fill(3, None);
    h.fill(7, None);
    b.until("orders 3 and 7 filled", |r| {
        !r.held(3).open && !r.held(7).open
    });
    let seen = h.seen();
    assert_eq!(seen.len(), 7);
    assert!(
        seen.values().all(|&n| n == 1),
        "an order reached the LP twice: {seen:?}"
    );
    b
}

#[test]
fn status_answers_bring_what_the_resend_skipped_and_nothing_twice() {
    let mut b = reconcile(false);
    let held = |id| b.held(id);
    let q = |id| order(id).qty;
    // The LP gap-filled every old report: the answers did the work.
    assert_eq!(
        held(1).cum,
        half(1),
        "order 1: the rest's price is unknown, left for the operator"
    );
    assert!(held(1).open);
    for id in [2, 3, 6, 7] {
        assert_eq!((held(id).cum, held(id).open), (q(id), false), "order {id}");
    }
    assert_eq!(
        (held(4).cum, held(4).open),
        (Qty::ZERO, false),
        "order 4 cancelled"
    );
    assert_eq!(
        (held(5).cum, held(5).open),
        (half(5), false),
        "order 5 half filled, cancelled"
    );
    // Order 2: one fill, all of it at its price, from the status answer.
    let f2 = &b.engine.applied[&2];
    assert_eq!(f2.len(), 1);
    assert_eq!((f2[0].last_qty, f2[0].last_px), (q(2), order(2).price));
    assert_eq!(f2[0].status, ExecStatus::Filled as u8);
    // Order 4: ended with no quantity.
    let f4 = &b.engine.applied[&4];
    assert_eq!(
        (f4.len(), f4[0].last_qty, f4[0].status),
        (1, Qty::ZERO, ExecStatus::Canceled as u8)
    );
    // Order 5: its half and its end in one fill.
    let f5 = &b.engine.applied[&5];
    assert_eq!(
        (f5.len(), f5[0].last_qty, f5[0].status),
        (1, half(5), ExecStatus::Canceled as u8)
    );
    // Order 3: half from the answer, the rest from the LP's later report.
    let f3: Vec<_> = b.engine.applied[&3].iter().map(|f| f.last_qty).collect();
    assert_eq!(f3, vec![half(3), Qty::from_raw(q(3).raw() - half(3).raw())]);
    let s = b.stage.stats().snapshot();
    assert_eq!(s.status_sent, 6, "{s:?}");
    assert_eq!(
        (s.status_fills, s.status_ended, s.status_mismatches),
        (4, 1, 1),
        "{s:?}"
    );
    assert_eq!(s.status_fallbacks, 0);
    b.stop();
}

#[test]
fn with_the_reports_resent_status_answers_add_nothing() {
    let mut b = reconcile(true);
    for id in 1..=7 {
        let (h, q) = (b.held(id), order(id).qty);
        let want = match id {
            4 => Qty::ZERO,
            5 => half(5),
            _ => q,
        };
        assert_eq!((h.cum, h.open), (want, false), "order {id}");
    }
    // The resend brought every report (the old ones dropped as already held); order 3, still
    // open after it, was asked about, and its answer matched. (Order 6 may be asked too: its
    // fill, sent after the LP's Logon, is the resend's last message, and the session stops
    // waiting for the gap as that message's number comes, before a read may split it off.)
    let s = b.stage.stats().snapshot();
    assert!((1..=2).contains(&s.status_sent), "{s:?}");
    assert_eq!(s.status_answers, s.status_sent, "{s:?}");
    assert_eq!(
        (s.status_fills, s.status_ended, s.status_mismatches),
        (0, 0, 0),
        "{s:?}"
    );
    // Order 1: its first half came again and was dropped as held; the second counted once.
    let f1: Vec<_> = b.engine.applied[&1].iter().map(|f| f.last_qty).collect();
    assert_eq!(f1, vec![half(1)]);
    assert!(b.engine.got[&1].iter().any(|(f, _)| f.cum_qty == half(1)));
    b.stop();
}

/// Orders filled at the LP, unread by the first stage; the restarted one asks, the LP
/// refuses or ignores the requests, the resend brings every fill.
fn fallback(status: StatusRequests) {
    let dir = tempfile::tempdir().unwrap();
    let lp = sim_lp(dir.path(), |o| {
        o.auto_fill = false;
        o.status = status;
    });
    let h = lp.handle().clone();
    let store = dir.path().join("mam");
    let mut a = rig(lp_opts(lp.addr(), "LP", &store), None);
    a.push(1..=4);
    a.until("four acks", |r| r.stage.stats().snapshot().acks == 4);
    let sent = h.stats().exec_reports.load(Relaxed);
    for id in 1..=3 {
        h.fill(id, None);
    }
    lp_sent(&lp, sent + 3);
    let engine = a.crash();
    let mut o = lp_opts(lp.addr(), "LP", &store);
    o.status_timeout = Duration::from_millis(300);
    let mut b = restarted(o, &engine);
    b.until("the fallback", |r| {
        r.stage.stats().snapshot().status_fallbacks == 1
    });
    b.until("orders 1-3 filled by the resend", |r| {
        (1..=3).all(|id| !r.held(id).open)
    });
    h.fill(4, None);
    b.until("order 4 filled", |r| !r.held(4).open);
    let s = b.stage.stats().snapshot();
    assert_eq!(
        (s.status_sent, s.status_answers, s.status_fills),
        (1, 0, 0),
        "{s:?}"
    );
    assert_eq!(s.status_fallbacks, 1, "said once");
    b.stop();
}

#[test]
fn an_lp_that_refuses_status_requests_leaves_the_resend_to_recover() {
    fallback(StatusRequests::Refuse);
}

#[test]
fn an_lp_that_ignores_status_requests_is_given_up_on_after_the_timeout() {
    fallback(StatusRequests::Ignore);
}

#[test]
fn orders_refused_at_the_session_level_end_as_rejected_also_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let lp = sim_lp(dir.path(), |_| {});
    let h = lp.handle().clone();
    h.refuse(2, Refusal::Session);
    h.refuse(3, Refusal::Business);
    h.refuse(6, Refusal::Session);
    let store = dir.path().join("mam");
    let mut a = rig(lp_opts(lp.addr(), "LP", &store), None);
    a.push(1..=4);
    a.until("orders 1-4 done", |r| (1..=4).all(|id| !r.held(id).open));
    for id in [2, 3] {
        let f = &a.engine.applied[&id];
        assert_eq!(f.len(), 1, "order {id}");
        assert_eq!(
            (f[0].cl_ord_id, f[0].status, f[0].last_qty),
            (id, ExecStatus::Rejected as u8, Qty::ZERO)
        );
    }
    assert!(a.filled(1) && a.filled(4));
    let s = a.stage.stats().snapshot();
    assert_eq!((s.session_refusals, s.rejects), (2, 2), "{s:?}");
    // Order 6 is refused with a 35=3 that the stage reads, and the engine never hears of it:
    // killed first. Order 8 is refused with a 35=3 that the stage never reads. The LP
    // gap-fills both Rejects when resending; the restarted stage still ends 6 (it wrote the
    // refusal down) and 8 (the LP's status answer: unknown order).
    h.refuse(8, Refusal::Session);
    a.push_order(order(6));
    a.stage_until("the refusal of order 6", |r| {
        r.stage.stats().snapshot().session_refusals == 3
    });
    a.push_order(order(8));
    a.stage_until("order 8 sent", |r| {
        r.stage.stats().snapshot().orders_sent == 6
    });
    let engine = a.crash();
    assert!(engine.book[&6].open && engine.book[&8].open);
    let mut b = restarted(lp_opts(lp.addr(), "LP", &store), &engine);
    b.push(7..=7);
    b.until("orders 6 and 8 ended, 7 filled", |r| {
        [6, 7, 8].iter().all(|&id| !r.held(id).open)
    });
    for id in [6, 8] {
        let f = &b.engine.applied[&id];
        assert_eq!(
            (f.len(), f[0].status),
            (1, ExecStatus::Rejected as u8),
            "order {id}"
        );
    }
    let s = b.stage.stats().snapshot();
    assert_eq!(s.refused_before_restart, 1, "{s:?}");
    assert_eq!(
        (s.status_sent, s.status_ended),
        (1, 1),
        "only order 8 asked about: {s:?}"
    );
    assert_eq!(
        (h.seen()[&6], h.seen()[&8]),
        (1, 1),
        "refused orders are not sent again"
    );
    b.stop();
}

#[test]
fn quickfix_executor_refuses_status_requests_and_the_resend_recovers_everything() {
    let dir = tempfile::tempdir().unwrap();
    let ex = match Executor::start(&dir.path().join("executor"), 0, "EXECUTOR", "MAM") {
        Ok(ex) => ex,
        Err(InteropError::NotInstalled) => {
            eprintln!(
                "SKIPPED: QuickFIX executor not installed (apt-get install -y libquickfix17 libquickfix-doc)"
            );
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let store = dir.path().join("mam");
    let mut a = rig(lp_opts(ex.addr(), "EXECUTOR", &store), None);
    a.push(1..=10);
    a.until("orders 1-3 filled", |r| r.all_filled(1..=3));
    // A market order: the executor refuses it with a session-level Reject, which the stage
    // never reads (it crashes first) and the executor gap-fills when resending. Only an
    // OrderStatusRequest could tell; this LP does not answer one: the order stays open.
    let mkt = ChildOrder {
        ord_type: 1,
        price: Price::ZERO,
        ..order(11)
    };
    a.push_order(mkt);
    a.stage_until("the market order sent", |r| {
        r.stage.stats().snapshot().orders_sent == 11
    });
    let engine = a.crash();
    let mut o = lp_opts(ex.addr(), "EXECUTOR", &store);
    o.status_timeout = Duration::from_secs(60);
    let mut b = restarted(o, &engine);
    b.push(12..=13);
    b.until("every limit order filled and the fallback", |r| {
        (1..=10).chain(12..=13).all(|id| !r.held(id).open)
            && r.stage.stats().snapshot().status_fallbacks == 1
    });
    for id in (1..=10).chain(12..=13) {
        assert_eq!(b.held(id).cum, order(id).qty, "order {id}");
    }
    assert!(
        b.held(11).open,
        "the market order's end is lost with this LP"
    );
    let s = b.stage.stats().snapshot();
    assert!(s.status_sent >= 1, "{s:?}");
    assert_eq!(
        (s.status_answers, s.status_fills, s.session_refusals),
        (0, 0, 0),
        "{s:?}"
    );
    // What the executor answered: a BusinessMessageReject, unsupported message type.
    let sent = executor_sent(ex.dir());
    assert!(
        sent.iter().any(|m| m.contains("\x0135=j\x01")
            && m.contains("\x01372=H\x01")
            && m.contains("\x01380=3\x01")),
        "no 35=j 372=H 380=3 among the executor's messages: {sent:?}"
    );
    b.stop();
}

/// Every message the executor sent: its QuickFIX file store (`store/*.body`) keeps them
/// all, one after another, for resends.
fn executor_sent(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir.join("store")).unwrap().flatten() {
        if e.file_name().to_string_lossy().ends_with(".body") {
            let text = std::fs::read(e.path()).unwrap();
            let text = String::from_utf8_lossy(&text);
            out.extend(
                text.split("8=FIX.4.4\x01")
                    .skip(1)
                    .map(|m| format!("8=FIX.4.4\x01{m}")),
            );
        }
    }
    out
}
