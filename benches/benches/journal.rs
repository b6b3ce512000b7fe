//! Journal append of 64-byte records into a memory-mapped segment, against references
//! measured in the same run: the same bytes copied into a `Vec` (memcpy), the CRC-32C of a
//! framed record alone (and crc32fast's CRC-32 for comparison), and the whole framing
//! (copy + CRC) into a `Vec` without the mapping.
//!
//! `cargo bench -p mam-benches --bench journal`
//!
//! Steady-state appends: the timed loop never crosses a segment rollover (a fresh 256 MiB
//! segment is opened, untimed, when the next batch would not fit). Page faults on first touch
//! of the pre-sized file are included, as they are in the engine.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mam_core::journal::crc32c::crc32c;
use mam_core::journal::format::{encode_record, record_size};
use mam_core::journal::{Journal, JournalConfig};

const PAYLOAD: usize = 64;
const SEGMENT: u64 = 256 << 20;

/// A journal in a scratch directory that is replaced whenever the next batch would not fit.
struct Scratch {
    base: PathBuf,
    n: u32,
    journal: Option<Journal>,
    room: u64,
}

impl Scratch {
    fn new() -> Self {
        let base = std::env::temp_dir().join(format!("mam-bench-journal-{}", std::process::id()));
        Scratch {
            base,
            n: 0,
            journal: None,
            room: 0,
        }
    }

    /// A journal with room for `records` more appends without a rollover.
    fn with_room(&mut self, records: u64) -> &mut Journal {
        let need = records * record_size(PAYLOAD) as u64;
        assert!(need < SEGMENT - 64, "batch larger than a segment");
        if self.journal.is_none() || self.room < need {
            self.journal = None;
            let _ = std::fs::remove_dir_all(&self.base);
            self.n += 1;
            let cfg = JournalConfig {
                segment_size: SEGMENT,
                ..JournalConfig::default()
            };
            let (j, _) = Journal::open(&self.base.join(self.n.to_string()), cfg).expect("open");
            self.journal = Some(j);
            self.room = SEGMENT - 64;
        }
        self.room -= need;
        self.journal.as_mut().expect("journal")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.journal = None;
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

fn payload() -> [u8; PAYLOAD] {
    core::array::from_fn(|i| i as u8 ^ 0x5a)
}

fn append_batch(j: &mut Journal, p: &[u8], iters: u64) -> Duration {
    let t = Instant::now();
    for _ in 0..iters {
        black_box(j.append(7, black_box(p)).expect("append"));
    }
    t.elapsed()
}

/// Copies `iters` payloads back to back into `buf` (cleared when full, untimed).
fn memcpy_batch(buf: &mut Vec<u8>, p: &[u8], iters: u64) -> Duration {
    let step = record_size(PAYLOAD) as u64;
    if (buf.capacity() - buf.len()) as u64 / step < iters {
        buf.clear();
    }
    let t = Instant::now();
    for _ in 0..iters {
        buf.extend_from_slice(black_box(p));
        buf.extend_from_slice(&[0u8; 24]); // same bytes per record as the journal writes
    }
    black_box(buf.len());
    t.elapsed()
}

fn frame_batch(buf: &mut [u8], p: &[u8], iters: u64) -> Duration {
    let step = record_size(PAYLOAD);
    let mut at = 0;
    let t = Instant::now();
    for i in 0..iters {
        if at + step > buf.len() {
            at = 0; // wrap without a division in the loop
        }
        encode_record(&mut buf[at..at + step], i + 1, 7, black_box(p));
        at += step;
    }
    black_box(&buf[..8]);
    t.elapsed()
}

fn bench(c: &mut Criterion) {
    let p = payload();
    let mut g = c.benchmark_group("journal");
    g.throughput(Throughput::Elements(1));
    let mut scratch = Scratch::new();
    g.bench_function("append_64B_mmap", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(1 << 20);
                total += append_batch(scratch.with_room(n), &p, n);
                left -= n;
            }
            total
        })
    });
    let mut vec = Vec::with_capacity(SEGMENT as usize);
    g.bench_function("ref_memcpy_88B_into_vec", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(1 << 20);
                total += memcpy_batch(&mut vec, &p, n);
                left -= n;
            }
            total
        })
    });
    let mut framed = vec![0u8; record_size(PAYLOAD)];
    encode_record(&mut framed, 1, 7, &p);
    g.bench_function("ref_crc32c_of_88B_journal", |b| {
        b.iter(|| crc32c(black_box(&framed[4..])))
    });
    g.bench_function("ref_crc32_ieee_of_88B_crc32fast", |b| {
        b.iter(|| crc32fast::hash(black_box(&framed[4..])))
    });
    let mut ring = vec![0u8; 64 << 10];
    g.bench_function("ref_frame_into_vec_no_mmap", |b| {
        b.iter_custom(|iters| frame_batch(&mut ring, &p, iters))
    });
    g.finish();

    // The same three in one plain timed pass, printed side by side.
    let n = 1u64 << 20;
    let append = append_batch(scratch.with_room(n), &p, n).as_nanos() as f64 / n as f64;
    let copy = memcpy_batch(&mut vec, &p, n).as_nanos() as f64 / n as f64;
    let frame = frame_batch(&mut ring, &p, n).as_nanos() as f64 / n as f64;
    println!(
        "journal append ({PAYLOAD}-byte payload, {}-byte record): {append:.1} ns/record \
         (target <= 100); reference memcpy of the same bytes into a Vec: {copy:.1} ns; \
         framing (copy + CRC) into a Vec: {frame:.1} ns; append / memcpy = {:.1}x",
        record_size(PAYLOAD),
        append / copy
    );
}

/// One rollover with the default 64 MiB segment: fill a segment (untimed), then time the append
/// that syncs it and creates, maps and prefaults the next one. Printed, not a Criterion figure:
/// it is one event per ~760,000 records, dominated by the disk.
fn rollover(c: &mut Criterion) {
    let _ = c;
    let base = std::env::temp_dir().join(format!("mam-bench-rollover-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let cfg = JournalConfig::default();
    let t = Instant::now();
    let (mut j, _) = Journal::open(&base, cfg).expect("open");
    let create = t.elapsed();
    let p = payload();
    let per = record_size(PAYLOAD) as u64;
    let fill = (cfg.segment_size - 64) / per;
    for _ in 0..fill {
        j.append(7, &p).expect("append");
    }
    let t = Instant::now();
    j.append(7, &p).expect("append");
    let roll = t.elapsed();
    assert_eq!(j.segments().len(), 2);
    drop(j);
    let _ = std::fs::remove_dir_all(&base);
    println!(
        "journal rollover ({} MiB segment, {fill} records of {per} bytes, FlushPolicy::Manual): \
         {:.1} ms for the append that syncs the full segment and creates + prefaults the next \
         (opening an empty journal: {:.1} ms)",
        cfg.segment_size >> 20,
        roll.as_secs_f64() * 1e3,
        create.as_secs_f64() * 1e3
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = bench, rollover
}
criterion_main!(benches);
