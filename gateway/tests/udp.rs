//! UDP transport on loopback: datagram per commit, batched flush, back-pressure, echo.

use std::net::SocketAddr;

use mam_gateway::transport::udp::{UdpConfig, UdpTransport};
use mam_gateway::transport::{Transport, TransportError};

fn pair(cfg: UdpConfig) -> (UdpTransport, UdpTransport) {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let a = UdpTransport::bind(any, cfg).unwrap();
    let b = UdpTransport::bind(any, cfg).unwrap();
    a.set_peer(b.local_addr().unwrap()).unwrap();
    b.set_peer(a.local_addr().unwrap()).unwrap();
    (a, b)
}

/// Polls `t` until `want` datagrams arrived (loopback delivers what was sent; the loop only
/// waits for the kernel to hand them over).
fn recv_n(t: &mut UdpTransport, want: usize) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut idle = 0u64;
    while got.len() < want {
        let n = t.poll(&mut |d| got.push(d.to_vec())).unwrap();
        if n == 0 {
            idle += 1;
            assert!(
                idle < 50_000_000,
                "only {} of {want} datagrams arrived",
                got.len()
            );
            std::thread::yield_now();
        }
    }
    got
}

#[test]
fn one_datagram_per_commit_sent_on_flush() {
    let cfg = UdpConfig {
        max_datagram: 512,
        slots: 8,
        poll_budget: 64,
    };
    let (mut a, mut b) = pair(cfg);
    for i in 0..8u8 {
        let slot = a.claim(100).unwrap();
        slot.fill(i);
        a.commit(10 + usize::from(i)).unwrap(); // shortened commit
    }
    // Arena full: typed, retryable back-pressure; nothing left yet.
    let e = a.claim(1).unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert_eq!(a.queued(), 8);
    assert_eq!(b.poll(&mut |_| panic!("sent before flush")).unwrap(), 0);
    let bytes = a.flush().unwrap();
    assert_eq!(bytes, (10..18).sum::<usize>());
    assert_eq!(a.queued(), 0);
    let got = recv_n(&mut b, 8);
    for (i, d) in got.iter().enumerate() {
        assert_eq!(d, &vec![i as u8; 10 + i]);
    }
    assert!(matches!(
        a.claim(513),
        Err(TransportError::TooLarge { len: 513, max: 512 })
    ));
    a.claim(4).unwrap();
    assert!(matches!(a.claim(4), Err(TransportError::ClaimOpen)));
    a.abort();
    assert_eq!(a.flush().unwrap(), 0);
}

#[test]
fn echo_round_trip_thousands_of_datagrams() {
    let (mut a, mut b) = pair(UdpConfig::default());
    let mut sent = 0u32;
    let mut echoed = 0u32;
    let total = 5_000u32;
    while echoed < total {
        // Keep at most 64 in flight so socket buffers never overflow (UDP would drop).
        while sent < total && sent - echoed < 64 {
            let s = a.claim(8).unwrap();
            s[..4].copy_from_slice(&sent.to_le_bytes());
            s[4..].copy_from_slice(b"ping");
            a.commit(8).unwrap();
            sent += 1;
        }
        a.flush().unwrap();
        let mut back = Vec::new();
        b.poll(&mut |d| back.push(d.to_vec())).unwrap();
        for d in back {
            let s = b.claim(d.len()).unwrap();
            s.copy_from_slice(&d);
            s[4..].copy_from_slice(b"pong");
            b.commit(d.len()).unwrap();
        }
        b.flush().unwrap();
        a.poll(&mut |d| {
            assert_eq!(u32::from_le_bytes(d[..4].try_into().unwrap()), echoed);
            assert_eq!(&d[4..], b"pong");
            echoed += 1;
        })
        .unwrap();
        std::thread::yield_now();
    }
}
