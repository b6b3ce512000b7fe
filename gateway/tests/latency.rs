//! Latency recorders, interval logs and `.hgrm` tables: written, read back, compared.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mam_gateway::latency::{
    new_histogram, read_hlog, write_hgrm, HgrmOptions, IntervalLogWriter, LatencyError, Stage,
    StageRecorders,
};
use proptest::prelude::*;

fn base() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_700_000_000_250)
}

#[test]
fn hlog_round_trips_counts_and_percentiles() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rt.hlog");
    let mut w = IntervalLogWriter::create_with_base(&path, Some("round_trip"), base()).unwrap();
    let mut a = new_histogram().unwrap();
    let mut b = new_histogram().unwrap();
    for v in 1..=1000u64 {
        a.record(v * 1000).unwrap();
    }
    for v in 1..=500u64 {
        b.record(v * 7919).unwrap();
    }
    w.write_interval(&a, base(), base() + Duration::from_secs(1))
        .unwrap();
    w.write_interval_offset(&b, Duration::from_secs(1), Duration::from_millis(1500))
        .unwrap();
    drop(w);

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("#[StartTime: 1700000000.250 (seconds since epoch)]"));
    assert!(text.contains("#[BaseTime: 1700000000.250 (seconds since epoch)]"));
    assert!(text.contains(
        "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
    ));
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("Tag=")).collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0].starts_with("Tag=round_trip,0.000,1.000,"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("Tag=round_trip,1.000,1.500,"),
        "{}",
        lines[1]
    );
    // V2 compressed histograms start with the base64 of cookie 0x1c849304.
    assert!(lines[0].split(',').nth(4).unwrap().starts_with("HISTFAAA"));

    let log = read_hlog(&path).unwrap();
    assert_eq!(log.start_time_s, Some(1_700_000_000.25));
    assert_eq!(log.intervals.len(), 2);
    assert_eq!(log.intervals[0].tag.as_deref(), Some("round_trip"));
    assert_eq!(log.intervals[0].hist, a);
    assert_eq!(log.intervals[1].hist, b);
    let m = log.merged().unwrap();
    assert_eq!(m.len(), 1500);
    let mut both = new_histogram().unwrap();
    both.add(&a).unwrap();
    both.add(&b).unwrap();
    for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
        assert_eq!(m.value_at_quantile(q), both.value_at_quantile(q), "q={q}");
    }
}

#[test]
fn hgrm_has_java_layout() {
    let mut h = new_histogram().unwrap();
    for v in 1..=100u64 {
        h.record(v).unwrap();
    }
    let mut out = Vec::new();
    write_hgrm(&mut out, &h, HgrmOptions::default()).unwrap();
    let text = String::from_utf8(out).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "       Value     Percentile TotalCount 1/(1-Percentile)"
    );
    assert_eq!(lines.next().unwrap(), "");
    assert_eq!(
        lines.next().unwrap(),
        "       1.000 0.000000000000          1           1.00"
    );
    let last_row = text
        .lines()
        .rfind(|l| !l.starts_with('#') && !l.is_empty())
        .unwrap();
    assert_eq!(last_row, "     100.000 1.000000000000        100");
    assert!(text.contains("#[Mean    =       50.500, StdDeviation   =       28.866]"));
    assert!(text.contains("#[Max     =      100.000, Total count    =          100]"));
    assert!(text.contains("SubBuckets     =         2048]"));
}

#[test]
fn intended_send_time_charges_the_stall() {
    let mut r = StageRecorders::new().unwrap();
    // Orders meant every 1 ms; the third stalled 10 ms, delaying the ones behind it.
    let intended = [0u64, 1_000_000, 2_000_000, 3_000_000, 4_000_000];
    let acked = [50_000u64, 1_050_000, 12_000_000, 12_050_000, 12_100_000];
    for (i, a) in intended.iter().zip(acked) {
        r.record_since_intended(Stage::RoundTrip, *i, a).unwrap();
    }
    let h = r.histogram(Stage::RoundTrip);
    assert_eq!(h.len(), 5);
    // Three of five samples carry the stall (8.1, 9.05, 10 ms), not one.
    assert!(h.value_at_quantile(0.5) >= 8_000_000);
    r.record_corrected(Stage::SendToAck, 10_000_000, 1_000_000)
        .unwrap();
    assert_eq!(r.histogram(Stage::SendToAck).len(), 10);
    assert!(matches!(
        r.record(Stage::Encode, u64::MAX),
        Err(LatencyError::OutOfRange {
            stage: "encode",
            ..
        })
    ));
}

#[test]
fn bad_tags_and_garbage_files_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        IntervalLogWriter::create(dir.path().join("x.hlog"), Some("a,b")),
        Err(LatencyError::BadTag(_))
    ));
    let p = dir.path().join("bad.hlog");
    std::fs::write(&p, "0.000,1.000,2.0,HISTFAAAAnotbase64!!\n").unwrap();
    assert!(matches!(
        read_hlog(&p),
        Err(LatencyError::Decode { index: 0, .. })
    ));
    std::fs::write(&p, "hello\n").unwrap();
    assert!(matches!(read_hlog(&p), Err(LatencyError::Parse { .. })));
    assert!(matches!(
        read_hlog(dir.path().join("missing.hlog")),
        Err(LatencyError::Io { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400),
                           prefix in 0usize..3) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.hlog");
        let mut content = match prefix {
            0 => Vec::new(),
            1 => b"Tag=x,0.000,1.000,5.0,HISTFAAAA".to_vec(),
            _ => b"#[StartTime: 1.0 (seconds since epoch)]\n0.1,0.2,3.0,".to_vec(),
        };
        content.extend_from_slice(&bytes);
        std::fs::write(&p, &content).unwrap();
        let _ = read_hlog(&p);
    }
}
