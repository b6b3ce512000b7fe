//! Interop with a FIX engine nobody here wrote: QuickFIX's `executor` (Debian libquickfix-doc)
//! plays the LP. mam logs on, sends limit orders, checks every fill; then each side crashes
//! (SIGKILL, or a dropped process state) at the worst moment and every order is still filled,
//! through the sequence numbers in the stores and the resends they drive.
//!
//! Needs `apt-get install -y libquickfix17 libquickfix-doc`; without it these tests FAIL and
//! say so (CI's .ci/run installs the packages).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use mam_core::event::{ChildOrder, FillEvent};
use mam_core::num::{Price, Qty};
use mam_gateway::fix::convert::{child_to_nos, er_to_fill, ClOrdIdText};
use mam_gateway::fix::msg::{ExecutionReport, NewOrderSingle};
use mam_gateway::fix::session::initiator::{now_ns, Initiator, InitiatorOptions};
use mam_gateway::fix::session::{Event, Role, Session, SessionConfig};
use mam_gateway::fix::store::Store;
use mam_tests::quickfix::Executor;

struct Mam {
    ini: Initiator,
    fills: HashMap<u64, (FillEvent, Vec<u8>, bool)>,
    gaps: usize,
    resend_requests: usize,
    rejects: usize,
}

fn start_executor(dir: &Path) -> Executor {
    Executor::start(dir, 0, "EXECUTOR", "MAM").unwrap_or_else(|e| panic!("{e}"))
}

impl Mam {
    fn open(store: &Path, addr: SocketAddr) -> Mam {
        let mut cfg = SessionConfig::new(Role::Initiator, "MAM", "EXECUTOR");
        cfg.heart_bt_int = 30;
        let session = Session::new(cfg, Store::open(store).unwrap()).unwrap();
        let mut opts = InitiatorOptions::new(addr);
        opts.backoff_min = Duration::from_millis(20);
        opts.backoff_max = Duration::from_millis(200);
        Mam {
            ini: Initiator::new(session, opts).unwrap(),
            fills: HashMap::new(),
            gaps: 0,
            resend_requests: 0,
            rejects: 0,
        }
    }

    fn turn(&mut self) {
        let Mam {
            ini,
            fills,
            gaps,
            resend_requests,
            rejects,
        } = self;
        ini.turn(now_ns(), Some(Duration::from_millis(5)), &mut |e| match e {
            Event::App { msg, poss_dup } if msg.msg_type() == b"8" => {
                let er = ExecutionReport::parse(msg).expect("executor's ExecutionReport parses");
                let f = er_to_fill(&er, now_ns()).expect("maps to a fill");
                fills.insert(
                    f.cl_ord_id,
                    (f, er.account.unwrap_or_default().to_vec(), poss_dup),
                );
            }
            Event::GapDetected { .. } => *gaps += 1,
            Event::ResendRequested { .. } => *resend_requests += 1,
            Event::RejectReceived { .. } => *rejects += 1,
            _ => {}
        })
        .unwrap();
    }

    /// Turns until `cond` holds; a 60 s guard turns a hang into a failure that says what.
    fn until(&mut self, what: &str, cond: impl Fn(&Mam) -> bool) {
        let t0 = Instant::now();
        while !cond(self) {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "gave up waiting for: {what}"
            );
            self.turn();
        }
    }

    fn order(id: u64) -> ChildOrder {
        ChildOrder {
            cl_ord_id: id,
            account: (id % 7) as u32,
            qty: Qty::from_int(1000 * (1 + id as i64 % 5)).unwrap(),
            price: Price::from_raw(110_000_000 + id as i64 * 1000),
            side: 1 + (id % 2) as u8,
            ord_type: 2,
            ..Default::default()
        }
    }

    fn account(id: u64) -> Vec<u8> {
        format!("SUB{}", id % 7).into_bytes()
    }

    fn send(&mut self, ids: std::ops::Range<u64>) {
        for id in ids {
            let c = Mam::order(id);
            let text = ClOrdIdText::new(id);
            let acct = Mam::account(id);
            let now = now_ns();
            let nos = child_to_nos(&c, &text, Some(&acct), b"EURUSD", now).unwrap();
            self.ini.send_app(now, b"D", |w| nos.encode(w)).unwrap();
            if id % 64 == 0 {
                self.ini.flush().unwrap();
            }
        }
        self.ini.flush().unwrap();
    }

    fn check_fills(&self, ids: std::ops::Range<u64>) {
        for id in ids {
            let (f, acct, _) = self
                .fills
                .get(&id)
                .unwrap_or_else(|| panic!("order {id} has no fill"));
            let c = Mam::order(id);
            assert_eq!(f.status, b'2', "order {id} filled");
            assert_eq!(
                (f.last_qty, f.last_px, f.cum_qty),
                (c.qty, c.price, c.qty),
                "order {id}"
            );
            assert_eq!(acct, &Mam::account(id), "Account echoed for order {id}");
        }
    }
}

