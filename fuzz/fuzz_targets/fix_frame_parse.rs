//! FIX framing (BodyLength, CheckSum) and the one-pass field parser, then the FIX 4.4
//! dictionary check, on arbitrary bytes: every complete frame is parsed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mam_gateway::fix::decode::{frame, Decoder, Frame};

fuzz_target!(|data: &[u8]| {
    let mut d = Decoder::new();
    let mut at = 0;
    while at < data.len() {
        match frame(&data[at..], 1 << 16) {
            Frame::Complete { len } => {
                let _ = d.parse(&data[at..at + len]);
                at += len;
            }
            Frame::Garbled { skip, .. } => at += skip,
            _ => break,
        }
    }
});
