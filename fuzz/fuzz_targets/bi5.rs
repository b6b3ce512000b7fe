//! Dukascopy `.bi5` hours: LZMA, then the 20-byte tick records, at the far ends of time.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mam_feed::dukascopy::decode_bi5;

fuzz_target!(|data: &[u8]| {
    let _ = decode_bi5(data, 1_549_238_400_000, 5, "fuzz.bi5");
    let _ = decode_bi5(data, i64::MAX - 1, 3, "fuzz.bi5");
});
