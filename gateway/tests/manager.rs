//! The manager stage on real loopback sockets: a FIX initiator (mam's own, or a raw socket
//! where the test must see every reply field) plays the money manager; the engine side is
//! the ring the stage pushes to.
//!
//! Waits are conditions polled with a generous guard (a hang fails the test), never timed
//! assertions.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use mam_core::engine::input::{Input, MasterClose, MasterOpen, CLOSE_FULL, MODE_BLOCK};
use mam_core::num::{Lots, Price};
use mam_core::pipeline::{ring, EdgeFrame, RingRx, Stage};
use mam_core::symbol::SymbolTable;
use mam_gateway::fix::decode::{checksum, frame, Decoder, Frame, Message};
use mam_gateway::fix::session::initiator::{now_ns, Initiator, InitiatorOptions};
use mam_gateway::fix::session::{Event, Role, Session, SessionConfig};
use mam_gateway::fix::store::Store;
use mam_gateway::manager::{ManagerCounters, ManagerOptions, ManagerStage, MasterDefaults};

const GUARD: Duration = Duration::from_secs(30);

fn guard(t0: Instant, what: &str) {
    assert!(t0.elapsed() < GUARD, "gave up waiting for {what}");
}

/// A received message, owned: MsgType, MsgSeqNum, PossDup and its fields.
#[derive(Debug, Clone)]
struct Got {
    msg_type: String,
    fields: Vec<(u32, String)>,
}

impl Got {
    fn of(m: &Message<'_>) -> Self {
        Got {
            msg_type: String::from_utf8_lossy(m.msg_type()).into_owned(),
            fields: m
                .fields()
                .map(|f| (f.tag, String::from_utf8_lossy(f.value).into_owned()))
                .collect(),
        }
    }
    fn get(&self, tag: u32) -> &str {
        self.fields
            .iter()
            .find(|(t, _)| *t == tag)
            .map_or("", |(_, v)| v.as_str())
    }
}

fn opts(dir: &Path, resume_after: Option<u64>) -> ManagerOptions {
    ManagerOptions {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        sender_comp: "MAM".into(),
        target_comp: "MGR".into(),
        password: Some("pw".into()),
        store_dir: dir.join("fix-manager"),
        heart_bt_int: 30,
        resume_after,
        allow_remote: false,
        defaults: MasterDefaults::default(),
    }
}

/// The stage on its own thread until it is done or killed.
struct Running {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    kill: Arc<AtomicBool>,
    counters: Arc<ManagerCounters>,
    handle: Option<thread::JoinHandle<ManagerStage>>,
}

fn start(dir: &Path, resume_after: Option<u64>, cap: usize) -> (Running, RingRx<EdgeFrame>) {
    let (tx, rx, _stats) = ring::<EdgeFrame>(cap);
    let stop = Arc::new(AtomicBool::new(false));
    let mut stage = ManagerStage::new(
        opts(dir, resume_after),
        SymbolTable::builtin(),
        tx,
        stop.clone(),
        None,
    )
    .unwrap();
    let addr = stage.local_addr().unwrap();
    assert!(addr.ip().is_loopback());
    let counters = stage.counters();
    let kill = Arc::new(AtomicBool::new(false));
    let k2 = kill.clone();
    let handle = thread::spawn(move || {
        while !k2.load(Ordering::Relaxed) && !stage.is_done() {
            if stage.do_work() == 0 {
                thread::sleep(Duration::from_micros(100));
            }
        }
        stage
    });
    (
        Running {
            addr,
            stop,
            kill,
            counters,
            handle: Some(handle),
        },
        rx,
    )
}

impl Running {
    /// Drops the stage without a stop: what a crash looks like to the manager.
    fn kill(mut self) {
        self.kill.store(true, Ordering::Relaxed);
        drop(self.handle.take().unwrap().join().unwrap());
    }
    fn join(mut self) -> ManagerStage {
        self.handle.take().unwrap().join().unwrap()
    }
}

/// The manager: mam's FIX initiator with the replies it received.
struct Mgr {
    ini: Initiator,
    got: Vec<Got>,
    logged_out: bool,
}

