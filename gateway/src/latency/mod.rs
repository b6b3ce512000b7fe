//! Latency recording: per-stage HdrHistogram recorders, HdrHistogram interval logs (`.hlog`)
//! and percentile tables in the `.hgrm` layout HdrHistogram's plotter reads.
//!
//! Values are nanoseconds unless a caller says otherwise. Every histogram is allocated when the
//! recorder is built; recording is a bounds check and an increment, never an allocation.
//!
//! # Coordinated omission
//!
//! A load generator that waits for a slow reply before sending the next order silently skips the
//! samples that would have seen the stall: the histogram looks better than the system is. Two
//! corrections are offered:
//!
//! - **Intended send time** (preferred, what `mam fix order --rate` does): the generator computes
//!   when each order *should* have left (`start + i × interval`) and the round trip is recorded as
//!   `ack_ns - intended_ns` ([`StageRecorders::record_since_intended`]). If the sender fell
//!   behind, the delay it suffered is counted in every sample it delayed.
//! - **Expected interval** ([`StageRecorders::record_corrected`]): HdrHistogram's own
//!   `record_correct`, which back-fills the samples a stall of `value` would have hidden given
//!   an expected interval between samples. Use it only when no intended time is known.

mod hgrm;
mod hlog;
mod stage;
mod tap;

pub use hgrm::{write_hgrm, HgrmOptions};
pub use hlog::{read_hlog, HlogInterval, HlogReadout, IntervalLogWriter};
pub use stage::{new_histogram, Stage, StageRecorders, HIGHEST_TRACKABLE_NS, SIGNIFICANT_DIGITS};
pub use tap::{mono_ns, LatencyTap};

use std::path::PathBuf;

use thiserror::Error;

/// Why a latency operation failed.
#[derive(Debug, Error)]
pub enum LatencyError {
    /// The histogram could not be created with the requested bounds.
    #[error("cannot create histogram: {0:?}")]
    Create(hdrhistogram::CreationError),
    /// A value lies outside the recorder's trackable range.
    #[error("stage {stage}: value {value} ns is outside the trackable range")]
    OutOfRange {
        /// Stage name.
        stage: &'static str,
        /// Value that was refused.
        value: u64,
    },
    /// An interval tag contains a character the log format forbids (',', ' ', CR, LF).
    #[error("invalid interval-log tag {0:?} (no ',', ' ', CR or LF allowed)")]
    BadTag(String),
    /// File I/O failed.
    #[error("{path}: {source}")]
    Io {
        /// File involved.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The interval log is not in the HdrHistogram log format.
    #[error("{path}: not an HdrHistogram interval log at byte {offset}")]
    Parse {
        /// File involved.
        path: PathBuf,
        /// Byte offset where parsing failed.
        offset: usize,
    },
    /// One interval's histogram payload could not be decoded.
    #[error("{path}: interval {index}: {what}")]
    Decode {
        /// File involved.
        path: PathBuf,
        /// 0-based interval index.
        index: usize,
        /// What was wrong.
        what: String,
    },
    /// Serializing a histogram failed.
    #[error("cannot serialize histogram: {0}")]
    Serialize(String),
    /// Two histograms could not be merged.
    #[error("cannot merge histograms: {0:?}")]
    Merge(hdrhistogram::AdditionError),
}
