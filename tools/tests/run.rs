//! `mam run` (the built-in demo): runs, reports, checks its invariants, and repeats exactly:
//! two runs with the same seed write identical journals and end in the same state digest,
//! in `shared` and `dedicated` mode alike; the state it leaves recovers to that digest.

use std::path::Path;
use std::process::Command;

use mam_core::engine::Engine;
use mam_core::journal::JournalConfig;
use mam_core::symbol::SymbolTable;

fn mam() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mam"))
}

fn run_json(state: &Path, extra: &[&str]) -> serde_json::Value {
    let out = mam()
        .args([
            "run",
            "--accounts",
            "300",
            "--trades",
            "6",
            "--no-pin",
            "--json",
            "--state",
        ])
        .arg(state)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mam run failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "exactly one JSON object: {text}");
    serde_json::from_str(&text).unwrap()
}

fn journal_bytes(state: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(state.join("journal"))
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn demo_runs_checks_and_repeats_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    // Frequent checkpoints in one run, none but start and end in the other: same state.
    let ja = run_json(&a, &["--checkpoint-every", "500"]);
    let jb = run_json(
        &b,
        &[
            "--mode",
            "dedicated",
            "--ring",
            "64",
            "--checkpoint-every",
            "0",
        ],
    );
    assert!(
        ja["checkpoints"].as_u64().unwrap() > 3,
        "{}",
        ja["checkpoints"]
    );
    assert_eq!(jb["checkpoints"], 2);

    assert_eq!(ja["ok"], true);
    assert_eq!(ja["mode"], "shared");
    assert_eq!(jb["mode"], "dedicated");
    let e = &ja["engine"];
    assert_eq!(e["opens"], 6);
    assert!(
        e["closes"].as_u64().unwrap() >= 12,
        "each trade closes partially then fully"
    );
    assert!(e["orders"].as_u64().unwrap() > 6);
    assert_eq!(e["orders"], e["orders_filled"]);
    assert_eq!(e["tickets_flat"], 6);
    assert_eq!(e["open_tickets"], 0);
    assert_eq!(ja["lp"]["orders"], e["orders"]);
    assert!(ja["lp"]["fills"].as_u64().unwrap() > e["orders"].as_u64().unwrap());
    assert!(ja["accounts_touched"].as_u64().unwrap() > 100);
    assert_eq!(ja["invariants"]["engine"]["failed"], 0);
    assert!(ja["invariants"]["engine"]["checked"].as_u64().unwrap() > 0);
    for c in ja["invariants"]["journal"].as_array().unwrap() {
        assert_eq!(c["failed"], 0, "{c}");
    }
    assert!(ja["latency_ns"]["engine_apply"]["count"].as_u64().unwrap() > 0);
    assert_eq!(ja["rings"].as_array().unwrap().len(), 4);

    // Same seed: same digest and the very same journal bytes, whatever the threading.
    assert_eq!(ja["state_digest"], jb["state_digest"]);
    assert_eq!(ja["journal"]["records"], jb["journal"]["records"]);
    assert!(journal_bytes(&a) == journal_bytes(&b), "journals differ");

    // The state left on disk recovers to the same digest (checkpoint + journal).
    let r = Engine::recover(
        &a.join("checkpoints"),
        &a.join("journal"),
        JournalConfig::default(),
        SymbolTable::builtin(),
    )
    .unwrap();
    assert_eq!(
        format!("{:016x}", r.engine.digest()),
        ja["state_digest"].as_str().unwrap()
    );

    // Another seed: another run.
    let c = dir.path().join("c");
    let jc = run_json(&c, &["--seed", "7"]);
    assert_ne!(jc["state_digest"], ja["state_digest"]);
}

#[test]
fn readable_summary_and_errors() {
    let out = mam()
        .args(["run", "--accounts", "50", "--trades", "2", "--no-pin"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "invariants:",
        "latency",
        "rings",
        "journal:",
        "state digest:",
        "OK",
    ] {
        assert!(text.contains(want), "missing `{want}` in:\n{text}");
    }

    let out = mam().args(["run", "--mode", "fast"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("shared or dedicated"));

    // A state directory that already holds a journal is refused, not overwritten.
    let dir = tempfile::tempdir().unwrap();
    run_json(dir.path(), &[]);
    let out = mam()
        .args(["run", "--accounts", "50", "--trades", "1", "--state"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already holds a journal"));
}
