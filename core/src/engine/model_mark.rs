//! Model marks: where the adaptive model changed (kind 13).
//!
//! The adaptive model is part of the engine's state and of every checkpoint, and a swap (a
//! restart with another model file, or a config reload on a running daemon) is followed by a
//! checkpoint at once, so a recovery replays the journal after it with the new model. The mark
//! is journaled first, for two reasons. The checkpoint gets a sequence of its own: without the
//! mark a swap before any new input would checkpoint at the sequence of the one in place, which
//! is kept as "the same state" — and the next recovery would replay with the old model (a
//! determinism violation found by the reload test). And a replay that crosses the mark from an
//! older checkpoint stops there with the reason, rather than computing other decisions.

use bytemuck::{Pod, Zeroable};

use super::{Engine, EngineError};
use crate::adaptive::AdaptiveModel;
use crate::journal::Journal;

/// Journal kind of a [`ModelMark`] (neither an input nor a decision).
pub const KIND_MODEL_MARK: u16 = 13;

/// The adaptive model in force from here on (16 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
#[repr(C)]
pub struct ModelMark {
    /// When the swap was made (UTC ns; not event time: nothing is decided by it).
    pub ts_ns: u64,
    /// [`AdaptiveState::fingerprint`](crate::adaptive::AdaptiveState::fingerprint) of the new
    /// model.
    pub fingerprint: u64,
}

impl Engine {
    /// Runs `model` from the next input on (see [`set_adaptive_model`](Self::set_adaptive_model))
    /// and, if that changed the model, journals a [`ModelMark`] and returns its sequence: the
    /// caller writes a checkpoint now, before any input. `None`: the same model, nothing
    /// journaled.
    pub fn swap_adaptive_model(
        &mut self,
        model: AdaptiveModel,
        journal: &mut Journal,
        ts_ns: u64,
    ) -> Result<Option<u64>, EngineError> {
        let before = self.adaptive.fingerprint();
        self.set_adaptive_model(model)?;
        let fingerprint = self.adaptive.fingerprint();
        if fingerprint == before {
            return Ok(None);
        }
        let mark = ModelMark { ts_ns, fingerprint };
        self.applied_seq = journal.append(KIND_MODEL_MARK, bytemuck::bytes_of(&mark))?;
        Ok(Some(self.applied_seq))
    }
}
