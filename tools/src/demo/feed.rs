//! The feed stage: publishes the generated script (quotes and the manager's commands, each
//! stamped with its event time at this edge) onto the feed ring, in order.

use std::sync::Arc;
use std::time::Instant;

use mam_core::engine::input::Input;
use mam_core::pipeline::Stage;

use super::pump::{Pump, StampedFrame};

/// The feed stage.
#[derive(Debug)]
pub struct FeedStage {
    script: Arc<Vec<Input>>,
    next: usize,
    tx: Option<Pump<StampedFrame>>,
    start: Instant,
    /// Stop publishing new inputs after this wall time (`--duration`).
    deadline: Option<Instant>,
}

impl FeedStage {
    /// Publishes `script` through `tx`.
    pub fn new(
        script: Arc<Vec<Input>>,
        tx: Pump<StampedFrame>,
        start: Instant,
        deadline: Option<Instant>,
    ) -> Self {
        FeedStage {
            script,
            next: 0,
            tx: Some(tx),
            start,
            deadline,
        }
    }
}

impl Stage for FeedStage {
    fn name(&self) -> &str {
        "feed"
    }

    fn do_work(&mut self) -> usize {
        let Some(tx) = self.tx.as_mut() else { return 0 };
        let mut work = tx.flush(self.start);
        let expired = self.deadline.is_some_and(|d| Instant::now() >= d);
        while tx.backlog() == 0 && self.next < self.script.len() && work < 256 && !expired {
            tx.send(StampedFrame {
                t_ns: 0,
                frame: self.script[self.next].to_frame(),
            });
            self.next += 1;
            work += tx.flush(self.start);
        }
        if (self.next == self.script.len() || expired) && tx.backlog() == 0 {
            self.tx = None; // the engine sees the feed ring abandoned: no more input
        }
        work
    }

    fn is_done(&self) -> bool {
        self.tx.is_none()
    }
}
