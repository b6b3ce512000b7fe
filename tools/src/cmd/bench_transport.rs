//! `mam bench transport [--json]`: one-way hop latency of the shared-memory ring between two
//! threads, beside an `rtrb` hop between two threads measured in the same run.
//!
//! Both are measured the same way: a ping-pong of a 64-byte message between a sender thread
//! and an echo thread over two rings, each round trip timed on the sender and halved. The
//! shared-memory ring is the real thing (a memory-mapped file, in `/dev/shm` when present,
//! with its framing, cache-line padded counters and batched publish per flush); `rtrb` is an
//! in-heap SPSC queue of fixed 64-byte items, the floor such a hop can reach.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use hdrhistogram::Histogram;
use mam_gateway::transport::shm;
use mam_gateway::transport::{Transport, TransportError};
use serde_json::json;

/// Payload of every hop.
const MSG: usize = 64;

/// Arguments of `mam bench transport`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Timed round trips per transport (after as many untimed warm-up ones).
    #[arg(long, default_value_t = 200_000)]
    pub count: u64,
    /// Pin the two threads to the first two CPUs.
    #[arg(long)]
    pub pin: bool,
    /// One JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// CPUs for the sender and the echo thread.
type Cpus = (Option<core_affinity::CoreId>, Option<core_affinity::CoreId>);

/// The first two CPUs, read once before any pinning (`get_core_ids` reports the calling
/// thread's current mask, which pinning narrows).
fn cpus(on: bool) -> Cpus {
    let ids = if on {
        core_affinity::get_core_ids().unwrap_or_default()
    } else {
        Vec::new()
    };
    let n = ids.len().max(1);
    (ids.first().copied(), ids.get(1 % n).copied())
}

fn pin(cpu: Option<core_affinity::CoreId>) {
    if let Some(id) = cpu {
        core_affinity::set_for_current(id);
    }
}

