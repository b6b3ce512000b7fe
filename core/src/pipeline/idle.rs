//! Idle strategies: what a stage thread does when a duty cycle found no work.
//!
//! Modelled on Aeron's `IdleStrategy` family (Agrona `BusySpinIdleStrategy`,
//! `YieldingIdleStrategy`, `BackoffIdleStrategy`) and the LMAX Disruptor's wait strategies:
//! spinning gives the lowest wake-up latency and burns a core; yielding lets another thread run
//! on the same core; backoff spins, then yields, then parks with an exponentially growing,
//! capped sleep, which suits the `shared` threading mode on small machines.

use std::time::Duration;

/// Which idle strategy a stage uses (chosen per stage in config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleStrategy {
    /// Spin on `core::hint::spin_loop`: lowest latency, one core per stage.
    BusySpin,
    /// `std::thread::yield_now` between empty cycles.
    Yield,
    /// Spin `max_spins` times, then yield `max_yields` times, then park from `min_park` doubling
    /// up to `max_park` (Agrona's defaults are 10 spins, 5 yields, 1 µs .. 1 ms).
    Backoff {
        /// Empty cycles spent spinning.
        max_spins: u32,
        /// Empty cycles spent yielding after spinning.
        max_yields: u32,
        /// First park duration.
        min_park: Duration,
        /// Cap of the park duration.
        max_park: Duration,
    },
}

impl Default for IdleStrategy {
    fn default() -> Self {
        IdleStrategy::backoff()
    }
}

impl IdleStrategy {
    /// Agrona's default backoff: 10 spins, 5 yields, park 1 µs doubling to 1 ms.
    pub const fn backoff() -> Self {
        IdleStrategy::Backoff {
            max_spins: 10,
            max_yields: 5,
            min_park: Duration::from_micros(1),
            max_park: Duration::from_millis(1),
        }
    }

    /// Parses `busy-spin`, `yield` or `backoff` (the names used in config files).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "busy-spin" | "spin" => Some(IdleStrategy::BusySpin),
            "yield" => Some(IdleStrategy::Yield),
            "backoff" => Some(IdleStrategy::backoff()),
            _ => None,
        }
    }

    /// A fresh idler with this strategy.
    pub fn idler(self) -> Idler {
        Idler {
            strategy: self,
            empty_cycles: 0,
            park: Duration::ZERO,
        }
    }
}

/// The running state of an [`IdleStrategy`] for one thread.
#[derive(Debug, Clone)]
pub struct Idler {
    strategy: IdleStrategy,
    empty_cycles: u64,
    park: Duration,
}

impl Idler {
    /// Called after every duty cycle with the amount of work it did.
    #[inline]
    pub fn idle(&mut self, work_done: usize) {
        if work_done > 0 {
            self.empty_cycles = 0;
            self.park = Duration::ZERO;
            return;
        }
        self.empty_cycles += 1;
        match self.strategy {
            IdleStrategy::BusySpin => core::hint::spin_loop(),
            IdleStrategy::Yield => std::thread::yield_now(),
            IdleStrategy::Backoff {
                max_spins,
                max_yields,
                min_park,
                max_park,
            } => {
                let spins = u64::from(max_spins);
                if self.empty_cycles <= spins {
                    core::hint::spin_loop();
                } else if self.empty_cycles <= spins + u64::from(max_yields) {
                    std::thread::yield_now();
                } else {
                    self.park = if self.park.is_zero() {
                        min_park
                    } else {
                        (self.park * 2).min(max_park)
                    };
                    std::thread::park_timeout(self.park);
                }
            }
        }
    }

    /// Empty cycles since work was last done.
    pub fn empty_cycles(&self) -> u64 {
        self.empty_cycles
    }

    /// The current park duration (zero while spinning or yielding).
    pub fn current_park(&self) -> Duration {
        self.park
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_goes_spin_yield_park_and_caps() {
        let mut i = IdleStrategy::Backoff {
            max_spins: 2,
            max_yields: 1,
            min_park: Duration::from_nanos(100),
            max_park: Duration::from_nanos(400),
        }
        .idler();
        i.idle(0);
        i.idle(0);
        assert_eq!(i.current_park(), Duration::ZERO);
        i.idle(0); // yield
        assert_eq!(i.current_park(), Duration::ZERO);
        i.idle(0);
        assert_eq!(i.current_park(), Duration::from_nanos(100));
        i.idle(0);
        i.idle(0);
        i.idle(0);
        assert_eq!(i.current_park(), Duration::from_nanos(400));
        i.idle(3);
        assert_eq!(i.empty_cycles(), 0);
        assert_eq!(i.current_park(), Duration::ZERO);
    }

    #[test]
    fn names_parse() {
        assert_eq!(IdleStrategy::from_name("yield"), Some(IdleStrategy::Yield));
        assert_eq!(
            IdleStrategy::from_name("busy-spin"),
            Some(IdleStrategy::BusySpin)
        );
        assert!(IdleStrategy::from_name("sleepy").is_none());
    }
}
