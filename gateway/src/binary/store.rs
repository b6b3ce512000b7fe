//! The binary session's memory-mapped store: next sequence numbers in and out, and the last
//! `capacity` outbound application messages for replay on a RetransmitRequest.
//!
//! ```text
//! 0    header (64 B): magic "MAMOESQ1", version, slot size, capacity, session id,
//!      next outbound seq, next inbound seq
//! 64   capacity × 256-byte slots: seq u64, len u16, 6 reserved, message (≤ 240 bytes)
//! ```
//!
//! Message `seq` lives in slot `seq % capacity`; a slot whose stored seq differs was
//! overwritten by a newer message, and that message can no longer be replayed. Each append
//! writes the slot first and the next-out counter second, so a process killed in between
//! re-sends that sequence number rather than skipping it. Writes reach the page cache at once
//! (they survive the process, not a power cut: no `msync` on the hot path).

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use memmap2::MmapMut;
use thiserror::Error;

const MAGIC: &[u8; 8] = b"MAMOESQ1";
/// 2: slots of 256 bytes (schema version 2's MasterReport is 152 bytes; 1 had 128).
const VERSION: u32 = 2;
const HEADER: usize = 64;
/// Bytes per stored message slot.
pub const SLOT: usize = 256;
/// Largest message a slot holds.
pub const SLOT_PAYLOAD: usize = SLOT - 16;
const OFF_NEXT_OUT: usize = 32;
const OFF_NEXT_IN: usize = 40;

/// Why the store could not be opened or written.
#[derive(Debug, Error)]
pub enum StoreError {
    /// File I/O failed.
    #[error("{path}: {source}")]
    Io {
        /// Store file.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a store of this version and shape.
    #[error("{path}: {what}")]
    Invalid {
        /// Store file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// A message longer than a slot.
    #[error("message of {0} bytes does not fit a store slot (240)")]
    TooLong(usize),
}

/// Sequence numbers and outbound messages of one binary session, memory-mapped.
#[derive(Debug)]
pub struct SeqStore {
    map: MmapMut,
    capacity: u64,
}

fn rd(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

impl SeqStore {
    /// Opens the store at `path`, creating it (sequence numbers 1/1) if absent. An existing
    /// file must carry the same session id and capacity.
    pub fn open(
        path: impl AsRef<Path>,
        session_id: u64,
        capacity: u32,
    ) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let io = |source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        };
        let invalid = |what: String| StoreError::Invalid {
            path: path.to_path_buf(),
            what,
        };
        if capacity == 0 {
            return Err(invalid("capacity must be at least 1".into()));
        }
        let size = (HEADER + capacity as usize * SLOT) as u64;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let fresh = len == 0;
        if fresh {
            file.set_len(size).map_err(io)?;
        } else if len != size {
            return Err(invalid(format!(
                "size {len} bytes, expected {size} for capacity {capacity}"
            )));
        }
        // SAFETY: the store file belongs to this session alone (one process opens it at a
        // time, by deployment contract) and is never truncated while mapped.
        let mut map = unsafe { MmapMut::map_mut(&file) }.map_err(io)?;
        if fresh {
            map[0..8].copy_from_slice(MAGIC);
            map[8..12].copy_from_slice(&VERSION.to_le_bytes());
            map[12..16].copy_from_slice(&(SLOT as u32).to_le_bytes());
            map[16..20].copy_from_slice(&capacity.to_le_bytes());
            map[24..32].copy_from_slice(&session_id.to_le_bytes());
            map[OFF_NEXT_OUT..OFF_NEXT_OUT + 8].copy_from_slice(&1u64.to_le_bytes());
            map[OFF_NEXT_IN..OFF_NEXT_IN + 8].copy_from_slice(&1u64.to_le_bytes());
        } else {
            if &map[0..8] != MAGIC {
                return Err(invalid("not a binary session store (bad magic)".into()));
            }
            let v = u32::from_le_bytes(map[8..12].try_into().unwrap_or_default());
            let slot = u32::from_le_bytes(map[12..16].try_into().unwrap_or_default());
            let cap = u32::from_le_bytes(map[16..20].try_into().unwrap_or_default());
            if v != VERSION || slot as usize != SLOT || cap != capacity {
                return Err(invalid(format!(
                    "version {v}, slot {slot}, capacity {cap}: expected {VERSION}, {SLOT}, {capacity}"
                )));
            }
            let sid = rd(&map, 24);
            if sid != session_id {
                return Err(invalid(format!(
                    "belongs to session {sid}, not {session_id}"
                )));
            }
            if rd(&map, OFF_NEXT_OUT) == 0 || rd(&map, OFF_NEXT_IN) == 0 {
                return Err(invalid("sequence number 0".into()));
            }
        }
        Ok(Self {
            map,
            capacity: u64::from(capacity),
        })
    }

    /// Next sequence number this side will send.
    pub fn next_out(&self) -> u64 {
        rd(&self.map, OFF_NEXT_OUT)
    }

    /// Next sequence number expected from the peer.
    pub fn next_in(&self) -> u64 {
        rd(&self.map, OFF_NEXT_IN)
    }

    /// Records that everything below `n` was received.
    pub fn set_next_in(&mut self, n: u64) {
        self.map[OFF_NEXT_IN..OFF_NEXT_IN + 8].copy_from_slice(&n.to_le_bytes());
    }

    /// Stores outbound message `seq` (must be `next_out`) and advances `next_out`.
    pub fn append_out(&mut self, seq: u64, msg: &[u8]) -> Result<(), StoreError> {
        if msg.len() > SLOT_PAYLOAD {
            return Err(StoreError::TooLong(msg.len()));
        }
        let at = HEADER + (seq % self.capacity) as usize * SLOT;
        let slot = &mut self.map[at..at + SLOT];
        slot[0..8].copy_from_slice(&seq.to_le_bytes());
        slot[8..10].copy_from_slice(&(msg.len() as u16).to_le_bytes());
        slot[16..16 + msg.len()].copy_from_slice(msg);
        self.map[OFF_NEXT_OUT..OFF_NEXT_OUT + 8].copy_from_slice(&(seq + 1).to_le_bytes());
        Ok(())
    }

    /// Outbound message `seq`, if still stored.
    pub fn get_out(&self, seq: u64) -> Option<&[u8]> {
        if seq == 0 || seq >= self.next_out() {
            return None;
        }
        let at = HEADER + (seq % self.capacity) as usize * SLOT;
        let slot = &self.map[at..at + SLOT];
        if rd(slot, 0) != seq {
            return None;
        }
        let len = usize::from(u16::from_le_bytes([slot[8], slot[9]])).min(SLOT_PAYLOAD);
        Some(&slot[16..16 + len])
    }

    /// Oldest outbound sequence number still replayable.
    pub fn oldest_out(&self) -> u64 {
        self.next_out().saturating_sub(self.capacity).max(1)
    }
}
const _: () = assert!(super::codec::MAX_MESSAGE_LEN <= SLOT_PAYLOAD);
