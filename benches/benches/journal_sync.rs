//! One engine duty cycle of journal appends (8 records of 64–128 bytes) and its group commit,
//! per `journal.sync` policy: `every` pays a sync per cycle, `interval` one per 2 ms,
//! `checkpoint` none. The figure per iteration is one whole cycle.
//!
//! `cargo bench -p mam-benches --bench journal_sync` (in the system temp dir: a sync costs what
//! that disk costs; `mam bench journal --dir` measures any filesystem, with references).

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mam_benches::journal_sync::{clock, payload_len, scratch_dir};
use mam_core::journal::format::record_size;
use mam_core::journal::sync::DEFAULT_SYNC_INTERVAL_NS;
use mam_core::journal::{GroupCommit, Journal, JournalConfig, SyncPolicy};

const BATCH: u64 = 8;

/// A journal with room for `cycles` more cycles without a rollover (a fresh one, untimed,
/// when it has not).
struct Scratch {
    dir: tempfile::TempDir,
    n: u32,
    journal: Option<Journal>,
    room: u64,
}

impl Scratch {
    fn new() -> Self {
        Scratch {
            dir: scratch_dir(&std::env::temp_dir()).expect("temp dir"),
            n: 0,
            journal: None,
            room: 0,
        }
    }

    fn with_room(&mut self, cycles: u64) -> &mut Journal {
        let need = cycles * BATCH * record_size(128) as u64;
        let size = JournalConfig::default().segment_size;
        assert!(need < size - 64, "more cycles than a segment holds");
        if self.journal.is_none() || self.room < need {
            self.journal = None;
            self.n += 1;
            let path = self.dir.path().join(self.n.to_string());
            let (j, _) = Journal::open(&path, JournalConfig::default()).expect("open");
            if self.n > 1 {
                let old = self.dir.path().join((self.n - 1).to_string());
                let _ = std::fs::remove_dir_all(old);
            }
            self.journal = Some(j);
            self.room = size - 64;
        }
        self.room -= need;
        self.journal.as_mut().expect("journal")
    }
}

fn bench(c: &mut Criterion) {
    let payload = [0x5au8; 128];
    let mut g = c.benchmark_group("journal_sync");
    g.throughput(Throughput::Elements(BATCH));
    let mut scratch = Scratch::new();
    for policy in [
        SyncPolicy::Every,
        SyncPolicy::Interval {
            interval_ns: DEFAULT_SYNC_INTERVAL_NS,
        },
        SyncPolicy::Checkpoint,
    ] {
        let mut commit = GroupCommit::new(policy, clock());
        let mut i = 0u64;
        g.bench_function(format!("cycle_{BATCH}_appends_{}", policy.name()), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(1 << 14);
                    let j = scratch.with_room(n);
                    let t = Instant::now();
                    for _ in 0..n {
                        for _ in 0..BATCH {
                            j.append(9, &payload[..payload_len(i)]).expect("append");
                            i += 1;
                        }
                        commit.end_of_cycle(j, clock(), clock).expect("sync");
                    }
                    total += t.elapsed();
                    left -= n;
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(10);
    targets = bench
}
criterion_main!(benches);
