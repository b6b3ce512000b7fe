//! Manager and LP sessions added and removed on a running daemon by a config reload (the
//! admin API's `POST /api/reload` and SIGHUP), with no restart: the shared Dukascopy EURUSD
//! day replayed over SoupBinTCP, two QuickFIX executors, four accounts from a CSV (two follow
//! manager 0, two manager 1, which has no session at the start). Checked:
//! - a reload that adds `[[managers]] number = 1` and `[[lps]] b` (EURUSD routed to it) starts
//!   both: manager 1 logs on, its master is split over its own accounts and filled at LP b
//!   only; `GET /api/managers` lists it;
//! - a reload back to the first file removes them: manager 1's session logs out and is no
//!   longer listed, LP b (nothing working there) is drained and logs out, and manager 0's next
//!   master goes to `[lp]` again;
//! - a reload that adds manager 1 back starts a new session under the same number and store:
//!   the manager logs on with its sequence numbers continuing, and its next master fills;
//! - after the stop, the recovered ledger's totals equal what the two LPs' orders add up to.
//!
//! Needs the shared Dukascopy data and QuickFIX; fails saying so otherwise.

use std::collections::BTreeMap;

use mam_core::num::Qty;
use mam_tests::admin_api::Api;
use mam_tests::daemon::{
    account_store, check_statement_totals, lp_orders, out_file, wait_until, EurusdRig, Proc,
    ADMIN_ON,
};
use mam_tests::heard::{at, buy_eurusd, Listener};
use mam_tests::quickfix::{free_port, Executor};

/// Accounts (tag 1) of the orders an executor logged.
fn accounts_at(executor_dir: &std::path::Path) -> Vec<String> {
    lp_orders(executor_dir)
        .values()
        .map(|o| {
            o.fields
                .iter()
                .find_map(|f| f.strip_prefix("1="))
                .unwrap_or_else(|| panic!("Account (1) in {:?}", o.fields))
                .to_string()
        })
        .collect()
}

