//! The manager stage's counters: relaxed atomics the stats thread reads while the stage runs,
//! and a plain copy of them.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters of the stage (a cheap copy; see [`ManagerCounters`] for the live, shared ones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ManagerStats {
    /// Master orders pushed onto the engine ring.
    pub accepted: u64,
    /// Master orders refused with an ExecutionReport reject.
    pub refused: u64,
    /// Session-level Rejects (35=3) sent, by the session or by the conversion.
    pub session_rejects: u64,
    /// BusinessMessageRejects (35=j) sent.
    pub business_rejects: u64,
    /// Watermark-only frames pushed (TradingSessionStatus).
    pub watermarks: u64,
    /// Frames that found the ring full.
    pub ring_waits: u64,
    /// Total ns frames waited for the ring.
    pub ring_wait_ns: u64,
    /// Logons of the manager.
    pub logons: u64,
    /// Disconnections.
    pub disconnects: u64,
    /// Replies that could not be sent (the manager was gone or logging out).
    pub replies_lost: u64,
    /// The engine's reports sent (ExecutionReports and OrderCancelRejects).
    pub reports: u64,
    /// RequestForPositions answered (PosReqResult 0 valid or 2 no positions).
    pub positions_answered: u64,
    /// RequestForPositions refused (PosReqResult 1, 4 or 99).
    pub positions_refused: u64,
    /// PositionReports queued for the manager.
    pub position_reports: u64,
}

/// The stage's counters as relaxed atomics, readable from the stats thread while it runs.
#[derive(Debug, Default)]
pub struct ManagerCounters {
    pub(super) accepted: AtomicU64,
    pub(super) refused: AtomicU64,
    pub(super) session_rejects: AtomicU64,
    pub(super) business_rejects: AtomicU64,
    pub(super) watermarks: AtomicU64,
    pub(super) ring_waits: AtomicU64,
    pub(super) ring_wait_ns: AtomicU64,
    pub(super) logons: AtomicU64,
    pub(super) disconnects: AtomicU64,
    pub(super) replies_lost: AtomicU64,
    pub(super) reports: AtomicU64,
    pub(super) positions_answered: AtomicU64,
    pub(super) positions_refused: AtomicU64,
    pub(super) position_reports: AtomicU64,
}

impl ManagerCounters {
    /// The counters now.
    pub fn snapshot(&self) -> ManagerStats {
        ManagerStats {
            accepted: self.accepted.load(Relaxed),
            refused: self.refused.load(Relaxed),
            session_rejects: self.session_rejects.load(Relaxed),
            business_rejects: self.business_rejects.load(Relaxed),
            watermarks: self.watermarks.load(Relaxed),
            ring_waits: self.ring_waits.load(Relaxed),
            ring_wait_ns: self.ring_wait_ns.load(Relaxed),
            logons: self.logons.load(Relaxed),
            disconnects: self.disconnects.load(Relaxed),
            replies_lost: self.replies_lost.load(Relaxed),
            reports: self.reports.load(Relaxed),
            positions_answered: self.positions_answered.load(Relaxed),
            positions_refused: self.positions_refused.load(Relaxed),
            position_reports: self.position_reports.load(Relaxed),
        }
    }
}

pub(super) fn inc(c: &AtomicU64) {
    c.fetch_add(1, Relaxed);
}
