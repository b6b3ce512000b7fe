//! The admin API, `/metrics` and the dashboard against the real daemon on real data: the
//! shared Dukascopy EURUSD day (14:00-15:00) replayed over SoupBinTCP, QuickFIX's executor as
//! the LP, a manager on FIX 4.4 opening masters, and an operator on HTTP:
//! - reads: accounts, positions, a ticket's split (Σ = the master), orders, latency, status;
//! - writes, each a journaled engine input: a deposit (balance moves by exactly the amount), a
//!   withdrawal past free margin (422 naming `amount`, nothing changed), an account set
//!   inactive (the next master gives it nothing), the kill switch (status and `/metrics` say so),
//!   then the kill switch with flatten (every account ends flat);
//! - bad input: malformed JSON, a float amount, an unknown field, an unknown account, a wrong or
//!   missing token → 4xx with a JSON error naming the field; the daemon stays up;
//! - `/metrics` in Prometheus' exposition format; `/api/events` streams snapshots;
//! - the dashboard in headless Chromium: the DOM shows the accounts, the ticket's allocation and
//!   the engaged kill switch; a screenshot is saved;
//! - a restart recovers the changes from the journal (no state directory recreated).
//!
//! Needs the shared data, QuickFIX and Chromium (`.ci/test` installs both); fails saying so.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::{Duration, Instant};

use mam_core::num::{Lots, Money};
use mam_tests::admin_api::Api;
use mam_tests::browser::run_chromium;
use mam_tests::daemon::{out_file, wait_until, EurusdRig, Proc, ADMIN_ON};
use mam_tests::manager::Manager;
use serde_json::Value;

fn money(v: &Value) -> Money {
    Money::parse(v.as_str().expect("a decimal string")).expect("a money decimal")
}

fn lots(v: &Value) -> Lots {
    Lots::parse(v.as_str().expect("a decimal string")).expect("a lots decimal")
}

fn account<'a>(accounts: &'a Value, id: &str) -> &'a Value {
    accounts["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .unwrap_or_else(|| panic!("account {id}"))
}

/// Waits until ticket `t` is open with no order working and returns it with its split.
fn settled_ticket(api: &Api, mgr: &mut Manager, daemon: &mut Proc, t: u64) -> Value {
    let mut last = Value::Null;
    wait_until(&format!("ticket {t} filled"), || {
        mgr.turn();
        assert!(
            daemon.try_wait().is_none(),
            "daemon died:\n{}",
            daemon.output()
        );
        let (s, v) = api.call_as("GET", &format!("/api/tickets/{t}"), None, Some(&api.token));
        let done = s == 200 && v["working_orders"] == 0 && v["accounts_holding"].as_u64() > Some(0);
        last = v;
        done
    });
    last
}

