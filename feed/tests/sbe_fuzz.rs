//! Arbitrary bytes into every decoder of the mam SBE feed: no panic, ever (bounded proptest
//! cases so the suite stays fast).

use mam_feed::fxbook::FxBooks;
use mam_feed::recv::seq::Verdict;
use mam_feed::recv::{Delivered, Framing, IexTpFraming, MamSbeFraming, SeqHeader};
use mam_feed::sbe::inspect::{inspect_payload, looks_like_mam_sbe, SbeInspect};
use mam_feed::sbe::msg::{Encode, Quote};
use mam_feed::sbe::{decode, Packet, PacketBuilder};
use proptest::prelude::*;

/// A valid packet of `n` quotes, for mutation.
fn valid(n: u64) -> Vec<u8> {
    let mut b = PacketBuilder::new("FUZZ", 1, 1472);
    for i in 0..n {
        b.push(&Quote {
            time_ns: i,
            ..Quote::default()
        });
    }
    b.finish()
}

fn everything(bytes: &[u8]) {
    let _ = decode(bytes);
    if let Ok(p) = Packet::parse(bytes) {
        for m in p.messages() {
            let _ = decode(m);
        }
    }
    let mut st = SbeInspect::default();
    let _ = inspect_payload(&mut st, bytes);
    let _ = looks_like_mam_sbe(bytes);
    let _ = MamSbeFraming.header(bytes);
    let _ = IexTpFraming.header(bytes);
    let mut books = FxBooks::new(32);
    let d = Delivered {
        recv_ns: 0,
        kernel_ns: None,
        payload: bytes,
        header: SeqHeader {
            session: [0; 10],
            first_seq: 1,
            count: 0,
        },
        verdict: Verdict::InOrder,
        skip: 0,
    };
    books.apply_delivered(&d, &mut |_| {});
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        everything(&bytes);
    }

    #[test]
    fn mutated_valid_packets(n in 0u64..20, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
                             cut in any::<usize>()) {
        let mut p = valid(n);
        for (at, v) in flips {
            let i = at % p.len();
            p[i] = v;
        }
        let cut = cut % (p.len() + 1);
        everything(&p[..cut]);
        everything(&p);
    }

    #[test]
    fn mutated_messages(flips in proptest::collection::vec((0usize..56, any::<u8>()), 1..6)) {
        let mut m = vec![0u8; 56];
        Quote::default().encode(&mut m);
        for (at, v) in flips {
            m[at] = v;
        }
        let _ = decode(&m);
    }
}
