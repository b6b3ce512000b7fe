//! The LP stage's counters: shared relaxed atomics, and a plain copy of them.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The LP stage's counters, shared (relaxed atomics: figures, not synchronisation).
#[derive(Debug, Default)]
pub struct LpStats {
    /// Orders from the engine's ring sent (stored by the session).
    pub orders_sent: AtomicU64,
    /// Orders of the start-up resend list sent.
    pub resent_at_start: AtomicU64,
    /// Start-up resend orders skipped because the store already held them.
    pub resend_skipped: AtomicU64,
    /// ExecutionReports received.
    pub exec_reports: AtomicU64,
    /// Fills (trades, cancels) forwarded to the engine.
    pub fills: AtomicU64,
    /// Rejects forwarded (the LP's Rejected reports and session-level refusals of orders).
    pub rejects: AtomicU64,
    /// New/PendingNew acknowledgements (counted, not forwarded).
    pub acks: AtomicU64,
    /// ExecutionReports that could not be forwarded (unreadable, not a mam ClOrdID, a status
    /// the engine does not take).
    pub ignored: AtomicU64,
    /// Orders refused at mam's edge (unknown instrument, not encodable): forwarded as Rejected.
    pub refused: AtomicU64,
    /// Connections after the first.
    pub reconnects: AtomicU64,
    /// Connection attempts to the LP that failed (refused, timed out, unreachable).
    pub connect_failures: AtomicU64,
    /// Times orders had to wait (not logged on, or the session's pending queue full).
    pub order_waits: AtomicU64,
    /// Fills that found the engine's ring full and waited.
    pub fill_waits: AtomicU64,
    /// Fills still waiting when the stage finished (the LP resends them on the next start).
    pub fills_undelivered: AtomicU64,
    /// Logout exchanges completed (our Logout answered).
    pub logouts: AtomicU64,
    /// Orders the LP refused with a session-level Reject (35=3) or a BusinessMessageReject
    /// (35=j), each counted once: ended as Rejected (the Rejected fills are in `rejects`).
    pub session_refusals: AtomicU64,
    /// Orders found refused at start (`refused-orders`) that the engine still tracked: ended
    /// as Rejected again (also in `rejects`).
    pub refused_before_restart: AtomicU64,
    /// OrderStatusRequests sent.
    pub status_sent: AtomicU64,
    /// Status answers received (ExecutionReports with ExecType I).
    pub status_answers: AtomicU64,
    /// Orders a status answer ended (done at the LP, nothing more filled).
    pub status_ended: AtomicU64,
    /// Fills made from a status answer (the LP filled what its resend did not bring).
    pub status_fills: AtomicU64,
    /// Status answers that do not reconcile (logged as errors, nothing sent to the engine).
    pub status_mismatches: AtomicU64,
    /// 1 once the LP refused or ignored OrderStatusRequests (the resend alone recovers).
    pub status_fallbacks: AtomicU64,
    /// OrderCancelRequests (35=F) sent for the engine's cancel requests.
    pub cancels_sent: AtomicU64,
    /// OrderCancelRejects (35=9) received: the order stays as the LP reports it.
    pub cancel_rejects: AtomicU64,
    /// AllocationInstructions (35=J) sent for finished blocks.
    pub allocations_sent: AtomicU64,
    /// AllocationInstructionAcks (35=P) received accepting (AllocStatus 0 or 3).
    pub alloc_acks: AtomicU64,
    /// AllocationInstructionAcks rejecting (AllocStatus 1, 2, ...): logged as warnings.
    pub alloc_rejects: AtomicU64,
}

/// A plain copy of [`LpStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(missing_docs)] // the fields are those of LpStats
pub struct LpCounts {
    pub orders_sent: u64,
    pub resent_at_start: u64,
    pub resend_skipped: u64,
    pub exec_reports: u64,
    pub fills: u64,
    pub rejects: u64,
    pub acks: u64,
    pub ignored: u64,
    pub refused: u64,
    pub reconnects: u64,
    pub connect_failures: u64,
    pub order_waits: u64,
    pub fill_waits: u64,
    pub fills_undelivered: u64,
    pub logouts: u64,
    pub session_refusals: u64,
    pub refused_before_restart: u64,
    pub status_sent: u64,
    pub status_answers: u64,
    pub status_ended: u64,
    pub status_fills: u64,
    pub status_mismatches: u64,
    pub status_fallbacks: u64,
    pub cancels_sent: u64,
    pub cancel_rejects: u64,
    pub allocations_sent: u64,
    pub alloc_acks: u64,
    pub alloc_rejects: u64,
}

impl LpStats {
    /// The counters now.
    pub fn snapshot(&self) -> LpCounts {
        let g = |a: &AtomicU64| a.load(Relaxed);
        LpCounts {
            orders_sent: g(&self.orders_sent),
            resent_at_start: g(&self.resent_at_start),
            resend_skipped: g(&self.resend_skipped),
            exec_reports: g(&self.exec_reports),
            fills: g(&self.fills),
            rejects: g(&self.rejects),
            acks: g(&self.acks),
            ignored: g(&self.ignored),
            refused: g(&self.refused),
            reconnects: g(&self.reconnects),
            connect_failures: g(&self.connect_failures),
            order_waits: g(&self.order_waits),
            fill_waits: g(&self.fill_waits),
            fills_undelivered: g(&self.fills_undelivered),
            logouts: g(&self.logouts),
            session_refusals: g(&self.session_refusals),
            refused_before_restart: g(&self.refused_before_restart),
            status_sent: g(&self.status_sent),
            status_answers: g(&self.status_answers),
            status_ended: g(&self.status_ended),
            status_fills: g(&self.status_fills),
            status_mismatches: g(&self.status_mismatches),
            status_fallbacks: g(&self.status_fallbacks),
            cancels_sent: g(&self.cancels_sent),
            cancel_rejects: g(&self.cancel_rejects),
            allocations_sent: g(&self.allocations_sent),
            alloc_acks: g(&self.alloc_acks),
            alloc_rejects: g(&self.alloc_rejects),
        }
    }
}
