//! The engine stage's operator side: inputs from any thread (signals, the admin API) with an
//! answer for each, and the snapshot readers see.
//!
//! Operator inputs are journaled engine inputs like any other (never a direct change of state);
//! they come through a multi-producer queue (`crossbeam-queue`: several HTTP workers and the
//! signal loop push) and are applied at the start of a duty cycle. Each may ask for an
//! [`AdminOutcome`]: the journal sequence it got, or the engine's refusal.
//!
//! The snapshot goes through a triple buffer (`triple_buffer`): the engine fills the back
//! buffer and publishes it with one atomic swap, never waiting for a reader; readers always get
//! the latest complete snapshot. It is refilled at most every `every_ns` and only when the
//! journal moved, so its cost on the duty cycle is bounded (measured: `engine_snapshot`
//! histogram).

use crossbeam_queue::ArrayQueue;

use crate::adaptive::AdaptiveModel;
use crate::engine::decision::RefusedCode;
use crate::engine::snapshot::EngineSnapshot;
use crate::engine::{Decision, Engine, Input};

/// An operator input and who waits for its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminRequest {
    /// Echoed in the outcome; 0: nobody waits (no outcome is queued).
    pub id: u64,
    /// The input (a risk command, a balance change or an account change).
    pub input: Input,
}

/// What became of an [`AdminRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminOutcome {
    /// The request's id.
    pub id: u64,
    /// Journal sequence of the input (0: not journaled, see `refused`).
    pub seq: u64,
    /// The engine refused it (state unchanged): the code and its reference.
    pub refused: Option<(RefusedCode, u64)>,
    /// Not an operator input, or the engine had already stopped: never journaled.
    pub not_applied: bool,
}

/// Requests in, outcomes out; shared by the engine stage and every producer.
#[derive(Debug)]
pub struct AdminQueue {
    requests: ArrayQueue<AdminRequest>,
    outcomes: ArrayQueue<AdminOutcome>,
}

impl AdminQueue {
    /// Room for `cap` requests and `cap` unclaimed outcomes.
    pub fn new(cap: usize) -> Self {
        AdminQueue {
            requests: ArrayQueue::new(cap.max(1)),
            outcomes: ArrayQueue::new(cap.max(1)),
        }
    }

    /// Queues `req`; gives it back when the queue is full.
    pub fn push(&self, req: AdminRequest) -> Result<(), AdminRequest> {
        self.requests.push(req)
    }

    /// Takes the next outcome, if any (whoever waits for an id puts back what is not its own,
    /// see [`AdminQueue::take_outcome`]).
    pub fn pop_outcome(&self) -> Option<AdminOutcome> {
        self.outcomes.pop()
    }

    /// Takes the outcome of request `id` if it is there; others are put back (in the order
    /// found).
    pub fn take_outcome(&self, id: u64) -> Option<AdminOutcome> {
        take_where(&self.outcomes, |o| o.id == id)
    }

    /// No request waiting.
    pub(super) fn is_idle(&self) -> bool {
        self.requests.is_empty()
    }

    pub(super) fn pop_request(&self) -> Option<AdminRequest> {
        self.requests.pop()
    }

    pub(super) fn answer(&self, o: AdminOutcome) {
        if o.id != 0 {
            // A full outcome queue means nobody collects them: the oldest goes.
            let _ = self.outcomes.force_push(o);
        }
    }
}

/// Takes the first entry of `q` that `mine` picks; the others are put back, in the order found.
/// Outcomes are few and slow (HTTP, signals), so a scan is fine.
fn take_where<T>(q: &ArrayQueue<T>, mine: impl Fn(&T) -> bool) -> Option<T> {
    let mut found = None;
    for _ in 0..q.len() {
        let Some(o) = q.pop() else { break };
        if found.is_none() && mine(&o) {
            found = Some(o);
        } else if q.push(o).is_err() {
            break;
        }
    }
    found
}

/// True for the inputs an operator may send.
pub fn is_admin_input(input: &Input) -> bool {
    matches!(
        input,
        Input::Risk(_)
            | Input::Balance(_)
            | Input::Account(_)
            | Input::Limit(_)
            | Input::AddAccount(_)
    )
}

/// The refusal the engine journaled for the input at `seq`, if it refused it.
pub(super) fn refusal(engine: &Engine, seq: u64) -> Option<(RefusedCode, u64)> {
    engine.last_decisions().iter().find_map(|d| match d {
        Decision::Refused(r) if r.input_seq == seq => {
            Some((RefusedCode::from_code(r.code)?, r.reference))
        }
        _ => None,
    })
}

