//! The conversion: every field of `docs/daemon.md`'s table, each refusal with its reply, and
//! property tests (arbitrary values never panic; valid orders keep their numbers exactly).

use mam_core::engine::input::{model_code, Input, CLOSE_FULL, MODE_BLOCK, MODE_PER_ACCOUNT};
use mam_core::num::{Lots, Money, Price};
use mam_core::symbol::SymbolTable;
use proptest::prelude::*;

use super::convert::*;
use crate::fix::decode::{Decoder, RejectReason};

/// A whole message from `|`-separated body fields (header added here).
fn wire(msg_type: &str, fields: &[(u32, String)]) -> Vec<u8> {
    let mut body =
        format!("35={msg_type}\x0149=MGR\x0156=MAM\x0134=7\x0152=20260101-00:00:00.000\x01");
    for (t, v) in fields {
        body.push_str(&format!("{t}={v}\x01"));
    }
    crate::fix::decode::fix44_message(&body)
}

fn f(t: u32, v: &str) -> (u32, String) {
    (t, v.to_string())
}

fn open_fields() -> Vec<(u32, String)> {
    vec![
        f(11, "42"),
        f(55, "EURUSD"),
        f(54, "1"),
        f(38, "137000"),
        f(40, "2"),
        f(44, "1.10123"),
        f(60, "20260101-10:00:00.123456"),
    ]
}

fn convert(msg_type: &str, fields: &[(u32, String)]) -> Result<Input, MasterRefusal> {
    let w = wire(msg_type, fields);
    let mut d = Decoder::new();
    let m = d.decode(&w).expect("test message decodes");
    master_from_nos(&m, &SymbolTable::builtin(), &MasterDefaults::default()).map(|c| c.input)
}

fn with(mut base: Vec<(u32, String)>, t: u32, v: Option<&str>) -> Vec<(u32, String)> {
    base.retain(|(k, _)| *k != t);
    if let Some(v) = v {
        base.push(f(t, v));
    }
    base
}

#[test]
fn open_converts_exactly() {
    let Input::Open(o) = convert("D", &open_fields()).unwrap() else {
        panic!("not an open")
    };
    assert_eq!(o.ticket, 42);
    assert_eq!(o.lots, Lots::parse("1.37").unwrap());
    assert_eq!(o.limit_price, Price::parse("1.10123").unwrap());
    assert_eq!(o.ts_ns, 1_767_261_600_123_456_000);
    assert_eq!(
        o.instrument,
        SymbolTable::builtin().id_of("EURUSD").unwrap()
    );
    assert_eq!(
        (o.side, o.model, o.policy, o.mode),
        (1, model_code::EQUITY, 0, MODE_BLOCK)
    );
    let fields = [
        open_fields(),
        vec![
            f(5101, "risk"),
            f(5102, "per-account"),
            f(5104, "up"),
            f(5105, "0.0025"),
            f(5106, "10000.5"),
            f(77, "O"),
        ],
    ]
    .concat();
    let Input::Open(o) = convert("D", &with(fields, 40, Some("1"))).unwrap() else {
        panic!("not an open")
    };
    assert_eq!(
        (o.model, o.mode, o.policy),
        (model_code::RISK, MODE_PER_ACCOUNT, 1)
    );
    assert_eq!(o.sl_distance, Price::parse("0.0025").unwrap());
    assert_eq!(o.reference, Money::parse("10000.5").unwrap());
    assert_eq!(o.limit_price, Price::ZERO, "a market order has no limit");
}

#[test]
fn close_and_close_all() {
    let close = |extra: &[(u32, String)]| {
        let mut v = open_fields();
        v[0] = f(11, "9");
        v.push(f(77, "C"));
        v.push(f(41, "42"));
        v.extend_from_slice(extra);
        convert("D", &v)
    };
    let Input::Close(c) = close(&[]).unwrap() else {
        panic!("not a close")
    };
    assert_eq!(
        (c.ticket, c.lots, c.full),
        (42, Lots::parse("1.37").unwrap(), 0)
    );
    let Input::Close(c) = close(&[f(5103, "Y"), f(38, "1")]).unwrap() else {
        panic!("not a close")
    };
    assert_eq!((c.ticket, c.full, c.lots), (42, CLOSE_FULL, Lots::ZERO));
    assert!(matches!(
        close(&[f(5103, "X")]),
        Err(MasterRefusal::Order {
            code: OrdRejReason::Other,
            tag: 5103,
            ..
        })
    ));
}

