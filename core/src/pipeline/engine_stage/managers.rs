//! The engine stage's managers: one master ring in and one report ring out per manager
//! session, indexed by the manager's number (the bits 56–61 of its tickets, see
//! [`manager_of_order`]).
//!
//! Each manager is its own source of event time: its masters are merged with the market data
//! and with the other managers' masters by time stamp (`event_time`), and its origin records
//! carry source [`SOURCE_MANAGER`] + its number, so a restart asks each session for exactly
//! what the journal lacks of it. A report goes to the manager whose id space its order is in,
//! and waits in that manager's own backlog: a manager that is away holds back no one else's.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;

use super::EngineStage;
use crate::engine::input::manager_of_order;
use crate::engine::origin::{Origin, SOURCE_MANAGER};
use crate::pipeline::msg::{EdgeFrame, ManagerReport};
use crate::pipeline::ring::{RingRx, RingTx};

/// One manager's rings (index = the manager's number).
#[derive(Debug, Default)]
pub(super) struct ManagerLink {
    /// Master orders and clock watermarks (None: this manager has no session).
    pub(super) rx: Option<RingRx<EdgeFrame>>,
    /// Reports to its session (None: nobody takes them; they are dropped once journaled).
    pub(super) reports: Option<RingTx<ManagerReport>>,
    /// Reports journaled and waiting for the sync that covers them or for room on the ring.
    pub(super) backlog: VecDeque<ManagerReport>,
    /// A message the journal holds only the first inputs of, as (its sequence number, the last
    /// part journaled): a kill came between them. The restart asked for it again whole, and
    /// the parts up to that one are dropped when they come ([`EngineStage::journaled_already`]).
    pub(super) partial: Option<(u64, u8)>,
}

/// Origin source of manager `m`'s masters.
pub fn manager_source(m: usize) -> u16 {
    SOURCE_MANAGER + m as u16
}

/// The origin record of input `fr` from manager `m`.
pub(super) fn origin_of(m: usize, fr: &EdgeFrame) -> Origin {
    Origin::part_of(manager_source(m), fr.origin_seq, fr.part, fr.parts)
}

/// The manager a report is for: the id space of its ticket (of the order it names when it
/// has no ticket, as a cancel reject of an unknown order).
pub fn report_manager(r: &ManagerReport) -> usize {
    let id = if r.report.ticket != 0 {
        r.report.ticket
    } else {
        r.report.order_id
    };
    usize::from(manager_of_order(id))
}

impl EngineStage {
    /// Adds manager `number` (1-63; 0 comes with [`EngineRings`](super::EngineRings)): its
    /// master ring and its report ring. Numbers left out are managers without a session.
    pub fn with_manager(
        mut self,
        number: u8,
        masters: RingRx<EdgeFrame>,
        reports: Option<RingTx<ManagerReport>>,
    ) -> Self {
        let n = usize::from(number);
        while self.managers.len() <= n {
            self.managers.push(ManagerLink::default());
            self.seq.add_manager();
        }
        self.managers[n] = ManagerLink {
            rx: Some(masters),
            reports,
            backlog: VecDeque::new(),
            partial: self.managers[n].partial,
        };
        self.seq.manager_joins(n);
        self
    }

    /// After a restart: the messages the journal holds only partly, each as its last origin
    /// record ([`ResumePoints::partial`](crate::engine::origin::ResumePoints::partial)). Their
    /// sources were asked for them again whole; the inputs already journaled are dropped. Call
    /// it after [`with_manager`](Self::with_manager): a manager with no session sends nothing.
    pub fn with_partial_messages<'a>(mut self, last: impl IntoIterator<Item = &'a Origin>) -> Self {
        for o in last {
            let n = o.source.checked_sub(SOURCE_MANAGER).map(usize::from);
            if let Some(l) = n.and_then(|n| self.managers.get_mut(n)) {
                l.partial = Some((o.seq, o.part));
            }
        }
        self
    }

    /// Whether `fr`, an input from manager `m`, is one the journal already holds: a first part
    /// of a message a kill cut between its inputs, sent again by the manager's session because
    /// the restart asked for the message whole ([`Origin::resume_after`]).
    pub(super) fn journaled_already(&mut self, m: usize, fr: &EdgeFrame) -> bool {
        let l = &mut self.managers[m];
        let Some((seq, part)) = l.partial else {
            return false;
        };
        if fr.origin_seq == seq && fr.part <= part {
            self.stats.inputs_journaled_already.fetch_add(1, Relaxed);
            return true;
        }
        l.partial = None;
        false
    }

    /// Queues a journaled report for its manager.
    pub(super) fn queue_report(&mut self, r: ManagerReport) {
        if let Some(l) = self.managers.get_mut(report_manager(&r)) {
            let Some(tx) = l.reports.as_ref() else {
                return;
            };
            // A manager whose session is gone gets them when one comes back (a reload), up to
            // a bound; the journal holds every one for the next start.
            if tx.is_abandoned() && l.backlog.len() >= super::attach::REPORTS_KEPT_AWAY {
                l.backlog.pop_front();
                self.stats.reports_dropped_away.fetch_add(1, Relaxed);
            }
            l.backlog.push_back(r);
        }
    }

    /// True if any manager takes reports.
    pub(super) fn takes_reports(&self) -> bool {
        self.managers.iter().any(|l| l.reports.is_some())
    }

    /// Pushes waiting reports while each manager's ring has room.
    pub(super) fn flush_reports(&mut self) -> usize {
        let mut n = 0;
        for l in &mut self.managers {
            let Some(tx) = l.reports.as_mut() else {
                l.backlog.clear();
                continue;
            };
            if tx.is_abandoned() {
                // Nobody reads that ring any more: what is pushed there would be lost.
                continue;
            }
            while let Some(&r) = l.backlog.front() {
                if tx.try_push(r).is_err() {
                    // Full, or the session is gone: the backlog waits for room or for the
                    // session a reload brings back (`attach`).
                    break;
                }
                l.backlog.pop_front();
                n += 1;
            }
        }
        n
    }

    /// True once every manager's ring is gone or abandoned and drained.
    pub(super) fn managers_ended(&self) -> bool {
        self.managers.iter().all(|l| Self::ended(&l.rx))
    }
}
