//! Own SBE quote decode (mam FX feed) on the real EURUSD day (136,741 Dukascopy ticks encoded
//! as mam SBE packets of up to 25 quotes), against a reference measured in the same run:
//! streaming the same bytes through memory (summing them as u64 words), the floor any decoder
//! sits on. `mam bench sbe` times the same code outside Criterion.
//!
//! `cargo bench -p mam-benches --bench sbe`

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mam_feed::dukascopy;
use mam_feed::sbe::stream::PacketStream;

fn data() -> PacketStream {
    let dir = mam_core::shared_data::expect_shared("dukascopy/EURUSD-2019-02-04");
    let dir = dir.as_path();
    let mut quotes = Vec::new();
    for h in dukascopy::hour_files(Path::new(dir)).unwrap() {
        for t in dukascopy::read_hour(&h, 5).unwrap() {
            quotes.push(t.quote(0, 1));
        }
    }
    PacketStream::from_quotes(quotes, 1472)
}

fn best_per_second(f: impl Fn(), units: u64) -> f64 {
    f();
    let mut best = Duration::MAX;
    for _ in 0..30 {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed());
    }
    units as f64 / best.as_secs_f64()
}

fn bench(c: &mut Criterion) {
    let d = data();
    assert_eq!(d.decode_quotes().quotes, 136_741);
    let mut g = c.benchmark_group("sbe");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    g.throughput(Throughput::Elements(d.quotes));
    g.bench_function("quote_decode_eurusd_day", |b| {
        b.iter(|| black_box(black_box(&d).decode_quotes()))
    });
    g.throughput(Throughput::Bytes(d.bytes.len() as u64));
    g.bench_function("reference_memory_stream_same_bytes", |b| {
        b.iter(|| black_box(black_box(&d).stream_bytes()))
    });
    g.finish();
    let mps = best_per_second(
        || {
            black_box(black_box(&d).decode_quotes());
        },
        d.quotes,
    );
    let bps = best_per_second(
        || {
            black_box(black_box(&d).stream_bytes());
        },
        d.bytes.len() as u64,
    );
    let decode_bps = mps * d.bytes.len() as f64 / d.quotes as f64;
    println!(
        "sbe summary (best of 30): {} quotes in {} packets ({} bytes): decode {:.1} M quotes/s \
         ({:.2} GB/s) on one core; reference memory stream {:.2} GB/s; decode at {:.0}% of the \
         stream; target >= 100 M quotes/s: {}",
        d.quotes,
        d.packets.len(),
        d.bytes.len(),
        mps / 1e6,
        decode_bps / 1e9,
        bps / 1e9,
        100.0 * decode_bps / bps,
        if mps >= 100e6 { "met" } else { "NOT met" }
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
