//! `mam bench sbe --json`: runs on the real EURUSD day and reports both figures.

#[test]
fn bench_sbe_reports_decode_and_reference() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_mam"))
        .args(["bench", "sbe", "--json", "--budget-ms", "20"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["quotes"], 136_741);
    // Every field of every quote survives encode → decode: the decoder's wrapping sum over all
    // fields of the EURUSD day (integers only, so the same on every machine).
    assert_eq!(v["decoded_quotes"], 136_741);
    assert_eq!(v["decoded_checksum"], 8_458_097_837_709_056_701i64);
    assert!(v["decode"]["runs"].as_u64().unwrap() >= 5);
    assert!(v["decode"]["million_quotes_per_s_median"].as_f64().unwrap() > 0.0);
    assert!(
        v["reference_memory_stream"]["gb_per_s_median"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert!(v["target_met"].is_boolean());
}
