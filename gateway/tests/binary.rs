//! Binary order-entry codec: round trips, agreement with the schema XML, and fuzzing.

use mam_core::event::{ExecStatus, OrdType, Side};
use mam_core::num::{Price, Qty};
use mam_gateway::binary::codec::{
    decode, AppMessage, CancelOrder, DecodeError, ExecutionReport, Message, NewOrder,
    SessionMessage, Template, HEADER_LEN, MAX_MESSAGE_LEN,
};
use mam_gateway::binary::SCHEMA_XML;
use proptest::prelude::*;

fn order() -> NewOrder {
    NewOrder {
        cl_ord_id: 0x1122_3344_5566_7788,
        account: 42,
        instrument: 7,
        price: "1.10005".parse().unwrap(),
        qty: "10000".parse().unwrap(),
        side: Side::Sell,
        ord_type: OrdType::Limit,
    }
}

fn report() -> ExecutionReport {
    ExecutionReport {
        cl_ord_id: 9,
        exec_id: 77,
        last_qty: "2500.5".parse().unwrap(),
        last_px: "155.123".parse().unwrap(),
        cum_qty: "2500.5".parse().unwrap(),
        leaves_qty: "7499.5".parse().unwrap(),
        ord_status: ExecStatus::PartiallyFilled,
        reject_reason: 0,
        transact_time_ns: 1_700_000_000_000_000_001,
    }
}

#[test]
fn app_messages_round_trip_in_place() {
    let msgs = [
        AppMessage::NewOrder(order()),
        AppMessage::CancelOrder(CancelOrder {
            cl_ord_id: 10,
            orig_cl_ord_id: 9,
            account: 1,
            instrument: 2,
            side: Side::Buy,
        }),
        AppMessage::ExecutionReport(report()),
    ];
    for (i, m) in msgs.iter().enumerate() {
        let mut slot = [0xAAu8; MAX_MESSAGE_LEN];
        let n = m.encode(100 + i as u64, &mut slot).unwrap();
        assert_eq!(n, m.encoded_len());
        let (d, used) = decode(&slot[..n]).unwrap();
        assert_eq!(used, n);
        let Message::App(v) = d else {
            panic!("not app")
        };
        assert_eq!(v.seq_no(), 100 + i as u64);
        assert_eq!(v.template(), m.template());
        assert_eq!(&v.to_owned_message(), m);
        // Too small a slot is an error, not a panic.
        assert!(m.encode(1, &mut slot[..n - 1]).is_err());
    }
}

#[test]
fn session_messages_round_trip() {
    let msgs = [
        SessionMessage::Establish {
            session_id: 5,
            timestamp_ns: 6,
            keepalive_ms: 1000,
            next_seq_no: 8,
        },
        SessionMessage::EstablishAck {
            session_id: 5,
            timestamp_ns: 6,
            keepalive_ms: 500,
            next_seq_no: 1,
        },
        SessionMessage::Sequence { next_seq_no: 99 },
        SessionMessage::RetransmitRequest {
            session_id: 5,
            timestamp_ns: 1,
            from_seq_no: 3,
            count: 4,
        },
        SessionMessage::Retransmission {
            session_id: 5,
            request_timestamp_ns: 1,
            next_seq_no: 3,
            count: 4,
        },
        SessionMessage::Terminate {
            session_id: 5,
            code: 2,
        },
    ];
    for m in msgs {
        let mut slot = [0u8; MAX_MESSAGE_LEN];
        let n = m.encode(&mut slot).unwrap();
        assert_eq!(n, HEADER_LEN + m.template().block_len());
        assert_eq!(decode(&slot[..n]).unwrap(), (Message::Session(m), n));
    }
}

#[test]
fn bad_bytes_are_typed_errors() {
    let mut slot = [0u8; MAX_MESSAGE_LEN];
    let n = AppMessage::NewOrder(order()).encode(1, &mut slot).unwrap();
    assert!(matches!(
        decode(&slot[..7]),
        Err(DecodeError::Truncated { what: "header", .. })
    ));
    assert!(matches!(
        decode(&slot[..n - 1]),
        Err(DecodeError::Truncated {
            what: "block",
            need: 56,
            ..
        })
    ));
    let mut b = slot;
    b[4] = 78;
    assert_eq!(decode(&b[..n]), Err(DecodeError::Schema(78)));
    let mut b = slot;
    b[6] = 2;
    assert_eq!(decode(&b[..n]), Err(DecodeError::Version(2)));
    let mut b = slot;
    b[2] = 99;
    assert_eq!(decode(&b[..n]), Err(DecodeError::Template(99)));
    let mut b = slot;
    b[0] = 40;
    assert!(matches!(
        decode(&b[..n]),
        Err(DecodeError::BlockLength {
            got: 40,
            min: 48,
            ..
        })
    ));
    let mut b = slot;
    b[HEADER_LEN + 40] = 3;
    assert_eq!(
        decode(&b[..n]),
        Err(DecodeError::Enum {
            field: "NewOrder.side",
            value: 3
        })
    );
    // A longer block from a newer minor version is accepted and skipped whole.
    let mut long = vec![0u8; n + 8];
    long[..n].copy_from_slice(&slot[..n]);
    long[0] = 56;
    assert_eq!(decode(&long).unwrap().1, n + 8);
}

