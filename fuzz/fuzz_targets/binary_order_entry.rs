//! mam's binary (SBE) order entry: every message in a buffer of arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mam_gateway::binary::codec::decode;

fuzz_target!(|data: &[u8]| {
    let mut at = 0;
    while at < data.len() {
        match decode(&data[at..]) {
            Ok((_, n)) if n > 0 => at += n,
            _ => break,
        }
    }
});
