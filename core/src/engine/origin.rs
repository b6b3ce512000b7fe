//! Origin records: where the next input came from, for sources that resume by sequence number.
//!
//! A daemon that takes master orders over a FIX session must, after a crash, ask the manager to
//! resend exactly what the journal does not hold. The FIX MsgSeqNum of each journaled master order
//! is therefore journaled too, as an [`Origin`] record (kind [`KIND_ORIGIN`]) written right
//! before the input it describes. The state machine ignores origins (they change no state and
//! produce no decision); recovery skips them; [`resume_points`] reads them back.
//!
//! Market data needs no origin record: a [`MarketEvent`](crate::event::MarketEvent) carries
//! its source sequence number itself. Fills need none either: they are idempotent by
//! cumulative quantity ([`Engine::order_progress`]), so after a restart the LP session simply
//! asks for everything again and the daemon drops what the engine already holds.

use std::collections::BTreeMap;

use bytemuck::{Pod, Zeroable};

use super::input::Input;
use super::{Engine, EngineError};
use crate::event::ChildOrder;
use crate::journal::{Journal, JournalError};

/// Journal kind of an [`Origin`] record (neither an input nor a decision).
pub const KIND_ORIGIN: u16 = 7;

/// [`Origin::source`]: the manager's FIX session (seq = MsgSeqNum of the master order).
pub const SOURCE_MANAGER: u16 = 1;

/// Where the input journaled right after this record came from (16 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
#[repr(C)]
pub struct Origin {
    /// The source's own sequence number of the message that carried the input.
    pub seq: u64,
    /// Source id ([`SOURCE_MANAGER`], ...).
    pub source: u16,
    /// Reserved, zero.
    pub _pad: [u8; 6],
}

impl Origin {
    /// An origin record for `source`'s message `seq`.
    pub fn new(source: u16, seq: u64) -> Self {
        Origin {
            seq,
            source,
            _pad: [0; 6],
        }
    }
}

impl Engine {
    /// Like [`Engine::apply`], but first journals `origin` (if any) right before the input.
    pub fn apply_from(
        &mut self,
        origin: Option<&Origin>,
        input: &Input,
        journal: &mut Journal,
        out: impl FnMut(&ChildOrder),
    ) -> Result<u64, EngineError> {
        if let Some(o) = origin {
            self.applied_seq = journal.append(KIND_ORIGIN, bytemuck::bytes_of(o))?;
        }
        self.apply(input, journal, out)
    }
}

/// Where each source resumes after a restart, as the journal says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResumePoints {
    /// The last origin sequence journaled per source.
    pub origins: BTreeMap<u16, u64>,
    /// The highest source sequence of any journaled market-data input.
    pub market_seq: Option<u64>,
}

/// Reads the [`ResumePoints`] from the whole of `journal` (a start-up cost proportional to the
/// journal; a daemon rolls journals daily).
pub fn resume_points(journal: &Journal) -> Result<ResumePoints, JournalError> {
    let mut r = ResumePoints::default();
    for rec in journal.records(journal.first_seq()) {
        let rec = rec?;
        if rec.kind == KIND_ORIGIN && rec.payload.len() == core::mem::size_of::<Origin>() {
            let o: Origin = bytemuck::pod_read_unaligned(rec.payload);
            r.origins.insert(o.source, o.seq);
        } else if let Some(Input::Market(m)) = Input::decode(rec.kind, rec.payload) {
            r.market_seq = Some(r.market_seq.map_or(m.seq, |s: u64| s.max(m.seq)));
        }
    }
    Ok(r)
}

const _: () = assert!(core::mem::size_of::<Origin>() == 16);
