//! `mam bench transport --json` runs both hops and reports them (figures are not asserted:
//! this is a smoke test of the command, the numbers are for people).

use std::process::Command;

#[test]
fn json_reports_both_hops() {
    let out = Command::new(env!("CARGO_BIN_EXE_mam"))
        .args(["bench", "transport", "--count", "2000", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for k in ["shm_ring_hop", "rtrb_hop"] {
        assert_eq!(v[k]["round_trips"], 2000, "{k}");
        assert!(v[k]["p50_ns"].as_f64().unwrap() > 0.0, "{k}");
        assert!(v[k]["p50_ns"].as_f64() <= v[k]["p99_ns"].as_f64(), "{k}");
    }
    assert_eq!(v["message_bytes"], 64);
}
