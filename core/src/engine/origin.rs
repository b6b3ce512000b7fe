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
    /// Which of the message's inputs this is (0-based).
    pub part: u8,
    /// How many inputs the message carries; 0 (journals before parts were recorded) or 1: one.
    pub parts: u8,
    /// Reserved, zero.
    pub _pad: [u8; 4],
}

impl Origin {
    /// An origin record for `source`'s message `seq`, which carries one input.
    pub fn new(source: u16, seq: u64) -> Self {
        Origin {
            seq,
            source,
            part: 0,
            parts: 0,
            _pad: [0; 4],
        }
    }

    /// An origin record for input `part` of the `parts` that `source`'s message `seq` carries.
    pub fn part_of(source: u16, seq: u64, part: u8, parts: u8) -> Self {
        Origin {
            part,
            parts,
            ..Origin::new(source, seq)
        }
    }

    /// Whether the input after this record is its message's last.
    pub fn ends_message(&self) -> bool {
        self.part.saturating_add(1) >= self.parts
    }

    /// The source's last message the journal holds whole: this one when its last input is
    /// journaled, else the one before it, which the source must then send again (the inputs of
    /// it already journaled are dropped then: [`ResumePoints::partial`]).
    pub fn resume_after(&self) -> u64 {
        if self.ends_message() {
            self.seq
        } else {
            self.seq.saturating_sub(1)
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
    /// The last origin record journaled per source.
    pub origins: BTreeMap<u16, Origin>,
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
            r.origins.insert(o.source, o);
        } else if let Some(Input::Market(m)) = Input::decode(rec.kind, rec.payload) {
            r.market_seq = Some(r.market_seq.map_or(m.seq, |s: u64| s.max(m.seq)));
        }
    }
    Ok(r)
}

impl ResumePoints {
    /// The last message of `source` the journal holds whole ([`Origin::resume_after`]).
    pub fn resume_after(&self, source: u16) -> Option<u64> {
        self.origins.get(&source).map(Origin::resume_after)
    }

    /// The sources whose last journaled message is only partly journaled (a kill came between
    /// its inputs), each with its last origin record: when the source sends that message again,
    /// the inputs up to that record's part are already applied.
    pub fn partial(&self) -> impl Iterator<Item = &Origin> + '_ {
        self.origins.values().filter(|o| !o.ends_message())
    }
}

const _: () = assert!(core::mem::size_of::<Origin>() == 16);
