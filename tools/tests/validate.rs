//! `mam train` then `mam validate` on the real 2018 bars, as a user runs them: a model fitted
//! on January–February, validated on March (never the same months), on a generated book.
//! Checks the report's shape, the bounds, the walk-forward refusal and bit-for-bit repeats.

use std::path::Path;
use std::process::Command;

fn mam() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mam"))
}

fn histdata() -> std::path::PathBuf {
    let d = mam_tests::shared_data().join("histdata");
    assert!(
        d.join("HISTDATA_COM_ASCII_EURUSD_M12018.zip").is_file(),
        "the HistData 2018 bars are missing under {} (see ../shared/data/PROVENANCE.md)",
        d.display()
    );
    d
}

fn validate(model: &Path, out: &Path, from: &str, to: &str) -> std::process::Output {
    mam()
        .args(["validate", "--bars"])
        .arg(histdata())
        .args(["--symbols", "EURUSD,USDJPY", "--model"])
        .arg(model)
        .args([
            "--generate",
            "200",
            "--strategy",
            "meanrev",
            "--leverage",
            "0.5",
        ])
        .args(["--from", from, "--to", to, "--out"])
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn train_then_validate_walk_forward() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.toml");
    let t = mam()
        .args(["train", "--bars"])
        .arg(histdata())
        .args([
            "--symbols",
            "EURUSD,USDJPY",
            "--from",
            "2018-01-01",
            "--to",
            "2018-02-01",
        ])
        .args(["--test-to", "2018-03-01", "--out"])
        .arg(&model)
        .output()
        .unwrap();
    assert!(
        t.status.success(),
        "train: {}",
        String::from_utf8_lossy(&t.stderr)
    );

    // The training months are refused for validation.
    let bad = validate(&model, &dir.path().join("bad"), "2018-01-15", "2018-03-01");
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("overlaps"), "{err}");

    let out1 = dir.path().join("r1");
    let v = validate(&model, &out1, "2018-03-01", "2018-04-01");
    assert!(
        v.status.success(),
        "validate: {}",
        String::from_utf8_lossy(&v.stderr)
    );
    let table = String::from_utf8_lossy(&v.stdout);
    assert!(table.contains("allocations inside bounds"), "{table}");
    assert!(table.contains("static-matched"), "{table}");

    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out1.join("report.json")).unwrap()).unwrap();
    let runs = j["runs"].as_array().unwrap();
    let names: Vec<&str> = runs.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["static", "adaptive", "static-matched"]);
    let adaptive = &runs[1]["metrics"];
    assert_eq!(
        adaptive["in_bounds"], adaptive["allocations"],
        "every adaptive allocation inside the manager's bounds"
    );
    assert!(adaptive["allocations"].as_u64().unwrap() > 0);
    assert!(
        !runs[1]["factors"].as_array().unwrap().is_empty(),
        "the adaptive run journaled factors"
    );
    assert!(j["verdict"].is_object() && j["verdict_matched"].is_object());
    assert!(j["meta"]["split"]
        .as_str()
        .unwrap()
        .contains("walk-forward"));
    let html = std::fs::read_to_string(out1.join("report.html")).unwrap();
    assert!(html.contains("<svg"));

    // Same inputs, same report, byte for byte.
    let out2 = dir.path().join("r2");
    let v2 = validate(&model, &out2, "2018-03-01", "2018-04-01");
    assert!(v2.status.success());
    assert_eq!(
        std::fs::read(out1.join("report.json")).unwrap(),
        std::fs::read(out2.join("report.json")).unwrap()
    );
}