fn ring_dir() -> std::path::PathBuf {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// Round-trip times (ns) of `count` timed ping-pongs over the shared-memory ring.
fn shm_round_trips(count: u64, (cpu0, cpu1): Cpus) -> anyhow::Result<Histogram<u64>> {
    let path = ring_dir().join(format!("mam-bench-ring-{}", std::process::id()));
    let mut a = shm::create(&path, 1 << 16).context("create ring")?;
    let mut b = shm::open(&path).context("open ring")?;
    let _ = std::fs::remove_file(&path); // both ends hold the mapping; the name is not needed
    let echo = std::thread::spawn(move || {
        pin(cpu1);
        let mut buf = [0u8; MSG];
        loop {
            let mut got = false;
            match b.poll(&mut |m| {
                buf.copy_from_slice(m);
                got = true;
            }) {
                Ok(_) => {}
                Err(TransportError::Closed) => return,
                Err(e) => panic!("echo poll: {e}"),
            }
            if got {
                while let Err(e) = b.send(&buf) {
                    assert!(e.is_retryable(), "echo send: {e}");
                }
                b.flush().expect("flush");
            } else {
                std::hint::spin_loop();
            }
        }
    });
    pin(cpu0);
    let mut hist = Histogram::new_with_bounds(1, 10_000_000_000, 3)?;
    let mut msg = [0u8; MSG];
    for i in 0..count * 2 {
        msg[..8].copy_from_slice(&i.to_le_bytes());
        let t0 = Instant::now();
        a.send(&msg).map_err(|e| anyhow::anyhow!("send: {e}"))?;
        a.flush().map_err(|e| anyhow::anyhow!("flush: {e}"))?;
        let mut back = false;
        while !back {
            a.poll(&mut |m| back = m[..8] == msg[..8])
                .map_err(|e| anyhow::anyhow!("poll: {e}"))?;
        }
        if i >= count {
            hist.record(t0.elapsed().as_nanos().max(1) as u64)?;
        }
    }
    drop(a); // closes the rings: the echo thread sees Closed
    echo.join()
        .map_err(|_| anyhow::anyhow!("echo thread panicked"))?;
    Ok(hist)
}

/// Round-trip times (ns) of `count` timed ping-pongs over two `rtrb` rings.
fn rtrb_round_trips(count: u64, (cpu0, cpu1): Cpus) -> anyhow::Result<Histogram<u64>> {
    let (mut ping_tx, mut ping_rx) = rtrb::RingBuffer::<[u8; MSG]>::new(1024);
    let (mut pong_tx, mut pong_rx) = rtrb::RingBuffer::<[u8; MSG]>::new(1024);
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = Arc::clone(&stop);
    let echo = std::thread::spawn(move || {
        pin(cpu1);
        while !stop2.load(Ordering::Relaxed) {
            match ping_rx.pop() {
                Ok(m) => {
                    while pong_tx.push(m).is_err() {
                        std::hint::spin_loop();
                    }
                }
                Err(_) => std::hint::spin_loop(),
            }
        }
    });
    pin(cpu0);
    let mut hist = Histogram::new_with_bounds(1, 10_000_000_000, 3)?;
    let mut msg = [0u8; MSG];
    for i in 0..count * 2 {
        msg[..8].copy_from_slice(&i.to_le_bytes());
        let t0 = Instant::now();
        ping_tx
            .push(msg)
            .map_err(|_| anyhow::anyhow!("rtrb full"))?;
        loop {
            if let Ok(m) = pong_rx.pop() {
                if m[..8] == msg[..8] {
                    break;
                }
            }
            std::hint::spin_loop();
        }
        if i >= count {
            hist.record(t0.elapsed().as_nanos().max(1) as u64)?;
        }
    }
    stop.store(true, Ordering::Relaxed);
    echo.join()
        .map_err(|_| anyhow::anyhow!("echo thread panicked"))?;
    Ok(hist)
}

/// One-way hop figures (half the round trip), ns.
fn hop(h: &Histogram<u64>) -> serde_json::Value {
    let half = |v: u64| v as f64 / 2.0;
    json!({
        "p50_ns": half(h.value_at_quantile(0.5)),
        "p90_ns": half(h.value_at_quantile(0.9)),
        "p99_ns": half(h.value_at_quantile(0.99)),
        "p999_ns": half(h.value_at_quantile(0.999)),
        "max_ns": half(h.max()),
        "mean_ns": h.mean() / 2.0,
        "round_trips": h.len(),
    })
}

/// Round-trip histograms (ns) of the shared-memory ring and of `rtrb` (the reference); a
/// one-way hop is half a round trip.
pub fn measure(args: &Args) -> anyhow::Result<(Histogram<u64>, Histogram<u64>)> {
    anyhow::ensure!(args.count > 0, "--count must be at least 1");
    let cpus = cpus(args.pin);
    Ok((
        shm_round_trips(args.count, cpus)?,
        rtrb_round_trips(args.count, cpus)?,
    ))
}

/// Runs `mam bench transport`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (shm_h, rtrb_h) = measure(&args)?;
    let (s, r) = (hop(&shm_h), hop(&rtrb_h));
    let ratio = shm_h.value_at_quantile(0.5) as f64 / rtrb_h.value_at_quantile(0.5).max(1) as f64;
    if args.json {
        let v = json!({
            "message_bytes": MSG,
            "threads_pinned": args.pin,
            "shm_ring_hop": s,
            "rtrb_hop": r,
            "p50_ratio_shm_over_rtrb": ratio,
        });
        println!("{v}");
    } else {
        println!(
            "one-way hop, {MSG}-byte message, ping-pong between two threads ({} timed round trips each{})",
            args.count,
            if args.pin { ", pinned" } else { "" }
        );
        println!(
            "{:<22} {:>9} {:>9} {:>9} {:>9} {:>10}",
            "transport", "p50 ns", "p90 ns", "p99 ns", "p99.9 ns", "max ns"
        );
        for (name, v) in [("shared-memory ring", &s), ("rtrb (reference)", &r)] {
            println!(
                "{name:<22} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>10.1}",
                v["p50_ns"].as_f64().unwrap_or(0.0),
                v["p90_ns"].as_f64().unwrap_or(0.0),
                v["p99_ns"].as_f64().unwrap_or(0.0),
                v["p999_ns"].as_f64().unwrap_or(0.0),
                v["max_ns"].as_f64().unwrap_or(0.0)
            );
        }
        println!("p50 ratio shm/rtrb: {ratio:.2}");
    }
    Ok(ExitCode::SUCCESS)
}
