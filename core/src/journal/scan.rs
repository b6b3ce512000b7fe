//! Finding, mapping and checking every segment of a journal directory.
//!
//! The rule: every record of every non-final segment must be valid and followed only by zeros.
//! In the final segment, the first damaged spot is a *torn tail* if it has the shape of a write
//! that never completed ([`torn_shape`]: no header, a CRC never written, or bytes missing from a
//! short file) and no valid record follows it: it is reported and (when opened for writing)
//! zeroed. A complete record whose CRC fails, and anything else, is [`Corruption`].

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

use memmap2::{Mmap, MmapMut};

use super::error::{io_err, Corruption, JournalError, TornTail};
use super::format::{
    decode_at, parse_segment_file_name, valid_record_after, Problem, SegmentHeader,
    RECORD_HEADER_LEN, SEGMENT_HEADER_LEN, SEGMENT_MAGIC, SEGMENT_VERSION,
};

/// A mapped segment.
pub(super) enum Map {
    ReadOnly(Mmap),
    ReadWrite(MmapMut),
}

impl Map {
    pub(super) fn bytes(&self) -> &[u8] {
        match self {
            Map::ReadOnly(m) => m,
            Map::ReadWrite(m) => m,
        }
    }
}

/// One segment, mapped and checked.
pub(super) struct Segment {
    pub(super) summary: SegmentSummary,
    pub(super) map: Map,
}

/// What a scan found in one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSummary {
    /// Segment number.
    pub index: u64,
    /// File.
    pub path: PathBuf,
    /// Sequence number of its first record.
    pub first_seq: u64,
    /// Valid records.
    pub records: u64,
    /// Offset after the last valid record (the write position).
    pub end: u64,
    /// Size of the file (as declared by its header).
    pub size: u64,
}

/// What opening or verifying a journal found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// The segments, in order, each with its valid records (a corrupt segment is listed
    /// with the records before the damage; those after it are not listed).
    pub segments: Vec<SegmentSummary>,
    /// A torn tail in the final segment (cut when the journal was opened for writing).
    pub torn_tail: Option<TornTail>,
    /// Damage that is not a torn tail (opening for writing refuses it).
    pub corruption: Option<Corruption>,
    /// Leftover temporary files from an interrupted segment creation (removed on open).
    pub temp_files: Vec<PathBuf>,
}

impl ScanReport {
    /// Valid records in all segments.
    pub fn records(&self) -> u64 {
        self.segments.iter().map(|s| s.records).sum()
    }
    /// Sequence number of the first valid record.
    pub fn first_seq(&self) -> Option<u64> {
        let s = self.segments.iter().find(|s| s.records > 0)?;
        Some(s.first_seq)
    }
    /// Sequence number of the last valid record.
    pub fn last_seq(&self) -> Option<u64> {
        let s = self.segments.iter().rev().find(|s| s.records > 0)?;
        Some(s.first_seq + s.records - 1)
    }
}

/// The opening and verification report of a journal.
pub type RecoveryReport = ScanReport;

pub(super) struct Scan {
    pub(super) segments: Vec<Segment>,
    pub(super) report: ScanReport,
    /// For the torn tail: the byte range to zero in the final segment.
    pub(super) cut: Option<(usize, usize)>,
}

fn corrupt(path: &Path, offset: usize, problem: Problem) -> Corruption {
    Corruption {
        segment: path.to_path_buf(),
        offset: offset as u64,
        problem,
        valid_record_at: None,
    }
}

/// Segment files `(index, path)` sorted by index, and leftover temporary files.
type Listing = (Vec<(u64, PathBuf)>, Vec<PathBuf>);

/// Lists segment files (sorted by index) and leftover temporary files.
pub(super) fn list(dir: &Path) -> Result<Listing, JournalError> {
    let mut segs = Vec::new();
    let mut temps = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(io_err(dir, "listing the journal directory"))?;
    for e in rd {
        let e = e.map_err(io_err(dir, "listing the journal directory"))?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(i) = parse_segment_file_name(name) {
            segs.push((i, e.path()));
        } else if name.starts_with(".journal-") && name.ends_with(".tmp") {
            temps.push(e.path());
        }
    }
    segs.sort();
    Ok((segs, temps))
}

/// How the final segment is mapped (the others are always read-only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    /// Read-only (verification, the reader).
    ReadOnly,
    /// Shared read-write: writes reach the file (the writer).
    ReadWrite,
    /// Copy-on-write (`MAP_PRIVATE`): writable in memory, the file never changes (a replay that
    /// must not touch the state directory).
    Private,
}

