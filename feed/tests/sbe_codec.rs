//! Encode → packet → decode round trips, SBE header rules (unknown templates skipped by
//! length and counted, newer versions with longer blocks read), and refusal of lying packets.

use mam_core::num::{Price, Qty};
use mam_feed::sbe::inspect::{inspect_payload, looks_like_mam_sbe, SbeInspect};
use mam_feed::sbe::layout;
use mam_feed::sbe::msg::{Depth, DepthLevel, Encode, Heartbeat, Instrument, Quote, Trade};
use mam_feed::sbe::{decode, Message, Packet, PacketBuilder, PacketError, SbeError};
use proptest::prelude::*;

fn px(s: &str) -> Price {
    Price::parse(s).unwrap()
}
fn q(s: &str) -> Qty {
    Qty::parse(s).unwrap()
}

fn quote(i: u64) -> Quote {
    Quote {
        time_ns: 1_549_238_400_000_000_000 + i,
        instrument: 0,
        lp: 7,
        flags: layout::FLAG_STALE,
        bid: Some(px("1.14567")),
        ask: Some(px("1.14569")),
        bid_size: Some(q("1500000")),
        ask_size: None,
    }
}

#[test]
fn every_message_round_trips_through_a_packet() {
    let mut symbol = [0u8; 16];
    symbol[..6].copy_from_slice(b"EURUSD");
    let inst = Instrument {
        time_ns: 5,
        instrument: 0,
        display_decimals: 5,
        symbol,
        tick: px("0.00001"),
        contract_size: Some(q("100000")),
    };
    let depth = Depth {
        time_ns: 6,
        instrument: 0,
        lp: 3,
        levels: vec![
            DepthLevel {
                level: 0,
                bid: Some(px("1.1")),
                ask: Some(px("1.2")),
                bid_size: Some(q("1")),
                ask_size: Some(q("2")),
            },
            DepthLevel {
                level: 1,
                bid: None,
                ask: Some(px("1.3")),
                bid_size: None,
                ask_size: Some(q("3")),
            },
        ],
    };
    let trade = Trade {
        time_ns: 7,
        instrument: 0,
        lp: 3,
        aggressor: 2,
        price: px("1.15"),
        size: Some(q("10")),
        trade_id: 99,
    };
    let hb = Heartbeat { time_ns: 8 };
    let mut b = PacketBuilder::new("TEST", 41, 1472);
    assert!(b.push(&inst));
    assert!(b.push(&quote(1)));
    assert!(b.push(&depth));
    assert!(b.push(&trade));
    assert!(b.push(&hb));
    assert_eq!(b.next_seq(), 46);
    let p = b.finish();
    let packet = Packet::parse(&p).unwrap();
    assert_eq!(&packet.header.session, b"TEST      ");
    assert_eq!((packet.header.seq, packet.header.count), (41, 5));
    let msgs: Vec<_> = packet.messages().map(|m| decode(m).unwrap()).collect();
    match &msgs[..] {
        [Message::Instrument(i), Message::Quote(qv), Message::Depth(d), Message::Trade(t), Message::Heartbeat(h)] =>
        {
            assert_eq!(i.get(), inst);
            assert_eq!(i.get().symbol_str(), "EURUSD");
            assert_eq!(qv.get(), quote(1));
            assert_eq!(d.get(), depth);
            assert_eq!(t.get(), trade);
            assert_eq!(h.sending_time(), 8);
        }
        other => panic!("{other:?}"),
    }
    // The next packet continues the sequence.
    b.push(&quote(2));
    let p2 = b.finish();
    assert_eq!(Packet::parse(&p2).unwrap().header.seq, 46);
    assert!(looks_like_mam_sbe(&p2));
}

#[test]
fn builder_respects_the_payload_limit() {
    let mut b = PacketBuilder::new("S", 1, 1472);
    let mut n = 0;
    while b.push(&quote(n)) {
        n += 1;
    }
    // (1472 - 20) / (2 + 56) = 25 quotes.
    assert_eq!(n, 25);
    assert!(b.finish().len() <= 1472);
}

