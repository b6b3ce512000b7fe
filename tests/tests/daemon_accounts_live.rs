//! Accounts added and changed on a running daemon, never recreating its state directory: the
//! real daemon on the shared EURUSD day (SoupBinTCP replay), QuickFIX's executor as the LP, a
//! manager on FIX 4.4, an operator on HTTP and `mam accounts import --daemon`:
//! - `POST /api/accounts` adds an account (journaled: an add, its settings, its activation);
//!   the next master gives it its share, and its child reaches the LP with its id in
//!   Account (1);
//! - a duplicate id (409), a bad id, a float balance, an unknown key, inconsistent scale bounds
//!   → 4xx naming the field, nothing added;
//! - `mam accounts import --daemon URL` adds the CSV's new ids and changes the settings of
//!   the ones the daemon holds; a bad CSV sends nothing;
//! - a restart recovers every added account from the journal.
//!
//! Needs the shared data and QuickFIX (`.ci/test` installs it); fails saying so.

use std::path::Path;

use mam_core::num::Lots;
use mam_tests::admin_api::Api;
use mam_tests::daemon::{lp_orders, mam_bin, out_file, wait_until, EurusdRig, Proc, ADMIN_ON};
use mam_tests::manager::Manager;
use serde_json::Value;

/// Ticket `t`'s split (account id → lots) once it is open with nothing working.
fn settled_split(api: &Api, mgr: &mut Manager, daemon: &mut Proc, t: u64) -> Vec<(String, Lots)> {
    let mut last = Value::Null;
    wait_until(&format!("ticket {t} filled"), || {
        mgr.turn();
        assert!(
            daemon.try_wait().is_none(),
            "daemon died:\n{}",
            daemon.output()
        );
        let (s, v) = api.call("GET", &format!("/api/tickets/{t}"), None);
        let done = s == 200 && v["working_orders"] == 0 && v["accounts_holding"].as_u64() > Some(0);
        last = v;
        done
    });
    last["split"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let lots = Lots::parse(s["lots"].as_str().unwrap()).unwrap();
            (s["account"].as_str().unwrap().to_string(), lots)
        })
        .collect()
}

fn import(api: &Api, state: &Path, csv: &Path) -> std::process::Output {
    std::process::Command::new(mam_bin())
        .args(["accounts", "import", "--daemon", &api.base, "--token-file"])
        .arg(state.join("admin.token"))
        .arg(csv)
        .output()
        .expect("run mam accounts import")
}

