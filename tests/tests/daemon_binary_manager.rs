//! A binary order-entry manager beside a FIX manager on one daemon: the shared Dukascopy
//! EURUSD day (14:00-15:00) replayed over SoupBinTCP, QuickFIX's executor as the LP, eight
//! accounts from a CSV whose `manager` column puts four with manager 0 (`[manager]`, FIX 4.4)
//! and four with manager 1 (`[[managers]] protocol = "binary"`, mam's `BinaryManagerClient`).
//!
//! Both managers use ClOrdID 1 for their first master and buy different sizes. Checked:
//! - each manager gets the reports of its own master only (the binary one as MasterReports),
//!   ending Filled with its own size; the two never share a report (journal sequence);
//! - the binary edge refuses what the FIX edge refuses, naming the field: a bad side
//!   (malformed, field 54), a size that is not a whole lot step (OrdRejReason 13, field 38),
//!   an unknown symbol (1, field 55), a template a manager may not send (unsupported); a
//!   cancel of an unknown order is the engine's refusal (execType 9, CxlRejReason 1);
//! - after the stop, the recovered ledger holds manager 0's fill in its four accounts and
//!   manager 1's in its four, and Σ accounts = the LP's orders;
//! - restarted on the same state, the binary session resumes from both stores (no report
//!   twice) and manager 1 closes its ticket: its accounts are flat.
//!
//! Needs the shared Dukascopy data and QuickFIX; fails saying so otherwise.

use std::collections::BTreeMap;
use std::time::Duration;

use mam_core::event::Side;
use mam_core::num::{Price, Qty};
use mam_gateway::binary::codec::{AppMessage, ExecutionReport};
use mam_gateway::binary::master_msg::{
    symbol_field, MasterCancel, MasterOrder, REJECT_MALFORMED, REJECT_ORDER, REJECT_UNSUPPORTED,
};
use mam_gateway::manager::binary::client::{order_of_close, order_of_open, BinaryManagerClient};
use mam_gateway::manager::client::msg::Close;
use mam_tests::daemon::{
    account_store, check_statement_totals, lp_orders, out_file, two_manager_accounts, wait_until,
    EurusdRig,
};
use mam_tests::heard::{at, buy_eurusd, Listener};
use mam_tests::quickfix::free_port;