fn session(r: Result<Input, MasterRefusal>) -> (RejectReason, u32) {
    match r {
        Err(MasterRefusal::Session { reason, tag, .. }) => (reason, tag),
        other => panic!("expected a session reject, got {other:?}"),
    }
}

fn order(r: Result<Input, MasterRefusal>) -> (u32, u32) {
    match r {
        Err(MasterRefusal::Order { code, tag, .. }) => (code.code(), tag),
        other => panic!("expected an order reject, got {other:?}"),
    }
}

#[test]
fn each_bad_field_gets_its_reply() {
    let b = open_fields;
    assert_eq!(order(convert("D", &with(b(), 55, Some("NOPE")))), (1, 55));
    assert_eq!(order(convert("D", &with(b(), 38, Some("1500")))), (13, 38));
    assert_eq!(
        order(convert("D", &with(b(), 38, Some("100000.5")))),
        (13, 38)
    );
    assert_eq!(order(convert("D", &with(b(), 11, Some("abc")))), (99, 11));
    assert_eq!(order(convert("D", &with(b(), 11, Some("0")))), (99, 11));
    assert_eq!(
        order(convert("D", &with(b(), 44, Some("1.101234")))),
        (99, 44)
    );
    assert_eq!(
        order(convert("D", &with(b(), 5101, Some("magic")))),
        (99, 5101)
    );
    assert_eq!(order(convert("D", &with(b(), 5102, Some("x")))), (99, 5102));
    assert_eq!(
        order(convert("D", &with(b(), 5104, Some("down")))),
        (99, 5104)
    );
    assert_eq!(
        order(convert("D", &with(b(), 5101, Some("risk")))),
        (99, 5105)
    );
    assert_eq!(
        order(convert("D", &with(b(), 5101, Some("equity-ratio")))),
        (99, 5106)
    );
    assert_eq!(order(convert("D", &with(b(), 5103, Some("Y")))), (99, 5103));
    let missing = RejectReason::RequiredTagMissing;
    assert_eq!(session(convert("D", &with(b(), 55, None))), (missing, 55));
    assert_eq!(session(convert("D", &with(b(), 44, None))), (missing, 44));
    assert_eq!(session(convert("D", &with(b(), 60, None))), (missing, 60));
    assert_eq!(
        session(convert("D", &with(b(), 60, Some("2026-01-01")))),
        (RejectReason::IncorrectDataFormat, 60)
    );
    assert_eq!(
        session(convert("D", &with(b(), 38, Some("1x")))),
        (RejectReason::IncorrectDataFormat, 38)
    );
    assert_eq!(
        session(convert("D", &with(b(), 44, Some("1.000000001")))),
        (RejectReason::ValueIncorrect, 44)
    );
    assert_eq!(
        session(convert("D", &with(b(), 77, Some("X")))),
        (RejectReason::ValueIncorrect, 77)
    );
    assert_eq!(
        session(convert("D", &with(b(), 77, Some("C")))),
        (missing, 41)
    );
    let r = convert("D", &with(b(), 55, Some("NOPE"))).unwrap_err();
    assert!(r.to_string().contains("tag 55 = `NOPE`"), "{r}");
}

fn tss(fields: &[(u32, String)]) -> Result<u64, MasterRefusal> {
    let w = wire("h", fields);
    let mut d = Decoder::new();
    let m = d.decode(&w).unwrap();
    watermark_from_tss(&m)
}

#[test]
fn trading_session_status_is_a_watermark() {
    let open = [f(336, "MAM"), f(340, "2"), f(60, "20260101-10:00:01")];
    assert_eq!(tss(&open), Ok(1_767_261_601_000_000_000));
    assert_eq!(tss(&[f(336, "MAM"), f(340, "3")]), Ok(u64::MAX));
    let bad = |fields: &[(u32, String)]| match tss(fields) {
        Err(MasterRefusal::Session { reason, tag, .. }) => (reason.code(), tag),
        other => panic!("{other:?}"),
    };
    assert_eq!(bad(&[f(340, "2")]), (1, 336));
    assert_eq!(bad(&[f(336, "X"), f(340, "2")]), (5, 336));
    assert_eq!(bad(&[f(336, "MAM"), f(340, "2")]), (1, 60));
    assert_eq!(bad(&[f(336, "MAM"), f(340, "1")]), (5, 340));
    assert_eq!(bad(&[f(336, "MAM"), f(340, "z")]), (6, 340));
}