impl Mgr {
    fn connect(addr: SocketAddr, dir: &Path) -> Self {
        let mut cfg = SessionConfig::new(Role::Initiator, "MGR", "MAM");
        cfg.password = Some(b"pw".to_vec());
        let session = Session::new(cfg, Store::open(&dir.join("manager")).unwrap()).unwrap();
        let mut m = Mgr {
            ini: Initiator::new(session, InitiatorOptions::new(addr)).unwrap(),
            got: Vec::new(),
            logged_out: false,
        };
        m.until("Logon", |m| m.ini.is_logged_on());
        m
    }

    fn turn(&mut self) {
        let (got, out) = (&mut self.got, &mut self.logged_out);
        self.ini
            .turn(now_ns(), Some(Duration::from_millis(1)), &mut |e| match e {
                Event::App { msg, .. } => got.push(Got::of(msg)),
                Event::LoggedOut => *out = true,
                _ => {}
            })
            .unwrap();
    }

    fn until(&mut self, what: &str, cond: impl Fn(&Mgr) -> bool) {
        let t0 = Instant::now();
        while !cond(self) {
            guard(t0, what);
            self.turn();
        }
    }

    fn send(&mut self, msg_type: &[u8], fields: &[(u32, &str)]) -> u64 {
        let seq = self
            .ini
            .send_app(now_ns(), msg_type, |w| {
                for (t, v) in fields {
                    w.field_num(*t, v.as_bytes());
                }
            })
            .unwrap();
        self.ini.flush().unwrap();
        seq
    }
}

fn open_order(ticket: &str, qty: &str, tt: &str) -> Vec<(u32, String)> {
    [
        (11, ticket),
        (55, "EURUSD"),
        (54, "1"),
        (38, qty),
        (40, "2"),
        (44, "1.10123"),
        (60, tt),
    ]
    .iter()
    .map(|(t, v)| (*t, v.to_string()))
    .collect()
}

fn refs(v: &[(u32, String)]) -> Vec<(u32, &str)> {
    v.iter().map(|(t, s)| (*t, s.as_str())).collect()
}

/// Pops `n` frames (waiting for them) from the engine side of the ring.
fn pop(rx: &mut RingRx<EdgeFrame>, n: usize) -> Vec<EdgeFrame> {
    let t0 = Instant::now();
    let mut out = Vec::new();
    while out.len() < n {
        guard(t0, "frames on the ring");
        match rx.pop() {
            Some(f) => out.push(f),
            None => thread::sleep(Duration::from_micros(200)),
        }
    }
    out
}

const T0: u64 = 1_767_261_600_000_000_000; // 2026-01-01 10:00:00 UTC

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

/// A raw FIX client: sends exactly what a test writes, returns every message it gets.
struct Raw {
    s: TcpStream,
    seq: u64,
    buf: Vec<u8>,
    dec: Decoder,
}

impl Raw {
    fn logon(addr: SocketAddr) -> Self {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(GUARD)).unwrap();
        let mut r = Raw {
            s,
            seq: 0,
            buf: Vec::new(),
            dec: Decoder::new(),
        };
        r.send("A", &[(98, "0"), (108, "30"), (554, "pw")]);
        assert_eq!(r.recv().msg_type, "A");
        r
    }

    fn send(&mut self, msg_type: &str, fields: &[(u32, &str)]) -> u64 {
        self.seq += 1;
        let mut body = format!(
            "35={msg_type}\x0149=MGR\x0156=MAM\x0134={}\x0152=20260101-10:00:00.000\x01",
            self.seq
        );
        for (t, v) in fields {
            body.push_str(&format!("{t}={v}\x01"));
        }
        let mut m = format!("8=FIX.4.4\x019={}\x01{body}", body.len()).into_bytes();
        let ck = checksum(&m);
        m.extend_from_slice(format!("10={ck:03}\x01").as_bytes());
        self.s.write_all(&m).unwrap();
        self.seq
    }

    fn recv(&mut self) -> Got {
        loop {
            if let Frame::Complete { len } = frame(&self.buf, 1 << 16) {
                let g = Got::of(&self.dec.decode(&self.buf[..len]).unwrap());
                self.buf.drain(..len);
                return g;
            }
            let mut b = [0u8; 4096];
            let n = self.s.read(&mut b).expect("a reply from the manager stage");
            assert!(n > 0, "the manager stage closed the connection");
            self.buf.extend_from_slice(&b[..n]);
        }
    }
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

