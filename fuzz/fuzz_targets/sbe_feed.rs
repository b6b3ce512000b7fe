//! mam's SBE FX feed: the packet header and every message in it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mam_feed::sbe::msg::decode;
use mam_feed::sbe::packet::Packet;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::parse(data) {
        for m in p.messages() {
            let _ = m;
        }
    }
    let _ = decode(data);
});
