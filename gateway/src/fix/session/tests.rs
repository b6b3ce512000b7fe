//! Session rules, driven byte by byte with a fake clock: no sockets.

use super::*;
use crate::fix::decode::{checksum, frame, Frame};
use crate::fix::store::Store;
use proptest::prelude::*;

/// A store sized for tests (it grows if a test needs more).
fn small_store(p: &std::path::Path) -> Store {
    let opts = crate::fix::store::StoreOptions {
        log_bytes: 64 << 10,
        index_entries: 512,
    };
    Store::open_with(p, opts).unwrap()
}

const T0: u64 = 1_700_000_000_000_000_000;
const SEC: u64 = 1_000_000_000;

/// A peer message with correct BodyLength and CheckSum (`|` = SOH).
fn wire(body: &str) -> Vec<u8> {
    crate::fix::decode::fix44_message(body)
}

/// A message from the LP (`EXECUTOR` → `MAM`), seq `seq`, with `rest` after the header.
fn from_lp(t: &str, seq: u64, rest: &str) -> Vec<u8> {
    wire(&format!(
        "35={t}|49=EXECUTOR|56=MAM|34={seq}|52=20231114-22:13:20.000|{rest}"
    ))
}

/// A message from the manager (`MGR` → `MAM`), seq `seq`, with `rest` after the header.
fn from_mgr(t: &str, seq: u64, rest: &str) -> Vec<u8> {
    wire(&format!(
        "35={t}|49=MGR|56=MAM|34={seq}|52=20231114-22:13:20.000|{rest}"
    ))
}

/// Splits output bytes into messages shown with `|`.
fn msgs(out: &mut Vec<u8>) -> Vec<String> {
    let mut v = Vec::new();
    let mut at = 0;
    while let Frame::Complete { len } = frame(&out[at..], 1 << 20) {
        v.push(String::from_utf8_lossy(&out[at..at + len]).replace('\x01', "|"));
        at += len;
    }
    assert_eq!(at, out.len(), "trailing bytes in output");
    out.clear();
    v
}

struct Rig {
    s: Session,
    out: Vec<u8>,
    events: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Rig {
    fn initiator() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let s = Session::new(
            SessionConfig::new(Role::Initiator, "MAM", "EXECUTOR"),
            small_store(dir.path()),
        )
        .unwrap();
        Rig {
            s,
            out: Vec::new(),
            events: Vec::new(),
            _dir: dir,
        }
    }

    /// An initiator that is logged on (both sides at 2).
    fn active() -> Rig {
        let mut r = Rig::initiator();
        r.s.on_connected(T0, &mut r.out).unwrap();
        let sent = msgs(&mut r.out);
        assert!(
            sent[0].contains("|35=A|49=MAM|56=EXECUTOR|34=1|"),
            "{sent:?}"
        );
        assert!(sent[0].contains("|98=0|108=30|"), "{sent:?}");
        r.feed(&from_lp("A", 1, "98=0|108=30|"));
        assert!(r.s.is_active());
        assert_eq!((r.s.next_sender_seq(), r.s.next_target_seq()), (2, 2));
        r.events.clear();
        r
    }

    /// An acceptor (`MAM`, the manager `MGR` connects) with `cfg` changes, logged on (both
    /// sides at 2).
    fn acceptor_with(change: impl FnOnce(&mut SessionConfig)) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = SessionConfig::new(Role::Acceptor, "MAM", "MGR");
        change(&mut cfg);
        let s = Session::new(cfg, small_store(dir.path())).unwrap();
        let mut r = Rig {
            s,
            out: Vec::new(),
            events: Vec::new(),
            _dir: dir,
        };
        r.s.on_connected(T0, &mut r.out).unwrap();
        r.feed(&from_mgr("A", 1, "98=0|108=30|"));
        let sent = r.sent();
        assert!(sent[0].contains("|35=A|49=MAM|56=MGR|34=1|"), "{sent:?}");
        assert!(r.s.is_active());
        assert_eq!((r.s.next_sender_seq(), r.s.next_target_seq()), (2, 2));
        r.events.clear();
        r
    }

    fn acceptor() -> Rig {
        Rig::acceptor_with(|_| {})
    }

    /// Feeds `b` with the clock at `now`.
    fn feed_at(&mut self, now: u64, b: &[u8]) {
        let ev = &mut self.events;
        self.s
            .on_bytes(now, b, &mut self.out, &mut |e| ev.push(format!("{e:?}")))
            .unwrap();
    }

    fn feed(&mut self, b: &[u8]) {
        let ev = &mut self.events;
        self.s
            .on_bytes(T0 + SEC, b, &mut self.out, &mut |e| {
                ev.push(format!("{e:?}"))
            })
            .unwrap();
    }

    fn sent(&mut self) -> Vec<String> {
        msgs(&mut self.out)
    }
}

