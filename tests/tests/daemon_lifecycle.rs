//! The order lifecycle end to end, on real data and real peers: two hours of the shared
//! Dukascopy EURUSD day (2019-02-04 14:00-16:00, EURUSD falling about 25 pips in two legs)
//! replayed to the daemon over SoupBinTCP, QuickFIX's executor as the LP, and a money manager
//! on a FIX 4.4 session (mam's own initiator, in this process) that sends:
//! - ticket 1: a buy limit the engine holds (MamHold=Y) at 1.14450, with a stop-loss at 1.14320
//!   (MamStopLoss on the open);
//! - ticket 2: a sell stop (40=3) at 1.13000, never reached, then cancelled (35=F);
//! - ticket 3: a buy limit held at 1.14000 for 2 lots, routed one order per account, then
//!   replaced (35=G) to 1 lot at 1.14400;
//! - a cancel of an unknown order (35=F): refused by the engine with an OrderCancelReject.
//!
//! Checked, from the journal and against our own reading of the journaled quotes:
//! - each pending master triggers at **the first quote after it that reaches its price** (buy
//!   limit: ask ≤ price), and the stop-loss at the first later quote with bid ≤ SL; the
//!   trigger record names that quote's journal sequence and prices;
//! - the reports of each order (kind 41), in order: ticket 1 New, Restated (its SL), Triggered,
//!   Trades to Filled at AvgPx = the limit; ticket 2 New, Canceled; ticket 3 New, Replaced,
//!   Triggered, Filled at 1.14400 for 1 lot; the stop-loss close `SL1` New, Trades to Filled
//!   for ticket 1's whole quantity; the unknown cancel a 35=9 with CxlRejReason 1;
//! - the manager received exactly those reports over FIX, in order, ExecID `E<journal seq>`
//!   (a trigger as Restated with ExecRestatementReason 99: FIX 4.4 has no Triggered);
//! - the statement's totals: LP net = Σ accounts + unallocated = one lot (ticket 3's);
//! - every per-account order at the LP carries the account's id in Account (1).
//!
//! Needs the shared Dukascopy data and QuickFIX; fails saying so otherwise.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mam_core::engine::decision::{exec, MasterReport, RefusedCode};
use mam_core::engine::lifecycle::record::{Trigger, ORDER_ID_SL, TRIGGER_LIMIT, TRIGGER_SL};
use mam_core::engine::{Decision, Input};
use mam_core::event::MarketEvent;
use mam_core::num::{Price, Qty};
use mam_gateway::fix::session::initiator::now_ns;
use mam_tests::daemon::{
    convert_eurusd, lp_orders, out_file, start_lp, wait_until, Capture, DaemonSetup, Proc, Replay,
};
use mam_tests::manager::{Got, Manager};

const HOURS: std::ops::Range<u32> = 14..16;
const LIMIT_1: &str = "1.14450";
const SL_1: &str = "1.14320";
const LIMIT_3: &str = "1.14400";

/// Waits until the daemon journaled every quote of `cap` (checked every 300 ms: each check runs
/// `mam journal verify`), doing `between` meanwhile; fails if the daemon dies.
fn every_quote_journaled(
    setup: &DaemonSetup,
    cap: &Capture,
    daemon: &mut Proc,
    mut between: impl FnMut(),
) {
    let mut last = Instant::now();
    wait_until("every quote journaled", || {
        between();
        if last.elapsed() < Duration::from_millis(300) {
            return false;
        }
        last = Instant::now();
        assert!(
            daemon.try_wait().is_none(),
            "daemon died:\n{}",
            daemon.output()
        );
        setup.market_records() == cap.quotes
    });
}

fn tt(s: u32) -> String {
    format!("20190204-14:00:{s:02}")
}

