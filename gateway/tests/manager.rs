//! The manager stage on real loopback sockets: a FIX initiator (mam's own, or a raw socket
//! where the test must see every reply field) plays the money manager; the engine side is
//! the ring the stage pushes to. Orders, watermarks, the prescribed replies, back-pressure.
//!
//! Waits are conditions polled with a generous guard (a hang fails the test), never timed
//! assertions.

#[path = "manager_util.rs"]
mod util;

use std::time::Instant;

use mam_core::engine::decision::{exec, MasterReport};
use mam_core::engine::input::{
    Input, MasterCancel, MasterClose, MasterOpen, CLOSE_FULL, MODE_BLOCK,
};
use mam_core::event::OrdType;
use mam_core::num::{Lots, Price, Qty};
use mam_core::pipeline::ManagerReport;
use mam_gateway::manager::MasterDefaults;
use util::*;

#[test]
fn orders_and_watermarks_land_on_the_ring_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (mut run, mut rx) = start(dir.path(), None, 64);
    let mut mgr = Mgr::connect(run.addr, dir.path());

    let s1 = mgr.send(
        b"D",
        &refs(&open_order("42", "137000", "20260101-10:00:00.000001")),
    );
    let close = [
        (11, "1"),
        (77, "C"),
        (41, "42"),
        (55, "EURUSD"),
        (54, "2"),
        (38, "37000"),
        (40, "1"),
        (60, "20260101-10:00:01"),
        (5102, "per-account"),
    ];
    let s2 = mgr.send(b"D", &close);
    let s3 = mgr.send(b"h", &[(336, "MAM"), (340, "2"), (60, "20260101-10:00:05")]);
    let mut all = close.to_vec();
    all[0] = (11, "2");
    all[5] = (38, "1");
    all[6] = (40, "1");
    all[7] = (60, "20260101-10:00:06");
    all[8] = (5103, "Y");
    let s4 = mgr.send(b"D", &all);
    let s5 = mgr.send(b"h", &[(336, "MAM"), (340, "3")]);

    let f = pop(&mut rx, 5);
    let open = MasterOpen {
        ts_ns: T0 + 1_000,
        ticket: 42,
        lots: Lots::parse("1.37").unwrap(),
        limit_price: Price::parse("1.10123").unwrap(),
        instrument: 0,
        model: MasterDefaults::default().model,
        side: 1,
        mode: MODE_BLOCK,
        ..Default::default()
    };
    assert_eq!(f[0].decode(), Some(Input::Open(open)));
    assert_eq!((f[0].origin_seq, f[0].watermark_ns), (s1, T0 + 1_000));
    let partial = MasterClose {
        ts_ns: T0 + 1_000_000_000,
        ticket: 42,
        lots: Lots::parse("0.37").unwrap(),
        full: 0,
        residual: 0,
        mode: 1,
        _pad: [0; 5],
        order_id: 1,
    };
    assert_eq!(f[1].decode(), Some(Input::Close(partial)));
    assert_eq!(
        (f[1].origin_seq, f[1].watermark_ns),
        (s2, T0 + 1_000_000_000)
    );
    assert_eq!(f[2].decode(), None, "a watermark only");
    assert_eq!(
        (f[2].origin_seq, f[2].watermark_ns),
        (s3, T0 + 5_000_000_000)
    );
    let close_all = MasterClose {
        ts_ns: T0 + 6_000_000_000,
        full: CLOSE_FULL,
        lots: Lots::ZERO,
        mode: MODE_BLOCK,
        order_id: 2,
        ..partial
    };
    assert_eq!(f[3].decode(), Some(Input::Close(close_all)));
    assert_eq!(f[3].origin_seq, s4);
    assert_eq!((f[4].origin_seq, f[4].watermark_ns), (s5, u64::MAX));
    assert!(f.windows(2).all(|w| w[0].edge_ns <= w[1].edge_ns));

    // The edge answers nothing it accepted: the engine's journaled reports are the answers.
    // Two reports pushed on the report ring reach the manager as ExecutionReports whose every
    // field comes from the report (ExecID E<journal seq>, OrderID T<ticket>).
    let new = MasterReport {
        ts_ns: T0 + 1_000,
        order_id: 42,
        ticket: 42,
        order_qty: Qty::parse("137000").unwrap(),
        leaves_qty: Qty::parse("137000").unwrap(),
        price: Price::parse("1.10123").unwrap(),
        exec_type: exec::NEW,
        ord_status: b'0',
        side: 1,
        ord_type: OrdType::Limit as u8,
        ..Default::default()
    };
    let trade = MasterReport {
        exec_type: exec::TRADE,
        ord_status: b'1',
        last_qty: Qty::parse("100000").unwrap(),
        last_px: Price::parse("1.1011").unwrap(),
        cum_qty: Qty::parse("100000").unwrap(),
        leaves_qty: Qty::parse("37000").unwrap(),
        avg_px: Price::parse("1.1011").unwrap(),
        ..new
    };
    for (seq, report) in [(7, new), (9, trade)] {
        let r = ManagerReport {
            journal_seq: seq,
            report,
        };
        assert!(run.reports.try_push(r).is_ok());
    }
    mgr.until("two ExecutionReports", |m| m.got.len() >= 2);
    let er: Vec<_> = mgr
        .got
        .iter()
        .map(|g| {
            [150, 39, 17, 37, 11, 38, 151, 14, 6, 32, 31]
                .map(|t| g.get(t).to_string())
                .join(" ")
        })
        .collect();
    assert_eq!(
        er,
        [
            "0 0 E7 T42 42 137000 137000 0 0  ",
            "F 1 E9 T42 42 137000 37000 100000 1.1011 100000 1.1011",
        ]
    );
    assert!(mgr
        .got
        .iter()
        .all(|g| g.msg_type == "8" && g.get(44) == "1.10123"));
    let st = run.counters.snapshot();
    assert_eq!(
        (
            st.accepted,
            st.watermarks,
            st.refused,
            st.logons,
            st.reports
        ),
        (3, 2, 0, 1, 2)
    );
    run.kill();
}