fn nos(seq: u64) -> Vec<u8> {
    from_lp(
        "D",
        seq,
        "11=1|1=A1|55=EURUSD|54=1|60=20231114-22:13:20.000|38=10000|40=2|44=1.1|",
    )
}

#[test]
fn app_messages_flow_in_sequence() {
    let mut r = Rig::active();
    r.feed(&nos(2));
    assert!(r.events[0].starts_with("App"), "{:?}", r.events);
    assert_eq!(r.s.next_target_seq(), 3);
    let seq =
        r.s.send_app(T0, &mut r.out, b"D", |w| {
            w.field(crate::fix::tag::CL_ORD_ID, b"9");
        })
        .unwrap();
    assert_eq!(seq, 2);
    assert!(r.sent()[0].contains("|35=D|49=MAM|56=EXECUTOR|34=2|52=20231114-22:13:20.000|11=9|"));
}

#[test]
fn any_split_of_the_input_gives_the_same_result() {
    let mut whole = nos(2);
    whole.extend_from_slice(&nos(3));
    for cut in 0..whole.len() {
        let mut r = Rig::active();
        r.feed(&whole[..cut]);
        r.feed(&whole[cut..]);
        assert_eq!(r.s.next_target_seq(), 4, "cut at {cut}");
        assert_eq!(r.events.iter().filter(|e| e.starts_with("App")).count(), 2);
    }
}

#[test]
fn heartbeats_and_test_requests_follow_the_clock() {
    let mut r = Rig::active();
    let mut ev = |_e: Event<'_>| {};
    // 30 s quiet on our side: Heartbeat.
    r.s.on_tick(T0 + 31 * SEC, &mut r.out, &mut ev).unwrap();
    let s = r.sent();
    assert!(s.iter().any(|m| m.contains("|35=0|")), "{s:?}");
    // Peer quiet for 1.2 × 30 s: TestRequest.
    r.s.on_tick(T0 + 38 * SEC, &mut r.out, &mut ev).unwrap();
    let s = r.sent();
    assert!(
        s.iter()
            .any(|m| m.contains("|35=1|") && m.contains("|112=")),
        "{s:?}"
    );
    // Still quiet another 36 s: disconnect.
    let mut disc = false;
    r.s.on_tick(T0 + 75 * SEC, &mut r.out, &mut |e| {
        disc |= matches!(
            e,
            Event::Disconnect {
                reason: DisconnectReason::PeerSilent
            }
        )
    })
    .unwrap();
    assert!(disc);
    // A TestRequest from the peer is answered with its id.
    let mut r = Rig::active();
    r.feed(&from_lp("1", 2, "112=ABC|"));
    let s = r.sent();
    assert!(
        s[0].contains("|35=0|") && s[0].contains("|112=ABC|"),
        "{s:?}"
    );
}

#[test]
fn too_high_asks_for_resend_too_low_logs_out() {
    let mut r = Rig::active();
    r.feed(&nos(5));
    let s = r.sent();
    assert!(
        s[0].contains("|35=2|") && s[0].contains("|7=2|16=0|"),
        "{s:?}"
    );
    assert_eq!(r.s.next_target_seq(), 2);
    assert!(r.s.awaiting_resend());
    // Another too-high message does not repeat the request.
    r.feed(&nos(6));
    assert!(r.sent().is_empty());
    // The peer resends: 2-4 gap-filled, then 5 and 6 again.
    r.feed(&from_lp(
        "4",
        2,
        "43=Y|122=20231114-22:13:19.000|123=Y|36=5|",
    ));
    r.feed(&wire("35=D|49=EXECUTOR|56=MAM|34=5|43=Y|52=20231114-22:13:20.000|122=20231114-22:13:19.000|11=1|55=EURUSD|54=1|60=20231114-22:13:20.000|38=1|40=2|44=1.1|"));
    assert_eq!(r.s.next_target_seq(), 6);
    r.feed(&nos(6));
    assert!(!r.s.awaiting_resend());
    // A PossDup duplicate is ignored.
    r.events.clear();
    r.feed(&wire("35=D|49=EXECUTOR|56=MAM|34=3|43=Y|52=20231114-22:13:20.000|122=20231114-22:13:19.000|11=1|55=EURUSD|54=1|60=20231114-22:13:20.000|38=1|40=2|44=1.1|"));
    assert!(
        r.events[0].starts_with("DuplicateIgnored"),
        "{:?}",
        r.events
    );
    // Too low without PossDup: Logout and disconnect.
    r.feed(&nos(3));
    let s = r.sent();
    assert!(
        s[0].contains("|35=5|")
            && s[0].contains("58=MsgSeqNum too low, expecting 7 but received 3"),
        "{s:?}"
    );
    assert!(r.events.iter().any(|e| e.contains("SeqTooLow")));
    assert_eq!(r.s.state(), State::Disconnected);
}