/// The first quote after journal sequence `after` that `hit` accepts: (seq, quote).
fn first_quote(
    quotes: &[(u64, MarketEvent)],
    after: u64,
    hit: impl Fn(&MarketEvent) -> bool,
) -> (u64, MarketEvent) {
    *quotes
        .iter()
        .find(|(s, q)| *s > after && hit(q))
        .expect("the price is reached in the replayed hours (the test's levels are chosen so)")
}

#[test]
fn pending_masters_cancels_replaces_and_stop_loss_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cap = convert_eurusd(d, HOURS);
    let replay = Replay::start(&cap.path, &out_file(d, "replay"));
    let lp = start_lp(&d.join("executor"));
    let setup = DaemonSetup::write(d, &replay.addr, &lp.addr().to_string(), 12);
    let mut daemon = setup.start(&out_file(d, "daemon"));
    let mut mgr = Manager::connect(setup.manager.parse().unwrap(), &d.join("manager"));

    let (t0, t1, t2, t3, t4, t5, t6) = (tt(0), tt(1), tt(2), tt(3), tt(4), tt(5), tt(6));
    mgr.send(b"h", &[(336, "MAM"), (340, "2"), (60, &t0)]);
    let eurusd = [(55, "EURUSD")];
    let open = |id: &'static str, side: &'static str, qty: &'static str, t: &str| {
        let mut v: Vec<(u32, String)> = vec![
            (11, id.into()),
            (54, side.into()),
            (38, qty.into()),
            (60, t.into()),
        ];
        v.extend(eurusd.iter().map(|(t, s)| (*t, s.to_string())));
        v
    };
    let send = |mgr: &mut Manager, mt: &[u8], v: Vec<(u32, String)>| {
        let r: Vec<(u32, &str)> = v.iter().map(|(t, s)| (*t, s.as_str())).collect();
        mgr.send(mt, &r);
    };
    let mut o1 = open("1", "1", "100000", &t1);
    o1.extend([
        (40, "2".into()),
        (44, LIMIT_1.into()),
        (5109, "Y".into()),
        (5107, SL_1.into()),
    ]);
    send(&mut mgr, b"D", o1);
    let mut o2 = open("2", "2", "100000", &t2);
    o2.extend([(40, "3".into()), (99, "1.13000".into())]);
    send(&mut mgr, b"D", o2);
    let mut o3 = open("3", "1", "200000", &t3);
    o3.extend([
        (40, "2".into()),
        (44, "1.14000".into()),
        (5109, "Y".into()),
        (5102, "per-account".into()),
    ]);
    send(&mut mgr, b"D", o3);
    let mut c2 = open("20", "2", "100000", &t4);
    c2.extend([(41, "2".into())]);
    send(&mut mgr, b"F", c2);
    let mut r3 = open("30", "1", "100000", &t5);
    r3.extend([(41, "3".into()), (40, "2".into()), (44, LIMIT_3.into())]);
    send(&mut mgr, b"G", r3);
    let mut c9 = open("40", "1", "100000", &t6);
    c9.extend([(41, "99".into())]);
    send(&mut mgr, b"F", c9);
    // The manager is done: its clock no longer holds the market data back.
    mgr.send(b"h", &[(336, "MAM"), (340, "3")]);

    every_quote_journaled(&setup, &cap, &mut daemon, || mgr.turn());
    // The last reports (the stop-loss close's fills) reach the manager.
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(2) {
        mgr.turn();
    }
    daemon.signal("-TERM");
    let st = daemon.wait();
    assert!(st.success(), "daemon exit {st}:\n{}", daemon.output());
    drop(replay);
    drop(lp);

    // The journal: quotes, triggers, reports.
    let mut quotes = Vec::new();
    let mut triggers: Vec<(u64, Trigger)> = Vec::new();
    let mut reports: Vec<(u64, MasterReport)> = Vec::new();
    let mut input_seq = std::collections::BTreeMap::new();
    for (seq, kind, payload) in setup.journal_records() {
        if let Some(i) = Input::decode(kind, &payload) {
            match i {
                Input::Market(q) => quotes.push((seq, q)),
                Input::Open(o) => {
                    input_seq.entry(o.ticket).or_insert(seq);
                }
                Input::Amend(a) if a.amend_id == 30 => {
                    input_seq.insert(30, seq);
                }
                _ => {}
            }
            continue;
        }
        match Decision::decode(kind, &payload) {
            Some(Decision::Trigger(t)) => triggers.push((seq, t)),
            Some(Decision::Report(r)) => reports.push((seq, r)),
            _ => {}
        }
    }
    let px = |s: &str| Price::parse(s).unwrap();

    // Ticket 1 triggers at the first quote after its open with ask <= its limit; its SL at the
    // first quote after that with bid <= SL.
    let (q1, _) = first_quote(&quotes, input_seq[&1], |q| q.ask <= px(LIMIT_1));
    let (qsl, _) = first_quote(&quotes, q1, |q| q.bid <= px(SL_1));
    let (q3, _) = first_quote(&quotes, input_seq[&30], |q| q.ask <= px(LIMIT_3));
    let got: Vec<(u64, u8, u64, Price)> = triggers
        .iter()
        .map(|(_, t)| (t.ticket, t.what, t.input_seq, t.level))
        .collect();
    let mut want = vec![
        (1, TRIGGER_LIMIT, q1, px(LIMIT_1)),
        (1, TRIGGER_SL, qsl, px(SL_1)),
        (3, TRIGGER_LIMIT, q3, px(LIMIT_3)),
    ];
    want.sort_by_key(|w| w.2);
    assert_eq!(got, want, "triggers (ticket, what, quote seq, level)");
    for (_, t) in &triggers {
        let q = quotes.iter().find(|(s, _)| *s == t.input_seq).unwrap().1;
        assert_eq!(
            (t.bid, t.ask),
            (q.bid, q.ask),
            "the trigger names its quote"
        );
    }

    // Each order's reports, trades collapsed.
    let of = |id: u64| -> Vec<&MasterReport> {
        reports
            .iter()
            .map(|(_, r)| r)
            .filter(|r| r.order_id == id && r.exec_type != exec::CANCEL_REJECT)
            .collect()
    };
    let kinds = |rs: &[&MasterReport]| -> String {
        let mut s = String::new();
        for r in rs {
            let c = r.exec_type as char;
            if !(c == 'F' && s.ends_with('F')) {
                s.push(c);
            }
        }
        s
    };
    let lot = Qty::parse("100000").unwrap();
    let r1 = of(1);
    assert_eq!(kinds(&r1), "0DLF", "ticket 1: {r1:?}");
    let end1 = r1.last().unwrap();
    assert_eq!(
        (end1.ord_status, end1.cum_qty, end1.leaves_qty, end1.avg_px),
        (b'2', lot, Qty::ZERO, px(LIMIT_1))
    );
    let r2 = of(2);
    assert_eq!(kinds(&r2), "04", "ticket 2: {r2:?}");
    assert_eq!((r2[1].request_id, r2[1].cum_qty), (20, Qty::ZERO));
    let r3 = of(3);
    assert_eq!(kinds(&r3), "05LF", "ticket 3: {r3:?}");
    let end3 = r3.last().unwrap();
    assert_eq!(
        (end3.ord_status, end3.order_qty, end3.cum_qty, end3.avg_px),
        (b'2', lot, lot, px(LIMIT_3))
    );
    let rsl = of(1 | ORDER_ID_SL);
    assert_eq!(kinds(&rsl), "0F", "the stop-loss close: {rsl:?}");
    let endsl = rsl.last().unwrap();
    assert_eq!((endsl.ord_status, endsl.cum_qty), (b'2', end1.cum_qty));
    let rej: Vec<_> = reports
        .iter()
        .filter(|(_, r)| r.exec_type == exec::CANCEL_REJECT)
        .collect();
    assert_eq!(rej.len(), 1, "{rej:?}");
    assert_eq!(
        (rej[0].1.order_id, rej[0].1.request_id, rej[0].1.reason),
        (99, 40, RefusedCode::UnknownMasterOrder as u16)
    );

    // The manager heard exactly these reports, in journal order.
    let heard: Vec<(String, String, String)> = mgr
        .got
        .iter()
        .filter(|g| g.msg_type == "8" || g.msg_type == "9")
        .map(|g| {
            let what = if g.msg_type == "9" {
                format!("9/{}", g.get(102))
            } else {
                assert!(
                    g.get(150) != "D" || g.get(378) == "99",
                    "Restated without ExecRestatementReason: {g:?}"
                );
                g.get(150).to_string()
            };
            (g.get(17).to_string(), g.get(11).to_string(), what)
        })
        .collect();
    let sent: Vec<(String, String, String)> = reports
        .iter()
        .map(|(seq, r)| {
            if r.exec_type == exec::CANCEL_REJECT {
                (String::new(), r.request_id.to_string(), "9/1".to_string())
            } else {
                let id = match r.order_id {
                    o if o & ORDER_ID_SL != 0 => format!("SL{}", o & !ORDER_ID_SL),
                    _ if r.request_id != 0 && matches!(r.exec_type, b'4' | b'5' | b'6') => {
                        r.request_id.to_string()
                    }
                    o => o.to_string(),
                };
                // FIX 4.4 has no Triggered: it goes out as Restated.
                let et = if r.exec_type == exec::TRIGGERED {
                    exec::RESTATED
                } else {
                    r.exec_type
                };
                (format!("E{seq}"), id, (et as char).to_string())
            }
        })
        .collect();
    assert_eq!(
        heard, sent,
        "the manager's reports (ExecID, ClOrdID, ExecType)"
    );

    // Ticket 1 bought a lot and its stop-loss sold it, ticket 3 bought a lot: the LP's net
    // and Σ accounts + unallocated are one lot long.
    let statement = setup.statement();
    let v: serde_json::Value = serde_json::from_str(&statement).unwrap();
    let total = v["totals"]
        .as_array()
        .and_then(|t| t.iter().find(|x| x["symbol"] == "EURUSD"))
        .unwrap_or_else(|| panic!("no EURUSD total:\n{statement}"));
    let q = |k: &str| Qty::parse(total[k].as_str().unwrap()).unwrap();
    assert_eq!(q("lp_net"), lot, "{statement}");
    assert_eq!(q("accounts").raw() + q("unallocated").raw(), lot.raw());

    // Ticket 3 went one order per account: each carries the account's id in Account (1).
    let ids: Vec<&str> = v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["account"].as_str().unwrap())
        .collect();
    let per_account: Vec<String> = lp_orders(&d.join("executor"))
        .into_values()
        .filter_map(|o| {
            o.fields
                .iter()
                .find_map(|f| f.strip_prefix("1=").map(String::from))
        })
        .collect();
    assert!(per_account.len() >= 2, "{per_account:?}");
    for a in &per_account {
        assert!(
            ids.contains(&a.as_str()),
            "Account (1) {a} is not an account id: {ids:?}"
        );
    }
}

