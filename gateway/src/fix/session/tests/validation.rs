//! Data-dictionary validation on the acceptor (FIX 4.4 Volume 2, test cases 14a-14j): each
//! fault answered with the session-level Reject FIX prescribes, the message consumed (its
//! MsgSeqNum counted) and nothing delivered.

use super::*;

const NOS: &str = "11=1|55=EURUSD|54=1|60=20231114-22:13:20.000|38=10000|40=2|44=1.1|";

/// The one message sent is a Reject of `seq` (a `mt`) with `reason` and RefTagID `tag`.
fn assert_reject(r: &mut Rig, seq: u64, mt: &str, reason: u32, tag: u32) {
    let s = r.sent();
    assert_eq!(s.len(), 1, "{s:?}");
    let want = format!("|45={seq}|371={tag}|372={mt}|373={reason}|");
    assert!(
        s[0].contains("|35=3|") && s[0].contains(&want),
        "{want}: {}",
        s[0]
    );
    assert!(
        r.events.iter().all(|e| !e.starts_with("App")),
        "{:?}",
        r.events
    );
    assert_eq!(r.s.next_target_seq(), seq + 1, "a rejected message counts");
    assert!(r.s.is_active());
    r.events.clear();
}

#[test]
fn each_dictionary_fault_gets_its_reject() {
    let mut r = Rig::acceptor();
    let cases: &[(&str, String, u32, u32)] = &[
        // 14a: a tag number the specification does not define: 0 (invalid tag number).
        ("D", format!("{NOS}9999=x|"), 0, 9999),
        ("0", "5101=x|".into(), 0, 5101),
        // 14c: defined, not for this message type: 2.
        ("D", format!("{NOS}112=x|"), 2, 112),
        // 14h: repeated outside a repeating group: 13.
        ("D", format!("{NOS}55=GBPUSD|"), 13, 55),
        // 14g: a header field after the body: 14.
        ("D", format!("{NOS}97=N|"), 14, 97),
        // 14j: NumInGroup says 2, one entry follows: 16.
        ("D", format!("{NOS}453=2|448=A|447=D|452=1|"), 16, 453),
        // 14i: an entry that does not start with the group's first field: 15.
        ("D", format!("{NOS}453=1|447=D|448=A|452=1|"), 15, 447),
        // 14f: a UTCTimestamp that is not one (ExpireTime): 6.
        ("D", format!("{NOS}126=20231114-22:13|"), 6, 126),
        // 14e: outside the enumeration (OrdType Q): 5.
        (
            "D",
            "11=1|55=EURUSD|54=1|60=20231114-22:13:20.000|38=1|40=Q|".into(),
            5,
            40,
        ),
        // A TransactTime the nanosecond clock cannot hold: out of range, never wrapped.
        (
            "D",
            "11=1|55=EURUSD|54=1|60=99991231-23:59:59.999|38=1|40=1|".into(),
            5,
            60,
        ),
        // Admin messages too: BeginSeqNo is a SeqNum.
        ("2", "7=abc|16=0|".into(), 6, 7),
        // 14b: required by the specification (TestRequest's TestReqID): 1.
        ("1", String::new(), 1, 112),
    ];
    let mut seq = 2;
    for (t, body, reason, tag) in cases {
        r.feed(&from_mgr(t, seq, body));
        assert_reject(&mut r, seq, t, *reason, *tag);
        seq += 1;
    }
    // Through all that the session is fine: a valid order with mam's own tags is delivered.
    r.feed(&from_mgr(
        "D",
        seq,
        &format!("{NOS}5101=equity|5102=block|"),
    ));
    assert!(r.sent().is_empty());
    assert!(r.events[0].starts_with("App"), "{:?}", r.events);
    assert_eq!(r.s.next_target_seq(), seq + 1);
}

#[test]
fn an_unsupported_message_type_still_gets_a_business_reject() {
    // Its fields are not checked: the answer is "unsupported message type" whatever they are.
    let mut r = Rig::acceptor();
    r.feed(&from_mgr("AE", 2, "9999=x|"));
    let s = r.sent();
    assert!(
        s[0].contains("|35=j|") && s[0].contains("|45=2|372=AE|380=3|"),
        "{s:?}"
    );
}

#[test]
fn a_heartbeat_without_target_comp_id_is_rejected_not_logged_out() {
    let mut r = Rig::acceptor();
    r.feed(&wire("35=0|49=MGR|34=2|52=20231114-22:13:20.000|"));
    let s = r.sent();
    assert_eq!(s.len(), 1, "{s:?}");
    assert!(
        s[0].contains("|35=3|") && s[0].contains("|45=2|371=56|372=0|373=1|"),
        "{s:?}"
    );
    assert!(r.s.is_active());
    assert_eq!(r.s.next_target_seq(), 3);
    // A wrong one is still a CompID problem: Reject 9, then Logout.
    r.feed(&wire(
        "35=0|49=MGR|56=NOTMAM|34=3|52=20231114-22:13:20.000|",
    ));
    let s = r.sent();
    assert!(
        s[0].contains("|371=56|") && s[0].contains("|373=9|"),
        "{s:?}"
    );
    assert!(s[1].contains("|35=5|"), "{s:?}");
    assert_eq!(r.s.state(), State::Disconnected);
}

#[test]
fn an_initiator_does_not_validate_what_its_lp_sends() {
    // LPs put their own tags on ExecutionReports: a fill is never refused over one.
    let mut r = Rig::active();
    r.feed(&from_lp(
        "8",
        2,
        "37=1|11=42|17=1|150=F|39=2|1=A1|55=EURUSD|54=1|38=10000|32=10000|31=1.1|151=0|14=10000|6=1.1|9999=lp|",
    ));
    assert!(r.sent().is_empty());
    assert!(r.events[0].starts_with("App"), "{:?}", r.events);
}

#[test]
fn an_invalid_logon_is_answered_with_a_logout() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SessionConfig::new(Role::Acceptor, "MAM", "MGR");
    let mut r = Rig {
        s: Session::new(cfg, small_store(dir.path())).unwrap(),
        out: Vec::new(),
        events: Vec::new(),
        _dir: dir,
    };
    r.s.on_connected(T0, &mut r.out).unwrap();
    r.feed(&from_mgr("A", 1, "98=0|108=30|9999=x|"));
    let s = r.sent();
    assert!(
        s[0].contains("|35=5|") && s[0].contains("invalid tag number (tag 9999)"),
        "{s:?}"
    );
    assert!(!r.s.is_active());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn validating_mutated_messages_never_panics(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..128), 1..5),
    ) {
        // Mutate the body, then frame it correctly, so the dictionary sees every mutation.
        let mut body = format!(
            "35=D|49=MGR|56=MAM|34=2|52=20231114-22:13:20.000|{NOS}453=1|448=A|447=D|452=1|126=20231114-22:13:20|"
        ).into_bytes();
        for (i, v) in &edits {
            let k = i.index(body.len());
            body[k] = *v;
        }
        let mut r = Rig::acceptor();
        r.feed(&wire(&String::from_utf8_lossy(&body)));
        let _ = r.sent();
    }
}
