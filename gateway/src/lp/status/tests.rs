//! The status-answer rule, branch by branch, without sockets.

use super::*;

const ID: u64 = 42;

fn child() -> ChildOrder {
    ChildOrder {
        cl_ord_id: ID,
        qty: q(1000),
        price: px(110_000_000),
        side: 1,
        ord_type: 2,
        ..Default::default()
    }
}

fn q(v: i64) -> Qty {
    Qty::from_int(v).unwrap()
}

fn px(raw: i64) -> Price {
    Price::from_raw(raw)
}

/// A status answer for [`ID`]: OrdStatus `status`, CumQty `cum`, AvgPx `avg`.
fn answer(status: u8, cum: Qty, avg: Price) -> ExecutionReport<'static> {
    ExecutionReport {
        order_id: b"O1",
        cl_ord_id: Some(b"42"),
        orig_cl_ord_id: None,
        exec_id: b"0",
        exec_type: b'I',
        ord_status: status,
        account: None,
        symbol: b"EURUSD",
        side: Side::Buy,
        order_qty: Some(q(1000)),
        price: None,
        last_qty: None,
        last_px: None,
        leaves_qty: Qty::from_raw(q(1000).raw() - cum.raw()),
        cum_qty: cum,
        avg_px: avg,
        text: None,
    }
}

/// A fill the stage pushed (a report from the LP): `last` at `at`, CumQty `cum`.
fn fill(last: Qty, at: Price, cum: Qty, status: ExecStatus) -> FillEvent {
    FillEvent {
        cl_ord_id: ID,
        last_qty: last,
        last_px: at,
        cum_qty: cum,
        status: status as u8,
        ..Default::default()
    }
}

fn recon(held: Qty) -> (Recon, LpStats) {
    (Recon::new([(child(), held)], 1), LpStats::default())
}

#[test]
fn nothing_held_the_answer_brings_the_whole_fill_at_avg_px() {
    let (mut r, st) = recon(Qty::ZERO);
    let f = r
        .on_answer(&answer(b'2', q(1000), px(110_000_500)), 7, &st)
        .unwrap();
    assert_eq!(
        (f.last_qty, f.last_px, f.cum_qty),
        (q(1000), px(110_000_500), q(1000))
    );
    assert_eq!(
        (f.status, f.recv_ns, f.cl_ord_id),
        (ExecStatus::Filled as u8, 7, ID)
    );
    r.pushed(&f);
    // The same quantity again (a report resent later, an answer repeated): nothing.
    assert!(r
        .on_answer(&answer(b'2', q(1000), px(110_000_500)), 8, &st)
        .is_none());
    assert_eq!(st.status_fills.load(Relaxed), 1);
}

#[test]
fn a_part_seen_live_prices_the_part_the_resend_skipped() {
    let (mut r, st) = recon(Qty::ZERO);
    // 600 at 1.10000 was gap-filled by the LP; 400 at 1.10010 came live after the restart.
    r.pushed(&fill(q(400), px(110_010_000), q(1000), ExecStatus::Filled));
    let f = r
        .on_answer(&answer(b'2', q(1000), px(110_004_000)), 0, &st)
        .unwrap();
    assert_eq!((f.last_qty, f.last_px), (q(600), px(110_000_000)));
    assert_eq!(f.status, ExecStatus::Filled as u8);
    // Not exact in the price's decimals: rounded, half away from zero.
    let (mut r, st) = recon(Qty::ZERO);
    r.pushed(&fill(q(1), px(3), q(1), ExecStatus::PartiallyFilled));
    let f = r.on_answer(&answer(b'1', q(4), px(2)), 0, &st).unwrap();
    // (4 × 2 − 1 × 3) / 3 = 1.67 → 2.
    assert_eq!(
        (f.last_qty, f.last_px, f.status),
        (q(3), px(2), ExecStatus::PartiallyFilled as u8)
    );
}

#[test]
fn what_the_engine_held_at_start_has_no_known_price_so_the_rest_is_not_guessed() {
    let (mut r, st) = recon(q(300));
    assert!(r
        .on_answer(&answer(b'2', q(1000), px(110_000_000)), 0, &st)
        .is_none());
    assert_eq!(st.status_mismatches.load(Relaxed), 1);
    // Less than held: also a mismatch.
    let (mut r, st) = recon(q(300));
    assert!(r
        .on_answer(&answer(b'1', q(200), px(110_000_000)), 0, &st)
        .is_none());
    assert_eq!(st.status_mismatches.load(Relaxed), 1);
}

#[test]
fn done_at_the_lp_with_nothing_more_filled_ends_the_order() {
    for (status, want) in [
        (b'4', ExecStatus::Canceled),
        (b'C', ExecStatus::Canceled),
        (b'3', ExecStatus::Canceled),
        (b'8', ExecStatus::Rejected),
    ] {
        let (mut r, st) = recon(q(300));
        let f = r
            .on_answer(&answer(status, q(300), px(110_000_000)), 0, &st)
            .unwrap();
        assert_eq!(
            (f.last_qty, f.cum_qty, f.leaves_qty),
            (Qty::ZERO, q(300), Qty::ZERO)
        );
        assert_eq!(f.status, want as u8, "OrdStatus {}", status as char);
        assert_eq!(st.status_ended.load(Relaxed), 1);
        r.pushed(&f);
        assert!(r
            .on_answer(&answer(status, q(300), px(1)), 0, &st)
            .is_none());
    }
    // Cancelled after more fills than mam got: the fill and the end in one.
    let (mut r, st) = recon(Qty::ZERO);
    let f = r
        .on_answer(&answer(b'4', q(500), px(110_000_000)), 0, &st)
        .unwrap();
    assert_eq!((f.last_qty, f.status), (q(500), ExecStatus::Canceled as u8));
}

#[test]
fn a_live_order_in_step_needs_nothing_and_foreign_answers_are_ignored() {
    let (mut r, st) = recon(q(300));
    assert!(r
        .on_answer(&answer(b'1', q(300), px(110_000_000)), 0, &st)
        .is_none());
    assert!(r
        .on_answer(&answer(b'0', q(300), px(110_000_000)), 0, &st)
        .is_none());
    let mut other = answer(b'4', q(300), px(1));
    other.cl_ord_id = Some(b"43");
    assert!(r.on_answer(&other, 0, &st).is_none());
    assert_eq!(st.status_answers.load(Relaxed), 3);
    assert_eq!(st.status_mismatches.load(Relaxed), 0);
}

#[test]
fn an_order_ended_by_a_report_is_not_reconciled_again() {
    let (mut r, st) = recon(q(300));
    r.pushed(&fill(Qty::ZERO, Price::ZERO, q(300), ExecStatus::Canceled));
    assert!(r.on_answer(&answer(b'4', q(300), px(1)), 0, &st).is_none());
    // A resent old report (CumQty not above what is held) changes nothing.
    let (mut r, st) = recon(q(300));
    r.pushed(&fill(
        q(300),
        px(110_000_000),
        q(300),
        ExecStatus::PartiallyFilled,
    ));
    let f = r.on_answer(&answer(b'2', q(1000), px(110_000_000)), 0, &st);
    assert!(f.is_none(), "held 300 from before the start: price unknown");
}
