//! SoupBinTCP over real loopback sockets: a capture served and received whole and in order,
//! resumed after a client disconnect and after a server restart with no loss and no
//! duplicate, malformed bytes from a fake server, refused logins, requested-sequence edges.

mod soup_util;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use mam_feed::soup::codec::{alpha, Packet, RejectReason};
use mam_feed::soup::{ClientConfig, ClientEvent, ServerConfig, SoupClient, SoupServer};
use soup_util::{drive, read_login, small_capture, spawn_server, Got};

#[test]
fn capture_splits_into_one_message_packets() {
    let (_dir, msgs) = small_capture(300, 7, 0);
    assert_eq!(msgs.messages.len(), 300);
    assert_eq!(msgs.session_name().as_deref(), Some("TEST"));
    for (k, m) in msgs.messages.iter().enumerate() {
        let p = mam_feed::sbe::Packet::parse(&m.bytes).unwrap();
        assert_eq!(p.header.count, 1);
        assert_eq!(
            p.header.seq,
            k as u64 + 1,
            "packet header seq = message seq"
        );
    }
}

#[test]
fn full_stream_is_delivered_in_order() {
    let (_dir, msgs) = small_capture(2_000, 5, 0);
    let all: Vec<Vec<u8>> = msgs.messages.iter().map(|m| m.bytes.clone()).collect();
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    cfg.session = "TEST".into();
    cfg.max_clients = Some(1);
    let (addr, server) = spawn_server(cfg, msgs.messages);
    let mut c = SoupClient::connect(ClientConfig::new(addr), 1).unwrap();
    let mut got = Got::default();
    drive(&mut c, &mut got, usize::MAX, |g, c| c.ended() && g.ended);
    assert_eq!(got.login, Some((alpha("TEST"), 1)));
    assert_eq!(got.seqs, (1..=2_000).collect::<Vec<u64>>());
    assert_eq!(got.data, all);
    c.logout();
    assert!(c.is_closed());
    let st = server.join().unwrap().unwrap();
    assert_eq!((st.logins, st.served, st.logouts), (1, 1, 1));
    assert_eq!(st.messages, 2_000);
    assert_eq!(st.end_of_session, 1);
    assert_eq!(c.stats().malformed, 0);
}

#[test]
fn reconnecting_client_gets_exactly_the_rest() {
    let (_dir, msgs) = small_capture(1_500, 3, 0);
    let all: Vec<Vec<u8>> = msgs.messages.iter().map(|m| m.bytes.clone()).collect();
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    cfg.max_clients = Some(2);
    let (addr, server) = spawn_server(cfg, msgs.messages);
    // First life: take 600 messages, then vanish without logging out (a crash).
    let mut a = SoupClient::connect(ClientConfig::new(addr), 1).unwrap();
    let mut first = Got::default();
    drive(&mut a, &mut first, 1, |g, _| g.seqs.len() >= 600);
    assert_eq!(first.seqs.len(), 600);
    let resume = first.seqs.last().unwrap() + 1;
    assert_eq!(a.next_seq(), resume);
    drop(a);
    // Second life asks for 601.
    let mut b = SoupClient::connect(ClientConfig::new(addr), resume).unwrap();
    let mut rest = Got::default();
    drive(&mut b, &mut rest, usize::MAX, |g, _| g.ended);
    assert_eq!(rest.login.map(|l| l.1), Some(601));
    let seqs: Vec<u64> = first.seqs.iter().chain(&rest.seqs).copied().collect();
    assert_eq!(
        seqs,
        (1..=1_500).collect::<Vec<u64>>(),
        "no loss, no duplicate"
    );
    let data: Vec<Vec<u8>> = first.data.into_iter().chain(rest.data).collect();
    assert_eq!(data, all);
    b.logout();
    let st = server.join().unwrap().unwrap();
    assert_eq!((st.logins, st.served, st.logouts), (2, 2, 1));
}

