//! `mam hist` on interval logs written by mam's own writer.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

use mam_gateway::latency::{new_histogram, IntervalLogWriter};

fn mam() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mam"))
}

/// Two intervals: 1..=1000 µs and 5000 samples of 2..=2.5 ms; returns the merged histogram.
fn write_log(path: &Path) -> hdrhistogram::Histogram<u64> {
    let base = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut w = IntervalLogWriter::create_with_base(path, Some("round_trip"), base).unwrap();
    let mut a = new_histogram().unwrap();
    let mut b = new_histogram().unwrap();
    for v in 1..=1000u64 {
        a.record(v * 1000).unwrap();
    }
    for v in 0..5000u64 {
        b.record(2_000_000 + v * 100).unwrap();
    }
    w.write_interval(&a, base, base + Duration::from_secs(1))
        .unwrap();
    w.write_interval(
        &b,
        base + Duration::from_secs(1),
        base + Duration::from_secs(2),
    )
    .unwrap();
    let mut m = new_histogram().unwrap();
    m.add(&a).unwrap();
    m.add(&b).unwrap();
    m
}

#[test]
fn json_matches_the_merged_histogram() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("rt.hlog");
    let m = write_log(&p);
    let out = mam().arg("hist").arg(&p).arg("--json").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["count"], 6000);
    assert_eq!(v["min"], m.min());
    assert_eq!(v["max"], m.max());
    assert_eq!(v["p50"], m.value_at_quantile(0.5));
    assert_eq!(v["p90"], m.value_at_quantile(0.9));
    assert_eq!(v["p99"], m.value_at_quantile(0.99));
    assert_eq!(v["p999"], m.value_at_quantile(0.999));
    assert!((v["mean"].as_f64().unwrap() - m.mean()).abs() < 1e-6);
    assert!(v.get("intervals").is_none());

    let out = mam()
        .args(["hist", "--json", "--per-interval"])
        .arg(&p)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let iv = v["intervals"].as_array().unwrap();
    assert_eq!(iv.len(), 2);
    assert_eq!(iv[0]["count"], 1000);
    assert_eq!(iv[1]["count"], 5000);
    assert_eq!(iv[1]["tag"], "round_trip");
    assert_eq!(iv[1]["start_s"], 1.0);
}

#[test]
fn table_is_the_hgrm_layout() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("rt.hlog");
    let m = write_log(&p);
    let out = mam().arg("hist").arg(&p).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)\n\n"));
    let max_line = format!(
        "#[Max     = {:12.3}, Total count    =         6000]",
        m.max() as f64
    );
    assert!(text.contains(&max_line), "{text}");
    let out = mam()
        .args(["hist", "--per-interval", "--unit-ratio", "1000"])
        .arg(&p)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("# interval ").count(), 2);
    assert!(text.contains("Total count    =         1000]"), "{text}");
    assert!(
        text.contains("       1.000 0.000000000000          1           1.00"),
        "{text}"
    );
}

#[test]
fn bad_input_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("junk.hlog");
    std::fs::write(&p, "this is not a log\n").unwrap();
    let out = mam().arg("hist").arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("junk.hlog"), "{err}");
    let out = mam()
        .arg("hist")
        .arg(dir.path().join("nope.hlog"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