const TAGS: [u32; 16] = [
    11, 77, 41, 55, 54, 38, 40, 44, 60, 5101, 5102, 5103, 5104, 5105, 5106, 336,
];

proptest! {
    #[test]
    fn arbitrary_fields_never_panic(
        vals in proptest::collection::vec(
            (0usize..TAGS.len(), proptest::string::string_regex("[ -~]{1,24}").unwrap()),
            0..14,
        ),
    ) {
        let fields: Vec<(u32, String)> = vals
            .into_iter()
            .map(|(i, v)| (TAGS[i], v.replace('\u{1}', "x")))
            .collect();
        let w = wire("D", &fields);
        let mut d = Decoder::new();
        if let Ok(m) = d.decode(&w) {
            let _ = master_from_nos(&m, &SymbolTable::builtin(), &MasterDefaults::default());
            let _ = watermark_from_tss(&m);
        }
    }

    #[test]
    fn valid_orders_keep_their_numbers(
        sym in 0u32..13,
        steps in 1i64..1_000_000,
        price_units in 1i64..10_000_000,
        ts_us in 0u64..4_000_000_000_000_000,
        ticket in 1u64..=mam_core::engine::lifecycle::record::MAX_CL_ORD_ID,
        sell in any::<bool>(),
    ) {
        let table = SymbolTable::builtin();
        let spec = *table.by_id(sym).unwrap();
        let lots = spec.lot_step.checked_mul_int(steps).unwrap();
        let qty = spec.lots_to_qty(lots).unwrap();
        let price = Price(price_units * 10i64.pow(Price::DECIMALS - spec.price_decimals));
        let mut ts = [0u8; 27];
        let secs = ts_us / 1_000_000;
        let mut head = [0u8; crate::fix::time::TS_LEN];
        crate::fix::time::format_utc(secs * 1_000_000_000, &mut head);
        ts[..17].copy_from_slice(&head[..17]);
        let frac = format!(".{:06}", ts_us % 1_000_000);
        ts[17..24].copy_from_slice(frac.as_bytes());
        let tt = String::from_utf8(ts[..24].to_vec()).unwrap();
        let fields = vec![
            f(11, &ticket.to_string()),
            f(55, spec.name_str()),
            f(54, if sell { "2" } else { "1" }),
            f(38, &qty.to_string()),
            f(40, "2"),
            f(44, &price.to_string()),
            f(60, &tt),
        ];
        let w = wire("D", &fields);
        let mut d = Decoder::new();
        let m = d.decode(&w).unwrap();
        let got = master_from_nos(&m, &table, &MasterDefaults::default()).map(|c| c.input);
        let Ok(Input::Open(o)) = got else {
            return Err(TestCaseError::fail(format!("{got:?}")));
        };
        prop_assert_eq!(o.lots, lots);
        prop_assert_eq!(o.limit_price, price);
        prop_assert_eq!(o.ts_ns, ts_us * 1000);
        prop_assert_eq!(o.ticket, ticket);
        prop_assert_eq!(o.instrument, sym);
        prop_assert_eq!(o.side, if sell { 2 } else { 1 });
    }
}

/// Manager 2's ids go to the engine in its own id space; manager 0's stay as sent.
#[test]
fn ids_are_scoped_by_the_managers_number() {
    use mam_core::engine::input::{manager_of_order, MasterCancel, MAX_CL_ORD_ID};
    let Ok(Input::Open(o)) = convert("D", &open_fields()) else {
        panic!("converts");
    };
    let mut i = Input::Open(o);
    scope_input(&mut i, 0);
    assert_eq!(i, Input::Open(o), "manager 0: unchanged");
    scope_input(&mut i, 2);
    let Input::Open(s) = i else { unreachable!() };
    assert_eq!(
        (manager_of_order(s.ticket), s.ticket & MAX_CL_ORD_ID),
        (2, 42)
    );
    let mut c = Input::Cancel(MasterCancel {
        ts_ns: 1,
        order_id: 42,
        cancel_id: 43,
    });
    scope_input(&mut c, 2);
    let Input::Cancel(c) = c else { unreachable!() };
    assert_eq!(
        (manager_of_order(c.order_id), manager_of_order(c.cancel_id)),
        (2, 2)
    );
    // A ClOrdID that would reach into the manager bits is refused at the edge.
    let big = (MAX_CL_ORD_ID + 1).to_string();
    let e = convert("D", &with(open_fields(), 11, Some(&big))).unwrap_err();
    assert!(e.to_string().contains("72057594037927935"), "{e}");
}