#[test]
fn a_resend_request_ahead_of_a_gap_is_still_answered() {
    let mut r = Rig::active();
    r.s.send_app(T0, &mut r.out, b"D", |w| {
        w.field(crate::fix::tag::CL_ORD_ID, b"x");
    })
    .unwrap();
    r.sent();
    // The peer's ResendRequest is seq 4 while we expect 2: we answer it and ask for 2-3.
    r.feed(&from_lp("2", 4, "7=2|16=0|"));
    let s = r.sent();
    assert!(
        s[0].contains("|35=D|") && s[0].contains("|34=2|") && s[0].contains("|43=Y|"),
        "{s:?}"
    );
    assert!(
        s[1].contains("|35=2|") && s[1].contains("|7=2|16=0|"),
        "{s:?}"
    );
    assert_eq!(r.s.next_target_seq(), 2);
}

#[test]
fn resend_request_is_answered_from_the_store() {
    let mut r = Rig::active();
    for i in 0..3 {
        r.s.send_app(T0 + i * 1_000_000, &mut r.out, b"D", |w| {
            w.field(crate::fix::tag::CL_ORD_ID, format!("c{i}").as_bytes())
                .field(crate::fix::tag::SYMBOL, b"EURUSD");
        })
        .unwrap();
    }
    // seq 2,3,4 are orders; 5 a heartbeat.
    r.s.on_tick(T0 + 40 * SEC, &mut r.out, &mut |_| {}).unwrap();
    r.sent();
    r.feed(&from_lp("2", 2, "7=1|16=0|"));
    let s = r.sent();
    // 1 (Logon) gap-filled to 2, 2-4 re-sent with PossDup and OrigSendingTime, 5 (Heartbeat)
    // and the TestRequest 6 gap-filled to 7.
    assert_eq!(s.len(), 5, "{s:#?}");
    assert!(
        s[0].contains("|35=4|")
            && s[0].contains("|34=1|")
            && s[0].contains("|43=Y|")
            && s[0].contains("|123=Y|36=2|"),
        "{}",
        s[0]
    );
    for (i, m) in s[1..4].iter().enumerate() {
        assert!(
            m.contains(&format!("|35=D|49=MAM|56=EXECUTOR|34={}|", i + 2)),
            "{m}"
        );
        assert!(m.contains("|43=Y|122=20231114-22:13:20.00"), "{m}");
        assert!(m.contains(&format!("|11=c{i}|55=EURUSD|")), "{m}");
    }
    assert!(
        s[4].contains("|35=4|") && s[4].contains("|34=5|") && s[4].contains("|123=Y|36=7|"),
        "{}",
        s[4]
    );
    assert_eq!(r.s.stats().resent, 5);
}