#[test]
fn accounts_are_added_and_changed_on_a_running_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rig = EurusdRig::new(d, 4, ADMIN_ON);
    let setup = &rig.setup;
    let mut daemon = setup.start(&out_file(d, "daemon"));
    let api = Api::new(&daemon, &setup.state);
    let mut mgr = Manager::connect(setup.manager.parse().unwrap(), &d.join("manager"));
    mgr.open_clock("20190204-14:00:00");
    mgr.buy_one_lot("1", 1, true);
    let s1 = settled_split(&api, &mut mgr, &mut daemon, 1);
    assert!(s1.iter().all(|(id, _)| id != "LIVE-01"));

    // Added with settings: active, multiplier 2, leverage 200, at the next index.
    let (s, v) = api.call(
        "POST",
        "/api/accounts",
        Some(r#"{"id":"LIVE-01","balance":"50000.00","multiplier":"2","leverage":200,"max_scale":"1.5"}"#),
    );
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["index"], 4, "{v}");
    let steps: Vec<&str> = v["applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["field"].as_str().unwrap())
        .collect();
    assert_eq!(steps.first(), Some(&"add"), "{v}");
    assert_eq!(steps.last(), Some(&"status"), "activated last: {v}");
    let a = api.get("/api/accounts/LIVE-01");
    assert_eq!(
        (
            a["status"].as_str(),
            a["multiplier"].as_str(),
            a["leverage"].as_u64()
        ),
        (Some("active"), Some("2.0"), Some(200)),
        "{a}"
    );
    assert_eq!(a["balance"], "50000.0", "{a}");

    // Bad bodies: 4xx naming the field; nothing added.
    for (body, status, field) in [
        (r#"{"id":"LIVE-01","balance":"1"}"#, 409, "id"),
        (r#"{"id":"","balance":"1"}"#, 422, "id"),
        (r#"{"id":"A,B","balance":"1"}"#, 422, "id"),
        (r#"{"id":"LIVE-02","balance":1.5}"#, 400, "balance"),
        (r#"{"id":"LIVE-02","balance":"-1"}"#, 422, "balance"),
        (
            r#"{"id":"LIVE-02","balance":"1","colour":"red"}"#,
            400,
            "colour",
        ),
        (
            r#"{"id":"LIVE-02","balance":"1","min_scale":"2"}"#,
            422,
            "min_scale",
        ),
        (
            r#"{"id":"LIVE-02","balance":"1","currency":"usd"}"#,
            422,
            "currency",
        ),
        (r#"{"balance":"1"}"#, 400, "id"),
    ] {
        let (s, v) = api.call("POST", "/api/accounts", Some(body));
        assert_eq!(
            (s, v["field"].as_str()),
            (status, Some(field)),
            "{body}: {v}"
        );
    }
    assert_eq!(
        api.get("/api/accounts")["accounts"]
            .as_array()
            .unwrap()
            .len(),
        5
    );

    // The next master gives it twice a multiplier-1 account's share (the default model is
    // equity; read the split rather than assume it) and its child carries its id.
    mgr.buy_one_lot("2", 2, true);
    let s2 = settled_split(&api, &mut mgr, &mut daemon, 2);
    let live = s2.iter().find(|(id, _)| id == "LIVE-01");
    assert!(live.is_some_and(|(_, l)| l.raw() > 0), "LIVE-01 in {s2:?}");
    let total: i64 = s2.iter().map(|(_, l)| l.raw()).sum();
    assert_eq!(
        Lots(total),
        Lots::parse("1").unwrap(),
        "Σ split = the master"
    );
    let orders = lp_orders(&d.join("executor"));
    assert!(
        orders
            .values()
            .any(|o| o.fields.iter().any(|f| f == "1=LIVE-01")),
        "a child with Account (1) = LIVE-01 at the LP"
    );

    // A CSV through the daemon: one new id, one existing id with a changed multiplier.
    let existing = s1[0].0.clone();
    let csv = d.join("more.csv");
    std::fs::write(
        &csv,
        format!(
            "id,balance,equity,multiplier,percent,leverage,currency\n\
             CSV-NEW,20000,20000,0.5,0,100,EUR\n\
             {existing},1,1,3,0,100,USD\n"
        ),
    )
    .unwrap();
    let out = import(&api, &setup.state, &csv);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 added, 1 changed, 0 unchanged"), "{text}");
    assert!(
        text.contains("balance 1.0 in the CSV"),
        "a differing balance is noted: {text}"
    );
    let n = api.get("/api/accounts/CSV-NEW");
    assert_eq!(
        (n["currency"].as_str(), n["multiplier"].as_str()),
        (Some("EUR"), Some("0.5")),
        "{n}"
    );
    let e = api.get(&format!("/api/accounts/{existing}"));
    assert_eq!(e["multiplier"], "3.0", "{e}");
    assert_ne!(
        e["balance"], "1.000000",
        "a running account's money is the engine's"
    );
    // Again: nothing to do.
    let again = import(&api, &setup.state, &csv);
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 added, 0 changed, 2 unchanged"));
    // A bad row refuses the file: nothing sent.
    std::fs::write(&csv, "id,balance,equity\nCSV-BAD,1,1\nCSV-BAD2,x,1\n").unwrap();
    let bad = import(&api, &setup.state, &csv);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("line 3"),
        "{bad:?}"
    );
    assert_eq!(api.call("GET", "/api/accounts/CSV-BAD", None).0, 404);

    // A restart recovers the added accounts from the journal.
    daemon.signal("-TERM");
    assert!(daemon.wait().success(), "{}", daemon.output());
    let dump = setup.journal_dump(false).join("\n");
    assert!(dump.contains("(account_add)"), "journaled adds");
    let mut daemon = setup.start(&out_file(d, "daemon"));
    let api = Api::new(&daemon, &setup.state);
    wait_until("accounts recovered", || {
        api.call("GET", "/api/accounts", None).1["accounts"]
            .as_array()
            .is_some_and(|a| a.len() == 6)
    });
    let a = api.get("/api/accounts/LIVE-01");
    assert_eq!(
        (a["status"].as_str(), a["multiplier"].as_str()),
        (Some("active"), Some("2.0"))
    );
    daemon.signal("-TERM");
    assert!(daemon.wait().success(), "{}", daemon.output());
    drop(rig);
}
