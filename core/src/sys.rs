//! The host's clocks, the repository's one platform fence for them (mio's `sys` style): the
//! feed, the gateway, the tools and the benchmarks all stamp with these, so stamps taken in
//! different crates (or, on Linux, different processes of one host) compare.

/// Monotonic clock in ns. Linux: `CLOCK_MONOTONIC`, comparable across threads and processes of
/// one host (the daemon's edge stamps and a benchmark harness's). Elsewhere: ns since the first
/// call in this process, comparable within the process only.
#[cfg(target_os = "linux")]
#[inline]
pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).wrapping_mul(1_000_000_000) + ts.tv_nsec as u64
}

/// Monotonic clock in ns since the first call in this process (not Linux).
#[cfg(not(target_os = "linux"))]
#[inline]
pub fn mono_ns() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static T0: OnceLock<Instant> = OnceLock::new();
    T0.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Wall-clock UTC time in ns since the Unix epoch (0 for a clock set before 1970). Never for
/// an engine decision: those take the input's event time, so replays are exact.
pub fn utc_now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    #[test]
    fn clocks_move_forward() {
        let (a, b) = (super::mono_ns(), super::mono_ns());
        assert!(b >= a);
        // After 2020-01-01 (a machine with a sane clock).
        assert!(super::utc_now_ns() > 1_577_836_800_000_000_000);
    }
}