#[test]
fn garbled_is_ignored_malformed_is_rejected_with_the_right_reason() {
    let mut r = Rig::active();
    // Bad checksum: dropped, no reject, sequence unchanged.
    let mut bad = nos(2);
    let n = bad.len();
    bad[n - 3] = if bad[n - 3] == b'0' { b'1' } else { b'0' };
    r.feed(&bad);
    assert!(r.sent().is_empty());
    assert_eq!(r.s.next_target_seq(), 2);
    assert_eq!(r.s.stats().garbled, 1);
    // Noise between messages: dropped.
    r.feed(b"\x00\xffnoise");
    assert!(r.sent().is_empty());

    let cases: &[(&str, &str, u32, u32)] = &[
        // (MsgType, body after header, reason, RefTagID)
        (
            "D",
            "11=1|54=1|60=20231114-22:13:20.000|38=10000|40=2|44=1.1|",
            1,
            55,
        ),
        (
            "D",
            "11=1|55=EURUSD|54=9|60=20231114-22:13:20.000|38=10000|40=2|44=1.1|",
            5,
            54,
        ),
        (
            "D",
            "11=1|55=EURUSD|54=1|60=20231114-22:13:20.000|38=abc|40=2|44=1.1|",
            6,
            38,
        ),
        (
            "D",
            "11=1|55=EURUSD|54=1|60=20231114-22:13:20.000|38=10000|40=2|",
            1,
            44,
        ),
        (
            "D",
            "11=1|55=EURUSD|54=1|60=yesterday|38=10000|40=2|44=1.1|",
            6,
            60,
        ),
        ("D", "11=1|55=|54=1|", 4, 55),
        ("D", "11=1|5x5=EURUSD|", 0, 0),
        ("D", "11=1|34=9|55=EURUSD|", 13, 34),
        ("2", "7=5|16=2|", 5, 16),
        ("4", "123=Y|36=1|", 5, 36),
        ("1", "", 1, 112),
    ];
    let mut seq = 2;
    for (t, body, reason, tag) in cases {
        r.feed(&from_lp(t, seq, body));
        let s = r.sent();
        assert_eq!(s.len(), 1, "{t} {body}: {s:?}");
        assert!(s[0].contains("|35=3|"), "{t} {body}: {}", s[0]);
        assert!(s[0].contains(&format!("|45={seq}|")), "{}", s[0]);
        assert!(
            s[0].contains(&format!("|373={reason}|")),
            "{t} {body}: {}",
            s[0]
        );
        if *tag != 0 {
            assert!(
                s[0].contains(&format!("|371={tag}|")),
                "{t} {body}: {}",
                s[0]
            );
        }
        seq += 1;
        assert_eq!(
            r.s.next_target_seq(),
            seq,
            "a rejected message still counts"
        );
    }
    // MsgType not third: garbled (FIX 4.4), dropped without a Reject and not counted.
    r.feed(&wire(&format!(
        "49=EXECUTOR|35=D|56=MAM|34={seq}|52=20231114-22:13:20.000|"
    )));
    assert!(r.sent().is_empty());
    assert_eq!(r.s.next_target_seq(), seq);
    // SendingTime missing: reason 1, tag 52.
    r.feed(&wire(&format!("35=0|49=EXECUTOR|56=MAM|34={seq}|")));
    let s = r.sent();
    assert!(
        s[0].contains("|373=1|") && s[0].contains("|371=52|"),
        "{s:?}"
    );
    seq += 1;
    // PossDupFlag without OrigSendingTime: reason 1, tag 122.
    r.feed(&wire(&format!(
        "35=0|49=EXECUTOR|56=MAM|34={seq}|43=Y|52=20231114-22:13:20.000|"
    )));
    let s = r.sent();
    assert!(
        s[0].contains("|373=1|") && s[0].contains("|371=122|"),
        "{s:?}"
    );
    seq += 1;
    // A MsgType that is not FIX syntax: 11; a valid but unsupported one: BusinessMessageReject.
    r.feed(&from_lp("???", seq, ""));
    assert!(r.sent()[0].contains("|373=11|"));
    seq += 1;
    r.feed(&from_lp("AE", seq, ""));
    let s = r.sent();
    assert!(
        s[0].contains("|35=j|") && s[0].contains("|372=AE|380=3|"),
        "{s:?}"
    );
    seq += 1;
    assert_eq!(r.s.next_target_seq(), seq);
    assert!(r.s.is_active());
    // Wrong CompID: Reject 9 then Logout.
    r.feed(&wire(&format!(
        "35=0|49=INTRUDER|56=MAM|34={seq}|52=20231114-22:13:20.000|"
    )));
    let s = r.sent();
    assert!(s[0].contains("|35=3|") && s[0].contains("|373=9|"), "{s:?}");
    assert!(s[1].contains("|35=5|"), "{s:?}");
    assert_eq!(r.s.state(), State::Disconnected);
}

