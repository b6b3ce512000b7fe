//! Per-stage recorders: one pre-allocated histogram per stage of the order path.

use hdrhistogram::Histogram;

use super::LatencyError;

/// Highest value a stage histogram tracks: 60 s in nanoseconds (a longer stall is a bug report,
/// not a latency sample).
pub const HIGHEST_TRACKABLE_NS: u64 = 60_000_000_000;
/// Significant decimal digits kept (3: values are exact to 0.1 %).
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// A stage of the order path that gets its own histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Encoding an order into a claimed transport slot.
    Encode = 0,
    /// Committing and flushing the slot onto the wire (the write/send call).
    WireWrite = 1,
    /// From the order leaving (flush returned) to the acknowledgement arriving.
    SendToAck = 2,
    /// Whole round trip: intended send time to acknowledgement (coordinated-omission corrected).
    RoundTrip = 3,
}

impl Stage {
    /// Every stage, in index order.
    pub const ALL: [Stage; 4] = [
        Stage::Encode,
        Stage::WireWrite,
        Stage::SendToAck,
        Stage::RoundTrip,
    ];

    /// Name used as the interval-log tag.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Encode => "encode",
            Stage::WireWrite => "wire_write",
            Stage::SendToAck => "send_to_ack",
            Stage::RoundTrip => "round_trip",
        }
    }
}

/// A histogram with mam's standard bounds: 1 ns to [`HIGHEST_TRACKABLE_NS`], 3 digits.
pub fn new_histogram() -> Result<Histogram<u64>, LatencyError> {
    Histogram::new_with_bounds(1, HIGHEST_TRACKABLE_NS, SIGNIFICANT_DIGITS)
        .map_err(LatencyError::Create)
}

/// One histogram per [`Stage`], all allocated up front.
#[derive(Debug, Clone)]
pub struct StageRecorders {
    hists: [Histogram<u64>; 4],
}

impl StageRecorders {
    /// Allocates the four histograms.
    pub fn new() -> Result<Self, LatencyError> {
        Ok(Self {
            hists: [
                new_histogram()?,
                new_histogram()?,
                new_histogram()?,
                new_histogram()?,
            ],
        })
    }

    /// Records one sample of `ns` for `stage`. Zero is recorded as the lowest bucket (1 ns): a
    /// clock that did not tick still took some time.
    pub fn record(&mut self, stage: Stage, ns: u64) -> Result<(), LatencyError> {
        self.hists[stage as usize]
            .record(ns.max(1))
            .map_err(|_| LatencyError::OutOfRange {
                stage: stage.name(),
                value: ns,
            })
    }

    /// Records `done_ns - intended_ns`: the latency measured from when the load generator meant
    /// to send, so a sender that fell behind is charged for it (coordinated omission corrected).
    /// A `done_ns` before `intended_ns` (clock misuse) records 0.
    pub fn record_since_intended(
        &mut self,
        stage: Stage,
        intended_ns: u64,
        done_ns: u64,
    ) -> Result<(), LatencyError> {
        self.record(stage, done_ns.saturating_sub(intended_ns))
    }

    /// Records `ns` and back-fills the samples a stall of `ns` hid, given the expected interval
    /// between samples (HdrHistogram's `record_correct`). May allocate nothing; costs more the
    /// larger `ns / expected_interval_ns` is.
    pub fn record_corrected(
        &mut self,
        stage: Stage,
        ns: u64,
        expected_interval_ns: u64,
    ) -> Result<(), LatencyError> {
        self.hists[stage as usize]
            .record_correct(ns.max(1), expected_interval_ns)
            .map_err(|_| LatencyError::OutOfRange {
                stage: stage.name(),
                value: ns,
            })
    }

    /// The histogram of `stage`.
    pub fn histogram(&self, stage: Stage) -> &Histogram<u64> {
        &self.hists[stage as usize]
    }

    /// Clears every histogram (start of a new interval) without freeing memory.
    pub fn reset(&mut self) {
        for h in &mut self.hists {
            h.reset();
        }
    }
}