#[test]
fn each_bad_field_gets_the_prescribed_reply() {
    let dir = tempfile::tempdir().unwrap();
    let (run, mut rx) = start(dir.path(), None, 64);
    let mut raw = Raw::logon(run.addr);
    let tt = "20260101-10:00:00";
    let with = |t: u32, v: Option<&str>| {
        let mut o = open_order("7", "100000", tt);
        o.retain(|(k, _)| *k != t);
        if let Some(v) = v {
            o.push((t, v.to_string()));
        }
        o
    };

    let s0 = raw.send("D", &refs(&with(55, Some("NOPE"))));
    let s = s0;
    let r = raw.recv();
    assert_eq!(
        (r.msg_type.as_str(), r.get(150), r.get(39), r.get(103)),
        ("8", "8", "8", "1")
    );
    assert_eq!((r.get(17), r.get(11)), (&*format!("M{s}"), "7"));
    assert!(
        r.get(58).contains("tag 55") && r.get(58).contains("NOPE"),
        "{r:?}"
    );

    raw.send("D", &refs(&with(38, Some("1500"))));
    let r = raw.recv();
    assert_eq!((r.get(150), r.get(103)), ("8", "13"));
    assert!(r.get(58).contains("tag 38"), "{r:?}");

    raw.send("D", &refs(&with(11, Some("not-a-ticket"))));
    assert_eq!(raw.recv().get(103), "99");

    let s = raw.send("D", &refs(&with(55, None)));
    let r = raw.recv();
    assert_eq!(
        (
            r.msg_type.as_str(),
            r.get(45),
            r.get(373),
            r.get(371),
            r.get(372)
        ),
        ("3", &*s.to_string(), "1", "55", "D")
    );

    let s = raw.send("D", &refs(&with(60, Some("yesterday"))));
    let r = raw.recv();
    assert_eq!(
        (r.msg_type.as_str(), r.get(45), r.get(373), r.get(371)),
        ("3", &*s.to_string(), "6", "60")
    );

    let s = raw.send("h", &[(336, "MAM"), (340, "9")]);
    let r = raw.recv();
    assert_eq!(
        (r.msg_type.as_str(), r.get(45), r.get(373), r.get(371)),
        ("3", &*s.to_string(), "5", "340")
    );

    // A message type mam does not take (TradeCaptureReport): BusinessMessageReject.
    let fields = [(41, "1"), (11, "2"), (55, "EURUSD"), (54, "1"), (60, tt)];
    let s = raw.send("AE", &fields);
    let r = raw.recv();
    assert_eq!(
        (r.msg_type.as_str(), r.get(45), r.get(372), r.get(380)),
        ("j", &*s.to_string(), "AE", "3")
    );

    // A cancel whose OrigClOrdID is not one of mam's order ids: OrderCancelReject (35=9),
    // CxlRejResponseTo 1, CxlRejReason 99, the tag named.
    let s = raw.send(
        "F",
        &[(41, "x1"), (11, "2"), (55, "EURUSD"), (54, "1"), (60, tt)],
    );
    let r = raw.recv();
    assert_eq!(
        (
            r.msg_type.as_str(),
            r.get(434),
            r.get(102),
            r.get(11),
            r.get(41)
        ),
        ("9", "1", "99", "2", "x1"),
        "after {s}: {r:?}"
    );
    assert!(r.get(58).contains("41"), "{r:?}");

    // Still in business: a good order and a good cancel after all that are accepted, answered
    // by the engine (nothing from the edge). The only other frame is the clock the first
    // refused order moved (a refused order's TransactTime still counts).
    let s = raw.send("D", &refs(&with(38, Some("200000"))));
    let c = raw.send(
        "F",
        &[(41, "7"), (11, "8"), (55, "EURUSD"), (54, "1"), (60, tt)],
    );
    let f = pop(&mut rx, 3);
    assert_eq!((f[0].origin_seq, f[0].decode()), (s0, None));
    assert_eq!(f[0].watermark_ns, T0);
    assert_eq!((f[1].origin_seq, f[1].watermark_ns), (s, T0));
    assert!(matches!(f[1].decode(), Some(Input::Open(_))));
    let cancel = MasterCancel {
        ts_ns: T0,
        order_id: 7,
        cancel_id: 8,
    };
    assert_eq!(
        (f[2].origin_seq, f[2].decode()),
        (c, Some(Input::Cancel(cancel)))
    );
    assert!(rx.pop().is_none());
    let st = run.counters.snapshot();
    assert_eq!(
        (
            st.accepted,
            st.refused,
            st.session_rejects,
            st.business_rejects
        ),
        (2, 4, 3, 1)
    );
    run.kill();
}

