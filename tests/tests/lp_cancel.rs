//! Cancel requests toward the LP over real loopback FIX, against the simulated LP
//! ([`SimLp`]): the engine's cancel request goes out as an OrderCancelRequest (35=F) and the
//! LP's Canceled report ends the order with what it filled; a cancel the LP refuses
//! (OrderCancelReject 35=9, too late) changes nothing; after a crash a cancel the store holds
//! is not sent again. The engine side applies fills by the engine stage's own rule and fails
//! on a fill counted twice (`lp_util.rs`).
//!
//! Waits are conditions polled with a generous guard, never timed assertions.

mod lp_util;

use std::sync::atomic::Ordering::Relaxed;

use lp_util::{lp_opts, order, rig};
use mam_core::event::{ExecStatus, ORD_TYPE_CANCEL};
use mam_core::num::Qty;
use mam_gateway::lp::{SimLp, SimLpOptions};

#[test]
fn cancels_end_working_orders_and_late_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = SimLpOptions::new(&dir.path().join("sim"));
    o.auto_fill = false;
    let lp = SimLp::bind(o).unwrap().spawn().unwrap();
    let h = lp.handle().clone();
    let mut a = rig(lp_opts(lp.addr(), "LP", &dir.path().join("mam")), None);
    a.push(1..=3);
    a.until("three acks", |r| r.stage.stats().snapshot().acks == 3);
    let half = Qty::from_raw(order(3).qty.raw() / 2);
    h.fill(2, None);
    h.fill(3, Some(half));
    a.until("order 2 filled, half of 3", |r| {
        r.filled(2) && r.held(3).cum == half
    });

    for id in 1..=3 {
        a.push_cancel(id);
    }
    a.until("orders 1 and 3 ended", |r| {
        !r.held(1).open && !r.held(3).open
    });
    a.until("the refusal of the late cancel", |r| {
        r.stage.stats().snapshot().cancel_rejects == 1
    });
    let st = a.stage.stats().snapshot();
    assert_eq!((st.cancels_sent, st.orders_sent), (3, 3));
    // What each order ends with: 1 nothing, 2 all (the cancel came too late), 3 its half.
    assert_eq!(a.held(1).cum, Qty::ZERO);
    assert_eq!(a.held(2).cum, order(2).qty);
    assert_eq!(a.held(3).cum, half);
    for id in [1, 3] {
        let last = a.engine.applied[&id].last().unwrap();
        assert_eq!(last.status, ExecStatus::Canceled as u8, "order {id}");
        assert_eq!(last.cum_qty, a.held(id).cum);
    }
    let s = h.stats();
    assert_eq!(
        (
            s.cancel_requests.load(Relaxed),
            s.cancel_rejects.load(Relaxed)
        ),
        (3, 1)
    );
    a.stop();
}

#[test]
fn a_cancel_in_the_store_is_not_sent_again_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = SimLpOptions::new(&dir.path().join("sim"));
    o.auto_fill = false;
    let lp = SimLp::bind(o).unwrap().spawn().unwrap();
    let store = dir.path().join("mam");
    let opts = lp_opts(lp.addr(), "LP", &store);
    let mut a = rig(opts.clone(), None);
    a.push(1..=2);
    a.until("two acks", |r| r.stage.stats().snapshot().acks == 2);
    a.push_cancel(1);
    // Sent, and the crash comes before the engine hears of the cancel.
    a.stage_until("the cancel sent", |r| {
        r.stage.stats().snapshot().cancels_sent == 1
    });
    let engine = a.crash();
    // The engine still tracks 1 and 2 and its cancel request for 1 (recovery's to-send list).
    let mut cancel = engine.tracked[&1];
    cancel.ord_type = ORD_TYPE_CANCEL;
    let mut again = opts;
    again.restarted = true;
    again.resend = engine.open_orders();
    again.resend.push(cancel);
    again.engine_cum = engine.open_cum();
    let mut b = rig(again, None);
    b.engine.tracked = engine.tracked.clone();
    b.engine.book = engine.book.clone();
    b.until("order 1 ended by the LP's resent report", |r| {
        !r.held(1).open
    });
    let st = b.stage.stats().snapshot();
    assert_eq!(
        (st.resend_skipped, st.resent_at_start, st.cancels_sent),
        (3, 0, 0),
        "{st:?}"
    );
    assert_eq!(lp.handle().stats().cancel_requests.load(Relaxed), 1);
    assert!(b.held(2).open);
    b.stop();
}
