//! Recovery: the last checkpoint, then every journal record after it.
//!
//! Each journaled input is applied again; the decisions it produces are compared, record by
//! record and byte by byte, with the decisions journaled after it. A difference is a
//! [`EngineError::Determinism`]. If the journal ends before an input's decisions do (the
//! process died between journaling the input and its last decision), the missing decisions
//! are appended now (and synced) and that input's orders are returned for sending: none of them
//! had left, because orders are handed out only after every decision is journaled. Orders whose
//! decisions were all journaled are never returned: no child order is sent twice.

use std::collections::VecDeque;
use std::path::Path;

use super::checkpoint::read_checkpoint;
use super::decision::Decision;
use super::input::{is_input_kind, Input};
use super::origin::KIND_ORIGIN;
use super::{Engine, EngineError};
use crate::event::ChildOrder;
use crate::journal::{Journal, JournalConfig, RecoveryReport};
use crate::symbol::SymbolTable;

/// Opens the journal after the checkpoint's sequence number.
type OpenJournal = fn(
    &Path,
    JournalConfig,
    u64,
) -> Result<(Journal, RecoveryReport), crate::journal::JournalError>;

/// What [`Engine::recover`] returns.
#[derive(Debug)]
pub struct Recovered {
    /// The engine, at the journal's last record.
    pub engine: Engine,
    /// The journal, open for appending.
    pub journal: Journal,
    /// What opening the journal found (a torn tail cut, ...).
    pub journal_report: RecoveryReport,
    /// Sequence of the checkpoint loaded.
    pub checkpoint_seq: u64,
    /// Inputs replayed after it.
    pub replayed_inputs: u64,
    /// Decision records checked against the journal.
    pub checked_decisions: u64,
    /// Decisions appended because the journal ended before them.
    pub appended_decisions: u64,
    /// Orders, cancels and allocation lines of that last input, never sent before: send them
    /// now.
    pub to_send: Vec<ChildOrder>,
}

impl Engine {
    /// Loads the checkpoint under `checkpoint_root` and replays `journal_dir` after it (see the
    /// module docs). `symbols` must be the table the checkpoint was written with.
    pub fn recover(
        checkpoint_root: &Path,
        journal_dir: &Path,
        journal_config: JournalConfig,
        symbols: SymbolTable,
    ) -> Result<Recovered, EngineError> {
        Self::recover_with(
            checkpoint_root,
            journal_dir,
            journal_config,
            symbols,
            Journal::open_existing,
        )
    }

    /// As [`recover`](Self::recover), changing nothing on disk: the journal is opened
    /// copy-on-write ([`Journal::open_private`]), so a torn tail is cut and missing decisions
    /// are appended in memory only. For commands that only read a state directory.
    pub fn recover_read_only(
        checkpoint_root: &Path,
        journal_dir: &Path,
        journal_config: JournalConfig,
        symbols: SymbolTable,
    ) -> Result<Recovered, EngineError> {
        Self::recover_with(
            checkpoint_root,
            journal_dir,
            journal_config,
            symbols,
            Journal::open_private,
        )
    }

