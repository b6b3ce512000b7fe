//! RequestForPositions (35=AN) end to end: the shared Dukascopy EURUSD day (14:00-15:00)
//! replayed to the daemon over SoupBinTCP, QuickFIX's executor as the LP, and a money manager
//! on FIX 4.4 (mam's `ManagerClient`) that opens two masters routed one order per account (a
//! buy of 2 lots, then a sell of 1 lot: every account nets the difference of its two shares),
//! waits for both to end, and asks for positions. The admin API is off: the daemon publishes
//! its snapshot for the manager session alone.
//!
//! Checked:
//! - the ack (35=AO) says valid, how many reports follow, and the journal sequence the
//!   snapshot is as of (MamJournalSeq, at or after the last report the manager received);
//! - one PositionReport (35=AP) per account with a nonzero position, all EURUSD; their Σ is
//!   what the masters filled (Σ CumQty of the buy − Σ CumQty of the sell), which is also what
//!   the LP's orders net to;
//! - after the stop, each report's quantity is exactly the account's position in `mam accounts
//!   statement` (the recovered ledger), account by account;
//! - one account's request gets that account's report alone; a symbol it does not hold gets
//!   PosReqResult 2 (no positions); an unknown account gets PosReqResult 1, status 2 (rejected)
//!   and a Text naming it, and the daemon stays up (it stops cleanly afterwards).
//!
//! Needs the shared Dukascopy data and QuickFIX; fails saying so otherwise.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mam_core::event::Side;
use mam_core::num::{Price, Qty};
use mam_gateway::fix::time::parse_utc;
use mam_gateway::manager::client::msg::{Open, OrderOpts};
use mam_tests::daemon::{
    check_statement_totals, lp_net_from_orders, lp_orders, out_file, wait_until, EurusdRig,
};
use mam_tests::heard::Listener;

fn at(s: &str) -> u64 {
    parse_utc(s.as_bytes()).expect("a UTC timestamp")
}

fn open(ticket: u64, side: Side, units: &str, limit: &str, t: &str) -> Open {
    Open {
        ticket,
        symbol: "EURUSD".into(),
        side,
        units: Qty::parse(units).unwrap(),
        limit: Some(Price::parse(limit).unwrap()),
        transact_time_ns: at(t),
        opts: OrderOpts {
            routing: Some("per-account".into()),
            ..OrderOpts::default()
        },
    }
}

