//! When the engine stage makes the journal durable: the `journal.sync` policies.
//!
//! Appending puts a record in the page cache: it survives the process being killed, not an
//! OS crash or a power loss. A [`Journal::sync`] makes everything appended so far durable and
//! costs a disk round trip (tens of µs to milliseconds), so it is done once per engine duty
//! cycle at most, for all the records the cycle journaled (group commit), never per record.
//!
//! - [`SyncPolicy::Every`]: one sync at the end of every duty cycle that journaled anything,
//!   and the cycle's orders leave the engine stage only after it: no order ever reaches the LP
//!   whose records a power loss could take back.
//! - [`SyncPolicy::Interval`]: orders leave at once; a sync when at least the interval has
//!   passed since the last one (checked each duty cycle): a power loss loses at most about an
//!   interval of records, possibly with orders that had already left.
//! - [`SyncPolicy::Checkpoint`]: syncs only at checkpoints and segment rollovers.
//!
//! The schedule reads the stage's clock, never the engine's inputs: the engine stays a
//! deterministic function of its inputs, and the journal's bytes do not depend on the policy.

use std::fmt;

use thiserror::Error;

use super::{Journal, JournalError};

/// Default of `journal.sync_interval` (ns): 2 ms.
pub const DEFAULT_SYNC_INTERVAL_NS: u64 = 2_000_000;

/// When the journal is synced (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncPolicy {
    /// Once per duty cycle that journaled anything, before that cycle's orders leave.
    #[default]
    Every,
    /// Orders leave at once; a sync when at least `interval_ns` has passed since the last.
    Interval {
        /// Least time between two syncs (ns, more than 0).
        interval_ns: u64,
    },
    /// At checkpoints (and segment rollovers) only.
    Checkpoint,
}

/// A `journal.sync` setting that is not a policy.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SyncPolicyError {
    /// Not `every`, `interval` or `checkpoint`.
    #[error("`{0}`: expected every, interval or checkpoint")]
    UnknownPolicy(String),
    /// An interval of zero (a sync per cycle is `every`, without holding the orders back).
    #[error("the interval must be more than 0")]
    ZeroInterval,
}

impl SyncPolicy {
    /// From the config's name (`every`, `interval`, `checkpoint`) and interval (ns; checked
    /// for `interval` only).
    pub fn parse(name: &str, interval_ns: u64) -> Result<Self, SyncPolicyError> {
        match name {
            "every" => Ok(Self::Every),
            "interval" if interval_ns == 0 => Err(SyncPolicyError::ZeroInterval),
            "interval" => Ok(Self::Interval { interval_ns }),
            "checkpoint" => Ok(Self::Checkpoint),
            other => Err(SyncPolicyError::UnknownPolicy(other.to_string())),
        }
    }

    /// The config name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Every => "every",
            Self::Interval { .. } => "interval",
            Self::Checkpoint => "checkpoint",
        }
    }

    /// True if a duty cycle's orders wait for the cycle's sync.
    pub fn holds_orders(self) -> bool {
        self == Self::Every
    }
}

impl fmt::Display for SyncPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Every => f.write_str("every (fdatasync per duty cycle, before its orders leave)"),
            Self::Interval { interval_ns } => write!(
                f,
                "interval (fdatasync at most every {}, orders leave at once)",
                fmt_ns(interval_ns)
            ),
            Self::Checkpoint => f.write_str("checkpoint (fdatasync at checkpoints only)"),
        }
    }
}

/// `2ms`, `150µs`, `1.5s`.
fn fmt_ns(ns: u64) -> String {
    if ns.is_multiple_of(1_000_000_000) {
        format!("{}s", ns / 1_000_000_000)
    } else if ns.is_multiple_of(1_000_000) {
        format!("{}ms", ns / 1_000_000)
    } else if ns.is_multiple_of(1_000) {
        format!("{}µs", ns / 1_000)
    } else {
        format!("{ns}ns")
    }
}

/// Whether a sync is due, from explicit times: the policy and the time of the last sync.
#[derive(Debug, Clone, Copy)]
pub struct SyncSchedule {
    policy: SyncPolicy,
    /// When the last sync started (for `Interval`: the interval runs start to start, so syncs
    /// come at most once per interval however long each takes).
    last_ns: u64,
}

impl SyncSchedule {
    /// A schedule starting at `now_ns` (an `Interval` policy's first sync comes an interval
    /// after it).
    pub fn new(policy: SyncPolicy, now_ns: u64) -> Self {
        SyncSchedule {
            policy,
            last_ns: now_ns,
        }
    }

    /// The policy.
    pub fn policy(&self) -> SyncPolicy {
        self.policy
    }

    /// True if the end of a duty cycle at `now_ns` must sync; `unsynced`: the journal holds
    /// records not yet synced (nothing to sync, no sync).
    pub fn due(&self, now_ns: u64, unsynced: bool) -> bool {
        unsynced
            && match self.policy {
                SyncPolicy::Every => true,
                SyncPolicy::Interval { interval_ns } => {
                    now_ns.saturating_sub(self.last_ns) >= interval_ns
                }
                SyncPolicy::Checkpoint => false,
            }
    }

