//! A SoupBinTCP server that comes back in a new session, or numbering its session from 1
//! again, is a reset: the client delivers the new space instead of dropping it as duplicates,
//! and still finds a gap in it.

mod soup_util;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use mam_feed::soup::codec::{alpha, Packet};
use mam_feed::soup::{ClientConfig, SoupClient};
use soup_util::{drive, read_login, Got};

/// Serves one script per connection: reads the Login Request, writes the script, ends the
/// connection (all but the last) and waits for the client to go. Returns the
/// sequence numbers the client asked for.
fn server(scripts: Vec<Vec<u8>>) -> (std::net::SocketAddr, thread::JoinHandle<Vec<u64>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let h = thread::spawn(move || {
        let mut asked = Vec::new();
        let last = scripts.len() - 1;
        for (i, script) in scripts.into_iter().enumerate() {
            let (mut s, _) = l.accept().unwrap();
            asked.push(read_login(&mut s));
            s.write_all(&script).unwrap();
            let mut buf = [0u8; 512];
            if i < last {
                // End the connection with a FIN, not a reset that could discard the script:
                // the client reads it all, sees the end and reconnects.
                s.shutdown(std::net::Shutdown::Write).unwrap();
            }
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
        }
        asked
    });
    (addr, h)
}

fn script(session: &str, seq: u64, data: &[&'static [u8]], end: bool) -> Vec<u8> {
    let mut ps = vec![Packet::LoginAccepted {
        session: alpha(session),
        seq,
    }];
    ps.extend(data.iter().map(|d| Packet::SequencedData(d)));
    if end {
        ps.push(Packet::EndOfSession);
    }
    let mut v = Vec::new();
    for p in &ps {
        p.encode(&mut v).unwrap();
    }
    v
}

fn run(scripts: Vec<Vec<u8>>) -> (Got, SoupClient, Vec<u64>) {
    let (addr, h) = server(scripts);
    let mut cfg = ClientConfig::new(addr);
    cfg.backoff_min = Duration::from_millis(10);
    let mut c = SoupClient::connect(cfg, 1).unwrap();
    let mut got = Got::default();
    drive(&mut c, &mut got, usize::MAX, |g, _| g.ended);
    c.logout();
    let asked = h.join().unwrap();
    (got, c, asked)
}

#[test]
fn a_new_session_after_a_reconnect_is_a_reset() {
    let old: Vec<&'static [u8]> = vec![b"o1", b"o2", b"o3", b"o4"];
    let (got, c, asked) = run(vec![
        script("DAY1", 1, &old, false),
        // the restarted server: a new session from 1
        script("DAY2", 1, &[b"n1", b"n2"], false),
        // a reconnect in the new space that the server starts after what was asked: a gap
        script("DAY2", 5, &[b"n5"], true),
    ]);
    assert_eq!(asked, [1, 5, 3]);
    assert_eq!(got.seqs, [1, 2, 3, 4, 1, 2, 5]);
    let st = c.stats();
    assert_eq!((st.resets, st.gaps, st.missing), (1, 1, 2));
    assert_eq!((st.messages, st.duplicates), (7, 0));
    assert_eq!((got.resets, got.gaps), (1, 1));
}

#[test]
fn the_same_session_numbered_from_1_again_is_a_reset() {
    let (got, c, _) = run(vec![
        script("DAY1", 1, &[b"a", b"b", b"c"], false),
        script("DAY1", 1, &[b"x", b"y"], true),
    ]);
    assert_eq!(got.data.len(), 5);
    assert_eq!(got.data[3..], [b"x".to_vec(), b"y".to_vec()]);
    assert_eq!((c.stats().resets, c.stats().duplicates), (1, 0));
}