    fn recover_with(
        checkpoint_root: &Path,
        journal_dir: &Path,
        journal_config: JournalConfig,
        symbols: SymbolTable,
        open: OpenJournal,
    ) -> Result<Recovered, EngineError> {
        let cp = read_checkpoint(checkpoint_root)?;
        let mut engine = Engine::decode(&cp.body, symbols, cp.accounts)?;
        if engine.applied_seq != cp.seq {
            return Err(EngineError::Checkpoint {
                path: cp.dir.clone(),
                why: format!(
                    "state says seq {}, checkpoint {}",
                    engine.applied_seq, cp.seq
                ),
            });
        }
        // Refuses a journal that does not continue from the checkpoint before writing anything.
        let (mut journal, journal_report) = open(journal_dir, journal_config, cp.seq)?;
        let gap = |why: String| EngineError::JournalGap {
            dir: journal_dir.to_path_buf(),
            why,
        };
        let last = journal.last_seq().unwrap_or(journal.first_seq() - 1);
        if last < cp.seq {
            return Err(gap(format!(
                "ends at seq {last}, before checkpoint seq {}: records the checkpoint holds \
                 were lost; refusing to reuse their sequence numbers",
                cp.seq
            )));
        }
        if journal.first_seq() > cp.seq + 1 {
            return Err(gap(format!(
                "starts at seq {}, after checkpoint seq {}: records in between are missing",
                journal.first_seq(),
                cp.seq
            )));
        }
        let mut expected: VecDeque<Decision> = VecDeque::new();
        let mut group: Vec<Decision> = Vec::new();
        let (mut replayed, mut checked, mut appended) = (0u64, 0u64, 0u64);
        for rec in journal.records(cp.seq + 1) {
            let rec = rec?;
            let det = |why: String| EngineError::Determinism { seq: rec.seq, why };
            if rec.kind == super::model_mark::KIND_MODEL_MARK {
                if let Some(d) = expected.front() {
                    return Err(det(format!(
                        "model mark where replay expects a kind-{} decision",
                        d.kind()
                    )));
                }
                let m: Option<super::model_mark::ModelMark> =
                    (rec.payload.len() == 16).then(|| bytemuck::pod_read_unaligned(rec.payload));
                let running = engine.adaptive.fingerprint();
                match m {
                    Some(m) if m.fingerprint == running => engine.applied_seq = rec.seq,
                    Some(m) => {
                        return Err(det(format!(
                            "the adaptive model changed here (fingerprint {:016x}) and this \
                             replay runs {running:016x}: recover from the checkpoint written \
                             with the change",
                            m.fingerprint
                        )))
                    }
                    None => return Err(det("a model mark that does not decode".into())),
                }
            } else if rec.kind == KIND_ORIGIN {
                // An origin changes no state; it comes before an input, never amid decisions.
                if let Some(d) = expected.front() {
                    return Err(det(format!(
                        "origin record where replay expects a kind-{} decision",
                        d.kind()
                    )));
                }
                engine.applied_seq = rec.seq;
            } else if is_input_kind(rec.kind) {
                if let Some(d) = expected.front() {
                    return Err(det(format!(
                        "replay computed a kind-{} decision the journal does not have before \
                         this input",
                        d.kind()
                    )));
                }
                let input = Input::decode(rec.kind, rec.payload).ok_or_else(|| {
                    det(format!(
                        "kind-{} input of {} bytes does not decode",
                        rec.kind,
                        rec.payload.len()
                    ))
                })?;
                group.clear();
                engine.step(rec.seq, &input, &mut group);
                expected.extend(group.iter().filter(|d| d.is_journaled()).copied());
                replayed += 1;
            } else {
                let Some(d) = expected.pop_front() else {
                    return Err(det(format!(
                        "journal has a kind-{} decision that replay does not produce",
                        rec.kind
                    )));
                };
                if d.kind() != rec.kind || d.bytes() != rec.payload {
                    return Err(det(format!(
                        "journaled kind-{} decision differs from the recomputed kind-{} one",
                        rec.kind,
                        d.kind()
                    )));
                }
                engine.applied_seq = rec.seq;
                checked += 1;
            }
        }
        let mut to_send = Vec::new();
        if !expected.is_empty() {
            for d in &expected {
                engine.applied_seq = journal.append(d.kind(), d.bytes())?;
                appended += 1;
            }
            // The orders returned leave as soon as we return: like the engine stage under
            // `journal.sync = "every"`, make their decisions durable first. (`Journal::open`
            // synced everything found on disk or in the page cache before these.)
            journal.sync()?;
            to_send = group
                .iter()
                .filter_map(|d| match d {
                    Decision::Order(o) | Decision::Cancel(o) | Decision::Allocation(o) => Some(*o),
                    _ => None,
                })
                .collect();
        }
        Ok(Recovered {
            engine,
            journal,
            journal_report,
            checkpoint_seq: cp.seq,
            replayed_inputs: replayed,
            checked_decisions: checked,
            appended_decisions: appended,
            to_send,
        })
    }
}
