//! Garbled messages (FIX 4.4 Volume 2, test cases 2m, 2t, 3b, 3c): dropped as if never
//! received, their MsgSeqNum not counted, the next valid message processed normally.

use super::*;

/// After the garbled bytes, a valid message with the *same* MsgSeqNum is delivered.
fn next_is_processed(r: &mut Rig) {
    assert!(r.sent().is_empty(), "nothing answers a garbled message");
    assert_eq!(r.s.next_target_seq(), 2);
    r.feed(&nos_from_mgr(2));
    assert!(r.sent().is_empty());
    assert!(
        r.events.iter().any(|e| e.starts_with("App")),
        "{:?}",
        r.events
    );
    assert_eq!(r.s.next_target_seq(), 3);
    assert!(r.s.is_active());
}

fn nos_from_mgr(seq: u64) -> Vec<u8> {
    from_mgr(
        "D",
        seq,
        "11=1|55=EURUSD|54=1|60=20231114-22:13:20.000|38=10000|40=2|44=1.1|",
    )
}

#[test]
fn a_bad_checksum_is_dropped() {
    let mut r = Rig::acceptor();
    let mut bad = nos_from_mgr(2);
    let n = bad.len();
    bad[n - 2] = if bad[n - 2] == b'0' { b'1' } else { b'0' };
    r.feed(&bad);
    next_is_processed(&mut r);
}

#[test]
fn a_body_length_too_short_is_dropped() {
    let mut r = Rig::acceptor();
    let good = nos_from_mgr(2);
    let text = String::from_utf8_lossy(&good).into_owned();
    let len: usize = text.split('\x01').nth(1).unwrap()[2..].parse().unwrap();
    let bad = text.replacen(&format!("9={len}\x01"), &format!("9={}\x01", len - 5), 1);
    r.feed(bad.as_bytes());
    next_is_processed(&mut r);
}

#[test]
fn a_body_length_too_long_does_not_swallow_the_next_message() {
    let mut r = Rig::acceptor();
    let good = nos_from_mgr(2);
    let text = String::from_utf8_lossy(&good).into_owned();
    let len: usize = text.split('\x01').nth(1).unwrap()[2..].parse().unwrap();
    let bad = text.replacen(&format!("9={len}\x01"), &format!("9={}\x01", len + 40), 1);
    r.feed(bad.as_bytes());
    next_is_processed(&mut r);
}

#[test]
fn first_three_fields_out_of_order_is_dropped() {
    let mut r = Rig::acceptor();
    r.feed(&wire("49=MGR|35=0|56=MAM|34=2|52=20231114-22:13:20.000|"));
    assert!(
        r.events.iter().any(|e| e.contains("HeaderOrder")),
        "{:?}",
        r.events
    );
    next_is_processed(&mut r);
}

#[test]
fn noise_instead_of_begin_string_is_dropped() {
    let mut r = Rig::acceptor();
    let mut bad = nos_from_mgr(2);
    bad[2] = b'X'; // `8=XIX.4.4`: not a BeginString at all.
    r.feed(&bad);
    next_is_processed(&mut r);
}

#[test]
fn a_different_fix_version_is_logged_out() {
    // Test case 2i: a well-framed message with an unexpected BeginString value is not garbled:
    // Logout, then disconnect.
    let mut r = Rig::acceptor();
    let m = String::from_utf8_lossy(&nos_from_mgr(2)).replacen("FIX.4.4", "FIX.4.2", 1);
    let body_start = m.find("35=").unwrap();
    let body = &m[body_start..m.find("\x0110=").unwrap() + 1];
    let mut msg = format!("8=FIX.4.2\x019={}\x01{body}", body.len()).into_bytes();
    let ck = checksum(&msg);
    msg.extend_from_slice(format!("10={ck:03}\x01").as_bytes());
    r.feed(&msg);
    let s = r.sent();
    assert!(
        s[0].contains("|35=5|") && s[0].contains("incorrect BeginString"),
        "{s:?}"
    );
    assert_eq!(r.s.state(), State::Disconnected);
}
