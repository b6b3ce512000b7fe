//! Dukascopy `.bi5` decoding against the real files and the JSON oracle.

use std::path::PathBuf;

use mam_feed::dukascopy::{self, oracle, Tick};
use mam_feed::sbe::{self, inspect::SbeInspect, layout};

fn data() -> PathBuf {
    mam_core::shared_data::expect_shared("dukascopy")
}

fn hour(path: &std::path::Path) -> Vec<Tick> {
    let h = dukascopy::HourFile {
        path: path.to_path_buf(),
        hour_ms: dukascopy::hour_start_ms(path).unwrap(),
    };
    dukascopy::read_hour(&h, dukascopy::point_decimals("BTCUSD")).unwrap()
}

#[test]
fn btcusd_matches_json_oracle_tick_for_tick() {
    let dir = data().join("BTCUSD-2023-02-20");
    let ticks = hour(&dir.join("12h_ticks.bi5"));
    let text = std::fs::read_to_string(dir.join("ticks-BTC-USD-2023-2-20-12.json")).unwrap();
    let oracle = oracle::parse_oracle(&text, "oracle").unwrap();
    assert_eq!(ticks.len(), 8_523);
    assert_eq!(oracle.len(), 8_523);
    for (i, (t, o)) in ticks.iter().zip(&oracle).enumerate() {
        assert!(o.prices_match(t), "tick {i}: bi5 {t:?} vs json {o:?}");
        assert!(
            o.volumes_match(t),
            "tick {i} volumes: bi5 {t:?} vs json {o:?}"
        );
    }
    // Spot values written out by hand from the files.
    assert_eq!(ticks[0].time_ms, 1_676_894_400_084);
    assert_eq!(ticks[0].ask.to_string(), "24921.5");
    assert_eq!(ticks[0].bid.to_string(), "24849.4");
    assert_eq!(ticks[0].ask_volume.to_string(), "1.0");
    assert_eq!(ticks[0].bid_volume.to_string(), "13.0");
    assert_eq!(ticks[2].ask.to_string(), "24924.3");
}

#[test]
fn oracle_disagreement_is_seen() {
    // The oracle check can fail: perturb one delta and the comparison catches it.
    let dir = data().join("BTCUSD-2023-02-20");
    let ticks = hour(&dir.join("12h_ticks.bi5"));
    let text = std::fs::read_to_string(dir.join("ticks-BTC-USD-2023-2-20-12.json")).unwrap();
    let bad = text.replacen("\"asks\":[0,0,28", "\"asks\":[0,0,29", 1);
    assert_ne!(bad, text);
    let oracle = oracle::parse_oracle(&bad, "oracle").unwrap();
    assert!(!oracle[2].prices_match(&ticks[2]));
    assert!(oracle[1].prices_match(&ticks[1]));
    assert!(oracle::parse_oracle("{\"timestamp\":1}", "x").is_err());
}

#[test]
fn eurusd_day_has_136741_ticks() {
    let dir = data().join("EURUSD-2019-02-04");
    let hours = dukascopy::hour_files(&dir).unwrap();
    assert_eq!(hours.len(), 24);
    let mut n = 0;
    let mut last = i64::MIN;
    for h in &hours {
        let ticks = dukascopy::read_hour(h, 5).unwrap();
        for t in &ticks {
            assert!(t.time_ms >= h.hour_ms && t.time_ms < h.hour_ms + 3_600_000);
            assert!(t.time_ms >= last, "ticks in time order");
            last = t.time_ms;
            assert!(
                t.bid.raw() > 100_000_000 && t.ask.raw() < 130_000_000,
                "{t:?}"
            );
        }
        n += ticks.len();
    }
    assert_eq!(n, 136_741);
}

#[test]
fn empty_file_is_an_hour_without_ticks() {
    let dir = tempfile::tempdir().unwrap();
    let day = dir.path().join("EURUSD-2019-02-04");
    std::fs::create_dir(&day).unwrap();
    std::fs::write(day.join("05h_ticks.bi5"), b"").unwrap();
    let out = dir.path().join("x.pcap");
    let st = dukascopy::convert::convert_path(
        &day,
        &out,
        dukascopy::convert::ConvertOptions::for_symbol("EURUSD"),
    )
    .unwrap();
    assert_eq!(
        (st.hours, st.empty_hours, st.quotes, st.packets),
        (1, 1, 0, 1)
    );
}

