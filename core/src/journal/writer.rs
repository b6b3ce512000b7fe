//! [`Journal`]: opening with recovery, appending, flushing, rolling over, replaying.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use memmap2::MmapMut;

use super::error::{io_err, JournalError};
use super::format::{
    encode_record, record_size, segment_file_name, SegmentHeader, RECORD_HEADER_LEN,
    SEGMENT_HEADER_LEN,
};
use super::reader::Records;
use super::scan::{map_file, scan, Access, Map, RecoveryReport, Segment, SegmentSummary};

/// When appends are written back to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlushPolicy {
    /// Only when [`Journal::flush`] or [`Journal::sync`] is called (and at segment rollover).
    /// Appends survive the process being killed (they are in the page cache), not power loss.
    #[default]
    Manual,
    /// Start writing each record back as it is appended (`msync(MS_ASYNC)` of its pages).
    AsyncEachAppend,
    /// Wait until each record is on disk before `append` returns (`msync(MS_SYNC)`).
    SyncEachAppend,
}

/// Journal settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalConfig {
    /// Size of each new segment file in bytes (existing segments keep theirs).
    pub segment_size: u64,
    /// When appends reach the disk.
    pub flush: FlushPolicy,
    /// Sequence number of the first record of a journal created empty (at least 1).
    pub first_seq: u64,
    /// Touch every page of a segment ahead of the write position when it is created or opened,
    /// so appends never take a page fault (the cost moves to rollover and open).
    pub prefault: bool,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            segment_size: 64 << 20,
            flush: FlushPolicy::Manual,
            first_seq: 1,
            prefault: true,
        }
    }
}

/// The segment being appended to.
struct Active {
    summary: SegmentSummary,
    map: MmapMut,
    /// Bytes before this offset have been handed to `msync` (either kind): where the next
    /// [`Journal::flush`] starts.
    flushed: usize,
    /// Bytes before this offset are on disk (an `msync(MS_SYNC)` of them returned): where the
    /// next [`Journal::sync`] starts. Never ahead of `flushed`.
    durable: usize,
}

/// An open, writable journal (one writer per directory).
pub struct Journal {
    dir: PathBuf,
    config: JournalConfig,
    sealed: Vec<Segment>,
    active: Active,
    next_seq: u64,
    /// Sequence number of the last record known to be on disk (`first_seq - 1`: none).
    synced_seq: u64,
    /// Opened by [`Journal::open_private`]: nothing reaches the files.
    private: bool,
}

/// How [`Journal::open_mode`] treats the directory.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// Create the directory and the first segment if needed.
    Create,
    /// Existing segments only, continuing from `after_seq`.
    Existing { after_seq: u64 },
    /// As `Existing`, copy-on-write.
    Private { after_seq: u64 },
}

/// Refuses a journal without segments, or whose records do not continue from `after_seq`
/// (checked on the scan, before anything is written).
fn check_continues(
    dir: &Path,
    segments: &[SegmentSummary],
    after_seq: u64,
) -> Result<(), JournalError> {
    let gap = |why: String| JournalError::Gap {
        dir: dir.to_path_buf(),
        why,
    };
    let (Some(first), Some(last)) = (segments.first(), segments.last()) else {
        return Err(gap(
            "no journal segment (a segment file was removed?)".into()
        ));
    };
    let end = last.first_seq + last.records - 1;
    if end < after_seq {
        return Err(gap(format!(
            "ends at seq {end} ({}), before seq {after_seq} that the checkpoint holds: records \
             were lost (a segment removed or truncated?); refusing to reuse their sequence \
             numbers",
            last.path.display()
        )));
    }
    if first.first_seq > after_seq + 1 {
        return Err(gap(format!(
            "starts at seq {} ({}), after seq {}: the records in between are missing",
            first.first_seq,
            first.path.display(),
            after_seq + 1
        )));
    }
    Ok(())
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("dir", &self.dir)
            .field("config", &self.config)
            .field("segments", &(self.sealed.len() + 1))
            .field("active", &self.active.summary)
            .field("next_seq", &self.next_seq)
            .field("synced_seq", &self.synced_seq)
            .finish()
    }
}

impl Journal {
    /// Opens (creating if needed) the journal in `dir`: checks every segment, cuts a torn tail
    /// (reported in the [`RecoveryReport`]), removes leftover temporary files, and positions
    /// the writer after the last valid record. Damage other than a torn tail is an error.
    pub fn open(
        dir: &Path,
        config: JournalConfig,
    ) -> Result<(Journal, RecoveryReport), JournalError> {
        Self::open_mode(dir, config, Mode::Create)
    }

