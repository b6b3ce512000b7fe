//! Examples worked by hand, then property tests of every allocation invariant.
#![allow(clippy::needless_range_loop)]

use proptest::prelude::*;

use super::fill::BlockFill;
use super::model::{allocate, Basis, Order, StaticModel, Workspace};
use super::ticket::{MasterTicket, ResidualPolicy};
use super::*;
use crate::account::{encode_id, AccountRecord, AccountVecs, FLAG_ACTIVE, FLAG_CLOSE_ONLY};
use crate::num::{Money, Price, Ratio};
use crate::symbol::SymbolTable;

fn lim(min: u64, max: u64) -> LotLimits {
    LotLimits {
        step: Lots(100),
        min_steps: min,
        max_steps: max,
    }
}

fn params(total: u64, min: u64, max: u64, policy: MinLotPolicy, mode: Mode) -> ApportionParams {
    ApportionParams {
        total,
        limits: lim(min, max),
        policy,
        mode,
        rotation: 0,
        sink_weight: 0,
    }
}

fn run(w: &[u64], p: &ApportionParams) -> Result<(Vec<u64>, Outcome), AllocError> {
    let mut out = vec![0; w.len()];
    let o = apportion(w, p, &mut out, &mut Scratch::default())?;
    Ok((out, o))
}

#[test]
fn equal_weights_rotate_the_leftover() {
    let mut p = params(10, 1, 1000, MinLotPolicy::Zero, Mode::Block);
    let w = [5, 5, 5];
    for (rot, want) in [
        (0, [4, 3, 3]),
        (1, [3, 4, 3]),
        (2, [3, 3, 4]),
        (3, [4, 3, 3]),
    ] {
        p.rotation = rot;
        let (out, o) = run(&w, &p).unwrap();
        assert_eq!(out, want, "rotation {rot}");
        assert_eq!(o.dealt, 1);
    }
}

#[test]
fn largest_remainder_by_hand() {
    // 137 steps over 50 : 30 : 20 -> quotas 68.5, 41.1, 27.4 -> floors 68+41+27 = 136; the one
    // leftover goes to the largest remainder (0.5).
    let (out, o) = run(
        &[50, 30, 20],
        &params(137, 1, 10_000, MinLotPolicy::Zero, Mode::Block),
    )
    .unwrap();
    assert_eq!(out, [69, 41, 27]);
    assert_eq!((o.allocated, o.unallocated, o.dealt), (137, 0, 1));
}

#[test]
fn min_lot_zero_redistributes_in_block_mode() {
    // min 3 steps: the two small accounts would get 1 each; they get 0, the big one takes it.
    let (out, _) = run(
        &[10, 1, 1],
        &params(12, 3, 100, MinLotPolicy::Zero, Mode::Block),
    )
    .unwrap();
    assert_eq!(out, [12, 0, 0]);
    // Per-account mode reports the two freed steps instead.
    let (out, o) = run(
        &[10, 1, 1],
        &params(12, 3, 100, MinLotPolicy::Zero, Mode::PerAccount),
    )
    .unwrap();
    assert_eq!(out, [10, 0, 0]);
    assert_eq!((o.allocated, o.unallocated), (10, 2));
}

#[test]
fn min_lot_zero_revives_when_nobody_can_take() {
    // 15 steps, min 10, two equal accounts: 8 + 7 are both untradable; one account is revived
    // at the min lot (rotation order) and takes the rest.
    let (out, _) = run(
        &[1, 1],
        &params(15, 10, 100, MinLotPolicy::Zero, Mode::Block),
    )
    .unwrap();
    assert_eq!(out, [15, 0]);
}

#[test]
fn min_lot_round_up_takes_back_in_block_mode() {
    // quotas 3 each, min 4: rounding all up owes 4 steps; with no donors the last account in
    // rotation order is zeroed.
    let (out, _) = run(
        &[1, 1, 1, 1],
        &params(12, 4, 100, MinLotPolicy::RoundUp, Mode::Block),
    )
    .unwrap();
    assert_eq!(out, [4, 4, 4, 0]);
    let (out, o) = run(
        &[1, 1, 1, 1],
        &params(12, 4, 100, MinLotPolicy::RoundUp, Mode::PerAccount),
    )
    .unwrap();
    assert_eq!(out, [4, 4, 4, 4]);
    assert_eq!(o.unallocated, -4);
}

