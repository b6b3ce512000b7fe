//! Adding accounts to a running engine (input kind 12): the account starts inactive with the
//! import defaults, takes masters once activated, holds nothing of tickets opened before it,
//! bad records are refused with what was wrong, and a replay (from a checkpoint written before
//! or after the add) reproduces the state bit for bit.

mod common;

use common::*;
use mam_core::account::{encode_id, USD};
use mam_core::engine::account_add::{add_field, AccountAdd};
use mam_core::engine::account_change::{account_field as f, status};
use mam_core::engine::decision::RefusedCode;
use mam_core::engine::input::model_code;
use mam_core::engine::Input;
use mam_core::num::{Money, Ratio};
use proptest::prelude::*;

fn add(ts: u64, id: &str, balance: i64) -> AccountAdd {
    AccountAdd {
        ts_ns: ts,
        id: encode_id(id).expect("id"),
        balance: Money(balance * Money::ONE_RAW),
        currency: USD,
        leverage: 100,
        ..AccountAdd::default()
    }
}

/// Steps per account of a 30-step multiplier master (`ticket`), every child filled.
fn open_filled(h: &mut Harness, ticket: u64) -> Vec<i64> {
    open_filled_steps(h, ticket, 30, model_code::MULTIPLIER).0
}

#[test]
fn an_added_account_waits_inactive_then_follows_the_next_master() {
    let mut h = eurusd_harness(2);
    assert_eq!(open_filled(&mut h, 1), vec![30, 30]);
    let ts = h.tick();
    assert!(refusals(&h.apply(Input::AddAccount(add(ts, "NEW1", 5_000)))).is_empty());
    assert_eq!(h.engine.accounts().id.len(), 3);
    assert_eq!(h.engine.holdings(1), Some(&[30, 30, 0][..]));
    // Inactive until its status says otherwise: the next master skips it.
    assert_eq!(open_filled(&mut h, 2), vec![30, 30, 0]);
    let ts = h.tick();
    assert!(refusals(&h.apply(change(ts, 2, f::MULTIPLIER, 2 * Ratio::ONE_RAW))).is_empty());
    let ts = h.tick();
    assert!(refusals(&h.apply(change(ts, 2, f::STATUS, status::ACTIVE))).is_empty());
    assert_eq!(open_filled(&mut h, 3), vec![30, 30, 60]);
    // The old ticket closes whole: the new account held none of it, nothing drifts.
    let ts = h.tick();
    let d = h.apply(close(ts, 1, 30, true, false));
    let per: Vec<u32> = orders(&d).iter().map(|o| o.account).collect();
    assert_eq!(per, vec![0, 1]);
    let v = h.engine.valuation(2).expect("valued");
    assert_eq!(v.balance, Money(5_000 * Money::ONE_RAW));
}

#[test]
fn bad_adds_are_refused_with_the_field_and_change_nothing() {
    let mut h = eurusd_harness(2);
    let base = add(0, "NEW1", 100);
    let mut no_id = base;
    no_id.id = [0; 16];
    let mut gap_id = base;
    gap_id.id[6] = b'X';
    let mut negative = base;
    negative.balance = Money(-1);
    let mut bad_ccy = base;
    bad_ccy.currency = *b"usd\0\0\0\0\0";
    let mut lev = base;
    lev.leverage = 0;
    let mut active = base;
    active.flags = 1;
    for (a, code, field) in [
        (no_id, RefusedCode::BadAccountValue, add_field::ID),
        (gap_id, RefusedCode::BadAccountValue, add_field::ID),
        (negative, RefusedCode::BadAccountValue, add_field::BALANCE),
        (bad_ccy, RefusedCode::BadAccountValue, add_field::CURRENCY),
        (lev, RefusedCode::BadAccountValue, add_field::LEVERAGE),
        (active, RefusedCode::BadAccountValue, add_field::FLAGS),
        (add(0, "A1", 100), RefusedCode::DuplicateAccount, 1),
    ] {
        let ts = h.tick();
        let d = h.apply(Input::AddAccount(AccountAdd { ts_ns: ts, ..a }));
        let r = refusals(&d);
        assert_eq!(r.len(), 1, "{a:?}");
        assert_eq!((r[0].code, r[0].reference), (code as u16, field));
    }
    assert_eq!(h.engine.accounts().id.len(), 2);
    // Only the counters and the journal cursor moved: the accounts are a fresh engine's.
    assert_eq!(eurusd_harness(2).engine.accounts(), h.engine.accounts());
    // And the engine still takes a good add after the bad ones.
    let ts = h.tick();
    assert!(refusals(&h.apply(Input::AddAccount(add(ts, "A2", 1)))).is_empty());
    assert_eq!(h.engine.accounts().id.len(), 3);
}

