//! Sockets that connect and never send a Logon cannot lock a manager out: they are closed after
//! the (short) logon timeout, and when every connection slot is taken the oldest of them makes
//! room for the newcomer.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use mam_gateway::fix::decode::checksum;
use mam_gateway::fix::session::acceptor::{Acceptor, AcceptorOptions};
use mam_gateway::fix::session::initiator::now_ns;
use mam_gateway::fix::session::{Role, Session, SessionConfig};
use mam_gateway::fix::store::Store;

fn logon() -> Vec<u8> {
    let mut ts = [0u8; mam_gateway::fix::time::TS_LEN];
    mam_gateway::fix::time::format_utc(now_ns(), &mut ts);
    let body = format!(
        "35=A\x0149=MGR\x0156=MAM\x0134=1\x0152={}\x0198=0\x01108=30\x01",
        String::from_utf8_lossy(&ts)
    );
    let mut m = format!("8=FIX.4.4\x019={}\x01{body}", body.len()).into_bytes();
    let ck = checksum(&m);
    m.extend_from_slice(format!("10={ck:03}\x01").as_bytes());
    m
}

fn acceptor(dir: &std::path::Path, max_connections: usize) -> Acceptor {
    let cfg = SessionConfig::new(Role::Acceptor, "MAM", "MGR");
    let s = Session::new(cfg, Store::open(dir).unwrap()).unwrap();
    let opts = AcceptorOptions {
        max_connections,
        ..AcceptorOptions::default()
    };
    Acceptor::bind(vec![s], opts).unwrap()
}

/// Turns the acceptor until `done` or 10 s pass.
fn turn_until(acc: &mut Acceptor, mut done: impl FnMut(&Acceptor) -> bool) {
    let t0 = Instant::now();
    while !done(acc) {
        assert!(t0.elapsed() < Duration::from_secs(10), "gave up");
        acc.turn(now_ns(), Some(Duration::from_millis(5)), &mut |_, _| {})
            .unwrap();
    }
}

#[test]
fn idle_sockets_make_room_for_the_manager() {
    let dir = tempfile::tempdir().unwrap();
    let mut acc = acceptor(dir.path(), 4);
    let addr = acc.local_addr();
    let idle: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(addr).unwrap()).collect();
    turn_until(&mut acc, |a| a.stats().connections == 4);
    // Every slot is taken by a socket that says nothing; the manager still gets in.
    let mut mgr = TcpStream::connect(addr).unwrap();
    mgr.write_all(&logon()).unwrap();
    turn_until(&mut acc, |a| a.session(0).is_active());
    mgr.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut b = [0u8; 512];
    let n = mgr.read(&mut b).unwrap();
    let got = String::from_utf8_lossy(&b[..n]).replace('\x01', "|");
    assert!(got.contains("|35=A|49=MAM|56=MGR|"), "{got}");
    assert_eq!(acc.stats().refused, 1, "one idle socket made room");
    drop(idle);
}

#[test]
fn an_idle_socket_is_closed_after_the_logon_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let mut acc = acceptor(dir.path(), 4);
    let mut s = TcpStream::connect(acc.local_addr()).unwrap();
    let t0 = Instant::now();
    turn_until(&mut acc, |a| a.stats().refused == 1);
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(1_900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut b = [0u8; 16];
    assert!(matches!(s.read(&mut b), Ok(0) | Err(_)), "closed");
}
