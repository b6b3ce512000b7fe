//! [`AccountStore`]: the accounts as a memory-mapped structure-of-arrays file.
//!
//! Layout (byte by byte in `docs/storage.md`): a 128-byte [`Header`] (magic, layout version,
//! capacity, count, last applied journal sequence, checksum, state), then one column per
//! [`AccountRecord`] field, each `capacity` entries long and starting at a multiple of 64 bytes.
//! Allocation reads [`AccountStore::columns`] straight from the mapping.
//!
//! Checksum: CRC-32 of the header (checksum and state fields as zero) and the first `count`
//! entries of every column. It is written by [`create`](AccountStore::create),
//! [`flush`](AccountStore::flush)/[`sync`](AccountStore::sync), [`grow`](AccountStore::grow)
//! and every whole-file write. Writing in place (through [`columns_mut`](AccountStore::columns_mut),
//! [`push`](AccountStore::push), ...) first sets the header's dirty bit (synced to disk), so a
//! file whose writer died between flushes is refused as [`StoreError::Dirty`] (not a consistent
//! snapshot) while a file changed by anything else is refused as
//! [`StoreError::ChecksumMismatch`]. Crash-safe checkpoints use
//! [`snapshot_to`](AccountStore::snapshot_to) (temporary file, fsync, rename).

mod columns;
mod error;
mod layout;
mod write;

#[cfg(test)]
mod tests;

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

use memmap2::{Mmap, MmapMut};

pub use columns::AccountColumnsMut;
use error::io_err;
pub use error::StoreError;
pub use layout::{
    Header, Layout, COLUMNS, COLUMN_ALIGN, COLUMN_COUNT, HEADER_LEN, MAGIC, MAX_CAPACITY,
    STATE_DIRTY, VERSION,
};

use crate::account::{AccountColumns, AccountRecord, AccountVecs};

/// Capacity of a store created without one.
pub const DEFAULT_CAPACITY: u64 = 1024;

enum Map {
    ReadOnly(Mmap),
    ReadWrite(MmapMut),
}

/// A memory-mapped account store (see the module docs).
pub struct AccountStore {
    path: PathBuf,
    map: Map,
    layout: Layout,
    count: usize,
}

impl core::fmt::Debug for AccountStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AccountStore")
            .field("path", &self.path)
            .field("capacity", &self.layout.capacity)
            .field("count", &self.count)
            .field("header", &self.header())
            .finish()
    }
}

/// True if `path` starts with the account store magic (a quick sniff; [`AccountStore::open`]
/// does the full validation).
pub fn is_store_file(path: &Path) -> std::io::Result<bool> {
    let mut head = Vec::with_capacity(MAGIC.len());
    File::open(path)?
        .take(MAGIC.len() as u64)
        .read_to_end(&mut head)?;
    Ok(head == MAGIC)
}

impl AccountStore {
    /// Creates an empty store of `capacity` entries at `path`; refuses if `path` exists.
    pub fn create(path: &Path, capacity: u64) -> Result<Self, StoreError> {
        if path.exists() {
            return Err(StoreError::Io {
                path: path.to_path_buf(),
                what: "creating a store",
                error: std::io::Error::from(std::io::ErrorKind::AlreadyExists),
            });
        }
        Self::write_new(path, &AccountVecs::default().columns(), capacity, 0)
    }

    /// Writes `cols` as a new store at `path` (atomically replacing any file there: temporary
    /// file, fsync, rename) and opens it read-write.
    pub fn write_new(
        path: &Path,
        cols: &AccountColumns<'_>,
        capacity: u64,
        last_applied_seq: u64,
    ) -> Result<Self, StoreError> {
        write::write_atomic(path, cols, capacity, last_applied_seq)?;
        Self::open(path)
    }

