//! Account changes on a running engine (input kind 10): status and parameters take effect for
//! the next master, out-of-range values are refused with the field and change nothing, and a
//! journal replay reproduces the state bit for bit. Also the snapshot readers get.

mod common;

use common::*;
use mam_core::engine::account_change::{account_field as f, status};
use mam_core::engine::decision::RefusedCode;
use mam_core::engine::snapshot::EngineSnapshot;
use mam_core::engine::Input;
use mam_core::event::ExecStatus;
use mam_core::num::{Money, Ratio};
use proptest::prelude::*;

/// Steps each account gets for a 30-step multiplier-model master.
fn split(h: &mut Harness, ticket: u64) -> Vec<i64> {
    use mam_core::engine::input::model_code;
    let ts = h.tick();
    let d = h.apply(open(
        ts,
        ticket,
        sym("EURUSD"),
        true,
        30,
        model_code::MULTIPLIER,
        false,
    ));
    let mut per = vec![0i64; h.engine.accounts().id.len()];
    for o in orders(&d) {
        per[o.account as usize] += o.qty.raw() / STEP;
    }
    per
}

#[test]
fn status_and_multiplier_take_effect_for_the_next_master() {
    let mut h = eurusd_harness(3);
    assert_eq!(split(&mut h, 1), vec![30, 30, 30]);
    let ts = h.tick();
    assert!(refusals(&h.apply(change(ts, 1, f::STATUS, status::INACTIVE))).is_empty());
    let ts = h.tick();
    let d = h.apply(change(ts, 2, f::MULTIPLIER, Ratio::ONE_RAW / 2));
    assert!(refusals(&d).is_empty());
    assert_eq!(split(&mut h, 2), vec![30, 0, 15]);
    // Close-only: no new opens either.
    let ts = h.tick();
    h.apply(change(ts, 0, f::STATUS, status::CLOSE_ONLY));
    let ts = h.tick();
    h.apply(change(ts, 1, f::STATUS, status::ACTIVE));
    assert_eq!(split(&mut h, 3), vec![0, 30, 15]);
}

#[test]
fn bad_values_are_refused_and_change_nothing() {
    let mut h = eurusd_harness(2);
    let before = h.engine.state_bytes();
    for (account, field, value, code) in [
        (5, f::STATUS, status::ACTIVE, RefusedCode::UnknownAccount),
        (0, f::STATUS, 7, RefusedCode::BadAccountValue),
        (
            0,
            f::PERCENT,
            101 * Ratio::ONE_RAW,
            RefusedCode::BadAccountValue,
        ),
        (0, f::MULTIPLIER, -1, RefusedCode::BadAccountValue),
        (0, f::LEVERAGE, 0, RefusedCode::BadAccountValue),
        (
            0,
            f::MIN_SCALE,
            2 * Ratio::ONE_RAW,
            RefusedCode::BadAccountValue,
        ),
        (
            0,
            f::RISK_FRACTION,
            Ratio::ONE_RAW + 1,
            RefusedCode::BadAccountValue,
        ),
        (0, 99, 1, RefusedCode::BadField),
    ] {
        let ts = h.tick();
        let d = h.apply(change(ts, account, field, value));
        assert_eq!(refused_code(&d), Some(code), "field {field} value {value}");
    }
    // Only the counters (inputs, refused) and the journal cursor moved: the accounts did not.
    let after = h.engine.state_bytes();
    assert_eq!(before.len(), after.len());
    let mut snap = EngineSnapshot::default();
    h.engine.snapshot_into(&mut snap);
    assert_eq!(snap.accounts[0].leverage, 100);
    assert_eq!(snap.accounts[0].multiplier, Ratio(Ratio::ONE_RAW));
    assert_eq!(snap.accounts[0].min_scale, Ratio(0));
}

#[test]
fn a_lower_daily_loss_limit_acts_at_once() {
    let mut h = eurusd_harness(1);
    split(&mut h, 1);
    // Fill the child, then mark the market 50 pips down: equity falls 50 × 30 steps' worth.
    let cl = h.engine.open_order_ids().next().expect("child");
    let ts = h.tick();
    h.apply(fill(ts, cl, 30 * STEP, EU0 + 2 * PIP, ExecStatus::Filled));
    let ts = h.tick();
    h.apply(quote(ts, sym("EURUSD"), EU0 - 50 * PIP, EU0 - 48 * PIP));
    let ts = h.tick();
    let d = h.apply(change(ts, 0, f::DAILY_LOSS_LIMIT, Money::ONE_RAW));
    assert!(refusals(&d).is_empty());
    assert_eq!(
        limit_events(&d).len(),
        1,
        "the limit crossed at the change: {d:?}"
    );
}