    /// Notes a sync that started at `now_ns`.
    pub fn synced(&mut self, now_ns: u64) {
        self.last_ns = now_ns;
    }
}

/// Group commit: the schedule, the sync itself and its counters, for the end of a duty cycle.
#[derive(Debug, Clone, Copy)]
pub struct GroupCommit {
    schedule: SyncSchedule,
    /// Syncs done (only those that had records to write).
    pub syncs: u64,
    /// Their total time (ns, by the clock given).
    pub total_ns: u64,
    /// The longest (ns).
    pub max_ns: u64,
}

impl GroupCommit {
    /// Group commit under `policy`, starting at `now_ns`.
    pub fn new(policy: SyncPolicy, now_ns: u64) -> Self {
        GroupCommit {
            schedule: SyncSchedule::new(policy, now_ns),
            syncs: 0,
            total_ns: 0,
            max_ns: 0,
        }
    }

    /// The policy.
    pub fn policy(&self) -> SyncPolicy {
        self.schedule.policy()
    }

    /// Ends a duty cycle at `now_ns`: syncs `journal` if the policy says so and returns how
    /// long the sync took (by `clock`, read once after it), or `None` if there was none.
    /// After `Some`, [`Journal::synced_seq`] covers every record appended so far.
    pub fn end_of_cycle(
        &mut self,
        journal: &mut Journal,
        now_ns: u64,
        clock: fn() -> u64,
    ) -> Result<Option<u64>, JournalError> {
        if !self.schedule.due(now_ns, journal.has_unsynced()) {
            return Ok(None);
        }
        journal.sync()?;
        let ns = clock().saturating_sub(now_ns);
        self.schedule.synced(now_ns);
        self.syncs += 1;
        self.total_ns += ns;
        self.max_ns = self.max_ns.max(ns);
        Ok(Some(ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names_and_refusals() {
        assert_eq!(SyncPolicy::parse("every", 0), Ok(SyncPolicy::Every));
        assert_eq!(
            SyncPolicy::parse("checkpoint", 0),
            Ok(SyncPolicy::Checkpoint)
        );
        assert_eq!(
            SyncPolicy::parse("interval", 2_000_000),
            Ok(SyncPolicy::Interval {
                interval_ns: 2_000_000
            })
        );
        assert_eq!(
            SyncPolicy::parse("interval", 0),
            Err(SyncPolicyError::ZeroInterval)
        );
        assert_eq!(
            SyncPolicy::parse("sometimes", 1),
            Err(SyncPolicyError::UnknownPolicy("sometimes".into()))
        );
        assert_eq!(
            SyncPolicy::parse("Every", 1),
            Err(SyncPolicyError::UnknownPolicy("Every".into()))
        );
        assert_eq!(SyncPolicy::default(), SyncPolicy::Every);
        for p in [
            SyncPolicy::Every,
            SyncPolicy::Interval { interval_ns: 5 },
            SyncPolicy::Checkpoint,
        ] {
            assert_eq!(SyncPolicy::parse(p.name(), 5), Ok(p));
        }
        assert!(SyncPolicy::Every.holds_orders());
        assert!(!SyncPolicy::Interval { interval_ns: 5 }.holds_orders());
        assert!(!SyncPolicy::Checkpoint.holds_orders());
        assert!(SyncPolicy::Interval {
            interval_ns: 2_000_000
        }
        .to_string()
        .contains("2ms"));
    }

    #[test]
    fn every_syncs_each_cycle_with_records_and_only_those() {
        let s = SyncSchedule::new(SyncPolicy::Every, 100);
        assert!(s.due(100, true));
        assert!(s.due(0, true), "no clock involved");
        assert!(!s.due(1 << 40, false), "nothing to sync");
    }

    #[test]
    fn checkpoint_never_syncs_at_cycle_end() {
        let s = SyncSchedule::new(SyncPolicy::Checkpoint, 0);
        assert!(!s.due(0, true));
        assert!(!s.due(u64::MAX, true));
    }

    /// Interval: at most one sync per interval, start to start, whatever the cycle rate; none
    /// without records; the first an interval after the start.
    #[test]
    fn interval_syncs_at_most_once_per_interval() {
        let iv = 2_000;
        let mut s = SyncSchedule::new(SyncPolicy::Interval { interval_ns: iv }, 1_000);
        let mut syncs = Vec::new();
        // A duty cycle every 7 ns from t = 1000 to 21000, records pending throughout.
        let mut t = 1_000;
        while t <= 21_000 {
            if s.due(t, true) {
                s.synced(t);
                syncs.push(t);
            }
            t += 7;
        }
        assert_eq!(
            syncs.first(),
            Some(&3_002),
            "first one interval after the start"
        );
        for w in syncs.windows(2) {
            assert!(w[1] - w[0] >= iv, "{w:?} closer than the interval");
            assert!(w[1] - w[0] < iv + 7, "{w:?}: late by more than a cycle");
        }
        assert_eq!(syncs.len(), 9);
        // Nothing pending: no sync however long it has been.
        assert!(!s.due(1 << 40, false));
        // Clock stands still (or runs backwards): no sync.
        let last = *syncs.last().unwrap();
        assert!(!s.due(last, true));
        assert!(!s.due(last - 5, true));
    }
}