    /// Opens an existing journal for appending after records up to `after_seq` were applied
    /// elsewhere (a checkpoint): like [`open`](Self::open), but a directory without a segment,
    /// or whose records do not continue from `after_seq` (a gap), is refused before anything
    /// is created, cut or removed.
    pub fn open_existing(
        dir: &Path,
        config: JournalConfig,
        after_seq: u64,
    ) -> Result<(Journal, RecoveryReport), JournalError> {
        Self::open_mode(dir, config, Mode::Existing { after_seq })
    }

    /// Opens an existing journal without ever changing its files: as
    /// [`open_existing`](Self::open_existing), but the final segment is mapped copy-on-write,
    /// so cutting a torn tail and appending happen in memory only, nothing is synced,
    /// temporary files stay, and a rollover (a new segment file) is refused. For commands that
    /// only read a state directory but replay it through the engine.
    pub fn open_private(
        dir: &Path,
        config: JournalConfig,
        after_seq: u64,
    ) -> Result<(Journal, RecoveryReport), JournalError> {
        Self::open_mode(dir, config, Mode::Private { after_seq })
    }

    fn open_mode(
        dir: &Path,
        config: JournalConfig,
        mode: Mode,
    ) -> Result<(Journal, RecoveryReport), JournalError> {
        let min = (SEGMENT_HEADER_LEN + RECORD_HEADER_LEN + 8) as u64;
        if config.segment_size < min || config.segment_size > 1 << 40 {
            return Err(JournalError::BadConfig(format!(
                "segment_size {} must be between {min} and 2^40",
                config.segment_size
            )));
        }
        if config.first_seq == 0 {
            return Err(JournalError::BadConfig(
                "first_seq must be at least 1".into(),
            ));
        }
        let private = matches!(mode, Mode::Private { .. });
        let access = match mode {
            Mode::Create => {
                std::fs::create_dir_all(dir)
                    .map_err(io_err(dir, "creating the journal directory"))?;
                Access::ReadWrite
            }
            Mode::Existing { .. } => Access::ReadWrite,
            Mode::Private { .. } => Access::Private,
        };
        if !matches!(mode, Mode::Create) && !dir.is_dir() {
            return Err(JournalError::Gap {
                dir: dir.to_path_buf(),
                why: "no journal directory".into(),
            });
        }
        let mut s = scan(dir, access)?;
        if let Some(c) = s.report.corruption.take() {
            return Err(JournalError::Corrupt(c));
        }
        if let Mode::Existing { after_seq } | Mode::Private { after_seq } = mode {
            check_continues(dir, &s.report.segments, after_seq)?;
        }
        if !private {
            for t in &s.report.temp_files {
                std::fs::remove_file(t).map_err(io_err(t, "removing a temporary file"))?;
            }
        }
        let mut active = match s.segments.pop() {
            None => create_segment(dir, 1, config.first_seq, config.segment_size)?,
            Some(seg) => {
                let Map::ReadWrite(mut map) = seg.map else {
                    return Err(JournalError::BadConfig(
                        "final segment mapped read-only".into(),
                    ));
                };
                let path = seg.summary.path.clone();
                if let Some((from, to)) = s.cut {
                    map[from..to].fill(0);
                    if !private {
                        map.flush().map_err(io_err(&path, "syncing the cut tail"))?;
                    }
                }
                if !private && (map.len() as u64) < seg.summary.size {
                    // A truncated final segment (reported in the torn tail): give it back its
                    // size, zero-filled, and map it whole.
                    drop(map);
                    let file = OpenOptions::new()
                        .read(true)
                        .write(true)
                        .open(&path)
                        .map_err(io_err(&path, "opening a segment"))?;
                    file.set_len(seg.summary.size)
                        .map_err(io_err(&path, "extending a short segment"))?;
                    file.sync_all()
                        .map_err(io_err(&path, "syncing a segment"))?;
                    let Map::ReadWrite(m) = map_file(&file, &path, true)? else {
                        return Err(JournalError::BadConfig("segment mapped read-only".into()));
                    };
                    map = m;
                }
                Active {
                    summary: seg.summary,
                    map,
                    // The records found may be in the page cache only (a writer killed before
                    // its sync): nothing is known durable until the sync below.
                    flushed: SEGMENT_HEADER_LEN,
                    durable: SEGMENT_HEADER_LEN,
                }
            }
        };
        if config.prefault && !private {
            prefault(&mut active.map, active.summary.end as usize);
        }
        let next_seq = active.summary.first_seq + active.summary.records;
        // Sealed segments were synced before their successor was created (`roll`).
        let synced_seq = active.summary.first_seq - 1;
        let mut j = Journal {
            dir: dir.to_path_buf(),
            config,
            sealed: s.segments,
            active,
            next_seq,
            synced_seq,
            private,
        };
        // What a killed writer left in the page cache is about to be acted on (recovery
        // replays it, a restarted daemon sends the orders it holds): make it durable first, so
        // `synced_seq` is true from the start. One msync of the final segment's records, once.
        j.sync()?;
        Ok((j, s.report))
    }

