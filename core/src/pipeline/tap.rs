//! A [`LatencyTap`]: how a pipeline stage hands its latency histograms to the daemon's stats
//! thread without a lock on the hot path.
//!
//! The stage records into histograms it owns; every so often (at most every
//! [`LatencyTap::PUBLISH_NS`] of activity, and when it finishes) it adds them into the tap
//! under the tap's mutex and resets its own. The stats thread takes the tap's contents once per
//! interval ([`LatencyTap::take`]) for the interval log and the stats line.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;

/// Shared, named latency histograms (ns). Cloning shares the same tap.
#[derive(Debug, Clone, Default)]
pub struct LatencyTap(Arc<Mutex<BTreeMap<&'static str, Histogram<u64>>>>);

impl LatencyTap {
    /// How often a busy stage should publish, ns (50 ms: far below any stats interval).
    pub const PUBLISH_NS: u64 = 50_000_000;

    /// An empty tap.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `hist` into the tap's histogram called `name` (created on first use), then resets
    /// `hist`. A histogram that cannot be added (different bounds) is dropped and counted in
    /// the tap as `name` staying unchanged: bounds are the same everywhere in mam.
    pub fn publish(&self, name: &'static str, hist: &mut Histogram<u64>) {
        if hist.is_empty() {
            return;
        }
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match m.get_mut(name) {
            Some(h) => {
                let _ = h.add(&*hist);
            }
            None => {
                m.insert(name, hist.clone());
            }
        }
        hist.reset();
    }

    /// Takes everything published since the last take.
    pub fn take(&self) -> BTreeMap<&'static str, Histogram<u64>> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}
