//! Garbage, truncated and bit-flipped LZMA into the `.bi5` decoder, garbage into the JSON
//! oracle parser: errors, never panics.

use mam_feed::dukascopy::{decode_bi5, decode_records, oracle::parse_oracle};
use proptest::prelude::*;

fn real() -> &'static [u8] {
    static B: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    B.get_or_init(|| {
        let p = mam_core::shared_data::expect_shared("dukascopy/EURUSD-2019-02-04/22h_ticks.bi5");
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    })
}

#[test]
fn truncated_real_stream_is_an_error() {
    let b = real();
    assert!(decode_bi5(b, 0, 5, "x").is_ok());
    // An hour whose ticks' times would not fit is refused, whatever the records.
    let e = decode_records(&[0u8; 20], i64::MAX - 10, 5, "x").unwrap_err();
    assert!(e.to_string().contains("out of range"), "{e}");
    for cut in [1, 5, 12, 13, 100, b.len() / 2, b.len() - 1] {
        let r = decode_bi5(&b[..cut], 0, 5, "x");
        assert!(r.is_err(), "cut at {cut} decoded");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = decode_bi5(&bytes, 0, 5, "fuzz");
        let _ = decode_records(&bytes, 0, 5, "fuzz");
        let _ = decode_records(&bytes, i64::MAX - 10, 0, "fuzz");
        if let Ok(s) = std::str::from_utf8(&bytes) {
            let _ = parse_oracle(s, "fuzz");
        }
    }

    #[test]
    fn flipped_real_stream(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
                           cut in any::<usize>()) {
        let mut b = real().to_vec();
        for (at, v) in flips {
            let i = at % b.len();
            b[i] ^= v;
        }
        let cut = cut % (b.len() + 1);
        let _ = decode_bi5(&b[..cut], 0, 5, "fuzz");
    }

    #[test]
    fn oracle_shapes(ts in any::<i64>(), mult in "[0-9]{0,3}\\.?[0-9]{0,9}", n in 0usize..5,
                     vals in proptest::collection::vec(any::<i64>(), 0..5)) {
        let arr = |v: &[i64]| format!("[{}]", v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(","));
        let v = &vals[..n.min(vals.len())];
        let text = format!(
            "{{\"timestamp\":{ts},\"multiplier\":{m},\"ask\":1.5,\"bid\":1.4,\"times\":{a},\"asks\":{a},\"bids\":{a},\"askVolumes\":{a},\"bidVolumes\":{a}}}",
            m = if mult.is_empty() { "0" } else { &mult }, a = arr(v)
        );
        let _ = parse_oracle(&text, "fuzz");
    }
}