    /// Appends one record and returns its sequence number. The record is complete in the
    /// mapping when this returns (and on disk as the [`FlushPolicy`] says).
    #[inline]
    pub fn append(&mut self, kind: u16, payload: &[u8]) -> Result<u64, JournalError> {
        if payload.len() > u32::MAX as usize {
            let max = (self.config.segment_size as usize - SEGMENT_HEADER_LEN - RECORD_HEADER_LEN)
                .min(u32::MAX as usize);
            return Err(JournalError::RecordTooLarge {
                len: payload.len(),
                max,
            });
        }
        let total = record_size(payload.len());
        let mut start = self.active.summary.end as usize;
        if start + total > self.active.map.len() {
            self.roll(payload.len())?;
            start = self.active.summary.end as usize;
        }
        let seq = self.next_seq;
        let next = seq.checked_add(1).ok_or(JournalError::SeqOverflow)?;
        let buf = &mut self.active.map[start..start + total];
        encode_record(buf, seq, kind, payload);
        self.active.summary.end += total as u64;
        self.active.summary.records += 1;
        self.next_seq = next;
        match self.config.flush {
            FlushPolicy::Manual => {}
            FlushPolicy::AsyncEachAppend => self.flush()?,
            FlushPolicy::SyncEachAppend => self.sync()?,
        }
        Ok(seq)
    }

    /// Starts writing every appended record back to disk (`msync(MS_ASYNC)` of the bytes
    /// written since the last flush or sync). Says nothing about when they arrive: only
    /// [`sync`](Self::sync) moves [`synced_seq`](Self::synced_seq).
    pub fn flush(&mut self) -> Result<(), JournalError> {
        let a = &mut self.active;
        let end = a.summary.end as usize;
        if end > a.flushed && !self.private {
            a.map
                .flush_async_range(a.flushed, end - a.flushed)
                .map_err(io_err(&a.summary.path, "msync(MS_ASYNC)"))?;
            a.flushed = end;
        }
        Ok(())
    }

    /// Waits until every appended record is on disk; afterwards
    /// [`synced_seq`](Self::synced_seq) is [`last_seq`](Self::last_seq). A no-op when nothing
    /// was appended since the last sync.
    ///
    /// This is `msync(MS_SYNC)` of the bytes written since the last sync
    /// ([`MmapMut::flush_range`], which rounds the start down to its page), not `fdatasync` of
    /// the file:
    /// - the records were written through the shared mapping, so the dirty pages are the
    ///   file's own page-cache pages; on Linux `msync(MS_SYNC)` of a shared file mapping is
    ///   `vfs_fsync_range(file, start, end, datasync = 1)`, i.e. `fdatasync` restricted to that
    ///   range, with the same guarantee (the data, the metadata needed to read it back, and a
    ///   flush of the device's write cache);
    /// - `fdatasync` would also write back every other dirty page of the 64 MiB segment, and
    ///   the prefault (`JournalConfig::prefault`) dirties all of them ahead of the write position (a zero byte per page),
    ///   so the first `fdatasync` of a segment would write megabytes of zeros that nobody needs
    ///   on disk yet, on the path of an order;
    /// - POSIX only promises `msync` for data written through a mapping; `fdatasync` covering
    ///   mmap writes is a Linux behaviour.
    ///
    /// Records in sealed segments were synced when their segment was sealed.
    pub fn sync(&mut self) -> Result<(), JournalError> {
        let a = &mut self.active;
        let end = a.summary.end as usize;
        if end > a.durable && !self.private {
            a.map
                .flush_range(a.durable, end - a.durable)
                .map_err(io_err(&a.summary.path, "msync(MS_SYNC)"))?;
            a.durable = end;
            a.flushed = a.flushed.max(end);
        }
        self.synced_seq = self.next_seq - 1;
        Ok(())
    }

    /// Sequence number of the last record known to be on disk: every record up to it survives
    /// a power loss or an OS crash (records after it survive the process being killed, not
    /// those). Moved by [`sync`](Self::sync) (and by what calls it: segment rollover,
    /// `FlushPolicy::SyncEachAppend`, opening). `first_seq() - 1` while no record is.
    pub fn synced_seq(&self) -> u64 {
        self.synced_seq
    }

    /// True if records were appended since the last [`sync`](Self::sync).
    pub fn has_unsynced(&self) -> bool {
        self.synced_seq + 1 < self.next_seq
    }

