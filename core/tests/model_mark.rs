//! Swapping the adaptive model (a restart with another model file, or a config reload): the
//! swap journals a model mark, so its checkpoint gets a sequence of its own even when no input
//! came since the last one, and recovery from that checkpoint runs the new model; a replay
//! that crosses the mark from an older checkpoint stops there, naming it.

mod common;

use common::*;
use mam_core::adaptive::AdaptiveModel;
use mam_core::engine::model_mark::KIND_MODEL_MARK;
use mam_core::engine::{Engine, EngineError};
use mam_core::symbol::SymbolTable;

/// A valid model other than the untrained one (a second cluster).
fn other_model() -> AdaptiveModel {
    let mut m = AdaptiveModel::untrained();
    m.clusters.push(m.clusters[0]);
    m
}

#[test]
fn a_swap_before_any_input_gets_its_own_checkpoint() {
    let mut h = eurusd_harness(2);
    h.engine
        .write_checkpoint(&h.checkpoint_dir(), &mut h.journal)
        .expect("checkpoint");
    let before = h.engine.adaptive().fingerprint();
    let at = h.engine.applied_seq();
    let seq = h
        .engine
        .swap_adaptive_model(other_model(), &mut h.journal, 1)
        .expect("swap")
        .expect("a different model is marked");
    assert_eq!(seq, at + 1);
    h.engine
        .write_checkpoint(&h.checkpoint_dir(), &mut h.journal)
        .expect("checkpoint");
    let after = h.engine.adaptive().fingerprint();
    assert_ne!(before, after);
    let r = h.recover();
    assert_eq!(r.engine.adaptive().fingerprint(), after, "the new model");
    assert_eq!(r.engine.digest(), h.engine.digest());
    // The same model again: nothing journaled.
    assert!(h
        .engine
        .swap_adaptive_model(other_model(), &mut h.journal, 2)
        .expect("swap")
        .is_none());
    assert_eq!(h.journal.last_seq(), Some(seq));
    let rec = h.journal.records(seq).next().unwrap().unwrap();
    assert_eq!(rec.kind, KIND_MODEL_MARK);
}

#[test]
fn a_replay_across_a_mark_from_an_older_checkpoint_stops_there() {
    let mut h = eurusd_harness(2);
    let old_root = h.dir.path().join("old-checkpoint");
    h.engine
        .write_checkpoint(&old_root, &mut h.journal)
        .expect("checkpoint");
    let seq = h
        .engine
        .swap_adaptive_model(other_model(), &mut h.journal, 1)
        .expect("swap")
        .expect("marked");
    let e = Engine::recover(
        &old_root,
        &h.journal_dir(),
        journal_config(),
        SymbolTable::builtin(),
    )
    .expect_err("the old checkpoint runs the old model");
    match e {
        EngineError::Determinism { seq: at, why } => {
            assert_eq!(at, seq);
            assert!(why.contains("adaptive model changed here"), "{why}");
        }
        other => panic!("expected a determinism error naming the mark, got {other}"),
    }
}