/// Reports a crash took between the journal and the manager's socket are sent after the
/// restart: the manager sends its orders, closes its clock and disconnects; the engine then
/// triggers, fills and stops out with nobody to tell (the reports wait on the report ring);
/// the daemon is SIGKILLed, restarted on the same state, and the manager reconnects. It then
/// hears every journaled report exactly once (MamJournalSeq 5120, FIX resends aside).
#[test]
fn reports_a_crash_took_are_sent_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cap = convert_eurusd(d, HOURS);
    let replay = Replay::start(&cap.path, &out_file(d, "replay"));
    let lp = start_lp(&d.join("executor"));
    let setup = DaemonSetup::write(d, &replay.addr, &lp.addr().to_string(), 8);
    let mut daemon = setup.start(&out_file(d, "daemon"));
    let addr: SocketAddr = setup.manager.parse().unwrap();
    let mut mgr = Manager::connect(addr, &d.join("manager"));
    mgr.send(b"h", &[(336, "MAM"), (340, "2"), (60, &tt(0))]);
    let t1 = tt(1);
    mgr.send(
        b"D",
        &[
            (11, "1"),
            (55, "EURUSD"),
            (54, "1"),
            (38, "100000"),
            (40, "2"),
            (44, LIMIT_1),
            (5109, "Y"),
            (5107, SL_1),
            (60, &t1),
        ],
    );
    let t0 = Instant::now();
    while mgr.got.len() < 2 {
        assert!(t0.elapsed() < Duration::from_secs(60), "the first reports");
        mgr.turn();
    }
    // The clock closes and the manager logs out in one write: the daemon reads both at once,
    // so every later report finds the session gone and waits on the report ring.
    mgr.ini
        .send_app(now_ns(), b"h", |w| {
            w.field_num(336, b"MAM");
            w.field_num(340, b"3");
        })
        .unwrap();
    mgr.ini.logout(now_ns(), None).unwrap();
    mgr.ini.flush().unwrap();
    let t0 = Instant::now();
    while mgr.ini.is_logged_on() {
        assert!(t0.elapsed() < Duration::from_secs(30), "the Logout reply");
        mgr.turn();
    }
    let before = mgr.got.clone();
    drop(mgr);

    every_quote_journaled(&setup, &cap, &mut daemon, || {});
    daemon.kill();
    let mut daemon = setup.start(&out_file(d, "daemon"));
    let mut mgr = Manager::connect(addr, &d.join("manager"));
    mgr.got = before;
    let journaled: Vec<u64> = {
        // The stopped daemon's journal is what the running one recovered: read it through a
        // second reader while the daemon runs (nothing new is journaled: no new inputs).
        let mut v = Vec::new();
        for (seq, kind, payload) in setup.journal_records() {
            if let Some(Decision::Report(_)) = Decision::decode(kind, &payload) {
                v.push(seq);
            }
        }
        v
    };
    assert!(
        journaled.len() >= 5,
        "{} reports journaled",
        journaled.len()
    );
    // Each report once: by a first send, or (when the crash came after the session stored it
    // but before the manager read it) by the FIX resend after the reconnect, PossDupFlag Y.
    let seq_of = |g: &Got| g.get(5120).parse::<u64>().unwrap();
    let heard = |m: &Manager| -> Vec<u64> {
        let mut v: Vec<u64> = m
            .got
            .iter()
            .filter(|g| g.msg_type == "8" || g.msg_type == "9")
            .map(seq_of)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let t0 = Instant::now();
    while heard(&mgr).len() < journaled.len() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "heard {:?} of {:?}; daemon:\n{}",
            heard(&mgr),
            journaled,
            daemon.output()
        );
        mgr.turn();
    }
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(500) {
        mgr.turn();
    }
    assert_eq!(heard(&mgr), journaled, "every journaled report");
    let mut firsts: Vec<u64> = mgr
        .got
        .iter()
        .filter(|g| !g.poss_dup && (g.msg_type == "8" || g.msg_type == "9"))
        .map(seq_of)
        .collect();
    let n = firsts.len();
    firsts.sort_unstable();
    firsts.dedup();
    assert_eq!(firsts.len(), n, "no report sent twice (FIX resends aside)");
    assert!(
        daemon.output().contains("reports journaled but never sent"),
        "the restart found no unsent report:\n{}",
        daemon.output()
    );
    daemon.signal("-TERM");
    let st = daemon.wait();
    assert!(st.success(), "daemon exit {st}:\n{}", daemon.output());
    let after: Vec<u64> = setup
        .journal_records()
        .into_iter()
        .filter(|(_, k, p)| matches!(Decision::decode(*k, p), Some(Decision::Report(_))))
        .map(|(s, _, _)| s)
        .collect();
    assert_eq!(
        after, journaled,
        "the stopped journal holds the same reports"
    );
    drop(replay);
    drop(lp);
}
