//! A manager's clock, the watermark of its source in event-time sequencing, and the "not
//! now" refusals that follow from it: one set of rules for both manager edges (FIX and binary
//! order entry), so both hold the merge back, and let it go, the same way.

/// Why an input stamped below the clock is refused.
pub const BELOW_CLOCK: &str = "TransactTime is below the manager's clock (it must not decrease)";
/// Why an input is refused while the manager has said it ended.
pub const CLOSED: &str = "the manager's trading session is closed (340=3): send 340=2 first";
/// Why an input is refused while mam stops.
pub const STOPPING: &str = "mam is shutting down";

/// One manager session's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct ManagerClock {
    /// Highest TransactTime seen (orders, requests and clock messages alike).
    clock: u64,
    /// The manager said its session is closed (340=3): watermark `u64::MAX`.
    closed: bool,
    /// mam is stopping: every input is refused.
    pub stopping: bool,
}

impl ManagerClock {
    /// The watermark now: the clock, or `u64::MAX` while the manager has ended.
    pub fn watermark(&self) -> u64 {
        if self.closed {
            u64::MAX
        } else {
            self.clock
        }
    }

    /// A clock message: `u64::MAX` closes, anything else opens and moves the clock on (never
    /// back).
    pub fn on_clock(&mut self, w: u64) {
        if w == u64::MAX {
            self.closed = true;
        } else {
            self.closed = false;
            self.clock = self.clock.max(w);
        }
    }

    /// Why an input stamped `ts` cannot go to the engine now, if it cannot: mam is stopping,
    /// the manager said its session is closed, or `ts` is below the clock.
    pub fn not_now(&self, ts: u64) -> Option<&'static str> {
        if self.stopping {
            Some(STOPPING)
        } else if self.closed {
            Some(CLOSED)
        } else if ts < self.clock {
            Some(BELOW_CLOCK)
        } else {
            None
        }
    }

    /// An accepted input stamped `ts` (checked with [`not_now`](Self::not_now)) moves the
    /// clock to it.
    pub fn accept(&mut self, ts: u64) {
        self.clock = ts;
    }

    /// A refused order's readable TransactTime `t` is still the manager's clock: the new
    /// watermark if it moves the open clock on.
    pub fn advance(&mut self, t: u64) -> Option<u64> {
        if self.closed || t <= self.clock {
            return None;
        }
        self.clock = t;
        Some(t)
    }
}
