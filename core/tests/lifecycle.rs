//! The master order's life (docs/daemon.md, "Order lifecycle"): pending masters triggered by
//! the journaled quote that reaches them, exactly once; cancels propagated to every working
//! child; stop-loss and take-profit closing every account's share on the triggering quote;
//! reports aggregated exactly from the children; the kill switch cancelling and close-only;
//! bad requests refused with the reason and nothing changed; all of it across a restart.

mod common;

use common::*;
use mam_core::engine::decision::{exec, MasterReport, RefusedCode, Trigger};
use mam_core::engine::input::{
    model_code, MasterAmend, MasterCancel, MasterOpen, RiskCommand, MODE_BLOCK, MODE_PER_ACCOUNT,
    POLICY_HELD_LIMIT, POLICY_HELD_STOP, RISK_FLATTEN, RISK_KILL,
};
use mam_core::engine::lifecycle::record::{
    AMEND_LOTS, AMEND_PRICE, AMEND_SL, AMEND_TP, ORDER_ID_SL,
};
use mam_core::engine::{Decision, Input};
use mam_core::event::{ChildOrder, ExecStatus, OrdType, Side, ORD_TYPE_CANCEL};
use mam_core::num::{Lots, Money, Price, Qty};
use proptest::prelude::*;

/// 1 pip of EURUSD, raw; 1.10000 raw.
const PIP: i64 = 10_000;
const EU0: i64 = 110_000_000;
/// One lot step (0.01 lot) in base units, raw.
const STEP_Q: i64 = STEP;

fn harness(n: usize) -> Harness {
    let recs: Vec<_> = (0..n)
        .map(|i| account(i, 10_000 + 1_000 * i as i64, 100))
        .collect();
    let mut h = Harness::new(accounts_of(&recs));
    let ts = h.tick();
    h.apply(quote(ts, sym("EURUSD"), EU0, EU0 + 2 * PIP));
    h
}

fn held(ts: u64, ticket: u64, buy: bool, stop: bool, steps: u64, price: i64, mode: u8) -> Input {
    Input::Open(MasterOpen {
        ts_ns: ts,
        ticket,
        lots: Lots(steps as i64 * 100),
        limit_price: Price(price),
        instrument: sym("EURUSD"),
        model: model_code::BALANCE,
        side: if buy { Side::Buy } else { Side::Sell } as u8,
        policy: if stop {
            POLICY_HELD_STOP
        } else {
            POLICY_HELD_LIMIT
        },
        mode,
        ..MasterOpen::default()
    })
}

fn limit_open(ts: u64, ticket: u64, steps: u64, price: i64, mode: u8) -> Input {
    Input::Open(MasterOpen {
        ts_ns: ts,
        ticket,
        lots: Lots(steps as i64 * 100),
        limit_price: Price(price),
        instrument: sym("EURUSD"),
        model: model_code::BALANCE,
        side: Side::Buy as u8,
        policy: 0,
        mode,
        ..MasterOpen::default()
    })
}

fn cancel(ts: u64, order_id: u64, cancel_id: u64) -> Input {
    Input::Cancel(MasterCancel {
        ts_ns: ts,
        order_id,
        cancel_id,
    })
}

fn protect(ts: u64, order_id: u64, amend_id: u64, sl: i64, tp: i64) -> Input {
    Input::Amend(MasterAmend {
        ts_ns: ts,
        order_id,
        amend_id,
        stop_loss: Price(sl),
        take_profit: Price(tp),
        flags: AMEND_SL | AMEND_TP,
        mode: MODE_PER_ACCOUNT,
        ..MasterAmend::default()
    })
}

fn reports(d: &[Decision]) -> Vec<MasterReport> {
    d.iter()
        .filter_map(|x| match x {
            Decision::Report(r) => Some(*r),
            _ => None,
        })
        .collect()
}

fn cancels(d: &[Decision]) -> Vec<ChildOrder> {
    d.iter()
        .filter_map(|x| match x {
            Decision::Cancel(c) => Some(*c),
            _ => None,
        })
        .collect()
}

fn triggers(d: &[Decision]) -> Vec<Trigger> {
    d.iter()
        .filter_map(|x| match x {
            Decision::Trigger(t) => Some(*t),
            _ => None,
        })
        .collect()
}

