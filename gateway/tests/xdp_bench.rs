//! AF_XDP against mio UDP over the same veth pair (`xdp_util.rs`), printed side by side in one
//! run: round trips and send rates. Measurements, not tests: `#[ignore]`d, nothing about time
//! is asserted. Run them (as root) with `cargo test -p mam-gateway --release --test xdp_bench
//! -- --ignored --nocapture --test-threads 1`.
#![cfg(target_os = "linux")]

#[path = "xdp_util.rs"]
mod xdp_util;

use std::net::{SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mam_gateway::binary::codec;
use mam_gateway::transport::udp::{UdpConfig, UdpTransport};
use mam_gateway::transport::xdp::{XdpAttach, XdpTransport};
use mam_gateway::transport::Transport;
use xdp_util::{in_ns, open_xdp, order, privileged, Veth, IP_A, IP_B, PATIENCE};

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

/// One contender, open.
enum Contender {
    Udp(UdpTransport),
    Xdp(Box<XdpTransport>),
}

impl Contender {
    /// Opens contender `k` (an XDP program is attached only while an AF_XDP one is open, so
    /// UDP never runs the hook) and the peer socket it talks to.
    fn open(net: &Veth, k: usize) -> (Self, UdpSocket) {
        match k {
            0 => (Contender::Udp(open_udp(net)), net.peer(7101, 7100)),
            _ => {
                let attach = [XdpAttach::Generic, XdpAttach::Driver][k - 1];
                let t = open_xdp(net, net.xdp_config(7000, 7001, attach));
                (Contender::Xdp(Box::new(t)), net.peer(7001, 7000))
            }
        }
    }

    fn transport(&mut self) -> &mut dyn Transport {
        match self {
            Contender::Udp(t) => t,
            Contender::Xdp(t) => t.as_mut(),
        }
    }

    fn kicks(&self) -> u64 {
        match self {
            Contender::Udp(_) => 0,
            Contender::Xdp(t) => t.kicks(),
        }
    }
}

/// AF_XDP (copy mode; generic and driver attach) against mio UDP over the same veth, same echo
/// peer, same message, in one run: rounds alternate between the three, so a machine that is
/// busy for a while weighs on all. Prints percentiles; asserts nothing about time.
#[test]
#[ignore = "a measurement: --release --test xdp_bench -- --ignored --nocapture"]
fn round_trip_af_xdp_vs_mio_udp() {
    if !privileged() {
        return;
    }
    let n: usize = std::env::var("MAM_XDP_ROUND_TRIPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    const ROUNDS: usize = 10;
    let net = Veth::create();
    let pinned = pin(0);
    let mut h: Vec<_> = (0..3)
        .map(|_| hdrhistogram::Histogram::<u64>::new(3).unwrap())
        .collect();
    let mut kicks = [0u64; 3];
    for _ in 0..ROUNDS {
        for (k, hk) in h.iter_mut().enumerate() {
            let (mut c, peer) = Contender::open(&net, k);
            round_trips(c.transport(), peer, n / ROUNDS, 1000, hk);
            kicks[k] += c.kicks();
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
#[ignore = "a measurement: --release --test xdp_bench -- --ignored --nocapture"]
fn send_throughput_af_xdp_vs_mio_udp() {
    if !privileged() {
        return;
    }
    let n = 1_000_000u64;
    let net = Veth::create();
    let pinned = pin(0);
    println!(
        "sending {n} {}-byte orders over veth, 32 per flush (pinned: {pinned}):",
        order(0).encoded_len()
    );
    for (k, name) in CONTENDERS.iter().enumerate() {
        let (mut c, peer) = Contender::open(&net, k);
        let (secs, got) = blast(c.transport(), peer, n);
        let kicks = c.kicks();
        println!(
            "  {name:<21} {:.2} M datagrams/s sent, {got} received by the peer ({kicks} kicks)",
            n as f64 / secs / 1e6
        );
    }
}
