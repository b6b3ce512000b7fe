//! The acceptor on real loopback sockets: configured managers log on (with a password where
//! one is set) and get their orders acknowledged; unknown CompIDs, wrong passwords, a second
//! connection for a live session and plain garbage are refused and closed, and none of them
//! disturbs the session that is working.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use mam_core::num::Qty;
use mam_gateway::fix::msg::{ExecutionReport, NewOrderSingle};
use mam_gateway::fix::session::acceptor::{Acceptor, AcceptorOptions};
use mam_gateway::fix::session::initiator::{now_ns, Initiator, InitiatorOptions};
use mam_gateway::fix::session::{Event, Role, Session, SessionConfig};
use mam_gateway::fix::store::Store;

fn wire(body: &str) -> Vec<u8> {
    mam_gateway::fix::decode::fix44_message(body)
}

/// Reads until the peer closes; returns what came (a guard turns a hang into a failure).
fn read_to_close(mut s: TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut got = Vec::new();
    let mut b = [0u8; 4096];
    loop {
        match s.read(&mut b) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&b[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the acceptor did not close the connection: {e}"),
        }
    }
    String::from_utf8_lossy(&got).replace('\x01', "|")
}

/// An order the acceptor answers: session, ClOrdID, Account, quantity, side.
type Order = (usize, Vec<u8>, Vec<u8>, Qty, mam_core::event::Side);

struct Served {
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    refused: mpsc::Receiver<u64>,
    handle: Option<thread::JoinHandle<()>>,
}

fn serve(dir: &std::path::Path) -> Served {
    let mk = |who: &str, pw: Option<&str>| {
        let mut cfg = SessionConfig::new(Role::Acceptor, "MAM", who);
        cfg.password = pw.map(|p| p.as_bytes().to_vec());
        Session::new(cfg, Store::open(&dir.join(who)).unwrap()).unwrap()
    };
    let mut acc = Acceptor::bind(
        vec![mk("MGR1", Some("pw1")), mk("MGR2", Some("pw2"))],
        AcceptorOptions::default(),
    )
    .unwrap();
    let addr = acc.local_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, refused) = mpsc::channel();
    let s2 = stop.clone();
    let handle = thread::spawn(move || {
        let mut exec_id = 0u64;
        while !s2.load(Ordering::Relaxed) {
            let mut orders: Vec<Order> = Vec::new();
            acc.turn(now_ns(), Some(Duration::from_millis(2)), &mut |si, e| {
                if let Event::App { msg, .. } = e {
                    if let Ok(o) = NewOrderSingle::parse(msg) {
                        orders.push((
                            si,
                            o.cl_ord_id.to_vec(),
                            o.account.unwrap_or_default().to_vec(),
                            o.qty,
                            o.side,
                        ));
                    }
                }
            })
            .unwrap();
            for (si, cl, acct, qty, side) in orders {
                exec_id += 1;
                let id = exec_id.to_string();
                let er = ExecutionReport {
                    order_id: id.as_bytes(),
                    cl_ord_id: Some(&cl),
                    orig_cl_ord_id: None,
                    exec_id: id.as_bytes(),
                    exec_type: b'0',
                    ord_status: b'0',
                    account: Some(&acct),
                    symbol: b"EURUSD",
                    side,
                    order_qty: Some(qty),
                    price: None,
                    last_qty: None,
                    last_px: None,
                    leaves_qty: qty,
                    cum_qty: Qty::ZERO,
                    avg_px: mam_core::num::Price::ZERO,
                    text: None,
                };
                acc.send_app(si, now_ns(), b"8", |w| er.encode(w)).unwrap();
            }
            let _ = tx.send(acc.stats().refused);
        }
    });
    Served {
        addr,
        stop,
        refused,
        handle: Some(handle),
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[test]
fn acceptor_serves_its_managers_and_refuses_everyone_else() {
    let dir = tempfile::tempdir().unwrap();
    let srv = serve(dir.path());
    assert!(srv.addr.ip().is_loopback(), "binds 127.0.0.1 by default");

    // MGR1 logs on with its password and sends orders.
    let mut cfg = SessionConfig::new(Role::Initiator, "MGR1", "MAM");
    cfg.password = Some(b"pw1".to_vec());
    let session = Session::new(cfg, Store::open(&dir.path().join("client1")).unwrap()).unwrap();
    let mut mgr = Initiator::new(session, InitiatorOptions::new(srv.addr)).unwrap();
    let mut acks = 0usize;
    let run = |mgr: &mut Initiator, acks: &mut usize, until: &dyn Fn(&Initiator, usize) -> bool| {
        let t0 = Instant::now();
        while !until(mgr, *acks) {
            assert!(t0.elapsed() < Duration::from_secs(30), "timed out");
            mgr.turn(now_ns(), Some(Duration::from_millis(2)), &mut |e| {
                if let Event::App { msg, .. } = e {
                    let er = ExecutionReport::parse(msg).unwrap();
                    assert_eq!(er.account, Some(&b"MASTER-7"[..]));
                    *acks += 1;
                }
            })
            .unwrap();
        }
    };
    run(&mut mgr, &mut acks, &|m, _| m.is_logged_on());
    let send = |mgr: &mut Initiator, from: u64, to: u64| {
        for i in from..to {
            let cl = i.to_string();
            let o = NewOrderSingle {
                cl_ord_id: cl.as_bytes(),
                account: Some(b"MASTER-7"),
                symbol: b"EURUSD",
                side: mam_core::event::Side::Buy,
                qty: Qty::from_int(100_000).unwrap(),
                ord_type: mam_core::event::OrdType::Market,
                price: None,
                time_in_force: None,
                transact_time_ns: now_ns(),
            };
            mgr.send_app(now_ns(), b"D", |w| o.encode(w)).unwrap();
        }
        mgr.flush().unwrap();
    };
    send(&mut mgr, 0, 20);
    run(&mut mgr, &mut acks, &|_, a| a == 20);

    let refused_before = srv.refused.try_iter().last().unwrap_or(0);
    // An unknown CompID: closed without an answer.
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.write_all(&wire(
        "35=A|49=EVIL|56=MAM|34=1|52=20231114-22:13:20.000|98=0|108=30|",
    ))
    .unwrap();
    assert_eq!(read_to_close(s), "");
    // MGR1 again while MGR1 is connected: refused.
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.write_all(&wire(
        "35=A|49=MGR1|56=MAM|34=1|52=20231114-22:13:20.000|98=0|108=30|554=pw1|",
    ))
    .unwrap();
    assert_eq!(read_to_close(s), "");
    // Garbage instead of a Logon: refused.
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n8=FIX.4.4\x019=99999999\x01")
        .unwrap();
    assert_eq!(read_to_close(s), "");
    // MGR2 with the wrong password: the session answers with a Logout, then closes.
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.write_all(&wire(
        "35=A|49=MGR2|56=MAM|34=1|52=20231114-22:13:20.000|98=0|108=30|554=guess|",
    ))
    .unwrap();
    let answer = read_to_close(s);
    assert!(
        answer.contains("|35=5|") && answer.contains("58=Logon refused"),
        "{answer}"
    );

    // Through all that, MGR1's session kept working.
    send(&mut mgr, 20, 40);
    run(&mut mgr, &mut acks, &|_, a| a == 40);
    assert!(mgr.is_logged_on());
    let t0 = Instant::now();
    loop {
        let r = srv
            .refused
            .recv_timeout(Duration::from_secs(20))
            .expect("acceptor alive");
        if r >= refused_before + 3 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "refusals counted");
    }
}