#[test]
fn snapshot_holds_positions_tickets_and_orders() {
    let mut h = eurusd_harness(2);
    split(&mut h, 7);
    let mut s = EngineSnapshot::default();
    h.engine.snapshot_into(&mut s);
    assert_eq!(s.seq, h.engine.applied_seq());
    assert_eq!(s.accounts.len(), 2);
    assert_eq!(s.tickets.len(), 1);
    assert_eq!(s.tickets[0].ticket, 7);
    assert_eq!(s.orders.len(), 2);
    assert!(s.positions.is_empty(), "nothing filled yet");
    let cls: Vec<u64> = h.engine.open_order_ids().collect();
    for cl in cls {
        let ts = h.tick();
        h.apply(fill(ts, cl, 30 * STEP, EU0 + 2 * PIP, ExecStatus::Filled));
    }
    h.engine.snapshot_into(&mut s);
    assert!(s.orders.is_empty());
    assert_eq!(s.positions.len(), 2);
    assert_eq!(s.accounts[1].positions, (1, 2));
    let t = s.tickets[0];
    let at = t.holdings_at as usize;
    assert_eq!(&s.holdings[at..at + 2], &[30, 30]);
    assert!(s.quotes[sym("EURUSD") as usize].is_some());
}

proptest! {
    /// Any sequence of account changes (valid or not) between masters replays to the same state.
    #[test]
    fn replay_reproduces_account_changes(
        ops in proptest::collection::vec((0u32..4, 1u16..12, -2i64..3_000_000), 1..20)
    ) {
        let mut h = eurusd_harness(3);
        h.engine
            .write_checkpoint(&h.checkpoint_dir(), &mut h.journal)
            .expect("checkpoint");
        for (i, &(account, field, value)) in ops.iter().enumerate() {
            let ts = h.tick();
            h.apply(change(ts, account, field, value));
            if i % 4 == 0 {
                split(&mut h, 100 + i as u64);
            }
        }
        let live = h.engine.digest();
        let r = h.recover();
        prop_assert_eq!(live, r.engine.digest());
    }
}

fn limit(ts: u64, name: &str, value: i64) -> Input {
    use mam_core::engine::risk_change::{limit_of, RiskLimitChange};
    Input::Limit(RiskLimitChange {
        ts_ns: ts,
        value,
        field: limit_of(name).map_or(99, |l| l.0),
        _pad: [0; 6],
    })
}

#[test]
fn a_lower_order_limit_rejects_the_next_child_and_survives_recovery() {
    use mam_core::num::Qty;
    let mut h = eurusd_harness(2);
    h.engine
        .write_checkpoint(&h.checkpoint_dir(), &mut h.journal)
        .expect("checkpoint");
    assert_eq!(split(&mut h, 1), vec![30, 30]);
    // 30 steps of EURUSD = 30,000 base units per child: a limit of 20,000 rejects each.
    let ts = h.tick();
    let d = h.apply(limit(ts, "max_order_qty", 20_000 * Qty::ONE_RAW));
    assert!(refusals(&d).is_empty(), "{d:?}");
    assert_eq!(
        split(&mut h, 2),
        vec![0, 0],
        "every child over the new limit"
    );
    assert!(h.engine.counters().risk_rejects >= 2);
    for (name, value, code) in [
        ("max_order_qty", 0, RefusedCode::BadAccountValue),
        ("collar_bps", 10_001, RefusedCode::BadAccountValue),
        ("max_orders_per_sec", 5, RefusedCode::BadField),
    ] {
        let ts = h.tick();
        assert_eq!(
            refused_code(&h.apply(limit(ts, name, value))),
            Some(code),
            "{name}"
        );
    }
    let live = h.engine.digest();
    let r = h.recover();
    assert_eq!(r.engine.digest(), live);
    let mut s = EngineSnapshot::default();
    r.engine.snapshot_into(&mut s);
    assert_eq!(s.limits.unwrap().max_order_qty, Qty(20_000 * Qty::ONE_RAW));
}
