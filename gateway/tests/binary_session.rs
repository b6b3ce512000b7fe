//! Binary order-entry sessions over the shared-memory ring and over UDP on loopback: orders
//! and execution reports, back-pressure, loss with replay from the store, restarts, fuzzing.

use std::net::SocketAddr;
use std::path::Path;

use mam_core::event::{ExecStatus, OrdType, Side};
use mam_core::num::{Price, Qty};
use mam_gateway::binary::codec::{AppMessage, ExecutionReport, NewOrder, Template};
use mam_gateway::binary::session::termination::CLOCK_SKEW;
use mam_gateway::binary::session::{Role, Session, SessionConfig, State};
use mam_gateway::binary::store::SeqStore;
use mam_gateway::transport::shm;
use mam_gateway::transport::udp::{UdpConfig, UdpTransport};
use mam_gateway::transport::Transport;
use proptest::prelude::*;

const SID: u64 = 0xC0FFEE;
const MS: u64 = 1_000_000;

fn cfg(role: Role) -> SessionConfig {
    SessionConfig {
        session_id: SID,
        keepalive_ms: 1000,
        role,
        sending_time_tolerance_ns: None,
    }
}

fn order(id: u64) -> AppMessage {
    AppMessage::NewOrder(NewOrder {
        cl_ord_id: id,
        account: (id % 3) as u32,
        instrument: 1,
        price: Price::parse("1.10000").unwrap(),
        qty: Qty::from_int(10_000).unwrap(),
        side: Side::Buy,
        ord_type: OrdType::Limit,
    })
}

fn fill(cl_ord_id: u64) -> AppMessage {
    AppMessage::ExecutionReport(ExecutionReport {
        cl_ord_id,
        exec_id: cl_ord_id + 1_000_000,
        last_qty: Qty::from_int(10_000).unwrap(),
        last_px: Price::parse("1.10000").unwrap(),
        cum_qty: Qty::from_int(10_000).unwrap(),
        leaves_qty: Qty::ZERO,
        ord_status: ExecStatus::Filled,
        reject_reason: 0,
        transact_time_ns: 0,
    })
}

fn store(dir: &Path, name: &str) -> SeqStore {
    SeqStore::open(dir.join(name), SID, 4096).unwrap()
}

/// The acceptor plays a venue: every order it receives is filled. Fills that meet
/// back-pressure wait in `backlog` for the next round (the client must read to make room).
fn venue_poll<T: Transport>(
    venue: &mut Session<T>,
    now: u64,
    seen: &mut Vec<u64>,
    backlog: &mut std::collections::VecDeque<u64>,
) {
    venue
        .poll(now, &mut |v| {
            assert_eq!(v.template(), Template::NewOrder);
            seen.push(v.cl_ord_id());
            backlog.push_back(v.cl_ord_id());
        })
        .unwrap();
    while let Some(id) = backlog.front() {
        match venue.send(&fill(*id), now) {
            Ok(_) => {
                backlog.pop_front();
            }
            Err(e) if e.is_retryable() => break,
            Err(e) => panic!("venue send: {e}"),
        }
    }
    venue.flush().unwrap();
}

/// Sends `ids` through `client`, runs both ends until every fill is back, and returns the
/// fills' ClOrdIDs in arrival order.
fn run_orders<A: Transport, B: Transport>(
    client: &mut Session<A>,
    venue: &mut Session<B>,
    ids: std::ops::Range<u64>,
    now: &mut u64,
    venue_seen: &mut Vec<u64>,
) -> Vec<u64> {
    let want = ids.end - ids.start;
    let mut next = ids.start;
    let mut fills = Vec::new();
    let mut spins = 0u64;
    let mut backlog = std::collections::VecDeque::new();
    while (fills.len() as u64) < want {
        while next < ids.end {
            match client.send(&order(next), *now) {
                Ok(_) => next += 1,
                Err(e) if e.is_retryable() => break,
                Err(e) => panic!("client send: {e}"),
            }
        }
        client.flush().unwrap();
        venue_poll(venue, *now, venue_seen, &mut backlog);
        client
            .poll(*now, &mut |v| {
                assert_eq!(v.template(), Template::ExecutionReport);
                fills.push(v.cl_ord_id());
            })
            .unwrap();
        *now += 1000; // event time advances 1 µs per round; keepalives stay quiet
        spins += 1;
        assert!(
            spins < 10_000_000,
            "stuck at {} of {want} fills",
            fills.len()
        );
        std::thread::yield_now();
    }
    fills
}

fn establish<A: Transport, B: Transport>(c: &mut Session<A>, v: &mut Session<B>, now: u64) {
    c.establish(now).unwrap();
    let mut spins = 0;
    while c.state() != State::Established || v.state() != State::Established {
        v.poll(now, &mut |_| panic!("no app data yet")).unwrap();
        c.poll(now, &mut |_| {}).unwrap();
        spins += 1;
        assert!(
            spins < 1_000_000,
            "establish stuck: {:?}/{:?}",
            c.state(),
            v.state()
        );
        std::thread::yield_now();
    }
}