#[test]
fn positions_are_reported_per_account_from_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The admin API stays off; its snapshot interval still sets how fresh positions are.
    let rig = EurusdRig::new(
        d,
        12,
        "[admin]
snapshot_interval = \"20ms\"
",
    );
    let setup = rig.setup.clone();
    let mut daemon = setup.start(&out_file(d, "daemon"));
    let mut m = Listener::connect(&setup.manager, "MANAGER", d.join("manager"));
    wait_until("manager Logon", || {
        m.poll();
        m.c.is_logged_on()
    });

    // 14:00 EURUSD trades near 1.1440: the executor fills limit orders at their price.
    m.c.clock(at("20190204-14:00:00")).unwrap();
    m.c.open_order(&open(
        1,
        Side::Buy,
        "200000",
        "1.14600",
        "20190204-14:00:01",
    ))
    .unwrap();
    m.c.open_order(&open(
        2,
        Side::Sell,
        "100000",
        "1.14200",
        "20190204-14:00:02",
    ))
    .unwrap();
    // No more orders: the manager's clock no longer holds the market data back.
    m.c.end().unwrap();
    m.c.flush().unwrap();
    wait_until("both masters ended", || {
        m.poll();
        assert!(
            daemon.try_wait().is_none(),
            "daemon died:\n{}",
            daemon.output()
        );
        m.ended(1).is_some() && m.ended(2).is_some()
    });
    let (bought, sold) = (m.ended(1).unwrap(), m.ended(2).unwrap());
    assert!(
        bought.raw() > 0 && sold.raw() > 0,
        "both masters filled: {bought} / {sold}"
    );
    let filled = bought.raw() - sold.raw();

    // Every account. The snapshot is refreshed at most every 20 ms: ask again until it is as
    // of the last report (the ack says which journal sequence it holds).
    let mut n = 0;
    let (ack, all) = loop {
        n += 1;
        let (ack, reports) = m.ask(&mut daemon, &format!("ALL{n}"), "*", None);
        let seq = ack.journal_seq.expect("the ack names its journal sequence");
        if seq >= m.last_report_seq() {
            break (ack, reports);
        }
        assert!(n < 200, "the snapshot never reached the last report");
        std::thread::sleep(Duration::from_millis(25));
    };
    assert_eq!((ack.result, ack.status), (0, 0), "{ack:?}");
    assert_eq!(ack.total, all.len() as u64);
    assert!(ack.text.contains("as of journal sequence"), "{}", ack.text);
    assert!(!all.is_empty());
    let mut by_account: BTreeMap<String, Qty> = BTreeMap::new();
    for (i, p) in all.iter().enumerate() {
        assert_eq!(p.report_id, format!("ALL{n}.{}", i + 1));
        assert_eq!(p.symbol, "EURUSD");
        assert_eq!(p.total, ack.total);
        assert_eq!(p.journal_seq, ack.journal_seq);
        assert_ne!(p.qty, Qty::ZERO, "only nonzero positions are reported");
        assert!(p.settl_price.is_some() && p.prior_settl_price.is_some());
        assert!(p.unrealised.is_some());
        assert!(
            by_account.insert(p.account.clone(), p.qty).is_none(),
            "one report per account and symbol: {}",
            p.account
        );
    }
    eprintln!(
        "{} positions as of journal sequence {:?} (asked {n} times): {by_account:?}",
        all.len(),
        ack.journal_seq
    );
    let sum: i64 = by_account.values().map(|q| q.raw()).sum();
    assert_eq!(
        sum, filled,
        "Σ accounts = bought {bought} − sold {sold} (what the masters filled)"
    );

    // One account; a symbol it does not hold; an account that does not exist.
    let (first, qty) = by_account
        .iter()
        .next()
        .map(|(a, q)| (a.clone(), *q))
        .unwrap();
    let (ack, one) = m.ask(&mut daemon, "ONE", &first, None);
    assert_eq!((ack.result, ack.total), (0, 1), "{ack:?}");
    assert_eq!((one[0].account.as_str(), one[0].qty), (first.as_str(), qty));
    let (ack, none) = m.ask(&mut daemon, "JPY", &first, Some("USDJPY"));
    assert_eq!((ack.result, ack.status, ack.total), (2, 0, 0), "{ack:?}");
    assert!(none.is_empty());
    let (ack, none) = m.ask(&mut daemon, "BAD", "NOBODY", None);
    assert_eq!((ack.result, ack.status, ack.total), (1, 2, 0), "{ack:?}");
    assert!(ack.text.contains("unknown account NOBODY"), "{}", ack.text);
    assert!(none.is_empty());

    // The daemon is still up, and says what it answered on its stats line.
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(1500) {
        m.poll();
    }
    assert!(
        daemon.try_wait().is_none(),
        "daemon died:\n{}",
        daemon.output()
    );
    daemon.signal("-TERM");
    let st = daemon.wait();
    assert!(st.success(), "daemon exit {st}:\n{}", daemon.output());
    let out = daemon.output();
    assert!(
        out.contains("positions-refused 1"),
        "the stats line counts the refused request:\n{out}"
    );
    drop(rig);

    // The recovered ledger, account by account, and the LP's net.
    let statement = setup.statement();
    let lp = lp_orders(&d.join("executor"));
    check_statement_totals(&statement, &lp);
    assert_eq!(
        lp_net_from_orders(&lp).get("EURUSD").map(|q| q.raw()),
        Some(filled),
        "the LP's orders net to what the masters filled"
    );
    let doc: serde_json::Value = serde_json::from_str(statement.trim()).unwrap();
    let mut ledger: BTreeMap<String, Qty> = BTreeMap::new();
    for a in doc["accounts"].as_array().unwrap() {
        for p in a["positions"].as_array().unwrap() {
            let q = Qty::parse(p["qty"].as_str().unwrap()).unwrap();
            if q != Qty::ZERO {
                assert_eq!(p["symbol"], "EURUSD");
                ledger.insert(a["account"].as_str().unwrap().to_string(), q);
            }
        }
    }
    assert_eq!(
        by_account, ledger,
        "the PositionReports are the ledger's positions"
    );
}
