//! Pre-trade risk: each check, and property tests of the invariants.

use mam_core::event::{ChildOrder, OrdType, Side};
use mam_core::num::{Money, Price, Qty};
use mam_core::risk::{RiskBook, RiskLimits, RiskReject, THROTTLE_WINDOW_NS};
use proptest::prelude::*;

fn limits() -> RiskLimits {
    RiskLimits {
        max_order_qty: Qty::from_int(1_000_000).unwrap(),
        max_order_notional: Money::from_int(1_200_000).unwrap(),
        max_account_qty: Qty::from_int(3_000_000).unwrap(),
        max_account_notional: Money::from_int(3_200_000).unwrap(),
        max_account_open_orders: 5,
        max_open_orders: 8,
        collar_bps: Some(50),
        max_orders_per_sec: 4,
        max_position_qty: Qty::from_int(2_000_000).unwrap(),
        max_position_notional: Money::from_int(2_500_000).unwrap(),
        max_account_position_notional: Money(i64::MAX / 4),
    }
}

fn order(id: u64, account: u32, qty: &str, price: &str) -> ChildOrder {
    ChildOrder {
        cl_ord_id: id,
        account,
        instrument: 0,
        qty: qty.parse().unwrap(),
        price: price.parse().unwrap(),
        side: Side::Buy as u8,
        ord_type: OrdType::Limit as u8,
        ..ChildOrder::default()
    }
}

fn book() -> RiskBook {
    let mut b = RiskBook::new(limits(), 4, 2, 2);
    b.set_reference_price(0, "1.10000".parse().unwrap());
    b
}

#[test]
fn each_check_refuses_with_its_reason() {
    let mut b = book();
    let t = 1_000;
    assert_eq!(
        b.check_new(&order(1, 0, "0", "1.1"), 0, t),
        Err(RiskReject::InvalidOrder)
    );
    assert_eq!(
        b.check_new(&order(1, 9, "1", "1.1"), 0, t),
        Err(RiskReject::UnknownAccount)
    );
    let mut o = order(1, 0, "1", "1.1");
    o.instrument = 7;
    assert_eq!(b.check_new(&o, 0, t), Err(RiskReject::UnknownInstrument));
    o.instrument = 1; // known instrument, no reference yet
    assert_eq!(b.check_new(&o, 0, t), Err(RiskReject::NoReferencePrice));
    assert_eq!(
        b.check_new(&order(1, 0, "1000000.000001", "1.1"), 0, t),
        Err(RiskReject::MaxOrderQty)
    );
    // 1,000,000 × 1.2 = 1,200,000 notional: at the limit passes; collar: 50 bp of 1.1 = 0.0055.
    assert_eq!(
        b.check_new(&order(1, 0, "1000000", "1.1056"), 0, t),
        Err(RiskReject::PriceCollar)
    );
    assert_eq!(b.check_new(&order(1, 0, "1000000", "1.1055"), 0, t), Ok(()));
    assert_eq!(
        b.check_new(&order(1, 1, "1", "1.1"), 0, t),
        Err(RiskReject::DuplicateClOrdId)
    );
    assert_eq!(b.check_new(&order(2, 0, "1000000", "1.0945"), 0, t), Ok(()));
    assert_eq!(
        b.check_new(&order(3, 0, "1000000", "1.0944"), 0, t),
        Err(RiskReject::PriceCollar)
    );
    // Account 0 holds 2,000,000 / 2,200,000: a third million fits qty but not notional.
    assert_eq!(
        b.check_new(&order(3, 0, "1000000", "1.1"), 0, t),
        Err(RiskReject::MaxAccountNotional)
    );
    let (q, n, k) = b.account_exposure(0).unwrap();
    assert_eq!(
        (q, n, k),
        (
            Qty::from_int(2_000_000).unwrap(),
            "2200000".parse().unwrap(),
            2
        )
    );
    // Throttle: 4 per second on session 0, two spent.
    assert_eq!(b.check_new(&order(3, 1, "1", "1.1"), 0, t), Ok(()));
    assert_eq!(b.check_new(&order(4, 1, "1", "1.1"), 0, t + 1), Ok(()));
    assert_eq!(
        b.check_new(&order(5, 1, "1", "1.1"), 0, t + 2),
        Err(RiskReject::Throttled)
    );
    assert_eq!(
        b.check_new(&order(5, 1, "1", "1.1"), 1, t + 2),
        Ok(()),
        "other session"
    );
    assert_eq!(
        b.check_new(&order(6, 1, "1", "1.1"), 0, t + THROTTLE_WINDOW_NS - 1),
        Err(RiskReject::Throttled)
    );
    assert_eq!(
        b.check_new(&order(6, 1, "1", "1.1"), 0, t + THROTTLE_WINDOW_NS),
        Ok(())
    );
    // Market order: notional at the reference price.
    let mut m = order(7, 2, "1000000", "0");
    m.ord_type = OrdType::Market as u8;
    assert_eq!(b.check_new(&m, 1, t), Ok(()));
    assert_eq!(b.account_exposure(2).unwrap().1, "1100000".parse().unwrap());
}

