//! Shared by the manager stage tests (`manager.rs`, `manager_lifecycle.rs`): the stage on a
//! thread, the manager as mam's FIX initiator or as a raw socket, ring helpers.
#![allow(dead_code, missing_debug_implementations)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use mam_core::pipeline::{ring, EdgeFrame, ManagerReport, RingRx, RingTx, Stage};
use mam_core::symbol::SymbolTable;
use mam_gateway::fix::decode::{checksum, frame, Decoder, Frame, Message};
use mam_gateway::fix::session::initiator::{now_ns, Initiator, InitiatorOptions};
use mam_gateway::fix::session::{Event, Role, Session, SessionConfig};
use mam_gateway::fix::store::Store;
use mam_gateway::manager::{ManagerCounters, ManagerOptions, ManagerStage, MasterDefaults};

pub const GUARD: Duration = Duration::from_secs(30);

pub fn guard(t0: Instant, what: &str) {
    assert!(t0.elapsed() < GUARD, "gave up waiting for {what}");
}

/// A received message, owned: MsgType, MsgSeqNum, PossDup and its fields.
#[derive(Debug, Clone)]
pub struct Got {
    pub msg_type: String,
    pub fields: Vec<(u32, String)>,
}

impl Got {
    pub fn of(m: &Message<'_>) -> Self {
        Got {
            msg_type: String::from_utf8_lossy(m.msg_type()).into_owned(),
            fields: m
                .fields()
                .map(|f| (f.tag, String::from_utf8_lossy(f.value).into_owned()))
                .collect(),
        }
    }
    pub fn get(&self, tag: u32) -> &str {
        self.fields
            .iter()
            .find(|(t, _)| *t == tag)
            .map_or("", |(_, v)| v.as_str())
    }
}

pub fn opts(dir: &Path, resume_after: Option<u64>) -> ManagerOptions {
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
        manager: 0,
        rebalance_deposits: false,
        sending_time_tolerance_ns: Some(120_000_000_000),
    }
}

/// The stage on its own thread until it is done or killed.
pub struct Running {
    pub addr: SocketAddr,
    pub stop: Arc<AtomicBool>,
    pub kill: Arc<AtomicBool>,
    pub counters: Arc<ManagerCounters>,
    pub handle: Option<thread::JoinHandle<ManagerStage>>,
    /// The engine's side of the report ring: what is pushed here reaches the manager.
    pub reports: RingTx<ManagerReport>,
}

pub fn start(dir: &Path, resume_after: Option<u64>, cap: usize) -> (Running, RingRx<EdgeFrame>) {
    let (tx, rx, _stats) = ring::<EdgeFrame>(cap);
    let (rtx, rrx, _rstats) = ring::<ManagerReport>(64);
    let stop = Arc::new(AtomicBool::new(false));
    let stage = ManagerStage::new(
        opts(dir, resume_after),
        SymbolTable::builtin(),
        tx,
        stop.clone(),
        None,
    )
    .unwrap();
    let mut stage = stage.with_reports(rrx);
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
            reports: rtx,
        },
        rx,
    )
}

impl Running {
    /// Drops the stage without a stop: what a crash looks like to the manager.
    pub fn kill(mut self) {
        self.kill.store(true, Ordering::Relaxed);
        drop(self.handle.take().unwrap().join().unwrap());
    }
    pub fn join(mut self) -> ManagerStage {
        self.handle.take().unwrap().join().unwrap()
    }
}

/// The manager: mam's FIX initiator with the replies it received.
pub struct Mgr {
    pub ini: Initiator,
    pub got: Vec<Got>,
    pub logged_out: bool,
}

impl Mgr {
    pub fn connect(addr: SocketAddr, dir: &Path) -> Self {
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

    pub fn turn(&mut self) {
        let (got, out) = (&mut self.got, &mut self.logged_out);
        self.ini
            .turn(now_ns(), Some(Duration::from_millis(1)), &mut |e| match e {
                Event::App { msg, .. } => got.push(Got::of(msg)),
                Event::LoggedOut => *out = true,
                _ => {}
            })
            .unwrap();
    }

    pub fn until(&mut self, what: &str, cond: impl Fn(&Mgr) -> bool) {
        let t0 = Instant::now();
        while !cond(self) {
            guard(t0, what);
            self.turn();
        }
    }

    pub fn send(&mut self, msg_type: &[u8], fields: &[(u32, &str)]) -> u64 {
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

pub fn open_order(ticket: &str, qty: &str, tt: &str) -> Vec<(u32, String)> {
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

pub fn refs(v: &[(u32, String)]) -> Vec<(u32, &str)> {
    v.iter().map(|(t, s)| (*t, s.as_str())).collect()
}

/// Pops `n` frames (waiting for them) from the engine side of the ring.
pub fn pop(rx: &mut RingRx<EdgeFrame>, n: usize) -> Vec<EdgeFrame> {
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

pub const T0: u64 = 1_767_261_600_000_000_000; // 2026-01-01 10:00:00 UTC

/// A raw FIX client: sends exactly what a test writes, returns every message it gets.
pub struct Raw {
    pub s: TcpStream,
    pub seq: u64,
    pub buf: Vec<u8>,
    pub dec: Decoder,
}

impl Raw {
    pub fn logon(addr: SocketAddr) -> Self {
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

    pub fn send(&mut self, msg_type: &str, fields: &[(u32, &str)]) -> u64 {
        self.seq += 1;
        // SendingTime is the real clock: the session checks its accuracy (±120 s).
        let mut ts = [0u8; mam_gateway::fix::time::TS_LEN];
        mam_gateway::fix::time::format_utc(now_ns(), &mut ts);
        let mut body = format!(
            "35={msg_type}\x0149=MGR\x0156=MAM\x0134={}\x0152={}\x01",
            self.seq,
            std::str::from_utf8(&ts).expect("ASCII")
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

    pub fn recv(&mut self) -> Got {
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

/// Reads one message, running the stage (on this thread) while nothing has come.
pub fn pump(stage: &mut ManagerStage, raw: &mut Raw) -> Got {
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
