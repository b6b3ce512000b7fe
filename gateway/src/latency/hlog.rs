//! HdrHistogram interval logs (`.hlog`): the text format of Java's `HistogramLogWriter`, read by
//! `HistogramLogProcessor`, Python's `hdrh.log.HistogramLogReader` and HdrHistogram's plotter.
//!
//! Layout written here (one line each):
//!
//! ```text
//! #[mam interval log]
//! #[Histogram log format version 1.3]
//! #[StartTime: 1700000000.000 (seconds since epoch)]
//! #[BaseTime: 1700000000.000 (seconds since epoch)]
//! "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
//! Tag=round_trip,0.000,1.000,52.000,HISTFAAAA...
//! ```
//!
//! Interval start stamps are seconds since `BaseTime`; histograms are V2 + DEFLATE ("compressed"
//! cookie `0x1c849304`), base64. The per-line `Interval_Max` column is in the log's own units
//! (mam records nanoseconds; Java's writer divides by 10^6 by default, readers ignore it).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag,
};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

use super::LatencyError;

/// Writes an interval log file, one histogram per interval, flushed after each interval so a
/// crash loses at most the interval being recorded.
pub struct IntervalLogWriter {
    out: BufWriter<File>,
    path: PathBuf,
    serializer: V2DeflateSerializer,
    tag: Option<String>,
    base: SystemTime,
}

impl std::fmt::Debug for IntervalLogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntervalLogWriter")
            .field("path", &self.path)
            .field("tag", &self.tag)
            .finish_non_exhaustive()
    }
}

fn secs(t: SystemTime) -> f64 {
    // Report formatting only; an earlier-than-epoch clock prints as 0.
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

impl IntervalLogWriter {
    /// Creates (truncates) `path` and writes the header with `StartTime` and `BaseTime` = now.
    /// `tag` (e.g. `"round_trip"`) is written on every interval line.
    pub fn create(path: impl AsRef<Path>, tag: Option<&str>) -> Result<Self, LatencyError> {
        Self::create_with_base(path, tag, SystemTime::now())
    }

    /// As [`create`](Self::create) with an explicit start/base time (reproducible files).
    pub fn create_with_base(
        path: impl AsRef<Path>,
        tag: Option<&str>,
        base: SystemTime,
    ) -> Result<Self, LatencyError> {
        if let Some(t) = tag {
            if Tag::new(t).is_none() || t.is_empty() {
                return Err(LatencyError::BadTag(t.to_string()));
            }
        }
        let path = path.as_ref().to_path_buf();
        let io = |source| LatencyError::Io {
            path: path.clone(),
            source,
        };
        let file = File::create(&path).map_err(io)?;
        let mut out = BufWriter::new(file);
        let b = secs(base);
        write!(
            out,
            "#[mam interval log, values in nanoseconds]\n\
             #[Histogram log format version 1.3]\n\
             #[StartTime: {b:.3} (seconds since epoch)]\n\
             #[BaseTime: {b:.3} (seconds since epoch)]\n\
             \"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n"
        )
        .and_then(|_| out.flush())
        .map_err(io)?;
        Ok(Self {
            out,
            path,
            serializer: V2DeflateSerializer::new(),
            tag: tag.map(str::to_string),
            base,
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the interval `[start, end)` (wall-clock times; stored relative to `BaseTime`).
    pub fn write_interval(
        &mut self,
        hist: &Histogram<u64>,
        start: SystemTime,
        end: SystemTime,
    ) -> Result<(), LatencyError> {
        let offset = start.duration_since(self.base).unwrap_or_default();
        let length = end.duration_since(start).unwrap_or_default();
        self.write_interval_offset(hist, offset, length)
    }

    /// Appends an interval starting `offset` after `BaseTime` and lasting `length`.
    pub fn write_interval_offset(
        &mut self,
        hist: &Histogram<u64>,
        offset: Duration,
        length: Duration,
    ) -> Result<(), LatencyError> {
        // The crate's writer emits only the interval line when the builder has no headers.
        let mut w = IntervalLogWriterBuilder::new()
            .begin_log_with(&mut self.out, &mut self.serializer)
            .map_err(|source| LatencyError::Io {
                path: self.path.clone(),
                source,
            })?;
        let tag = self.tag.as_deref().and_then(Tag::new);
        w.write_histogram(hist, offset, length, tag)
            .map_err(|e| LatencyError::Serialize(e.to_string()))?;
        self.out.flush().map_err(|source| LatencyError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

/// One interval read back from a log.
#[derive(Debug, Clone)]
pub struct HlogInterval {
    /// Tag, if the line had one.
    pub tag: Option<String>,
    /// Start, seconds as written (relative to `BaseTime` when the log has one).
    pub start_s: f64,
    /// Length in seconds.
    pub length_s: f64,
    /// The decoded histogram.
    pub hist: Histogram<u64>,
}

/// Everything in an interval log.
#[derive(Debug, Clone, Default)]
pub struct HlogReadout {
    /// `#[StartTime: ...]`, seconds since the epoch.
    pub start_time_s: Option<f64>,
    /// `#[BaseTime: ...]`, seconds since the epoch.
    pub base_time_s: Option<f64>,
    /// Intervals in file order.
    pub intervals: Vec<HlogInterval>,
}

impl HlogReadout {
    /// All intervals added together (an empty histogram with mam's bounds if there are none).
    pub fn merged(&self) -> Result<Histogram<u64>, LatencyError> {
        let mut total = super::new_histogram()?;
        total.auto(true);
        for i in &self.intervals {
            total.add(&i.hist).map_err(LatencyError::Merge)?;
        }
        Ok(total)
    }
}

/// Reads and decodes every interval of the log at `path`.
pub fn read_hlog(path: impl AsRef<Path>) -> Result<HlogReadout, LatencyError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| LatencyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = HlogReadout::default();
    let mut de = Deserializer::new();
    for entry in IntervalLogIterator::new(&bytes) {
        let entry = entry.map_err(|e| {
            let hdrhistogram::serialization::interval_log::LogIteratorError::ParseError { offset } =
                e;
            LatencyError::Parse {
                path: path.to_path_buf(),
                offset,
            }
        })?;
        match entry {
            LogEntry::StartTime(d) => out.start_time_s = Some(d.as_secs_f64()),
            LogEntry::BaseTime(d) => out.base_time_s = Some(d.as_secs_f64()),
            LogEntry::Interval(i) => {
                let index = out.intervals.len();
                let bad = |what: String| LatencyError::Decode {
                    path: path.to_path_buf(),
                    index,
                    what,
                };
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(i.encoded_histogram())
                    .map_err(|e| bad(format!("base64: {e}")))?;
                let hist: Histogram<u64> = de
                    .deserialize(&mut &raw[..])
                    .map_err(|e| bad(format!("histogram: {e:?}")))?;
                out.intervals.push(HlogInterval {
                    tag: i.tag().map(|t| t.as_str().to_string()),
                    start_s: i.start_timestamp().as_secs_f64(),
                    length_s: i.duration().as_secs_f64(),
                    hist,
                });
            }
        }
    }
    Ok(out)
}
