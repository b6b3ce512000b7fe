//! The daemon's stats line and latency logs: every interval the histograms the stages
//! published are taken from the tap, written as one interval per metric to
//! `<latency dir>/<metric>.hlog`, folded into run totals (written as `.hgrm` tables at the end)
//! and summarised on the stats line with the rates, ring depths and back-pressure counters.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use anyhow::Context;
use hdrhistogram::Histogram;
use mam_core::journal::SyncPolicy;
use mam_core::pipeline::engine_stage::EngineStageStats;
use mam_core::pipeline::{LatencyTap, RingStats};
use mam_gateway::latency::{write_hgrm, HgrmOptions, IntervalLogWriter};

use crate::admin::live::{LatencySummary, SharedLive};

/// One named ring's counters.
pub type NamedRing = (&'static str, Arc<RingStats>);

/// Counters an edge stage shares: (name, value) pairs read at each line.
pub type EdgeCounters = Box<dyn Fn() -> Vec<(&'static str, u64)> + Send>;

/// Writes the stats line and the latency logs.
pub struct StatsReporter {
    tap: LatencyTap,
    engine: Arc<EngineStageStats>,
    rings: Vec<NamedRing>,
    edges: Vec<EdgeCounters>,
    /// Counters of sessions a reload added.
    late: super::sessions::LateCounters,
    sync: SyncPolicy,
    dir: PathBuf,
    logs: BTreeMap<&'static str, IntervalLogWriter>,
    totals: BTreeMap<&'static str, Histogram<u64>>,
    since_line: BTreeMap<&'static str, Histogram<u64>>,
    started: Instant,
    last_log: SystemTime,
    last_line: (Instant, u64),
    live: SharedLive,
}

impl std::fmt::Debug for StatsReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatsReporter")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn pct(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1e3
}

impl StatsReporter {
    /// A reporter writing logs under `dir` (created).
    pub fn new(
        tap: LatencyTap,
        engine: Arc<EngineStageStats>,
        rings: Vec<NamedRing>,
        edges: Vec<EdgeCounters>,
        sync: SyncPolicy,
        dir: &Path,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating latency directory {}", dir.display()))?;
        let now = Instant::now();
        Ok(StatsReporter {
            tap,
            engine,
            rings,
            edges,
            late: Default::default(),
            sync,
            dir: dir.to_path_buf(),
            logs: BTreeMap::new(),
            totals: BTreeMap::new(),
            since_line: BTreeMap::new(),
            started: now,
            last_log: SystemTime::now(),
            last_line: (now, 0),
            live: SharedLive::default(),
        })
    }

    /// Takes the histograms published since the last call and appends them as one interval
    /// to each metric's `.hlog` (called every `latency.interval`).
    pub fn log_interval(&mut self) -> anyhow::Result<()> {
        let wall = SystemTime::now();
        let taken = self.tap.take();
        for (name, h) in &taken {
            if !self.logs.contains_key(name) {
                let w =
                    IntervalLogWriter::create(self.dir.join(format!("{name}.hlog")), Some(name))?;
                self.logs.insert(name, w);
            }
            if let Some(w) = self.logs.get_mut(name) {
                w.write_interval(h, self.last_log, wall)?;
            }
            for acc in [&mut self.totals, &mut self.since_line] {
                match acc.get_mut(name) {
                    Some(t) => {
                        let _ = t.add(h);
                    }
                    None => {
                        acc.insert(name, h.clone());
                    }
                }
            }
        }
        self.last_log = wall;
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.intervals += 1;
        live.edges = self.edge_counters();
        live.last = taken
            .iter()
            .map(|(n, h)| (*n, LatencySummary::of(h)))
            .collect();
        live.totals = self
            .totals
            .iter()
            .map(|(n, h)| (*n, LatencySummary::of(h)))
            .collect();
        Ok(())
    }

    /// Every session's counters: those of the start, then those a reload added.
    fn edge_counters(&self) -> Vec<(&'static str, u64)> {
        let mut v: Vec<(&'static str, u64)> = self.edges.iter().flat_map(|e| e()).collect();
        let late = self.late.lock().unwrap_or_else(|e| e.into_inner());
        v.extend(late.values().flat_map(|e| e()));
        v
    }

    /// Reads the counters of sessions a reload adds from `late`.
    pub fn with_late_counters(mut self, late: super::sessions::LateCounters) -> Self {
        self.late = late;
        self
    }

    /// The figures the admin server reads, refreshed at every [`log_interval`](Self::log_interval).
    pub fn live(&self) -> SharedLive {
        self.live.clone()
    }

    /// The rings and the engine stage's counters (the admin server reads them directly).
    pub fn sources(&self) -> (Arc<EngineStageStats>, Vec<NamedRing>) {
        (self.engine.clone(), self.rings.clone())
    }

    /// The stats line for the time since the last one (called every `stats_interval`).
    pub fn line(&mut self) -> String {
        let now = Instant::now();
        let taken = std::mem::take(&mut self.since_line);
        let e = &self.engine;
        let inputs = e.inputs.load(Relaxed);
        let secs = now.duration_since(self.last_line.0).as_secs_f64().max(1e-9);
        let rate = inputs.saturating_sub(self.last_line.1) as f64 / secs;
        self.last_line = (now, inputs);
        let mut line = format!(
            "[{:>7.1}s] inputs {} ({:.0}/s: market {} masters {} fills {}) orders {} open {} | seq {}",
            self.started.elapsed().as_secs_f64(),
            inputs,
            rate,
            e.market.load(Relaxed),
            e.masters.load(Relaxed),
            e.fills.load(Relaxed),
            e.orders.load(Relaxed),
            e.open_orders.load(Relaxed),
            e.journal_seq.load(Relaxed),
        );
        // Journal syncs since the start: count, mean and longest, and how far the disk holds.
        let syncs = e.syncs.load(Relaxed);
        line += &format!(
            " synced {} | sync {} n={} mean={:.0}µs max={:.0}µs",
            e.synced_seq.load(Relaxed),
            self.sync.name(),
            syncs,
            e.sync_ns.load(Relaxed) as f64 / 1e3 / syncs.max(1) as f64,
            e.sync_max_ns.load(Relaxed) as f64 / 1e3
        );
        line += " | rings";
        for (n, r) in &self.rings {
            line += &format!(
                " {n} d={} full={} wait={:.1}ms",
                r.depth(),
                r.full.load(Relaxed),
                r.wait_ns.load(Relaxed) as f64 / 1e6
            );
            let c = r.conflated.load(Relaxed);
            if c > 0 {
                line += &format!(" conflated={c}");
            }
        }
        line += &format!(
            " | dropped-fills {} wm-waits {} awaiting {} | margin-calls {} stop-outs {} loss-limits {}",
            e.fills_dropped.load(Relaxed),
            e.watermark_waits.load(Relaxed),
            e.awaiting.load(Relaxed),
            e.margin_calls.load(Relaxed),
            e.stop_outs.load(Relaxed),
            e.loss_limits.load(Relaxed)
        );
        let again = e.inputs_journaled_already.load(Relaxed);
        if again > 0 {
            line += &format!(" journaled-already {again}");
        }
        // The structured event's extras are built only when someone listens for it.
        let structured = tracing::enabled!(target: "mam::stats", tracing::Level::INFO);
        let mut edges = serde_json::Map::new();
        for (k, v) in self.edge_counters() {
            line += &format!(" {k} {v}");
            if structured {
                edges.insert(k.to_string(), v.into());
            }
        }
        let mut latency = serde_json::Map::new();
        if !taken.is_empty() {
            line += " | p50/p99 µs:";
            for (name, h) in &taken {
                line += &format!(" {name} {:.1}/{:.1}", pct(h, 0.5), pct(h, 0.99));
                if structured {
                    latency.insert(
                        name.to_string(),
                        serde_json::json!({ "n": h.len(), "p50_ns": h.value_at_quantile(0.5),
                            "p99_ns": h.value_at_quantile(0.99), "max_ns": h.max() }),
                    );
                }
            }
        }
        // The same figures as one structured event, for log shippers (`mam --log-format json`
        // with `RUST_LOG=mam::stats=info`): integers, and the edge counters and the interval's
        // latency as JSON text (tracing's fields are scalars).
        tracing::info!(
            target: "mam::stats",
            inputs,
            market = e.market.load(Relaxed),
            masters = e.masters.load(Relaxed),
            fills = e.fills.load(Relaxed),
            orders = e.orders.load(Relaxed),
            open_orders = e.open_orders.load(Relaxed),
            journal_seq = e.journal_seq.load(Relaxed),
            synced_seq = e.synced_seq.load(Relaxed),
            syncs,
            margin_calls = e.margin_calls.load(Relaxed),
            stop_outs = e.stop_outs.load(Relaxed),
            loss_limits = e.loss_limits.load(Relaxed),
            edges = %serde_json::Value::Object(edges),
            latency = %serde_json::Value::Object(latency),
            "stats"
        );
        line
    }

    /// Logs the last interval, writes `<name>.hgrm` for every metric of the run and returns
    /// one summary line each.
    pub fn finish(&mut self) -> anyhow::Result<Vec<String>> {
        self.log_interval()?;
        let mut out = Vec::new();
        for (name, h) in &self.totals {
            let path = self.dir.join(format!("{name}.hgrm"));
            let mut f = std::fs::File::create(&path)
                .with_context(|| format!("creating {}", path.display()))?;
            write_hgrm(&mut f, h, HgrmOptions::default())
                .with_context(|| format!("writing {}", path.display()))?;
            out.push(format!(
                "  {name:<24} n={:<9} p50 {:>9.1} µs  p99 {:>9.1} µs  p99.9 {:>9.1} µs  max {:>9.1} µs",
                h.len(),
                pct(h, 0.5),
                pct(h, 0.99),
                pct(h, 0.999),
                h.max() as f64 / 1e3
            ));
        }
        Ok(out)
    }
}
