//! Own SBE quote decode (mam FX feed) on the real EURUSD day (136,741 Dukascopy ticks encoded
//! as mam SBE packets), against a reference measured in the same run: streaming the same
//! bytes through memory (summing them as u64 words), the floor any decoder sits on.
//!
//! `cargo bench -p mam-benches --bench sbe`

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mam_feed::dukascopy;
use mam_feed::sbe::msg::{decode_quote, Quote};
use mam_feed::sbe::{Packet, PacketBuilder};

struct Data {
    /// Packets back to back, each preceded by its u32 length (as a capture reader hands them).
    packets: Vec<(usize, usize)>,
    bytes: Vec<u8>,
    quotes: u64,
}

fn data() -> Data {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/dukascopy/EURUSD-2019-02-04"
    );
    assert!(Path::new(dir).is_dir(), "shared data missing: {dir}");
    let mut b = PacketBuilder::new("BENCH", 1, 1472);
    let mut bytes = Vec::new();
    let mut packets = Vec::new();
    let mut quotes = 0;
    let mut flush = |b: &mut PacketBuilder, bytes: &mut Vec<u8>| {
        if !b.is_empty() {
            let p = b.finish();
            packets.push((bytes.len(), p.len()));
            bytes.extend_from_slice(&p);
        }
    };
    for h in dukascopy::hour_files(Path::new(dir)).unwrap() {
        for t in dukascopy::read_hour(&h, 5).unwrap() {
            let q = Quote {
                time_ns: t.time_ms as u64 * 1_000_000,
                instrument: 0,
                lp: 1,
                flags: 0,
                bid: Some(t.bid),
                ask: Some(t.ask),
                bid_size: Some(t.bid_volume),
                ask_size: Some(t.ask_volume),
            };
            if !b.push(&q) {
                flush(&mut b, &mut bytes);
                b.push(&q);
            }
            quotes += 1;
        }
    }
    flush(&mut b, &mut bytes);
    Data {
        packets,
        bytes,
        quotes,
    }
}

/// Checks every packet's framing and decodes every quote, folding the fields into a checksum.
#[inline(never)]
fn decode_all(d: &Data) -> (u64, i64) {
    let (mut n, mut acc) = (0u64, 0i64);
    for &(at, len) in &d.packets {
        let Ok(p) = Packet::parse(&d.bytes[at..at + len]) else {
            continue;
        };
        for m in p.messages() {
            if let Ok(q) = decode_quote(m) {
                n += 1;
                acc = acc
                    .wrapping_add(q.bid_raw())
                    .wrapping_add(q.ask_raw() ^ q.bid_size_raw())
                    .wrapping_add(q.ask_size_raw() ^ q.time_ns() as i64)
                    .wrapping_add(i64::from(q.instrument()) + i64::from(q.lp()));
            }
        }
    }
    (n, acc)
}

/// The reference: read every byte of the same buffer once, as u64 words.
#[inline(never)]
fn stream(d: &Data) -> u64 {
    let mut acc = 0u64;
    for c in d.bytes.chunks_exact(8) {
        acc = acc.wrapping_add(u64::from_le_bytes(c.try_into().unwrap()));
    }
    acc
}

fn per_second(f: impl Fn(), units: u64) -> f64 {
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
    assert_eq!(decode_all(&d).0, 136_741);
    let mut g = c.benchmark_group("sbe");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    g.throughput(Throughput::Elements(d.quotes));
    g.bench_function("quote_decode_eurusd_day", |b| {
        b.iter(|| black_box(decode_all(black_box(&d))))
    });
    g.throughput(Throughput::Bytes(d.bytes.len() as u64));
    g.bench_function("reference_memory_stream_same_bytes", |b| {
        b.iter(|| black_box(stream(black_box(&d))))
    });
    g.finish();
    let mps = per_second(
        || {
            black_box(decode_all(black_box(&d)));
        },
        d.quotes,
    );
    let bps = per_second(
        || {
            black_box(stream(black_box(&d)));
        },
        d.bytes.len() as u64,
    );
    let decode_bps = mps * d.bytes.len() as f64 / d.quotes as f64;
    println!(
        "sbe summary: {} quotes in {} packets ({} bytes): decode {:.1} M quotes/s ({:.2} GB/s) on one core; \
         reference memory stream {:.2} GB/s; decode runs at {:.0}% of the stream; target >= 100 M/s: {}",
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
