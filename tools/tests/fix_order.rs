//! `mam fix order` against QuickFIX's executor (the contract in the issue): 10,000 orders, all
//! filled, JSON summary, interval log; then again after a restart of each side, with the
//! session's sequence numbers carried by the stores.

use std::process::Command;

use mam_tests::quickfix::Executor;

fn mam(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mam"))
        .args(args)
        .output()
        .expect("run mam");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn summary(stdout: &str) -> serde_json::Value {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "--json prints exactly one line: {stdout}");
    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn check(v: &serde_json::Value, n: u64) {
    assert_eq!(v["sent"], n, "{v}");
    assert_eq!(v["filled"], n, "{v}");
    assert_eq!(v["rejected"], 0, "{v}");
    let p = |k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{k} missing: {v}"));
    assert!(
        p("p50_us") > 0.0
            && p("p50_us") <= p("p99_us")
            && p("p99_us") <= p("p999_us")
            && p("p999_us") <= p("max_us"),
        "{v}"
    );
    assert_eq!(v.as_object().unwrap().len(), 7, "{v}");
}

#[test]
fn ten_thousand_orders_filled_across_restarts_of_either_side() {
    let dir = tempfile::tempdir().unwrap();
    let mut ex = Executor::start(&dir.path().join("executor"), 0, "EXECUTOR", "MAM")
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = ex.addr().to_string();
    let store = dir.path().join("mam-store");
    let hlog = dir.path().join("rt.hlog");
    let base = [
        "fix",
        "order",
        "--connect",
        &addr,
        "--sender",
        "MAM",
        "--target",
        "EXECUTOR",
        "--symbol",
        "EURUSD",
        "--side",
        "buy",
        "--qty",
        "10000",
        "--price",
        "1.10000",
        "--account",
        "A1",
        "--json",
        "--store",
        store.to_str().unwrap(),
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };

    let args = with(&["--count", "10000", "--hlog", hlog.to_str().unwrap()]);
    let (code, out, err) = mam(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    check(&summary(&out), 10_000);
    let log = mam_gateway::latency::read_hlog(&hlog).unwrap();
    assert_eq!(
        log.merged().unwrap().len(),
        10_000,
        "the interval log holds every round trip"
    );

    // mam restarts (a new process on the same store): the session resumes, no reset.
    let args = with(&["--count", "500", "--rate", "20000/s"]);
    let (code, out, err) = mam(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    check(&summary(&out), 500);

    // The executor restarts on its own store: both sides resume again.
    ex.restart().unwrap();
    let args = with(&["--count", "500"]);
    let (code, out, err) = mam(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    check(&summary(&out), 500);
    let outs = std::fs::read_to_string(dir.path().join("executor/executor.out")).unwrap();
    assert!(
        !outs.contains("ResetSeqNumFlag=Y"),
        "the sessions were resumed, never reset"
    );
}

#[test]
fn nobody_listening_or_bad_arguments_fail_clearly() {
    let port = mam_tests::quickfix::free_port().unwrap().to_string();
    let addr = format!("127.0.0.1:{port}");
    let (code, _, err) = mam(&[
        "fix",
        "order",
        "--connect",
        &addr,
        "--count",
        "1",
        "--timeout",
        "1",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no FIX logon"), "{err}");
    let (code, _, err) = mam(&["fix", "order", "--connect", &addr, "--side", "up"]);
    assert_eq!(code, 2);
    assert!(err.contains("--side"), "{err}");
    let (code, _, err) = mam(&["fix", "order", "--connect", &addr, "--price", "1.123456789"]);
    assert_eq!(code, 2);
    assert!(err.contains("--price"), "{err}");
}
