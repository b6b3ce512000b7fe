//! The demo's sources: the generated script played onto the engine stage's two input rings as
//! the daemon's edges fill them: quotes on the market ring, the manager's commands (opens,
//! closes, deposits) on the master ring as [`EdgeFrame`]s whose watermark is the manager's
//! clock. The script is known in advance, so before each quote the manager side promises the
//! time of its next command (a watermark frame, as a FIX manager's clock messages do): the
//! engine's event-time merge never waits for a command stuck behind a full market ring.

use std::sync::Arc;
use std::time::Instant;

use mam_core::engine::input::Input;
use mam_core::event::MarketEvent;
use mam_core::pipeline::{EdgeFrame, RingTx, Stage};
use mam_core::sys::mono_ns;

/// Most script items published per duty cycle (the engine shares a thread in `shared` mode).
const BATCH: usize = 256;

/// The script source stage.
#[derive(Debug)]
pub struct ScriptSource {
    script: Arc<Vec<Input>>,
    next: usize,
    /// Index of the next manager command at or after `next` (`script.len()`: none left).
    next_command: usize,
    market: Option<RingTx<MarketEvent>>,
    masters: Option<RingTx<EdgeFrame>>,
    /// The manager watermark last published.
    manager_wm: u64,
    /// Stop publishing new inputs at this wall time (`--duration`).
    deadline: Option<Instant>,
}

/// Index of the first manager command at or after `from` (`script.len()`: none left).
fn next_command_from(script: &[Input], from: usize) -> usize {
    script
        .get(from..)
        .and_then(|rest| rest.iter().position(|i| !matches!(i, Input::Market(_))))
        .map_or(script.len(), |p| from + p)
}

impl ScriptSource {
    /// Publishes `script` (in event-time order) through `market` and `masters`.
    pub fn new(
        script: Arc<Vec<Input>>,
        market: RingTx<MarketEvent>,
        masters: RingTx<EdgeFrame>,
        deadline: Option<Instant>,
    ) -> Self {
        let next_command = next_command_from(&script, 0);
        ScriptSource {
            script,
            next: 0,
            next_command,
            market: Some(market),
            masters: Some(masters),
            manager_wm: 0,
            deadline,
        }
    }

    /// The manager's promise: no command before its next one (none left: never again).
    fn manager_promise(&self) -> u64 {
        self.script
            .get(self.next_command)
            .map_or(u64::MAX, |i| i.ts_ns())
    }

    /// Publishes the next item; false when a ring is full (try again next cycle).
    fn publish_next(&mut self) -> bool {
        let promise = self.manager_promise();
        let (Some(market), Some(masters)) = (self.market.as_mut(), self.masters.as_mut()) else {
            return false;
        };
        let input = self.script[self.next];
        match input {
            Input::Market(mut m) => {
                if promise > self.manager_wm {
                    if masters
                        .try_push(EdgeFrame::watermark(mono_ns(), 0, promise))
                        .is_err()
                    {
                        return false;
                    }
                    self.manager_wm = promise;
                }
                m.recv_ns = mono_ns();
                if market.try_push(m).is_err() {
                    return false;
                }
            }
            cmd => {
                let ts = cmd.ts_ns();
                let frame = EdgeFrame::input(&cmd, mono_ns(), self.next as u64 + 1, ts);
                if masters.try_push(frame).is_err() {
                    return false;
                }
                self.manager_wm = self.manager_wm.max(ts);
                self.next_command = next_command_from(&self.script, self.next + 1);
            }
        }
        self.next += 1;
        true
    }

    /// The script ended (or the deadline passed): the manager's clock ends, then both rings
    /// are dropped, so the engine stage sees its sources end.
    fn end(&mut self) -> bool {
        if let Some(masters) = self.masters.as_mut() {
            if self.manager_wm != u64::MAX
                && masters
                    .try_push(EdgeFrame::watermark(mono_ns(), 0, u64::MAX))
                    .is_err()
            {
                return false;
            }
        }
        self.market = None;
        self.masters = None;
        true
    }
}

impl Stage for ScriptSource {
    fn name(&self) -> &str {
        "feed"
    }

    fn do_work(&mut self) -> usize {
        if self.market.is_none() {
            return 0;
        }
        let expired = self.deadline.is_some_and(|d| Instant::now() >= d);
        let mut work = 0;
        while work < BATCH && self.next < self.script.len() && !expired {
            if !self.publish_next() {
                return work;
            }
            work += 1;
        }
        if (self.next == self.script.len() || expired) && self.end() {
            work += 1;
        }
        work
    }

    fn is_done(&self) -> bool {
        self.market.is_none()
    }
}
