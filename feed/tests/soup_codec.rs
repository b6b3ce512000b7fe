//! SoupBinTCP codec: exact wire layout, typed errors, and properties (round trip, arbitrary
//! input never panics, any split of a valid stream decodes the same).

use mam_feed::soup::codec::{alpha, Decoder, LoginRequest, Packet, RejectReason, SoupError};
use proptest::prelude::*;

fn seq_field(v: u64) -> Vec<u8> {
    format!("{v:>20}").into_bytes()
}

#[test]
fn login_request_layout_is_the_spec() {
    let v = Packet::LoginRequest(LoginRequest::new("mam", "secret", "", 42))
        .to_vec()
        .unwrap();
    // Length counts the type byte and the 46-byte payload.
    assert_eq!(&v[..3], &[0, 47, b'L']);
    assert_eq!(&v[3..9], b"mam   ");
    assert_eq!(&v[9..19], b"secret    ");
    assert_eq!(&v[19..29], b"          ");
    assert_eq!(&v[29..], &seq_field(42)[..]);
    assert_eq!(&v[29..], b"                  42");
}

#[test]
fn fixed_packets_have_the_spec_sizes() {
    let acc = Packet::LoginAccepted {
        session: alpha("DK20190204"),
        seq: 7,
    };
    let v = acc.to_vec().unwrap();
    assert_eq!(&v[..3], &[0, 31, b'A']);
    assert_eq!(&v[3..13], b"DK20190204");
    assert_eq!(Packet::decode(&v[2..]).unwrap(), acc);
    let cases: [(Packet<'_>, &[u8]); 6] = [
        (Packet::ServerHeartbeat, &[0, 1, b'H']),
        (Packet::ClientHeartbeat, &[0, 1, b'R']),
        (Packet::EndOfSession, &[0, 1, b'Z']),
        (Packet::LogoutRequest, &[0, 1, b'O']),
        (
            Packet::LoginRejected(RejectReason::NotAuthorized),
            &[0, 2, b'J', b'A'],
        ),
        (
            Packet::SequencedData(b"xyz"),
            &[0, 4, b'S', b'x', b'y', b'z'],
        ),
    ];
    for (p, wire) in cases {
        assert_eq!(p.to_vec().unwrap(), wire);
        assert_eq!(Packet::decode(&wire[2..]).unwrap(), p);
    }
}

#[test]
fn numeric_fields_accept_padding_on_either_side() {
    let mut body = vec![b'A'];
    body.extend_from_slice(b"S1        ");
    body.extend_from_slice(b"5                   ");
    assert_eq!(
        Packet::decode(&body).unwrap(),
        Packet::LoginAccepted {
            session: alpha("S1"),
            seq: 5
        }
    );
}

#[test]
fn malformed_packets_are_typed_errors() {
    assert_eq!(Packet::decode(&[]), Err(SoupError::ZeroLength));
    assert_eq!(
        Packet::decode(b"Qab"),
        Err(SoupError::UnknownType { ty: b'Q', len: 2 })
    );
    assert!(matches!(
        Packet::decode(b"Hx"),
        Err(SoupError::BadLength {
            kind: "Server Heartbeat",
            len: 1,
            expected: 0
        })
    ));
    let mut bad = vec![b'A'];
    bad.extend_from_slice(b"S1        ");
    bad.extend_from_slice(b"             12x4567");
    let e = Packet::decode(&bad).unwrap_err();
    assert!(
        matches!(
            e,
            SoupError::BadNumber {
                field: "sequence number",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("12x4567"), "{e}");
    // 2^64 does not fit a u64.
    bad.truncate(11);
    bad.extend_from_slice(b"18446744073709551616");
    assert!(matches!(
        Packet::decode(&bad),
        Err(SoupError::BadNumber { .. })
    ));
    assert_eq!(
        Packet::decode(b"JX"),
        Err(SoupError::BadRejectReason { code: b'X' })
    );
    let mut login = Packet::LoginRequest(LoginRequest::new("u", "p", "", 1))
        .to_vec()
        .unwrap();
    login[4] = 0x07;
    assert!(matches!(
        Packet::decode(&login[2..]),
        Err(SoupError::BadAlpha {
            field: "username",
            ..
        })
    ));
    let big = vec![0u8; 65_535];
    assert_eq!(
        Packet::SequencedData(&big).to_vec(),
        Err(SoupError::TooLong { len: 65_535 })
    );
}

#[test]
fn decoder_skips_a_malformed_packet_and_stays_in_step() {
    let mut d = Decoder::new();
    d.feed(&[0, 0]); // length 0
    d.feed(&[0, 3, b'?', 1, 2]); // unknown type
    d.feed(&Packet::SequencedData(b"ok").to_vec().unwrap());
    assert_eq!(d.next_packet(), Some(Err(SoupError::ZeroLength)));
    assert_eq!(
        d.next_packet(),
        Some(Err(SoupError::UnknownType { ty: b'?', len: 2 }))
    );
    assert_eq!(d.next_packet(), Some(Ok(Packet::SequencedData(b"ok"))));
    assert_eq!(d.next_packet(), None);
    assert_eq!(d.buffered(), 0);
}

/// An owned packet, for generating.
#[derive(Debug, Clone)]
enum Own {
    Debug(Vec<u8>),
    Accepted([u8; 10], u64),
    Rejected(bool),
    Seq(Vec<u8>),
    Unseq(Vec<u8>),
    ServerHb,
    End,
    Login(LoginRequest),
    ClientHb,
    Logout,
}

impl Own {
    fn packet(&self) -> Packet<'_> {
        match self {
            Own::Debug(d) => Packet::Debug(d),
            Own::Accepted(s, n) => Packet::LoginAccepted {
                session: *s,
                seq: *n,
            },
            Own::Rejected(a) => Packet::LoginRejected(if *a {
                RejectReason::NotAuthorized
            } else {
                RejectReason::SessionNotAvailable
            }),
            Own::Seq(d) => Packet::SequencedData(d),
            Own::Unseq(d) => Packet::UnsequencedData(d),
            Own::ServerHb => Packet::ServerHeartbeat,
            Own::End => Packet::EndOfSession,
            Own::Login(l) => Packet::LoginRequest(*l),
            Own::ClientHb => Packet::ClientHeartbeat,
            Own::Logout => Packet::LogoutRequest,
        }
    }
}

fn field<const N: usize>() -> impl Strategy<Value = [u8; N]> {
    proptest::collection::vec(0x20u8..=0x7e, N).prop_map(|v| {
        let mut a = [b' '; N];
        a.copy_from_slice(&v);
        a
    })
}

fn own() -> impl Strategy<Value = Own> {
    let data = || proptest::collection::vec(any::<u8>(), 0..300);
    prop_oneof![
        data().prop_map(Own::Debug),
        (field::<10>(), any::<u64>()).prop_map(|(s, n)| Own::Accepted(s, n)),
        any::<bool>().prop_map(Own::Rejected),
        data().prop_map(Own::Seq),
        data().prop_map(Own::Unseq),
        Just(Own::ServerHb),
        Just(Own::End),
        (field::<6>(), field::<10>(), field::<10>(), any::<u64>()).prop_map(|(u, p, s, n)| {
            Own::Login(LoginRequest {
                username: u,
                password: p,
                session: s,
                seq: n,
            })
        }),
        Just(Own::ClientHb),
        Just(Own::Logout),
    ]
}

proptest! {
    #[test]
    fn every_packet_round_trips(o in own()) {
        let p = o.packet();
        let v = p.to_vec().unwrap();
        prop_assert_eq!(usize::from(u16::from_be_bytes([v[0], v[1]])), v.len() - 2);
        prop_assert_eq!(Packet::decode(&v[2..]).unwrap(), p);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000),
                                   cut in 0usize..2000) {
        let _ = Packet::decode(&bytes);
        let mut d = Decoder::new();
        let cut = cut.min(bytes.len());
        d.feed(&bytes[..cut]);
        while let Some(r) = d.next_packet() {
            let _ = r.map(|p| p.to_vec());
        }
        d.feed(&bytes[cut..]);
        while d.next_packet().is_some() {}
        prop_assert!(d.buffered() <= bytes.len());
    }

    #[test]
    fn any_split_decodes_the_same(packets in proptest::collection::vec(own(), 0..40),
                                  cuts in proptest::collection::vec(any::<usize>(), 0..30)) {
        let encoded: Vec<Vec<u8>> = packets.iter().map(|o| o.packet().to_vec().unwrap()).collect();
        let stream: Vec<u8> = encoded.concat();
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
        cuts.push(stream.len());
        cuts.sort_unstable();
        let mut d = Decoder::new();
        let mut got = Vec::new();
        let mut at = 0;
        for (i, c) in cuts.into_iter().enumerate() {
            // Half the pieces through `feed`, half through `read_from` (the socket's path):
            // both share one buffer that keeps stale bytes past its end.
            if i % 2 == 0 {
                d.feed(&stream[at..c]);
            } else {
                let n = d.read_from(&mut &stream[at..c]).unwrap();
                prop_assert_eq!(n, c - at);
            }
            at = c;
            while let Some(r) = d.next_packet() {
                got.push(r.unwrap().to_vec().unwrap());
            }
        }
        prop_assert_eq!(got, encoded);
        prop_assert_eq!(d.buffered(), 0);
    }
}
