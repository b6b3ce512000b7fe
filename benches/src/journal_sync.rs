//! The journal's sync policies measured: `mam bench journal` and the Criterion bench
//! `journal_sync`.
//!
//! Each run opens a fresh journal in a temporary directory (on the filesystem the caller
//! names: a sync costs what that disk costs), then appends records of 64–128 bytes in batches
//! like an engine duty cycle: `batch` appends, then [`GroupCommit::end_of_cycle`], exactly as
//! the engine stage ends a cycle. `checkpoint` adds what a checkpoint does to the journal (a
//! sync every `checkpoint_every` records); the rest of a checkpoint (the account store and
//! state files) is not the journal's cost and is left out.
//!
//! The references, measured on the same filesystem in the same run: `write(2)` of one 4 KiB
//! page then `fdatasync`, on a file whose blocks are already written (the floor of any
//! durable write on this disk) and at the end of a growing file (what `dd oflag=dsync`
//! measures); and the same batches as the journal written with `write(2)` to a plain file
//! sized like a segment, then `fdatasync` (what a journal without a mapping would pay).

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use hdrhistogram::Histogram;
use mam_core::journal::format::record_size;
use mam_core::journal::{GroupCommit, Journal, JournalConfig, JournalError, SyncPolicy};
use thiserror::Error;

/// Payload length of the `i`-th record: 64 to 128 bytes, varied.
pub fn payload_len(i: u64) -> usize {
    64 + (i.wrapping_mul(37) % 65) as usize
}