#[test]
fn client_resumes_across_a_server_restart() {
    // Paced at 1x, 10 ms apart: the first server has sent only part of the day when stopped.
    let (_dir, msgs) = small_capture(2_000, 1, 10_000_000);
    let all: Vec<Vec<u8>> = msgs.messages.iter().map(|m| m.bytes.clone()).collect();
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    cfg.speed = "1x".parse().unwrap();
    let s1 = SoupServer::bind(cfg.clone(), msgs.messages.clone()).unwrap();
    let addr = s1.local_addr().unwrap();
    let stop1 = s1.stop_handle();
    let mut s1 = s1;
    let h1 = thread::spawn(move || s1.run());
    let mut ccfg = ClientConfig::new(addr);
    ccfg.backoff_min = Duration::from_millis(10);
    ccfg.backoff_max = Duration::from_millis(100);
    let mut c = SoupClient::connect(ccfg, 1).unwrap();
    let mut got = Got::default();
    drive(&mut c, &mut got, 1, |g, _| g.seqs.len() >= 50);
    stop1.stop();
    h1.join().unwrap().unwrap();
    // Whatever the first server wrote is still delivered, then the client sees the loss.
    drive(&mut c, &mut got, usize::MAX, |g, _| {
        g.disconnects > 0 || g.ended
    });
    assert!(
        !got.ended,
        "the first server should not have reached the end"
    );
    // The same port again, flat out this time.
    cfg.addr = addr;
    cfg.speed = mam_feed::replay::Speed::Max;
    cfg.max_clients = Some(1);
    let (_, h2) = spawn_server(cfg, msgs.messages);
    drive(&mut c, &mut got, usize::MAX, |g, _| g.ended);
    assert_eq!(
        got.seqs,
        (1..=2_000).collect::<Vec<u64>>(),
        "no loss, no duplicate"
    );
    assert_eq!(got.data, all);
    assert!(c.stats().reconnects >= 1, "{:?}", c.stats());
    assert_eq!(c.stats().logins, 2);
    c.logout();
    h2.join().unwrap().unwrap();
}

/// A fake server: accepts, reads the Login Request, writes `script`, keeps the socket open
/// until the client closes.
fn fake_server(scripts: Vec<Vec<u8>>) -> (std::net::SocketAddr, thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let h = thread::spawn(move || {
        for script in scripts {
            let (mut s, _) = l.accept().unwrap();
            read_login(&mut s);
            s.write_all(&script).unwrap();
            let mut buf = [0u8; 512];
            // Until the client goes (reads fail or return 0).
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
        }
    });
    (addr, h)
}

