//! Sequence-number resets: a Logon with ResetSeqNumFlag=Y on a live session (FIX 4.4), and the
//! acceptor's reset_on_logon / reset_on_logout / reset_on_disconnect options.

use super::*;

/// Two heartbeats in, one out: we are at 3, they at 4.
fn advance(r: &mut Rig) {
    r.feed(&from_mgr("0", 2, ""));
    r.feed(&from_mgr("0", 3, ""));
    r.s.on_tick(T0 + 31 * SEC, &mut r.out, &mut |_| {}).unwrap();
    r.sent();
    assert_eq!((r.s.next_sender_seq(), r.s.next_target_seq()), (3, 4));
}

#[test]
fn a_logon_with_reset_seq_num_flag_mid_session_resets_both_sides() {
    let mut r = Rig::acceptor();
    advance(&mut r);
    r.feed_at(T0 + 32 * SEC, &from_mgr("A", 1, "98=0|108=30|141=Y|"));
    let s = r.sent();
    assert_eq!(s.len(), 1, "{s:?}");
    assert!(
        s[0].contains("|35=A|49=MAM|56=MGR|34=1|") && s[0].contains("|141=Y|"),
        "{s:?}"
    );
    assert_eq!((r.s.next_sender_seq(), r.s.next_target_seq()), (2, 2));
    assert!(r.s.is_active());
    r.feed_at(T0 + 32 * SEC, &from_mgr("0", 2, ""));
    assert!(r.sent().is_empty());
    assert_eq!(r.s.next_target_seq(), 3);
    // A second Logon without the flag is still refused.
    r.feed_at(T0 + 32 * SEC, &from_mgr("A", 3, "98=0|108=30|"));
    assert!(r.sent()[0].contains("|35=3|"));
}

#[test]
fn sequence_numbers_persist_by_default() {
    let mut r = Rig::acceptor();
    advance(&mut r);
    r.s.on_disconnected(T0 + 33 * SEC);
    assert_eq!((r.s.next_sender_seq(), r.s.next_target_seq()), (3, 4));
}

#[test]
fn reset_on_disconnect() {
    let mut r = Rig::acceptor_with(|c| c.reset_on_disconnect = true);
    advance(&mut r);
    r.s.on_disconnected(T0 + 33 * SEC);
    assert_eq!((r.s.next_sender_seq(), r.s.next_target_seq()), (1, 1));
}

#[test]
fn reset_on_logout() {
    let mut r = Rig::acceptor_with(|c| c.reset_on_logout = true);
    advance(&mut r);
    r.feed_at(T0 + 32 * SEC, &from_mgr("5", 4, ""));
    assert!(r.sent()[0].contains("|35=5|"));
    assert_eq!(r.s.state(), State::Disconnected);
    assert_eq!((r.s.next_sender_seq(), r.s.next_target_seq()), (1, 1));
}

#[test]
fn reset_on_logon_answers_with_the_flag() {
    let mut r = Rig::acceptor_with(|c| c.reset_on_logon = true);
    advance(&mut r);
    r.s.on_disconnected(T0 + 33 * SEC);
    r.s.on_connected(T0 + 34 * SEC, &mut r.out).unwrap();
    r.feed_at(T0 + 34 * SEC, &from_mgr("A", 1, "98=0|108=30|"));
    let s = r.sent();
    assert!(
        s[0].contains("|35=A|") && s[0].contains("|34=1|") && s[0].contains("|141=Y|"),
        "{s:?}"
    );
    assert_eq!((r.s.next_sender_seq(), r.s.next_target_seq()), (2, 2));
}