    /// Seals the active segment (synced) and starts the next one.
    fn roll(&mut self, len: usize) -> Result<(), JournalError> {
        let size = self.config.segment_size;
        let max = size as usize - SEGMENT_HEADER_LEN - RECORD_HEADER_LEN;
        if len > max || len > u32::MAX as usize {
            return Err(JournalError::RecordTooLarge { len, max });
        }
        if self.private {
            return Err(JournalError::BadConfig(format!(
                "{}: opened read-only (copy-on-write), a new segment cannot be created",
                self.dir.display()
            )));
        }
        self.sync()?;
        let next = create_segment(
            &self.dir,
            self.active.summary.index + 1,
            self.next_seq,
            size,
        )?;
        let old = std::mem::replace(&mut self.active, next);
        self.sealed.push(Segment {
            summary: old.summary,
            map: Map::ReadWrite(old.map),
        });
        Ok(())
    }

    /// The records with sequence number `>= from_seq`, in order (for replay: pass the account
    /// store's last applied sequence plus one).
    pub fn records(&self, from_seq: u64) -> Records<'_> {
        let mut segs: Vec<_> = self
            .sealed
            .iter()
            .map(|s| (&s.summary, s.map.bytes()))
            .collect();
        segs.push((&self.active.summary, &self.active.map[..]));
        Records::new(segs, from_seq)
    }

    /// The sequence number the next append will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Sequence number of the last record, if any.
    pub fn last_seq(&self) -> Option<u64> {
        (self.next_seq > self.first_seq()).then(|| self.next_seq - 1)
    }

    /// Sequence number of the first record the journal holds (or will hold).
    pub fn first_seq(&self) -> u64 {
        self.sealed
            .first()
            .map_or(self.active.summary.first_seq, |s| s.summary.first_seq)
    }

    /// The segments, oldest first.
    pub fn segments(&self) -> Vec<SegmentSummary> {
        let mut v: Vec<_> = self.sealed.iter().map(|s| s.summary.clone()).collect();
        v.push(self.active.summary.clone());
        v
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Deletes sealed segments whose every record is below `seq` (after a store checkpoint
    /// that applied them). Returns how many were removed. The active segment always stays.
    pub fn prune_before(&mut self, seq: u64) -> Result<usize, JournalError> {
        if self.private {
            return Ok(0);
        }
        let n = self
            .sealed
            .iter()
            .take_while(|s| s.summary.first_seq + s.summary.records <= seq)
            .count();
        for s in self.sealed.drain(..n) {
            std::fs::remove_file(&s.summary.path).map_err(io_err(&s.summary.path, "pruning"))?;
        }
        sync_dir(&self.dir)?;
        Ok(n)
    }
}

/// Writes one zero byte per page from `from` on (bytes there are zero already: the segment is
/// pre-zeroed and a cut tail is zeroed), so the kernel maps every page writable and allocates
/// its blocks now rather than on the append that first touches it.
fn prefault(map: &mut MmapMut, from: usize) {
    const PAGE: usize = 4096;
    let mut at = from.next_multiple_of(PAGE);
    while at < map.len() {
        map[at] = 0;
        at += PAGE;
    }
}

fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir, "syncing the directory"))
}

/// Creates a pre-sized, zeroed segment with its header, crash-safely (temporary file, fsync,
/// rename, directory fsync), and maps it.
fn create_segment(
    dir: &Path,
    index: u64,
    first_seq: u64,
    size: u64,
) -> Result<Active, JournalError> {
    let name = segment_file_name(index);
    let path = dir.join(&name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let header = SegmentHeader::new(index, first_seq, size);
    let write = || -> Result<(), JournalError> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io_err(&tmp, "creating a segment"))?;
        f.set_len(size).map_err(io_err(&tmp, "sizing a segment"))?;
        f.write_all(bytemuck::bytes_of(&header))
            .map_err(io_err(&tmp, "writing a segment header"))?;
        f.sync_all().map_err(io_err(&tmp, "syncing a segment"))
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if path.exists() {
        let _ = std::fs::remove_file(&tmp);
        return Err(JournalError::Io {
            path,
            what: "creating a segment",
            error: std::io::Error::from(std::io::ErrorKind::AlreadyExists),
        });
    }
    std::fs::rename(&tmp, &path).map_err(io_err(&path, "renaming a new segment"))?;
    sync_dir(dir)?;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(io_err(&path, "opening a segment"))?;
    let Map::ReadWrite(map) = map_file(&file, &path, true)? else {
        return Err(JournalError::BadConfig("segment mapped read-only".into()));
    };
    Ok(Active {
        summary: SegmentSummary {
            index,
            path,
            first_seq,
            records: 0,
            end: SEGMENT_HEADER_LEN as u64,
            size,
        },
        map,
        flushed: SEGMENT_HEADER_LEN,
        durable: SEGMENT_HEADER_LEN,
    })
}
