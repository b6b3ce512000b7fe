//! `mam run --config`: values the daemon cannot run with are refused before anything starts,
//! naming the key; durations take decimals wherever they are parsed.

use std::path::Path;
use std::process::{Command, Output};

fn mam(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mam"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run mam")
}

/// Runs the daemon on `extra` appended to a config that could only run briefly and alone
/// (no manager listener, a short duration), and returns its exit code and stderr.
fn run_config(extra: &str) -> (Option<i32>, String) {
    let d = tempfile::tempdir().unwrap();
    let text = format!("state = \"state\"\nduration = \"1s\"\n[manager]\nenabled = false\n{extra}");
    std::fs::write(d.path().join("mam.toml"), text).unwrap();
    let o = mam(&["run", "--config", "mam.toml"], d.path());
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn huge_ring_is_a_config_error_with_the_range() {
    let (code, err) = run_config("[pipeline]\nring = 1099511627776\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("pipeline.ring = 1099511627776") && err.contains("1048576"),
        "{err}"
    );
}

#[test]
fn risk_limits_must_be_positive() {
    for key in [
        "max_order_qty",
        "max_order_notional",
        "max_account_qty",
        "max_account_notional",
    ] {
        for v in ["-5", "0"] {
            let (code, err) = run_config(&format!("[engine.risk]\n{key} = \"{v}\"\n"));
            assert_eq!(code, Some(2), "{key} = {v}: {err}");
            assert!(
                err.contains(&format!("engine.risk.{key} = \"{v}\""))
                    && err.contains("more than 0"),
                "{key} = {v}: {err}"
            );
        }
    }
}

#[test]
fn event_time_without_a_feed_is_refused_with_the_reason() {
    let (code, err) =
        run_config("[feed]\nsource = \"none\"\n[pipeline]\nsequencing = \"event_time\"\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("feed.source = \"none\"")
            && err.contains("event_time")
            && err.contains("never be applied"),
        "{err}"
    );
}

#[test]
fn decimal_durations_are_accepted_and_garbage_refused() {
    let d = tempfile::tempdir().unwrap();
    for dur in ["0.5s", "1.5ms"] {
        let o = mam(
            &[
                "run",
                "--accounts",
                "20",
                "--trades",
                "1",
                "--no-pin",
                "--duration",
                dur,
            ],
            d.path(),
        );
        assert!(
            o.status.success(),
            "--duration {dur}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    for (dur, why) in [
        ("abc", "expected a number"),
        ("-1s", "expected a number"),
        ("0.5.5s", "expected a number"),
        ("1.s", "expected a number"),
        ("2h", "unit must be"),
        ("99999999999m", "too long"),
        ("0.0000000001s", "finer than a nanosecond"),
    ] {
        let o = mam(
            &["run", "--accounts", "20", &format!("--duration={dur}")],
            d.path(),
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "--duration {dur}: {err}");
        assert!(
            err.contains(&format!("duration `{dur}`")) && err.contains(why),
            "--duration {dur}: {err}"
        );
    }
}

#[test]
fn admin_listen_beyond_loopback_needs_allow_remote() {
    let (code, err) = run_config("[admin]\nenabled = true\nlisten = \"0.0.0.0:0\"\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("admin.listen") && err.contains("allow_remote"),
        "{err}"
    );
    // A short token is a config error: refused before the state directory exists.
    let d = tempfile::tempdir().unwrap();
    let text = "state = \"state\"\nduration = \"1s\"\n[manager]\nenabled = false\n\
                [admin]\nenabled = true\ntoken = \"short\"\nlisten = \"127.0.0.1:0\"\n";
    std::fs::write(d.path().join("mam.toml"), text).unwrap();
    let o = mam(&["run", "--config", "mam.toml"], d.path());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("admin.token"), "{err}");
    assert!(!d.path().join("state").exists(), "state directory created");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let d = tempfile::tempdir().unwrap();
    // The LP is unreachable (port 9 on loopback: discard, nothing listens): the initiator logs
    // its connect failures at info.
    let text = "state = \"state\"\nduration = \"1s\"\n[manager]\nenabled = false\n\
                [feed]\nsource = \"none\"\n[lp]\nconnect = \"127.0.0.1:9\"\n";
    std::fs::write(d.path().join("mam.toml"), text).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_mam"))
        .args(["--log-format", "json", "run", "--config", "mam.toml"])
        .env("RUST_LOG", "info")
        .current_dir(d.path())
        .output()
        .expect("run mam");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert!(!lines.is_empty(), "no log lines");
    for l in &lines {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(
            v["level"].is_string() && v["fields"]["message"].is_string(),
            "{l}"
        );
    }
    // The stats line as an event too, with its figures as fields.
    let stats: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"] == "mam::stats")
        .collect();
    assert!(!stats.is_empty(), "no mam::stats event:\n{err}");
    let f = &stats[stats.len() - 1]["fields"];
    assert!(f["inputs"].is_u64() && f["journal_seq"].is_u64(), "{f}");
    let edges: serde_json::Value =
        serde_json::from_str(f["edges"].as_str().expect("edges as JSON text")).unwrap();
    assert!(edges["lp-connect-failures"].as_u64() > Some(0), "{edges}");
}

#[test]
fn a_port_in_use_fails_the_start_before_the_state_directory_exists() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    for extra in [
        format!("[admin]\nenabled = true\nlisten = \"127.0.0.1:{port}\"\n"),
        format!("[manager]\nlisten = \"127.0.0.1:{port}\"\n"),
    ] {
        let d = tempfile::tempdir().unwrap();
        let text =
            format!("state = \"state\"\nduration = \"1s\"\n[feed]\nsource = \"none\"\n{extra}");
        std::fs::write(d.path().join("mam.toml"), text).unwrap();
        let o = mam(&["run", "--config", "mam.toml"], d.path());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_ne!(o.status.code(), Some(0), "{extra}: {err}");
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
        assert!(err.contains("cannot listen"), "{err}");
        assert!(
            !d.path().join("state").exists(),
            "{extra}: state directory created"
        );
    }
}