#[test]
fn fills_release_exposure_exactly_and_kill_switch_lists_open() {
    let mut b = book();
    b.check_new(&order(10, 3, "333333.333333", "1.10001"), 0, 0)
        .unwrap();
    b.check_new(&order(11, 3, "1", "1.1"), 1, 0).unwrap();
    assert_eq!(
        b.on_fill(10, "111111.111111".parse().unwrap()),
        Some("222222.222222".parse().unwrap())
    );
    assert_eq!(
        b.on_fill(10, "222222.222222".parse().unwrap()),
        Some(Qty::ZERO)
    );
    assert_eq!(b.on_fill(10, Qty::from_int(1).unwrap()), None, "closed");
    let open = b.kill();
    assert_eq!(
        open.iter().map(|o| o.cl_ord_id).collect::<Vec<_>>(),
        vec![11]
    );
    assert_eq!(
        b.check_new(&order(12, 0, "1", "1.1"), 0, 5),
        Err(RiskReject::KillSwitch)
    );
    assert!(b.on_done(11));
    assert_eq!(b.account_exposure(3).unwrap(), (Qty::ZERO, Money::ZERO, 0));
    b.reset_kill();
    assert_eq!(b.check_new(&order(12, 0, "1", "1.1"), 0, 5), Ok(()));
}

#[test]
fn codes_are_stable_and_round_trip() {
    for r in RiskReject::ALL {
        assert_eq!(RiskReject::from_code(r.code()), Some(r));
        assert!(!r.text().is_empty());
    }
    assert_eq!(RiskReject::KillSwitch.code(), 1);
    assert_eq!(RiskReject::Throttled.code(), 14);
    assert_eq!(RiskReject::from_code(0), None);
    let mut b = book();
    b.kill();
    let (r, rec) = b
        .check_new_record(&order(5, 1, "1", "1.1"), 1, 77)
        .unwrap_err();
    assert_eq!(
        (r, rec.code, rec.cl_ord_id, rec.ts_ns, rec.session),
        (r, 1, 5, 77, 1)
    );
    assert_eq!(bytemuck::bytes_of(&rec).len(), 32);
}

