//! Dukascopy `.bi5` hours: LZMA, then the 20-byte tick records, at the far ends of time.
//! The LZMA stream is decompressed once and its records decoded at both hours (`decode_bi5` is
//! exactly these two calls): decompressing twice halved the rate of an LZMA-bound target.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mam_feed::dukascopy::{decode_records, decompress_bi5_within};

/// Decompressed bytes one input may produce: 3,200 ticks, past every path of the record decoder
/// and of the cap itself (the real cap, an hour at one tick per millisecond, makes each bomb the
/// fuzzer finds cost about a second).
const CAP: usize = 64 << 10;

fuzz_target!(|data: &[u8]| {
    if let Ok(raw) = decompress_bi5_within(data, "fuzz.bi5", CAP) {
        let _ = decode_records(&raw, 1_549_238_400_000, 5, "fuzz.bi5");
        let _ = decode_records(&raw, i64::MAX - 1, 3, "fuzz.bi5");
    }
});