#[test]
fn an_account_in_a_new_currency_is_valued_in_it() {
    let mut h = eurusd_harness(1);
    let ts = h.tick();
    let mut a = add(ts, "EUR1", 1_000);
    a.currency = eur();
    assert!(refusals(&h.apply(Input::AddAccount(a))).is_empty());
    let ts = h.tick();
    h.apply(change(ts, 1, f::STATUS, status::ACTIVE));
    assert_eq!(open_filled(&mut h, 1), vec![30, 30]);
    // 50 pips down on 30,000 EUR: the USD account loses 150 USD, the EUR one 150 USD in EUR.
    let ts = h.tick();
    h.apply(quote(ts, sym("EURUSD"), EU0 - 48 * PIP, EU0 - 46 * PIP));
    let usd = h.engine.valuation(0).expect("usd");
    let e = h.engine.valuation(1).expect("eur");
    assert!(usd.equity < usd.balance);
    assert!(e.equity < e.balance);
    assert_ne!(
        usd.balance.raw() - usd.equity.raw(),
        e.balance.raw() - e.equity.raw()
    );
}

#[test]
fn the_new_fields_set_commission_levels_and_the_limit_action() {
    let mut h = eurusd_harness(1);
    for (field, value) in [
        (f::COMMISSION_PER_LOT, 7 * Money::ONE_RAW),
        (f::MARGIN_CALL_LEVEL, 120 * Ratio::ONE_RAW),
        (f::STOP_OUT_LEVEL, 60 * Ratio::ONE_RAW),
        (f::LIMIT_ACTION, 1),
    ] {
        let ts = h.tick();
        assert!(refusals(&h.apply(change(ts, 0, field, value))).is_empty());
    }
    let acc = h.engine.accounts();
    assert_eq!(acc.commission_per_lot[0], Money(7 * Money::ONE_RAW));
    assert_eq!(acc.margin_call_level[0], Ratio(120 * Ratio::ONE_RAW));
    assert_eq!(acc.stop_out_level[0], Ratio(60 * Ratio::ONE_RAW));
    assert_ne!(acc.flags[0] & mam_core::account::FLAG_LIMIT_FLATTEN, 0);
    // A stop-out level above the margin-call level is refused, as a margin call below it.
    for (field, value) in [
        (f::STOP_OUT_LEVEL, 130 * Ratio::ONE_RAW),
        (f::MARGIN_CALL_LEVEL, 50 * Ratio::ONE_RAW),
        (f::LIMIT_ACTION, 2),
    ] {
        let ts = h.tick();
        assert_eq!(
            refused_code(&h.apply(change(ts, 0, field, value))),
            Some(RefusedCode::BadAccountValue)
        );
    }
}

proptest! {
    /// Adds, activations and masters in any order replay to the same state, from a checkpoint
    /// written before the adds and from one written after some of them.
    #[test]
    fn replay_reproduces_added_accounts(
        ops in proptest::collection::vec((0u8..3, 0u32..6), 1..16),
        cut in 0usize..16,
    ) {
        let mut h = eurusd_harness(2);
        h.engine.write_checkpoint(&h.checkpoint_dir(), &mut h.journal).expect("checkpoint");
        for (i, &(op, x)) in ops.iter().enumerate() {
            let ts = h.tick();
            match op {
                0 => { h.apply(Input::AddAccount(add(ts, &format!("N{x}"), 1_000 + i64::from(x)))); }
                1 => { h.apply(change(ts, x, f::STATUS, status::ACTIVE)); }
                _ => { open_filled(&mut h, 100 + i as u64); }
            }
            if i == cut {
                h.engine.write_checkpoint(&h.checkpoint_dir(), &mut h.journal).expect("checkpoint");
            }
        }
        let live = h.engine.digest();
        let r = h.recover();
        prop_assert_eq!(r.engine.accounts().id.len(), h.engine.accounts().id.len());
        prop_assert_eq!(live, r.engine.digest());
    }
}
