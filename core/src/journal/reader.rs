//! Reading records back: the replay iterator and a read-only [`JournalReader`] that verifies
//! without changing anything.

use std::path::{Path, PathBuf};

use super::error::{Corruption, JournalError};
use super::format::{decode_at, record_size, Record, SEGMENT_HEADER_LEN};
use super::scan::{scan, Access, ScanReport, Segment, SegmentSummary};

/// Records in sequence order from some sequence number on (see
/// [`Journal::records`](super::Journal::records) and [`JournalReader::records`]).
///
/// Each record's CRC is checked again as it is read; a failure (the files changed under the
/// reader) is returned as [`JournalError::Corrupt`] and ends the iteration.
#[derive(Debug)]
pub struct Records<'a> {
    segs: Vec<(&'a SegmentSummary, &'a [u8])>,
    i: usize,
    at: usize,
    seq: u64,
    from: u64,
}

impl<'a> Records<'a> {
    pub(super) fn new(segs: Vec<(&'a SegmentSummary, &'a [u8])>, from: u64) -> Self {
        Records {
            segs,
            i: 0,
            at: 0,
            seq: 0,
            from,
        }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let &(s, bytes) = self.segs.get(self.i)?;
            if self.at == 0 {
                if s.first_seq + s.records <= self.from {
                    self.i += 1; // every record of this segment is before `from`
                    continue;
                }
                self.at = SEGMENT_HEADER_LEN;
                self.seq = s.first_seq;
            }
            if self.at >= s.end as usize {
                self.i += 1;
                self.at = 0;
                continue;
            }
            match decode_at(bytes, self.at, self.seq) {
                Ok(Some(r)) => {
                    self.at += record_size(r.payload.len());
                    self.seq += 1;
                    if r.seq >= self.from {
                        return Some(Ok(r));
                    }
                }
                other => {
                    let problem = match other {
                        Err(p) => p,
                        _ => super::format::Problem::PartialHeader { remaining: 0 },
                    };
                    let e = JournalError::Corrupt(Corruption {
                        segment: s.path.clone(),
                        offset: self.at as u64,
                        problem,
                        valid_record_at: None,
                    });
                    self.i = self.segs.len();
                    return Some(Err(e));
                }
            }
        }
    }
}

/// A read-only view of a journal directory: verifies every segment and reads the valid
/// records, never changing a byte (a torn tail is reported, not cut).
#[derive(Debug)]
pub struct JournalReader {
    dir: PathBuf,
    segments: Vec<Segment>,
    report: ScanReport,
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.summary.fmt(f)
    }
}

impl JournalReader {
    /// Maps and checks every segment in `dir`. Damage is reported in [`report`](Self::report),
    /// not returned as an error; only I/O failures are errors.
    pub fn open(dir: &Path) -> Result<Self, JournalError> {
        let s = scan(dir, Access::ReadOnly)?;
        Ok(JournalReader {
            dir: dir.to_path_buf(),
            segments: s.segments,
            report: s.report,
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What the check found.
    pub fn report(&self) -> &ScanReport {
        &self.report
    }

    /// The valid records with sequence number `>= from_seq` (up to a torn tail or corruption).
    pub fn records(&self, from_seq: u64) -> Records<'_> {
        Records::new(
            self.segments
                .iter()
                .map(|s| (&s.summary, s.map.bytes()))
                .collect(),
            from_seq,
        )
    }
}
