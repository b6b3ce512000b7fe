//! Journal errors and the findings of a scan.

use std::path::PathBuf;

use thiserror::Error;

use super::format::Problem;

/// Damage that is not a torn tail: in a non-final segment, or followed by valid records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corruption {
    /// The segment file.
    pub segment: PathBuf,
    /// Byte offset of the damaged record (or of the header, 0).
    pub offset: u64,
    /// What is wrong there.
    pub problem: Problem,
    /// A valid record found after the damage (why it is not a torn tail), if any.
    pub valid_record_at: Option<u64>,
}

impl std::fmt::Display for Corruption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} offset {}: {}",
            self.segment.display(),
            self.offset,
            self.problem
        )?;
        if self.valid_record_at.is_none()
            && matches!(
                self.problem,
                Problem::BadCrc { .. } | Problem::BadReserved | Problem::LengthOutOfBounds { .. }
            )
        {
            write!(
                f,
                " (a complete record: its CRC, written last, is there, so this is damage, not \
                 a torn write; nothing was changed)"
            )?;
        }
        if let Some(at) = self.valid_record_at {
            write!(
                f,
                " (a valid record follows at offset {at}, so this is not a torn tail)"
            )?;
        }
        Ok(())
    }
}

/// A torn or corrupt tail at the end of the final segment: never applied, and cut on open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The segment file.
    pub segment: PathBuf,
    /// Byte offset where the valid data ends and the damage begins.
    pub offset: u64,
    /// What was wrong there.
    pub problem: Problem,
    /// Bytes from `offset` to the last non-zero byte (what cutting zeroes).
    pub bytes_cut: u64,
    /// If the file was shorter than its header declares: its length (it is extended with zeros).
    pub short_file_len: Option<u64>,
}

impl std::fmt::Display for TornTail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "torn tail in {} at offset {}: {}; {} bytes cut",
            self.segment.display(),
            self.offset,
            self.problem,
            self.bytes_cut
        )?;
        if let Some(len) = self.short_file_len {
            write!(f, " (file was truncated to {len} bytes)")?;
        }
        Ok(())
    }
}

/// A journal error.
#[derive(Debug, Error)]
pub enum JournalError {
    /// The operating system refused a file operation.
    #[error("{}: {what}: {error}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The OS error.
        error: std::io::Error,
    },
    /// The journal is damaged somewhere other than its tail: refusing to guess.
    #[error("journal corrupt: {0}")]
    Corrupt(Corruption),
    /// An existing journal that does not continue from where its checkpoint is (no segment, a
    /// removed or truncated segment): refused before anything was written.
    #[error("journal {}: {why}", dir.display())]
    Gap {
        /// The journal directory.
        dir: PathBuf,
        /// What is missing.
        why: String,
    },
    /// A payload too large for one segment.
    #[error("record payload of {len} bytes exceeds the {max} a segment can hold")]
    RecordTooLarge {
        /// Payload length.
        len: usize,
        /// Largest payload.
        max: usize,
    },
    /// A configuration that cannot work.
    #[error("bad journal configuration: {0}")]
    BadConfig(String),
    /// A sequence number that cannot be represented (the journal is exhausted).
    #[error("sequence number overflow")]
    SeqOverflow,
}

/// Wraps an OS error with the file and what was being done.
pub(super) fn io_err<'a>(
    path: &'a std::path::Path,
    what: &'static str,
) -> impl FnOnce(std::io::Error) -> JournalError + 'a {
    move |error| JournalError::Io {
        path: path.to_path_buf(),
        what,
        error,
    }
}
