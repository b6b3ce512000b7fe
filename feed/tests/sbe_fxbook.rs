//! FX books: real converted EURUSD day through the books, exact EWMA arithmetic, and
//! property tests of the book invariants and EWMA determinism.

use fixed::types::U96F32;
use mam_core::event::{MarketEvent, MarketEventKind};
use mam_core::num::{Price, Qty};
use mam_feed::fxbook::{EwmaVar, FxBooks, Level, MAX_LEVELS};
use mam_feed::recv::seq::Verdict;
use mam_feed::recv::{Delivered, Framing, MamSbeFraming};
use mam_feed::sbe::msg::{Depth, DepthLevel, Encode, Quote, Trade};
use mam_feed::sbe::{decode, PacketBuilder};
use proptest::prelude::*;

#[test]
fn ewma_is_exact() {
    // span 3: α = 1/2 exactly.
    let mut e = EwmaVar::with_span(3);
    assert_eq!(e.alpha(), U96F32::from_num(1) / 2);
    e.update(Price(100));
    assert_eq!(e.variance(), U96F32::ZERO);
    e.update(Price(102)); // d² = 4: v = 0.5·0 + 0.5·4
    assert_eq!(e.variance(), U96F32::from_num(2));
    e.update(Price(100)); // v = 0.5·2 + 0.5·4
    assert_eq!(e.variance(), U96F32::from_num(3));
    e.update(Price(100)); // v = 1.5
    assert_eq!(e.variance(), U96F32::from_num(3) / 2);
    assert_eq!(e.stdev(), Price(1));
    assert_eq!(e.updates(), 3);
    // Huge moves saturate instead of wrapping.
    let mut e = EwmaVar::with_span(1);
    e.update(Price(i64::MIN + 1));
    e.update(Price(i64::MAX));
    assert_eq!(e.variance(), U96F32::MAX);
}

fn quote(t: u64, lp: u16, bid: i64, ask: i64) -> Quote {
    Quote {
        time_ns: t,
        instrument: 0,
        lp,
        flags: 0,
        bid: Some(Price(bid)),
        ask: Some(Price(ask)),
        bid_size: Some(Qty(1_000_000)),
        ask_size: Some(Qty(2_000_000)),
    }
}

fn packet(seq: u64, msgs: &[&dyn Encode]) -> Vec<u8> {
    let mut b = PacketBuilder::new("T", seq, 1472);
    for m in msgs {
        assert!(b.push(*m));
    }
    b.finish()
}

#[test]
fn messages_become_events_and_book_state() {
    let mut books = FxBooks::new(32);
    let depth = Depth {
        time_ns: 1,
        instrument: 0,
        lp: 1,
        levels: (0..3)
            .map(|i| DepthLevel {
                level: i,
                bid: Some(Price(110_000 - i64::from(i) * 10)),
                ask: Some(Price(110_020 + i64::from(i) * 10)),
                bid_size: Some(Qty(5)),
                ask_size: Some(Qty(6)),
            })
            .collect(),
    };
    let trade = Trade {
        time_ns: 3,
        instrument: 0,
        lp: 1,
        aggressor: 1,
        price: Price(110_020),
        size: Some(Qty(5)),
        trade_id: 1,
    };
    let q = quote(2, 1, 110_005, 110_025);
    let p = packet(10, &[&depth, &q, &trade]);
    let mut evs: Vec<MarketEvent> = Vec::new();
    let h = MamSbeFraming.header(&p).unwrap();
    let d = Delivered {
        recv_ns: 99,
        kernel_ns: None,
        payload: &p,
        header: h,
        verdict: Verdict::Gap {
            first_missing: 4,
            missing: 6,
        },
        skip: 0,
    };
    books.apply_delivered(&d, &mut |e| evs.push(e));
    let kinds: Vec<_> = evs
        .iter()
        .map(|e| MarketEventKind::from_u8(e.kind).unwrap())
        .collect();
    let k = |x| MarketEventKind::from_u8(x).unwrap();
    let (g, d_, q_, t_) = (k(6), k(3), k(1), k(2));
    assert_eq!(kinds, [g, d_, d_, d_, q_, t_]);
    assert_eq!(evs[0].seq, 4);
    assert_eq!((evs[1].seq, evs[4].seq, evs[5].seq), (10, 11, 12));
    assert_eq!(evs[4].recv_ns, 99);
    assert_eq!(
        (evs[3].level, evs[3].bid, evs[3].ask),
        (2, Price(109_980), Price(110_040))
    );
    let b = books.book(0, 1).unwrap();
    // The quote replaced the top; deeper levels strictly worse than it stayed.
    assert_eq!(
        b.bids().iter().map(|l| l.price.0).collect::<Vec<_>>(),
        [110_005, 109_990, 109_980]
    );
    assert_eq!(
        b.asks().iter().map(|l| l.price.0).collect::<Vec<_>>(),
        [110_025, 110_030, 110_040]
    );
    assert_eq!(b.spread(), Some(Price(20)));
    assert_eq!(b.mid(), Some(Price(110_015)));
    assert_eq!(b.last_trade, Some((Price(110_020), Qty(5), 3)));
    // Overlap skip: delivering with skip = 2 applies only the trade.
    let mut n = 0;
    let d2 = Delivered {
        skip: 2,
        verdict: Verdict::Overlap { skip: 2 },
        ..d
    };
    books.apply_delivered(&d2, &mut |_| n += 1);
    assert_eq!(n, 1);
}