#[test]
fn executor_fills_every_limit_order_and_echoes_the_account() {
    let dir = tempfile::tempdir().unwrap();
    let ex = start_executor(&dir.path().join("executor"));
    let mut mam = Mam::open(&dir.path().join("mam"), ex.addr());
    mam.until("logon", |m| m.ini.is_logged_on());
    mam.send(1..301);
    mam.until("300 fills", |m| m.fills.len() == 300);
    mam.check_fills(1..301);
    // A market order is not what the executor fills: it answers with a session-level Reject.
    let now = now_ns();
    let id999 = ClOrdIdText::new(999);
    let limit = child_to_nos(&Mam::order(999), &id999, None, b"EURUSD", now).unwrap();
    let mkt = NewOrderSingle {
        ord_type: mam_core::event::OrdType::Market,
        price: None,
        ..limit
    };
    mam.ini.send_app(now, b"D", |w| mkt.encode(w)).unwrap();
    mam.until("the executor's Reject", |m| m.rejects == 1);
    assert!(!mam.fills.contains_key(&999));
    let s = mam.ini.session();
    assert_eq!(
        s.next_sender_seq(),
        1 + 1 + 300 + 1,
        "Logon + 300 orders + 1"
    );
    assert_eq!(s.stats().garbled, 0);
    assert_eq!(
        s.stats().rejects_sent,
        0,
        "mam rejected nothing the executor sent"
    );
}

#[test]
fn no_order_is_lost_when_either_side_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("mam");
    let mut ex = start_executor(&dir.path().join("executor"));
    let mut mam = Mam::open(&store, ex.addr());
    mam.until("logon", |m| m.ini.is_logged_on());
    mam.send(1..101);
    mam.until("100 fills", |m| m.fills.len() == 100);
    let (out_seq, in_seq) = (
        mam.ini.session().next_sender_seq(),
        mam.ini.session().next_target_seq(),
    );

    // 1. The executor dies (SIGKILL) and comes back: mam reconnects with backoff and both
    //    sides carry on from their stores, no reset.
    ex.restart().unwrap();
    mam.until("reconnect and logon", |m| {
        m.ini.connects() == 2 && m.ini.is_logged_on()
    });
    assert_eq!(
        mam.ini.session().next_sender_seq(),
        out_seq + 1,
        "our numbers resume (Logon took one)"
    );
    // Theirs resume too (at least their Logon later; more if the executor died before
    // recording the last order it filled, asked for it again and filled it twice).
    assert!(
        mam.ini.session().next_target_seq() > in_seq,
        "theirs resume, not reset"
    );
    mam.send(101..201);
    mam.until("200 fills", |m| m.fills.len() == 200);
    let mut all = mam.fills.clone();

    // 2. mam dies right after sending 50 orders, before reading a single fill. The new
    //    process reopens the store; the executor's Logon is ahead, so mam asks for a resend
    //    and gets the 50 fills as PossDup resends.
    mam.send(201..251);
    drop(mam);
    let mut mam = Mam::open(&store, ex.addr());
    mam.until("the 50 fills sent while mam was down", |m| {
        (201..251).all(|id| m.fills.contains_key(&id))
    });
    assert!(mam.gaps >= 1, "mam detected the gap");
    assert!(
        mam.fills.values().filter(|f| f.2).count() >= 50,
        "resent fills carry PossDupFlag"
    );
    all.extend(mam.fills.drain());

    // 3. Both die: the executor is frozen (SIGSTOP) while mam sends 50 orders (they sit
    //    unread in its socket), mam drops, the executor is killed. Its store never saw the
    //    orders; mam's did. After restarts the executor asks for them, mam replays them from
    //    its store with PossDupFlag, and they are filled.
    ex.pause(true).unwrap();
    mam.send(251..301);
    drop(mam);
    ex.restart().unwrap();
    let mut mam = Mam::open(&store, ex.addr());
    mam.until("the 50 orders the executor never read", |m| {
        (251..301).all(|id| m.fills.contains_key(&id))
    });
    assert!(mam.resend_requests >= 1, "the executor asked mam to resend");
    assert!(mam.ini.session().stats().resent >= 50);
    all.extend(mam.fills.drain());
    mam.fills = all;
    mam.check_fills(1..301);
}
