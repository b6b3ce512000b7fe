//! The client against the gateway's own FIX acceptor on loopback: what goes on the wire, how
//! answers map to orders, and that a client reopened on its store neither resends nor
//! forgets what it sent.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mam_core::event::Side;
use mam_core::num::{Price, Qty};
use mam_gateway::fix::session::acceptor::{Acceptor, AcceptorOptions};
use mam_gateway::fix::session::initiator::now_ns;
use mam_gateway::fix::session::{Event, Role, Session, SessionConfig};
use mam_gateway::fix::store::Store;
use mam_gateway::fix::tag;

use super::schedule::{SplitMix, TimedQuote};
use super::*;

/// A stand-in for the daemon's manager stage: records each message as `tag=value|` text and
/// answers each NewOrderSingle with ExecType `exec_type(ClOrdID)`.
struct Daemon {
    acc: Acceptor,
    got: Vec<String>,
}

impl Daemon {
    fn start(store: &std::path::Path) -> Daemon {
        let cfg = SessionConfig::new(Role::Acceptor, "MAM", "MANAGER");
        let mut s = Session::new(cfg, Store::open(store).unwrap()).unwrap();
        s.accept_app_type(b"h");
        Daemon {
            acc: Acceptor::bind(vec![s], AcceptorOptions::default()).unwrap(),
            got: Vec::new(),
        }
    }
    fn addr(&self) -> SocketAddr {
        self.acc.local_addr()
    }
    fn turn(&mut self, refuse: u64) {
        let mut orders = Vec::new();
        let got = &mut self.got;
        self.acc
            .turn(now_ns(), Some(Duration::from_millis(1)), &mut |_, e| {
                if let Event::App { msg, .. } = e {
                    let text: String = msg
                        .fields()
                        .filter(|f| ![8, 9, 10, 34, 49, 52, 56].contains(&f.tag))
                        .map(|f| format!("{}={}|", f.tag, String::from_utf8_lossy(f.value)))
                        .collect();
                    got.push(text);
                    if msg.msg_type() == b"D" {
                        orders.push(msg.get(11).unwrap().to_vec());
                    }
                }
            })
            .unwrap();
        for id in orders {
            let et = if id == refuse.to_string().as_bytes() {
                b'8'
            } else {
                b'0'
            };
            // A manager gone meanwhile loses the answer (the test makes sure none is).
            let _ = self.acc.send_app(0, now_ns(), b"8", |w| {
                w.field(tag::ORDER_ID, b"T1")
                    .field(tag::CL_ORD_ID, &id)
                    .field(tag::EXEC_ID, b"M1")
                    .char(tag::EXEC_TYPE, et)
                    .char(tag::ORD_STATUS, et)
                    .field(tag::SYMBOL, b"EURUSD")
                    .char(tag::SIDE, b'1')
                    .field(tag::LEAVES_QTY, b"0")
                    .field(tag::CUM_QTY, b"0")
                    .field(tag::AVG_PX, b"0");
                if et == b'8' {
                    w.field(tag::ORD_REJ_REASON, b"13")
                        .field(tag::TEXT, b"not a lot step");
                }
            });
        }
    }
}

fn both(d: &mut Daemon, c: &mut ManagerClient, until: impl Fn(&Daemon, &ManagerClient) -> bool) {
    let t0 = Instant::now();
    while !until(d, c) {
        assert!(t0.elapsed() < Duration::from_secs(20), "test timed out");
        d.turn(7);
        for a in c.poll(Duration::from_millis(1)).unwrap() {
            assert!(a.cl_ord_id.is_some(), "{a:?}");
        }
    }
}

const T: u64 = 1_549_238_400_123_000_000; // 2019-02-04 00:00:00.123

