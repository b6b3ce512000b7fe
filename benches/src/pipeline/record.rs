//! The harness side of the measurement: per-figure interval histograms written as `.hlog`
//! interval logs while the run goes, and whole-run totals written as `.hgrm` tables at the end.
//!
//! Two sources feed it: latency samples from the LP edge (over a ring, one `[figure, ns]` per
//! sample) and the histograms the engine stage publishes to its [`LatencyTap`].

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use mam_core::pipeline::{LatencyTap, RingRx};
use mam_gateway::latency::{write_hgrm, HgrmOptions, IntervalLogWriter};

use super::lp_edge::Sample;
use super::{BenchError, Figure};

/// Highest value recorded (1 h in ns: the engine stage's bound, so its histograms add in).
const HIGHEST_NS: u64 = 3_600_000_000_000;

/// An empty histogram with the bounds every figure uses.
pub fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_NS, 3).expect("constant bounds are valid")
}

/// Percentiles of one figure over the whole measured run (ns).
#[derive(Debug, Clone)]
pub struct FigureSummary {
    /// File-name and JSON key of the figure.
    pub name: String,
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest sample.
    pub max: u64,
    /// Mean.
    pub mean: f64,
    /// The interval log.
    pub hlog: PathBuf,
    /// The percentile table.
    pub hgrm: PathBuf,
}

impl FigureSummary {
    /// Summarises `h`.
    pub fn of(name: &str, h: &Histogram<u64>, hlog: PathBuf, hgrm: PathBuf) -> Self {
        let q = |x: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(x)
            }
        };
        FigureSummary {
            name: name.to_string(),
            count: h.len(),
            p50: q(0.50),
            p90: q(0.90),
            p99: q(0.99),
            p999: q(0.999),
            max: h.max(),
            mean: if h.is_empty() { 0.0 } else { h.mean() },
            hlog,
            hgrm,
        }
    }
}

struct Series {
    interval: Histogram<u64>,
    total: Histogram<u64>,
    log: IntervalLogWriter,
}

/// Records the figures of one configuration into `dir`, file names starting with `prefix`.
pub struct Recorder {
    dir: PathBuf,
    prefix: String,
    base: SystemTime,
    interval_start: SystemTime,
    series: BTreeMap<String, Series>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("dir", &self.dir)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// The figure an engine-tap histogram stands for, if it is one of the three reported ones.
fn tap_figure(name: &str) -> Option<Figure> {
    (name == "feed_to_engine").then_some(Figure::PacketToEngine)
}

impl Recorder {
    /// A recorder whose logs start now; the three figures' logs are created at once (so a run
    /// that records nothing still leaves its files).
    pub fn new(dir: &Path, prefix: &str) -> Result<Self, BenchError> {
        Self::with_figures(dir, prefix, &Figure::ALL)
    }

    /// A recorder of `figures` only (a socket run fills its figures from two sources with
    /// different clocks, one recorder each).
    pub fn with_figures(dir: &Path, prefix: &str, figures: &[Figure]) -> Result<Self, BenchError> {
        let now = SystemTime::now();
        let mut r = Recorder {
            dir: dir.to_path_buf(),
            prefix: prefix.to_string(),
            base: now,
            interval_start: now,
            series: BTreeMap::new(),
        };
        for f in figures {
            r.series(f.name())?;
        }
        Ok(r)
    }

    fn path(&self, name: &str, ext: &str) -> PathBuf {
        self.dir.join(format!("{}.{name}.{ext}", self.prefix))
    }

    fn series(&mut self, name: &str) -> Result<&mut Series, BenchError> {
        if !self.series.contains_key(name) {
            let log = IntervalLogWriter::create_with_base(
                self.path(name, "hlog"),
                Some(name),
                self.base,
            )?;
            self.series.insert(
                name.to_string(),
                Series {
                    interval: new_hist(),
                    total: new_hist(),
                    log,
                },
            );
        }
        Ok(self.series.get_mut(name).expect("inserted above"))
    }

