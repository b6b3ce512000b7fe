//! What the daemon's stats thread hands the admin server each latency interval: the edge
//! counters and a summary of every latency histogram (run totals and the last interval), so the
//! server never touches a histogram the stats thread is writing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;

/// Upper bounds of the Prometheus histogram buckets, in nanoseconds (1 µs to 10 s, 1-2-5).
pub const BUCKETS_NS: [u64; 22] = [
    1_000,
    2_000,
    5_000,
    10_000,
    20_000,
    50_000,
    100_000,
    200_000,
    500_000,
    1_000_000,
    2_000_000,
    5_000_000,
    10_000_000,
    20_000_000,
    50_000_000,
    100_000_000,
    200_000_000,
    500_000_000,
    1_000_000_000,
    2_000_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// One histogram, summarised.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencySummary {
    /// Values recorded.
    pub count: u64,
    /// Σ values (ns), from the histogram's buckets (each value at its bucket's middle).
    pub sum_ns: u128,
    /// Median, 90th, 99th, 99.9th percentile and maximum (ns).
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Maximum.
    pub max: u64,
    /// Cumulative counts at [`BUCKETS_NS`] (the Prometheus `le` buckets).
    pub buckets: Vec<u64>,
}

impl LatencySummary {
    /// Summarises `h`.
    pub fn of(h: &Histogram<u64>) -> Self {
        let mut sum: u128 = 0;
        for v in h.iter_recorded() {
            sum += u128::from(h.median_equivalent(v.value_iterated_to()))
                * u128::from(v.count_at_value());
        }
        // Each recorded bucket counted once, at its highest equivalent value (what the .hgrm
        // tables print), then accumulated: Prometheus buckets are cumulative.
        let mut buckets = vec![0u64; BUCKETS_NS.len()];
        for v in h.iter_recorded() {
            let x = v.value_iterated_to();
            if let Some(i) = BUCKETS_NS.iter().position(|&b| x <= b) {
                buckets[i] += v.count_at_value();
            }
        }
        for i in 1..buckets.len() {
            buckets[i] += buckets[i - 1];
        }
        LatencySummary {
            count: h.len(),
            sum_ns: sum,
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            buckets,
        }
    }
}

/// The stats thread's latest figures.
#[derive(Debug, Clone, Default)]
pub struct LiveStats {
    /// Edge counters (session state, reconnects, rejects), by name.
    pub edges: Vec<(&'static str, u64)>,
    /// Per metric: the whole run.
    pub totals: BTreeMap<&'static str, LatencySummary>,
    /// Per metric: the last latency interval.
    pub last: BTreeMap<&'static str, LatencySummary>,
    /// Latency intervals logged so far.
    pub intervals: u64,
}

/// Shared between the stats thread (writer, once per interval) and the admin server.
pub type SharedLive = Arc<Mutex<LiveStats>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_end_at_the_count() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3).unwrap();
        for v in [
            900,
            1_000,
            1_001,
            4_999,
            5_000,
            5_001,
            2_000_000,
            20_000_000_000,
        ] {
            h.record(v).unwrap();
        }
        let s = LatencySummary::of(&h);
        assert_eq!(s.count, 8);
        // ≤ 1 µs: 900 and 1000; ≤ 2 µs: + 1001; ≤ 5 µs: + 4999 only. At 3 significant digits
        // values from 4096 on share buckets 4 ns wide: 5000 and 5001 both sit in 5000..=5003,
        // counted at 5003 (the conservative side), so above 5 µs.
        assert_eq!(&s.buckets[..3], &[2, 3, 4]);
        assert!(s.buckets.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(
            *s.buckets.last().unwrap(),
            7,
            "20 s is above the last bucket (+Inf only)"
        );
        assert_eq!(s.max, h.max());
    }
}