/// Scans `dir`, mapping the final segment as `access` says; nothing is changed here.
pub(super) fn scan(dir: &Path, access: Access) -> Result<Scan, JournalError> {
    let (files, temps) = list(dir)?;
    let mut out = Scan {
        segments: Vec::new(),
        report: ScanReport {
            temp_files: temps,
            ..ScanReport::default()
        },
        cut: None,
    };
    let mut expected: Option<u64> = None;
    let mut prev_index: Option<u64> = None;
    for (n, (index, path)) in files.iter().enumerate() {
        let last = n + 1 == files.len();
        if let Some(p) = prev_index {
            if *index != p + 1 {
                out.report.corruption =
                    Some(corrupt(path, 0, Problem::MissingSegment { index: p + 1 }));
                break;
            }
        }
        prev_index = Some(*index);
        match scan_segment(path, *index, expected, last, access)? {
            Outcome::BadHeader(c) => {
                out.report.corruption = Some(c);
                break;
            }
            Outcome::Mapped(seg, finding) => {
                expected = Some(seg.summary.first_seq + seg.summary.records);
                out.report.segments.push(seg.summary.clone());
                out.segments.push(seg);
                match finding {
                    None => {}
                    Some(Finding::Torn(tail, range)) => {
                        out.report.torn_tail = Some(tail);
                        out.cut = Some(range);
                    }
                    Some(Finding::Corrupt(c)) => {
                        out.report.corruption = Some(c);
                        break;
                    }
                }
            }
        }
    }
    Ok(out)
}

/// What scanning one segment found.
enum Outcome {
    /// The header (or the file size) is wrong: nothing was mapped.
    BadHeader(Corruption),
    /// The segment, its valid records counted, and any damage after them.
    Mapped(Segment, Option<Finding>),
}

/// Damage after the valid records of a segment.
enum Finding {
    /// A torn tail and the byte range cutting it zeroes.
    Torn(TornTail, (usize, usize)),
    /// Anything else.
    Corrupt(Corruption),
}

fn scan_segment(
    path: &Path,
    index: u64,
    expected: Option<u64>,
    last: bool,
    access: Access,
) -> Result<Outcome, JournalError> {
    let access = if last { access } else { Access::ReadOnly };
    let write = access == Access::ReadWrite;
    let file = OpenOptions::new()
        .read(true)
        .write(write)
        .open(path)
        .map_err(io_err(path, "opening a segment"))?;
    let len = file
        .metadata()
        .map_err(io_err(path, "reading metadata"))?
        .len();
    let mut head = Vec::with_capacity(SEGMENT_HEADER_LEN);
    (&file)
        .take(SEGMENT_HEADER_LEN as u64)
        .read_to_end(&mut head)
        .map_err(io_err(path, "reading the segment header"))?;
    let h = match check_header(&head, index, expected) {
        Ok(h) => h,
        Err(why) => {
            return Ok(Outcome::BadHeader(corrupt(
                path,
                0,
                Problem::BadSegmentHeader(why),
            )))
        }
    };
    let mut short = None;
    if len != h.segment_size {
        if len > h.segment_size || !last {
            let problem = Problem::ShortFile {
                declared: h.segment_size,
                actual: len,
            };
            let at = len.min(h.segment_size) as usize;
            return Ok(Outcome::BadHeader(corrupt(path, at, problem)));
        }
        // A short final file is mapped as it is; `Journal::open` extends it only after the
        // scan has accepted the damage as a torn tail (a refused journal is left untouched).
        short = Some(len);
    }
    let map = if access == Access::Private {
        // SAFETY: as in `map_file`; a private mapping's writes never reach the file.
        let m = unsafe { memmap2::MmapOptions::new().map_copy(&file) };
        Map::ReadWrite(m.map_err(io_err(path, "mapping copy-on-write"))?)
    } else {
        map_file(&file, path, write)?
    };
    let bytes = map.bytes();
    let (mut at, mut records) = (SEGMENT_HEADER_LEN, 0u64);
    let mut seq = h.first_seq;
    let bad = loop {
        match decode_at(bytes, at, seq) {
            Ok(Some(r)) => {
                at += super::format::record_size(r.payload.len());
                records += 1;
                seq += 1;
            }
            Ok(None) => break None,
            Err(p) => break Some(p),
        }
    };
    let written_end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let bad = bad.or_else(|| {
        (written_end > at).then(|| Problem::TrailingGarbage {
            last_nonzero: written_end - 1,
        })
    });
    let bad = match (bad, short) {
        (None, Some(actual)) => Some(Problem::ShortFile {
            declared: h.segment_size,
            actual,
        }),
        (b, _) => b,
    };
    let summary = SegmentSummary {
        index,
        path: path.to_path_buf(),
        first_seq: h.first_seq,
        records,
        end: at as u64,
        size: h.segment_size,
    };
    let finding = bad.map(|problem| {
        let mut c = corrupt(path, at, problem.clone());
        if !last || matches!(problem, Problem::SeqMismatch { .. }) {
            return Finding::Corrupt(c);
        }
        if let Some(v) = valid_record_after(bytes, at + 1, written_end, seq) {
            c.valid_record_at = Some(v as u64);
            return Finding::Corrupt(c);
        }
        if !torn_shape(bytes, at, &problem, h.segment_size) {
            return Finding::Corrupt(c);
        }
        let tail = TornTail {
            segment: path.to_path_buf(),
            offset: at as u64,
            problem,
            bytes_cut: written_end.saturating_sub(at) as u64,
            short_file_len: short,
        };
        Finding::Torn(tail, (at, written_end.max(at)))
    });
    Ok(Outcome::Mapped(Segment { summary, map }, finding))
}