#[test]
fn orders_and_fills_over_the_shared_memory_ring() {
    let dir = tempfile::tempdir().unwrap();
    // 4 KiB rings: constant back-pressure, which the session must absorb without loss.
    let a = shm::create(dir.path().join("ring"), 4096).unwrap();
    let b = shm::open(dir.path().join("ring")).unwrap();
    let mut client = Session::new(a, store(dir.path(), "c.store"), cfg(Role::Initiator));
    let mut venue = Session::new(b, store(dir.path(), "v.store"), cfg(Role::Acceptor));
    let mut now = 1_000 * MS;
    establish(&mut client, &mut venue, now);
    let mut seen = Vec::new();
    let fills = run_orders(&mut client, &mut venue, 1..3001, &mut now, &mut seen);
    assert_eq!(fills, (1..3001).collect::<Vec<_>>());
    assert_eq!(seen, (1..3001).collect::<Vec<_>>());
    assert_eq!(client.store().next_out(), 3001);
    assert_eq!(client.store().next_in(), 3001);
    assert_eq!(venue.store().next_in(), 3001);
    assert_eq!(client.stats().gaps + venue.stats().gaps, 0);
    assert!(
        client.stats().back_pressure > 0,
        "a 4 KiB ring must push back"
    );
    // Heartbeat after a silent keepalive interval.
    now += 1_500 * MS;
    client.poll(now, &mut |_| {}).unwrap();
    venue.poll(now, &mut |_| {}).unwrap();
    assert_eq!(venue.state(), State::Established);
    client.terminate(now).unwrap();
    venue.poll(now, &mut |_| {}).unwrap();
    assert_eq!(venue.state(), State::Terminated(0));
}

#[test]
fn udp_loss_is_replayed_from_the_store_after_the_venue_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let c_udp = UdpTransport::bind(any, UdpConfig::default()).unwrap();
    let v_udp = UdpTransport::bind(any, UdpConfig::default()).unwrap();
    let (c_addr, v_addr) = (c_udp.local_addr().unwrap(), v_udp.local_addr().unwrap());
    c_udp.set_peer(v_addr).unwrap();
    v_udp.set_peer(c_addr).unwrap();
    let mut client = Session::new(c_udp, store(dir.path(), "c.store"), cfg(Role::Initiator));
    let mut venue = Session::new(v_udp, store(dir.path(), "v.store"), cfg(Role::Acceptor));
    let mut now = 1_000 * MS;
    establish(&mut client, &mut venue, now);
    let mut seen = Vec::new();
    assert_eq!(
        run_orders(&mut client, &mut venue, 1..11, &mut now, &mut seen).len(),
        10
    );

    // The venue process dies; orders 11..=30 go to a closed port and are lost for real.
    drop(venue);
    for id in 11..31 {
        client.send(&order(id), now).unwrap();
        client.flush().unwrap();
    }
    assert_eq!(client.store().next_out(), 31);

    // The venue restarts on the same port with its store: it expects 11.
    let v_udp = UdpTransport::connect(v_addr, c_addr, UdpConfig::default()).unwrap();
    let mut venue = Session::new(v_udp, store(dir.path(), "v.store"), cfg(Role::Acceptor));
    assert_eq!(venue.store().next_in(), 11);
    assert_eq!(
        venue.store().next_out(),
        11,
        "10 fills were sent before the crash"
    );
    client.poll(now, &mut |_| {}).unwrap(); // drain ICMP errors, if any
    establish(&mut client, &mut venue, now);
    // Establish announced next 31: the venue asks for 11..=30 and the client replays them.
    let mut fills = Vec::new();
    let mut spins = 0;
    let mut backlog = std::collections::VecDeque::new();
    while fills.len() < 20 {
        venue_poll(&mut venue, now, &mut seen, &mut backlog);
        client
            .poll(now, &mut |v| fills.push(v.cl_ord_id()))
            .unwrap();
        now += 1000;
        spins += 1;
        assert!(spins < 1_000_000, "replay stuck: {fills:?}");
        std::thread::yield_now();
    }
    assert_eq!(fills, (11..31).collect::<Vec<_>>());
    assert_eq!(
        seen,
        (1..31).collect::<Vec<_>>(),
        "each order exactly once, in order"
    );
    assert_eq!(venue.stats().retransmit_requests, 1);
    assert_eq!(client.stats().replayed, 20);
    // More orders flow normally afterwards.
    let more = run_orders(&mut client, &mut venue, 31..41, &mut now, &mut seen);
    assert_eq!(more, (31..41).collect::<Vec<_>>());
}

