//! The daemon's manager sessions as one stage that a config reload can change while it runs
//! ([`ManagerHost`]), and what building a session needs after the start ([`SessionContext`]).
//!
//! Every manager session, configured or added later, is a stage inside the host; the host
//! runs them in turn on its thread (in `dedicated` mode, one thread for all of them: a
//! manager session is a TCP acceptor at human or algorithm pace, and a core per session would
//! starve the engine on small machines). A session leaves by its own stop flag: it logs out,
//! its stage ends, and its master ring is abandoned, which the engine reads as that source
//! ending (`mam_core::pipeline::engine_stage::attach`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use crossbeam_queue::ArrayQueue;
use mam_core::pipeline::engine_stage::admin::SharedSnapshots;
use mam_core::pipeline::{AccountDirectory, LatencyTap, Stage};
use mam_core::symbol::SymbolTable;
use mam_gateway::manager::SharedDefaults;

use super::resume::StatePaths;
use super::stats::EdgeCounters;

/// What building a session needs, at the start and at a reload.
#[derive(Clone)]
pub struct SessionContext {
    /// Symbols.
    pub symbols: SymbolTable,
    /// State paths (the sessions' stores).
    pub paths: StatePaths,
    /// The daemon's stop flag (each session's own flag follows it).
    pub stop: Arc<AtomicBool>,
    /// Latency tap.
    pub tap: LatencyTap,
    /// Account ids by index, shared with the engine stage.
    pub directory: AccountDirectory,
    /// The engine's published snapshot, for the manager's position requests.
    pub snapshots: Option<SharedSnapshots>,
    /// Master defaults, one set for every manager session.
    pub defaults: Arc<SharedDefaults>,
    /// Ring capacity.
    pub ring: usize,
}

/// A change to the running host.
pub enum HostChange {
    /// Run manager `number`'s session stage, stopped by `own`.
    Add {
        /// The manager's number.
        number: u8,
        /// The session's own stop flag.
        own: Arc<AtomicBool>,
        /// The session (an edge stage whose own flag follows the daemon's).
        stage: Box<dyn Stage>,
    },
    /// Stop manager `number`'s session: it logs out and leaves.
    Remove(u8),
}

/// The host's end of a reload: where changes go, and which sessions run.
#[derive(Clone)]
pub struct HostHandle {
    changes: Arc<ArrayQueue<HostChange>>,
    /// Bit n: manager n's session stage runs.
    running: Arc<AtomicU64>,
}

impl HostHandle {
    /// Queues `c`; gives it back if 128 changes already wait.
    pub fn push(&self, c: HostChange) -> Result<(), HostChange> {
        self.changes.push(c)
    }

    /// True while manager `n`'s session stage runs (until it has logged out and ended).
    pub fn is_running(&self, n: u8) -> bool {
        self.running.load(Relaxed) & (1 << n) != 0
    }
}

/// Every manager session, as one stage (see the module docs).
pub struct ManagerHost {
    sessions: Vec<(u8, Arc<AtomicBool>, Box<dyn Stage>)>,
    handle: HostHandle,
}

impl ManagerHost {
    /// A host with no session.
    pub fn new() -> Self {
        ManagerHost {
            sessions: Vec::new(),
            handle: HostHandle {
                changes: Arc::new(ArrayQueue::new(128)),
                running: Arc::new(AtomicU64::new(0)),
            },
        }
    }

    /// Adds manager `number`'s session stage (at the start).
    pub fn add(&mut self, number: u8, own: Arc<AtomicBool>, stage: Box<dyn Stage>) {
        self.handle.running.fetch_or(1 << number, Relaxed);
        self.sessions.push((number, own, stage));
    }

    /// Where a reload sends its changes.
    pub fn handle(&self) -> HostHandle {
        self.handle.clone()
    }

    /// How many sessions run.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }
}

impl Stage for ManagerHost {
    fn name(&self) -> &str {
        "managers"
    }

    fn do_work(&mut self) -> usize {
        let mut work = 0;
        while let Some(c) = self.handle.changes.pop() {
            work += 1;
            match c {
                HostChange::Add { number, own, stage } => self.add(number, own, stage),
                HostChange::Remove(n) => {
                    for (_, own, _) in self.sessions.iter().filter(|s| s.0 == n) {
                        own.store(true, Relaxed);
                    }
                }
            }
        }
        for (_, _, s) in &mut self.sessions {
            work += s.do_work();
        }
        let before = self.sessions.len();
        let running = &self.handle.running;
        self.sessions.retain(|(n, _, s)| {
            let done = s.is_done();
            if done {
                running.fetch_and(!(1 << n), Relaxed);
            }
            !done
        });
        work + (before - self.sessions.len())
    }

    /// Done with no session left (a daemon without managers ends when its feed does); a
    /// session a reload adds later still runs: the runner keeps cycling done stages.
    fn is_done(&self) -> bool {
        self.sessions.is_empty()
    }
}

/// Counters of sessions a reload added, by session, for the stats line and the admin API.
pub type LateCounters = Arc<Mutex<BTreeMap<String, EdgeCounters>>>;
