//! The manager stage on real loopback sockets: a FIX initiator (mam's own, or a raw socket
//! where the test must see every reply field) plays the money manager; the engine side is
//! the ring the stage pushes to. Orders, watermarks, the prescribed replies, back-pressure.
//!
//! Waits are conditions polled with a generous guard (a hang fails the test), never timed
//! assertions.

#[path = "manager_util.rs"]
mod util;

use std::time::Instant;

use mam_core::engine::input::{Input, MasterClose, MasterOpen, CLOSE_FULL, MODE_BLOCK};
use mam_core::num::{Lots, Price};
use mam_gateway::manager::MasterDefaults;
use util::*;

#[test]
fn orders_and_watermarks_land_on_the_ring_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (run, mut rx) = start(dir.path(), None, 64);
    let mut mgr = Mgr::connect(run.addr, dir.path());

    let s1 = mgr.send(
        b"D",
        &refs(&open_order("42", "137000", "20260101-10:00:00.000001")),
    );
    let close = [
        (11, "C-1"),
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
    all[0] = (11, "C-2");
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
        ..partial
    };
    assert_eq!(f[3].decode(), Some(Input::Close(close_all)));
    assert_eq!(f[3].origin_seq, s4);
    assert_eq!((f[4].origin_seq, f[4].watermark_ns), (s5, u64::MAX));
    assert!(f.windows(2).all(|w| w[0].edge_ns <= w[1].edge_ns));

    // Each order answered New: ExecID M<MsgSeqNum>, OrderID T<ticket>, LeavesQty = OrderQty.
    mgr.until("three ExecutionReports", |m| m.got.len() >= 3);
    let er: Vec<_> = mgr
        .got
        .iter()
        .map(|g| {
            (
                g.msg_type.as_str(),
                g.get(150),
                g.get(39),
                g.get(17),
                g.get(37),
                g.get(11),
                g.get(151),
                g.get(14),
            )
        })
        .collect();
    assert_eq!(
        er,
        vec![
            (
                "8",
                "0",
                "0",
                &*format!("M{s1}"),
                "T42",
                "42",
                "137000",
                "0"
            ),
            (
                "8",
                "0",
                "0",
                &*format!("M{s2}"),
                "T42",
                "C-1",
                "37000",
                "0"
            ),
            ("8", "0", "0", &*format!("M{s4}"), "T42", "C-2", "1", "0"),
        ]
    );
    let st = run.counters.snapshot();
    assert_eq!(
        (st.accepted, st.watermarks, st.refused, st.logons),
        (3, 2, 0, 1)
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

    for mt in ["AE", "F"] {
        let fields = [(41, "1"), (11, "2"), (55, "EURUSD"), (54, "1"), (60, tt)];
        let s = raw.send(mt, &fields);
        let r = raw.recv();
        assert_eq!(
            (r.msg_type.as_str(), r.get(45), r.get(372), r.get(380)),
            ("j", &*s.to_string(), mt, "3")
        );
    }

    // Still in business: a good order after all that is accepted. The only other frame is the
    // clock the first refused order moved (a refused order's TransactTime still counts).
    let s = raw.send("D", &refs(&with(38, Some("200000"))));
    let r = raw.recv();
    assert_eq!((r.get(150), r.get(17)), ("0", &*format!("M{s}")));
    let f = pop(&mut rx, 2);
    assert_eq!((f[0].origin_seq, f[0].decode()), (s0, None));
    assert_eq!(f[0].watermark_ns, T0);
    assert_eq!((f[1].origin_seq, f[1].watermark_ns), (s, T0));
    assert!(matches!(f[1].decode(), Some(Input::Open(_))));
    assert!(rx.pop().is_none());
    let st = run.counters.snapshot();
    assert_eq!(
        (
            st.accepted,
            st.refused,
            st.session_rejects,
            st.business_rejects
        ),
        (1, 3, 3, 2)
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
    mgr.until("every ExecutionReport", |m| m.got.len() >= n as usize);
    assert!(mgr.got.iter().all(|g| g.get(150) == "0"));
    let st = run.counters.snapshot();
    assert_eq!(st.accepted, n);
    assert!(st.ring_waits >= 1 && st.ring_wait_ns > 0, "{st:?}");
    run.kill();
}
