//! `TcpTransport` with readiness tracking: no read once one would block, until marked.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use mam_gateway::transport::tcp::{TcpOptions, TcpTransport};

/// Our transport, the peer's end, and a second handle on our socket (to see what waits in it
/// without taking it).
fn pair() -> (TcpTransport, TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (ours, _) = l.accept().unwrap();
    ours.set_nonblocking(true).unwrap();
    let look = ours.try_clone().unwrap();
    let t = TcpTransport::new(mio::net::TcpStream::from_std(ours), TcpOptions::default()).unwrap();
    (t, peer, look)
}

/// Waits until `n` bytes wait in the socket (peeked, not taken), or 5 s pass.
fn wait_for_bytes(look: &TcpStream, n: usize) {
    let mut buf = [0u8; 64];
    let by = Instant::now() + Duration::from_secs(5);
    while look.peek(&mut buf).unwrap_or(0) < n {
        assert!(Instant::now() < by, "the peer's bytes never arrived");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Reads until `want` bytes came (the loopback may deliver in pieces) or 5 s pass.
fn read_all(t: &mut TcpTransport, want: usize) -> usize {
    let mut buf = [0u8; 64];
    let mut got = 0;
    let by = Instant::now() + Duration::from_secs(5);
    while got < want && Instant::now() < by {
        got += t.recv_into(&mut buf).unwrap();
        t.mark_readable();
    }
    got
}

#[test]
fn a_tracked_socket_is_read_only_after_it_is_marked() {
    let (mut t, mut peer, look) = pair();
    t.track_readiness();
    let mut buf = [0u8; 64];
    // Ready at first; the read finds nothing and clears it.
    assert_eq!(t.recv_into(&mut buf).unwrap(), 0);
    peer.write_all(b"hello").unwrap();
    wait_for_bytes(&look, 5);
    // Bytes wait in the socket, but nobody said so: no read.
    assert_eq!(t.recv_into(&mut buf).unwrap(), 0);
    assert_eq!(t.stats().bytes_received, 0);
    t.mark_readable();
    assert_eq!(read_all(&mut t, 5), 5);
    assert_eq!(t.stats().bytes_received, 5);
}

#[test]
fn an_untracked_socket_reads_every_time() {
    let (mut t, mut peer, look) = pair();
    let mut buf = [0u8; 64];
    assert_eq!(t.recv_into(&mut buf).unwrap(), 0);
    peer.write_all(b"hello").unwrap();
    wait_for_bytes(&look, 5);
    // Untracked: the bytes are read without any mark.
    assert_eq!(t.recv_into(&mut buf).unwrap(), 5);
}