#[test]
fn a_full_ring_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (run, mut rx) = start(dir.path(), None, 2);
    let mut mgr = Mgr::connect(run.addr, dir.path());
    let n = 200u64;
    let mut seqs = Vec::new();
    for i in 1..=n {
        let tt = format!("20260101-10:00:{:02}.{:06}", i / 100, i % 100);
        seqs.push(mgr.send(b"D", &refs(&open_order(&i.to_string(), "100000", &tt))));
    }
    // Nobody pops: the stage must wait on the ring, not drop.
    let t0 = Instant::now();
    while run.counters.snapshot().ring_waits == 0 {
        guard(t0, "the stage to wait on the full ring");
        mgr.turn();
    }
    let mut got = Vec::new();
    let t0 = Instant::now();
    while got.len() < n as usize {
        guard(t0, "every frame");
        mgr.turn();
        while let Some(f) = rx.pop() {
            got.push(f);
        }
    }
    let tickets: Vec<u64> = got
        .iter()
        .map(|f| match f.decode() {
            Some(Input::Open(o)) => o.ticket,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(tickets, (1..=n).collect::<Vec<_>>());
    assert_eq!(got.iter().map(|f| f.origin_seq).collect::<Vec<_>>(), seqs);
    assert!(
        mgr.got.is_empty(),
        "the edge acks nothing: {:?}",
        mgr.got.first()
    );
    let st = run.counters.snapshot();
    assert_eq!(st.accepted, n);
    assert!(st.ring_waits >= 1 && st.ring_wait_ns > 0, "{st:?}");
    run.kill();
}
