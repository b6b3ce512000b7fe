//! Two money managers on one daemon: the shared Dukascopy EURUSD day (14:00-15:00) replayed
//! over SoupBinTCP, QuickFIX's executor as the LP, eight accounts from a CSV whose `manager`
//! column puts four with manager 0 (`[manager]`) and four with manager 1 (`[[managers]]`, its
//! own port and CompID), and two FIX 4.4 manager sessions (mam's `ManagerClient`).
//!
//! Both managers use ClOrdID 1 for their first master (two tickets: each manager has its own
//! id space) and buy different sizes, one order per account. Checked:
//! - each manager gets the reports of its own master only, ending Filled with its own size;
//! - each manager's RequestForPositions shows its own accounts only, Σ = what its master
//!   filled; asking for one of the other manager's accounts gets "unknown account" (a manager
//!   never sees another's accounts);
//! - after the stop, the recovered ledger (`mam accounts statement`) holds manager 0's fill in
//!   its four accounts and manager 1's in its four, and Σ accounts = the LP's orders.
//!
//! Needs the shared Dukascopy data and QuickFIX; fails saying so otherwise.

use std::collections::BTreeMap;
use std::time::Duration;

use mam_core::num::{Money, Qty};
use mam_gateway::manager::client::msg::AccountAction;
use mam_tests::admin_api::Api;
use mam_tests::daemon::{
    account_store, check_statement_totals, lp_orders, out_file, two_manager_accounts, wait_until,
    EurusdRig, ADMIN_ON,
};
use mam_tests::heard::{at, buy_eurusd, Listener};
use mam_tests::quickfix::{free_port, Executor};

/// Per account: the net quantity (raw) of the orders an executor logged (it fills every order).
fn net_by_account(executor_dir: &std::path::Path) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for o in lp_orders(executor_dir).values() {
        let get = |t: &str| {
            o.fields
                .iter()
                .find_map(|f| f.strip_prefix(&format!("{t}=")))
                .unwrap_or_else(|| panic!("tag {t} in {:?}", o.fields))
        };
        let q = Qty::parse(get("38")).unwrap().raw();
        let signed = if get("54") == "1" { q } else { -q };
        *out.entry(get("1").to_string()).or_default() += signed;
    }
    out
}

