//! The end-to-end latency harness behind `mam bench pipeline` and the Criterion bench
//! `benches/benches/pipeline.rs`.
//!
//! ```text
//!  in-process (rings only):
//!   load generator ──EdgeFrame (master)──► EngineStage ──EdgeOrder──► LP edge
//!   (intended-time   ──MarketEvent────────►  (journal,    ◄──EdgeFrame (fill)──┘ (stamps on pop,
//!    stamps)                                  engine)                           fills in full)
//! ```
//!
//! Three figures per configuration (threading mode × accounts × routing), all from intended
//! send times on `CLOCK_MONOTONIC` (coordinated omission corrected):
//! - [`Figure::PacketToEngine`]: a quote's intended send time → the engine stage takes it off
//!   its ring (the engine stage's `feed_to_engine` histogram);
//! - [`Figure::FirstChild`]: a master order's intended send time → the LP edge pops its first
//!   child order;
//! - [`Figure::LastChild`]: the same → the LP edge pops its last child order (all out).
//!
//! `docs/latency.md` says where each clock is read and what was measured.

mod accounts;
pub mod inproc;
pub mod loadgen;
pub mod lp_edge;
pub mod record;
pub mod socket;
#[cfg(test)]
mod tests;

pub use accounts::accounts;
pub use inproc::{run_in_process, InProcessConfig, RunResult};
pub use record::{new_hist, FigureSummary};
pub use socket::{run_socket, ManagerProtocol, SocketConfig, SocketResult, CLOSE_LAG};

use std::path::PathBuf;

use thiserror::Error;

/// The p99 target of master order → all child orders out, in-process, 1,000 accounts,
/// `shared` mode (ns): issue 12's 5 µs (it was 10 µs).
pub const TARGET_LAST_CHILD_P99_NS: u64 = 5_000;

/// A new directory under the system's temporary directory for a run's files (kept after the
/// run: the caller prints where it is).
pub fn default_out_dir() -> Result<PathBuf, BenchError> {
    tempfile::Builder::new()
        .prefix("mam-bench-pipeline-out-")
        .tempdir()
        .map(tempfile::TempDir::keep)
        .map_err(|source| BenchError::Io {
            path: std::env::temp_dir(),
            source,
        })
}

/// A reported latency figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// Quote intended send time → engine take.
    PacketToEngine = 0,
    /// Master order intended send time → first child order out.
    FirstChild = 1,
    /// Master order intended send time → last child order out.
    LastChild = 2,
}

impl Figure {
    /// Every figure, in report order.
    pub const ALL: [Figure; 3] = [
        Figure::PacketToEngine,
        Figure::FirstChild,
        Figure::LastChild,
    ];

    /// File-name and JSON key.
    pub fn name(self) -> &'static str {
        match self {
            Figure::PacketToEngine => "packet_to_engine",
            Figure::FirstChild => "master_to_first_child",
            Figure::LastChild => "master_to_last_child",
        }
    }

    /// Readable label.
    pub fn label(self) -> &'static str {
        match self {
            Figure::PacketToEngine => "packet in → engine",
            Figure::FirstChild => "master in → first child out",
            Figure::LastChild => "master in → last child out",
        }
    }

    /// The figure with index `i` (as carried in a sample).
    pub fn from_index(i: u64) -> Option<Self> {
        Self::ALL.get(i as usize).copied()
    }

    /// The figure named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// How master orders are routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// One block order per master order (fills allocated back to the accounts).
    Block,
    /// One child order per account.
    PerAccount,
}

impl Routing {
    /// `block` or `per-account`.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "block" => Some(Routing::Block),
            "per-account" => Some(Routing::PerAccount),
            _ => None,
        }
    }

    /// The command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            Routing::Block => "block",
            Routing::PerAccount => "per-account",
        }
    }
}

/// Why a bench run failed.
#[derive(Debug, Error)]
pub enum BenchError {
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Writing an interval log failed.
    #[error(transparent)]
    Latency(#[from] mam_gateway::latency::LatencyError),
    /// Two histograms did not add.
    #[error("histogram: {0}")]
    Hist(String),
    /// The engine could not be built or stopped with an error.
    #[error("engine: {0}")]
    Engine(String),
    /// The pipeline runner failed.
    #[error(transparent)]
    Runner(#[from] mam_core::pipeline::RunnerError),
    /// The journal could not be opened.
    #[error(transparent)]
    Journal(#[from] mam_core::journal::JournalError),
    /// The run did not complete (a stage stalled or refused work).
    #[error("run did not complete: {0}")]
    Incomplete(String),
}
