//! SendingTime accuracy (FIX 4.4 Volume 2, test cases 2c-2f, 2o): a SendingTime too far from
//! the session's clock, or an OrigSendingTime later than SendingTime, is rejected (373=10) and
//! the session logged out; a possible duplicate without OrigSendingTime is rejected (373=1).

use super::*;

/// The clock the Rig's messages are stamped with (`20231114-22:13:20.000`).
const STAMP: u64 = T0;

#[test]
fn sending_time_within_the_tolerance_is_accepted() {
    let mut r = Rig::acceptor();
    r.feed_at(STAMP + 119 * SEC, &from_mgr("0", 2, ""));
    r.feed_at(STAMP - 119 * SEC, &from_mgr("0", 3, ""));
    assert!(r.sent().is_empty());
    assert_eq!(r.s.next_target_seq(), 4);
}

#[test]
fn sending_time_too_far_is_rejected_then_logged_out() {
    let mut r = Rig::acceptor();
    r.feed_at(STAMP + 121 * SEC, &from_mgr("0", 2, ""));
    let s = r.sent();
    assert_eq!(s.len(), 2, "{s:?}");
    assert!(
        s[0].contains("|35=3|") && s[0].contains("|45=2|371=52|372=0|373=10|"),
        "{s:?}"
    );
    assert!(
        s[1].contains("|35=5|") && s[1].contains("SendingTime accuracy problem"),
        "{s:?}"
    );
    assert!(r.events.iter().any(|e| e.contains("SendingTimeAccuracy")));
    assert_eq!(r.s.state(), State::Disconnected);
    assert_eq!(r.s.next_target_seq(), 3, "the message was counted");
}

#[test]
fn the_tolerance_is_configurable_and_can_be_turned_off() {
    let mut r = Rig::acceptor_with(|c| c.sending_time_tolerance_ns = Some(10 * SEC));
    r.feed_at(STAMP + 11 * SEC, &from_mgr("0", 2, ""));
    assert!(r.sent()[0].contains("|373=10|"));
    let mut r = Rig::acceptor_with(|c| c.sending_time_tolerance_ns = None);
    r.feed_at(STAMP + 86_400 * SEC, &from_mgr("0", 2, ""));
    assert!(r.sent().is_empty());
    assert!(r.s.is_active());
}

#[test]
fn a_logon_with_a_bad_sending_time_is_rejected_then_logged_out() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SessionConfig::new(Role::Acceptor, "MAM", "MGR");
    let mut r = Rig {
        s: Session::new(cfg, small_store(dir.path())).unwrap(),
        out: Vec::new(),
        events: Vec::new(),
        _dir: dir,
    };
    r.s.on_connected(STAMP + 300 * SEC, &mut r.out).unwrap();
    r.feed_at(STAMP + 300 * SEC, &from_mgr("A", 1, "98=0|108=30|"));
    let s = r.sent();
    assert!(
        s[0].contains("|35=3|") && s[0].contains("|45=1|371=52|372=A|373=10|"),
        "{s:?}"
    );
    assert!(s[1].contains("|35=5|"), "{s:?}");
    assert!(!r.s.is_active());
}

#[test]
fn poss_dup_without_orig_sending_time_is_rejected() {
    let mut r = Rig::acceptor();
    r.feed(&wire(
        "35=0|49=MGR|56=MAM|34=2|43=Y|52=20231114-22:13:20.000|",
    ));
    let s = r.sent();
    assert_eq!(s.len(), 1, "{s:?}");
    assert!(s[0].contains("|45=2|371=122|372=0|373=1|"), "{s:?}");
    assert!(r.s.is_active());
    assert_eq!(r.s.next_target_seq(), 3);
}

#[test]
fn orig_sending_time_after_sending_time_is_rejected_then_logged_out() {
    let mut r = Rig::acceptor();
    r.feed(&wire(
        "35=0|49=MGR|56=MAM|34=2|43=Y|52=20231114-22:13:20.000|122=20231114-22:13:21.000|",
    ));
    let s = r.sent();
    assert!(s[0].contains("|45=2|371=122|372=0|373=10|"), "{s:?}");
    assert!(s[1].contains("|35=5|"), "{s:?}");
    assert_eq!(r.s.state(), State::Disconnected);
    // Earlier or equal is what a resend looks like: accepted.
    let mut r = Rig::acceptor();
    r.feed(&wire(
        "35=0|49=MGR|56=MAM|34=2|43=Y|52=20231114-22:13:20.000|122=20231114-22:13:20.000|",
    ));
    assert!(r.sent().is_empty());
    assert_eq!(r.s.next_target_seq(), 3);
}
