//! The binary edge's conversion against the FIX edge's: the same order gives the same engine
//! inputs or the same refusal (field and reply), arbitrary blocks never panic, and each bad
//! binary field gets its MasterReject.

use mam_core::num::{Money, Price, Qty};
use mam_core::symbol::SymbolTable;
use proptest::prelude::*;

use super::convert::{master_from_binary, reject_of};
use crate::binary::codec::Template;
use crate::binary::master_msg::{self as msg, symbol_field, MasterOrder};
use crate::fix::decode::Decoder;
use crate::manager::convert::{master_from_nos, MasterDefaults, MasterRefusal, MODEL_NAMES};

const T: u64 = 1_767_261_600_123_456_000; // 2026-01-01 10:00:00.123456

fn fix(fields: &[(u32, String)]) -> Result<crate::manager::rules::Converted, MasterRefusal> {
    let mut body = "35=D\x0149=MGR\x0156=MAM\x0134=7\x0152=20260101-00:00:00.000\x01".to_string();
    for (t, v) in fields {
        body.push_str(&format!("{t}={v}\x01"));
    }
    let w = crate::fix::decode::fix44_message(&body);
    let mut d = Decoder::new();
    let m = d.decode(&w).expect("test message decodes");
    master_from_nos(&m, &SymbolTable::builtin(), &MasterDefaults::default())
}

fn binary(o: &MasterOrder) -> Result<crate::manager::rules::Converted, MasterRefusal> {
    master_from_binary(o, &SymbolTable::builtin(), &MasterDefaults::default())
}

/// One order in both protocols.
#[derive(Debug, Clone)]
struct Both {
    fix: Vec<(u32, String)>,
    bin: MasterOrder,
}

