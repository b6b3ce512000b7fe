//! The AF_XDP transport against a real kernel: a veth pair between two fresh network
//! namespaces, the XSK (copy mode; generic or driver XDP attach) on one end, a plain UDP
//! socket on the other, and real datagrams both ways.
//!
//! Each end lives in its own namespace, so nothing touches the host's interfaces or routes and
//! every run can use the same addresses. Code "runs in" a namespace by a helper thread that
//! `setns`es itself into it and opens the socket there; a socket keeps its namespace for life,
//! so the transport and the UDP socket are then used from the test's thread.
//!
//! Needs root (CAP_NET_RAW, CAP_NET_ADMIN, CAP_BPF) and iproute2's `ip`: without them the
//! tests FAIL, unless `MAM_SKIP_XDP=1` says to skip them.
//!
//! The round-trip and send-rate comparisons with mio UDP over the same veth are `#[ignore]`d
//! (no timed assertions in tests); run them with
//! `cargo test -p mam-gateway --release --test xdp -- --ignored --nocapture --test-threads 1`.
#![cfg(target_os = "linux")]

use std::fs::File;
use std::io::ErrorKind;
use std::net::{SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mam_core::event::{OrdType, Side};
use mam_core::num::{Price, Qty};
use mam_feed::sbe::msg::Quote;
use mam_feed::sbe::stream::PacketStream;
use mam_gateway::binary::codec::{self, AppMessage, CancelOrder, Message, NewOrder};
use mam_gateway::transport::udp::{UdpConfig, UdpTransport};
use mam_gateway::transport::xdp::{XdpAttach, XdpConfig, XdpTransport};
use mam_gateway::transport::{Transport, TransportError};

const MAC_A: [u8; 6] = [0x02, 0x6d, 0x61, 0x6d, 0x00, 0x01];
const MAC_B: [u8; 6] = [0x02, 0x6d, 0x61, 0x6d, 0x00, 0x02];
const IP_A: [u8; 4] = [10, 77, 0, 1];
const IP_B: [u8; 4] = [10, 77, 0, 2];
/// How long a test waits for datagrams before it fails (a liveness bound, not a measurement).
const PATIENCE: Duration = Duration::from_secs(10);

/// True if the test should run; panics with the reason if it cannot and was not told to skip.
fn privileged() -> bool {
    if std::env::var("MAM_SKIP_XDP").as_deref() == Ok("1") {
        eprintln!("AF_XDP test skipped: MAM_SKIP_XDP=1");
        return false;
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let ip = Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        root && ip,
        "the AF_XDP test needs root (CAP_NET_RAW, CAP_NET_ADMIN, CAP_BPF) and iproute2's `ip` \
         (root: {root}, ip found: {ip}); install iproute2 and run as root, or set \
         MAM_SKIP_XDP=1 to skip it on a machine that cannot"
    );
    true
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "`ip {}` failed: {} (the AF_XDP test needs CAP_NET_ADMIN; MAM_SKIP_XDP=1 skips it)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Two namespaces joined by a veth pair: `if_a` (10.77.0.1) in `ns_a`, `if_b` (10.77.0.2) in
/// `ns_b`. Dropping it deletes both namespaces, which destroys the pair.
struct Veth {
    ns_a: String,
    ns_b: String,
    if_a: String,
}

impl Veth {
    fn new() -> Self {
        static RUN: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "{}x{}",
            std::process::id() % 100_000,
            RUN.fetch_add(1, Ordering::Relaxed)
        );
        let v = Veth {
            ns_a: format!("mamxdp{id}a"),
            ns_b: format!("mamxdp{id}b"),
            if_a: format!("mx{id}a"),
        };
        let if_b = format!("mx{id}b");
        let mac = |m: [u8; 6]| {
            m.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        };
        let (mac_a, mac_b) = (mac(MAC_A), mac(MAC_B));
        ip(&["netns", "add", &v.ns_a]);
        ip(&["netns", "add", &v.ns_b]);
        #[rustfmt::skip]
        ip(&["link", "add", &v.if_a, "address", &mac_a, "type", "veth",
             "peer", "name", &if_b, "address", &mac_b]);
        ip(&["link", "set", &v.if_a, "netns", &v.ns_a]);
        ip(&["link", "set", &if_b, "netns", &v.ns_b]);
        for (ns, dev, addr) in [
            (&v.ns_a, &v.if_a, "10.77.0.1/24"),
            (&v.ns_b, &if_b, "10.77.0.2/24"),
        ] {
            ip(&["-n", ns, "addr", "add", addr, "dev", dev]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        v
    }

    fn xdp_config(&self, port_a: u16, port_b: u16, attach: XdpAttach) -> XdpConfig {
        let mut cfg = XdpConfig::new(
            &self.if_a,
            SocketAddrV4::new(IP_A.into(), port_a),
            MAC_A,
            SocketAddrV4::new(IP_B.into(), port_b),
            MAC_B,
        );
        cfg.attach = attach;
        cfg
    }

    /// A UDP socket in `ns_b` on `port_b`, connected to 10.77.0.1:`port_a`.
    fn peer(&self, port_b: u16, port_a: u16) -> UdpSocket {
        in_ns(&self.ns_b, move || {
            let s = UdpSocket::bind(SocketAddrV4::new(IP_B.into(), port_b)).expect("bind peer");
            s.connect(SocketAddrV4::new(IP_A.into(), port_a))
                .expect("connect peer");
            s
        })
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        for ns in [&self.ns_a, &self.ns_b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
        // If it never moved into its namespace.
        let _ = Command::new("ip")
            .args(["link", "del", &self.if_a])
            .output();
    }
}

/// Runs `f` on a thread that joined network namespace `ns` (sockets made there stay there).
fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
        // SAFETY: `file` is an open namespace file; setns changes only this thread's network
        // namespace, and this thread ends when `f` returns.
        let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .expect("namespace thread")
}

/// How an XDP program is attached to the namespace's `dev`, as `ip link` shows it.
fn xdp_attached(ns: &str, dev: &str) -> Option<XdpAttach> {
    let out = Command::new("ip")
        .args(["-n", ns, "link", "show", "dev", dev])
        .output()
        .expect("run ip");
    let text = String::from_utf8_lossy(&out.stdout);
    if text.contains(" xdpgeneric") {
        Some(XdpAttach::Generic)
    } else if text.contains(" xdp/") || text.contains(" xdp ") {
        Some(XdpAttach::Driver)
    } else {
        None
    }
}

fn open_xdp(net: &Veth, cfg: XdpConfig) -> XdpTransport {
    in_ns(&net.ns_a, move || XdpTransport::open(cfg)).expect("open the AF_XDP transport")
}

fn order(i: u64) -> AppMessage {
    if i % 5 == 4 {
        AppMessage::CancelOrder(CancelOrder {
            cl_ord_id: 1_000_000 + i,
            orig_cl_ord_id: 1_000_000 + i - 1,
            account: (i % 13) as u32,
            instrument: (i % 7) as u32,
            side: Side::Sell,
        })
    } else {
        AppMessage::NewOrder(NewOrder {
            cl_ord_id: 1_000_000 + i,
            account: (i % 13) as u32,
            instrument: (i % 7) as u32,
            price: Price::from_raw(1_085_000_000 + i as i64),
            qty: Qty::from_raw(100_000 * (1 + i as i64 % 9)),
            side: if i & 1 == 0 { Side::Buy } else { Side::Sell },
            ord_type: OrdType::Limit,
        })
    }
}

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
    let net = Veth::new();
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
    let net = Veth::new();
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

fn percentiles(h: &hdrhistogram::Histogram<u64>) -> String {
    format!(
        "p50 {:>6.2} µs  p99 {:>6.2} µs  p99.9 {:>6.2} µs  max {:>7.2} µs",
        h.value_at_quantile(0.50) as f64 / 1e3,
        h.value_at_quantile(0.99) as f64 / 1e3,
        h.value_at_quantile(0.999) as f64 / 1e3,
        h.max() as f64 / 1e3
    )
}

/// Pins the calling thread to `cpu` (a best effort: the measurement says whether it held).
fn pin(cpu: usize) -> bool {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside it; the call only
    // changes the calling thread's affinity.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// Round trips of one order: `t` sends, a busy-polling echo socket in the other namespace sends
/// it back. Records round-trip times (ns) after `warmup` of them into `h`.
fn round_trips(
    t: &mut dyn Transport,
    echo: UdpSocket,
    n: usize,
    warmup: usize,
    h: &mut hdrhistogram::Histogram<u64>,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    echo.set_nonblocking(true).unwrap();
    let th = std::thread::spawn(move || {
        pin(1);
        let mut b = [0u8; 2048];
        while !s2.load(Ordering::Relaxed) {
            if let Ok(k) = echo.recv(&mut b) {
                let _ = echo.send(&b[..k]);
            }
        }
    });
    let mut buf = [0u8; codec::MAX_MESSAGE_LEN];
    for i in 0..(warmup + n) {
        let len = order(i as u64).encode(i as u64 + 1, &mut buf).unwrap();
        let t0 = Instant::now();
        t.send(&buf[..len]).unwrap();
        t.flush().unwrap();
        let mut back = 0;
        let deadline = t0 + PATIENCE;
        while back == 0 {
            back = t.poll(&mut |_| {}).unwrap();
            if back == 0 {
                // A flush with nothing new only kicks if the kernel left descriptors behind.
                t.flush().unwrap();
                assert!(Instant::now() < deadline, "echo {i} lost");
            }
        }
        if i >= warmup {
            h.record(t0.elapsed().as_nanos() as u64).unwrap();
        }
    }
    stop.store(true, Ordering::Relaxed);
    th.join().unwrap();
}

/// mio UDP in namespace A, connected to the peer's port 7101.
fn open_udp(net: &Veth) -> UdpTransport {
    let cfg = UdpConfig::default();
    in_ns(&net.ns_a, move || {
        UdpTransport::connect(
            SocketAddrV4::new(IP_A.into(), 7100).into(),
            SocketAddrV4::new(IP_B.into(), 7101).into(),
            cfg,
        )
    })
    .expect("mio UDP in the namespace")
}

/// The three transports the measurements compare, in the order they print.
const CONTENDERS: [&str; 3] = ["mio UDP", "AF_XDP copy, generic", "AF_XDP copy, driver"];

/// Opens contender `k` (an XDP program is attached only while an AF_XDP one is open, so UDP
/// never runs the hook) and the peer socket it talks to.
fn contender(net: &Veth, k: usize) -> (Box<dyn Transport>, UdpSocket, Option<XdpTransport>) {
    match k {
        0 => (Box::new(open_udp(net)), net.peer(7101, 7100), None),
        _ => {
            let attach = [XdpAttach::Generic, XdpAttach::Driver][k - 1];
            let t = open_xdp(net, net.xdp_config(7000, 7001, attach));
            (Box::new(NoTransport), net.peer(7001, 7000), Some(t))
        }
    }
}

/// A placeholder where the measured transport is the `XdpTransport` itself.
struct NoTransport;

impl Transport for NoTransport {
    fn claim(&mut self, _: usize) -> Result<&mut [u8], TransportError> {
        Err(TransportError::Closed)
    }
    fn commit(&mut self, _: usize) -> Result<(), TransportError> {
        Err(TransportError::Closed)
    }
    fn abort(&mut self) {}
    fn flush(&mut self) -> Result<usize, TransportError> {
        Ok(0)
    }
    fn poll(&mut self, _: &mut dyn FnMut(&[u8])) -> Result<usize, TransportError> {
        Ok(0)
    }
}

/// AF_XDP (copy mode; generic and driver attach) against mio UDP over the same veth, same echo
/// peer, same message, in one run: rounds alternate between the three, so a machine that is
/// busy for a while weighs on all. Prints percentiles; asserts nothing about time.
#[test]
#[ignore = "a measurement: cargo test -p mam-gateway --release --test xdp -- --ignored --nocapture"]
fn round_trip_af_xdp_vs_mio_udp() {
    if !privileged() {
        return;
    }
    let n: usize = std::env::var("MAM_XDP_ROUND_TRIPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    const ROUNDS: usize = 10;
    let net = Veth::new();
    let pinned = pin(0);
    let mut h: Vec<_> = (0..3)
        .map(|_| hdrhistogram::Histogram::<u64>::new(3).unwrap())
        .collect();
    let mut kicks = [0u64; 3];
    for _ in 0..ROUNDS {
        for (k, hk) in h.iter_mut().enumerate() {
            let (mut t, peer, xsk) = contender(&net, k);
            match xsk {
                Some(mut x) => {
                    round_trips(&mut x, peer, n / ROUNDS, 1000, hk);
                    kicks[k] += x.kicks();
                }
                None => round_trips(t.as_mut(), peer, n / ROUNDS, 1000, hk),
            }
        }
    }
    println!(
        "round trip of a {}-byte order over veth, {n} samples each, {ROUNDS} alternating \
         rounds, echo: std UDP socket busy-polling in the peer namespace (pinned: {pinned}):",
        order(0).encoded_len()
    );
    for k in 0..3 {
        println!(
            "  {:<21} {}  ({} kicks)",
            CONTENDERS[k],
            percentiles(&h[k]),
            kicks[k]
        );
    }
}

/// Sends `n` orders through `t` in batches of 32 per flush while a busy-polling socket in the
/// peer namespace counts what arrives; returns (seconds the sender took, datagrams received).
fn blast(t: &mut dyn Transport, sink: UdpSocket, n: u64) -> (f64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    sink.set_nonblocking(true).unwrap();
    let th = std::thread::spawn(move || {
        pin(1);
        let (mut b, mut got) = ([0u8; 2048], 0u64);
        let mut idle_since: Option<Instant> = None;
        loop {
            match sink.recv(&mut b) {
                Ok(_) => {
                    got += 1;
                    idle_since = None;
                }
                Err(_) if s2.load(Ordering::Relaxed) => {
                    // The sender is done: drain what is still on its way, then stop.
                    let t0 = *idle_since.get_or_insert_with(Instant::now);
                    if t0.elapsed() > Duration::from_millis(50) {
                        return got;
                    }
                }
                Err(_) => {}
            }
        }
    });
    let mut buf = [0u8; codec::MAX_MESSAGE_LEN];
    let len = order(0).encode(1, &mut buf).unwrap();
    let t0 = Instant::now();
    let mut sent = 0u64;
    while sent < n {
        let mut batch = 0;
        while batch < 32 && sent < n {
            match t.send(&buf[..len]) {
                Ok(()) => {
                    sent += 1;
                    batch += 1;
                }
                Err(e) if e.is_retryable() => break,
                Err(e) => panic!("send: {e}"),
            }
        }
        t.flush().unwrap();
        t.poll(&mut |_| {}).unwrap();
    }
    while t.flush().unwrap() > 0 {}
    let secs = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    (secs, th.join().unwrap())
}

/// Sending throughput, 32 datagrams per flush: AF_XDP publishes a batch with one store and
/// one `sendto` kick, mio UDP makes one `send` per datagram. Prints rates; asserts nothing.
#[test]
#[ignore = "a measurement: cargo test -p mam-gateway --release --test xdp -- --ignored --nocapture"]
fn send_throughput_af_xdp_vs_mio_udp() {
    if !privileged() {
        return;
    }
    let n = 1_000_000u64;
    let net = Veth::new();
    let pinned = pin(0);
    println!(
        "sending {n} {}-byte orders over veth, 32 per flush (pinned: {pinned}):",
        order(0).encoded_len()
    );
    for (k, name) in CONTENDERS.iter().enumerate() {
        let (mut t, peer, xsk) = contender(&net, k);
        let (secs, got, kicks) = match xsk {
            Some(mut x) => {
                let (secs, got) = blast(&mut x, peer, n);
                (secs, got, x.kicks())
            }
            None => {
                let (secs, got) = blast(t.as_mut(), peer, n);
                (secs, got, 0)
            }
        };
        println!(
            "  {name:<21} {:.2} M datagrams/s sent, {got} received by the peer ({kicks} kicks)",
            n as f64 / secs / 1e6
        );
    }
}