#[test]
fn restart_resends_exactly_what_the_journal_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let (run, mut rx) = start(dir.path(), None, 64);
    let mut mgr = Mgr::connect(run.addr, dir.path());
    let mut seqs = Vec::new();
    for i in 1..=6u64 {
        let tt = format!("20260101-10:00:0{i}");
        seqs.push(mgr.send(b"D", &refs(&open_order(&i.to_string(), "100000", &tt))));
    }
    let first = pop(&mut rx, 6);
    assert_eq!(first.iter().map(|f| f.origin_seq).collect::<Vec<_>>(), seqs);
    mgr.until("six ExecutionReports", |m| m.got.len() >= 6);
    // The journal holds the first four; the stage dies.
    let journaled = seqs[3];
    run.kill();
    drop(rx);
    drop(mgr);

    let (run, mut rx) = start(dir.path(), Some(journaled), 64);
    let mut mgr = Mgr::connect(run.addr, dir.path());
    let again = pop(&mut rx, 2);
    let tickets: Vec<_> = again
        .iter()
        .map(|f| match f.decode() {
            Some(Input::Open(o)) => (o.ticket, f.origin_seq),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(tickets, vec![(5, seqs[4]), (6, seqs[5])]);
    assert_eq!(
        again[0].frame, first[4].frame,
        "the same input, byte for byte"
    );
    // A fresh order after the resend comes next, and nothing else came in between.
    let s7 = mgr.send(b"D", &refs(&open_order("7", "100000", "20260101-10:00:07")));
    let next = pop(&mut rx, 1);
    assert_eq!(next[0].origin_seq, s7);
    assert!(rx.pop().is_none());
    run.kill();
}

#[test]
fn stop_exchanges_logout_then_the_stage_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let (run, mut rx) = start(dir.path(), None, 64);
    let mut mgr = Mgr::connect(run.addr, dir.path());
    mgr.send(b"D", &refs(&open_order("1", "100000", "20260101-10:00:01")));
    pop(&mut rx, 1);
    run.stop.store(true, Ordering::Release);
    mgr.until("the stage's Logout", |m| m.logged_out);
    let stage = run.join();
    assert!(stage.is_done());
    assert!(stage.local_addr().is_none(), "the listener is closed");
    assert!(rx.is_abandoned(), "the engine sees the source end");
    assert!(rx.pop().is_none());
    let st = stage.stats();
    assert_eq!((st.accepted, st.logons, st.disconnects), (1, 1, 1));

    // Nobody connected: done at once.
    let dir = tempfile::tempdir().unwrap();
    let (run, rx) = start(dir.path(), None, 4);
    run.stop.store(true, Ordering::Release);
    assert!(run.join().is_done());
    assert!(rx.is_abandoned());
}

#[test]
fn remote_listen_needs_allow_remote() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, _rx, _) = ring::<EdgeFrame>(4);
    let mut o = opts(dir.path(), None);
    o.listen = SocketAddr::from(([0, 0, 0, 0], 0));
    let stop = Arc::new(AtomicBool::new(false));
    let e = ManagerStage::new(o, SymbolTable::builtin(), tx, stop, None).unwrap_err();
    assert!(e.to_string().contains("not a loopback"), "{e}");
}

/// Reads one message, running the stage (on this thread) while nothing has come.
fn pump(stage: &mut ManagerStage, raw: &mut Raw) -> Got {
    raw.s
        .set_read_timeout(Some(Duration::from_millis(1)))
        .unwrap();
    let t0 = Instant::now();
    loop {
        guard(t0, "a reply");
        stage.do_work();
        if let Frame::Complete { len } = frame(&raw.buf, 1 << 16) {
            let g = Got::of(&raw.dec.decode(&raw.buf[..len]).unwrap());
            raw.buf.drain(..len);
            return g;
        }
        let mut b = [0u8; 4096];
        match raw.s.read(&mut b) {
            Ok(0) => panic!("closed"),
            Ok(n) => raw.buf.extend_from_slice(&b[..n]),
            Err(_) => {}
        }
    }
}