fn wire(ps: &[Packet<'_>]) -> Vec<u8> {
    let mut v = Vec::new();
    for p in ps {
        p.encode(&mut v).unwrap();
    }
    v
}

#[test]
fn malformed_packets_from_the_server_are_counted_and_skipped() {
    let mut script = wire(&[
        Packet::LoginAccepted {
            session: alpha("FAKE"),
            seq: 1,
        },
        Packet::SequencedData(b"one"),
    ]);
    script.extend_from_slice(&[0, 3, b'?', 1, 2]); // unknown type
    script.extend_from_slice(&[0, 0]); // length 0
    script.extend_from_slice(&[0, 2, b'H', 9]); // heartbeat with a payload
    script.extend(wire(&[
        Packet::ServerHeartbeat,
        Packet::SequencedData(b"two"),
        Packet::EndOfSession,
    ]));
    let (addr, h) = fake_server(vec![script]);
    let mut c = SoupClient::connect(ClientConfig::new(addr), 1).unwrap();
    let mut got = Got::default();
    drive(&mut c, &mut got, usize::MAX, |g, _| g.ended);
    assert_eq!(got.seqs, vec![1, 2]);
    assert_eq!(got.data, vec![b"one".to_vec(), b"two".to_vec()]);
    assert_eq!(c.stats().malformed, 3);
    assert_eq!(c.stats().server_heartbeats, 1);
    assert!(
        c.last_error().unwrap().contains("Server Heartbeat"),
        "{:?}",
        c.last_error()
    );
    c.logout();
    h.join().unwrap();
}

#[test]
fn a_malformed_login_accepted_ends_that_session_and_the_client_retries() {
    let mut bad = vec![0, 31, b'A'];
    bad.extend_from_slice(b"FAKE      ");
    bad.extend_from_slice(b"        not-a-number");
    let good = wire(&[
        Packet::LoginAccepted {
            session: alpha("FAKE"),
            seq: 1,
        },
        Packet::SequencedData(b"m1"),
        Packet::EndOfSession,
    ]);
    let (addr, h) = fake_server(vec![bad, good]);
    let mut cfg = ClientConfig::new(addr);
    cfg.backoff_min = Duration::from_millis(10);
    let mut c = SoupClient::connect(cfg, 1).unwrap();
    let mut got = Got::default();
    drive(&mut c, &mut got, usize::MAX, |g, _| g.disconnects > 0);
    let e = c.last_error().unwrap().to_string();
    assert!(
        e.contains("Login Accepted") && e.contains("not-a-number"),
        "{e}"
    );
    drive(&mut c, &mut got, usize::MAX, |g, _| g.ended);
    assert_eq!(got.seqs, vec![1]);
    assert_eq!((c.stats().malformed, c.stats().reconnects), (1, 1));
    c.logout();
    h.join().unwrap();
}

#[test]
fn logins_are_refused_on_bad_password_or_unknown_session() {
    let (_dir, msgs) = small_capture(10, 1, 0);
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    cfg.session = "S1".into();
    cfg.username = Some("mam".into());
    cfg.password = Some("pw".into());
    cfg.max_clients = Some(1);
    let (addr, server) = spawn_server(cfg, msgs.messages);
    let login = |user: &str, pw: &str, session: &str| {
        let mut cc = ClientConfig::new(addr);
        (cc.username, cc.password, cc.session) = (user.into(), pw.into(), session.into());
        let mut c = SoupClient::connect(cc, 1).unwrap();
        let mut got = Got::default();
        drive(&mut c, &mut got, usize::MAX, |g, c| {
            g.ended || c.is_closed()
        });
        (c, got)
    };
    let (c, got) = login("mam", "wrong", "");
    assert_eq!(got.rejected, Some(RejectReason::NotAuthorized));
    assert!(c.is_closed() && got.seqs.is_empty());
    assert_eq!(c.stats().rejected, 1);
    let (_, got) = login("mam", "pw", "S2");
    assert_eq!(got.rejected, Some(RejectReason::SessionNotAvailable));
    let (mut c, got) = login("mam", "pw", "S1");
    assert_eq!(got.seqs.len(), 10);
    c.logout();
    let st = server.join().unwrap().unwrap();
    assert_eq!((st.rejected, st.served), (2, 1));
}

#[test]
fn requested_sequence_zero_and_past_the_end_start_at_the_end() {
    let (_dir, msgs) = small_capture(20, 1, 0);
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    cfg.max_clients = Some(3);
    let (addr, server) = spawn_server(cfg, msgs.messages);
    for (ask, first, n) in [(0, 21, 0), (500, 21, 0), (15, 15, 6)] {
        let mut c = SoupClient::connect(ClientConfig::new(addr), ask).unwrap();
        let mut got = Got::default();
        drive(&mut c, &mut got, usize::MAX, |g, _| g.ended);
        assert_eq!(got.login.map(|l| l.1), Some(first), "asked {ask}");
        assert_eq!(got.seqs.len(), n, "asked {ask}");
        if ask == 0 {
            assert_eq!(c.next_seq(), 21);
        }
        // A gap is reported only when the server starts after what was asked.
        assert_eq!(got.gaps, 0);
        c.logout();
    }
    assert_eq!(server.join().unwrap().unwrap().served, 3);
}

#[test]
fn client_events_reach_the_callback() {
    // The event enum is the client's whole interface; check LoggedIn precedes data.
    let (_dir, msgs) = small_capture(3, 1, 0);
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    cfg.max_clients = Some(1);
    let (addr, server) = spawn_server(cfg, msgs.messages);
    let mut c = SoupClient::connect(ClientConfig::new(addr), 1).unwrap();
    let mut kinds = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !c.ended() {
        assert!(std::time::Instant::now() < deadline, "no End of Session");
        c.poll(usize::MAX, Duration::from_millis(20), &mut |e| {
            kinds.push(match e {
                ClientEvent::LoggedIn { .. } => 'L',
                ClientEvent::Data { .. } => 'D',
                ClientEvent::EndOfSession => 'Z',
                _ => '?',
            })
        })
        .unwrap();
    }
    assert_eq!(kinds.iter().collect::<String>(), "LDDDZ");
    c.logout();
    server.join().unwrap().unwrap();
}

#[test]
fn both_sides_heartbeat_when_idle() {
    // Two packets 300 ms apart at 1x, heartbeats every 20 ms: idle time is certain, its
    // length is not measured.
    let (_dir, msgs) = small_capture(2, 1, 300_000_000);
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    cfg.speed = "1x".parse().unwrap();
    cfg.heartbeat = Duration::from_millis(20);
    cfg.max_clients = Some(1);
    let (addr, server) = spawn_server(cfg, msgs.messages);
    let mut cc = ClientConfig::new(addr);
    cc.heartbeat = Duration::from_millis(20);
    let mut c = SoupClient::connect(cc, 1).unwrap();
    let mut got = Got::default();
    drive(&mut c, &mut got, usize::MAX, |g, _| g.ended);
    assert_eq!(got.seqs, vec![1, 2]);
    assert!(c.stats().server_heartbeats > 0, "{:?}", c.stats());
    assert!(c.stats().heartbeats_sent > 0, "{:?}", c.stats());
    c.logout();
    let st = server.join().unwrap().unwrap();
    assert!(st.heartbeats > 0 && st.client_heartbeats > 0, "{st:?}");
}