#[test]
fn client_restart_resumes_sequence_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let ring = dir.path().join("ring");
    let v_end = shm::create(&ring, 1 << 16).unwrap();
    let mut venue = Session::new(v_end, store(dir.path(), "v.store"), cfg(Role::Acceptor));
    let mut now = 1_000 * MS;
    let mut seen = Vec::new();
    {
        let c_end = shm::open(&ring).unwrap();
        let mut client = Session::new(c_end, store(dir.path(), "c.store"), cfg(Role::Initiator));
        establish(&mut client, &mut venue, now);
        run_orders(&mut client, &mut venue, 1..51, &mut now, &mut seen);
    }
    // Same ring file, new process state: the store says next out is 51, next in 51.
    let c_end = shm::open(&ring).unwrap();
    let mut client = Session::new(c_end, store(dir.path(), "c.store"), cfg(Role::Initiator));
    assert_eq!(
        (client.store().next_out(), client.store().next_in()),
        (51, 51)
    );
    establish(&mut client, &mut venue, now);
    let fills = run_orders(&mut client, &mut venue, 51..61, &mut now, &mut seen);
    assert_eq!(fills, (51..61).collect::<Vec<_>>());
    assert_eq!(venue.stats().duplicates + venue.stats().gaps, 0);
}

#[test]
fn wrong_session_and_stale_sequence_are_terminated() {
    let dir = tempfile::tempdir().unwrap();
    let a = shm::create(dir.path().join("ring"), 4096).unwrap();
    let b = shm::open(dir.path().join("ring")).unwrap();
    let other = SessionConfig {
        session_id: SID + 1,
        ..cfg(Role::Initiator)
    };
    let st = SeqStore::open(dir.path().join("o.store"), SID + 1, 64).unwrap();
    let mut client = Session::new(a, st, other);
    let mut venue = Session::new(b, store(dir.path(), "v.store"), cfg(Role::Acceptor));
    client.establish(0).unwrap();
    venue.poll(0, &mut |_| {}).unwrap();
    assert_eq!(venue.state(), State::Terminated(1));
    client.poll(0, &mut |_| {}).unwrap();
    assert_eq!(client.state(), State::Terminated(1));
    assert!(client.send(&order(1), 0).is_err());
    // Store refuses another session's file.
    assert!(SeqStore::open(dir.path().join("o.store"), SID, 64).is_err());
}

#[test]
fn an_establish_off_the_acceptors_clock_is_terminated() {
    const TOLERANCE: u64 = 1_000 * MS;
    let strict = SessionConfig {
        sending_time_tolerance_ns: Some(TOLERANCE),
        ..cfg(Role::Acceptor)
    };
    // Stamped at 0, read at the tolerance and at 1 ns past it.
    for (read_at, established) in [(TOLERANCE, true), (TOLERANCE + 1, false)] {
        let dir = tempfile::tempdir().unwrap();
        let a = shm::create(dir.path().join("ring"), 4096).unwrap();
        let b = shm::open(dir.path().join("ring")).unwrap();
        let mut client = Session::new(a, store(dir.path(), "c.store"), cfg(Role::Initiator));
        let mut venue = Session::new(b, store(dir.path(), "v.store"), strict);
        client.establish(0).unwrap();
        venue.poll(read_at, &mut |_| {}).unwrap();
        client.poll(read_at, &mut |_| {}).unwrap();
        if established {
            assert_eq!(venue.state(), State::Established);
            assert_eq!(client.state(), State::Established);
        } else {
            assert_eq!(venue.state(), State::Terminated(CLOCK_SKEW));
            assert_eq!(client.state(), State::Terminated(CLOCK_SKEW));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Arbitrary chunks (garbage, and valid headers with random blocks) thrown at an acceptor
    /// over a real ring never panic it, and whatever it delivers is in sequence.
    #[test]
    fn session_survives_arbitrary_input(chunks in proptest::collection::vec(
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..90),
            (prop::sample::select(vec![1u16, 3, 4, 5, 6, 10, 11, 12]), proptest::collection::vec(any::<u8>(), 0..80))
                .prop_map(|(t, body)| {
                    let mut b = vec![0u8; 8];
                    b[0..2].copy_from_slice(&(body.len() as u16).to_le_bytes());
                    b[2..4].copy_from_slice(&t.to_le_bytes());
                    b[4..6].copy_from_slice(&77u16.to_le_bytes());
                    b[6..8].copy_from_slice(&1u16.to_le_bytes());
                    b.extend_from_slice(&body);
                    if t == 1 && b.len() >= 16 { b[8..16].copy_from_slice(&SID.to_le_bytes()); }
                    b
                }),
        ], 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let mut raw = shm::create(dir.path().join("ring"), 1 << 16).unwrap();
        let b = shm::open(dir.path().join("ring")).unwrap();
        let mut venue = Session::new(b, store(dir.path(), "v.store"), cfg(Role::Acceptor));
        let mut last = 0u64;
        for (i, c) in chunks.iter().enumerate() {
            raw.send(c).unwrap();
            raw.flush().unwrap();
            let _ = venue.poll(i as u64 * MS, &mut |v| {
                assert_eq!(v.seq_no(), last + 1);
                last = v.seq_no();
            });
            let _ = raw.poll(&mut |_| {});
        }
        prop_assert!(venue.store().next_in() >= 1);
    }
}