#[test]
fn orders_that_meet_a_stop_are_refused_as_shutting_down() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx, _) = ring::<EdgeFrame>(8);
    let stop = Arc::new(AtomicBool::new(false));
    let mut stage = ManagerStage::new(
        opts(dir.path(), None),
        SymbolTable::builtin(),
        tx,
        stop.clone(),
        None,
    )
    .unwrap();
    let mut raw = Raw {
        s: TcpStream::connect(stage.local_addr().unwrap()).unwrap(),
        seq: 0,
        buf: Vec::new(),
        dec: Decoder::new(),
    };
    raw.send("A", &[(98, "0"), (108, "30"), (554, "pw")]);
    assert_eq!(pump(&mut stage, &mut raw).msg_type, "A");
    // On loopback the order is in the stage's socket once write returns; the stop comes
    // before the stage reads it.
    let s = raw.send("D", &refs(&open_order("9", "100000", "20260101-10:00:00")));
    stop.store(true, Ordering::Release);
    let r = pump(&mut stage, &mut raw);
    assert_eq!(
        (r.msg_type.as_str(), r.get(150), r.get(103)),
        ("8", "8", "99")
    );
    assert_eq!(r.get(17), format!("M{s}"));
    assert!(r.get(58).contains("shutting down"), "{r:?}");
    assert_eq!(pump(&mut stage, &mut raw).msg_type, "5", "then the Logout");
    raw.send("5", &[]);
    let t0 = Instant::now();
    while !stage.is_done() {
        guard(t0, "the stage to finish");
        stage.do_work();
    }
    assert!(rx.pop().is_none() && rx.is_abandoned());
    assert_eq!(stage.stats().refused, 1);
}

/// "manager decode" (bytes read → frame on the ring) through the tap, with the figures printed
/// (`cargo test --release -p mam-gateway --test manager -- --nocapture latency`).
#[test]
fn decode_latency_is_published_to_the_tap() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx, _) = ring::<EdgeFrame>(1024);
    let stop = Arc::new(AtomicBool::new(false));
    let tap = mam_gateway::latency::LatencyTap::new();
    let stage = ManagerStage::new(
        opts(dir.path(), None),
        SymbolTable::builtin(),
        tx,
        stop.clone(),
        Some(tap.clone()),
    )
    .unwrap();
    let addr = stage.local_addr().unwrap();
    let mut stage = stage;
    let h = thread::spawn(move || {
        while !stage.is_done() {
            if stage.do_work() == 0 {
                thread::yield_now();
            }
        }
    });
    let mut mgr = Mgr::connect(addr, dir.path());
    let show = |what: &str, h: &hdrhistogram::Histogram<u64>| {
        println!(
            "manager decode (bytes read -> frame on the ring), {what}, {} orders: p50 {} ns, p99 {} ns, p99.9 {} ns, max {} ns",
            h.len(),
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max()
        );
    };
    let tt = |i: usize| {
        format!(
            "20260101-10:{:02}:{:02}.{:03}",
            i / 60_000,
            (i / 1000) % 60,
            i % 1000
        )
    };
    // One order at a time: the next leaves once the previous is on the ring.
    let paced = 2_000usize;
    for i in 1..=paced {
        mgr.send(b"D", &refs(&open_order(&i.to_string(), "100000", &tt(i))));
        pop(&mut rx, 1);
        if i % 64 == 0 {
            mgr.turn();
        }
    }
    let mut one = mam_gateway::latency::new_histogram().unwrap();
    let t0 = Instant::now();
    while one.len() < paced as u64 {
        guard(t0, "the stage to publish");
        mgr.turn();
        if let Some(h) = tap.take().get("manager_in") {
            one.add(h).unwrap();
        }
    }
    show("one at a time", &one);
    // A burst: the manager writes as fast as it can; the stage reads up to 64 KiB per turn.
    let burst = 5_000usize;
    let mut popped = 0;
    for i in paced + 1..=paced + burst {
        mgr.send(b"D", &refs(&open_order(&i.to_string(), "100000", &tt(i))));
        while rx.pop().is_some() {
            popped += 1;
        }
        if i % 64 == 0 {
            mgr.turn();
        }
    }
    let t0 = Instant::now();
    while popped < burst {
        guard(t0, "every frame");
        mgr.turn();
        while rx.pop().is_some() {
            popped += 1;
        }
    }
    stop.store(true, Ordering::Release);
    mgr.until("the stage's Logout", |m| m.logged_out);
    h.join().unwrap();
    let hists = tap.take();
    let hist = hists.get("manager_in").expect("published as manager_in");
    assert_eq!(one.len() + hist.len(), (paced + burst) as u64);
    show("burst", hist);
}
