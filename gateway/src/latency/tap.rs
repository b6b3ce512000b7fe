//! The host's monotonic clock for edge stamps; [`LatencyTap`] lives in `mam_core` (the engine
//! stage publishes to it too) and is re-exported here.

pub use mam_core::pipeline::tap::LatencyTap;

/// The host's monotonic clock in ns: one copy, in `mam_core::sys` (Linux `CLOCK_MONOTONIC`,
/// comparable across threads and processes of one host).
pub use mam_core::sys::mono_ns;
