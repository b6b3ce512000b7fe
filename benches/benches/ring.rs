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

/// Streams `n` messages: `push` on this thread (retried while it hands the message back),
/// `pop` on a consumer thread; the time until the consumer has them all.
fn stream(
    n: u64,
    mut push: impl FnMut(Msg) -> Result<(), Msg>,
    mut pop: impl FnMut() -> Option<Msg> + Send + 'static,
) -> Duration {
    let consumer = thread::spawn(move || {
        let mut got = 0u64;
        while got < n {
            if let Some(m) = pop() {
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
        while let Err(back) = push(m) {
            m = back;
            std::hint::spin_loop();
        }
    }
    consumer.join().expect("consumer");
    t0.elapsed()
}

fn counted(n: u64) -> Duration {
    let (mut tx, mut rx, _) = ring::<Msg>(SLOTS);
    stream(
        n,
        move |m| tx.try_push(m).map_err(|f| f.0),
        move || rx.pop(),
    )
}

fn raw(n: u64) -> Duration {
    let (mut tx, mut rx) = rtrb::RingBuffer::<Msg>::new(SLOTS);
    stream(
        n,
        move |m| {
            tx.push(m).map_err(|e| match e {
                rtrb::PushError::Full(m) => m,
            })
        },
        move || rx.pop().ok(),
    )
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