/// Reloads through the API; the answer's session lines.
fn reload(api: &Api) -> Vec<String> {
    let (status, v) = api.send("POST", "/api/reload", "");
    assert_eq!(status, 200, "{v}");
    v["sessions"]
        .as_array()
        .unwrap_or_else(|| panic!("sessions[] in {v}"))
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

fn listed(api: &Api) -> Vec<u64> {
    let m = api.get("/api/managers");
    m["managers"]
        .as_array()
        .unwrap_or_else(|| panic!("managers[] in {m}"))
        .iter()
        .map(|s| s["number"].as_u64().unwrap())
        .collect()
}

fn alive(daemon: &mut Proc) {
    assert!(
        daemon.try_wait().is_none(),
        "daemon died:\n{}",
        daemon.output()
    );
}

#[test]
fn sessions_are_added_and_removed_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let second = format!("127.0.0.1:{}", free_port().expect("a free port"));
    let lp_b = Executor::start_with(&d.join("executor-b"), 0, "EXECUTOR", "MAM", true)
        .unwrap_or_else(|e| panic!("{e}"));
    let rig = EurusdRig::new(d, 0, ADMIN_ON);
    let setup = rig.setup.clone();
    let store = account_store(
        d,
        "id,balance,equity,manager\nA0,10000,10000,0\nA1,30000,30000,0\n\
         B0,20000,20000,1\nB1,20000,20000,1\n",
    );
    setup.use_account_store(&store);
    let first = std::fs::read_to_string(&setup.config).unwrap();
    let manager1 =
        format!("[[managers]]\nnumber = 1\nlisten = \"{second}\"\npeer_comp_id = \"MANAGER2\"\n");
    let more = format!(
        "{manager1}[[lps]]\nname = \"b\"\nconnect = \"{b}\"\nsymbols = [\"EURUSD\"]\n\
         comp_id = \"MAM\"\npeer_comp_id = \"EXECUTOR\"\n",
        b = lp_b.addr()
    );
    let log = out_file(d, "daemon");
    let mut daemon = setup.start(&log);
    let api = Api::new(&daemon, &setup.state);
    api.wait_first_snapshot();
    assert_eq!(listed(&api), vec![0]);
    let mut m0 = Listener::connect(&setup.manager, "MANAGER", d.join("m0"));
    wait_until("manager 0 logged on", || {
        m0.poll();
        m0.c.is_logged_on()
    });

    // Add manager 1 and LP b.
    std::fs::write(&setup.config, first.clone() + &more).unwrap();
    let lines = reload(&api);
    assert!(
        lines.iter().any(|l| l.starts_with("started manager 1")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("started lp b")),
        "{lines:?}"
    );
    assert_eq!(listed(&api), vec![0, 1]);
    let mut m1 = Listener::connect(&second, "MANAGER2", d.join("m1"));
    wait_until("manager 1 logged on", || {
        m0.poll();
        m1.poll();
        m1.c.is_logged_on()
    });
    m0.c.clock(at("20190204-14:00:05")).unwrap();
    m1.c.open_order(&buy_eurusd(1, "400000", "20190204-14:00:01"))
        .unwrap();
    m0.c.flush().unwrap();
    m1.c.flush().unwrap();
    wait_until("manager 1's master filled", || {
        m0.poll();
        m1.poll();
        alive(&mut daemon);
        m1.filled(1).is_some()
    });
    assert_eq!(m1.filled(1), Some(Qty::parse("400000").unwrap()));
    let mut at_b = accounts_at(&d.join("executor-b"));
    at_b.sort();
    assert_eq!(at_b, ["B0", "B1"], "manager 1's children, at LP b only");
    assert!(accounts_at(&d.join("executor")).is_empty());
    drop(m1);

    // Back to the first file: manager 1 and LP b go; EURUSD goes to [lp] again.
    std::fs::write(&setup.config, &first).unwrap();
    let from = daemon.output().len();
    daemon.signal("-HUP");
    daemon.wait_line(from, "manager 1 logging out", |l| {
        l.contains("manager 1 logging out")
    });
    daemon.wait_line(from, "LP b removed", |l| l.contains("LP b removed"));
    wait_until("manager 1 no longer listed", || listed(&api) == vec![0]);
    // Nothing was working at b: it is drained at once and logs out.
    wait_until("LP b's session logged out", || {
        let log = std::fs::read(d.join("executor-b").join("executor.out")).unwrap_or_default();
        String::from_utf8_lossy(&log).contains("\u{1}35=5\u{1}")
    });
    m0.c.clock(at("20190204-14:00:06")).unwrap();
    m0.c.open_order(&buy_eurusd(1, "400000", "20190204-14:00:06"))
        .unwrap();
    m0.c.flush().unwrap();
    wait_until("manager 0's master filled", || {
        m0.poll();
        alive(&mut daemon);
        m0.filled(1).is_some()
    });
    let mut at_lp = accounts_at(&d.join("executor"));
    at_lp.sort();
    assert_eq!(at_lp, ["A0", "A1"], "manager 0's children, at [lp]");
    assert_eq!(
        accounts_at(&d.join("executor-b")).len(),
        2,
        "nothing new at b"
    );

    // Manager 1 back under the same number and store.
    std::fs::write(&setup.config, first.clone() + &manager1).unwrap();
    let lines = reload(&api);
    assert!(
        lines.iter().any(|l| l.starts_with("started manager 1")),
        "{lines:?}"
    );
    let mut m1 = Listener::connect(&second, "MANAGER2", d.join("m1"));
    m0.c.clock(at("20190204-14:00:10")).unwrap();
    m0.c.flush().unwrap();
    wait_until("manager 1 logged on again", || {
        m0.poll();
        m1.poll();
        m1.c.is_logged_on()
    });
    m1.c.open_order(&buy_eurusd(2, "200000", "20190204-14:00:07"))
        .unwrap();
    m1.c.end().unwrap();
    m0.c.end().unwrap();
    m0.c.flush().unwrap();
    m1.c.flush().unwrap();
    wait_until("manager 1's second master filled", || {
        m0.poll();
        m1.poll();
        alive(&mut daemon);
        m1.filled(2).is_some()
    });
    assert_eq!(accounts_at(&d.join("executor")).len(), 4, "b is gone: [lp]");

    daemon.signal("-TERM");
    assert!(daemon.wait().success(), "{}", daemon.output());
    let mut lp: BTreeMap<_, _> = lp_orders(&d.join("executor"));
    lp.extend(lp_orders(&d.join("executor-b")));
    check_statement_totals(&setup.statement(), &lp);
    drop(rig);
}