#[test]
fn orders_and_clocks_go_out_as_docs_daemon_md_says() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(&dir.path().join("daemon"));
    let store = dir.path().join("manager");
    let mut c = ManagerClient::open(&ClientOptions::new(d.addr(), store.clone())).unwrap();
    both(&mut d, &mut c, |_, c| c.is_logged_on());
    let open = Open {
        ticket: 5,
        symbol: "EURUSD".into(),
        side: Side::Buy,
        units: Qty::from_int(30_000).unwrap(),
        limit: Some(Price::parse("1.14561").unwrap()),
        transact_time_ns: T,
        opts: OrderOpts {
            model: Some("equity".into()),
            routing: Some("block".into()),
            ..OrderOpts::default()
        },
    };
    c.open_order(&open).unwrap();
    c.clock(T + 1_000_000).unwrap();
    let err = c.clock(T).unwrap_err();
    assert!(matches!(err, ManagerError::TimeBackwards { .. }), "{err}");
    c.close_order(&Close {
        close_id: 7,
        ticket: 5,
        symbol: "EURUSD".into(),
        side: Side::Sell,
        units: Qty::from_int(30_000).unwrap(),
        close_all: true,
        limit: Some(Price::parse("1.1455").unwrap()),
        transact_time_ns: T + 2_000_000,
        opts: OrderOpts::default(),
    })
    .unwrap();
    c.end().unwrap();
    c.flush().unwrap();
    both(&mut d, &mut c, |d, c| {
        d.got.len() == 4 && c.outstanding() == 0
    });
    assert_eq!(
        d.got,
        [
            "35=D|11=5|77=O|55=EURUSD|54=1|60=20190204-00:00:00.123|38=30000|40=2|44=1.14561|5101=equity|5102=block|",
            "35=h|336=MAM|340=2|60=20190204-00:00:00.124|",
            "35=D|11=7|77=C|41=5|55=EURUSD|54=2|60=20190204-00:00:00.125|38=30000|40=2|44=1.1455|5103=Y|",
            "35=h|336=MAM|340=3|60=20190204-00:00:00.125|",
        ]
    );
    assert_eq!(c.fates().get(&5), Some(&Fate::Accepted));
    assert_eq!(c.fates().get(&7), Some(&Fate::Refused));

    // A new process over the same store knows what was sent and that the session ended.
    drop(c);
    let c = ManagerClient::open(&ClientOptions::new(d.addr(), store)).unwrap();
    assert_eq!((c.sent(), c.ended(), c.outstanding()), (4, true, 0));
    assert_eq!(c.fates().get(&7), Some(&Fate::Refused));
    assert_eq!(c.clock_ns(), T + 2_000_000);
}

fn timeline(n: u64) -> Timeline {
    let mut r = SplitMix(9);
    let mut t = T;
    let mut tl = Timeline::default();
    for _ in 0..n {
        t += r.below(5) * 1_000_000 + if r.below(3) == 0 { 0 } else { 1_000_000 };
        let bid = 114_500_000 + r.below(100) as i64 * 1000;
        tl.quotes.push(TimedQuote {
            time_ns: t,
            instrument: 0,
            bid: Price(bid),
            ask: Price(bid + 2000),
        });
    }
    tl.last_ns = t;
    tl.symbols.insert(0, "EURUSD".into());
    tl
}

#[test]
fn schedules_are_seeded_ordered_and_trade_at_the_touch() {
    let tl = timeline(5000);
    let o = ScheduleOptions {
        trades: 40,
        seed: 3,
        clock_every_ns: 250_000_000,
        ..ScheduleOptions::default()
    };
    let s = Schedule::plan(&tl, &o).unwrap();
    assert_eq!(s.orders(), 120);
    let again = Schedule::plan(&tl, &o).unwrap();
    assert_eq!(s.steps, again.steps, "same seed, same plan");
    let other = Schedule::plan(
        &tl,
        &ScheduleOptions {
            seed: 4,
            ..o.clone()
        },
    )
    .unwrap();
    assert_ne!(s.steps, other.steps);
    assert!(s.steps.windows(2).all(|w| w[0].time_ns <= w[1].time_ns));
    assert!(matches!(s.steps.last().unwrap().action, Action::Clock(t) if t > tl.last_ns));
    let mut open = std::collections::HashMap::new();
    for st in &s.steps {
        assert_eq!(st.time_ns % 1_000_000, 0, "whole milliseconds");
        // The quote before the step, and (for an order) none at its millisecond.
        let i = tl.quotes.partition_point(|q| q.time_ns < st.time_ns);
        let clock = matches!(st.action, Action::Clock(_));
        assert!(clock || tl.quotes.get(i).is_none_or(|q| q.time_ns > st.time_ns));
        let q = tl.quotes[i - 1];
        let at = |side: Side| if side == Side::Buy { q.ask } else { q.bid };
        match &st.action {
            Action::Open(o) => {
                assert_eq!(o.limit, Some(at(o.side)));
                open.insert(o.ticket, o.units.raw());
            }
            Action::Close(c) => {
                assert_eq!(c.limit, Some(at(c.side)));
                let left = open.get_mut(&c.ticket).expect("closed after its open");
                *left -= c.units.raw();
                assert_eq!(*left == 0, c.close_all, "partial, then the rest");
                assert!(*left >= 0 && c.units.raw() > 0);
            }
            Action::Cancel(_) => panic!("no cancels without the lifecycle"),
            Action::Clock(t) => assert_eq!(*t, st.time_ns),
        }
    }
    assert!(open.values().all(|v| *v == 0));
    let last_quote = tl.quotes.last().unwrap().time_ns;
    assert!(s
        .steps
        .iter()
        .all(|st| matches!(st.action, Action::Clock(_)) || st.time_ns < last_quote));
}