fn one_report(d: &[Decision]) -> MasterReport {
    let r = reports(d);
    assert_eq!(r.len(), 1, "one report expected: {r:?}");
    r[0]
}

/// Fills every order of `os` completely at `px`.
fn fill_all(h: &mut Harness, os: &[ChildOrder], px: i64) -> Vec<Decision> {
    let mut all = Vec::new();
    for o in os {
        let ts = h.tick();
        all.extend(h.apply(fill(ts, o.cl_ord_id, o.qty.raw(), px, ExecStatus::Filled)));
    }
    all
}

#[test]
fn a_pending_limit_master_triggers_once_on_the_quote_that_reaches_it() {
    let mut h = harness(5);
    let ts = h.tick();
    let d = h.apply(held(
        ts,
        7,
        true,
        false,
        50,
        EU0 - 10 * PIP,
        MODE_PER_ACCOUNT,
    ));
    assert!(
        orders(&d).is_empty(),
        "held by the engine: nothing at the LP"
    );
    let r = one_report(&d);
    assert_eq!(
        (r.exec_type, r.ord_status, r.order_id),
        (exec::NEW, b'0', 7)
    );
    assert_eq!(r.order_qty, Qty(50 * STEP_Q));
    assert_eq!(r.leaves_qty, r.order_qty);
    assert_eq!(r.ord_type, OrdType::Limit as u8);
    // Ask above the limit: nothing.
    let ts = h.tick();
    let d = h.apply(quote(ts, sym("EURUSD"), EU0 - 9 * PIP, EU0 - 8 * PIP));
    assert!(orders(&d).is_empty() && triggers(&d).is_empty());
    // The ask reaches the limit: triggered by this quote, children at the limit price.
    let ts = h.tick();
    let seq_before = h.engine.applied_seq();
    let d = h.apply(quote(ts, sym("EURUSD"), EU0 - 12 * PIP, EU0 - 10 * PIP));
    let t = triggers(&d);
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].ticket, t[0].level, t[0].ask),
        (7, Price(EU0 - 10 * PIP), Price(EU0 - 10 * PIP))
    );
    assert!(
        t[0].input_seq > seq_before,
        "the trigger names the quote's own sequence"
    );
    let os = orders(&d);
    assert_eq!(
        os.iter().map(|o| o.qty.raw()).sum::<i64>(),
        50 * STEP_Q,
        "Σ children = master"
    );
    assert!(os
        .iter()
        .all(|o| o.price == Price(EU0 - 10 * PIP) && o.ord_type == OrdType::Limit as u8));
    let r = one_report(&d);
    assert_eq!(r.exec_type, exec::TRIGGERED);
    // Once: a later quote through the level triggers nothing more.
    let ts = h.tick();
    let d = h.apply(quote(ts, sym("EURUSD"), EU0 - 20 * PIP, EU0 - 19 * PIP));
    assert!(triggers(&d).is_empty() && orders(&d).is_empty());
    // Fills aggregate: the last report is Filled with the exact average.
    let d = fill_all(&mut h, &os, EU0 - 10 * PIP);
    let last = *reports(&d).last().unwrap();
    assert_eq!((last.exec_type, last.ord_status), (exec::TRADE, b'2'));
    assert_eq!(last.cum_qty, Qty(50 * STEP_Q));
    assert_eq!(
        (last.leaves_qty, last.avg_px),
        (Qty::ZERO, Price(EU0 - 10 * PIP))
    );
}

#[test]
fn a_sell_stop_triggers_at_the_bid_and_goes_out_marketable() {
    let mut h = harness(3);
    let ts = h.tick();
    h.apply(held(ts, 9, false, true, 30, EU0 - 5 * PIP, MODE_BLOCK));
    let ts = h.tick();
    let d = h.apply(quote(
        ts,
        sym("EURUSD"),
        EU0 - 4 * PIP,
        EU0 - 5 * PIP + 3 * PIP,
    ));
    assert!(triggers(&d).is_empty(), "bid above the stop");
    let ts = h.tick();
    let d = h.apply(quote(ts, sym("EURUSD"), EU0 - 5 * PIP, EU0 - 3 * PIP));
    assert_eq!(triggers(&d).len(), 1);
    let os = orders(&d);
    assert_eq!(os.len(), 1, "one block");
    assert_eq!(os[0].qty, Qty(30 * STEP_Q));
    assert_eq!(os[0].side, Side::Sell as u8);
}

