//! The AF_XDP transport against a real kernel: a veth pair between two fresh network
//! namespaces (`xdp_util.rs`), the XSK (copy mode; generic or driver XDP attach) on one end, a
//! plain UDP socket on the other, and real datagrams both ways.
//!
//! Needs root (CAP_NET_RAW, CAP_NET_ADMIN, CAP_BPF) and iproute2's `ip`: without them the
//! tests FAIL, unless `MAM_SKIP_XDP=1` says to skip them. The measurements against mio UDP are
//! in `xdp_bench.rs`.
#![cfg(target_os = "linux")]

#[path = "xdp_util.rs"]
mod xdp_util;

use std::io::ErrorKind;
use std::time::Instant;

use mam_core::num::{Price, Qty};
use mam_feed::sbe::msg::Quote;
use mam_feed::sbe::stream::PacketStream;
use mam_gateway::binary::codec::{self, Message};
use mam_gateway::transport::xdp::XdpAttach;
use mam_gateway::transport::{Transport, TransportError};
use xdp_util::{open_xdp, order, privileged, xdp_attached, Veth, PATIENCE};

/// Market data in: SBE packets made by the feed's encoder, sent by a plain UDP socket, arrive
/// through AF_XDP intact and in order. Orders out: binary order-entry messages encoded straight
/// into claimed UMEM frames arrive at the UDP socket intact and in order.
#[test]
fn sbe_in_and_orders_out_generic_attach() {
    if privileged() {
        sbe_market_data_in_and_binary_orders_out(XdpAttach::Generic);
    }
}

/// The same with the program in veth's native (driver) XDP path, its NAPI poll: still copy
/// mode (veth has no zero-copy).
#[test]
fn sbe_in_and_orders_out_driver_attach() {
    if privileged() {
        sbe_market_data_in_and_binary_orders_out(XdpAttach::Driver);
    }
}

fn sbe_market_data_in_and_binary_orders_out(attach: XdpAttach) {
    let net = Veth::create();
    let mut xsk = open_xdp(&net, net.xdp_config(7000, 7001, attach));
    assert_eq!(xdp_attached(&net.ns_a, &net.if_a), Some(attach));
    let peer = net.peer(7001, 7000);
    peer.set_nonblocking(true).unwrap();

    // In: 3000 quotes in packets of at most 400 bytes, 32 packets in flight at a time.
    let quotes = (0..3000u64).map(|i| Quote {
        time_ns: 1_700_000_000_000_000_000 + i,
        instrument: (i % 7) as u32,
        lp: (i % 3) as u16,
        bid: Some(Price::from_raw(1_085_000_000 + i as i64)),
        ask: Some(Price::from_raw(1_085_000_020 + i as i64)),
        bid_size: Some(Qty::from_raw(1_000_000)),
        ask_size: Some(Qty::from_raw(2_000_000)),
        ..Quote::default()
    });
    let stream = PacketStream::from_quotes(quotes, 400);
    let sent: Vec<&[u8]> = stream
        .packets
        .iter()
        .map(|&(at, len)| &stream.bytes[at..at + len])
        .collect();
    let mut got: Vec<Vec<u8>> = Vec::new();
    for chunk in sent.chunks(32) {
        for p in chunk {
            peer.send(p).expect("peer send");
        }
        let want = got.len() + chunk.len();
        let deadline = Instant::now() + PATIENCE;
        while got.len() < want {
            xsk.poll(&mut |p| got.push(p.to_vec())).expect("poll");
            assert!(
                Instant::now() < deadline,
                "{} of {} SBE packets arrived over AF_XDP ({} frames ignored)",
                got.len(),
                sent.len(),
                xsk.ignored()
            );
        }
    }
    assert_eq!(got.len(), sent.len());
    for (i, (g, s)) in got.iter().zip(&sent).enumerate() {
        assert_eq!(g.as_slice(), *s, "SBE packet {i} differs");
    }
    let mut back = PacketStream::default();
    for g in &got {
        back.packets.push((back.bytes.len(), g.len()));
        back.bytes.extend_from_slice(g);
    }
    assert_eq!(back.decode_quotes(), stream.decode_quotes());
    assert_eq!(back.decode_quotes().quotes, 3000);

    // Out: 2000 orders and cancels, encoded in place into claimed frames, 32 per flush.
    let total = 2000u64;
    let mut expected = Vec::new();
    let mut buf = [0u8; codec::MAX_MESSAGE_LEN];
    for i in 0..total {
        let n = order(i).encode(i + 1, &mut buf).unwrap();
        expected.push(buf[..n].to_vec());
    }
    let mut received: Vec<Vec<u8>> = Vec::new();
    let mut rx = [0u8; 2048];
    let mut next = 0u64;
    let deadline = Instant::now() + PATIENCE;
    while (received.len() as u64) < total {
        let batch_end = (next + 32).min(total);
        while next < batch_end {
            let m = order(next);
            match xsk.claim(m.encoded_len()) {
                Ok(slot) => {
                    let n = m.encode(next + 1, slot).expect("encode into the frame");
                    xsk.commit(n).expect("commit");
                    next += 1;
                }
                Err(e) if e.is_retryable() => break,
                Err(e) => panic!("claim: {e}"),
            }
        }
        xsk.flush().expect("flush");
        xsk.poll(&mut |_| {}).expect("poll completions");
        loop {
            match peer.recv(&mut rx) {
                Ok(n) => received.push(rx[..n].to_vec()),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("peer recv: {e}"),
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} of {total} orders arrived from AF_XDP ({next} committed)",
            received.len()
        );
    }
    assert_eq!(received.len(), expected.len());
    for (i, (r, e)) in received.iter().zip(&expected).enumerate() {
        assert_eq!(r, e, "order {i} differs");
        let (Message::App(v), n) = codec::decode(r).expect("decodes") else {
            panic!("order {i} is not an application message");
        };
        assert_eq!((v.seq_no(), n), (i as u64 + 1, r.len()));
    }
    assert_eq!(
        xsk.ignored(),
        0,
        "only the flow's datagrams reach the socket"
    );

    // A datagram to our port from another port of the peer's host reaches the socket (the
    // program filters on the destination port) but is not the flow's: counted, not delivered.
    let stranger = net.peer(7002, 7000);
    stranger.send(b"not from the peer's port").unwrap();
    let deadline = Instant::now() + PATIENCE;
    while xsk.ignored() == 0 {
        let n = xsk.poll(&mut |p| panic!("delivered a stranger's {} bytes", p.len()));
        assert_eq!(n.unwrap(), 0);
        assert!(
            Instant::now() < deadline,
            "the stranger's datagram never came"
        );
    }
    drop(xsk);
    assert!(
        xdp_attached(&net.ns_a, &net.if_a).is_none(),
        "dropping the transport detaches its program"
    );
}