#[test]
fn converted_day_holds_every_quote_in_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eurusd.pcap");
    let st = dukascopy::convert::convert_path(
        &data().join("EURUSD-2019-02-04"),
        &out,
        dukascopy::convert::ConvertOptions::for_symbol("EURUSD"),
    )
    .unwrap();
    assert_eq!(st.quotes, 136_741);
    assert_eq!(st.messages, 136_742);
    // Read back with the capture reader: every payload decodes, sequence contiguous, and
    // every record's timestamp equals each quote's time.
    let cap = mam_feed::capture::Capture::open(&out).unwrap();
    let mut frames = cap.frames().unwrap();
    let mut st2 = SbeInspect::default();
    let mut n = 0u64;
    let mut expect_seq = 1u64;
    for f in frames.by_ref() {
        let d = mam_feed::capture::udp_payload(&f).expect("udp");
        let p = sbe::Packet::parse(d.payload).unwrap();
        assert_eq!(p.header.seq, expect_seq);
        expect_seq += u64::from(p.header.count);
        for m in p.messages() {
            if let Ok(sbe::Message::Quote(q)) = sbe::decode(m) {
                assert_eq!(q.time_ns(), f.ts_ns);
            }
        }
        mam_feed::sbe::inspect_payload(&mut st2, d.payload);
        n += 1;
    }
    assert!(!frames.truncated());
    assert_eq!(n, st.packets);
    assert_eq!(st2.by_template[&layout::QUOTE_ID], 136_741);
    assert_eq!(st2.by_template[&layout::INSTRUMENT_ID], 1);
    assert_eq!(st2.seq.stats().gaps, 0);
    assert_eq!(st2.bad_messages + st2.bad_packets, 0);
}

/// One 20-byte `.bi5` record: ms into the hour, ask, bid (integer points), volumes (f32).
fn record(ms: u32, ask: u32, bid: u32) -> Vec<u8> {
    let mut r = Vec::new();
    for w in [ms, ask, bid, 1.0f32.to_bits(), 1.0f32.to_bits()] {
        r.extend_from_slice(&w.to_be_bytes());
    }
    r
}

#[test]
fn out_of_order_zero_and_crossed_ticks_are_refused_naming_the_tick() {
    use mam_feed::dukascopy::{decode_records, DukascopyError};
    let ok = [record(0, 114_561, 114_560), record(5, 114_562, 114_561)].concat();
    assert_eq!(decode_records(&ok, 0, 5, "f").unwrap().len(), 2);
    let cases = [
        (
            [record(9, 114_561, 114_560), record(5, 114_562, 114_561)].concat(),
            "before",
        ),
        (
            [record(0, 114_561, 114_560), record(5, 0, 114_561)].concat(),
            "zero",
        ),
        (
            [record(0, 114_561, 114_560), record(5, 114_560, 114_561)].concat(),
            "crossed",
        ),
    ];
    for (raw, says) in cases {
        let e = decode_records(&raw, 0, 5, "f.bi5").unwrap_err();
        assert!(
            matches!(
                e,
                DukascopyError::TimeBackwards { index: 1, .. }
                    | DukascopyError::BadQuote { index: 1, .. }
            ),
            "{e}"
        );
        assert!(
            e.to_string().contains(says) && e.to_string().contains("tick 1"),
            "{e}"
        );
    }
}

#[test]
fn lzma_properties_outside_lzma_files_are_refused_before_any_allocation() {
    use mam_feed::dukascopy::{decompress_bi5, DukascopyError};
    // lc 8, lp 4, pb 0 (0x2C): lzma-rs would fill 2^12 × 768 probabilities before reading on.
    let mut hdr = vec![0x2Cu8];
    hdr.extend_from_slice(&4096u32.to_le_bytes());
    hdr.extend_from_slice(&u64::MAX.to_le_bytes());
    hdr.extend_from_slice(&[0; 8]);
    let e = decompress_bi5(&hdr, "h.bi5").unwrap_err();
    assert!(matches!(e, DukascopyError::Lzma { .. }), "{e}");
    assert!(e.to_string().contains("lc 8, lp 4"), "{e}");
    // Beyond the last valid properties byte (224).
    hdr[0] = 225;
    assert!(decompress_bi5(&hdr, "h.bi5").is_err());
    // Dukascopy's own 0x5D (lc 3, lp 0, pb 2) passes this check (what follows decides).
    hdr[0] = 0x5D;
    if let Err(e) = decompress_bi5(&hdr, "h.bi5") {
        assert!(!e.to_string().contains("properties byte"), "{e}");
    }
}

#[test]
fn a_stream_past_the_cap_is_refused_as_a_bomb() {
    use mam_feed::dukascopy::{decompress_bi5, decompress_bi5_within};
    // 10,000 ticks of zeros: 200,000 bytes that lzma-rs squeezes to about 5 KB.
    let raw = vec![0u8; 200_000];
    let mut lz = Vec::new();
    lzma_rs::lzma_compress(&mut &raw[..], &mut lz).unwrap();
    assert!(lz.len() < 10_000, "{}", lz.len());
    assert_eq!(decompress_bi5(&lz, "z.bi5").unwrap().len(), 200_000);
    let e = decompress_bi5_within(&lz, "z.bi5", 65_536).unwrap_err();
    assert!(e.to_string().contains("z.bi5"), "{e}");
    assert!(e.to_string().contains("65536"), "{e}");
}