#[test]
fn cancel_reaches_every_working_child_and_ends_canceled_with_what_filled() {
    let mut h = harness(4);
    let ts = h.tick();
    let d = h.apply(limit_open(ts, 11, 40, EU0 - 30 * PIP, MODE_PER_ACCOUNT));
    let os = orders(&d);
    assert_eq!(os.len(), 4);
    assert_eq!(one_report(&d).exec_type, exec::NEW);
    // One child fills half at one price, another fully at another.
    let ts = h.tick();
    let half = os[0].qty.raw() / 2;
    let d = h.apply(fill(
        ts,
        os[0].cl_ord_id,
        half,
        EU0 - 30 * PIP,
        ExecStatus::PartiallyFilled,
    ));
    let r = one_report(&d);
    assert_eq!(
        (r.exec_type, r.ord_status, r.last_qty),
        (exec::TRADE, b'1', Qty(half))
    );
    let ts = h.tick();
    h.apply(fill(
        ts,
        os[1].cl_ord_id,
        os[1].qty.raw(),
        EU0 - 31 * PIP,
        ExecStatus::Filled,
    ));
    // The manager cancels: one cancel request per working child (not the filled one).
    let ts = h.tick();
    let d = h.apply(cancel(ts, 11, 500));
    let cs = cancels(&d);
    let mut ids: Vec<u64> = cs.iter().map(|c| c.cl_ord_id).collect();
    ids.sort_unstable();
    let mut want = vec![os[0].cl_ord_id, os[2].cl_ord_id, os[3].cl_ord_id];
    want.sort_unstable();
    assert_eq!(ids, want);
    assert!(cs.iter().all(|c| c.ord_type == ORD_TYPE_CANCEL));
    let r = one_report(&d);
    assert_eq!(
        (r.exec_type, r.ord_status, r.request_id),
        (exec::PENDING_CANCEL, b'6', 500)
    );
    // A second cancel while the first is worked: refused.
    let ts = h.tick();
    let d = h.apply(cancel(ts, 11, 501));
    assert_eq!(refused_code(&d), Some(RefusedCode::AlreadyPendingCancel));
    assert_eq!(one_report(&d).exec_type, exec::CANCEL_REJECT);
    // The LP confirms each: the last confirmation ends the master Canceled.
    let mut last = Vec::new();
    for c in &cs {
        let ts = h.tick();
        last = h.apply(fill(ts, c.cl_ord_id, 0, 0, ExecStatus::Canceled));
    }
    let r = one_report(&last);
    assert_eq!(
        (r.exec_type, r.ord_status, r.request_id),
        (exec::CANCELED, b'4', 500)
    );
    let cum = half + os[1].qty.raw();
    assert_eq!((r.cum_qty, r.leaves_qty), (Qty(cum), Qty::ZERO));
    // Average: Σ qty × px / Σ qty, half-even at 8 decimals.
    let n = i128::from(half) * i128::from(EU0 - 30 * PIP)
        + i128::from(os[1].qty.raw()) * i128::from(EU0 - 31 * PIP);
    let avg = mam_core::num::div_round_i128(n, i128::from(cum), mam_core::num::Rounding::HalfEven);
    assert_eq!(r.avg_px, Price(avg as i64));
    // The accounts hold exactly what filled.
    assert_eq!(h.engine.open_orders(), 0);
}

#[test]
fn cancel_of_an_unknown_or_finished_order_is_refused_and_changes_nothing() {
    let mut h = harness(3);
    let ts = h.tick();
    let d = h.apply(limit_open(ts, 12, 9, EU0 + 2 * PIP, MODE_BLOCK));
    fill_all(&mut h, &orders(&d), EU0 + 2 * PIP);
    let before = (
        h.engine.open_orders(),
        h.engine.holdings(12).map(<[u64]>::to_vec),
    );
    for (id, code) in [
        (12, RefusedCode::UnknownMasterOrder),
        (99, RefusedCode::UnknownMasterOrder),
    ] {
        let ts = h.tick();
        let d = h.apply(cancel(ts, id, 600));
        assert_eq!(refused_code(&d), Some(code));
        let r = one_report(&d);
        assert_eq!((r.exec_type, r.request_id), (exec::CANCEL_REJECT, 600));
        assert!(cancels(&d).is_empty());
    }
    assert_eq!(
        before,
        (
            h.engine.open_orders(),
            h.engine.holdings(12).map(<[u64]>::to_vec)
        )
    );
}