#[test]
fn unknown_templates_are_skipped_and_counted_newer_blocks_read() {
    let mut p = PacketBuilder::new("S", 1, 1472);
    p.push(&quote(1));
    let mut pkt = p.finish();
    // Hand-build: a template 77 message of 12 bytes, and a Quote with a 56-byte block
    // (a newer version that appended 8 bytes).
    let mut unknown = vec![0u8; 8 + 12];
    unknown[0..2].copy_from_slice(&12u16.to_le_bytes());
    unknown[2..4].copy_from_slice(&77u16.to_le_bytes());
    unknown[4..6].copy_from_slice(&layout::SCHEMA_ID.to_le_bytes());
    unknown[6..8].copy_from_slice(&2u16.to_le_bytes());
    let mut newer = vec![0u8; 64];
    quote(9).encode(&mut newer);
    newer[0..2].copy_from_slice(&56u16.to_le_bytes());
    newer[6..8].copy_from_slice(&2u16.to_le_bytes());
    for m in [&unknown, &newer] {
        pkt.extend_from_slice(&(m.len() as u16).to_le_bytes());
        pkt.extend_from_slice(m);
    }
    pkt[18..20].copy_from_slice(&3u16.to_le_bytes());
    let packet = Packet::parse(&pkt).unwrap();
    let ms: Vec<_> = packet.messages().collect();
    assert_eq!(
        decode(ms[1]).unwrap_err(),
        SbeError::UnknownTemplate {
            template: 77,
            block_length: 12
        }
    );
    match decode(ms[2]).unwrap() {
        Message::Quote(v) => assert_eq!(v.get(), quote(9)),
        m => panic!("{m:?}"),
    }
    let mut st = SbeInspect::default();
    inspect_payload(&mut st, &pkt);
    assert_eq!(st.unknown_templates, 1);
    assert_eq!(st.by_template[&77], 1);
    assert_eq!(st.by_template[&layout::QUOTE_ID], 2);
    assert_eq!(st.messages(), 3);
}

#[test]
fn bad_messages_and_lying_packets_are_refused() {
    let mut m = vec![0u8; 56];
    quote(1).encode(&mut m);
    assert!(matches!(
        decode(&m[..30]),
        Err(SbeError::Truncated {
            template: 3,
            needed: 56,
            len: 30
        })
    ));
    assert!(matches!(
        decode(&m[..5]),
        Err(SbeError::ShortHeader { len: 5 })
    ));
    let mut short = m.clone();
    short[0..2].copy_from_slice(&40u16.to_le_bytes());
    assert!(matches!(
        decode(&short),
        Err(SbeError::BlockTooShort {
            template: 3,
            found: 40,
            min: 48
        })
    ));
    let mut other = m.clone();
    other[4..6].copy_from_slice(&1u16.to_le_bytes());
    assert_eq!(
        decode(&other).unwrap_err(),
        SbeError::WrongSchema { found: 1 }
    );
    // Packets whose lengths lie.
    let mut b = PacketBuilder::new("S", 1, 1472);
    b.push(&quote(1));
    b.push(&quote(2));
    let p = b.finish();
    let mut more = p.clone();
    more[18] = 3;
    assert!(matches!(
        Packet::parse(&more),
        Err(PacketError::LengthOverrun { index: 2, .. })
    ));
    let mut fewer = p.clone();
    fewer[18] = 1;
    assert!(matches!(
        Packet::parse(&fewer),
        Err(PacketError::TrailingBytes { extra: 58, .. })
    ));
    let mut long = p.clone();
    long[20] = 0xff;
    assert!(matches!(
        Packet::parse(&long),
        Err(PacketError::LengthOverrun { index: 0, .. })
    ));
    assert!(matches!(
        Packet::parse(&p[..19]),
        Err(PacketError::ShortHeader { len: 19 })
    ));
    let mut st = SbeInspect::default();
    assert!(inspect_payload(&mut st, &more).is_none());
    assert_eq!(st.bad_packets, 1);
    assert_eq!(st.messages(), 0);
}

#[test]
fn inspect_counts_gaps_and_duplicates() {
    let mut b = PacketBuilder::new("S", 1, 1472);
    let mut pkts = Vec::new();
    for i in 0..10 {
        b.push(&quote(i));
        b.push(&quote(i));
        pkts.push(b.finish());
    }
    let mut st = SbeInspect::default();
    for (i, p) in pkts.iter().enumerate() {
        if i == 4 || i == 5 || i == 8 {
            continue;
        }
        inspect_payload(&mut st, p);
        inspect_payload(&mut st, p); // A/B copy
    }
    let s = st.seq.stats();
    assert_eq!((s.gaps, s.missing, s.duplicate_packets), (2, 6, 7));
    assert_eq!(st.messages(), 14);
}

proptest! {
    #[test]
    fn quote_round_trip(t in any::<u64>(), i in any::<u32>(), lp in any::<u16>(), fl in any::<u8>(),
                        bid in proptest::option::of(any::<i64>().prop_filter("not null", |v| *v != i64::MIN)),
                        ask in proptest::option::of(any::<i64>().prop_filter("not null", |v| *v != i64::MIN)),
                        bs in proptest::option::of(0i64..i64::MAX), asz in proptest::option::of(0i64..i64::MAX)) {
        let qt = Quote { time_ns: t, instrument: i, lp, flags: fl, bid: bid.map(Price), ask: ask.map(Price),
                         bid_size: bs.map(Qty), ask_size: asz.map(Qty) };
        let mut buf = vec![0u8; qt.encoded_len()];
        qt.encode(&mut buf);
        match decode(&buf).unwrap() {
            Message::Quote(v) => prop_assert_eq!(v.get(), qt),
            m => prop_assert!(false, "{:?}", m),
        }
    }
}