    /// Opens and validates a store for reading and writing.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_impl(path, true)
    }

    /// Opens and validates a store for reading only (writes return [`StoreError::ReadOnly`]).
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        Self::open_impl(path, false)
    }

    fn open_impl(path: &Path, writable: bool) -> Result<Self, StoreError> {
        let file = OpenOptions::new()
            .read(true)
            .write(writable)
            .open(path)
            .map_err(io_err(path, "opening the store"))?;
        let len = file
            .metadata()
            .map_err(io_err(path, "reading metadata"))?
            .len();
        let mut head = Vec::with_capacity(HEADER_LEN);
        (&file)
            .take(HEADER_LEN as u64)
            .read_to_end(&mut head)
            .map_err(io_err(path, "reading the header"))?;
        let (header, layout) = check_header(path, &head, len)?;
        let map = if writable {
            // SAFETY: mapping a file is sound only while no one else truncates or writes it
            // behind our back. The store belongs to one mam process by contract (documented in
            // docs/storage.md); we checked its length against the header, and every slice we
            // hand out lies inside the mapping.
            Map::ReadWrite(unsafe { MmapMut::map_mut(&file) }.map_err(io_err(path, "mapping"))?)
        } else {
            // SAFETY: as above (a read-only mapping has the same external-modification caveat).
            Map::ReadOnly(unsafe { Mmap::map(&file) }.map_err(io_err(path, "mapping"))?)
        };
        let store = AccountStore {
            path: path.to_path_buf(),
            map,
            layout,
            count: header.count as usize,
        };
        store.check_body(&header)?;
        Ok(store)
    }

    /// Verifies the checksum against the current contents (after `count` and the header).
    fn check_body(&self, header: &Header) -> Result<(), StoreError> {
        let bytes = self.bytes();
        if bytes.len() != self.layout.file_len {
            return Err(StoreError::SizeMismatch {
                path: self.path.clone(),
                capacity: header.capacity,
                expected: self.layout.file_len as u64,
                actual: bytes.len() as u64,
            });
        }
        let cols = columns::columns(bytes, &self.layout, self.count).ok_or_else(|| {
            StoreError::BadHeader {
                path: self.path.clone(),
                what: "columns do not fit the mapping".into(),
            }
        })?;
        let computed = layout::checksum(header, &cols);
        if computed == header.checksum {
            return Ok(());
        }
        let (path, stored) = (self.path.clone(), header.checksum);
        Err(if header.state & STATE_DIRTY != 0 {
            StoreError::Dirty {
                path,
                stored,
                computed,
            }
        } else {
            StoreError::ChecksumMismatch {
                path,
                stored,
                computed,
            }
        })
    }

    /// Re-validates the checksum of the current contents (as `open` does).
    pub fn verify(&self) -> Result<(), StoreError> {
        self.check_body(&self.header())
    }

    fn bytes(&self) -> &[u8] {
        match &self.map {
            Map::ReadOnly(m) => m,
            Map::ReadWrite(m) => m,
        }
    }

    fn bytes_mut(&mut self) -> Result<&mut [u8], StoreError> {
        match &mut self.map {
            Map::ReadOnly(_) => Err(StoreError::ReadOnly {
                path: self.path.clone(),
            }),
            Map::ReadWrite(m) => Ok(m),
        }
    }

    /// The header as it is now.
    pub fn header(&self) -> Header {
        bytemuck::pod_read_unaligned(&self.bytes()[..HEADER_LEN])
    }

    fn write_header(&mut self, h: &Header) -> Result<(), StoreError> {
        self.bytes_mut()?[..HEADER_LEN].copy_from_slice(bytemuck::bytes_of(h));
        Ok(())
    }

    /// Sets the dirty bit and makes it durable before the first in-place write after a flush.
    fn mark_dirty(&mut self) -> Result<(), StoreError> {
        let mut h = self.header();
        if h.state & STATE_DIRTY != 0 {
            return Ok(());
        }
        h.state |= STATE_DIRTY;
        self.write_header(&h)?;
        if let Map::ReadWrite(m) = &self.map {
            m.flush_range(0, HEADER_LEN)
                .map_err(io_err(&self.path, "syncing the header"))?;
        }
        Ok(())
    }

    /// The file this store maps.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Accounts in use.
    pub fn len(&self) -> usize {
        self.count
    }
    /// True if no account is in use.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// Entries each column has room for.
    pub fn capacity(&self) -> usize {
        self.layout.capacity
    }
    /// Where each column lies.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }
    /// Sequence number of the last journal record whose effect the columns contain.
    pub fn last_applied_seq(&self) -> u64 {
        self.header().last_applied_seq
    }

    /// The columns of the accounts in use, straight from the mapping.
    pub fn columns(&self) -> AccountColumns<'_> {
        // Validated at open and kept in step by every method that changes count or layout.
        columns::columns(self.bytes(), &self.layout, self.count)
            .unwrap_or_else(|| unreachable!("store layout validated at open"))
    }

    /// Mutable columns of the accounts in use. Marks the store dirty (durably) first; call
    /// [`flush`](Self::flush) or [`sync`](Self::sync) to seal the new state.
    pub fn columns_mut(&mut self) -> Result<AccountColumnsMut<'_>, StoreError> {
        self.mark_dirty()?;
        let (layout, count) = (self.layout, self.count);
        let bytes = self.bytes_mut()?;
        Ok(columns::columns_mut(bytes, &layout, count)
            .unwrap_or_else(|| unreachable!("store layout validated at open")))
    }

    /// Account `i` as a whole record.
    pub fn record(&self, i: usize) -> Option<AccountRecord> {
        (i < self.count).then(|| self.columns().record(i))
    }

    /// Index of the account with this id (a linear scan of the id column).
    pub fn find(&self, id: &str) -> Option<usize> {
        let key = crate::account::encode_id(id)?;
        self.columns().id.iter().position(|x| *x == key)
    }

    /// Overwrites account `i`.
    pub fn set_record(&mut self, i: usize, r: &AccountRecord) -> Result<(), StoreError> {
        if i >= self.count {
            return Err(StoreError::OutOfRange {
                index: i,
                count: self.count,
            });
        }
        self.columns_mut()?.set(i, r);
        Ok(())
    }

    /// Appends an account and returns its index. Refuses a duplicate id, and a full store
    /// ([`StoreError::Full`]: [`grow`](Self::grow) first).
    pub fn push(&mut self, r: &AccountRecord) -> Result<usize, StoreError> {
        if self.columns().id.contains(&r.id) {
            return Err(StoreError::DuplicateId(r.id_str().to_string()));
        }
        let i = self.count;
        if i >= self.layout.capacity {
            return Err(StoreError::Full {
                capacity: self.layout.capacity as u64,
            });
        }
        self.mark_dirty()?;
        let mut h = self.header();
        h.count = i as u64 + 1;
        self.write_header(&h)?;
        self.count = i + 1;
        self.columns_mut()?.set(i, r);
        Ok(i)
    }

    /// Records that the columns now contain the effect of journal record `seq`.
    pub fn set_last_applied_seq(&mut self, seq: u64) -> Result<(), StoreError> {
        self.mark_dirty()?;
        let mut h = self.header();
        h.last_applied_seq = seq;
        self.write_header(&h)
    }

    /// Recomputes the checksum, clears the dirty bit and starts writing the mapping back
    /// (`msync(MS_ASYNC)`): the state is sealed; durable once the kernel writes it.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        self.seal()?;
        if let Map::ReadWrite(m) = &self.map {
            m.flush_async()
                .map_err(io_err(&self.path, "flushing the mapping"))?;
        }
        Ok(())
    }

    /// As [`flush`](Self::flush), but waits until the data is on disk (`msync(MS_SYNC)`).
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.seal()?;
        if let Map::ReadWrite(m) = &self.map {
            m.flush()
                .map_err(io_err(&self.path, "syncing the mapping"))?;
        }
        Ok(())
    }

    fn seal(&mut self) -> Result<(), StoreError> {
        let mut h = self.header();
        h.checksum = layout::checksum(&h, &self.columns());
        h.state &= !STATE_DIRTY;
        self.write_header(&h)
    }

    /// Grows (or shrinks, down to the count) to `new_capacity` entries, preserving every account
    /// and the last applied sequence. Crash-safe: the new file is written beside the old one,
    /// synced and renamed over it, then mapped. The new file is sealed (this is a checkpoint).
    pub fn grow(&mut self, new_capacity: u64) -> Result<(), StoreError> {
        if let Map::ReadOnly(_) = self.map {
            return Err(StoreError::ReadOnly {
                path: self.path.clone(),
            });
        }
        let seq = self.last_applied_seq();
        write::write_atomic(&self.path, &self.columns(), new_capacity, seq)?;
        *self = Self::open(&self.path.clone())?;
        Ok(())
    }

    /// Writes a sealed copy of the current state to `dst` (same capacity), atomically
    /// replacing any file there: a crash-safe checkpoint that leaves this store untouched.
    pub fn snapshot_to(&self, dst: &Path) -> Result<(), StoreError> {
        write::write_atomic(
            dst,
            &self.columns(),
            self.layout.capacity as u64,
            self.last_applied_seq(),
        )
    }

    /// Copies the accounts into owned columns.
    pub fn to_vecs(&self) -> AccountVecs {
        let c = self.columns();
        let mut v = AccountVecs::default();
        for i in 0..c.len() {
            v.push(&c.record(i));
        }
        v
    }
}

