//! Several managers on one engine: each account follows one manager (bits 8–13 of its flags,
//! account-change field 15), each manager's tickets carry its number in bits 56–61, a master
//! is split over its manager's accounts only, and a manager's closes and cancels can only name
//! its own tickets. A replay reproduces the state bit for bit.

mod common;

use common::*;
use mam_core::account::{manager_of, MAX_MANAGERS};
use mam_core::engine::account_change::account_field as f;
use mam_core::engine::decision::RefusedCode;
use mam_core::engine::input::{model_code, scoped_order_id, MasterCancel};
use mam_core::engine::Input;
use mam_core::event::ExecStatus;
use proptest::prelude::*;

/// Per-account steps of a 12-step master `ticket` (every child filled), and its refusal.
fn open_filled(h: &mut Harness, ticket: u64, model: u8) -> (Vec<i64>, Option<RefusedCode>) {
    let (per, d) = open_filled_steps(h, ticket, 12, model);
    (per, refused_code(&d))
}

fn set_manager(h: &mut Harness, account: u32, m: i64) -> Vec<mam_core::engine::decision::Decision> {
    let ts = h.tick();
    h.apply(change(ts, account, f::MANAGER, m))
}

#[test]
fn a_master_is_split_over_its_managers_accounts_only() {
    let mut h = eurusd_harness(4);
    for a in [2, 3] {
        assert!(refusals(&set_manager(&mut h, a, 1)).is_empty());
    }
    assert_eq!(manager_of(h.engine.accounts().flags[2]), 1);
    // Manager 0's ClOrdID 7 and manager 1's ClOrdID 7 are two tickets.
    let (m0, r0) = open_filled(&mut h, 7, model_code::MULTIPLIER);
    let t1 = scoped_order_id(1, 7);
    let (m1, r1) = open_filled(&mut h, t1, model_code::MULTIPLIER);
    assert_eq!((r0, r1), (None, None));
    assert_eq!(m0, vec![12, 12, 0, 0]);
    assert_eq!(m1, vec![0, 0, 12, 12]);
    // Proportional models too: equity weights over the manager's accounts only.
    let (e1, _) = open_filled(&mut h, scoped_order_id(1, 8), model_code::EQUITY);
    assert_eq!(e1, vec![0, 0, 6, 6]);
    // A close by manager 0 of its ticket 7 touches its own accounts only.
    let ts = h.tick();
    let d = h.apply(close(ts, 7, 12, true, false));
    let touched: Vec<u32> = orders(&d).iter().map(|o| o.account).collect();
    assert_eq!(touched, vec![0, 1]);
    assert_eq!(h.engine.holdings(t1), Some(&[0, 0, 12, 12][..]));
}

#[test]
fn a_manager_cannot_name_another_managers_ticket() {
    let mut h = eurusd_harness(2);
    assert!(refusals(&set_manager(&mut h, 1, 2)).is_empty());
    let (per, _) = open_filled(&mut h, scoped_order_id(2, 5), model_code::MULTIPLIER);
    assert_eq!(per, vec![0, 12]);
    // Manager 0 closing "5" names its own ticket 5, which does not exist.
    let ts = h.tick();
    let d = h.apply(close(ts, 5, 12, true, false));
    assert!(orders(&d).is_empty());
    assert!(refused_code(&d).is_some(), "{d:?}");
    // Nor can it cancel it.
    let ts = h.tick();
    let d = h.apply(Input::Cancel(MasterCancel {
        ts_ns: ts,
        order_id: 5,
        cancel_id: 6,
    }));
    assert!(orders(&d).is_empty());
    assert_eq!(h.engine.holdings(scoped_order_id(2, 5)), Some(&[0, 12][..]));
}

#[test]
fn a_manager_without_accounts_gets_nothing_allocated() {
    let mut h = eurusd_harness(2);
    let (per, r) = open_filled(&mut h, scoped_order_id(3, 1), model_code::MULTIPLIER);
    assert_eq!(per, vec![0, 0]);
    assert_eq!(r, Some(RefusedCode::NothingAllocated));
}

