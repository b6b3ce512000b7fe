//! `mam bench all` writes its report: parseable `bench.json` with every expected figure of the
//! groups it ran, each with the fields the issue asks for, and `bench.md`. Shape only: the
//! machine is shared, so no figure is judged (a missed target is `met: false`, not a failure).
#![cfg(feature = "bench")]

use std::process::Command;

use serde_json::Value;

/// The figures of the groups the test runs (the pipeline and the ledger take minutes in a test
/// build; `mam bench all --quick` runs them too).
const EXPECTED: [&str; 17] = [
    "transport.shm_hop.p50",
    "transport.shm_hop.p99",
    "fix.nos_encode",
    "fix.er_decode",
    "fix.er_decode_typed",
    "decode.itch.vs_itch5",
    "decode.itch.vs_itchy",
    "decode.tops.book",
    "decode.tops.decode_only",
    "alloc.equity_100k",
    "sbe.decode",
    "journal.every.batch1",
    "journal.interval.batch1",
    "journal.checkpoint.batch1",
    "journal.every.batch64",
    "journal.interval.batch64",
    "journal.checkpoint.batch64",
];

/// Figures that carry a target from the table.
const WITH_TARGET: [&str; 6] = [
    "fix.nos_encode",
    "fix.er_decode_typed",
    "decode.itch.vs_itch5",
    "decode.itch.vs_itchy",
    "decode.tops.book",
    "alloc.equity_100k",
];

#[test]
fn bench_all_quick_writes_every_figure() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_mam"))
        .args(["bench", "all", "--quick", "--only"])
        .arg("transport,fix,decode,alloc,sbe,journal")
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let v: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("bench.json")).unwrap()).unwrap();
    assert_eq!(v["errors"].as_array().unwrap().len(), 0, "{v}");
    let figs = v["figures"].as_array().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    for name in EXPECTED {
        let f = figs
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing from bench.json"));
        assert!(f["value"].is_f64(), "{name}: {f}");
        assert!(f["unit"].is_string(), "{name}: {f}");
        assert!(f["reference"]["name"].is_string(), "{name}: no reference");
        assert!(f["reference"]["value"].is_f64(), "{name}: {f}");
        assert!(
            stdout.lines().any(|l| l.starts_with(name)),
            "no summary line for {name}"
        );
    }
    // Every figure with a target says whether it was met; the targets are there.
    for f in figs {
        assert_eq!(f["target"].is_null(), f["met"].is_null(), "{f}");
    }
    for name in WITH_TARGET {
        let f = figs.iter().find(|f| f["name"] == name).unwrap();
        assert!(f["met"].is_boolean(), "{name} has no target: {f}");
    }
    // The transport round trips as HdrHistogram files, readable by `mam hist`.
    let hlog = dir.path().join("transport/transport-shm-round-trip.hlog");
    assert!(dir
        .path()
        .join("transport/transport-rtrb-round-trip.hgrm")
        .is_file());
    let h = Command::new(env!("CARGO_BIN_EXE_mam"))
        .arg("hist")
        .arg(&hlog)
        .arg("--json")
        .output()
        .unwrap();
    assert!(h.status.success(), "{}", String::from_utf8_lossy(&h.stderr));
    let hv: Value = serde_json::from_slice(&h.stdout).unwrap();
    assert!(hv["count"].as_u64().unwrap() > 0);
    let md = std::fs::read_to_string(dir.path().join("bench.md")).unwrap();
    assert!(md.contains("| `fix.nos_encode`"), "{md}");
}

/// The instruction counts come out the same twice (callgrind: `.ci/test` installs Debian's
/// valgrind; without it the test fails saying so).
#[test]
fn bench_instructions_are_deterministic() {
    assert!(
        Command::new("valgrind").arg("--version").output().is_ok(),
        "valgrind not found: install it with `apt-get install -y valgrind` (.ci/test does)"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_mam"))
        .args(["bench", "instructions", "--json", "--only", "fix.nos,itch"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let counts = v["counts"].as_array().unwrap();
    assert_eq!(counts.len(), 2, "{v}");
    for c in counts {
        let n = c["instructions_per_item"].as_f64().unwrap();
        assert!(n > 0.0, "{c}");
        // Callgrind counts the same binary's same path the same; a hash seed in a set-up may
        // move a count by an instruction or two in millions.
        let again = c["again"].as_f64().unwrap();
        assert!((again - n).abs() <= n * 1e-4, "not deterministic: {c}");
    }
}

/// Every group, quick (about 70 s in a release build, minutes in a test build): every
/// pipeline configuration and the other groups' figures are there. Run with
/// `cargo test --release -p mam-tools --test bench_all -- --ignored`.
#[test]
#[ignore = "minutes in a test build; run with --ignored"]
fn bench_all_quick_every_group() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_mam"))
        .args(["bench", "all", "--quick", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("bench.json")).unwrap()).unwrap();
    let names: Vec<&str> = v["figures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    let mut want: Vec<String> = EXPECTED.iter().map(|s| s.to_string()).collect();
    for n in ["quote_apply", "open_live_equity", "full_mark"] {
        want.push(format!("ledger.{n}"));
    }
    for n in [
        "factors_vs_static",
        "factors_vs_floor",
        "static_plus_factors",
        "open",
    ] {
        want.push(format!("adaptive.{n}"));
    }
    for n in ["on_quote", "on_quote_closing"] {
        want.push(format!("adaptive.{n}"));
    }
    for config in ["inproc", "socket", "socket-binary"] {
        for accounts in [100, 1_000, 10_000] {
            for routing in ["block", "per-account"] {
                for p in ["p50", "p99"] {
                    want.push(format!(
                        "pipeline.{config}.{accounts}.{routing}.last_child.{p}"
                    ));
                }
            }
        }
    }
    for accounts in [100, 1_000, 10_000] {
        want.push(format!("pipeline.inproc.{accounts}.per-account.per_child"));
    }
    if Command::new("valgrind").arg("--version").output().is_ok() {
        for n in ["alloc", "itch", "tops", "sbe", "fix.er", "fix.nos"] {
            want.push(format!("instructions.{n}"));
        }
        for n in ["engine.quote", "engine.open"] {
            want.push(format!("instructions.{n}"));
        }
    }
    for w in &want {
        assert!(names.contains(&w.as_str()), "{w} missing: {names:?}");
    }
}