#[derive(Debug, Clone)]
enum Op {
    New {
        account: u32,
        qty: i64,
        price_off: i64,
        session: u16,
        dt: u64,
    },
    Fill {
        pick: usize,
        qty: i64,
    },
    Done {
        pick: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u32..5, 1i64..1_500_000_000_000, -800_000i64..800_000, 0u16..2, 0u64..400_000_000)
            .prop_map(|(account, qty, price_off, session, dt)| Op::New { account, qty, price_off, session, dt }),
        2 => (any::<usize>(), 0i64..1_000_000_000_000).prop_map(|(pick, qty)| Op::Fill { pick, qty }),
        1 => any::<usize>().prop_map(|pick| Op::Done { pick }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever arrives, no account and no total ever exceeds a limit, the throttle never lets
    /// more than N through in any one-second window of a session, and exposure is exact.
    #[test]
    fn limits_and_throttle_hold(ops in proptest::collection::vec(op(), 1..120), kill_at in 0usize..200) {
        let l = limits();
        let mut b = RiskBook::new(l, 4, 1, 2);
        b.set_reference_price(0, "1.10000".parse().unwrap());
        let mut now = 0u64;
        let mut accepted: Vec<Vec<u64>> = vec![Vec::new(); 2];
        let mut ids = 0u64;
        for (i, op) in ops.into_iter().enumerate() {
            if i == kill_at { b.kill(); }
            match op {
                Op::New { account, qty, price_off, session, dt } => {
                    now += dt;
                    ids += 1;
                    let mut o = order(ids, if account == 4 { u32::MAX } else { account }, "1", "1.1");
                    o.qty = Qty(qty);
                    o.price = Price(110_000_000 + price_off);
                    let r = b.check_new(&o, session, now);
                    if b.is_killed() {
                        prop_assert_eq!(r, Err(RiskReject::KillSwitch));
                    }
                    if r.is_ok() {
                        prop_assert!(o.qty <= l.max_order_qty);
                        accepted[usize::from(session)].push(now);
                    }
                }
                Op::Fill { pick, qty } => {
                    let open = b.open_orders();
                    if !open.is_empty() {
                        b.on_fill(open[pick % open.len()].cl_ord_id, Qty(qty));
                    }
                }
                Op::Done { pick } => {
                    let open = b.open_orders();
                    if !open.is_empty() {
                        b.on_done(open[pick % open.len()].cl_ord_id);
                    }
                }
            }
            prop_assert!(b.open_count() <= l.max_open_orders as usize);
            for a in [0, 1, 2, 3, u32::MAX] {
                let (q, n, k) = b.account_exposure(a).unwrap();
                prop_assert!(q <= l.max_account_qty && q.raw() >= 0);
                prop_assert!(n <= l.max_account_notional && n.raw() >= 0);
                prop_assert!(k <= l.max_account_open_orders);
            }
        }
        for stamps in &accepted {
            for (i, t) in stamps.iter().enumerate() {
                let in_window = stamps[i..].iter().take_while(|s| **s < t + THROTTLE_WINDOW_NS).count();
                prop_assert!(in_window <= l.max_orders_per_sec as usize);
            }
        }
        // Closing everything returns every account to exactly zero.
        for o in b.open_orders() { b.on_done(o.cl_ord_id); }
        for a in [0, 1, 2, 3, u32::MAX] {
            prop_assert_eq!(b.account_exposure(a).unwrap(), (Qty::ZERO, Money::ZERO, 0));
        }
    }
}

#[test]
fn position_limits_stop_growth_never_a_close() {
    let mut b = RiskBook::new(limits(), 2, 1, 1);
    b.set_reference_price(0, Price::parse("1.1").unwrap());
    let q = |u: i64| Qty::from_int(u).unwrap().raw();
    assert_eq!(b.check_position(0, 0, q(1_000_000)), Ok(()));
    assert_eq!(
        b.check_position(0, q(1_000_000), q(2_000_001)),
        Err(RiskReject::MaxPositionQty)
    );
    // 2,000,000 × 1.1 = 2,200,000 passes; 2,300,000 at 1.2 would not.
    assert_eq!(b.check_position(0, 0, -q(2_000_000)), Ok(()));
    b.set_reference_price(0, Price::parse("1.3").unwrap());
    assert_eq!(
        b.check_position(0, 0, -q(2_000_000)),
        Err(RiskReject::MaxPositionNotional)
    );
    // Reducing a position over the limit passes; flipping past zero to a larger one does not.
    assert_eq!(b.check_position(0, q(5_000_000), q(4_000_000)), Ok(()));
    assert_eq!(
        b.check_position(0, q(1_000_000), -q(2_100_000)),
        Err(RiskReject::MaxPositionQty)
    );
}