#[test]
fn a_manager_number_out_of_range_is_refused() {
    let mut h = eurusd_harness(1);
    let d = set_manager(&mut h, 0, MAX_MANAGERS as i64);
    assert_eq!(refused_code(&d), Some(RefusedCode::BadAccountValue));
    assert_eq!(manager_of(h.engine.accounts().flags[0]), 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever the membership and the model, a master of manager `m` gives steps to `m`'s
    /// accounts only, and the children sum to what the engine allocated; a replay from a
    /// checkpoint taken midway gives the same state.
    #[test]
    fn no_master_reaches_another_managers_account(
        members in proptest::collection::vec(0u8..3, 1..8),
        masters in proptest::collection::vec((0u8..3, 1u64..50, prop_oneof![
            Just(model_code::MULTIPLIER), Just(model_code::EQUITY), Just(model_code::BALANCE)
        ]), 1..6),
    ) {
        let mut h = eurusd_harness(members.len());
        for (a, &m) in members.iter().enumerate() {
            set_manager(&mut h, a as u32, i64::from(m));
        }
        for (i, &(m, cl, model)) in masters.iter().enumerate() {
            if i == masters.len() / 2 {
                h.engine.write_checkpoint(&h.checkpoint_dir(), &mut h.journal).expect("checkpoint");
            }
            let (per, _) = open_filled(&mut h, scoped_order_id(m, cl + 100 * i as u64), model);
            for (a, &steps) in per.iter().enumerate() {
                prop_assert!(steps == 0 || members[a] == m, "account {a} of manager {} got {steps} of manager {m}'s master", members[a]);
            }
            let has = members.contains(&m);
            prop_assert_eq!(per.iter().sum::<i64>() > 0, has);
        }
        let live = h.engine.digest();
        let r = h.recover();
        prop_assert_eq!(live, r.engine.digest());
    }
}

fn reports(
    d: &[mam_core::engine::decision::Decision],
) -> Vec<mam_core::engine::lifecycle::record::MasterReport> {
    d.iter()
        .filter_map(|x| match x {
            mam_core::engine::decision::Decision::Report(r) => Some(*r),
            _ => None,
        })
        .collect()
}

/// A manager's session moves money and changes settings of its own accounts only, and gets
/// an answer either way (routed to it by the request id's manager bits); an operator's
/// changes get none.
#[test]
fn a_manager_moves_its_own_accounts_money_only_and_is_answered() {
    use mam_core::engine::account_change::AccountChange;
    use mam_core::engine::input::{manager_of_order, BalanceChange, MAX_CL_ORD_ID};
    use mam_core::engine::lifecycle::record::exec;
    use mam_core::num::Money;
    let mut h = eurusd_harness(2);
    set_manager(&mut h, 1, 1);
    let deposit = |h: &mut Harness, account: u32, amount: i64, req: u64| {
        let ts = h.tick();
        h.apply(Input::Balance(BalanceChange {
            ts_ns: ts,
            amount: Money(amount * Money::ONE_RAW),
            account,
            manager: 2,
            flags: 0, // manager 1's session
            request_id: req,
        }))
    };
    let before = h.engine.accounts().balance[1];
    let d = deposit(&mut h, 1, 500, 7);
    let r = reports(&d);
    assert_eq!(r.len(), 1, "{d:?}");
    assert_eq!(
        (r[0].exec_type, r[0].ord_status),
        (exec::ACCOUNT_ANSWER, exec::NEW)
    );
    assert_eq!(
        (
            manager_of_order(r[0].order_id),
            r[0].order_id & MAX_CL_ORD_ID
        ),
        (1, 7)
    );
    assert_eq!(r[0].request_id, 1, "the account index");
    assert_eq!(
        h.engine.accounts().balance[1].raw() - before.raw(),
        500 * Money::ONE_RAW
    );
    // Manager 0's account: unknown to manager 1; nothing moves.
    let b0 = h.engine.accounts().balance[0];
    let d = deposit(&mut h, 0, 500, 8);
    assert_eq!(refused_code(&d), Some(RefusedCode::UnknownAccount));
    let r = reports(&d);
    assert_eq!(
        (r[0].ord_status, r[0].reason),
        (exec::REJECTED, RefusedCode::UnknownAccount as u16)
    );
    assert_eq!(h.engine.accounts().balance[0], b0);
    // A withdrawal past the balance: refused with the reason.
    let d = deposit(&mut h, 1, -1_000_000, 9);
    assert_eq!(reports(&d)[0].reason, RefusedCode::NegativeBalance as u16);
    // Settings: its own account's multiplier yes, which manager it follows no.
    let change = |h: &mut Harness, field: u16, value: i64| {
        let ts = h.tick();
        h.apply(Input::Account(AccountChange {
            ts_ns: ts,
            value,
            account: 1,
            field,
            manager: 2,
            request_id: 10,
        }))
    };
    let d = change(&mut h, f::MULTIPLIER, 3 * mam_core::num::Ratio::ONE_RAW);
    assert_eq!(reports(&d)[0].ord_status, exec::NEW);
    let d = change(&mut h, f::MANAGER, 0);
    assert_eq!(refused_code(&d), Some(RefusedCode::BadField));
    assert_eq!(manager_of(h.engine.accounts().flags[1]), 1);
    // An operator's deposit gets no answer.
    let d = h.apply(balance(h.ts + 1, 0, 100));
    assert!(reports(&d).is_empty());
    // A 24-byte record (journals before the manager's request) decodes as an operator's.
    let mut old = [7u8; 24];
    old[20..].fill(0); // the reserved word, zero in every record written

    let Some(Input::Balance(b)) = Input::decode(mam_core::engine::input::KIND_BALANCE, &old) else {
        panic!("decodes");
    };
    assert_eq!((b.manager, b.request_id), (0, 0));
}

/// A deposit with rebalancing re-splits the manager's open ticket by the new equity weights
/// with delta orders (a close for the account above its share, an open for the one below),
/// the master's size unchanged; once they fill, a full close leaves every account flat, and a
/// replay gives the same state. Without the flag, positions stay.
#[test]
fn a_deposit_with_rebalance_resplits_the_managers_tickets() {
    use mam_core::engine::input::{BalanceChange, BALANCE_REBALANCE};
    use mam_core::num::Money;
    let mut h = eurusd_harness(3);
    set_manager(&mut h, 2, 1); // account 2 follows manager 1: never touched here
    let (per, _) = open_filled(&mut h, 5, model_code::EQUITY);
    assert_eq!(per, vec![6, 6, 0]);
    let (other, _) = open_filled(&mut h, scoped_order_id(1, 5), model_code::EQUITY);
    assert_eq!(other, vec![0, 0, 12]);
    // Replayed from here at the end: the rebalance is a function of the journal.
    h.engine
        .write_checkpoint(&h.checkpoint_dir(), &mut h.journal)
        .expect("checkpoint");
    let deposit = |h: &mut Harness, flags: u16| {
        let ts = h.tick();
        h.apply(Input::Balance(BalanceChange {
            ts_ns: ts,
            amount: Money(10_000 * Money::ONE_RAW),
            account: 0,
            manager: 0,
            flags,
            request_id: 0,
        }))
    };
    // Without the flag: positions stay.
    let d = deposit(&mut h, 0);
    assert!(orders(&d).is_empty());
    assert_eq!(h.engine.holdings(5), Some(&[6, 6, 0][..]));
    // With it: equity 30,000 : 10,000 (plus the open P&L) → 9 : 3 of the 12 steps.
    let d = deposit(&mut h, BALANCE_REBALANCE);
    let legs = orders(&d);
    assert_eq!(legs.len(), 2, "{legs:?}");
    let by: Vec<(u32, i64)> = legs
        .iter()
        .map(|o| (o.account, signed_qty(o) / STEP))
        .collect();
    assert!(by.contains(&(0, 3)) && by.contains(&(1, -3)), "{by:?}");
    for o in &legs {
        let ts = h.tick();
        h.apply(fill(
            ts,
            o.cl_ord_id,
            o.qty.raw(),
            EU0 + PIP,
            ExecStatus::Filled,
        ));
    }
    assert_eq!(h.engine.holdings(5), Some(&[9, 3, 0][..]));
    assert_eq!(
        h.engine.holdings(scoped_order_id(1, 5)),
        Some(&[0, 0, 12][..])
    );
    let pos = |h: &Harness, a: u32| h.engine.ledger().position(a, sym("EURUSD")).qty.raw() / STEP;
    assert_eq!((pos(&h, 0), pos(&h, 1), pos(&h, 2)), (9, 3, 12));
    // No drift: the full close of ticket 5 leaves accounts 0 and 1 flat.
    let ts = h.tick();
    let d = h.apply(close(ts, 5, 0, true, false));
    for o in orders(&d) {
        let ts = h.tick();
        h.apply(fill(ts, o.cl_ord_id, o.qty.raw(), EU0, ExecStatus::Filled));
    }
    assert_eq!((pos(&h, 0), pos(&h, 1), pos(&h, 2)), (0, 0, 12));
    let live = h.engine.digest();
    assert_eq!(h.recover().engine.digest(), live);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Whatever the balances, ticket size and deposits, a rebalance keeps the ticket's total
    /// (Σ shares before = after = the master), its legs net to zero, every account's share is
    /// its position, a full close leaves every account flat, and a replay matches.
    #[test]
    fn rebalancing_keeps_the_total_and_leaves_no_drift(
        balances in proptest::collection::vec(1_000i64..50_000, 2..6),
        steps in 2u64..60,
        deposits in proptest::collection::vec((0usize..6, -900i64..20_000), 1..4),
    ) {
        use mam_core::engine::input::{BalanceChange, BALANCE_REBALANCE};
        use mam_core::num::Money;
        let recs: Vec<_> = balances.iter().enumerate().map(|(i, &b)| account(i, b, 100)).collect();
        let mut h = Harness::new(accounts_of(&recs));
        let ts = h.tick();
        h.apply(quote(ts, sym("EURUSD"), EU0, EU0 + 2 * PIP));
        h.engine.write_checkpoint(&h.checkpoint_dir(), &mut h.journal).expect("checkpoint");
        let ts = h.tick();
        let d = h.apply(open(ts, 9, sym("EURUSD"), true, steps, model_code::EQUITY, false));
        for o in orders(&d) {
            let ts = h.tick();
            h.apply(fill(ts, o.cl_ord_id, o.qty.raw(), EU0 + 2 * PIP, ExecStatus::Filled));
        }
        let total = |h: &Harness| h.engine.holdings(9).map_or(0, |x| x.iter().sum::<u64>());
        let before = total(&h);
        for (a, amount) in deposits {
            let a = (a % balances.len()) as u32;
            let ts = h.tick();
            let d = h.apply(Input::Balance(BalanceChange {
                ts_ns: ts,
                amount: Money(amount * Money::ONE_RAW),
                account: a,
                manager: 0,
                flags: BALANCE_REBALANCE,
                request_id: 0,
            }));
            let legs = orders(&d);
            prop_assert_eq!(legs.iter().map(signed_qty).sum::<i64>(), 0, "legs net to zero");
            for o in &legs {
                let ts = h.tick();
                h.apply(fill(ts, o.cl_ord_id, o.qty.raw(), EU0 + PIP, ExecStatus::Filled));
            }
            prop_assert_eq!(total(&h), before, "the ticket's total");
            for (i, &x) in h.engine.holdings(9).unwrap_or(&[]).iter().enumerate() {
                let p = h.engine.ledger().position(i as u32, sym("EURUSD")).qty.raw();
                prop_assert_eq!(p, x as i64 * STEP, "account {}'s share is its position", i);
            }
        }
        let ts = h.tick();
        let d = h.apply(close(ts, 9, 0, true, false));
        for o in orders(&d) {
            let ts = h.tick();
            h.apply(fill(ts, o.cl_ord_id, o.qty.raw(), EU0, ExecStatus::Filled));
        }
        for i in 0..balances.len() as u32 {
            prop_assert!(h.engine.ledger().position(i, sym("EURUSD")).qty.is_zero(), "account {} flat", i);
        }
        let live = h.engine.digest();
        prop_assert_eq!(h.recover().engine.digest(), live);
    }
}

/// A manager's session adds an account: it follows that manager and trades at once (an
/// operator's add starts inactive); a taken id is refused; both are answered.
#[test]
fn a_manager_adds_an_account_that_follows_it_at_once() {
    use mam_core::account::{encode_id, USD};
    use mam_core::engine::account_add::AccountAdd;
    use mam_core::engine::lifecycle::record::exec;
    use mam_core::num::Money;
    let mut h = eurusd_harness(2);
    set_manager(&mut h, 1, 1);
    let add = |h: &mut Harness, id: &str, req: u64| {
        let ts = h.tick();
        h.apply(Input::AddAccount(AccountAdd {
            ts_ns: ts,
            id: encode_id(id).unwrap(),
            balance: Money(10_000 * Money::ONE_RAW),
            currency: USD,
            leverage: 100,
            manager: 2,
            request_id: req,
            ..AccountAdd::default()
        }))
    };
    let d = add(&mut h, "NEW", 21);
    let r = reports(&d);
    assert_eq!((r[0].ord_status, r[0].request_id), (exec::NEW, 2), "{r:?}");
    assert_eq!(manager_of(h.engine.accounts().flags[2]), 1);
    let (per, _) = open_filled(&mut h, scoped_order_id(1, 3), model_code::MULTIPLIER);
    assert_eq!(per, vec![0, 12, 12], "the new account trades at once");
    let d = add(&mut h, "NEW", 22);
    assert_eq!(refused_code(&d), Some(RefusedCode::DuplicateAccount));
    let r = reports(&d);
    assert_eq!(
        (r[0].ord_status, r[0].request_id),
        (exec::REJECTED, u64::from(u32::MAX))
    );
}
