//! The live feed stage run by the core's pipeline runner (shared mode): UDP datagrams of the
//! mam SBE feed on loopback become MarketEvents on the engine's ring, gaps included.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use mam_core::event::MarketEventKind;
use mam_core::num::Price;
use mam_core::pipeline::idle::IdleStrategy;
use mam_core::pipeline::ring::{ring, ConflatingTx};
use mam_core::pipeline::runner::{Pipeline, RunnerConfig, ThreadingMode};
use mam_feed::fxbook::FxBooks;
use mam_feed::recv::{MamSbeFraming, UdpConfig, UdpReceiver, UdpSbeStage};
use mam_feed::sbe::msg::Quote;
use mam_feed::sbe::PacketBuilder;

#[test]
fn stage_turns_datagrams_into_ring_events() {
    let rx = UdpReceiver::bind(
        &UdpConfig::unicast("127.0.0.1:0".parse().unwrap()),
        MamSbeFraming,
    )
    .unwrap();
    let to = rx.local_addr().unwrap();
    // A ring larger than everything sent: nothing conflates, every event arrives.
    let (tx, mut out, _stats) = ring(1 << 14);
    let stage = UdpSbeStage::new(rx, FxBooks::new(32), ConflatingTx::new(tx, 16));
    let cfg = RunnerConfig {
        mode: ThreadingMode::Shared,
        idle: vec![IdleStrategy::Yield],
        pin: false,
    };
    let p = Pipeline::start(vec![Box::new(stage)], &cfg).unwrap();

    let mut b = PacketBuilder::new("STAGE", 1, 1472);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (mut quotes, mut lost) = (0u64, 0u64);
    let (mut q, mut gaps, mut gap_seqs) = (0u64, 0u64, Vec::new());
    let t0 = Instant::now();
    // Takes what the stage has put on the ring, until `done` holds (a 60 s guard, not a timing
    // assertion: the sender waits for the receiver, so a loaded machine only runs slower).
    let mut drain_until = |done: &dyn Fn(u64, u64) -> bool, sent: u64| {
        while !done(q, gaps) {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "stalled at {q}/{sent} quotes, {gaps} gaps"
            );
            match out.pop() {
                Some(e) if e.kind == MarketEventKind::Quote as u8 => q += 1,
                Some(e) if e.kind == MarketEventKind::Gap as u8 => {
                    gaps += 1;
                    gap_seqs.push(e.seq);
                }
                Some(_) => {}
                None => std::thread::yield_now(),
            }
        }
    };
    for i in 0..1000u64 {
        for k in 0..(1 + i % 3) {
            b.push(&Quote {
                time_ns: i * 1000 + k,
                instrument: (i % 4) as u32,
                lp: 1,
                bid: Some(Price(100_000 + i as i64)),
                ask: Some(Price(100_020 + i as i64)),
                ..Quote::default()
            });
        }
        let n = u64::from(b.len());
        let pkt = b.finish();
        if i == 500 || i == 501 || i == 700 {
            lost += n; // dropped on purpose
            continue;
        }
        quotes += n;
        sock.send_to(&pkt, to).unwrap();
        if i % 32 == 31 {
            // Flow control instead of sleeps: the socket buffer never holds more than 32
            // datagrams, however slowly the stage's thread is scheduled.
            let sent = quotes;
            drain_until(&|q, _| q >= sent, sent);
        }
    }
    let sent = quotes;
    drain_until(&|q, g| q >= sent && g >= 2, sent);
    let stages = p.stop().unwrap();
    assert_eq!(stages.len(), 1);
    assert_eq!((q, gaps), (quotes, 2));
    assert!(lost > 0);
    // The gaps start where the dropped packets' messages did: after packets 0..500 and 0..700.
    let first = |n: u64| 1 + (0..n).map(|i| 1 + i % 3).sum::<u64>();
    assert_eq!(gap_seqs, vec![first(500), first(700)]);
}
