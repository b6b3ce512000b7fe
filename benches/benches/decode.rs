//! Venue decode speed, each against references measured in the same run:
//!
//! - ITCH 5.0: mam's decoder vs the `itch5` and `itchy` crates over the same BinaryFILE bytes
//!   (NASDAQ's 1,000-message sample plus RITCH's 12,012-message file re-framed with true length
//!   prefixes, which those crates need). Each visits every message and sums the shares of the
//!   add orders, so none can skip work. Target: at least as fast as itch5, ≥ 20× itchy.
//! - IEX TOPS: pcap read + UDP extraction + IEX-TP decode + per-symbol BBO book (events
//!   emitted), built from empty each time (cold) and into a book that already knows the
//!   symbols (warm, as a running feed handler), vs reading the same pcap with pcap-parser
//!   alone. Target ≤ 2× the raw read.
//!
//! `cargo bench -p mam-benches --bench decode`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mam_benches::decode::{
    itch5_decode, itch_bytes, itchy_decode, mam_itch, pcap_parser_read, tops_decode_and_book,
    tops_into,
};
use mam_feed::book::TopsBook;

fn shared(rel: &str) -> Vec<u8> {
    let p = mam_core::shared_data::expect_shared(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn bench(c: &mut Criterion) {
    let ib = itch_bytes(
        &shared("itch/nasdaq-sample-1000.itch"),
        &shared("itch/ritch-artificial-zero-prefix.itch"),
    );
    let want = mam_itch(&ib);
    assert_eq!(want.0, 13_012);
    assert_eq!(itch5_decode(&ib), want, "itch5 sees the same messages");
    assert_eq!(itchy_decode(&ib), want, "itchy sees the same messages");
    let mut g = c.benchmark_group("itch50_decode");
    g.throughput(Throughput::Elements(want.0));
    g.bench_function("mam", |b| b.iter(|| black_box(mam_itch(black_box(&ib)))));
    g.bench_function("itch5 (reference)", |b| {
        b.iter(|| black_box(itch5_decode(black_box(&ib))))
    });
    g.bench_function("itchy (reference)", |b| {
        b.iter(|| black_box(itchy_decode(black_box(&ib))))
    });
    g.finish();

    let tops = shared("iex/TOPS16.pcap");
    assert_eq!(tops_decode_and_book(&tops).1, 27_217 + 6_390);
    let mut g = c.benchmark_group("iex_tops");
    g.throughput(Throughput::Bytes(tops.len() as u64));
    g.bench_function("mam decode + book", |b| {
        b.iter(|| black_box(tops_decode_and_book(black_box(&tops))))
    });
    let mut warm = TopsBook::with_capacity(16_384);
    g.bench_function("mam decode + book (warm symbol table)", |b| {
        b.iter(|| black_box(tops_into(black_box(&tops), &mut warm)))
    });
    g.bench_function("pcap-parser read (reference)", |b| {
        b.iter(|| black_box(pcap_parser_read(black_box(&tops))))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = bench
}
criterion_main!(benches);