#[test]
fn malformed_depth_is_refused_whole() {
    let mut books = FxBooks::new(32);
    let lv = |p: i64, s: i64| Level {
        price: Price(p),
        size: Qty(s),
    };
    books
        .apply_depth(0, 1, 1, &[lv(10, 1), lv(9, 1)], &[lv(11, 1)])
        .unwrap();
    let before = books.book(0, 1).unwrap().clone();
    assert!(books
        .apply_depth(0, 1, 2, &[lv(9, 1), lv(10, 1)], &[])
        .is_err());
    assert!(books.apply_depth(0, 1, 2, &[lv(10, 0)], &[]).is_err());
    assert!(books
        .apply_depth(0, 1, 2, &[], &[lv(12, 1), lv(12, 1)])
        .is_err());
    assert_eq!(books.book(0, 1).unwrap(), &before);
    assert_eq!(books.refused, 3);
}

#[test]
fn converted_eurusd_day_through_the_books() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d.pcap");
    let src = mam_core::shared_data::expect_shared("dukascopy/EURUSD-2019-02-04");
    mam_feed::dukascopy::convert::convert_path(
        &src,
        &out,
        mam_feed::dukascopy::convert::ConvertOptions::for_symbol("EURUSD"),
    )
    .unwrap();
    let data = mam_feed::replay::load_udp(&out).unwrap().datagrams;
    let run = || {
        let mut books = FxBooks::new(32);
        let mut quotes = 0u64;
        let mut last = MarketEvent::default();
        for dg in &data {
            let h = MamSbeFraming.header(&dg.payload).unwrap();
            let d = Delivered {
                recv_ns: 0,
                kernel_ns: None,
                payload: &dg.payload,
                header: h,
                verdict: Verdict::InOrder,
                skip: 0,
            };
            books.apply_delivered(&d, &mut |e| {
                if e.kind == MarketEventKind::Quote as u8 {
                    quotes += 1;
                    last = e;
                }
            });
        }
        (books, quotes, last)
    };
    let (books, quotes, last) = run();
    assert_eq!(quotes, 136_741);
    assert_eq!(books.undecodable, 0);
    let b = books.book(0, 1).unwrap();
    assert_eq!(
        (b.best_bid().unwrap().price, b.best_ask().unwrap().price),
        (last.bid, last.ask)
    );
    assert_eq!(b.spread().unwrap(), Price(last.ask.0 - last.bid.0));
    assert_eq!(b.vol.updates(), 136_740);
    // EURUSD mid moves are a fraction of a pip: σ between 0.000001 and 0.0005.
    let s = b.vol.stdev();
    assert!(
        s > Price::parse("0.000001").unwrap() && s < Price::parse("0.0005").unwrap(),
        "{s}"
    );
    // Determinism: a second run gives the very same bits.
    let (books2, _, _) = run();
    assert_eq!(books2.book(0, 1).unwrap().vol, b.vol);
}

