//! Bad input never panics: proptest over arbitrary bytes and over mutated real packets for the
//! capture reader, IEX-TP, ITCH 5.0 (both framings), MDP 3.0 and `inspect`. Bounded case
//! counts keep this in the normal test suite.

use mam_feed::book::ItchBook;
use mam_feed::capture::{classify, udp_payload, Frame, Frames, LINKTYPE_ETHERNET};
use mam_feed::every_venue::decode_every_venue;
use mam_feed::inspect::inspect_bytes;
use mam_feed::{iex, itch};
use proptest::prelude::*;

fn data(rel: &str) -> Vec<u8> {
    let p = mam_core::shared_data::expect_shared(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// UDP payloads of the first `n` frames of a real capture.
fn payloads(rel: &str, n: usize) -> Vec<Vec<u8>> {
    let bytes = data(rel);
    Frames::new(&bytes)
        .unwrap()
        .take(n)
        .filter_map(|f| udp_payload(&f).map(|d| d.payload.to_vec()))
        .collect()
}

/// Applies `(position, value)` byte edits to a copy.
fn mutate(base: &[u8], edits: &[(usize, u8)]) -> Vec<u8> {
    let mut v = base.to_vec();
    if !v.is_empty() {
        for &(i, b) in edits {
            let n = v.len();
            v[i % n] = b;
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn decoders_take_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        decode_every_venue(&bytes);
        // The branch-free ITCH decoder agrees with the one-constructor-per-type reference.
        match (itch::Message::decode(&bytes), itch::Message::decode_checked(&bytes)) {
            (Ok(a), Ok(b)) => {
                prop_assert_eq!(a.bytes(), b.bytes());
                prop_assert_eq!(std::mem::discriminant(&a), std::mem::discriminant(&b));
            }
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            (a, b) => prop_assert!(false, "{:?} vs {:?}", a, b),
        }
        match (iex::Message::decode(&bytes), iex::Message::decode_checked(&bytes)) {
            (Ok(a), Ok(b)) => {
                prop_assert_eq!(std::mem::discriminant(&a), std::mem::discriminant(&b));
                prop_assert_eq!((a.ts(), a.symbol()), (b.ts(), b.symbol()));
            }
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            (a, b) => prop_assert!(false, "{:?} vs {:?}", a, b),
        }
        let f = Frame { index: 0, ts_ns: 0, data: &bytes, orig_len: 0, linktype: LINKTYPE_ETHERNET };
        let _ = classify(&f);
    }

    #[test]
    fn itch_book_takes_arbitrary_message_streams(
        msgs in proptest::collection::vec(
            (prop::sample::select(b"AFECXDUP".to_vec()), proptest::collection::vec(any::<u8>(), 0..48)),
            0..64,
        )
    ) {
        let mut book = ItchBook::new();
        for (kind, mut body) in msgs {
            body.insert(0, kind);
            // small locate codes and order refs so messages hit the same orders
            if body.len() > 2 { body[1] = 0; body[2] &= 3; }
            if body.len() > 18 { body[11..18].fill(0); body[18] &= 7; }
            if let Ok(m) = itch::Message::decode(&body) {
                book.apply(0, &m, |_| {});
            }
        }
        for l in 0..4u16 {
            if let Some(levels) = book.levels(l) {
                prop_assert_eq!((levels.total(true), levels.total(false)), book.live_shares(l));
            }
        }
    }

    #[test]
    fn capture_reader_and_inspect_take_arbitrary_bytes(
        magic in prop::sample::select(vec![
            vec![0xd4u8, 0xc3, 0xb2, 0xa1], vec![0xa1, 0xb2, 0xc3, 0xd4],
            vec![0x4d, 0x3c, 0xb2, 0xa1], vec![0x0a, 0x0d, 0x0d, 0x0a], vec![0, 0], vec![],
        ]),
        rest in proptest::collection::vec(any::<u8>(), 0..800),
    ) {
        let mut bytes = magic;
        bytes.extend_from_slice(&rest);
        if let Ok(mut frames) = Frames::new(&bytes) {
            for f in &mut frames {
                let _ = classify(&f);
            }
            let _ = frames.end();
        }
        let _ = inspect_bytes(&bytes, None);
        let _ = inspect_bytes(&bytes, Some(mam_feed::inspect::Format::Itch50));
    }

    #[test]
    fn mutated_real_packets_never_panic(
        which in 0usize..64,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        thread_local! {
            static REAL: Vec<Vec<u8>> = {
                let mut v = payloads("iex/TOPS16.pcap", 24);
                v.extend(payloads("cme/mdp3-fx-session-statistics.pcap", 24));
                v.extend(payloads("itch/moldudp64/Multiple.Packets.pcap", 2));
                v.extend(payloads("cme/single/MdIncrementalRefreshVolume.pcap", 1));
                v
            };
        }
        REAL.with(|real| {
            let base = &real[which % real.len()];
            let m = mutate(base, &edits);
            decode_every_venue(&m);
            decode_every_venue(&m[..cut % (m.len() + 1)]);
        });
    }

    #[test]
    fn mutated_real_files_never_panic(
        which in 0usize..3,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        thread_local! {
            static FILES: Vec<Vec<u8>> = vec![
                data("itch/moldudp64/Multiple.Packets.pcap"),
                data("cme/single/MdIncrementalRefreshTradeSummary.pcap"),
                data("itch/nasdaq-sample-1000.itch")[..2_000].to_vec(),
            ];
        }
        FILES.with(|files| {
            let m = mutate(&files[which], &edits);
            let m = &m[..cut % (m.len() + 1)];
            let _ = inspect_bytes(m, None);
        });
    }
}

#[test]
fn lying_iex_header_drops_the_packet() {
    let real = payloads("iex/TOPS16.pcap", 200);
    let p = real.iter().find(|p| p.len() > 60).unwrap();
    let mut bad = p.clone();
    bad[12] = bad[12].wrapping_add(1); // payload length off by one
    let mut s = iex::IexSession::new();
    assert_eq!(
        s.on_packet(&bad, |_, _, _| panic!("no message from a bad packet")),
        mam_feed::capture::seq::Outcome::Bad
    );
    assert_eq!(s.bad_packets.total(), 1);
    let mut bad = p.clone();
    bad[14] = bad[14].wrapping_add(1); // message count off by one
    assert_eq!(
        s.on_packet(&bad, |_, _, _| panic!("no message from a bad packet")),
        mam_feed::capture::seq::Outcome::Bad
    );
}
