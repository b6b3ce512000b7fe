//! `mam capture inspect` on the real captures: the JSON contract.

use std::process::Command;

fn data(rel: &str) -> String {
    mam_core::shared_data::expect_shared(rel)
        .display()
        .to_string()
}

fn inspect(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_mam"))
        .args(["capture", "inspect", "--json"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.trim().lines().count(),
        1,
        "exactly one JSON object: {text}"
    );
    serde_json::from_str(&text).unwrap()
}

#[test]
fn tops16_json() {
    let v = inspect(&[&data("iex/TOPS16.pcap")]);
    assert_eq!(v["format"], "iex-tp");
    assert_eq!(v["container"], "pcap");
    assert_eq!(v["frames"], 13_022);
    assert_eq!(v["truncated"], false);
    assert_eq!(v["messages"], 57_674);
    assert_eq!(v["gaps"], 0);
    assert_eq!(v["duplicates"], 0);
    for (k, n) in [
        ("Q", 27_217),
        ("H", 7_803),
        ("P", 7_802),
        ("O", 7_801),
        ("T", 6_390),
        ("A", 642),
        ("D", 10),
        ("S", 6),
        ("B", 3),
    ] {
        assert_eq!(v["by_type"][k], n, "{k}");
    }
    assert!(v["symbols"].as_u64().unwrap() > 0);
    assert!(v["first_ts"]
        .as_str()
        .unwrap()
        .starts_with("2017-07-10T14:32:18."));
    assert!(v["last_ts"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn itch_and_cme_json() {
    let v = inspect(&[&data("itch/nasdaq-sample-1000.itch")]);
    assert_eq!(
        (v["format"].as_str(), v["container"].as_str()),
        (Some("itch50"), Some("itch-binaryfile"))
    );
    assert_eq!(
        (v["frames"].as_u64(), v["messages"].as_u64()),
        (Some(1_000), Some(1_000))
    );
    assert_eq!(v["by_type"]["R"], 993);
    let v = inspect(&[&data("itch/ritch-artificial-zero-prefix.itch")]);
    assert_eq!(v["messages"], 12_012);
    let v = inspect(&[&data("itch/moldudp64/Multiple.Packets.pcap")]);
    assert_eq!(
        (v["frames"].as_u64(), v["messages"].as_u64()),
        (Some(2), Some(39))
    );
    let v = inspect(&[&data("cme/mdp3-fx-session-statistics.pcap")]);
    assert_eq!(
        (v["messages"].as_u64(), v["duplicates"].as_u64()),
        (Some(382), Some(382))
    );
    assert_eq!(v["by_type"]["32"], 181);
    let v = inspect(&["--format", "iex-tp", &data("iex/TOPS16.pcap")]);
    assert_eq!(v["messages"], 57_674);
}

#[test]
fn garbage_is_refused_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("junk.bin");
    std::fs::write(&p, b"this is not a capture at all").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mam"))
        .args(["capture", "inspect", "--json"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a pcap/pcapng capture nor an ITCH"),
        "{err}"
    );
}

#[test]
fn bench_decode_json_prints_figures_and_references() {
    let out = Command::new(env!("CARGO_BIN_EXE_mam"))
        .args(["bench", "decode", "--json", "--budget-ms", "1", "--data"])
        .arg(data(""))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["itch_messages"], 13_012);
    assert_eq!(v["tops_frames"], 13_022);
    assert_eq!(v["tops_messages"], 57_674);
    let names: Vec<_> = v["itch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["mam", "itch5 (reference)", "itchy (reference)"]);
    assert!(v["itch_vs_itchy"].as_f64().unwrap() > 0.0);
    assert!(v["tops_over_raw_read"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_forced_format_that_decodes_nothing_is_an_error_naming_the_detected_one() {
    let tops = data("iex/TOPS16.pcap");
    for f in ["itch50", "mam-sbe", "mdp3"] {
        let o = Command::new(env!("CARGO_BIN_EXE_mam"))
            .args(["capture", "inspect", "--format", f, &tops])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "--format {f}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(
            e.contains(&format!(
                "--format {f}: none of its 13022 packets decodes as {f}"
            )) && e.contains("detected without --format: iex-tp"),
            "{e}"
        );
    }
}