#[test]
fn stop_loss_closes_every_account_at_once_on_the_triggering_bid() {
    let mut h = harness(5);
    let ts = h.tick();
    let d = h.apply(open(
        ts,
        21,
        sym("EURUSD"),
        true,
        100,
        model_code::BALANCE,
        true,
    ));
    fill_all(&mut h, &orders(&d), EU0 + 2 * PIP);
    let held = h.engine.holdings(21).unwrap().to_vec();
    // SL on the wrong side (above the bid) is refused; the ticket keeps none.
    let ts = h.tick();
    let d = h.apply(protect(ts, 21, 700, EU0 + PIP, 0));
    assert_eq!(refused_code(&d), Some(RefusedCode::BadStopLevel));
    assert_eq!(one_report(&d).exec_type, exec::CANCEL_REJECT);
    // A valid SL 20 pips under and TP 50 over.
    let ts = h.tick();
    let d = h.apply(protect(ts, 21, 701, EU0 - 20 * PIP, EU0 + 50 * PIP));
    let r = one_report(&d);
    assert_eq!(
        (r.exec_type, r.stop_loss, r.request_id),
        (exec::REPLACED, Price(EU0 - 20 * PIP), 701)
    );
    // The ask falls through the SL but the bid does not: a long's SL is at the bid.
    let ts = h.tick();
    let d = h.apply(quote(
        ts,
        sym("EURUSD"),
        EU0 - 19 * PIP,
        EU0 - 21 * PIP + 3 * PIP,
    ));
    assert!(triggers(&d).is_empty());
    let ts = h.tick();
    let d = h.apply(quote(ts, sym("EURUSD"), EU0 - 20 * PIP, EU0 - 18 * PIP));
    let t = triggers(&d);
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].bid, t[0].level),
        (Price(EU0 - 20 * PIP), Price(EU0 - 20 * PIP))
    );
    let os = orders(&d);
    let mut per: Vec<u64> = vec![0; held.len()];
    for o in &os {
        assert_eq!(o.side, Side::Sell as u8);
        per[o.account as usize] += (o.qty.raw() / STEP_Q) as u64;
    }
    assert_eq!(per, held, "every account's whole share, at once");
    let r = one_report(&d);
    assert_eq!(
        (r.order_id, r.exec_type, r.flags & 1),
        (21 | ORDER_ID_SL, exec::NEW, 1)
    );
    // Exactly once.
    let ts = h.tick();
    let d = h.apply(quote(ts, sym("EURUSD"), EU0 - 30 * PIP, EU0 - 28 * PIP));
    assert!(triggers(&d).is_empty() && orders(&d).is_empty());
}

#[test]
fn replace_changes_a_pending_master_and_refuses_a_working_one() {
    let mut h = harness(3);
    let ts = h.tick();
    h.apply(held(ts, 31, true, false, 30, EU0 - 10 * PIP, MODE_BLOCK));
    let ts = h.tick();
    let d = h.apply(Input::Amend(MasterAmend {
        ts_ns: ts,
        order_id: 31,
        amend_id: 800,
        lots: Lots(60 * 100),
        price: Price(EU0 - 5 * PIP),
        flags: AMEND_LOTS | AMEND_PRICE,
        ..MasterAmend::default()
    }));
    let r = one_report(&d);
    assert_eq!(
        (r.exec_type, r.order_qty, r.price),
        (exec::REPLACED, Qty(60 * STEP_Q), Price(EU0 - 5 * PIP))
    );
    let ts = h.tick();
    let d = h.apply(quote(ts, sym("EURUSD"), EU0 - 7 * PIP, EU0 - 5 * PIP));
    assert_eq!(
        orders(&d)[0].qty,
        Qty(60 * STEP_Q),
        "the new size, apportioned on trigger"
    );
    // Its children are at the LP now: size cannot be replaced.
    let ts = h.tick();
    let d = h.apply(Input::Amend(MasterAmend {
        ts_ns: ts,
        order_id: 31,
        amend_id: 801,
        lots: Lots(10 * 100),
        flags: AMEND_LOTS,
        ..MasterAmend::default()
    }));
    assert_eq!(refused_code(&d), Some(RefusedCode::ReplaceWorking));
    let r = one_report(&d);
    assert_eq!((r.exec_type, r.flags & 2), (exec::CANCEL_REJECT, 2));
}