fn order() -> impl Strategy<Value = Both> {
    (
        1u64..1 << 57,
        1i64..40,
        any::<bool>(),
        prop::option::of(110_000i64..120_000),
        0usize..MODEL_NAMES.len() + 1,
        0u8..3,
        any::<bool>(),
        prop::option::of(100_000i64..130_000),
        prop::option::of(1u64..50),
        any::<bool>(),
        prop::option::of(1i64..1_000),
    )
        .prop_map(
            |(id, steps, sell, px, model, routing, hold, sl, close, close_all, odd)| {
                // A size that is whole lot steps (1,000 units), or `odd` units off it.
                let units = steps * 1_000 + odd.unwrap_or(0) * 7;
                let price = px.map(|p| Price(p * 1_000)); // 5 decimals, or more when odd below
                let sl = sl.map(|p| Price(p * 1_000 + i64::from(odd.is_some())));
                let mut fix = vec![
                    (11, id.to_string()),
                    (55, "EURUSD".to_string()),
                    (54, if sell { "2" } else { "1" }.to_string()),
                    (38, units.to_string()),
                    (60, "20260101-10:00:00.123456".to_string()),
                ];
                let mut bin = MasterOrder {
                    cl_ord_id: id,
                    transact_time_ns: T,
                    qty: Qty(units * 1_000_000),
                    price,
                    symbol: symbol_field("EURUSD"),
                    side: if sell { 2 } else { 1 },
                    ord_type: if price.is_some() { 2 } else { 1 },
                    ..MasterOrder::default()
                };
                fix.push((40, if price.is_some() { "2" } else { "1" }.to_string()));
                if let Some(p) = price {
                    fix.push((44, p.to_string()));
                }
                if let Some((name, code)) = MODEL_NAMES.get(model) {
                    fix.push((5101, name.to_string()));
                    bin.model = *code;
                }
                if routing > 0 {
                    fix.push((
                        5102,
                        ["block", "per-account"][usize::from(routing - 1)].into(),
                    ));
                    bin.routing = routing;
                }
                if hold {
                    fix.push((5109, "Y".into()));
                    bin.hold = b'Y';
                }
                if let Some(p) = sl {
                    fix.push((5107, p.to_string()));
                    bin.stop_loss = Some(p);
                }
                if let Some(t) = close {
                    fix.push((77, "C".into()));
                    fix.push((41, t.to_string()));
                    bin.position_effect = msg::CLOSE;
                    bin.orig_cl_ord_id = t;
                    if close_all {
                        fix.push((5103, "Y".into()));
                        bin.close_all = b'Y';
                    }
                }
                if matches!(MODEL_NAMES.get(model), Some(("risk", _))) {
                    fix.push((5105, "0.0020".into()));
                    bin.stop_distance = Some(Price::parse("0.0020").unwrap());
                }
                if matches!(
                    MODEL_NAMES.get(model),
                    Some(("balance-ratio" | "equity-ratio", _))
                ) {
                    fix.push((5106, "25000".into()));
                    bin.reference = Some(Money::parse("25000").unwrap());
                }
                Both { fix, bin }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// The same order over either protocol: the same inputs, or a refusal of the same kind
    /// naming the same field.
    #[test]
    fn binary_and_fix_agree(b in order()) {
        match (fix(&b.fix), binary(&b.bin)) {
            (Ok(f), Ok(x)) => prop_assert_eq!(f, x),
            (Err(f), Err(x)) => {
                prop_assert_eq!(f.tag(), x.tag(), "{} / {}", f, x);
                prop_assert_eq!(
                    std::mem::discriminant(&f),
                    std::mem::discriminant(&x),
                    "{} / {}", f, x
                );
            }
            (f, x) => prop_assert!(false, "FIX {:?} but binary {:?}", f, x),
        }
    }

    /// Any block, any values: a conversion or a refusal, never a panic; a refusal's reject
    /// names a field and says why.
    #[test]
    fn arbitrary_blocks_never_panic(bytes in proptest::collection::vec(any::<u8>(), 112)) {
        let mut block = [0u8; 112];
        block.copy_from_slice(&bytes);
        let o = MasterOrder::read(&block);
        if let Err(r) = binary(&o) {
            let j = reject_of(&r, Template::MasterOrder as u16, 3, o.cl_ord_id, 0);
            prop_assert!(!j.text_str().is_empty());
            prop_assert!(matches!(j.kind, msg::REJECT_MALFORMED | msg::REJECT_ORDER));
        }
    }
}

#[test]
fn each_bad_binary_field_gets_its_reject() {
    let good = MasterOrder {
        cl_ord_id: 42,
        transact_time_ns: T,
        qty: Qty::parse("137000").unwrap(),
        price: Some(Price::parse("1.10123").unwrap()),
        symbol: symbol_field("EURUSD"),
        side: 1,
        ord_type: 2,
        ..MasterOrder::default()
    };
    assert!(binary(&good).is_ok());
    for (bad, kind, reason, tag) in [
        (
            MasterOrder {
                transact_time_ns: 0,
                ..good
            },
            msg::REJECT_MALFORMED,
            1,
            60,
        ),
        (
            MasterOrder { side: 0, ..good },
            msg::REJECT_MALFORMED,
            5,
            54,
        ),
        (
            MasterOrder {
                ord_type: 4,
                ..good
            },
            msg::REJECT_MALFORMED,
            5,
            40,
        ),
        (
            MasterOrder {
                price: None,
                ..good
            },
            msg::REJECT_MALFORMED,
            1,
            44,
        ),
        (
            MasterOrder {
                qty: Qty::ZERO,
                ..good
            },
            msg::REJECT_MALFORMED,
            5,
            38,
        ),
        (
            MasterOrder {
                position_effect: b'X',
                ..good
            },
            msg::REJECT_MALFORMED,
            5,
            77,
        ),
        (
            MasterOrder {
                position_effect: b'C',
                ..good
            },
            msg::REJECT_MALFORMED,
            1,
            41,
        ),
        (
            MasterOrder {
                cl_ord_id: 0,
                ..good
            },
            msg::REJECT_ORDER,
            99,
            11,
        ),
        (
            MasterOrder {
                cl_ord_id: 1 << 56,
                ..good
            },
            msg::REJECT_ORDER,
            99,
            11,
        ),
        (
            MasterOrder {
                symbol: symbol_field("NOPE"),
                ..good
            },
            msg::REJECT_ORDER,
            1,
            55,
        ),
        (
            MasterOrder {
                qty: Qty::parse("137001").unwrap(),
                ..good
            },
            msg::REJECT_ORDER,
            13,
            38,
        ),
        (
            MasterOrder {
                price: Some(Price::parse("1.101235").unwrap()),
                ..good
            },
            msg::REJECT_ORDER,
            99,
            44,
        ),
        (
            MasterOrder { model: 10, ..good },
            msg::REJECT_ORDER,
            99,
            5101,
        ),
        (
            MasterOrder { model: 7, ..good },
            msg::REJECT_ORDER,
            99,
            5105,
        ),
        (
            MasterOrder { routing: 3, ..good },
            msg::REJECT_ORDER,
            99,
            5102,
        ),
        (
            MasterOrder {
                min_lot_policy: 9,
                ..good
            },
            msg::REJECT_ORDER,
            99,
            5104,
        ),
        (
            MasterOrder {
                close_all: b'Y',
                ..good
            },
            msg::REJECT_ORDER,
            99,
            5103,
        ),
        (
            MasterOrder { hold: b'?', ..good },
            msg::REJECT_ORDER,
            99,
            5109,
        ),
        (
            MasterOrder {
                ord_type: 1,
                hold: b'Y',
                ..good
            },
            msg::REJECT_ORDER,
            99,
            5109,
        ),
        (
            MasterOrder {
                stop_loss: Some(Price::ZERO),
                ..good
            },
            msg::REJECT_ORDER,
            99,
            5107,
        ),
        (
            MasterOrder {
                reference: Some(Money::ZERO),
                ..good
            },
            msg::REJECT_ORDER,
            99,
            5106,
        ),
    ] {
        let r = binary(&bad).expect_err("refused");
        let j = reject_of(&r, Template::MasterOrder as u16, 9, bad.cl_ord_id, 0);
        assert_eq!((j.kind, j.reason, j.ref_tag_id), (kind, reason, tag), "{r}");
        assert_eq!(j.ref_seq_no, 9);
        assert!(
            j.text_str().starts_with(&format!("tag {tag} = ")),
            "{}",
            j.text_str()
        );
    }
    // On a cancel or replace, an order refusal is the cancel-reject kind.
    let r = super::convert::cancel_from_binary(&msg::MasterCancel {
        cl_ord_id: 0,
        orig_cl_ord_id: 5,
        transact_time_ns: T,
    })
    .expect_err("refused");
    let j = reject_of(&r, Template::MasterCancel as u16, 10, 0, 5);
    assert_eq!(
        (j.kind, j.reason, j.ref_tag_id),
        (msg::REJECT_CANCEL, 99, 11)
    );
}

/// After a crash, the daemon sends the reports the journal holds after the last one the
/// binary store holds as sent: the highest ExecID among the stored MasterReports (rejects and
/// other messages in between do not count); no store, nothing owed.
#[test]
fn reported_up_to_reads_the_highest_exec_id_sent() {
    use crate::binary::codec::{AppMessage, MAX_MESSAGE_LEN};
    use crate::binary::master_msg::{MasterReject, MasterReport};
    use crate::binary::store::SeqStore;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("binary-manager-1.store");
    assert_eq!(super::report::reported_up_to(&path, 7, 8).unwrap(), None);
    drop(SeqStore::open(&path, 7, 8).unwrap());
    assert_eq!(super::report::reported_up_to(&path, 7, 8).unwrap(), Some(0));
    let mut store = SeqStore::open(&path, 7, 8).unwrap();
    let msgs = [
        AppMessage::MasterReport(MasterReport {
            exec_id: 40,
            ..MasterReport::default()
        }),
        AppMessage::MasterReject(MasterReject::default()),
        AppMessage::MasterReport(MasterReport {
            exec_id: 41,
            ..MasterReport::default()
        }),
        AppMessage::MasterReject(MasterReject::default()),
    ];
    for m in msgs {
        let mut slot = [0u8; MAX_MESSAGE_LEN];
        let seq = store.next_out();
        let n = m.encode(seq, &mut slot).unwrap();
        store.append_out(seq, &slot[..n]).unwrap();
    }
    drop(store);
    assert_eq!(
        super::report::reported_up_to(&path, 7, 8).unwrap(),
        Some(41)
    );
}

/// The property test's two outcomes, once each by hand: an order both edges accept converts
/// to the same inputs (here with its own SL, so two inputs), and one both refuse is refused
/// on the same field.
#[test]
fn one_order_both_ways() {
    let fix_fields = |qty: &str| {
        vec![
            (11, "42".to_string()),
            (55, "EURUSD".to_string()),
            (54, "2".to_string()),
            (38, qty.to_string()),
            (40, "2".to_string()),
            (44, "1.10123".to_string()),
            (5107, "1.11".to_string()),
            (5102, "per-account".to_string()),
            (60, "20260101-10:00:00.123456".to_string()),
        ]
    };
    let bin = |qty: &str| MasterOrder {
        cl_ord_id: 42,
        transact_time_ns: T,
        qty: Qty::parse(qty).unwrap(),
        price: Some(Price::parse("1.10123").unwrap()),
        stop_loss: Some(Price::parse("1.11").unwrap()),
        routing: msg::ROUTING_PER_ACCOUNT,
        symbol: symbol_field("EURUSD"),
        side: 2,
        ord_type: 2,
        ..MasterOrder::default()
    };
    let (f, b) = (fix(&fix_fields("137000")), binary(&bin("137000")));
    assert!(f.as_ref().is_ok_and(|c| c.then.is_some()), "{f:?}");
    assert_eq!(f, b);
    let (f, b) = (fix(&fix_fields("137500")), binary(&bin("137500")));
    assert_eq!(f.unwrap_err().tag(), 38);
    assert_eq!(b.unwrap_err().tag(), 38);
}