#[test]
fn operator_reads_and_steers_a_running_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rig = EurusdRig::new(
        d,
        12,
        &format!(
            "{ADMIN_ON}[latency]
interval = \"1s\"
"
        ),
    );
    let setup = &rig.setup;
    let mut daemon = setup.start(&out_file(d, "daemon"));
    let api = Api::new(&daemon, &setup.state);
    let mut mgr = Manager::connect(setup.manager.parse().unwrap(), &d.join("manager"));
    mgr.open_clock("20190204-14:00:00");

    // Ticket 1 over every active account; its split sums to the master, as do the positions.
    mgr.buy_one_lot("1", 1, false);
    let t1 = settled_ticket(&api, &mut mgr, &mut daemon, 1);
    assert_eq!(lots(&t1["master_lots"]), Lots::parse("1").unwrap());
    assert_eq!(t1["side"], "buy");
    assert_eq!(t1["symbol"], "EURUSD");
    let split: i64 = t1["split"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| lots(&s["lots"]).raw())
        .sum();
    assert_eq!(Lots(split), lots(&t1["master_lots"]));
    let accounts = api.get("/api/accounts");
    let held: i64 = accounts["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["positions"].as_array().unwrap().iter())
        .map(|p| lots(&p["lots"]).raw())
        .sum();
    assert_eq!(
        Lots(held),
        lots(&t1["master_lots"]),
        "Σ positions = the master"
    );
    let holder = t1["split"][0]["account"].as_str().unwrap().to_string();
    let other = t1["split"][1]["account"].as_str().unwrap().to_string();

    // A deposit moves the balance by exactly the amount.
    let before = money(&account(&accounts, &holder)["balance"]);
    let (s, v) = api.send(
        "POST",
        &format!("/api/accounts/{holder}/balance"),
        r#"{"amount":"1234.56"}"#,
    );
    assert_eq!(s, 200, "{v}");
    let after = money(&api.get(&format!("/api/accounts/{holder}"))["balance"]);
    assert_eq!(
        after.raw() - before.raw(),
        Money::parse("1234.56").unwrap().raw()
    );

    // A withdrawal of the whole balance while margin is in use: past free margin, refused.
    let a = api.get(&format!("/api/accounts/{holder}"));
    assert!(
        money(&a["margin"]).raw() > 0,
        "the holder has margin in use: {a}"
    );
    let all = format!("{{\"amount\":\"-{}\"}}", a["balance"].as_str().unwrap());
    let (s, v) = api.send("POST", &format!("/api/accounts/{holder}/balance"), &all);
    assert_eq!((s, v["field"].as_str()), (422, Some("amount")), "{v}");
    assert!(v["error"].as_str().unwrap().contains("free margin"), "{v}");
    assert_eq!(
        api.get(&format!("/api/accounts/{holder}"))["balance"],
        a["balance"]
    );

    // Bad input: each a 4xx naming the field, nothing applied.
    let path = format!("/api/accounts/{holder}/balance");
    for (body, status, field) in [
        ("{\"amount\":", 400, "body"),
        ("[1]", 400, "body"),
        ("{\"amount\":1.5}", 400, "amount"),
        ("{\"amount\":\"1.1234567\"}", 400, "amount"),
        ("{\"amont\":\"1\"}", 400, "amont"),
        ("{}", 400, "amount"),
    ] {
        let (s, v) = api.send("POST", &path, body);
        assert_eq!(
            (s, v["field"].as_str()),
            (status, Some(field)),
            "{body}: {v}"
        );
    }
    let (s, v) = api.send("POST", "/api/accounts/NOBODY/balance", r#"{"amount":"1"}"#);
    assert_eq!((s, v["field"].as_str()), (404, Some("id")), "{v}");
    let (s, v) = api.send(
        "PATCH",
        &format!("/api/accounts/{other}"),
        r#"{"percent":"101"}"#,
    );
    assert_eq!((s, v["field"].as_str()), (422, Some("percent")), "{v}");
    let (s, v) = api.call_as("GET", "/api/status", None, Some("not-the-token"));
    assert_eq!((s, v["field"].as_str()), (401, Some("token")), "{v}");
    let (s, _) = api.call_as("GET", "/metrics", None, None);
    assert_eq!(s, 401);
    assert_eq!(
        api.get(&format!("/api/accounts/{holder}"))["balance"],
        a["balance"]
    );

    // An account set inactive gets nothing of the next master; a multiplier change is kept.
    let (s, v) = api.send(
        "PATCH",
        &format!("/api/accounts/{other}"),
        r#"{"status":"inactive","multiplier":"1.25"}"#,
    );
    assert_eq!(s, 200, "{v}");
    mgr.buy_one_lot("2", 2, false);
    let t2 = settled_ticket(&api, &mut mgr, &mut daemon, 2);
    let in_2: Vec<&str> = t2["split"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["account"].as_str().unwrap())
        .collect();
    assert!(
        !in_2.contains(&other.as_str()),
        "{other} inactive, yet in {in_2:?}"
    );
    assert!(in_2.contains(&holder.as_str()));

    // An engine-wide risk limit, changed and read back; a bad one refused naming it.
    let (s, v) = api.send(
        "PATCH",
        "/api/risk-limits",
        r#"{"max_order_qty":"5000000","collar_bps":300}"#,
    );
    assert_eq!(s, 200, "{v}");
    let l = api.get("/api/risk-limits");
    let qty = mam_core::num::Qty::parse(l["max_order_qty"].as_str().unwrap()).unwrap();
    assert_eq!(qty, mam_core::num::Qty::parse("5000000").unwrap(), "{l}");
    assert_eq!(l["collar_bps"], 300, "{l}");
    let (s, v) = api.send("PATCH", "/api/risk-limits", r#"{"max_open_orders":0}"#);
    assert_eq!(
        (s, v["field"].as_str()),
        (422, Some("max_open_orders")),
        "{v}"
    );
    let (s, v) = api.send("PATCH", "/api/risk-limits", r#"{"max_orders_per_sec":5}"#);
    assert_eq!(
        (s, v["field"].as_str()),
        (400, Some("max_orders_per_sec")),
        "{v}"
    );

    // The kill switch, from the API.
    let (s, v) = api.send("POST", "/api/kill-switch", r#"{"engaged":true}"#);
    assert_eq!(s, 200, "{v}");
    assert_eq!(api.get("/api/status")["engine"]["kill_switch"], true);

    // /metrics: the exposition format, figures that agree with the status.
    wait_until("latency summaries published", || {
        !api.get("/api/latency")["metrics"]
            .as_object()
            .unwrap()
            .is_empty()
    });
    let m = api.text("/metrics");
    assert!(m.ends_with("# EOF\n"), "OpenMetrics text ends with # EOF");
    for line in m.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = line.rsplit_once(' ').expect("`name value`");
        assert!(name.starts_with("mam_"), "{line}");
        assert!(value == "+Inf" || value.parse::<f64>().is_ok(), "{line}");
    }
    assert!(m.contains("mam_kill_switch 1\n"), "{m}");
    assert!(m.contains("mam_engine_inputs_total{kind=\"admin\"}"), "{m}");
    assert!(
        m.contains("mam_latency_seconds_bucket{le=\"+Inf\",stage=\"engine_apply\"}"),
        "{m}"
    );
    // Cumulative buckets never pass the count.
    for stage in m
        .lines()
        .filter_map(|l| l.strip_prefix("mam_latency_seconds_count{stage=\""))
    {
        let (name, count) = stage.split_once("\"} ").unwrap();
        let count: u64 = count.parse().unwrap();
        let most = m
            .lines()
            .filter(|l| {
                l.starts_with("mam_latency_seconds_bucket")
                    && l.contains(&format!("stage=\"{name}\""))
            })
            .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
            .max()
            .unwrap();
        assert_eq!(
            most, count,
            "{name}: the +Inf bucket is the count, no bucket above it"
        );
    }

    // The event stream: one snapshot event with the accounts.
    let resp = ureq::get(&format!("{}/api/events?token={}", api.base, api.token))
        .call()
        .expect("event stream");
    let mut lines = BufReader::new(resp.into_reader()).lines();
    let mut event = None;
    while let Some(Ok(l)) = lines.next() {
        if let Some(data) = l.strip_prefix("data: ") {
            event = Some(serde_json::from_str::<Value>(data).expect("event JSON"));
            break;
        }
    }
    let event = event.expect("a snapshot event");
    assert_eq!(event["accounts"].as_array().unwrap().len(), 12);
    drop(lines);

    // The dashboard in a real browser: the DOM at the page's load event, then a screenshot.
    let url = format!("{}/?token={}", api.base, api.token);
    let profile = d.join("chromium-profile");
    let limit = Duration::from_secs(120);
    let html = run_chromium(&profile, &["--dump-dom".into(), url.clone()], limit);
    assert!(
        html.contains(&format!("<td>{holder}</td>")),
        "accounts table:\n{html}"
    );
    assert!(html.contains("ENGAGED"), "kill switch state:\n{html}");
    assert!(
        html.contains("id=\"split-table\""),
        "ticket allocation:\n{html}"
    );
    assert!(
        html.contains("<td>engine_apply</td>"),
        "latency table:\n{html}"
    );
    assert!(html.contains("<polyline"), "equity curve:\n{html}");
    assert!(
        html.matches("class=\"spark\"").count() >= 12,
        "an equity curve per account:\n{html}"
    );
    assert!(
        html.contains("MANAGER: static, equity, block"),
        "the manager's defaults:\n{html}"
    );
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    let _ = std::fs::remove_file(&shot);
    run_chromium(
        &profile,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1400,1100".into(),
            url,
        ],
        limit,
    );
    let png = std::fs::read(&shot).expect("chromium wrote no screenshot");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    println!("dashboard screenshot: {}", shot.display());

    // Flatten: every position closed by the engine's own orders (the kill switch stays on).
    let held = |api: &Api| {
        api.get("/api/accounts")["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|a| a["positions"].as_array().unwrap().iter())
            .filter(|p| lots(&p["lots"]).raw() != 0)
            .count()
    };
    assert!(held(&api) > 0, "positions to flatten");
    let (s, v) = api.send(
        "POST",
        "/api/kill-switch",
        r#"{"engaged":false,"flatten":true}"#,
    );
    assert_eq!((s, v["field"].as_str()), (400, Some("flatten")), "{v}");
    let (s, v) = api.send(
        "POST",
        "/api/kill-switch",
        r#"{"engaged":true,"flatten":true}"#,
    );
    assert_eq!(s, 200, "{v}");
    wait_until("every account flat", || held(&api) == 0);
    let a = api.get(&format!("/api/accounts/{holder}"));

    // A restart recovers every change from the journal.
    assert!(daemon.try_wait().is_none(), "the daemon is still up");
    daemon.signal("-TERM");
    assert!(daemon.wait().success(), "{}", daemon.output());
    let dump = setup.journal_dump(false).join("\n");
    assert!(
        dump.contains("(account_change)"),
        "journaled account changes"
    );
    let mut daemon = setup.start(&out_file(d, "daemon"));
    let api = Api::new(&daemon, &setup.state);
    let t0 = Instant::now();
    let again = loop {
        let v = api.get(&format!("/api/accounts/{other}"));
        if v["status"] == "inactive" || t0.elapsed() > Duration::from_secs(30) {
            break v;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(again["status"], "inactive");
    assert_eq!(again["multiplier"], "1.25");
    assert_eq!(
        api.get(&format!("/api/accounts/{holder}"))["balance"],
        a["balance"]
    );
    assert_eq!(api.get("/api/status")["engine"]["kill_switch"], true);
    assert_eq!(api.get("/api/risk-limits")["collar_bps"], 300);
    daemon.signal("-TERM");
    assert!(daemon.wait().success(), "{}", daemon.output());
    drop(rig);
}