#[test]
fn kill_switch_cancels_working_children_drops_pending_masters_and_is_close_only() {
    let mut h = harness(4);
    let ts = h.tick();
    let d = h.apply(open(
        ts,
        41,
        sym("EURUSD"),
        true,
        40,
        model_code::BALANCE,
        false,
    ));
    fill_all(&mut h, &orders(&d), EU0 + 2 * PIP);
    let ts = h.tick();
    let working = orders(&h.apply(limit_open(ts, 42, 40, EU0 - 50 * PIP, MODE_PER_ACCOUNT)));
    let ts = h.tick();
    h.apply(held(ts, 43, true, true, 10, EU0 + 40 * PIP, MODE_BLOCK));
    let ts = h.tick();
    let d = h.apply(Input::Risk(RiskCommand {
        ts_ns: ts,
        action: RISK_KILL,
        _pad: 0,
    }));
    let mut ids: Vec<u64> = cancels(&d).iter().map(|c| c.cl_ord_id).collect();
    ids.sort_unstable();
    let mut want: Vec<u64> = working.iter().map(|o| o.cl_ord_id).collect();
    want.sort_unstable();
    assert_eq!(ids, want, "every working opening child is cancelled");
    let rs = reports(&d);
    assert!(
        rs.iter()
            .any(|r| r.order_id == 43 && r.exec_type == exec::CANCELED),
        "{rs:?}"
    );
    // New exposure refused, with the reason.
    let ts = h.tick();
    let d = h.apply(open(
        ts,
        44,
        sym("EURUSD"),
        true,
        10,
        model_code::BALANCE,
        true,
    ));
    assert_eq!(refused_code(&d), Some(RefusedCode::KillSwitch));
    assert_eq!(one_report(&d).exec_type, exec::REJECTED);
    // Closes pass.
    let ts = h.tick();
    let d = h.apply(close(ts, 41, 0, true, false));
    assert!(!orders(&d).is_empty(), "close-only: closes still go out");
    assert!(refused_code(&d).is_none());
}

/// The kill switch with flatten: working children cancelled as by the kill switch, and every
/// position closed by the engine's own orders; once they fill every account is flat, the
/// tickets hold nothing, and new exposure stays refused.
#[test]
fn flatten_cancels_and_closes_every_position() {
    let mut h = harness(4);
    for (t, buy) in [(61, true), (62, false)] {
        let ts = h.tick();
        let d = h.apply(open(
            ts,
            t,
            sym("EURUSD"),
            buy,
            if buy { 40 } else { 10 },
            model_code::BALANCE,
            false,
        ));
        fill_all(&mut h, &orders(&d), EU0 + 2 * PIP);
    }
    let ts = h.tick();
    let working = orders(&h.apply(limit_open(ts, 63, 40, EU0 - 50 * PIP, MODE_PER_ACCOUNT)));
    let ts = h.tick();
    let d = h.apply(Input::Risk(RiskCommand {
        ts_ns: ts,
        action: RISK_FLATTEN,
        _pad: 0,
    }));
    assert_eq!(
        cancels(&d).len(),
        working.len(),
        "working children cancelled"
    );
    let closes = orders(&d);
    assert_eq!(
        closes.len(),
        4,
        "one close per account holding EURUSD: {closes:?}"
    );
    for c in &closes {
        let pos = h.engine.ledger().position(c.account, sym("EURUSD")).qty;
        assert_eq!(
            signed_qty(c),
            -pos.raw(),
            "account {} closed whole",
            c.account
        );
    }
    fill_all(&mut h, &closes, EU0);
    for a in 0..4 {
        assert!(
            h.engine.ledger().position(a, sym("EURUSD")).qty.is_zero(),
            "account {a}"
        );
    }
    for t in [61, 62] {
        assert!(h
            .engine
            .holdings(t)
            .is_none_or(|x| x.iter().all(|&s| s == 0)));
    }
    let ts = h.tick();
    let d = h.apply(open(
        ts,
        64,
        sym("EURUSD"),
        true,
        10,
        model_code::BALANCE,
        true,
    ));
    assert_eq!(refused_code(&d), Some(RefusedCode::KillSwitch));
}