#[test]
fn two_managers_and_two_lps_without_cross_talk() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port().expect("a free port");
    let second = format!("127.0.0.1:{port}");
    let mut lp_b = Executor::start_with(&d.join("executor-b"), 0, "EXECUTOR", "MAM", true)
        .unwrap_or_else(|e| panic!("{e}"));
    let rig = EurusdRig::new(
        d,
        0,
        &format!(
            "{ADMIN_ON}\
             [[managers]]\nnumber = 1\nlisten = \"{second}\"\npeer_comp_id = \"MANAGER2\"\n\
             [[lps]]\nname = \"b\"\nconnect = \"{b}\"\nsymbols = [\"EURUSD\"]\nfallback = \"lp\"\n\
             comp_id = \"MAM\"\npeer_comp_id = \"EXECUTOR\"\n",
            b = lp_b.addr()
        ),
    );
    let store = account_store(d, &two_manager_accounts());
    let setup = rig.setup.clone();
    setup.use_account_store(&store);
    let mut daemon = setup.start(&out_file(d, "daemon"));
    let mut m0 = Listener::connect(&setup.manager, "MANAGER", d.join("m0"));
    let mut m1 = Listener::connect(&second, "MANAGER2", d.join("m1"));
    wait_until("both managers logged on", || {
        m0.poll();
        m1.poll();
        m0.c.is_logged_on() && m1.c.is_logged_on()
    });
    // Same ClOrdID, different sizes, split in proportion to equity over each one's accounts.
    // Manager 1's clock lets manager 0's master (a tie goes to the lower number) through.
    m0.c.clock(at("20190204-14:00:00")).unwrap();
    m1.c.clock(at("20190204-14:00:01")).unwrap();
    m0.c.open_order(&buy_eurusd(1, "400000", "20190204-14:00:01"))
        .unwrap();
    m0.c.end().unwrap();
    m0.c.flush().unwrap();
    m1.c.flush().unwrap();
    wait_until("manager 0's master filled (at LP b)", || {
        m0.poll();
        m1.poll();
        assert!(
            daemon.try_wait().is_none(),
            "daemon died:\n{}",
            daemon.output()
        );
        m0.filled(1).is_some()
    });
    // LP b goes down: its symbol goes to the fallback, `[lp]`.
    lp_b.kill();
    let from = daemon.output().len();
    daemon.wait_line(from, "LP b's reconnects failing", |l| {
        l.split(" lp-b-connect-failures ")
            .nth(1)
            .and_then(|v| v.split_whitespace().next())
            .is_some_and(|v| v != "0")
    });
    m1.c.open_order(&buy_eurusd(1, "800000", "20190204-14:00:02"))
        .unwrap();
    m1.c.flush().unwrap();
    wait_until("manager 1's master filled (at the fallback)", || {
        m0.poll();
        m1.poll();
        assert!(
            daemon.try_wait().is_none(),
            "daemon died:\n{}",
            daemon.output()
        );
        m1.filled(1).is_some()
    });

    // Manager 1's own accounts over its session (35=UA): a deposit and a setting applied; a
    // withdrawal past the balance, manager 0's account, an unknown id, moving an account to
    // another manager, and a value that does not parse refused, each with its reason.
    let t = at("20190204-14:00:03");
    let dollars = |s: &str| AccountAction::Deposit(Money::parse(s).unwrap());
    let change = |f: &str, v: &str| AccountAction::Change {
        field: f.into(),
        value: v.into(),
    };
    let requests = [
        (11, "B0", dollars("1000"), true, ""),
        (12, "B2", change("multiplier", "2"), true, ""),
        (
            13,
            "B1",
            AccountAction::Withdraw(Money::parse("1000000").unwrap()),
            false,
            "",
        ),
        (14, "A0", dollars("5"), false, "unknown account"),
        (15, "NOBODY", dollars("5"), false, "unknown account NOBODY"),
        (16, "B3", change("manager", "0"), false, ""),
        (
            17,
            "B3",
            change("multiplier", "lots"),
            false,
            "MamAccountValue",
        ),
        // A new account of manager 1's (it follows it, active at once), and a taken id.
        (
            18,
            "B4",
            AccountAction::Add {
                balance: Money::parse("5000").unwrap(),
                currency: None,
            },
            true,
            "",
        ),
        (
            19,
            "A1",
            AccountAction::Add {
                balance: Money::parse("5000").unwrap(),
                currency: None,
            },
            false,
            "",
        ),
    ];
    for (id, account, action, _, _) in &requests {
        // The deposit re-splits manager 1's ticket by the new equity weights (delta orders).
        let rebalance = (*id == 11).then_some(true);
        m1.c.account_request(*id, account, action, t, rebalance)
            .unwrap();
    }
    m1.c.end().unwrap();
    m1.c.flush().unwrap();
    wait_until("every account request answered", || {
        m1.poll();
        m1.account_acks.len() == requests.len()
    });
    for (id, account, _, applied, why) in &requests {
        let a = &m1.account_acks[id];
        // A refused add names no account (none was made).
        let want = if *id == 19 { "" } else { account };
        assert_eq!((a.0.as_str(), a.1), (want, *applied), "request {id}: {a:?}");
        assert!(a.2.contains(why), "request {id}: {a:?}");
        assert_eq!(!a.2.is_empty(), !applied, "a refusal says why: {a:?}");
    }
    let (f0, f1) = (m0.filled(1).unwrap(), m1.filled(1).unwrap());
    assert_eq!(f0, Qty::parse("400000").unwrap(), "{:?}", m0.reports);
    assert_eq!(f1, Qty::parse("800000").unwrap(), "{:?}", m1.reports);
    // Each heard of its own master only (one ticket each, its own CumQty).
    assert!(
        m0.reports
            .iter()
            .all(|r| r.cl_ord_id == 1 && r.cum_qty <= f0),
        "{:?}",
        m0.reports
    );
    assert!(
        m1.reports
            .iter()
            .all(|r| r.cl_ord_id == 1 && r.cum_qty <= f1),
        "{:?}",
        m1.reports
    );

    // Positions: each manager sees its own accounts, whatever it asks.
    let mut views = Vec::new();
    for (m, prefix, filled) in [(&mut m0, "A", f0), (&mut m1, "B", f1)] {
        let mut n = 0;
        let all = loop {
            n += 1;
            let (ack, r) = m.ask(&mut daemon, &format!("ALL{n}"), "*", None);
            let sum: i64 = r.iter().map(|p| p.qty.raw()).sum();
            if sum == filled.raw() {
                break r;
            }
            assert!(
                n < 200,
                "the snapshot never showed the fills: {ack:?} {r:?}"
            );
            std::thread::sleep(Duration::from_millis(25));
        };
        assert_eq!(all.len(), 4);
        assert!(all.iter().all(|p| p.account.starts_with(prefix)), "{all:?}");
        let other = if prefix == "A" { "B0" } else { "A0" };
        let (ack, none) = m.ask(&mut daemon, "OTHER", other, None);
        assert_eq!((ack.result, ack.status), (1, 2), "{ack:?}");
        assert!(ack.text.contains("unknown account"), "{}", ack.text);
        assert!(none.is_empty());
        views.push(all);
    }
    // The admin API lists both sessions and the accounts that follow each.
    let api = Api::new(&daemon, &setup.state);
    wait_until("the snapshot holds the added account", || {
        api.get("/api/managers")["managers"][1]["accounts"]
            .as_array()
            .is_some_and(|a| a.len() == 5)
    });
    let m = api.get("/api/managers");
    let list = m["managers"].as_array().expect("managers[]");
    assert_eq!(list.len(), 2, "{m}");
    // Manager 1's added account B4 follows it.
    for (i, prefix, n) in [(0, "A", 4), (1, "B", 5)] {
        assert_eq!(list[i]["number"], i, "{m}");
        let ids: Vec<&str> = list[i]["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), n, "{m}");
        assert!(ids.iter().all(|a| a.starts_with(prefix)), "{m}");
    }
    assert_eq!(list[1]["peer_comp_id"], "MANAGER2", "{m}");
    // Its master and the seven account requests that reached the engine (the counters are
    // refreshed with the stats line, every second).
    wait_until("manager 1's counters", || {
        api.get("/api/managers")["managers"][1]["counters"]["masters-accepted"] == 8
    });
    daemon.signal("-TERM");
    let st = daemon.wait();
    assert!(st.success(), "daemon exit {st}:\n{}", daemon.output());
    let out = daemon.output();
    assert!(out.contains("manager 1: FIX acceptor listening"), "{out}");
    drop(rig);

    // Each LP got one manager's children: LP b manager 0's (A accounts), `[lp]` manager 1's.
    let at_b = net_by_account(&d.join("executor-b"));
    let at_lp = net_by_account(&d.join("executor"));
    assert!(
        at_b.keys().all(|a| a.starts_with('A')) && at_b.len() == 4,
        "{at_b:?} / {at_lp:?}\n{out}"
    );
    assert!(
        at_lp.keys().all(|a| a.starts_with('B')) && at_lp.len() == 4,
        "{at_lp:?}"
    );
    // The recovered ledger: account by account what its orders at the LPs net to; manager 0's
    // fill in the A accounts, manager 1's in the B accounts; Σ accounts = Σ of both LPs.
    let statement = setup.statement();
    let mut both = lp_orders(&d.join("executor"));
    both.extend(lp_orders(&d.join("executor-b")));
    check_statement_totals(&statement, &both);
    let doc: serde_json::Value = serde_json::from_str(statement.trim()).unwrap();
    let mut by_prefix: BTreeMap<char, i64> = BTreeMap::new();
    for a in doc["accounts"].as_array().unwrap() {
        let id = a["account"].as_str().unwrap();
        if id == "B0" {
            let b = Money::parse(a["balance"].as_str().unwrap()).unwrap();
            assert_eq!(b, Money::parse("11000").unwrap(), "B0 got its deposit: {a}");
        }
        let mut held = 0;
        for p in a["positions"].as_array().unwrap() {
            held += Qty::parse(p["qty"].as_str().unwrap()).unwrap().raw();
        }
        *by_prefix.entry(id.chars().next().unwrap()).or_default() += held;
        let at_lps = at_b.get(id).copied().unwrap_or(0) + at_lp.get(id).copied().unwrap_or(0);
        assert_eq!(
            held, at_lps,
            "account {id}: ledger vs its orders at the LPs"
        );
    }
    assert_eq!(by_prefix.get(&'A'), Some(&f0.raw()), "{statement}");
    assert_eq!(by_prefix.get(&'B'), Some(&f1.raw()), "{statement}");
}
