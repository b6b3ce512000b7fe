//! The config reloaded on a running daemon (SIGHUP and `POST /api/reload`): the real daemon on
//! the shared EURUSD day, QuickFIX's executor as the LP, a manager on FIX 4.4:
//! - a changed `[engine.risk]` limit is applied as a journaled input (the API reads it back,
//!   `mam journal dump` shows it, a restart keeps it);
//! - a changed `engine.routing` acts for the next master that names none (its children go per
//!   account, each with its account's id);
//! - a file that would not start the daemon is refused with the reason, by the signal and by
//!   the API (422 naming `config`), and nothing changes;
//! - keys that need a restart are listed, not applied.
//!
//! Needs the shared data and QuickFIX (`.ci/test` installs it); fails saying so.

use mam_tests::admin_api::Api;
use mam_tests::daemon::{lp_orders, out_file, wait_until, EurusdRig, ADMIN_ON};
use mam_tests::manager::Manager;

#[test]
fn limits_and_defaults_change_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rig = EurusdRig::new(d, 3, ADMIN_ON);
    let setup = &rig.setup;
    let base = std::fs::read_to_string(&setup.config).unwrap();
    let log = out_file(d, "daemon");
    let mut daemon = setup.start(&log);
    let api = Api::new(&daemon, &setup.state);
    api.wait_first_snapshot();
    assert_eq!(api.get("/api/risk-limits")["collar_bps"], 500);

    // SIGHUP with a new collar and per-account routing.
    std::fs::write(
        &setup.config,
        base.clone() + "[engine]\nrouting = \"per-account\"\n[engine.risk]\ncollar_bps = 250\n",
    )
    .unwrap();
    let from = daemon.output().len();
    daemon.signal("-HUP");
    let line = daemon.wait_line(from, "the reload line", |l| {
        l.starts_with("reload (SIGHUP)")
    });
    assert!(
        line.contains("limits engine.risk.collar_bps (journaled)"),
        "{line}"
    );
    assert!(line.contains("master defaults engine.routing"), "{line}");
    wait_until("the collar changed", || {
        api.get("/api/risk-limits")["collar_bps"] == 250
    });

    // The next master names no routing: its children go per account, with account ids.
    let mut mgr = Manager::connect(setup.manager.parse().unwrap(), &d.join("manager"));
    mgr.open_clock("20190204-14:00:00");
    mgr.buy_one_lot("1", 1, false);
    wait_until("children at the LP", || {
        mgr.turn();
        lp_orders(&d.join("executor")).len() == 3
    });
    let orders = lp_orders(&d.join("executor"));
    assert!(
        orders
            .values()
            .all(|o| o.fields.iter().any(|f| f.starts_with("1="))),
        "per-account children carry Account (1): {orders:?}"
    );

    // The same defaults read and changed through the API: block routing for the next master.
    let m = api.get("/api/manager");
    assert_eq!(m["defaults"]["routing"], "per-account", "{m}");
    assert_eq!(m["defaults"]["allocation"], "static", "{m}");
    assert_eq!(m["peer_comp_id"], "MANAGER", "{m}");
    for (body, status, field) in [
        (r#"{"allocation":"sometimes"}"#, 422, "allocation"),
        (r#"{"routing":"sideways"}"#, 422, "routing"),
        (r#"{"colour":"red"}"#, 400, "colour"),
        ("{}", 400, "body"),
    ] {
        let (s, v) = api.send("PATCH", "/api/manager", body);
        assert_eq!(
            (s, v["field"].as_str()),
            (status, Some(field)),
            "{body}: {v}"
        );
    }
    let (s, v) = api.send(
        "PATCH",
        "/api/manager",
        r#"{"routing":"block","allocation":"adaptive"}"#,
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        api.get("/api/manager")["defaults"]["allocation"],
        "adaptive"
    );
    mgr.buy_one_lot("2", 2, false);
    wait_until("the block order at the LP", || {
        mgr.turn();
        lp_orders(&d.join("executor")).len() == 4
    });
    let block: Vec<_> = lp_orders(&d.join("executor"))
        .into_values()
        .filter(|o| !o.fields.iter().any(|f| f.starts_with("1=")))
        .collect();
    assert_eq!(block.len(), 1, "one block order, no Account (1)");

    // A bad file: refused by the signal and by the API; nothing changes.
    std::fs::write(
        &setup.config,
        base.clone() + "[engine]\nrouting = \"sideways\"\n",
    )
    .unwrap();
    let from = daemon.output().len();
    daemon.signal("-HUP");
    let line = daemon.wait_line(from, "the refusal", |l| l.starts_with("reload (SIGHUP)"));
    assert!(
        line.contains("refused") && line.contains("engine.routing"),
        "{line}"
    );
    let (s, v) = api.send("POST", "/api/reload", "");
    assert_eq!((s, v["field"].as_str()), (422, Some("config")), "{v}");
    assert!(v["error"].as_str().unwrap().contains("sideways"), "{v}");
    assert_eq!(api.get("/api/risk-limits")["collar_bps"], 250);

    // Through the API: a limit, and a key that waits for a restart.
    std::fs::write(
        &setup.config,
        base.replace("[pipeline]\n", "[pipeline]\nring = 2048\n")
            + "[engine]\nrouting = \"per-account\"\n[engine.risk]\ncollar_bps = 300\n",
    )
    .unwrap();
    let (s, v) = api.send("POST", "/api/reload", "");
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["limits"][0]["key"], "engine.risk.collar_bps", "{v}");
    assert!(v["limits"][0]["journal_seq"].as_u64() > Some(0), "{v}");
    assert_eq!(v["restart"][0], "pipeline.ring", "{v}");
    assert_eq!(api.get("/api/risk-limits")["collar_bps"], 300);
    daemon.signal("-TERM");
    assert!(daemon.wait().success(), "{}", daemon.output());
    let dump = setup.journal_dump(false).join("\n");
    assert_eq!(
        dump.matches("(risk_limit_change)").count(),
        2,
        "two journaled limit changes"
    );

    // A restart keeps the reloaded limit (from the journal, not from re-reading the file).
    let mut daemon = setup.start(&log);
    let api = Api::new(&daemon, &setup.state);
    api.wait_first_snapshot();
    assert_eq!(api.get("/api/risk-limits")["collar_bps"], 300);
    daemon.signal("-TERM");
    assert!(daemon.wait().success(), "{}", daemon.output());
    drop(rig);
}

/// A short `mam train` on the shared 1-minute bars (EURUSD, one month): a real model file.
fn train(dir: &std::path::Path, name: &str, from: &str, to: &str, test_to: &str) -> String {
    let bars = mam_tests::shared_data().join("histdata");
    let out = dir.join(name);
    mam_tests::daemon::mam(&[
        "train",
        "--bars",
        bars.to_str().unwrap(),
        "--symbols",
        "EURUSD",
        "--from",
        from,
        "--to",
        to,
        "--test-to",
        test_to,
        "--out",
        out.to_str().unwrap(),
    ]);
    out.display().to_string()
}

/// The adaptive model swapped on a running daemon by a reload: the engine runs the new model
/// and writes a checkpoint at once, so a SIGKILL after an adaptive master recovers by
/// replaying that master with the new model (the start would refuse with a determinism
/// violation otherwise); a file that is not a model is refused, the model kept.
#[test]
fn an_adaptive_model_is_swapped_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m1 = train(d, "m1.toml", "2018-07-01", "2018-08-01", "2018-08-15");
    let m2 = train(d, "m2.toml", "2018-09-01", "2018-10-01", "2018-10-15");
    let adaptive =
        |m: &str| format!("[engine]\nallocation = \"adaptive\"\nadaptive_model = \"{m}\"\n");
    let rig = EurusdRig::new(d, 6, ADMIN_ON);
    let setup = &rig.setup;
    let base = std::fs::read_to_string(&setup.config).unwrap();
    std::fs::write(&setup.config, base.clone() + &adaptive(&m1)).unwrap();
    let log = out_file(d, "daemon");
    let mut daemon = setup.start(&log);
    let api = Api::new(&daemon, &setup.state);
    api.wait_first_snapshot();

    std::fs::write(&setup.config, base.clone() + &adaptive(&m2)).unwrap();
    let from = daemon.output().len();
    daemon.signal("-HUP");
    let line = daemon.wait_line(from, "the swap", |l| {
        l.starts_with("adaptive model swapped")
    });
    let fps: Vec<&str> = line
        .split("fingerprint ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .split(" -> ")
        .collect();
    assert_ne!(fps[0], fps[1], "a different model: {line}");

    // An adaptive master under the new model, then a kill: recovery replays it with m2.
    let mut mgr = Manager::connect(setup.manager.parse().unwrap(), &d.join("manager"));
    mgr.open_clock("20190204-14:00:00");
    mgr.buy_one_lot("1", 1, true);
    wait_until("ticket 1 filled", || {
        mgr.turn();
        let (s, v) = api.call("GET", "/api/tickets/1", None);
        s == 200 && v["working_orders"] == 0 && v["accounts_holding"].as_u64() > Some(0)
    });
    daemon.kill();
    let mut daemon = setup.start(&log);
    let out = daemon.output();
    assert!(out.contains("(restarted)"), "{out}");
    let api = Api::new(&daemon, &setup.state);
    api.wait_first_snapshot();
    // The recovered engine holds the master (replayed with m2: with m1 the start would have
    // refused). Not the ticket itself: the replayed hour may close it (a stop-out).
    let st = api.get("/api/status");
    assert!(
        st["engine"]["counters"]["opens"].as_u64() >= Some(1),
        "{st}"
    );
    let replayed: u64 = out
        .lines()
        .rev()
        .find_map(|l| l.split("recovered: checkpoint seq ").nth(1))
        .and_then(|r| r.split(", ").nth(1)?.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("a recovery line: {out}"));
    assert!(
        replayed >= 1,
        "the master replayed after the swap's checkpoint: {out}"
    );

    // Not a model: refused, naming the key; the model kept.
    let junk = d.join("junk.toml");
    std::fs::write(&junk, "not = \"a model\"\n").unwrap();
    std::fs::write(
        &setup.config,
        base.clone() + &adaptive(&junk.display().to_string()),
    )
    .unwrap();
    let (s, v) = api.send("POST", "/api/reload", "");
    assert_eq!((s, v["field"].as_str()), (422, Some("config")), "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("engine.adaptive_model"),
        "{v}"
    );
    // Back to m1 through the API: the answer names both fingerprints and the checkpoint.
    std::fs::write(&setup.config, base + &adaptive(&m1)).unwrap();
    let (s, v) = api.send("POST", "/api/reload", "");
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["model"]["fingerprint_before"], fps[1], "{v}");
    assert_eq!(v["model"]["fingerprint_after"], fps[0], "{v}");
    daemon.signal("-TERM");
    assert!(daemon.wait().success(), "{}", daemon.output());
    drop(rig);
}