#[derive(Debug, Clone)]
enum Op {
    Quote(u16, Option<i64>, Option<i64>),
    Depth(u16, Vec<i64>, Vec<i64>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (
            0u16..3,
            proptest::option::of(90i64..110),
            proptest::option::of(95i64..115)
        )
            .prop_map(|(l, b, a)| Op::Quote(l, b, a)),
        (
            0u16..3,
            proptest::collection::vec(80i64..120, 0..14),
            proptest::collection::vec(80i64..120, 0..14)
        )
            .prop_map(|(l, b, a)| Op::Depth(l, b, a)),
    ]
}

fn apply(books: &mut FxBooks, ops: &[Op]) {
    for (t, o) in ops.iter().enumerate() {
        let t = t as u64;
        match o {
            Op::Quote(lp, b, a) => {
                let q = Quote {
                    time_ns: t,
                    instrument: 0,
                    lp: *lp,
                    flags: 0,
                    bid: b.map(Price),
                    ask: a.map(Price),
                    bid_size: Some(Qty(1)),
                    ask_size: Some(Qty(1)),
                };
                let mut buf = vec![0u8; q.encoded_len()];
                q.encode(&mut buf);
                books.apply(&decode(&buf).unwrap(), 0, t, &mut |_| {});
            }
            Op::Depth(lp, b, a) => {
                let lv = |v: &Vec<i64>| {
                    v.iter()
                        .map(|&p| Level {
                            price: Price(p),
                            size: Qty(1),
                        })
                        .collect::<Vec<_>>()
                };
                let _ = books.apply_depth(0, *lp, t, &lv(b), &lv(a));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn book_invariants(ops in proptest::collection::vec(op(), 0..60)) {
        let mut books = FxBooks::new(16);
        apply(&mut books, &ops);
        for b in books.iter() {
            prop_assert!(b.bids().len() <= MAX_LEVELS && b.asks().len() <= MAX_LEVELS);
            prop_assert!(b.bids().windows(2).all(|w| w[0].price > w[1].price));
            prop_assert!(b.asks().windows(2).all(|w| w[0].price < w[1].price));
            match (b.best_bid(), b.best_ask()) {
                (Some(bb), Some(ba)) => {
                    prop_assert_eq!(b.spread(), Some(Price(ba.price.0 - bb.price.0)));
                    let m = b.mid().unwrap();
                    prop_assert!(m >= bb.price.min(ba.price) && m <= bb.price.max(ba.price));
                    prop_assert!((2 * m.0 - bb.price.0 - ba.price.0).abs() <= 1);
                }
                _ => {
                    prop_assert_eq!(b.spread(), None);
                    prop_assert_eq!(b.mid(), None);
                }
            }
        }
    }

    #[test]
    fn ewma_is_deterministic_and_order_independent_across_books(ops in proptest::collection::vec(op(), 0..60)) {
        let mut a = FxBooks::new(8);
        let mut b = FxBooks::new(8);
        apply(&mut a, &ops);
        apply(&mut b, &ops);
        for x in a.iter() {
            prop_assert_eq!(Some(x), b.book(x.instrument, x.source));
        }
        // Each source's book depends only on its own updates: feeding one LP's ops alone gives
        // the same book for that LP.
        for lp in 0u16..3 {
            let mine: Vec<Op> = ops.iter().filter(|o| matches!(o, Op::Quote(l, ..) | Op::Depth(l, ..) if *l == lp)).cloned().collect();
            let mut c = FxBooks::new(8);
            apply(&mut c, &mine);
            let (x, y) = (a.book(0, lp).map(|b| (b.bids().to_vec(), b.asks().to_vec(), b.vol)),
                          c.book(0, lp).map(|b| (b.bids().to_vec(), b.asks().to_vec(), b.vol)));
            prop_assert_eq!(x, y);
        }
    }
}
