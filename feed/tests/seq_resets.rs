//! A publisher restart inside one capture — the numbering starting at 1 again, or a new
//! session id — is a reset: counted, its messages kept, gaps and A/B duplicates still found
//! in the new space, and late copies from the old space still dropped. One stream per
//! protocol, built here and read back through `inspect` from a real pcap.

use mam_feed::inspect::{inspect_bytes, Format, Report};
use mam_feed::pcap_write::{PcapWriter, TsResolution};

/// More than the reset window, so the restart is told from an A/B copy of packet 1.
const OLD: u64 = 1_500;

fn pcap(payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), TsResolution::Nano).unwrap();
    let (src, dst) = (
        "10.0.0.1:5000".parse().unwrap(),
        "239.1.1.1:6000".parse().unwrap(),
    );
    for (i, p) in payloads.iter().enumerate() {
        let ts = 1_700_000_000_000_000_000 + i as u64;
        w.write_udp(ts, src, dst, p).unwrap();
    }
    w.finish().unwrap()
}

/// The sequence numbers played, one message per packet: `1..=OLD`, the restart at 1 with its
/// A/B copy, a late copy of the old space's last packet, 2 and its copy, 3, 4 lost, 5..=10.
fn restart_script() -> Vec<u64> {
    let mut s: Vec<u64> = (1..=OLD).collect();
    s.extend([1, 1, OLD, 2, 2, 3]);
    s.extend(5..=10);
    s
}

/// Kept: all of the old space and 1..=10 but 4; dropped: three copies; one gap of one.
fn check_restart(r: &Report) {
    assert_eq!(r.messages, OLD + 9, "{r:?}");
    assert_eq!((r.resets, r.gaps, r.missing), (1, 1, 1), "{r:?}");
    assert_eq!((r.duplicate_packets, r.duplicates), (3, 3), "{r:?}");
    assert_eq!((r.bad_packets, r.foreign_datagrams), (0, 0), "{r:?}");
}

/// A new session: 1..=20 in `a`, then `b` from 1 with an A/B copy, a late copy from `a`, 2,
/// 4 lost, 5..=10.
fn session_script() -> Vec<(u8, u64)> {
    let mut s: Vec<(u8, u64)> = (1..=20).map(|q| (b'a', q)).collect();
    s.extend([(b'b', 1), (b'b', 1), (b'a', 20), (b'b', 2), (b'b', 3)]);
    s.extend((5..=10).map(|q| (b'b', q)));
    s
}

fn check_session(r: &Report) {
    assert_eq!(r.messages, 20 + 9, "{r:?}");
    assert_eq!((r.resets, r.gaps, r.missing), (1, 1, 1), "{r:?}");
    assert_eq!((r.duplicate_packets, r.duplicates), (2, 2), "{r:?}");
}

fn iex(session: u32, seq: u64) -> Vec<u8> {
    let mut msg = vec![10, 0, b'S', b'O'];
    msg.extend_from_slice(&1u64.to_le_bytes());
    let mut p = vec![1, 0];
    p.extend_from_slice(&mam_feed::iex::PROTOCOL_TOPS.to_le_bytes());
    p.extend_from_slice(&1u32.to_le_bytes()); // channel
    p.extend_from_slice(&session.to_le_bytes());
    p.extend_from_slice(&(msg.len() as u16).to_le_bytes());
    p.extend_from_slice(&1u16.to_le_bytes());
    p.extend_from_slice(&0i64.to_le_bytes());
    p.extend_from_slice(&(seq as i64).to_le_bytes());
    p.extend_from_slice(&1_700_000_000_000_000_000i64.to_le_bytes());
    p.extend_from_slice(&msg);
    p
}

fn mold(session: &[u8; 10], seq: u64) -> Vec<u8> {
    let mut p = session.to_vec();
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&1u16.to_be_bytes());
    p.extend_from_slice(&19u16.to_be_bytes());
    p.push(b'D'); // Order Delete, all zero
    p.extend_from_slice(&[0; 18]);
    p
}

fn mdp3(seq: u64) -> Vec<u8> {
    let mut p = (seq as u32).to_le_bytes().to_vec();
    p.extend_from_slice(&1_700_000_000_000_000_000u64.to_le_bytes());
    // one message of a template not decoded here: MsgSize 10, block 0, template 999, schema 1
    for f in [10u16, 0, 999, 1, 9] {
        p.extend_from_slice(&f.to_le_bytes());
    }
    p
}

fn sbe(session: &str, seq: u64) -> Vec<u8> {
    let mut b = mam_feed::sbe::packet::PacketBuilder::new(session, seq, 1_400);
    assert!(b.push(&mam_feed::sbe::msg::Heartbeat { time_ns: seq }));
    b.finish()
}

fn inspect(payloads: &[Vec<u8>], f: Format) -> Report {
    inspect_bytes(&pcap(payloads), Some(f)).unwrap()
}

#[test]
fn iex_tp_restart_at_1_is_a_reset() {
    let p: Vec<_> = restart_script().into_iter().map(|q| iex(7, q)).collect();
    check_restart(&inspect(&p, Format::IexTp));
}

#[test]
fn iex_tp_new_session_id_is_a_reset() {
    let p: Vec<_> = session_script()
        .into_iter()
        .map(|(s, q)| iex(u32::from(s), q))
        .collect();
    check_session(&inspect(&p, Format::IexTp));
}

#[test]
fn moldudp64_restart_at_1_is_a_reset() {
    let p: Vec<_> = restart_script()
        .into_iter()
        .map(|q| mold(b"SESSION001", q))
        .collect();
    check_restart(&inspect(&p, Format::Itch50));
}

#[test]
fn moldudp64_new_session_is_a_reset() {
    let p: Vec<_> = session_script()
        .into_iter()
        .map(|(s, q)| {
            mold(
                &[b'S', b'E', b'S', b'S', b'I', b'O', b'N', b'0', b'0', s],
                q,
            )
        })
        .collect();
    check_session(&inspect(&p, Format::Itch50));
}

#[test]
fn mdp3_restart_at_1_is_a_reset() {
    let p: Vec<_> = restart_script().into_iter().map(mdp3).collect();
    check_restart(&inspect(&p, Format::Mdp3));
}

#[test]
fn mam_sbe_restart_at_1_is_a_reset() {
    let p: Vec<_> = restart_script()
        .into_iter()
        .map(|q| sbe("TEST", q))
        .collect();
    check_restart(&inspect(&p, Format::MamSbe));
}

#[test]
fn mam_sbe_new_session_is_a_reset() {
    let p: Vec<_> = session_script()
        .into_iter()
        .map(|(s, q)| sbe(if s == b'a' { "DAY1" } else { "DAY2" }, q))
        .collect();
    check_session(&inspect(&p, Format::MamSbe));
}