#[test]
fn oversized_input_logs_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = SessionConfig::new(Role::Initiator, "MAM", "EXECUTOR");
    cfg.max_msg_len = 512;
    let mut r = Rig {
        s: Session::new(cfg, small_store(dir.path())).unwrap(),
        out: Vec::new(),
        events: Vec::new(),
        _dir: dir,
    };
    r.s.on_connected(T0, &mut r.out).unwrap();
    r.sent();
    r.feed(&from_lp("A", 1, "98=0|108=30|"));
    let big = from_lp("D", 2, &format!("58={}|", "x".repeat(4000)));
    r.feed(&big);
    let s = r.sent();
    assert!(
        s[0].contains("|35=5|") && s[0].contains("exceeds the limit of 512"),
        "{s:?}"
    );
    assert!(r.events.iter().any(|e| e.contains("Oversized")));
    assert_eq!(r.s.state(), State::Disconnected);
}

#[test]
fn acceptor_checks_password_and_adopts_heartbeat() {
    let mk = || {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = SessionConfig::new(Role::Acceptor, "MAM", "MGR1");
        cfg.password = Some(b"secret".to_vec());
        (Session::new(cfg, small_store(dir.path())).unwrap(), dir)
    };
    let logon = |pw: &str| {
        wire(&format!(
            "35=A|49=MGR1|56=MAM|34=1|52=20231114-22:13:20.000|98=0|108=5|554={pw}|"
        ))
    };
    let (mut s, _d) = mk();
    let mut out = Vec::new();
    s.on_connected(T0, &mut out).unwrap();
    s.on_bytes(T0, &logon("secret"), &mut out, &mut |_| {})
        .unwrap();
    assert!(s.is_active());
    assert!(msgs(&mut out)[0].contains("|35=A|49=MAM|56=MGR1|34=1|"));
    // 5 s heartbeat adopted.
    s.on_tick(T0 + 5 * SEC, &mut out, &mut |_| {}).unwrap();
    assert!(msgs(&mut out).iter().any(|m| m.contains("|35=0|")));
    let (mut s, _d) = mk();
    s.on_connected(T0, &mut out).unwrap();
    let mut refused = false;
    s.on_bytes(T0, &logon("guess"), &mut out, &mut |e| {
        refused |= matches!(
            e,
            Event::Disconnect {
                reason: DisconnectReason::LogonRefused
            }
        )
    })
    .unwrap();
    assert!(refused);
    assert!(!s.is_active());
    // First message not a Logon: disconnect.
    let (mut s, _d) = mk();
    s.on_connected(T0, &mut out).unwrap();
    let mut refused = false;
    s.on_bytes(
        T0,
        &wire("35=0|49=MGR1|56=MAM|34=1|52=20231114-22:13:20.000|"),
        &mut out,
        &mut |e| refused |= matches!(e, Event::Disconnect { .. }),
    )
    .unwrap();
    assert!(refused);
}

#[test]
fn sequence_numbers_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = Session::new(
            SessionConfig::new(Role::Initiator, "MAM", "EXECUTOR"),
            small_store(dir.path()),
        )
        .unwrap();
        let mut out = Vec::new();
        s.on_connected(T0, &mut out).unwrap();
        s.on_bytes(T0, &from_lp("A", 1, "98=0|108=30|"), &mut out, &mut |_| {})
            .unwrap();
        s.on_bytes(T0, &nos(2), &mut out, &mut |_| {}).unwrap();
        s.send_app(T0, &mut out, b"D", |w| {
            w.field(crate::fix::tag::CL_ORD_ID, b"kept");
        })
        .unwrap();
    }
    let mut s = Session::new(
        SessionConfig::new(Role::Initiator, "MAM", "EXECUTOR"),
        small_store(dir.path()),
    )
    .unwrap();
    assert_eq!((s.next_sender_seq(), s.next_target_seq()), (3, 3));
    let mut out = Vec::new();
    s.on_connected(T0, &mut out).unwrap();
    assert!(msgs(&mut out)[0].contains("|35=A|49=MAM|56=EXECUTOR|34=3|"));
    s.on_bytes(T0, &from_lp("A", 3, "98=0|108=30|"), &mut out, &mut |_| {})
        .unwrap();
    s.on_bytes(T0, &from_lp("2", 4, "7=2|16=2|"), &mut out, &mut |_| {})
        .unwrap();
    let m = msgs(&mut out);
    assert!(
        m[0].contains("|34=2|") && m[0].contains("|43=Y|") && m[0].contains("|11=kept|"),
        "{m:?}"
    );
}