/// True if the damage at `at` can be a write that never completed, given the writer's order
/// (`format::encode_record`: payload and padding, then length, sequence and kind, then the
/// CRC, last, behind a release fence, into a zero-filled segment):
/// - no record header there (all zero, or too few bytes for one) but non-zero bytes after
///   it: a payload whose header was never written;
/// - a stored CRC of zero: the CRC was never written, whatever else the header holds;
/// - a file shorter than its header declares, the record running past the file's end but
///   not past the declared size: its bytes are not all there.
///
/// Anything else is a complete record (its CRC is there, its whole length is on disk) that is
/// wrong: corruption, never cut (a flipped bit in the last record must not silently drop it).
fn torn_shape(bytes: &[u8], at: usize, problem: &Problem, declared: u64) -> bool {
    let stored_crc_zero = bytes.get(at..at + 4).is_some_and(|c| c == [0; 4]);
    match problem {
        Problem::TrailingGarbage { .. } | Problem::PartialHeader { .. } => true,
        Problem::ShortFile { .. } => true,
        Problem::BadCrc { stored, .. } => *stored == 0,
        Problem::BadReserved => stored_crc_zero,
        Problem::LengthOutOfBounds { len, .. } => {
            let end = at as u64 + super::format::record_size(*len as usize) as u64;
            stored_crc_zero || ((bytes.len() as u64) < declared && end <= declared)
        }
        Problem::SeqMismatch { .. }
        | Problem::BadSegmentHeader(_)
        | Problem::MissingSegment { .. } => false,
    }
}

fn check_header(head: &[u8], index: u64, expected: Option<u64>) -> Result<SegmentHeader, String> {
    if head.len() < SEGMENT_HEADER_LEN {
        return Err(format!("file is only {} bytes", head.len()));
    }
    let h: SegmentHeader = bytemuck::pod_read_unaligned(&head[..SEGMENT_HEADER_LEN]);
    if h.magic != SEGMENT_MAGIC {
        return Err(format!("bad magic {:02x?}", h.magic));
    }
    if h.version != SEGMENT_VERSION {
        return Err(format!(
            "version {} (this build reads {SEGMENT_VERSION})",
            h.version
        ));
    }
    if h.crc != h.computed_crc() {
        return Err(format!(
            "header CRC {:#010x}, computed {:#010x}",
            h.crc,
            h.computed_crc()
        ));
    }
    if h.header_len as usize != SEGMENT_HEADER_LEN {
        return Err(format!("header_len {}", h.header_len));
    }
    if h.index != index {
        return Err(format!(
            "header says segment {}, file name says {index}",
            h.index
        ));
    }
    if h.first_seq == 0 {
        return Err("first_seq 0 (sequence numbers start at 1)".into());
    }
    if let Some(e) = expected {
        if h.first_seq != e {
            return Err(format!(
                "first_seq {}, but the previous segment ends before {e}",
                h.first_seq
            ));
        }
    }
    if h.segment_size < (SEGMENT_HEADER_LEN + RECORD_HEADER_LEN) as u64 || h.segment_size > 1 << 40
    {
        return Err(format!("segment_size {}", h.segment_size));
    }
    Ok(h)
}

/// Maps a segment file.
pub(super) fn map_file(file: &File, path: &Path, write: bool) -> Result<Map, JournalError> {
    Ok(if write {
        // SAFETY: mapping is sound only while no other process truncates or writes the file;
        // a journal directory belongs to one writer by contract (docs/storage.md), and every
        // access is bounds-checked against the mapping's length.
        Map::ReadWrite(unsafe { MmapMut::map_mut(file) }.map_err(io_err(path, "mapping"))?)
    } else {
        // SAFETY: as above; readers tolerate a concurrent appender because they only read up
        // to the end they validated, and appends never rewrite bytes before the write position.
        Map::ReadOnly(unsafe { Mmap::map(file) }.map_err(io_err(path, "mapping"))?)
    })
}