/// Pulls `name="value"` out of an XML start tag.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let at = tag.find(&key)? + key.len();
    Some(&tag[at..at + tag[at..].find('"')?])
}

#[test]
fn schema_xml_matches_the_codec() {
    assert!(SCHEMA_XML.contains("id=\"77\" version=\"1\""));
    assert!(SCHEMA_XML.contains("byteOrder=\"littleEndian\""));
    let mut seen = 0;
    for part in SCHEMA_XML.split("<sbe:message ").skip(1) {
        let head = &format!(" {}", &part[..part.find('>').unwrap()]);
        let id: u16 = attr(head, "id").unwrap().parse().unwrap();
        let block: usize = attr(head, "blockLength").unwrap().parse().unwrap();
        let t = Template::from_id(id).unwrap_or_else(|| panic!("template {id} not in codec"));
        assert_eq!(format!("{t:?}"), attr(head, "name").unwrap());
        assert_eq!(t.block_len(), block, "{t:?}");
        let body = &part[..part.find("</sbe:message>").unwrap()];
        for f in body.split("<field ").skip(1) {
            let f = &format!(" {f}");
            let off: usize = attr(f, "offset").unwrap().parse().unwrap();
            let size = match attr(f, "type").unwrap() {
                "uint64" | "SeqNum" | "TimestampNs" | "Price8" | "Qty6" => 8,
                "uint32" => 4,
                "uint16" => 2,
                _ => 1,
            };
            assert!(
                off + size <= block,
                "{t:?}.{} overruns",
                attr(f, "name").unwrap()
            );
        }
        seen += 1;
    }
    assert_eq!(seen, Template::ALL.len());
    // Field offsets in the XML are where the encoder writes.
    let mut slot = [0u8; MAX_MESSAGE_LEN];
    AppMessage::ExecutionReport(report())
        .encode(5, &mut slot)
        .unwrap();
    let er = SCHEMA_XML.split("name=\"ExecutionReport\"").nth(1).unwrap();
    let at = |name: &str| -> usize {
        let f = er
            .split("<field ")
            .map(|f| format!(" {f}"))
            .find(|f| attr(f, "name") == Some(name))
            .unwrap();
        let f = f.as_str();
        HEADER_LEN + attr(f, "offset").unwrap().parse::<usize>().unwrap()
    };
    let u64_at = |o: usize| u64::from_le_bytes(slot[o..o + 8].try_into().unwrap());
    assert_eq!(u64_at(at("seqNo")), 5);
    assert_eq!(u64_at(at("execId")), 77);
    assert_eq!(
        u64_at(at("lastPx")) as i64,
        Price::parse("155.123").unwrap().raw()
    );
    assert_eq!(
        u64_at(at("leavesQty")) as i64,
        Qty::parse("7499.5").unwrap().raw()
    );
    assert_eq!(slot[at("ordStatus")], b'1');
    assert_eq!(u64_at(at("transactTimeNs")), 1_700_000_000_000_000_001);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Arbitrary bytes never panic; whatever decodes re-encodes to the same bytes.
    #[test]
    fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        if let Ok((m, n)) = decode(&bytes) {
            prop_assert!(n <= bytes.len());
            if let Message::App(v) = m {
                let mut slot = [0u8; MAX_MESSAGE_LEN];
                let k = v.to_owned_message().encode(v.seq_no(), &mut slot).unwrap();
                let (again, _) = decode(&slot[..k]).unwrap();
                let Message::App(w) = again else { panic!() };
                prop_assert_eq!(w.to_owned_message(), v.to_owned_message());
            }
        }
    }

    /// Valid headers with random blocks: the interesting paths (enums, lengths).
    #[test]
    fn decoder_on_valid_headers(tid in prop::sample::select(vec![1u16, 2, 3, 4, 5, 6, 10, 11, 12]),
                                block in 0u16..100, body in proptest::collection::vec(any::<u8>(), 0..100)) {
        let mut b = Vec::new();
        b.extend_from_slice(&block.to_le_bytes());
        b.extend_from_slice(&tid.to_le_bytes());
        b.extend_from_slice(&77u16.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&body);
        let _ = decode(&b);
    }
}
