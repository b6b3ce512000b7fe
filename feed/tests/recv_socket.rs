//! Receiver socket features on loopback: TCP length framing, kernel receive timestamps,
//! multicast join, busy polling.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mam_feed::recv::seq::Verdict;
use mam_feed::recv::{MamSbeFraming, TcpReceiver, UdpConfig, UdpReceiver};
use mam_feed::sbe::msg::Quote;
use mam_feed::sbe::{self, PacketBuilder};

const HANG_GUARD: Duration = Duration::from_secs(60);

fn packets(n: u64) -> Vec<Vec<u8>> {
    let mut b = PacketBuilder::new("SOCKTEST", 1, 1472);
    (0..n)
        .map(|i| {
            for k in 0..=(i % 3) {
                b.push(&Quote {
                    time_ns: i * 10 + k,
                    ..Quote::default()
                });
            }
            b.finish()
        })
        .collect()
}

fn quotes(p: &[u8], skip: u64) -> u64 {
    let p = sbe::Packet::parse(p).unwrap();
    p.messages()
        .skip(skip as usize)
        .filter(|m| matches!(sbe::decode(m), Ok(sbe::Message::Quote(_))))
        .count() as u64
}

#[test]
fn tcp_length_framed_stream() {
    let pk = packets(3000);
    let total: u64 = pk.iter().map(|p| quotes(p, 0)).sum();
    let lost = quotes(&pk[1500], 0);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let pk2 = pk.clone();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut out = Vec::new();
        for (i, p) in pk2.iter().enumerate() {
            let copies = match i {
                1500 => 0, // lost
                10 => 2,   // duplicated
                _ => 1,
            };
            for _ in 0..copies {
                out.extend_from_slice(&(p.len() as u16).to_le_bytes());
                out.extend_from_slice(p);
            }
        }
        // A packet whose header lies (3 messages announced, 1 present): refused, not sequenced.
        let mut liar = pk2[0].clone();
        liar[18] = 3;
        out.extend_from_slice(&(liar.len() as u16).to_le_bytes());
        out.extend_from_slice(&liar);
        // Write in odd-sized pieces so frames straddle reads.
        for chunk in out.chunks(777) {
            s.write_all(chunk).unwrap();
        }
    });
    let mut r = TcpReceiver::connect(addr, MamSbeFraming).unwrap();
    let (mut got, mut gaps) = (0u64, 0u64);
    let t0 = Instant::now();
    while !r.is_closed() {
        assert!(t0.elapsed() < HANG_GUARD, "hung: {:?}", r.stats());
        r.poll(Some(Duration::from_millis(50)), &mut |d| {
            got += quotes(d.payload, d.skip);
            gaps += u64::from(matches!(d.verdict, Verdict::Gap { .. }));
        })
        .unwrap();
    }
    server.join().unwrap();
    let st = r.stats();
    assert_eq!(got, total - lost);
    assert_eq!((gaps, st.seq.gaps, st.seq.missing), (1, 1, lost));
    assert_eq!(st.seq.duplicate_packets, 1);
    assert_eq!(st.packets, 3001);
    assert_eq!(st.unframed, 1);
}

fn receive_n(
    r: &mut UdpReceiver<MamSbeFraming>,
    n: u64,
    mut on: impl FnMut(&mam_feed::recv::Delivered<'_>),
) {
    let t0 = Instant::now();
    while r.stats().packets < n {
        assert!(t0.elapsed() < HANG_GUARD, "hung: {:?}", r.stats());
        r.poll(Some(Duration::from_millis(20)), &mut on).unwrap();
    }
}

#[test]
fn kernel_receive_timestamps() {
    let mut cfg = UdpConfig::unicast("127.0.0.1:0".parse().unwrap());
    cfg.kernel_timestamps = true;
    let mut r = UdpReceiver::bind(&cfg, MamSbeFraming).unwrap();
    let to = r.local_addr().unwrap();
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let pk = packets(50);
    for p in &pk {
        s.send_to(p, to).unwrap();
    }
    let mut stamps = Vec::new();
    receive_n(&mut r, 50, |d| stamps.push((d.recv_ns, d.kernel_ns)));
    let after = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    assert_eq!(stamps.len(), 50);
    for w in stamps.windows(2) {
        assert!(w[0].0 <= w[1].0, "monotonic receive stamps");
    }
    for (_, k) in &stamps {
        let k = k.expect("SO_TIMESTAMPNS stamp on every datagram");
        assert!(
            k >= before && k <= after,
            "kernel stamp {k} within the send window"
        );
    }
}

#[test]
fn multicast_join_on_loopback() {
    let group = Ipv4Addr::new(239, 255, 77, 1);
    let mut cfg = UdpConfig::unicast("0.0.0.0:0".parse().unwrap());
    cfg.multicast = Some((group, Ipv4Addr::LOCALHOST));
    let mut r = UdpReceiver::bind(&cfg, MamSbeFraming).unwrap();
    let port = r.local_addr().unwrap().port();
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    s.set_multicast_if_v4(&Ipv4Addr::LOCALHOST).unwrap();
    s.set_multicast_loop_v4(true).unwrap();
    s.set_multicast_ttl_v4(0).unwrap(); // never leaves the host
    let to: SocketAddr = (group, port).into();
    let pk = packets(40);
    for p in &pk {
        s.send_to(p, &to.into()).unwrap();
    }
    let mut n = 0;
    receive_n(&mut r, 40, |d| n += quotes(d.payload, d.skip));
    assert_eq!(n, pk.iter().map(|p| quotes(p, 0)).sum::<u64>());
    assert_eq!(r.stats().seq.gaps, 0);
}

#[test]
fn busy_poll_is_set_or_refused_for_lack_of_privilege() {
    let mut cfg = UdpConfig::unicast("127.0.0.1:0".parse().unwrap());
    cfg.busy_poll_us = Some(50);
    match UdpReceiver::bind(&cfg, MamSbeFraming) {
        Ok(mut r) => {
            let to = r.local_addr().unwrap();
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            for p in packets(5) {
                s.send_to(&p, to).unwrap();
            }
            receive_n(&mut r, 5, |_| {});
            assert_eq!(
                r.stats().seq.messages,
                (0..5).map(|i| i % 3 + 1).sum::<u64>()
            );
        }
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}"),
    }
}

#[test]
fn large_receive_buffer_is_granted() {
    // Linux reports twice the usable size; without CAP_NET_ADMIN it caps at net.core.rmem_max.
    let cap: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(usize::MAX / 4);
    let r = UdpReceiver::bind(
        &UdpConfig::unicast("127.0.0.1:0".parse().unwrap()),
        MamSbeFraming,
    )
    .unwrap();
    assert!(
        r.recv_buffer() >= 2 * cap.min(8 << 20),
        "granted {} (rmem_max {cap})",
        r.recv_buffer()
    );
}