#[test]
fn lifecycle_state_survives_a_restart_and_triggers_once() {
    let mut h = harness(3);
    let ts = h.tick();
    let d = h.apply(open(
        ts,
        51,
        sym("EURUSD"),
        true,
        30,
        model_code::BALANCE,
        true,
    ));
    fill_all(&mut h, &orders(&d), EU0 + 2 * PIP);
    let ts = h.tick();
    h.apply(protect(ts, 51, 0, EU0 - 10 * PIP, 0));
    let ts = h.tick();
    h.apply(held(ts, 52, false, false, 20, EU0 + 10 * PIP, MODE_BLOCK));
    h.engine
        .write_checkpoint(&h.checkpoint_dir(), &mut h.journal)
        .expect("checkpoint");
    let digest = h.engine.digest();
    let r = h.recover();
    assert_eq!(r.engine.digest(), digest);
    let mut e = r.engine;
    let mut j = r.journal;
    let ts = h.tick();
    let mut out = Vec::new();
    e.apply(
        &quote(ts, sym("EURUSD"), EU0 - 10 * PIP, EU0 - 8 * PIP),
        &mut j,
        |o| out.push(*o),
    )
    .unwrap();
    let t: Vec<_> = triggers(e.last_decisions());
    assert_eq!(t.len(), 1, "the SL, held across the restart");
    let ts = h.tick();
    e.apply(
        &quote(ts, sym("EURUSD"), EU0 + 10 * PIP, EU0 + 12 * PIP),
        &mut j,
        |_| {},
    )
    .unwrap();
    let t = triggers(e.last_decisions());
    assert_eq!(
        (t.len(), t[0].ticket),
        (1, 52),
        "the pending sell limit, held across the restart"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// A pending master of any size triggers into children whose sum is its size, and the
    /// reports add up: cum = Σ fills, the final average is exact, nothing reported twice.
    #[test]
    fn pending_masters_apportion_exactly_and_report_exactly(
        n in 1usize..12,
        steps in 1u64..400,
        block in any::<bool>(),
        pxs in proptest::collection::vec(-30i64..30, 1..6),
    ) {
        let mut h = harness(n);
        let ts = h.tick();
        let mode = if block { MODE_BLOCK } else { MODE_PER_ACCOUNT };
        h.apply(held(ts, 61, true, false, steps, EU0, mode));
        let ts = h.tick();
        let d = h.apply(quote(ts, sym("EURUSD"), EU0 - 2 * PIP, EU0));
        let os = orders(&d);
        let total: i64 = os.iter().map(|o| o.qty.raw()).sum();
        let r = one_report(&d);
        prop_assert!(total <= r.order_qty.raw());
        let mut notional = 0i128;
        let mut cum = 0i64;
        let mut last = None;
        for (i, o) in os.iter().enumerate() {
            let px = EU0 + pxs[i % pxs.len()] * PIP;
            let ts = h.tick();
            let d = h.apply(fill(ts, o.cl_ord_id, o.qty.raw(), px, ExecStatus::Filled));
            notional += i128::from(o.qty.raw()) * i128::from(px);
            cum += o.qty.raw();
            let rs = reports(&d);
            prop_assert!(!rs.is_empty());
            prop_assert_eq!(rs[0].cum_qty, Qty(cum));
            last = rs.last().copied();
        }
        let last = last.unwrap();
        prop_assert_eq!(last.leaves_qty, Qty::ZERO);
        let avg = mam_core::num::div_round_i128(notional, i128::from(cum), mam_core::num::Rounding::HalfEven);
        prop_assert_eq!(last.avg_px, Price(avg as i64));
        let _ = Money::ZERO;
    }
}
