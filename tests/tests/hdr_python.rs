//! Interop: an `.hlog` written by mam is decoded by Python's `hdrhistogram` package (PyPI,
//! module `hdrh`), and its counts and percentiles must equal what Rust computed.
//!
//! Needs `python3` with `pip install hdrhistogram` (CI's `.ci/run` installs it). If either is
//! missing the test FAILS: an interop test that skips proves nothing.

use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

use mam_gateway::latency::{new_histogram, read_hlog, IntervalLogWriter};

const SCRIPT: &str = r#"
import json, sys
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

reader = HistogramLogReader(sys.argv[1], HdrHistogram(1, 60_000_000_000, 3))
merged = HdrHistogram(1, 60_000_000_000, 3)
intervals = []
while True:
    h = reader.get_next_interval_histogram()
    if h is None:
        break
    intervals.append({"tag": h.get_tag(), "count": h.get_total_count(),
                      "start_ms": h.get_start_time_stamp(), "end_ms": h.get_end_time_stamp()})
    merged.add(h)
pcts = [float(p) for p in sys.argv[2].split(",")]
print(json.dumps({
    "start_time_sec": reader.get_start_time_sec(),
    "intervals": intervals,
    "count": merged.get_total_count(),
    "min": merged.get_min_value(),
    "max": merged.get_max_value(),
    "percentiles": [merged.get_value_at_percentile(p) for p in pcts],
}))
"#;

/// Percentiles compared (their target counts fall inside runs of equal values, so any
/// implementation's rounding of "count at percentile" lands on the same value).
const PERCENTILES: [f64; 7] = [10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9];

#[test]
fn python_hdrh_decodes_mam_hlog_identically() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("interop.hlog");
    let base = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut w = IntervalLogWriter::create_with_base(&path, Some("round_trip"), base).unwrap();
    // 3 intervals, 10,000 samples: value k·1000 ns recorded 10 times (5 times for the first and
    // the last k), so runs of equal values end at counts 5, 15, 25, ... while every compared
    // percentile's target count is a multiple of 10: ceil, round-half-up or float noise of ±1
    // all land in the same run.
    let mut k = 1u64;
    let mut total = new_histogram().unwrap();
    for i in 0..3u64 {
        let mut h = new_histogram().unwrap();
        let runs = if i == 2 { 401 } else { 300 };
        for _ in 0..runs {
            let copies = if k == 1 || k == 1001 { 5 } else { 10 };
            h.record_n(k * 1000 + (k % 7), copies).unwrap();
            k += 1;
        }
        total.add(&h).unwrap();
        w.write_interval_offset(&h, Duration::from_secs(i), Duration::from_secs(1))
            .unwrap();
    }
    drop(w);
    assert_eq!(total.len(), 10_000);
    // Rust's own reading of the file agrees with what was written.
    assert_eq!(read_hlog(&path).unwrap().merged().unwrap().len(), 10_000);

    let pcts: Vec<String> = PERCENTILES.iter().map(|p| p.to_string()).collect();
    let out = match Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(&path)
        .arg(pcts.join(","))
        .output()
    {
        Ok(o) => o,
        Err(e) => panic!(
            "python3 is required for the HdrHistogram interop test and could not be run ({e}); \
             install Python 3 and `pip install hdrhistogram`"
        ),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named 'hdrh'"),
        "the PyPI package `hdrhistogram` (module hdrh) is missing: run `pip install hdrhistogram`"
    );
    assert!(out.status.success(), "python3 failed: {stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("python output is not JSON ({e}): {stderr}"));

    assert_eq!(v["start_time_sec"], 1_700_000_000.0);
    let iv = v["intervals"].as_array().unwrap();
    assert_eq!(iv.len(), 3);
    let counts: Vec<u64> = iv.iter().map(|i| i["count"].as_u64().unwrap()).collect();
    assert_eq!(counts, vec![2995, 3000, 4005]);
    assert_eq!(iv[2]["tag"], "round_trip");
    // Interval 2 starts 2 s after BaseTime: absolute ms since the epoch.
    assert_eq!(iv[2]["start_ms"], 1_700_000_002_000.0);
    assert_eq!(v["count"], total.len());
    assert_eq!(v["min"], total.min());
    assert_eq!(v["max"], total.max());
    let py: Vec<u64> = v["percentiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    let rust: Vec<u64> = PERCENTILES
        .iter()
        .map(|p| total.value_at_percentile(*p))
        .collect();
    assert_eq!(py, rust, "percentiles {PERCENTILES:?}");
}
