//! The host's monotonic clock for edge stamps; [`LatencyTap`] lives in `mam_core` (the engine
//! stage publishes to it too) and is re-exported here.

pub use mam_core::pipeline::tap::LatencyTap;

/// The host's monotonic clock in ns (Linux `CLOCK_MONOTONIC`: comparable across threads and
/// processes of one host; the same clock as `mam_feed::recv::sys::mono_ns`).
pub fn mono_ns() -> u64 {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }
    #[cfg(not(unix))]
    {
        use std::sync::OnceLock;
        static START: OnceLock<std::time::Instant> = OnceLock::new();
        START
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_nanos() as u64
    }
}
