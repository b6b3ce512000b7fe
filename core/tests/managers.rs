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
    let ts = h.tick();
    let d = h.apply(open(ts, ticket, sym("EURUSD"), true, 12, model, false));
    let mut per = vec![0i64; h.engine.accounts().id.len()];
    for o in orders(&d) {
        per[o.account as usize] += o.qty.raw() / STEP;
        let ts = h.tick();
        h.apply(fill(
            ts,
            o.cl_ord_id,
            o.qty.raw(),
            EU0 + 2 * PIP,
            ExecStatus::Filled,
        ));
    }
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
