//! Bad input is refused with its code and changes nothing (docs/ledger.md, "Refused inputs";
//! docs/engine.md): a fill for an unknown order, a fill beyond the order quantity, a fill with a
//! price or quantity that is not positive, a quote with a bid above the ask or a price that is
//! not positive, a withdrawal past free margin or past the balance. Never a panic.

mod common;

use common::*;
use mam_core::account::AccountVecs;
use mam_core::engine::decision::RefusedCode;
use mam_core::engine::input::model_code;
use mam_core::engine::Input;
use mam_core::event::{ChildOrder, ExecStatus, FillEvent, MarketEvent, MarketEventKind};
use mam_core::ledger::Ledger;
use mam_core::num::{Money, Price, Qty};
use proptest::prelude::*;

const EU_BID: i64 = 110_000_000;
const EU_ASK: i64 = 110_010_000;
const LOT: i64 = 100_000 * Qty::ONE_RAW;

/// Everything a refused input must leave as it was.
#[derive(Debug, PartialEq)]
struct Books {
    ledger: Ledger,
    accounts: AccountVecs,
    orders: Vec<(u64, Option<(Qty, Qty)>)>,
    holdings: Vec<Option<Vec<u64>>>,
}

fn books(h: &Harness) -> Books {
    let e = &h.engine;
    Books {
        ledger: e.ledger().clone(),
        accounts: e.accounts().clone(),
        orders: e
            .open_order_ids()
            .map(|cl| (cl, e.order_progress(cl)))
            .collect(),
        holdings: (1..=3)
            .map(|t| e.holdings(t).map(<[u64]>::to_vec))
            .collect(),
    }
}

/// Three accounts (one in EUR) long EURUSD through ticket 1; ticket 2's per-account orders
/// working with a third filled; ticket 3's block order working, half filled.
struct Scene {
    h: Harness,
    /// A per-account order with quantity left.
    working: ChildOrder,
    /// A block order with quantity left.
    block: ChildOrder,
    /// An order completely filled (no longer open).
    done: ChildOrder,
}

fn scene() -> Scene {
    let mut recs = vec![
        account(0, 2_000, 100),
        account(1, 50_000, 100),
        account(2, 20_000, 30),
    ];
    recs[2].currency = eur();
    let mut h = Harness::new(accounts_of(&recs));
    let eu = sym("EURUSD");
    let ts = h.tick();
    h.apply(quote(ts, eu, EU_BID, EU_ASK));
    let ts = h.tick();
    let os = orders(&h.apply(open(ts, 1, eu, true, 300, model_code::EQUITY, false)));
    for o in &os {
        let ts = h.tick();
        h.apply(fill(
            ts,
            o.cl_ord_id,
            o.qty.raw(),
            EU_ASK,
            ExecStatus::Filled,
        ));
    }
    let ts = h.tick();
    let working = orders(&h.apply(open(ts, 2, eu, true, 90, model_code::BALANCE, false)));
    for o in &working {
        let ts = h.tick();
        h.apply(fill(
            ts,
            o.cl_ord_id,
            o.qty.raw() / 3,
            EU_ASK,
            ExecStatus::PartiallyFilled,
        ));
    }
    let ts = h.tick();
    let block = orders(&h.apply(open(ts, 3, eu, false, 50, model_code::BALANCE, true)))[0];
    let ts = h.tick();
    h.apply(fill(
        ts,
        block.cl_ord_id,
        block.qty.raw() / 2,
        EU_BID,
        ExecStatus::PartiallyFilled,
    ));
    Scene {
        h,
        working: working[0],
        block,
        done: os[0],
    }
}

fn market(ts: u64, kind: MarketEventKind, bid: i64, ask: i64) -> Input {
    let Input::Market(m) = quote(ts, sym("EURUSD"), bid, ask) else {
        unreachable!()
    };
    Input::Market(MarketEvent {
        kind: kind as u8,
        ..m
    })
}

/// Applies `input` and checks it is refused with `code` and changes nothing.
fn refused_unchanged(s: &mut Scene, input: Input, code: RefusedCode) {
    let before = books(&s.h);
    let d = s.h.apply(input);
    assert_eq!(refused_code(&d), Some(code), "{input:?}: {d:?}");
    assert_eq!(d.len(), 1, "a refusal and nothing else: {d:?}");
    assert!(books(&s.h) == before, "{input:?} changed the books");
}