/// What became of a model swap: the fingerprints before and after, and the journal sequence of
/// the checkpoint that carries the new model; or why it was refused (the model kept).
pub type ModelSwapOutcome = Result<ModelSwapped, String>;

/// A model swap done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelSwapped {
    /// [`AdaptiveState::fingerprint`](crate::adaptive::AdaptiveState::fingerprint) before.
    pub before: u64,
    /// And after.
    pub after: u64,
    /// The checkpoint written with it (its journal sequence).
    pub checkpoint_seq: u64,
}

/// Adaptive-model swaps from an operator (a config reload). The engine stage takes one at the
/// start of a duty cycle, runs the model from the next input on and writes a checkpoint at
/// once, before any input: the checkpoint carries the model, so a recovery replays the journal
/// after it with the new model and the journal before it with the old one — what a restart
/// with a changed `engine.adaptive_model` does.
#[derive(Debug)]
pub struct ModelSwaps {
    requests: ArrayQueue<(u64, Box<AdaptiveModel>)>,
    outcomes: ArrayQueue<(u64, ModelSwapOutcome)>,
}

impl Default for ModelSwaps {
    fn default() -> Self {
        ModelSwaps {
            requests: ArrayQueue::new(4),
            outcomes: ArrayQueue::new(16),
        }
    }
}

impl ModelSwaps {
    /// Queues `model` for request `id`; gives it back when four swaps already wait.
    pub fn push(&self, id: u64, model: AdaptiveModel) -> Result<(), AdaptiveModel> {
        self.requests
            .push((id, Box::new(model)))
            .map_err(|(_, m)| *m)
    }

    /// Takes the outcome of request `id` if it is there (others are put back).
    pub fn take_outcome(&self, id: u64) -> Option<ModelSwapOutcome> {
        take_where(&self.outcomes, |o| o.0 == id).map(|o| o.1)
    }

    /// No swap waiting.
    pub(super) fn is_idle(&self) -> bool {
        self.requests.is_empty()
    }

    pub(super) fn pop_request(&self) -> Option<(u64, Box<AdaptiveModel>)> {
        self.requests.pop()
    }

    pub(super) fn answer(&self, id: u64, o: ModelSwapOutcome) {
        let _ = self.outcomes.force_push((id, o));
    }
}

/// Where readers get the engine's snapshot.
pub type SnapshotReader = triple_buffer::Output<EngineSnapshot>;

/// One [`SnapshotReader`] shared by several readers on other threads (the admin API, the
/// manager stage's position requests). The triple buffer's output has a single consumer, so
/// readers take turns through the lock; the lock is theirs alone: the engine never takes it
/// (it publishes with one atomic swap, whoever holds the lock).
pub type SharedSnapshots = std::sync::Arc<std::sync::Mutex<SnapshotReader>>;

/// Shares `r` between readers ([`SharedSnapshots`]).
pub fn share_snapshots(r: SnapshotReader) -> SharedSnapshots {
    std::sync::Arc::new(std::sync::Mutex::new(r))
}

/// The engine stage's end of the snapshot buffer.
#[derive(Debug)]
pub struct SnapshotWriter {
    input: triple_buffer::Input<EngineSnapshot>,
    every_ns: u64,
    last_ns: u64,
    last_seq: u64,
    version: u64,
}

/// A snapshot buffer refilled at most every `every_ns`: the writer for the engine stage
/// ([`EngineStage::with_snapshots`](super::EngineStage::with_snapshots)) and the reader.
pub fn snapshot_buffer(every_ns: u64) -> (SnapshotWriter, SnapshotReader) {
    let (input, output) = triple_buffer::triple_buffer(&EngineSnapshot::default());
    let w = SnapshotWriter {
        input,
        every_ns,
        last_ns: 0,
        last_seq: u64::MAX,
        version: 0,
    };
    (w, output)
}

impl SnapshotWriter {
    /// Refills and publishes when due (or `force`); true if it did.
    pub(super) fn maybe_publish(&mut self, engine: &Engine, now_ns: u64, force: bool) -> bool {
        let moved = engine.applied_seq() != self.last_seq;
        let due = now_ns.saturating_sub(self.last_ns) >= self.every_ns;
        if !(force || (moved && due)) {
            return false;
        }
        self.version += 1;
        let s = self.input.input_buffer_mut();
        engine.snapshot_into(s);
        s.taken_ns = now_ns;
        s.version = self.version;
        self.input.publish();
        self.last_ns = now_ns;
        self.last_seq = engine.applied_seq();
        true
    }
}