#[test]
fn a_lifecycle_plan_holds_levels_triggers_and_cancels() {
    use super::schedule::{EXTRA_IDS, FAR, THROUGH};
    let tl = timeline(5000);
    let o = ScheduleOptions {
        trades: 12,
        seed: 5,
        lifecycle: true,
        ..ScheduleOptions::default()
    };
    let s = Schedule::plan(&tl, &o).unwrap();
    // 12 trades of 3 orders, 3 extra held limits (trades 3, 7, 11) and their cancels.
    assert_eq!(s.orders(), 36 + 6);
    assert!(s.steps.windows(2).all(|w| w[0].time_ns <= w[1].time_ns));
    let mut ids = std::collections::HashSet::new();
    let mut held_extra = std::collections::HashMap::new();
    for st in &s.steps {
        let i = tl.quotes.partition_point(|q| q.time_ns < st.time_ns);
        let q = tl.quotes[i - 1];
        let touch = |side: Side| if side == Side::Buy { q.ask } else { q.bid };
        let sign = |side: Side| if side == Side::Buy { 1 } else { -1 };
        match &st.action {
            Action::Open(x) if x.ticket >= EXTRA_IDS => {
                assert!(ids.insert(x.ticket));
                assert!(x.opts.hold);
                assert_eq!(x.limit, Some(Price(touch(Side::Buy).raw() - FAR.raw())));
                held_extra.insert(x.ticket, st.time_ns);
            }
            Action::Open(x) => {
                assert!(ids.insert(x.ticket));
                let t = touch(x.side).raw();
                match (x.ticket - 1) % 3 {
                    1 => {
                        assert_eq!(x.opts.stop_loss, Some(Price(t - sign(x.side) * FAR.raw())));
                        assert_eq!(
                            x.opts.take_profit,
                            Some(Price(t + sign(x.side) * FAR.raw()))
                        );
                        assert!(!x.opts.hold);
                    }
                    2 => {
                        assert!(x.opts.hold && x.opts.stop_loss.is_none());
                        assert_eq!(x.limit, Some(Price(t + sign(x.side) * THROUGH.raw())));
                    }
                    _ => assert_eq!(x.opts, OrderOpts::default()),
                }
            }
            Action::Close(c) => {
                assert!(ids.insert(c.close_id));
                assert!(
                    !c.opts.hold && c.opts.stop_loss.is_none(),
                    "levels are for opens"
                );
            }
            Action::Cancel(c) => {
                assert!(ids.insert(c.cancel_id));
                let at = held_extra
                    .remove(&c.order_id)
                    .expect("cancels a held extra");
                assert!(at < st.time_ns, "after it");
            }
            Action::Clock(_) => {}
        }
    }
    assert!(held_extra.is_empty(), "every extra held limit is cancelled");
}

/// The stand-in daemon on a thread until `stop`; returns what it received.
fn daemon_thread(
    store: std::path::PathBuf,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    tx: std::sync::mpsc::Sender<SocketAddr>,
) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let mut d = Daemon::start(&store);
        tx.send(d.addr()).unwrap();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            d.turn(0);
        }
        d.got
    })
}

#[test]
fn a_restarted_driver_sends_only_what_its_store_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let daemon = daemon_thread(dir.path().join("daemon"), stop.clone(), tx);
    let addr = rx.recv().unwrap();
    let plan = Schedule::plan(
        &timeline(3000),
        &ScheduleOptions {
            trades: 5,
            clock_every_ns: 500_000_000,
            ..ScheduleOptions::default()
        },
    )
    .unwrap();
    let opts = ClientOptions::new(addr, dir.path().join("manager"));
    // The first process sends a third of the plan, then dies.
    let mut c = ManagerClient::open(&opts).unwrap();
    let first = plan.steps.len() / 3;
    let t0 = Instant::now();
    while !c.is_logged_on() {
        assert!(t0.elapsed() < Duration::from_secs(20));
        c.poll(Duration::from_millis(1)).unwrap();
    }
    for s in &plan.steps[..first] {
        match &s.action {
            Action::Open(o) => c.open_order(o),
            Action::Close(x) => c.close_order(x),
            Action::Cancel(x) => c.cancel_order(x),
            Action::Clock(t) => c.clock(*t),
        }
        .unwrap();
    }
    // Its answers are in (and in its answers file) when it dies: the daemon will not send
    // them again.
    while c.outstanding() > 0 {
        assert!(t0.elapsed() < Duration::from_secs(20), "answers");
        c.poll(Duration::from_millis(1)).unwrap();
    }
    c.drop_connection();
    drop(c);
    // The second drives the whole plan: it resumes after what the store holds.
    let mut c = ManagerClient::open(&opts).unwrap();
    let mut answers = 0;
    let r = drive(&mut c, &plan, &DriveOptions::default(), &mut |e| {
        if let DriveEvent::Ack(_) = e {
            answers += 1;
        }
    })
    .unwrap();
    assert_eq!(r.resumed, first);
    assert!(r.done(), "{r:?}");
    assert_eq!((r.orders, r.accepted), (15, 15));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let got = daemon.join().unwrap();
    assert_eq!(
        got.len(),
        plan.steps.len() + 1,
        "every step once, and the end"
    );
    assert!(got.last().unwrap().contains("340=3"));
    let ids: std::collections::BTreeSet<_> = got
        .iter()
        .filter(|m| m.starts_with("35=D"))
        .map(|m| m.split('|').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 15, "no order twice");
    assert!(answers > 0);
}
