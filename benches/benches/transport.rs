//! Shared-memory ring hop latency vs an rtrb hop, both between two threads in the same run.
//!
//! Each iteration is one ping-pong of a 64-byte message (sender → echo thread → sender); the
//! reported time is per round trip, so one hop is half of it. `cargo bench -p mam-benches
//! --bench transport`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use mam_gateway::transport::shm;
use mam_gateway::transport::{Transport, TransportError};

const MSG: usize = 64;

fn shm_round_trip(c: &mut Criterion) {
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let path = dir.join(format!("mam-criterion-ring-{}", std::process::id()));
    let mut a = shm::create(&path, 1 << 16).expect("create ring");
    let mut b = shm::open(&path).expect("open ring");
    let _ = std::fs::remove_file(&path);
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; MSG];
        loop {
            let mut got = false;
            match b.poll(&mut |m| {
                buf.copy_from_slice(m);
                got = true;
            }) {
                Ok(_) => {}
                Err(TransportError::Closed) => return,
                Err(e) => panic!("echo: {e}"),
            }
            if got {
                while b.send(&buf).is_err() {}
                b.flush().expect("flush");
            }
        }
    });
    let mut msg = [0u8; MSG];
    let mut seq = 0u64;
    c.bench_function("shm_ring_round_trip_64B", |bench| {
        bench.iter_custom(|iters| {
            let t0 = Instant::now();
            for _ in 0..iters {
                seq += 1;
                msg[..8].copy_from_slice(&seq.to_le_bytes());
                a.send(&msg).expect("send");
                a.flush().expect("flush");
                let mut back = false;
                while !back {
                    a.poll(&mut |m| back = m[..8] == msg[..8]).expect("poll");
                }
            }
            t0.elapsed()
        })
    });
    drop(a);
    echo.join().expect("echo thread");
}

fn rtrb_round_trip(c: &mut Criterion) {
    let (mut ping_tx, mut ping_rx) = rtrb::RingBuffer::<[u8; MSG]>::new(1024);
    let (mut pong_tx, mut pong_rx) = rtrb::RingBuffer::<[u8; MSG]>::new(1024);
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = Arc::clone(&stop);
    let echo = std::thread::spawn(move || {
        while !stop2.load(Ordering::Relaxed) {
            if let Ok(m) = ping_rx.pop() {
                while pong_tx.push(m).is_err() {}
            }
        }
    });
    let mut msg = [0u8; MSG];
    let mut seq = 0u64;
    c.bench_function("rtrb_round_trip_64B (reference)", |bench| {
        bench.iter_custom(|iters| {
            let t0 = Instant::now();
            for _ in 0..iters {
                seq += 1;
                msg[..8].copy_from_slice(&seq.to_le_bytes());
                ping_tx.push(msg).expect("rtrb full");
                loop {
                    if let Ok(m) = pong_rx.pop() {
                        if m[..8] == msg[..8] {
                            break;
                        }
                    }
                }
            }
            t0.elapsed()
        })
    });
    stop.store(true, Ordering::Relaxed);
    echo.join().expect("echo thread");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = shm_round_trip, rtrb_round_trip
}
criterion_main!(benches);