#[test]
fn max_lot_caps_and_redistributes() {
    let (out, _) = run(
        &[100, 1],
        &params(20, 1, 10, MinLotPolicy::Zero, Mode::Block),
    )
    .unwrap();
    assert_eq!(out, [10, 10]);
    let e = run(&[1, 1], &params(30, 1, 10, MinLotPolicy::Zero, Mode::Block)).unwrap_err();
    assert!(
        matches!(
            e,
            AllocError::BlockInfeasible {
                unplaced: 10,
                total: 30,
                eligible: 2
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("10 lot step(s) of 30"), "{e}");
}

#[test]
fn no_weight_no_allocation() {
    let e = run(&[0, 0], &params(5, 1, 10, MinLotPolicy::Zero, Mode::Block)).unwrap_err();
    assert!(matches!(e, AllocError::BlockInfeasible { unplaced: 5, .. }));
    let (out, o) = run(
        &[0, 0],
        &params(5, 1, 10, MinLotPolicy::Zero, Mode::PerAccount),
    )
    .unwrap();
    assert_eq!((out, o.unallocated), (vec![0, 0], 5));
    let e = run(
        &[u64::MAX, 1],
        &params(5, 1, 10, MinLotPolicy::Zero, Mode::Block),
    )
    .unwrap_err();
    assert!(matches!(e, AllocError::WeightOverflow { .. }));
}

#[test]
fn sink_takes_its_share() {
    let mut p = params(100, 1, 1000, MinLotPolicy::Zero, Mode::Block);
    p.sink_weight = 50; // accounts 25 % + 25 %, sink 50 %
    let (out, o) = run(&[25, 25], &p).unwrap();
    assert_eq!(out, [25, 25]);
    assert_eq!((o.sink, o.unallocated), (50, 50));
}

fn account(id: &str, balance: &str, equity: &str) -> AccountRecord {
    AccountRecord {
        id: encode_id(id).unwrap(),
        balance: Money::parse(balance).unwrap(),
        equity: Money::parse(equity).unwrap(),
        multiplier: Ratio::parse("1").unwrap(),
        flags: FLAG_ACTIVE,
        ..AccountRecord::default()
    }
}

fn order(lots: &str, model: StaticModel) -> Order {
    Order {
        lots: Lots::parse(lots).unwrap(),
        model,
        policy: MinLotPolicy::Zero,
        mode: Mode::Block,
        rotation: 0,
    }
}

fn eurusd() -> (crate::symbol::SymbolSpec, LotLimits) {
    let spec = *SymbolTable::builtin().require("EURUSD").unwrap();
    (spec, LotLimits::of(&spec))
}

#[test]
fn models_by_hand() {
    let (spec, limits) = eurusd();
    let mut v = AccountVecs::default();
    let mut a = account("A1", "10000", "10000");
    a.risk_fraction = Ratio::parse("0.01").unwrap();
    a.multiplier = Ratio::parse("1.5").unwrap();
    a.fixed_lots = Lots::parse("0.25").unwrap();
    a.percent = Ratio::parse("30").unwrap();
    v.push(&a);
    let mut b = account("B2", "5000", "6000");
    b.margin_used = Money::parse("3000").unwrap();
    b.percent = Ratio::parse("20").unwrap();
    v.push(&b);
    let mut c = account("C3", "20000", "20000");
    c.flags = FLAG_ACTIVE | FLAG_CLOSE_ONLY;
    v.push(&c);
    let mut d = account("D4", "20000", "20000");
    d.flags = 0;
    v.push(&d);
    let cols = v.columns();
    let mut out = vec![0; 4];
    let mut ws = Workspace::default();
    let mut go =
        |o: Order| allocate(&cols, limits, &o, &mut out, &mut ws).map(|a| (out.clone(), a));

    // equity 10000 : 6000 -> 1.00 lot = 100 steps -> 62.5, 37.5 -> tie on remainder, rotation 0.
    let (o, a) = go(order("1.00", StaticModel::Equity)).unwrap();
    assert_eq!(
        (o, a.allocated, a.unallocated),
        (vec![63, 37, 0, 0], 100, 0)
    );
    // free margin 10000 : 3000.
    let (o, _) = go(order("1.30", StaticModel::FreeMargin)).unwrap();
    assert_eq!(o, [100, 30, 0, 0]);
    // percent 30 % and 20 % of 1.37 lots: 41.1 and 27.4 steps, sink 68.5 -> 41 + 27 + 69.
    let (o, a) = go(order("1.37", StaticModel::Percent)).unwrap();
    assert_eq!(
        (o, a.sink, a.allocated + a.unallocated as u64),
        (vec![41, 27, 0, 0], 69, 137)
    );
    // multiplier 1.5 and 1 of 1.37: 205.5 -> 206 (half to even), 137.
    let (o, _) = go(order("1.37", StaticModel::Multiplier)).unwrap();
    assert_eq!(o, [206, 137, 0, 0]);
    let (o, a) = go(order("1.37", StaticModel::Fixed)).unwrap();
    assert_eq!((o, a.demand), (vec![25, 0, 0, 0], 25));
    // risk: 1 % of 10000 = 100 USD; 25 pips of EURUSD per lot = 250 USD -> 0.40 lots.
    let risk = StaticModel::Risk {
        sl_distance: Price::parse("0.0025").unwrap(),
        quote_to_account: Price::parse("1").unwrap(),
        contract_size: spec.contract_size,
    };
    let (o, _) = go(order("1", risk)).unwrap();
    assert_eq!(o, [40, 0, 0, 0]);
    let no_sl = StaticModel::Risk {
        sl_distance: Price::ZERO,
        quote_to_account: Price::parse("1").unwrap(),
        contract_size: spec.contract_size,
    };
    assert!(go(order("1", no_sl)).is_err());
    // balance ratio: 1.37 × 1.5 × 10000/10000 = 205.5 -> 206; 1.37 × 5000/10000 = 68.5 -> 68.
    let ratio = StaticModel::Ratio {
        basis: Basis::Balance,
        reference: Money::parse("10000").unwrap(),
    };
    let (o, _) = go(order("1.37", ratio)).unwrap();
    assert_eq!(o, [206, 68, 0, 0]);
    // A master that is not a step multiple is refused.
    assert!(matches!(
        go(order("1.375", StaticModel::Equity)),
        Err(AllocError::NotAStepMultiple { .. })
    ));
}

#[test]
fn ticket_close_by_hand() {
    let mut t = MasterTicket::open(7, 100, &[50, 30, 20]);
    let mut out = vec![0; 3];
    let mut s = Scratch::default();
    // close 33 of 100: 16.5, 9.9, 6.6 -> 16 + 9 + 6 = 31, two leftovers to 9.9 and 6.6.
    let o = t
        .close(33, 1, ResidualPolicy::Leave, 0, &mut out, &mut s)
        .unwrap();
    assert_eq!(out, [16, 10, 7]);
    assert_eq!((o.closed, t.master_open()), (33, 67));
    assert_eq!(t.holdings(), [34, 20, 13]);
    assert!(t
        .close(68, 1, ResidualPolicy::Leave, 0, &mut out, &mut s)
        .is_err());
    assert_eq!(
        t.holdings(),
        [34, 20, 13],
        "a refused close changes nothing"
    );
    t.close(67, 1, ResidualPolicy::Leave, 0, &mut out, &mut s)
        .unwrap();
    assert_eq!(t.holdings(), [0, 0, 0]);
    // Residual under the min lot (5 steps): leave it, or close it whole.
    let mut t = MasterTicket::open(8, 20, &[10, 10]);
    let o = t
        .close(7, 5, ResidualPolicy::Leave, 0, &mut out[..2], &mut s)
        .unwrap();
    assert_eq!((t.holdings(), o.residual_accounts), (&[6u64, 7][..], 0));
    let o = t
        .close(10, 5, ResidualPolicy::Leave, 0, &mut out[..2], &mut s)
        .unwrap();
    assert_eq!(
        (t.holdings(), o.residual_accounts, o.residual_steps),
        (&[1u64, 2][..], 2, 3)
    );
    let mut t = MasterTicket::open(9, 20, &[10, 10]);
    t.close(7, 5, ResidualPolicy::Leave, 0, &mut out[..2], &mut s)
        .unwrap();
    let o = t
        .close(10, 5, ResidualPolicy::CloseWhole, 0, &mut out[..2], &mut s)
        .unwrap();
    assert_eq!(
        (t.holdings(), o.closed_whole, o.extra_closed),
        (&[0u64, 0][..], 2, 3)
    );
    // The master still has 3 steps open; closing them closes nothing more, exactly.
    t.close(3, 5, ResidualPolicy::Leave, 0, &mut out[..2], &mut s)
        .unwrap();
    assert_eq!((t.holdings(), t.master_open()), (&[0u64, 0][..], 0));
}

#[test]
fn fills_by_hand() {
    let step = Qty::parse("1000").unwrap();
    let mut b = BlockFill::new(vec![3, 2], step).unwrap();
    let mut add = vec![0; 2];
    let mut s = Scratch::default();
    // 1.5 steps at 1.10000: one step allocated (3:2 -> 0.6, 0.4 -> the 0.6), half waits.
    let i = b
        .apply(
            Qty::parse("1500").unwrap(),
            Price::parse("1.1").unwrap(),
            0,
            &mut add,
            &mut s,
        )
        .unwrap();
    assert_eq!(
        (add.clone(), i.steps, i.pending),
        (vec![1, 0], 1, Qty::parse("500").unwrap())
    );
    let i = b
        .apply(
            Qty::parse("3500").unwrap(),
            Price::parse("1.2").unwrap(),
            0,
            &mut add,
            &mut s,
        )
        .unwrap();
    assert_eq!(
        (i.steps, b.filled(), b.is_complete()),
        (4, &[3u64, 2][..], true)
    );
    // avg = (1500 × 1.1 + 3500 × 1.2) / 5000 = 1.17
    assert_eq!(b.avg_price(), Some(Price::parse("1.17").unwrap()));
    let mut n = vec![Money::ZERO; 2];
    let st = b.settle(&mut n).unwrap();
    assert_eq!(
        n,
        [Money::parse("3510").unwrap(), Money::parse("2340").unwrap()]
    );
    assert_eq!(
        (st.block_notional, st.residual),
        (Money::parse("5850").unwrap(), Money::ZERO)
    );
    assert!(
        b.apply(step, Price::parse("1.2").unwrap(), 0, &mut add, &mut s)
            .is_err(),
        "overfill"
    );
}

// ---------------------------------------------------------------- properties

fn weights() -> impl Strategy<Value = Vec<u64>> {
    prop_oneof![
        prop::collection::vec(0u64..1_000, 1..40),
        prop::collection::vec(0u64..=u64::MAX / 64, 1..40),
        prop::collection::vec(prop_oneof![Just(0u64), Just(7), Just(7_000_000)], 1..40),
    ]
}

fn policy() -> impl Strategy<Value = MinLotPolicy> {
    prop_oneof![Just(MinLotPolicy::Zero), Just(MinLotPolicy::RoundUp)]
}

/// Exact floor and remainder of account `i`'s quota.
fn quota(w: &[u64], sink: u64, total: u64, i: usize) -> (u128, u128) {
    let wsum: u128 = w.iter().map(|&x| u128::from(x)).sum::<u128>() + u128::from(sink);
    let num = u128::from(total) * u128::from(w[i]);
    (num / wsum, num % wsum)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Without binding limits the result is exactly Hamilton's: each account gets its floor or
    /// one more, Σ = master, and every account given a leftover step has a remainder at least
    /// as large as every account not given one (ties ordered by the rotation).
    #[test]
    fn hamilton_is_exact(w in weights(), total in 0u64..5_000, rot in any::<u64>(), sink in 0u64..2_000) {
        let mut p = params(total, 1, u64::MAX, MinLotPolicy::Zero, Mode::Block);
        p.rotation = rot;
        p.sink_weight = sink;
        if w.iter().all(|&x| x == 0) && sink == 0 { return Ok(()); }
        let (out, o) = run(&w, &p).unwrap();
        prop_assert_eq!(o.allocated + o.sink, total);
        prop_assert_eq!(o.unallocated, o.sink as i64);
        let n = w.len();
        let m = (n + usize::from(sink > 0)) as u64;
        let rank = |i: usize| (i as u64 + m - rot % m) % m;
        let mut winners = vec![];
        let mut losers = vec![];
        for i in 0..n {
            let (q, r) = quota(&w, sink, total, i);
            let a = u128::from(out[i]);
            prop_assert!(a == q || a == q + 1, "account {} got {} for floor {}", i, a, q);
            if r > 0 { if a == q + 1 { winners.push((r, rank(i))) } else { losers.push((r, rank(i))) } }
        }
        for &(rw, kw) in &winners {
            for &(rl, kl) in &losers {
                prop_assert!(rw > rl || (rw == rl && kw < kl), "remainder order broken");
            }
        }
    }

    /// Block mode: Σ children = master exactly, step counts within {0} ∪ [min, max], nothing
    /// to zero-weight accounts, or an explicit infeasibility error. Deterministic.
    #[test]
    fn block_mode_invariants(w in weights(), total in 0u64..3_000, min in 1u64..6, span in 0u64..400,
                             pol in policy(), rot in any::<u64>()) {
        let max = min + span;
        let mut p = params(total, min, max, pol, Mode::Block);
        p.rotation = rot;
        let first = run(&w, &p);
        prop_assert_eq!(&first, &run(&w, &p), "deterministic");
        match first {
            Ok((out, o)) => {
                prop_assert_eq!(out.iter().sum::<u64>(), total);
                prop_assert_eq!((o.allocated, o.unallocated), (total, 0));
                for (i, &a) in out.iter().enumerate() {
                    prop_assert!(a == 0 || (min..=max).contains(&a), "account {} has {}", i, a);
                    prop_assert!(w[i] > 0 || a == 0);
                }
            }
            Err(AllocError::BlockInfeasible { unplaced, .. }) => {
                prop_assert!(unplaced != 0);
                // Only infeasible when the capacity is short or sizes cannot be tradable.
                let eligible = w.iter().filter(|&&x| x > 0).count() as u64;
                prop_assert!(eligible * max < total || total < min || pol == MinLotPolicy::RoundUp
                    || min > 1, "unexpected infeasibility");
            }
            Err(e) => prop_assert!(false, "unexpected error {}", e),
        }
    }

    /// Block mode with min lot = step never fails while capacity suffices.
    #[test]
    fn block_mode_feasible_when_capacity_suffices(w in weights(), total in 0u64..3_000, max in 1u64..500) {
        let eligible = w.iter().filter(|&&x| x > 0).count() as u64;
        // Any total up to the capacity of the eligible accounts.
        let total = total % (eligible * max + 1);
        let (out, _) = run(&w, &params(total, 1, max, MinLotPolicy::Zero, Mode::Block)).unwrap();
        prop_assert_eq!(out.iter().sum::<u64>(), total);
        prop_assert!(out.iter().all(|&a| a <= max));
    }

    /// Per-account mode: allocated + unallocated = requested, sizes within the limits.
    #[test]
    fn per_account_reports_everything(w in weights(), total in 0u64..3_000, min in 1u64..6,
                                      span in 0u64..400, pol in policy(), sink in 0u64..1_000) {
        let max = min + span;
        let mut p = params(total, min, max, pol, Mode::PerAccount);
        p.sink_weight = sink;
        let (out, o) = run(&w, &p).unwrap();
        prop_assert_eq!(o.allocated as i128 + o.unallocated as i128, total as i128);
        prop_assert_eq!(out.iter().sum::<u64>(), o.allocated);
        prop_assert!(out.iter().all(|&a| a == 0 || (min..=max).contains(&a)));
        prop_assert!(o.unallocated >= o.sink as i64 || pol == MinLotPolicy::RoundUp);
    }

    /// Fair rotation: accounts with equal weights receive leftover steps in turn; after any
    /// number of orders (cursor advanced by `dealt`) no one is more than one step ahead.
    #[test]
    fn rotation_is_fair(n in 2usize..30, orders in prop::collection::vec(0u64..200, 1..60)) {
        let w = vec![1_000u64; n];
        let mut got = vec![0u64; n];
        let mut cursor = 0u64;
        for &t in &orders {
            let mut p = params(t, 1, u64::MAX, MinLotPolicy::Zero, Mode::Block);
            p.rotation = cursor;
            let (out, o) = run(&w, &p).unwrap();
            let floor = t / n as u64;
            for i in 0..n { got[i] += out[i] - floor; }
            cursor += o.dealt;
            let (lo, hi) = (got.iter().min().unwrap(), got.iter().max().unwrap());
            prop_assert!(hi - lo <= 1, "leftovers {:?}", got);
        }
    }

    /// Models: every size is a whole number of steps within the limits (the output is in steps),
    /// inactive and close-only accounts get nothing, proportional models satisfy allocated +
    /// unallocated = requested, and the same input gives the same output.
    #[test]
    fn models_hold_their_invariants(
        accts in prop::collection::vec((0i64..2_000_000_000_000, 0i64..2_000_000_000_000, 0i64..100_000_000,
                                        0i64..3_000_000, 0i64..10_000, 0u16..4), 1..40),
        lots in 0i64..2_000, which in 0usize..8, pol in policy(), per_account in any::<bool>(),
        rot in any::<u64>()) {
        let (spec, limits) = eurusd();
        let mut v = AccountVecs::default();
        for (i, &(bal, eq, pct, mult, fixed, flags)) in accts.iter().enumerate() {
            let mut r = account(&format!("A{i}"), "0", "0");
            r.balance = Money(bal);
            r.equity = Money(eq);
            r.margin_used = Money(eq / 3);
            r.percent = Ratio(pct / accts.len() as i64);
            r.multiplier = Ratio(mult);
            r.fixed_lots = Lots(fixed);
            r.risk_fraction = Ratio(10_000);
            r.flags = flags;
            v.push(&r);
        }
        let model = [
            StaticModel::Equity, StaticModel::Balance, StaticModel::FreeMargin, StaticModel::Percent,
            StaticModel::Multiplier, StaticModel::Fixed,
            StaticModel::Risk { sl_distance: Price(250_000), quote_to_account: Price(100_000_000),
                                contract_size: spec.contract_size },
            StaticModel::Ratio { basis: Basis::Equity, reference: Money(1_000_000_000) },
        ][which];
        let o = Order { lots: Lots(lots * 100), model, policy: pol,
                        mode: if per_account { Mode::PerAccount } else { Mode::Block }, rotation: rot };
        let cols = v.columns();
        let mut out = vec![0; cols.len()];
        let mut ws = Workspace::default();
        let r = allocate(&cols, limits, &o, &mut out, &mut ws);
        let mut out2 = vec![0; cols.len()];
        prop_assert_eq!(&r, &allocate(&cols, limits, &o, &mut out2, &mut Workspace::default()));
        let a = match r {
            Ok(a) => a,
            Err(AllocError::BlockInfeasible { .. }) => return Ok(()),
            Err(e) => return Err(TestCaseError::fail(e.to_string())),
        };
        prop_assert_eq!(&out, &out2);
        prop_assert_eq!(out.iter().sum::<u64>(), a.allocated);
        for (i, &s) in out.iter().enumerate() {
            prop_assert!(s == 0 || (limits.min_steps..=limits.max_steps).contains(&s));
            if cols.flags[i] & (FLAG_ACTIVE | FLAG_CLOSE_ONLY) != FLAG_ACTIVE { prop_assert_eq!(s, 0); }
        }
        prop_assert_eq!(a.allocated as i128 + a.unallocated as i128, a.demand as i128);
        if model.is_proportional() {
            prop_assert_eq!(a.demand, a.requested);
            if !per_account { prop_assert_eq!(a.allocated + a.sink, a.requested); }
        }
    }

    /// Tickets: after any sequence of opens, scale-ins, partial closes, deposits and full
    /// closes, every account's close is its exact proportion (floor or one more) and never more
    /// than it holds, Σ holdings = master open, deposits do not move holdings, and a full close
    /// leaves every account at exactly zero.
    #[test]
    fn tickets_never_drift(
        equity in prop::collection::vec(1u64..1_000_000, 1..30),
        ops in prop::collection::vec((0u8..4, 1u64..500, any::<u64>()), 1..40)) {
        let n = equity.len();
        let mut eq = equity.clone();
        let mut s = Scratch::default();
        let mut out = vec![0; n];
        let open = |eq: &[u64], steps: u64, s: &mut Scratch| {
            let mut a = vec![0; eq.len()];
            apportion(eq, &params(steps, 1, u64::MAX, MinLotPolicy::Zero, Mode::Block), &mut a, s).unwrap();
            a
        };
        let mut t = MasterTicket::open(1, 100, &open(&eq, 100, &mut s));
        for &(op, x, r) in &ops {
            match op {
                0 => { // deposit / withdrawal: changes weights, not holdings
                    let before = t.holdings().to_vec();
                    eq[(r % n as u64) as usize] = x * 1_000;
                    prop_assert_eq!(before, t.holdings());
                }
                1 => { let a = open(&eq, x, &mut s); t.add(x, &a).unwrap(); }
                2 if t.master_open() > 0 => {
                    let c = 1 + r % t.master_open();
                    let before = t.holdings().to_vec();
                    let m = t.master_open();
                    let o = t.close(c, 1, ResidualPolicy::Leave, r, &mut out, &mut s).unwrap();
                    for i in 0..n {
                        let exact_floor = u128::from(before[i]) * u128::from(c) / u128::from(m);
                        prop_assert!(out[i] <= before[i]);
                        prop_assert!(u128::from(out[i]) == exact_floor || u128::from(out[i]) == exact_floor + 1);
                    }
                    prop_assert_eq!(o.closed, c);
                }
                _ => {
                    let m = t.master_open();
                    t.close(m, 1, ResidualPolicy::Leave, r, &mut out, &mut s).unwrap();
                    prop_assert!(t.holdings().iter().all(|&h| h == 0));
                }
            }
            prop_assert_eq!(t.total_open(), t.master_open());
        }
        let m = t.master_open();
        t.close(m, 1, ResidualPolicy::Leave, 0, &mut out, &mut s).unwrap();
        prop_assert!(t.holdings().iter().all(|&h| h == 0));
    }

    /// With a min lot, residual policies: `CloseWhole` never leaves 0 < holding < min, `Leave`
    /// reports exactly the residuals it leaves; a full close always ends at zero.
    #[test]
    fn residual_policies(hold in prop::collection::vec(0u64..60, 1..20), min in 1u64..8,
                         closes in prop::collection::vec(any::<u64>(), 1..6), whole in any::<bool>()) {
        let master: u64 = hold.iter().sum();
        prop_assume!(master > 0);
        let pol = if whole { ResidualPolicy::CloseWhole } else { ResidualPolicy::Leave };
        let mut t = MasterTicket::open(1, master, &hold);
        let mut out = vec![0; hold.len()];
        let mut s = Scratch::default();
        for &c in &closes {
            if t.master_open() == 0 { break; }
            let o = t.close(1 + c % t.master_open(), min, pol, c, &mut out, &mut s).unwrap();
            let small: Vec<u64> = t.holdings().iter().copied().filter(|&h| h > 0 && h < min).collect();
            match pol {
                ResidualPolicy::CloseWhole => prop_assert!(small.is_empty(), "residuals {:?}", small),
                ResidualPolicy::Leave => {
                    prop_assert_eq!(o.residual_accounts, small.len() as u64);
                    prop_assert_eq!(o.residual_steps, small.iter().sum::<u64>());
                }
            }
            prop_assert!(t.total_open() <= t.master_open() || t.master_open() == 0 && t.total_open() == 0);
        }
        let m = t.master_open();
        t.close(m, min, pol, 0, &mut out, &mut s).unwrap();
        prop_assert!(t.holdings().iter().all(|&h| h == 0));
    }

    /// Fills: increments only add (no give-back), nobody passes its target, Σ filled = steps
    /// received, a complete block gives every account exactly its target, and Σ account
    /// notionals + residual = block notional with the residual within its rounding bound.
    #[test]
    fn fills_are_monotone_and_exact(
        target in prop::collection::vec(0u64..50, 1..25),
        parts in prop::collection::vec((1u64..4_000, 100_000_000i64..200_000_000), 1..20),
        rot in any::<u64>()) {
        let step = Qty(1_000_000_000); // 1000 units
        let total: u64 = target.iter().sum();
        let mut b = BlockFill::new(target.clone(), step).unwrap();
        let mut add = vec![0; target.len()];
        let mut s = Scratch::default();
        let mut received: i64 = 0;
        for &(units, px) in &parts {
            let before = b.filled().to_vec();
            let q = Qty(units as i64 * 1_000_000);
            match b.apply(q, Price(px), rot, &mut add, &mut s) {
                Ok(inc) => {
                    received += q.raw();
                    prop_assert_eq!(add.iter().sum::<u64>(), inc.steps);
                    for i in 0..target.len() {
                        prop_assert!(b.filled()[i] >= before[i], "give-back");
                        prop_assert!(b.filled()[i] <= target[i]);
                    }
                    prop_assert_eq!(b.filled_total(), (received / step.raw()) as u64);
                }
                Err(_) => {
                    prop_assert!((received + q.raw()) / step.raw() > total as i64);
                    prop_assert_eq!(before, b.filled());
                }
            }
        }
        if b.is_complete() { prop_assert_eq!(b.filled(), &target[..]); }
        let mut notional = vec![Money::ZERO; target.len()];
        let st = b.settle(&mut notional).unwrap();
        let sum: i64 = notional.iter().map(|m| m.raw()).sum();
        prop_assert_eq!(sum + st.residual.raw(), st.block_notional.raw());
        // Bound: half a micro per account and for the block, half a price unit on the filled
        // quantity, plus the pending sub-step at the highest price.
        let filled_units = b.filled_total() as i128 * i128::from(step.raw());
        let bound = target.len() as i128 / 2 + 1
            + filled_units / 2 / 100_000_000 + 1
            + i128::from(b.pending().raw()) * 200_000_000 / 100_000_000;
        prop_assert!(i128::from(st.residual.raw()).abs() <= bound, "residual {} > {}", st.residual.raw(), bound);
    }

    /// Arbitrary parameters (huge totals, min above max, zero limits, any weights) never panic:
    /// the result is either consistent or a typed error.
    #[test]
    fn arbitrary_parameters_never_panic(w in prop::collection::vec(any::<u64>(), 0..12),
                                        total in any::<u64>(), min in any::<u64>(), max in any::<u64>(),
                                        sink in any::<u64>(), pol in policy(), block in any::<bool>(),
                                        rot in any::<u64>()) {
        let p = ApportionParams {
            total,
            limits: LotLimits { step: Lots(1), min_steps: min % 1_000, max_steps: max },
            policy: pol,
            mode: if block { Mode::Block } else { Mode::PerAccount },
            rotation: rot,
            sink_weight: sink,
        };
        if let Ok((out, o)) = run(&w, &p) {
            prop_assert_eq!(out.iter().map(|&x| u128::from(x)).sum::<u128>(), u128::from(o.allocated));
            prop_assert_eq!(i128::from(o.allocated) + i128::from(o.unallocated), i128::from(total));
        }
    }

    /// Holdings that do not sum to the master (per-account opens that fell short or rounded
    /// up): every close stays within each holding, and a full close still ends at zero.
    #[test]
    fn tickets_with_uneven_holdings(hold in prop::collection::vec(0u64..80, 1..20), master in 1u64..2_000,
                                    closes in prop::collection::vec(any::<u64>(), 0..6)) {
        let mut t = MasterTicket::open(3, master, &hold);
        let mut out = vec![0; hold.len()];
        let mut s = Scratch::default();
        for &c in &closes {
            if t.master_open() == 0 { break; }
            let before = t.holdings().to_vec();
            let m = t.master_open();
            let close = 1 + c % m;
            t.close(close, 1, ResidualPolicy::Leave, c, &mut out, &mut s).unwrap();
            for i in 0..hold.len() {
                prop_assert!(out[i] <= before[i]);
                // Each close is within one step of the exact proportion when the holdings fit
                // in the master (a sink takes the rest), within two when they exceed it (the
                // total is rounded down first).
                let exact = u128::from(before[i]) * u128::from(close);
                let got = u128::from(out[i]) * u128::from(m);
                let slack = if before.iter().sum::<u64>() <= m { 1 } else { 2 };
                prop_assert!(got + slack * u128::from(m) > exact && got < exact + u128::from(m));
            }
        }
        let m = t.master_open();
        t.close(m, 1, ResidualPolicy::Leave, 0, &mut out, &mut s).unwrap();
        prop_assert!(t.holdings().iter().all(|&h| h == 0));
        prop_assert_eq!(t.master_open(), 0);
    }
}
