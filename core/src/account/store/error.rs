//! What can go wrong with an account store, each kind saying which check failed and where.

use std::path::PathBuf;

use thiserror::Error;

/// An account store error. Every corruption kind is its own variant.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The operating system refused a file operation.
    #[error("{}: {what}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The OS error.
        error: std::io::Error,
    },
    /// The file is shorter than the header.
    #[error("{}: file is {len} bytes, shorter than the {}-byte store header (truncated?)", path.display(), super::HEADER_LEN)]
    TooShort {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: u64,
    },
    /// The first eight bytes are not the store magic.
    #[error("{}: bad magic {found:02x?}: not a mam account store", path.display())]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The bytes found.
        found: [u8; 8],
    },
    /// The layout version is not the one this build reads. Stores are never converted in
    /// place: the message says how to move the accounts across (CSV export, then import).
    #[error("{}: layout version {found}, this build reads version {expected}: export the accounts \
             to CSV with a mam build that reads version {found} (`mam accounts export`), then \
             import that CSV into a new store with this one (`mam accounts import`)", path.display())]
    BadVersion {
        /// The file.
        path: PathBuf,
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        expected: u32,
    },
    /// A header field that describes the layout is wrong.
    #[error("{}: corrupt header: {what}", path.display())]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// Which field and value.
        what: String,
    },
    /// More accounts are declared than there is room for.
    #[error("{}: corrupt header: count {count} exceeds capacity {capacity}", path.display())]
    CountExceedsCapacity {
        /// The file.
        path: PathBuf,
        /// Declared count.
        count: u64,
        /// Declared capacity.
        capacity: u64,
    },
    /// The file length does not match the declared capacity.
    #[error("{}: file is {actual} bytes but capacity {capacity} needs exactly {expected} (truncated or extended)", path.display())]
    SizeMismatch {
        /// The file.
        path: PathBuf,
        /// Declared capacity.
        capacity: u64,
        /// Length the layout needs.
        expected: u64,
        /// Actual length.
        actual: u64,
    },
    /// The checksum does not match the contents of a store that was cleanly flushed.
    #[error("{}: checksum mismatch: header says {stored:#010x}, contents give {computed:#010x} (corrupt)", path.display())]
    ChecksumMismatch {
        /// The file.
        path: PathBuf,
        /// Checksum in the header.
        stored: u32,
        /// Checksum of the contents.
        computed: u32,
    },
    /// The store was modified in place after its last flush and the writer stopped before the
    /// next one: its contents are not a consistent snapshot (recover from a snapshot + journal).
    #[error("{}: dirty: modified after its last flush and never flushed again (checksum {stored:#010x}, contents {computed:#010x}); not a consistent snapshot: restore a snapshot and replay the journal", path.display())]
    Dirty {
        /// The file.
        path: PathBuf,
        /// Checksum in the header.
        stored: u32,
        /// Checksum of the contents.
        computed: u32,
    },
    /// The store has no room for another account.
    #[error("store is full ({capacity} accounts): grow it first")]
    Full {
        /// Current capacity.
        capacity: u64,
    },
    /// An account with this id is already in the store.
    #[error("account id `{0}` is already in the store")]
    DuplicateId(String),
    /// A requested capacity is smaller than the count or larger than the maximum.
    #[error("capacity {requested} is invalid (count {count}, maximum {max})")]
    BadCapacity {
        /// Requested.
        requested: u64,
        /// Accounts in use.
        count: u64,
        /// Largest allowed.
        max: u64,
    },
    /// An index past the last account.
    #[error("account index {index} out of range (count {count})")]
    OutOfRange {
        /// Index asked for.
        index: usize,
        /// Accounts in use.
        count: usize,
    },
    /// A write on a store opened read-only.
    #[error("{}: store opened read-only", path.display())]
    ReadOnly {
        /// The file.
        path: PathBuf,
    },
}

/// Wraps an OS error with the file and what was being done.
pub(super) fn io_err<'a>(
    path: &'a std::path::Path,
    what: &'static str,
) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |error| StoreError::Io {
        path: path.to_path_buf(),
        what,
        error,
    }
}
