//! The capture reader (pcap and pcapng, both byte orders, both resolutions) and the frame
//! classifier, strict and lenient.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mam_feed::capture::{classify, Frames};

fuzz_target!(|data: &[u8]| {
    if let Ok(frames) = Frames::new(data) {
        for f in frames.take(10_000) {
            let _ = classify(&f);
        }
    }
    let _ = mam_feed::inspect::inspect_bytes(data, None);
});