    /// Moves every waiting LP-edge sample into the current interval.
    pub fn drain(&mut self, samples: &mut RingRx<Sample>) -> Result<(), BenchError> {
        while let Some([f, ns]) = samples.pop() {
            let Some(fig) = Figure::from_index(f) else {
                continue;
            };
            let s = self.series(fig.name())?;
            let _ = s.interval.record(ns.clamp(1, HIGHEST_NS));
        }
        Ok(())
    }

    /// Records one sample of `fig` into the current interval.
    pub fn record(&mut self, fig: Figure, ns: u64) -> Result<(), BenchError> {
        let s = self.series(fig.name())?;
        let _ = s.interval.record(ns.clamp(1, HIGHEST_NS));
        Ok(())
    }

    /// Adds `h` into `fig`'s current interval.
    pub fn add(&mut self, fig: Figure, h: &Histogram<u64>) -> Result<(), BenchError> {
        let s = self.series(fig.name())?;
        s.interval
            .add(h)
            .map_err(|e| BenchError::Hist(format!("{e:?}")))
    }

    /// Closes the interval `[start, end)` given by the caller (a run read back afterwards):
    /// one log line per series, the interval added into the totals.
    pub fn close_interval(&mut self, start: SystemTime, end: SystemTime) -> Result<(), BenchError> {
        for s in self.series.values_mut() {
            s.log.write_interval(&s.interval, start, end)?;
            s.total
                .add(&s.interval)
                .map_err(|e| BenchError::Hist(format!("{e:?}")))?;
            s.interval.reset();
        }
        self.interval_start = end;
        Ok(())
    }

    /// Takes the engine stage's histograms and discards them (end of the warm-up). LP-edge
    /// samples need no discarding: the LP edge records none caused during the warm-up.
    pub fn discard(&mut self, tap: &LatencyTap) {
        let _ = tap.take();
        for s in self.series.values_mut() {
            s.interval.reset();
        }
        self.interval_start = SystemTime::now();
    }

    /// Closes the current interval: takes the tap, writes one log line per series, adds the
    /// interval into the totals.
    pub fn end_interval(
        &mut self,
        samples: &mut RingRx<Sample>,
        tap: &LatencyTap,
    ) -> Result<(), BenchError> {
        self.drain(samples)?;
        for (name, h) in tap.take() {
            let key = match tap_figure(name) {
                Some(f) => f.name().to_string(),
                None => format!("engine.{name}"),
            };
            let s = self.series(&key)?;
            s.interval
                .add(&h)
                .map_err(|e| BenchError::Hist(format!("{e:?}")))?;
        }
        self.close_interval(self.interval_start, SystemTime::now())
    }

    /// Writes every series' `.hgrm` and returns the summaries: the three figures first, then
    /// the engine stage's own histograms by name.
    pub fn finish(self) -> Result<Vec<FigureSummary>, BenchError> {
        let mut out = Vec::new();
        let mut names: Vec<String> = Figure::ALL.iter().map(|f| f.name().to_string()).collect();
        let extra: Vec<String> = self
            .series
            .keys()
            .filter(|k| Figure::from_name(k).is_none())
            .cloned()
            .collect();
        names.extend(extra);
        for name in names {
            let Some(s) = self.series.get(&name) else {
                continue;
            };
            let hgrm = self.path(&name, "hgrm");
            let io = |source| BenchError::Io {
                path: hgrm.clone(),
                source,
            };
            let mut w = BufWriter::new(File::create(&hgrm).map_err(io)?);
            write_hgrm(
                &mut w,
                &s.total,
                HgrmOptions {
                    ticks_per_half: 5,
                    unit_ratio: 1000.0,
                },
            )
            .map_err(io)?;
            out.push(FigureSummary::of(
                &name,
                &s.total,
                s.log.path().to_path_buf(),
                hgrm,
            ));
        }
        Ok(out)
    }
}

/// How long the harness sleeps between drains of the sample ring.
pub const DRAIN_EVERY: Duration = Duration::from_millis(10);
