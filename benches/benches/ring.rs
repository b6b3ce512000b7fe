//! One stage-ring hop between two threads: mam's counted ring (`mam_core::pipeline::ring`, each
//! side storing its own count on its own cache line) beside raw `rtrb` (the reference: the same
//! queue, no counters), streaming 64-byte Pod messages through 1,024 slots.
//! `cargo bench -p mam-benches --bench ring`.

use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mam_core::pipeline::ring;

const SLOTS: usize = 1024;
const BATCH: u64 = 100_000;

type Msg = [u64; 8];

fn counted(n: u64) -> Duration {
    let (mut tx, mut rx, _) = ring::<Msg>(SLOTS);
    let consumer = thread::spawn(move || {
        let mut got = 0u64;
        while got < n {
            if let Some(m) = rx.pop() {
                black_box(m);
                got += 1;
            } else {
                std::hint::spin_loop();
            }
        }
    });
    let t0 = Instant::now();
    for i in 0..n {
        let mut m = [i; 8];
        while let Err(full) = tx.try_push(m) {
            m = full.0;
            std::hint::spin_loop();
        }
    }
    consumer.join().expect("consumer");
    t0.elapsed()
}

fn raw(n: u64) -> Duration {
    let (mut tx, mut rx) = rtrb::RingBuffer::<Msg>::new(SLOTS);
    let consumer = thread::spawn(move || {
        let mut got = 0u64;
        while got < n {
            if let Ok(m) = rx.pop() {
                black_box(m);
                got += 1;
            } else {
                std::hint::spin_loop();
            }
        }
    });
    let t0 = Instant::now();
    for i in 0..n {
        let mut m = [i; 8];
        while let Err(rtrb::PushError::Full(back)) = tx.push(m) {
            m = back;
            std::hint::spin_loop();
        }
    }
    consumer.join().expect("consumer");
    t0.elapsed()
}

fn hop(c: &mut Criterion) {
    let mut g = c.benchmark_group("ring_hop_64B");
    g.throughput(Throughput::Elements(BATCH));
    g.bench_function("mam_ring_counted", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| counted(BATCH)).sum())
    });
    g.bench_function("rtrb_raw_reference", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| raw(BATCH)).sum())
    });
    g.finish();
}

criterion_group!(benches, hop);
criterion_main!(benches);
