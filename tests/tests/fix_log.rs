//! A real FIX session log, written by QuickFIX/J's Banzai and Executor examples (FIX 4.1, `|`
//! standing for SOH; see shared/data/PROVENANCE.md): every message frames, every CheckSum
//! verifies, the message types count as recorded, and the execution reports map to fills.

use std::collections::BTreeMap;

use mam_gateway::fix::convert::er_to_fill;
use mam_gateway::fix::decode::{checksum, frame, Decoder, Frame, Garble};
use mam_gateway::fix::msg::ExecutionReport;

fn session_log() -> Vec<u8> {
    let p = mam_tests::shared_data().join("fix/quickfixj-banzai-executor-session.txt");
    let text = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    text.into_iter()
        .filter(|&c| c != b'\n' && c != b'\r')
        .map(|c| if c == b'|' { 0x01 } else { c })
        .collect()
}

#[test]
fn every_message_frames_with_a_valid_checksum_and_types_count() {
    let log = session_log();
    let mut dec = Decoder::new();
    let mut types: BTreeMap<String, usize> = BTreeMap::new();
    let mut at = 0;
    let mut fills = 0;
    while at < log.len() {
        let len = match frame(&log[at..], 4096) {
            Frame::Complete { len } => len,
            other => panic!("message at byte {at}: {other:?}"),
        };
        let bytes = &log[at..at + len];
        // The CheckSum field holds the byte sum of everything before it.
        let declared: u8 = std::str::from_utf8(&bytes[len - 4..len - 1])
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(checksum(&bytes[..len - 7]), declared);
        let m = dec
            .parse(bytes)
            .unwrap_or_else(|e| panic!("message at byte {at}: {e}"));
        assert_eq!(m.begin_string(), b"FIX.4.1");
        *types
            .entry(String::from_utf8_lossy(m.msg_type()).into_owned())
            .or_default() += 1;
        if m.msg_type() == b"8" {
            let er = ExecutionReport::parse(&m)
                .unwrap_or_else(|e| panic!("ExecutionReport at byte {at}: {e}"));
            let f = er_to_fill(&er, 0).unwrap();
            assert!(f.cum_qty.raw() + f.leaves_qty.raw() <= 10_000_000_000);
            fills += 1;
        }
        at += len;
    }
    let want: BTreeMap<String, usize> =
        [("A", 2), ("0", 2), ("D", 3), ("8", 5), ("F", 2), ("3", 2)]
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
    assert_eq!(types, want);
    assert_eq!(types.values().sum::<usize>(), 16);
    assert_eq!(fills, 5);
}

#[test]
fn one_flipped_byte_in_any_message_is_caught() {
    let log = session_log();
    let mut at = 0;
    let mut caught = 0;
    while at < log.len() {
        let Frame::Complete { len } = frame(&log[at..], 4096) else {
            panic!("framing")
        };
        // Change a byte inside the body (after `9=..|`), keeping the framing intact.
        let mut m = log[at..at + len].to_vec();
        let i = m.windows(4).position(|w| w == b"\x0135=").unwrap() + 5;
        m[i + 1] ^= 0x02;
        match frame(&m, 4096) {
            Frame::Garbled {
                why: Garble::BadChecksum { .. },
                ..
            } => caught += 1,
            other => panic!("tampered message at {at} not caught: {other:?}"),
        }
        at += len;
    }
    assert_eq!(caught, 16);
}