#[test]
fn a_binary_and_a_fix_manager_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port().expect("a free port");
    let second = format!("127.0.0.1:{port}");
    let rig = EurusdRig::new(
        d,
        0,
        &format!(
            "[[managers]]\nnumber = 1\nlisten = \"{second}\"\nprotocol = \"binary\"\nsession_id = 7\n"
        ),
    );
    let store = account_store(d, &two_manager_accounts());
    let setup = rig.setup.clone();
    setup.use_account_store(&store);
    let mut daemon = setup.start(&out_file(d, "daemon"));
    let mut m0 = Listener::connect(&setup.manager, "MANAGER", d.join("m0"));
    let mut m1 = BinaryManagerClient::connect(
        second.parse().unwrap(),
        7,
        &d.join("m1.store"),
        Duration::from_secs(60),
    )
    .expect("binary session established");
    wait_until("the FIX manager logged on", || {
        m0.poll();
        m1.poll().expect("binary session");
        m0.c.is_logged_on()
    });

    // Manager 1's clock lets manager 0's master (a tie goes to the lower number) through.
    m0.c.clock(at("20190204-14:00:00")).unwrap();
    m1.clock(at("20190204-14:00:01")).unwrap();
    m0.c.open_order(&buy_eurusd(1, "400000", "20190204-14:00:01"))
        .unwrap();
    m0.c.end().unwrap();
    m0.c.flush().unwrap();

    // What the FIX edge refuses, the binary edge refuses, naming the field.
    let good = order_of_open(&buy_eurusd(1, "800000", "20190204-14:00:02"));
    let bad_side = MasterOrder {
        cl_ord_id: 2,
        side: 7,
        ..good
    };
    let bad_qty = MasterOrder {
        cl_ord_id: 3,
        qty: Qty::parse("800001").unwrap(),
        ..good
    };
    let bad_symbol = MasterOrder {
        cl_ord_id: 4,
        symbol: symbol_field("EURXXX"),
        ..good
    };
    let mut refused = BTreeMap::new();
    for (o, kind, reason, field) in [
        (bad_side, REJECT_MALFORMED, 5, 54),
        (bad_qty, REJECT_ORDER, 13, 38),
        (bad_symbol, REJECT_ORDER, 1, 55),
    ] {
        refused.insert(m1.order(&o).unwrap(), (kind, reason, field));
    }
    let er = AppMessage::ExecutionReport(ExecutionReport {
        cl_ord_id: 5,
        exec_id: 1,
        last_qty: Qty::ZERO,
        last_px: Price::ZERO,
        cum_qty: Qty::ZERO,
        leaves_qty: Qty::ZERO,
        ord_status: mam_core::event::ExecStatus::New,
        reject_reason: 0,
        transact_time_ns: 0,
    });
    refused.insert(m1.send(&er).unwrap(), (REJECT_UNSUPPORTED, 3, 0));
    m1.order(&good).unwrap();
    m1.cancel(&MasterCancel {
        cl_ord_id: 6,
        orig_cl_ord_id: 99,
        transact_time_ns: at("20190204-14:00:02"),
    })
    .unwrap();
    m1.end().unwrap();
    m1.flush().unwrap();

    let mut binary_reports = Vec::new();
    wait_until(
        "both masters filled and every binary message answered",
        || {
            m0.poll();
            m1.poll().expect("binary session");
            binary_reports.append(&mut m1.reports);
            assert!(
                daemon.try_wait().is_none(),
                "daemon died:\n{}",
                daemon.output()
            );
            m0.filled(1).is_some()
                && m1.rejects.len() == refused.len()
                && binary_reports.iter().any(|r| r.exec_type == b'9')
                && binary_reports
                    .iter()
                    .any(|r| r.cl_ord_id == 1 && r.ord_status == b'2')
        },
    );
    // The refusals: each names its message, field and reason.
    for r in &m1.rejects {
        let (kind, reason, field) = refused
            .get(&r.ref_seq_no)
            .unwrap_or_else(|| panic!("a reject of an unknown message: {r:?}"));
        assert_eq!(
            (r.kind, r.reason, r.ref_tag_id),
            (*kind, *reason, *field),
            "{}",
            r.text_str()
        );
        assert!(!r.text_str().is_empty(), "{r:?}");
        if *field != 0 {
            assert!(
                r.text_str().starts_with(&format!("tag {field} = ")),
                "{}",
                r.text_str()
            );
        }
    }
    // The engine's refusal of the cancel: unknown order, as a MasterReport execType 9.
    let cxl = binary_reports.iter().find(|r| r.exec_type == b'9').unwrap();
    assert_eq!(
        (cxl.cl_ord_id, cxl.orig_cl_ord_id, cxl.cxl_rej_reason),
        (6, 99, 1)
    );
    let f0 = m0.filled(1).unwrap();
    let f1 = binary_reports
        .iter()
        .rfind(|r| r.cl_ord_id == 1 && r.ord_status == b'2')
        .unwrap()
        .cum_qty;
    assert_eq!(f0, Qty::parse("400000").unwrap(), "{:?}", m0.reports);
    assert_eq!(f1, Qty::parse("800000").unwrap(), "{binary_reports:?}");
    // Each heard of its own master only.
    assert!(
        m0.reports
            .iter()
            .all(|r| r.cl_ord_id == 1 && r.cum_qty <= f0),
        "{:?}",
        m0.reports
    );
    for r in binary_reports.iter().filter(|r| r.exec_type != b'9') {
        assert_eq!(r.cl_ord_id, 1, "{r:?}");
        assert_eq!(r.order_qty, f1, "{r:?}");
        assert_eq!(
            r.order_id, 1,
            "the ticket without the manager's number: {r:?}"
        );
        assert_eq!(&r.symbol[..6], b"EURUSD");
    }
    let fix_seqs: std::collections::BTreeSet<u64> =
        m0.reports.iter().map(|r| r.journal_seq).collect();
    assert!(
        binary_reports
            .iter()
            .all(|r| !fix_seqs.contains(&r.exec_id)),
        "a report went to both managers"
    );
    daemon.signal("-TERM");
    let st = daemon.wait();
    assert!(st.success(), "daemon exit {st}:\n{}", daemon.output());
    let out = daemon.output();
    assert!(
        out.contains("manager 1: binary order-entry acceptor listening"),
        "{out}"
    );
    drop((m0, m1));

    // The recovered ledger: manager 0's fill in the A accounts, manager 1's in the B accounts;
    // Σ accounts = the LP's orders.
    let statement = setup.statement();
    check_statement_totals(&statement, &lp_orders(&d.join("executor")));
    let doc: serde_json::Value = serde_json::from_str(statement.trim()).unwrap();
    let mut by_prefix: BTreeMap<char, i64> = BTreeMap::new();
    for a in doc["accounts"].as_array().unwrap() {
        let id = a["account"].as_str().unwrap();
        let held: i64 = a["positions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| Qty::parse(p["qty"].as_str().unwrap()).unwrap().raw())
            .sum();
        *by_prefix.entry(id.chars().next().unwrap()).or_default() += held;
    }
    assert_eq!(by_prefix.get(&'A'), Some(&f0.raw()), "{statement}");
    assert_eq!(by_prefix.get(&'B'), Some(&f1.raw()), "{statement}");

    // A restart on the same state: the binary session resumes from both stores (its
    // Establish is not refused as a lost store, nothing is replayed twice) and trades on:
    // manager 1 closes its ticket in full.
    let mut daemon = setup.start(&out_file(d, "daemon"));
    let mut m0 = Listener::connect(&setup.manager, "MANAGER", d.join("m0"));
    let mut m1 = BinaryManagerClient::connect(
        second.parse().unwrap(),
        7,
        &d.join("m1.store"),
        Duration::from_secs(60),
    )
    .expect("binary session re-established");
    wait_until("the FIX manager logged on again", || {
        m0.poll();
        m1.poll().expect("binary session");
        m0.c.is_logged_on()
    });
    m0.c.end().unwrap();
    m0.c.flush().unwrap();
    let close = Close {
        close_id: 20,
        ticket: 1,
        symbol: "EURUSD".into(),
        side: Side::Sell,
        units: f1,
        close_all: true,
        limit: Some(Price::parse("1.14000").unwrap()),
        transact_time_ns: at("20190204-14:00:03"),
        opts: buy_eurusd(1, "1", "20190204-14:00:03").opts,
    };
    // Its clock first: the retransmission of what the journal lacks (the end it sent before
    // the stop) closes its clock again, as a FIX resend of 340=3 would.
    m1.clock(at("20190204-14:00:03")).unwrap();
    m1.order(&order_of_close(&close)).unwrap();
    m1.end().unwrap();
    m1.flush().unwrap();
    wait_until("manager 1's close filled after the restart", || {
        m0.poll();
        m1.poll().expect("binary session");
        binary_reports.append(&mut m1.reports);
        assert!(
            daemon.try_wait().is_none(),
            "daemon died:\n{}",
            daemon.output()
        );
        binary_reports
            .iter()
            .any(|r| r.cl_ord_id == 20 && r.ord_status == b'2')
    });
    assert!(m1.rejects.is_empty(), "{:?}", m1.rejects);
    let mut seqs: Vec<u64> = binary_reports.iter().map(|r| r.exec_id).collect();
    seqs.sort_unstable();
    let n = seqs.len();
    seqs.dedup();
    assert_eq!(seqs.len(), n, "a report came twice: {binary_reports:?}");
    daemon.signal("-TERM");
    let st = daemon.wait();
    assert!(st.success(), "daemon exit {st}:\n{}", daemon.output());
    drop(rig);
    let statement = setup.statement();
    let doc: serde_json::Value = serde_json::from_str(statement.trim()).unwrap();
    for a in doc["accounts"].as_array().unwrap() {
        let id = a["account"].as_str().unwrap();
        let held: i64 = a["positions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| Qty::parse(p["qty"].as_str().unwrap()).unwrap().raw())
            .sum();
        if id.starts_with('B') {
            assert_eq!(
                held, 0,
                "manager 1's accounts are flat after its close: {a}"
            );
        }
    }
}