/// Checks the header fields and the file length; returns the header and its layout.
fn check_header(path: &Path, head: &[u8], len: u64) -> Result<(Header, Layout), StoreError> {
    let p = || path.to_path_buf();
    if head.len() < MAGIC.len() {
        return Err(StoreError::TooShort { path: p(), len });
    }
    if head[..MAGIC.len()] != MAGIC {
        let mut found = [0u8; 8];
        found.copy_from_slice(&head[..8]);
        return Err(StoreError::BadMagic { path: p(), found });
    }
    if head.len() < HEADER_LEN {
        return Err(StoreError::TooShort { path: p(), len });
    }
    let h: Header = bytemuck::pod_read_unaligned(&head[..HEADER_LEN]);
    if h.version != VERSION {
        return Err(StoreError::BadVersion {
            path: p(),
            found: h.version,
            expected: VERSION,
        });
    }
    let reference = Header::new(0);
    let bad = |what: String| Err(StoreError::BadHeader { path: p(), what });
    if h.header_len != reference.header_len {
        return bad(format!(
            "header_len {} (expected {HEADER_LEN})",
            h.header_len
        ));
    }
    if h.column_count != reference.column_count {
        return bad(format!(
            "column_count {} (expected {COLUMN_COUNT})",
            h.column_count
        ));
    }
    if h.record_size != reference.record_size {
        let want = reference.record_size;
        return bad(format!("record_size {} (expected {want})", h.record_size));
    }
    if h.state & !STATE_DIRTY != 0 {
        return bad(format!("state {:#x} has unknown bits", h.state));
    }
    let Some(layout) = Layout::new(h.capacity) else {
        return bad(format!("capacity {} above {MAX_CAPACITY}", h.capacity));
    };
    if h.count > h.capacity {
        return Err(StoreError::CountExceedsCapacity {
            path: p(),
            count: h.count,
            capacity: h.capacity,
        });
    }
    if len != layout.file_len as u64 {
        return Err(StoreError::SizeMismatch {
            path: p(),
            capacity: h.capacity,
            expected: layout.file_len as u64,
            actual: len,
        });
    }
    Ok((h, layout))
}