#[test]
fn back_pressure_keeps_messages_in_the_store_and_sends_them_in_order() {
    struct Choke {
        room: usize,
        got: Vec<u8>,
    }
    impl Outbound for Choke {
        fn send(&mut self, b: &[u8]) -> Result<(), TransportError> {
            if b.len() > self.room {
                return Err(TransportError::WouldBlock { needed: b.len() });
            }
            self.room -= b.len();
            self.got.extend_from_slice(b);
            Ok(())
        }
    }
    let mut r = Rig::active();
    let mut c = Choke {
        room: 300,
        got: Vec::new(),
    };
    for i in 0..5u8 {
        r.s.send_app(T0, &mut c, b"D", |w| {
            w.field(crate::fix::tag::CL_ORD_ID, &[b'a' + i]);
        })
        .unwrap();
    }
    assert!(r.s.pending() > 0);
    assert!(r.s.stats().backpressure > 0);
    c.room = 1 << 20;
    assert!(r.s.pump(T0, &mut c).unwrap());
    assert_eq!(r.s.pending(), 0);
    let m = msgs(&mut c.got);
    assert_eq!(m.len(), 5);
    for (i, m) in m.iter().enumerate() {
        assert!(m.contains(&format!("|34={}|", i + 2)), "{m}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..6)) {
        let mut r = Rig::active();
        for c in &chunks {
            r.feed(c);
        }
        let mut ev = |_e: Event<'_>| {};
        r.s.on_tick(T0 + 100 * SEC, &mut r.out, &mut ev).unwrap();
    }

    #[test]
    fn mutated_messages_never_panic(pos in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>(), seq in 0u64..6) {
        let mut m = nos(seq);
        m.extend_from_slice(&from_lp("2", seq + 1, "7=1|16=0|"));
        m.extend_from_slice(&from_lp("4", seq + 2, "123=Y|36=9|"));
        let i = pos.index(m.len());
        m[i] = byte;
        let c = cut.index(m.len());
        let mut r = Rig::active();
        r.feed(&m[..c]);
        r.feed(&m[c..]);
        // Whatever happened, what we sent is well-formed FIX.
        let _ = r.sent();
    }
}

#[test]
fn without_resend_app_application_messages_are_gap_filled() {
    let mut r = Rig::active();
    r.s.cfg.resend_app = false;
    for i in 0..2 {
        r.s.send_app(T0, &mut r.out, b"8", |w| {
            w.field(crate::fix::tag::CL_ORD_ID, format!("c{i}").as_bytes());
        })
        .unwrap();
    }
    r.sent();
    r.feed(&from_lp("2", 2, "7=1|16=0|"));
    let s = r.sent();
    // Logon 1 and the reports 2-3: one gap fill to 4, nothing re-sent.
    assert_eq!(s.len(), 1, "{s:#?}");
    assert!(
        s[0].contains("|34=1|") && s[0].contains("|123=Y|36=4|"),
        "{}",
        s[0]
    );
}

#[test]
fn status_requests_are_delivered_and_the_application_can_reject_at_session_level() {
    let mut r = Rig::active();
    r.feed(&from_lp("H", 2, "11=7|55=EURUSD|54=1|"));
    assert!(r.events[0].starts_with("App"), "{:?}", r.events);
    // ClOrdID missing: the session rejects it (reason 1, tag 11).
    r.feed(&from_lp("H", 3, "55=EURUSD|54=1|"));
    let s = r.sent();
    assert!(
        s[0].contains("|35=3|") && s[0].contains("|45=3|371=11|372=H|373=1|"),
        "{s:?}"
    );
    // The application refuses message 2 at the session level.
    let rej = crate::fix::msg::Reject {
        ref_seq_num: 2,
        ref_tag: None,
        ref_msg_type: Some(b"H"),
        reason: Some(99),
        text: Some(b"refused"),
    };
    let seq = r.s.send_session_reject(T0, &mut r.out, &rej).unwrap();
    let s = r.sent();
    assert!(
        s[0].contains(&format!("|35=3|49=MAM|56=EXECUTOR|34={seq}|")),
        "{s:?}"
    );
    assert!(s[0].contains("|45=2|372=H|373=99|58=refused|"), "{s:?}");
    assert_eq!(r.s.stats().rejects_sent, 2);
}

mod garbled;
mod reset;
mod sending_time;
mod validation;
