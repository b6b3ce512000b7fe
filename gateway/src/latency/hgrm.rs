//! Percentile distributions in the `.hgrm` layout of Java's
//! `AbstractHistogram.outputPercentileDistribution`, which HdrHistogram's plotter
//! (`plotFiles.html`) and `HistogramLogProcessor` produce and read.

use std::io::{self, Write};

use hdrhistogram::Histogram;

/// How to print a distribution.
#[derive(Debug, Clone, Copy)]
pub struct HgrmOptions {
    /// Percentile ticks per half distance to 100 % (Java's default: 5).
    pub ticks_per_half: u32,
    /// Divide every value by this (1.0 = the log's units; 1000.0 = ns printed as µs).
    pub unit_ratio: f64,
}

impl Default for HgrmOptions {
    fn default() -> Self {
        Self {
            ticks_per_half: 5,
            unit_ratio: 1.0,
        }
    }
}

/// Java's `subBucketCount` for a number of significant digits.
fn sub_bucket_count(sigfig: u8) -> u64 {
    let largest = 2 * 10u64.pow(u32::from(sigfig));
    largest.next_power_of_two()
}

/// Writes `hist` as a `.hgrm` table: header, one line per percentile tick, and the
/// `#[Mean ...]`, `#[Max ...]`, `#[Buckets ...]` footer.
pub fn write_hgrm<W: Write>(w: &mut W, hist: &Histogram<u64>, opts: HgrmOptions) -> io::Result<()> {
    let digits = usize::from(hist.sigfig());
    let ratio = opts.unit_ratio;
    writeln!(
        w,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    )?;
    if !hist.is_empty() {
        let mut total = 0u64;
        for v in hist.iter_quantiles(opts.ticks_per_half.max(1)) {
            total += v.count_since_last_iteration();
            let value = v.value_iterated_to() as f64 / ratio;
            let q = v.quantile_iterated_to();
            if q < 1.0 {
                writeln!(
                    w,
                    "{value:12.digits$} {q:2.12} {total:10} {:14.2}",
                    1.0 / (1.0 - q)
                )?;
            } else {
                writeln!(w, "{value:12.digits$} {q:2.12} {total:10}")?;
            }
        }
    }
    let mean = if hist.is_empty() {
        0.0
    } else {
        hist.mean() / ratio
    };
    let stdev = if hist.is_empty() {
        0.0
    } else {
        hist.stdev() / ratio
    };
    writeln!(
        w,
        "#[Mean    = {mean:12.digits$}, StdDeviation   = {stdev:12.digits$}]"
    )?;
    writeln!(
        w,
        "#[Max     = {:12.digits$}, Total count    = {:12}]",
        hist.max() as f64 / ratio,
        hist.len()
    )?;
    writeln!(
        w,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        hist.buckets(),
        sub_bucket_count(hist.sigfig())
    )
}
