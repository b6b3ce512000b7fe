//! The journal: an append-only, memory-mapped log of every engine input and decision.
//!
//! A journal is a directory of pre-sized segment files `journal-NNNNNN.mamj`. Each record
//! carries a sequence number (strictly consecutive across segments), a kind (`u16`, the
//! engine's record type), its length and a CRC-32C; records are 8-byte aligned
//! ([`format`](mod@format) has the framing, `docs/storage.md` the whole layout). Appending is a bounds
//! check, a `memcpy` and a CRC into the mapping; a segment that cannot take the next record is
//! synced and the next one is created (temporary file, fsync, rename).
//!
//! On [`Journal::open`] a torn tail of the final segment (a record never completed: no header,
//! a CRC never written, bytes missing from a short file; stray bytes after the end) is
//! detected, reported in the [`RecoveryReport`] (segment, offset, what, bytes cut) and
//! zeroed, never applied. A complete record whose CRC fails (even the last one) and damage
//! anywhere else (a non-final segment, or followed by a valid record) is refused as
//! [`JournalError::Corrupt`] naming the segment and offset, changing nothing.
//!
//! Recovery with the account store: open the store (its header holds the last applied
//! sequence), then replay `journal.records(store.last_applied_seq() + 1)`.
//! Durability: a record is in the page cache (it survives the process being killed) once
//! [`Journal::append`] returns; it survives power loss once synced ([`Journal::sync`],
//! [`FlushPolicy`]); [`Journal::synced_seq`] says how far that is. The engine stage syncs once
//! per duty cycle, on a schedule ([`SyncPolicy`], module [`sync`](mod@sync)).

pub mod crc32c;
pub mod format;

mod error;
mod reader;
mod scan;
pub mod sync;
mod writer;

#[cfg(test)]
mod tests;

pub use error::{Corruption, JournalError, TornTail};
pub use format::{Problem, Record};
pub use reader::{JournalReader, Records};
pub use scan::{RecoveryReport, ScanReport, SegmentSummary};
pub use sync::{GroupCommit, SyncPolicy, SyncPolicyError, SyncSchedule};
pub use writer::{FlushPolicy, Journal, JournalConfig};