#[test]
fn each_bad_input_is_refused_with_its_code_and_changes_nothing() {
    let mut s = scene();
    let ts = s.h.tick();
    let (w, b, done) = (s.working, s.block, s.done);
    let left = |o: &ChildOrder, h: &Harness| {
        let (q, c) = h.engine.order_progress(o.cl_ord_id).expect("working");
        q.raw() - c.raw()
    };
    let (wl, bl) = (left(&w, &s.h), left(&b, &s.h));
    let cases = [
        (
            fill(ts, 987_654_321, STEP, EU_ASK, ExecStatus::Filled),
            RefusedCode::UnknownOrder,
        ),
        (
            fill(ts, done.cl_ord_id, STEP, EU_ASK, ExecStatus::Filled),
            RefusedCode::UnknownOrder,
        ),
        (
            fill(ts, w.cl_ord_id, wl + 1, EU_ASK, ExecStatus::Filled),
            RefusedCode::Overfill,
        ),
        (
            fill(ts, b.cl_ord_id, bl + 1, EU_BID, ExecStatus::Filled),
            RefusedCode::Overfill,
        ),
        (
            fill(ts, w.cl_ord_id, STEP, 0, ExecStatus::PartiallyFilled),
            RefusedCode::BadFill,
        ),
        (
            fill(ts, b.cl_ord_id, STEP, -EU_BID, ExecStatus::PartiallyFilled),
            RefusedCode::BadFill,
        ),
        (
            fill(ts, w.cl_ord_id, -STEP, EU_ASK, ExecStatus::PartiallyFilled),
            RefusedCode::BadFill,
        ),
        (
            fill(ts, w.cl_ord_id, wl + LOT, EU_ASK, ExecStatus::Filled),
            RefusedCode::Overfill,
        ),
        (
            quote(ts, sym("EURUSD"), EU_ASK + 1, EU_ASK),
            RefusedCode::BadQuote,
        ),
        (quote(ts, sym("EURUSD"), 0, EU_ASK), RefusedCode::BadQuote),
        (
            quote(ts, sym("EURUSD"), -EU_BID, EU_ASK),
            RefusedCode::BadQuote,
        ),
        (quote(ts, sym("EURUSD"), EU_BID, 0), RefusedCode::BadQuote),
        (quote(ts, sym("GBPUSD"), -1, -1), RefusedCode::BadQuote),
        (
            balance(ts, 0, -Money::ONE_RAW * 2_500),
            RefusedCode::NegativeBalance,
        ),
        (balance(ts, 7, Money::ONE_RAW), RefusedCode::UnknownAccount),
    ];
    for (input, code) in cases {
        refused_unchanged(&mut s, input, code);
    }
    // Withdrawals past free margin (equity − margin at the latest quotes), in each account's
    // currency; one micro-unit less is paid.
    for a in 0..3 {
        let v = s.h.engine.valuation(a).unwrap();
        let free = v.free_margin().raw();
        assert!(free > 0 && free < v.balance.raw(), "account {a}: {v:?}");
        let ts = s.h.tick();
        refused_unchanged(
            &mut s,
            balance(ts, a, -(free + 1)),
            RefusedCode::InsufficientFreeMargin,
        );
        let d = s.h.apply(balance(ts, a, -free));
        assert_eq!(refused_code(&d), None, "account {a}: all the free margin");
        assert_eq!(s.h.engine.valuation(a).unwrap().free_margin(), Money::ZERO);
    }
    assert_eq!(s.h.engine.counters().invariant_failures, 0);
}

#[test]
fn trades_and_other_market_events_never_refuse_and_never_mark() {
    let mut s = scene();
    let before = books(&s.h);
    let ts = s.h.tick();
    for input in [
        market(ts, MarketEventKind::Trade, 0, 0),
        market(ts, MarketEventKind::Trade, 120_000_000, 0),
        market(ts, MarketEventKind::Heartbeat, -5, -7),
        market(ts, MarketEventKind::Depth, EU_ASK, EU_BID),
    ] {
        let d = s.h.apply(input);
        assert_eq!(refused_code(&d), None, "{input:?}");
    }
    assert!(
        books(&s.h) == before,
        "no market event but a quote marks the ledger"
    );
}

#[derive(Debug, Clone)]
enum Junk {
    Fill(usize, i64, i64, u8),
    Quote(i64, i64),
    Balance(u32, i64),
}

fn junk() -> impl Strategy<Value = Junk> {
    prop_oneof![
        3 => (
            any::<usize>(),
            prop_oneof![Just(0i64), -2 * STEP..4 * STEP, Just(i64::MAX), Just(i64::MIN)],
            prop_oneof![Just(0i64), -EU_ASK..2 * EU_ASK, Just(i64::MIN)],
            prop_oneof![Just(b'0'), Just(b'1'), Just(b'2'), Just(b'4'), Just(b'8'), any::<u8>()],
        ).prop_map(|(i, q, p, s)| Junk::Fill(i, q, p, s)),
        2 => (
            prop_oneof![Just(0i64), -EU_ASK..2 * EU_ASK, Just(i64::MAX)],
            prop_oneof![Just(0i64), -EU_ASK..2 * EU_ASK, Just(i64::MIN)],
        ).prop_map(|(b, a)| Junk::Quote(b, a)),
        1 => (0u32..5, prop_oneof![Just(i64::MIN), Just(i64::MAX), -30_000 * Money::ONE_RAW..30_000 * Money::ONE_RAW])
            .prop_map(|(a, x)| Junk::Balance(a, x)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Arbitrary fills, quotes and balance changes against working orders and open positions:
    /// never a panic; a refused input changes nothing; Σ accounts + unallocated = LP net.
    #[test]
    fn junk_is_refused_or_applied_never_a_panic(inputs in prop::collection::vec(junk(), 1..40)) {
        let mut s = scene();
        let eu = sym("EURUSD");
        for j in inputs {
            let ts = s.h.tick();
            let mut cls: Vec<u64> = s.h.engine.open_order_ids().collect();
            cls.push(s.done.cl_ord_id);
            let input = match j {
                Junk::Fill(i, q, p, st) => Input::Fill(FillEvent {
                    recv_ns: ts,
                    cl_ord_id: cls[i % cls.len()],
                    exec_id: ts,
                    last_qty: Qty(q),
                    last_px: Price(p),
                    cum_qty: Qty::ZERO,
                    leaves_qty: Qty::ZERO,
                    status: st,
                    _pad: [0; 7],
                }),
                Junk::Quote(b, a) => quote(ts, eu, b, a),
                Junk::Balance(a, x) => balance(ts, a, x),
            };
            let before = books(&s.h);
            let d = s.h.apply(input);
            if refused_code(&d).is_some() {
                prop_assert!(books(&s.h) == before, "{:?} refused but changed the books", input);
            }
            let l = s.h.engine.ledger();
            prop_assert_eq!(
                l.sum_positions(eu) + i128::from(l.unallocated(eu).raw()),
                i128::from(l.lp_net(eu).raw())
            );
        }
        prop_assert_eq!(s.h.engine.counters().invariant_failures, 0);
    }
}
