//! Sources added to a running engine stage: a manager session or an LP session that a config
//! reload adds (docs/daemon.md, "Reloading the config").
//!
//! The reload thread builds the session's rings and queues their engine ends here; the engine
//! stage takes them between two duty cycles. Nothing queued costs one load per cycle. A
//! session that goes needs nothing from the engine: its stage ends, its ring is abandoned, and
//! the engine treats the source as ended once the ring is drained (as at shutdown).
//!
//! A manager that comes back under a number whose previous session's ring still holds masters
//! waits until the engine has taken them all: no master of the old session is lost, and the
//! new session's masters come after them. Reports journaled while a manager had no session
//! wait for it in memory (up to [`REPORTS_KEPT_AWAY`]); beyond that the oldest go, and the
//! next start sends them from the journal (`unsent_reports`: what the journal holds after the
//! last report the session's store holds as sent).

use crossbeam_queue::ArrayQueue;

use super::EngineStage;
use crate::pipeline::msg::{EdgeFrame, ManagerReport};
use crate::pipeline::ring::{RingRx, RingTx};

/// Reports kept for a manager whose session is gone (about 100 bytes each: 6.4 MB).
pub const REPORTS_KEPT_AWAY: usize = 65_536;

/// One source to add.
#[derive(Debug)]
pub enum Attachment {
    /// Manager `number`'s session: its master ring and its report ring.
    Manager {
        /// The manager's number (0-63).
        number: u8,
        /// Masters and clock watermarks in.
        masters: RingRx<EdgeFrame>,
        /// Reports out.
        reports: RingTx<ManagerReport>,
    },
    /// One more LP session's fill ring.
    Fills(RingRx<EdgeFrame>),
}

/// The queue of [`Attachment`]s (several producers: the signal thread and the admin API).
#[derive(Debug)]
pub struct Attachments {
    queue: ArrayQueue<Attachment>,
}

impl Default for Attachments {
    fn default() -> Self {
        // A reload adds at most 64 managers and a handful of LPs.
        Attachments {
            queue: ArrayQueue::new(128),
        }
    }
}

impl Attachments {
    /// Queues `a`; gives it back if the queue is full.
    pub fn push(&self, a: Attachment) -> Result<(), Attachment> {
        self.queue.push(a)
    }
}

impl EngineStage {
    /// Takes sources from `a` while it runs ([`Attachments`]).
    pub fn with_attachments(mut self, a: std::sync::Arc<Attachments>) -> Self {
        self.attachments = Some(a);
        self
    }

    /// Adds what is queued; a manager whose previous ring is not drained yet waits.
    pub(super) fn attach_cycle(&mut self) -> usize {
        let queued = self
            .attachments
            .as_ref()
            .is_some_and(|q| !q.queue.is_empty());
        if !queued && self.waiting_attachment.is_none() {
            return 0;
        }
        let mut work = 0;
        loop {
            let next = match self.waiting_attachment.take() {
                Some(a) => a,
                None => match self.attachments.as_ref().and_then(|q| q.queue.pop()) {
                    Some(a) => a,
                    None => break,
                },
            };
            match next {
                Attachment::Fills(rx) => self.fills.add(rx),
                Attachment::Manager {
                    number,
                    masters,
                    reports,
                } => {
                    let n = usize::from(number);
                    if !self.manager_drained(n) {
                        self.waiting_attachment = Some(Attachment::Manager {
                            number,
                            masters,
                            reports,
                        });
                        break;
                    }
                    self.attach_manager(n, masters, reports);
                }
            }
            work += 1;
        }
        work
    }

    /// True if manager `n` has no ring, or its ring ended and nothing of it waits.
    fn manager_drained(&self, n: usize) -> bool {
        match self.managers.get(n) {
            None => true,
            Some(l) => Self::ended(&l.rx) && !self.seq.has_master_head(n),
        }
    }

    fn attach_manager(
        &mut self,
        n: usize,
        masters: RingRx<EdgeFrame>,
        reports: RingTx<ManagerReport>,
    ) {
        while self.managers.len() <= n {
            self.managers.push(super::managers::ManagerLink::default());
            self.seq.add_manager();
        }
        let l = &mut self.managers[n];
        l.rx = Some(masters);
        l.reports = Some(reports);
        // The new session cannot send anything earlier than what was applied: its clock
        // starts there, so market data does not wait for its first watermark.
        self.seq.manager_rejoins(n);
    }
}
