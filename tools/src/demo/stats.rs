//! Latency histograms (HdrHistogram, ns, 3 significant digits) and their summary.

use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// A histogram for 1 ns .. 60 s.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid histogram bounds")
}

/// Count and percentiles in ns.
pub fn percentiles(h: &Histogram<u64>) -> Value {
    json!({
        "count": h.len(),
        "p50": h.value_at_quantile(0.50),
        "p90": h.value_at_quantile(0.90),
        "p99": h.value_at_quantile(0.99),
        "p999": h.value_at_quantile(0.999),
        "max": h.max(),
    })
}

/// One readable line: `count p50 p90 p99 p99.9 max` in µs.
pub fn line(name: &str, h: &Histogram<u64>) -> String {
    let us = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    format!(
        "  {name:<42} n={:<9} p50={:>9.2}µs p90={:>9.2}µs p99={:>9.2}µs p99.9={:>9.2}µs max={:>10.2}µs",
        h.len(),
        us(0.5),
        us(0.9),
        us(0.99),
        us(0.999),
        h.max() as f64 / 1000.0
    )
}