/// Claims beyond the free TX frames are refused with a retryable `WouldBlock`; an open claim
/// refuses another; an oversized one is `TooLarge`; after flush + poll the frames come back and
/// every committed datagram arrives.
#[test]
fn out_of_frames_is_would_block_and_flush_poll_frees_them() {
    if !privileged() {
        return;
    }
    let net = Veth::create();
    let mut cfg = net.xdp_config(7010, 7011, XdpAttach::Generic);
    cfg.frames = 256;
    let mut xsk = open_xdp(&net, cfg);
    let peer = net.peer(7011, 7010);
    peer.set_nonblocking(true).unwrap();

    let max = xsk.max_payload();
    assert!(matches!(
        xsk.claim(max + 1),
        Err(TransportError::TooLarge { len, max: m }) if len == max + 1 && m == max
    ));
    xsk.claim(8).unwrap();
    assert!(matches!(xsk.claim(8), Err(TransportError::ClaimOpen)));
    xsk.abort();

    let mut committed = 0u32;
    let err = loop {
        match xsk.claim(64) {
            Ok(slot) => {
                slot.fill(committed as u8);
                slot[..4].copy_from_slice(&committed.to_le_bytes());
                xsk.commit(64).unwrap();
                committed += 1;
            }
            Err(e) => break e,
        }
    };
    assert!(matches!(err, TransportError::WouldBlock { needed: 64 }));
    assert!(err.is_retryable());
    assert_eq!(committed, 128, "half of the 256 frames transmit");
    assert_eq!(xsk.in_flight(), 128);

    let mut seen = Vec::new();
    let mut rx = [0u8; 2048];
    let deadline = Instant::now() + PATIENCE;
    while seen.len() < committed as usize || xsk.in_flight() > 0 {
        xsk.flush().unwrap();
        xsk.poll(&mut |_| {}).unwrap();
        while let Ok(n) = peer.recv(&mut rx) {
            assert_eq!(n, 64);
            seen.push(u32::from_le_bytes(rx[..4].try_into().unwrap()));
        }
        assert!(
            Instant::now() < deadline,
            "{} of {committed} arrived, {} in flight",
            seen.len(),
            xsk.in_flight()
        );
    }
    assert_eq!(seen, (0..committed).collect::<Vec<_>>());
    xsk.send(b"again").expect("frames are free again");
}
