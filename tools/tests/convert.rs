//! `mam capture convert --from dukascopy`: the real EURUSD day and BTCUSD hour into pcaps of
//! mam's SBE feed, read back by `mam capture inspect`.

use std::path::PathBuf;
use std::process::Command;

fn shared(rel: &str) -> PathBuf {
    mam_core::shared_data::expect_shared(rel)
}

fn mam(args: &[&str]) -> (Option<i32>, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_mam"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn eurusd_day_converts_to_136741_quotes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eurusd.pcap");
    let src = shared("dukascopy/EURUSD-2019-02-04");
    let (code, stdout, err) = mam(&[
        "capture",
        "convert",
        "--from",
        "dukascopy",
        src.to_str().unwrap(),
        "--symbol",
        "EURUSD",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["quotes"], 136_741);
    assert_eq!(v["hours"], 24);
    assert_eq!(
        v["first_ts"].as_str().unwrap().get(..10),
        Some("2019-02-04")
    );
    let (code, stdout, err) = mam(&["capture", "inspect", out.to_str().unwrap(), "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let r: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(r["format"], "mam-sbe");
    assert_eq!(r["container"], "pcap");
    assert_eq!(r["frames"], v["packets"]);
    assert_eq!(r["messages"], 136_742);
    assert_eq!(r["by_type"]["3"], 136_741);
    assert_eq!(r["by_type"]["2"], 1);
    assert_eq!(r["gaps"], 0);
    assert_eq!(r["truncated"], false);
    assert_eq!(r["symbols"], 1);
}

#[test]
fn btcusd_single_hour_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("btc.pcap");
    let src = shared("dukascopy/BTCUSD-2023-02-20/12h_ticks.bi5");
    let (code, stdout, err) = mam(&[
        "capture",
        "convert",
        "--from",
        "dukascopy",
        src.to_str().unwrap(),
        "--symbol",
        "BTCUSD",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(stdout.contains("8523 quotes"), "{stdout}");
    assert!(stdout.contains("2023-02-20T12:00:00.084Z"), "{stdout}");
    let (_, stdout, _) = mam(&["capture", "inspect", out.to_str().unwrap(), "--json"]);
    let r: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(r["by_type"]["3"], 8_523);
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.pcap");
    let o = out.to_str().unwrap();
    let (code, _, err) = mam(&[
        "capture",
        "convert",
        "--from",
        "dukascopy",
        "/nonexistent",
        "--symbol",
        "EURUSD",
        "--out",
        o,
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("/nonexistent"), "{err}");
    // A garbled hour file names the file.
    let day = dir.path().join("EURUSD-2019-02-04");
    std::fs::create_dir(&day).unwrap();
    std::fs::write(day.join("03h_ticks.bi5"), b"\x5d\x00\x00garbage").unwrap();
    let (code, _, err) = mam(&[
        "capture",
        "convert",
        "--from",
        "dukascopy",
        day.to_str().unwrap(),
        "--symbol",
        "EURUSD",
        "--out",
        o,
    ]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("03h_ticks.bi5") && err.contains("LZMA"),
        "{err}"
    );
    // A file whose name does not say the hour.
    std::fs::write(day.join("ticks.bi5"), b"").unwrap();
    let (code, _, err) = mam(&[
        "capture",
        "convert",
        "--from",
        "dukascopy",
        day.to_str().unwrap(),
        "--symbol",
        "EURUSD",
        "--out",
        o,
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("HHh_ticks.bi5"), "{err}");
}

#[test]
fn output_that_is_the_input_is_refused_and_the_input_kept() {
    let dir = tempfile::tempdir().unwrap();
    let day = dir.path().join("EURUSD-2019-02-04");
    std::fs::create_dir(&day).unwrap();
    let hour = day.join("13h_ticks.bi5");
    let original = std::fs::read(shared("dukascopy/EURUSD-2019-02-04/13h_ticks.bi5")).unwrap();
    std::fs::write(&hour, &original).unwrap();
    let h = hour.to_str().unwrap();
    // The hour file itself, and the same file reached through its folder.
    for (input, out) in [
        (h.to_string(), h.to_string()),
        (
            day.to_str().unwrap().to_string(),
            format!("{}/./13h_ticks.bi5", day.display()),
        ),
    ] {
        let (code, _, err) = mam(&[
            "capture",
            "convert",
            "--from",
            "dukascopy",
            &input,
            "--symbol",
            "EURUSD",
            "--out",
            &out,
        ]);
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains(&format!("--out {out} is the same file as the input {h}")),
            "{err}"
        );
        assert_eq!(std::fs::read(&hour).unwrap(), original, "input untouched");
    }
}

#[test]
fn failed_convert_leaves_an_existing_out_untouched_and_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let day = dir.path().join("EURUSD-2019-02-04");
    std::fs::create_dir(&day).unwrap();
    // A good first hour, then a garbled one: the failure comes after output was written.
    std::fs::copy(
        shared("dukascopy/EURUSD-2019-02-04/00h_ticks.bi5"),
        day.join("00h_ticks.bi5"),
    )
    .unwrap();
    std::fs::write(day.join("03h_ticks.bi5"), b"\x5d\x00\x00garbage").unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("x.pcap");
    std::fs::write(&out, b"previous capture").unwrap();
    let (code, _, err) = mam(&[
        "capture",
        "convert",
        "--from",
        "dukascopy",
        day.to_str().unwrap(),
        "--symbol",
        "EURUSD",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("03h_ticks.bi5"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"previous capture");
    let names: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["x.pcap"], "no partial file left");
    // Without an existing --out, a failure leaves no partial capture for `inspect`.
    std::fs::remove_file(&out).unwrap();
    let (code, _, _) = mam(&[
        "capture",
        "convert",
        "--from",
        "dukascopy",
        day.to_str().unwrap(),
        "--symbol",
        "EURUSD",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2));
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 0);
}

#[test]
fn an_empty_long_or_unknown_symbol_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let hour = shared("dukascopy/EURUSD-2019-02-04/13h_ticks.bi5");
    let out = dir.path().join("c.pcap");
    let (h, o) = (hour.display().to_string(), out.display().to_string());
    for (sym, says) in [
        ("", "1 to 16 ASCII letters and digits"),
        ("EURUSDEURUSDEURUSD", "1 to 16 ASCII letters and digits"),
        ("XYZ", "give --point-decimals"),
    ] {
        let (code, _, err) = mam(&[
            "capture",
            "convert",
            "--from",
            "dukascopy",
            &h,
            "--symbol",
            sym,
            "--out",
            &o,
        ]);
        assert_eq!(code, Some(2), "--symbol {sym:?}: {err}");
        assert!(err.contains(says), "--symbol {sym:?}: {err}");
        assert!(!out.exists(), "--symbol {sym:?} wrote {o}");
    }
    // An unknown symbol with its price scale given converts.
    let (code, _, err) = mam(&[
        "capture",
        "convert",
        "--from",
        "dukascopy",
        &h,
        "--symbol",
        "XYZ",
        "--point-decimals",
        "5",
        "--out",
        &o,
    ]);
    assert_eq!(code, Some(0), "{err}");
}