/// A bench that could not run.
#[derive(Debug, Error)]
pub enum SyncBenchError {
    /// A file operation on the scratch directory failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The journal failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SyncBenchError + '_ {
    move |source| SyncBenchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// CLOCK_MONOTONIC in ns (the engine stage's clock in the daemon).
pub fn clock() -> u64 {
    mam_gateway::latency::mono_ns()
}

/// A scratch directory inside `parent` (so on its filesystem), removed on drop.
pub fn scratch_dir(parent: &Path) -> Result<tempfile::TempDir, SyncBenchError> {
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    tempfile::Builder::new()
        .prefix("mam-bench-journal-")
        .tempdir_in(parent)
        .map_err(io(parent))
}

/// One policy × batch size.
#[derive(Debug, Clone)]
pub struct PolicyRun {
    /// The policy.
    pub policy: SyncPolicy,
    /// Records per duty cycle.
    pub batch: usize,
    /// Records appended.
    pub records: u64,
    /// Duty cycles.
    pub cycles: u64,
    /// Time in `append` alone (ns).
    pub append_ns: u64,
    /// Time of the whole cycles, appends and syncs (ns).
    pub cycle_ns: u64,
    /// Syncs done (at cycle ends, and at the modelled checkpoints).
    pub syncs: u64,
    /// Their total time (ns).
    pub sync_ns: u64,
    /// Cycle times (ns).
    pub cycle_hist: Histogram<u64>,
}

impl PolicyRun {
    /// Mean ns per append (append alone).
    pub fn ns_per_append(&self) -> f64 {
        self.append_ns as f64 / self.records.max(1) as f64
    }
    /// Mean ns per duty cycle, syncs included.
    pub fn ns_per_cycle(&self) -> f64 {
        self.cycle_ns as f64 / self.cycles.max(1) as f64
    }
    /// Syncs per second of the run (appending flat out).
    pub fn syncs_per_sec(&self) -> f64 {
        self.syncs as f64 / (self.cycle_ns.max(1) as f64 / 1e9)
    }
    /// Mean time of one sync (ns), 0 if none.
    pub fn ns_per_sync(&self) -> f64 {
        self.sync_ns as f64 / self.syncs.max(1) as f64
    }
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid bounds")
}

/// Appends `records` records in cycles of `batch` under `policy` to a fresh journal in a new
/// directory under `parent` (removed afterwards). `checkpoint_every`: under `Checkpoint`, a
/// sync after this many records (0: none). `min_ns`: keep appending until the run has lasted
/// this long, as long as the first segment has room (an `Interval` run appending flat out
/// can be over before its first interval: this gives it syncs to measure without counting a
/// segment rollover in).
pub fn run_policy(
    parent: &Path,
    policy: SyncPolicy,
    batch: usize,
    records: u64,
    checkpoint_every: u64,
    min_ns: u64,
) -> Result<PolicyRun, SyncBenchError> {
    let dir = scratch_dir(parent)?;
    let (mut j, _) = Journal::open(dir.path(), JournalConfig::default())?;
    let payload = [0x5au8; 128];
    let mut commit = GroupCommit::new(policy, clock());
    let batch = batch.max(1);
    let mut run = PolicyRun {
        policy,
        batch,
        records: 0,
        cycles: 0,
        append_ns: 0,
        cycle_ns: 0,
        syncs: 0,
        sync_ns: 0,
        cycle_hist: hist(),
    };
    let mut since_checkpoint = 0u64;
    let mut checkpoint_syncs = (0u64, 0u64);
    let room = (JournalConfig::default().segment_size - 64) / record_size(128) as u64;
    let started = clock();
    loop {
        let more = run.records < records
            || (clock() - started < min_ns && run.records + batch as u64 <= room);
        if !more {
            break;
        }
        let n = if run.records < records {
            (batch as u64).min(records - run.records)
        } else {
            batch as u64
        };
        let t0 = clock();
        for k in 0..n {
            let len = payload_len(run.records + k);
            j.append(9, &payload[..len])?;
        }
        let t1 = clock();
        since_checkpoint += n;
        if policy == SyncPolicy::Checkpoint
            && checkpoint_every > 0
            && since_checkpoint >= checkpoint_every
        {
            j.sync()?;
            since_checkpoint = 0;
            checkpoint_syncs.0 += 1;
            checkpoint_syncs.1 += clock().saturating_sub(t1);
        }
        commit.end_of_cycle(&mut j, t1, clock)?;
        let t2 = clock();
        run.records += n;
        run.cycles += 1;
        run.append_ns += t1 - t0;
        run.cycle_ns += t2 - t0;
        let _ = run.cycle_hist.record((t2 - t0).max(1));
    }
    run.syncs = commit.syncs + checkpoint_syncs.0;
    run.sync_ns = commit.total_ns + checkpoint_syncs.1;
    Ok(run)
}

/// Times of one kind of reference operation.
#[derive(Debug, Clone)]
pub struct RefRun {
    /// What was measured.
    pub what: String,
    /// One sample per operation (ns).
    pub hist: Histogram<u64>,
}

impl RefRun {
    /// Mean (ns).
    pub fn mean(&self) -> f64 {
        self.hist.mean()
    }
}

/// `write(2)` of one 4 KiB page then `fdatasync`, `n` times, timing the `fdatasync` only.
/// `grow`: at the end of a growing file (each sync also commits the new size and block
/// allocation); otherwise over pages written and synced beforehand (data only).
pub fn reference_page_sync(parent: &Path, n: u64, grow: bool) -> Result<RefRun, SyncBenchError> {
    let dir = scratch_dir(parent)?;
    let path = dir.path().join("plain");
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .map_err(io(&path))?;
    let page = [0xa5u8; 4096];
    if !grow {
        for _ in 0..n {
            f.write_all(&page).map_err(io(&path))?;
        }
        f.sync_all().map_err(io(&path))?;
        f.seek(SeekFrom::Start(0)).map_err(io(&path))?;
    }
    let mut h = hist();
    for _ in 0..n {
        f.write_all(&page).map_err(io(&path))?;
        let t = Instant::now();
        f.sync_data().map_err(io(&path))?;
        let _ = h.record((t.elapsed().as_nanos() as u64).max(1));
    }
    Ok(RefRun {
        what: if grow {
            "write 4 KiB at the end of a growing file, fdatasync".into()
        } else {
            "write 4 KiB over written blocks, fdatasync".into()
        },
        hist: h,
    })
}

/// The journal's batches without the mapping: `batch` records' bytes (same sizes, framing
/// included) written with `write(2)` to a plain file sized like a segment (`set_len`, as a
/// segment is created), then `fdatasync`; `cycles` times. One sample per cycle.
pub fn reference_batch_write(
    parent: &Path,
    batch: usize,
    cycles: u64,
) -> Result<RefRun, SyncBenchError> {
    let dir = scratch_dir(parent)?;
    let path = dir.path().join("plain-journal");
    let mut f = File::create(&path).map_err(io(&path))?;
    f.set_len(JournalConfig::default().segment_size)
        .map_err(io(&path))?;
    f.sync_all().map_err(io(&path))?;
    let buf = vec![0x5au8; 256 * batch.max(1)];
    let mut h = hist();
    let mut i = 0u64;
    for _ in 0..cycles {
        let bytes: usize = (0..batch as u64)
            .map(|k| record_size(payload_len(i + k)))
            .sum();
        i += batch as u64;
        let t = Instant::now();
        f.write_all(&buf[..bytes]).map_err(io(&path))?;
        f.sync_data().map_err(io(&path))?;
        let _ = h.record((t.elapsed().as_nanos() as u64).max(1));
    }
    Ok(RefRun {
        what: format!("write(2) {batch} records' bytes + fdatasync (plain file)"),
        hist: h,
    })
}
