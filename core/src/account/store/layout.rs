//! The byte layout of an account store file: a 128-byte header, then one 64-byte-aligned
//! column per [`AccountRecord`](crate::account::AccountRecord) field, each `capacity` entries
//! long. `docs/storage.md` draws it byte by byte.

use bytemuck::{Pod, Zeroable};

use crate::account::AccountColumns;

/// The first eight bytes of every account store file.
pub const MAGIC: [u8; 8] = *b"MAMACCT\0";
/// The layout version this build reads and writes.
///
/// History: 1 had the 15 columns `id` ..= `flags` (112-byte records); 2 appends
/// `commission_per_lot`, `daily_loss_limit`, `margin_call_level`, `stop_out_level` and
/// `currency` (20 columns, 152-byte records). A file of another version is refused, never
/// converted: export it to CSV with the build that wrote it and import that into a new store.
pub const VERSION: u32 = 2;
/// Size of the header in bytes; the first column starts here.
pub const HEADER_LEN: usize = 128;
/// Every column starts at a multiple of this (a cache line; also satisfies every Pod alignment).
pub const COLUMN_ALIGN: usize = 64;
/// Header `state` bit: the columns were modified in place after the last flush, so the stored
/// checksum is stale until the next flush.
pub const STATE_DIRTY: u32 = 1;
/// Largest capacity a store may declare (keeps every offset computation far from overflow).
pub const MAX_CAPACITY: u64 = 1 << 32;

/// Column names and entry sizes in file order (the order of `AccountRecord`'s fields).
pub const COLUMNS: [(&str, usize); COLUMN_COUNT] = [
    ("id", 16),
    ("balance", 8),
    ("equity", 8),
    ("margin_used", 8),
    ("equity_hwm", 8),
    ("multiplier", 8),
    ("percent", 8),
    ("fixed_lots", 8),
    ("risk_fraction", 8),
    ("drawdown_tolerance", 8),
    ("min_scale", 8),
    ("max_scale", 8),
    ("leverage", 4),
    ("cluster", 2),
    ("flags", 2),
    ("commission_per_lot", 8),
    ("daily_loss_limit", 8),
    ("margin_call_level", 8),
    ("stop_out_level", 8),
    ("currency", 8),
];

/// Number of columns (one per `AccountRecord` field).
pub const COLUMN_COUNT: usize = 20;

// The columns are the record's fields, all of them: their sizes add up to the record size.
const _: () = {
    let mut sum = 0;
    let mut i = 0;
    while i < COLUMN_COUNT {
        sum += COLUMNS[i].1;
        i += 1;
    }
    assert!(sum == core::mem::size_of::<crate::account::AccountRecord>());
};

/// The file header, exactly as it lies in the first 128 bytes (little-endian host assumed:
/// the store is a machine-local file, not an interchange format).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct Header {
    /// [`MAGIC`].
    pub magic: [u8; 8],
    /// [`VERSION`].
    pub version: u32,
    /// [`HEADER_LEN`] (a sanity check on the layout).
    pub header_len: u32,
    /// Entries each column has room for.
    pub capacity: u64,
    /// Entries in use (`<= capacity`).
    pub count: u64,
    /// Sequence number of the last journal record whose effect the columns contain.
    pub last_applied_seq: u64,
    /// CRC-32 (IEEE) of the header with `checksum` and `state` taken as zero, then the first
    /// `count` entries of every column in file order.
    pub checksum: u32,
    /// [`STATE_DIRTY`] or 0.
    pub state: u32,
    /// Number of columns ([`COLUMN_COUNT`], 20; a sanity check on the layout).
    pub column_count: u32,
    /// `size_of::<AccountRecord>()` (152; a sanity check on the layout).
    pub record_size: u32,
    /// Zero.
    pub reserved: [u8; 72],
}

const _: () = assert!(core::mem::size_of::<Header>() == HEADER_LEN);

impl Header {
    /// A fresh header for `capacity` entries, none used.
    pub fn new(capacity: u64) -> Self {
        Header {
            magic: MAGIC,
            version: VERSION,
            header_len: HEADER_LEN as u32,
            capacity,
            count: 0,
            last_applied_seq: 0,
            checksum: 0,
            state: 0,
            column_count: COLUMNS.len() as u32,
            record_size: core::mem::size_of::<crate::account::AccountRecord>() as u32,
            reserved: [0; 72],
        }
    }
}

/// Where each column lies for a given capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Entries per column.
    pub capacity: usize,
    /// Byte offset of each column, in [`COLUMNS`] order.
    pub offsets: [usize; COLUMN_COUNT],
    /// Total file length.
    pub file_len: usize,
}

fn align_up(x: usize) -> usize {
    x.div_ceil(COLUMN_ALIGN) * COLUMN_ALIGN
}

impl Layout {
    /// The layout for `capacity` entries; `None` above [`MAX_CAPACITY`].
    pub fn new(capacity: u64) -> Option<Layout> {
        if capacity > MAX_CAPACITY {
            return None;
        }
        let cap = usize::try_from(capacity).ok()?;
        let mut offsets = [0usize; COLUMN_COUNT];
        let mut at = HEADER_LEN;
        for (i, &(_, size)) in COLUMNS.iter().enumerate() {
            at = align_up(at);
            offsets[i] = at;
            at = at.checked_add(cap.checked_mul(size)?)?;
        }
        Some(Layout {
            capacity: cap,
            offsets,
            file_len: align_up(at),
        })
    }

    /// Byte range of the first `count` entries of column `col`.
    pub fn used(&self, col: usize, count: usize) -> core::ops::Range<usize> {
        let start = self.offsets[col];
        start..start + count * COLUMNS[col].1
    }
}

/// The column slices of `cols` as bytes, in file order.
pub fn column_bytes<'a>(cols: &AccountColumns<'a>) -> [&'a [u8]; COLUMN_COUNT] {
    use bytemuck::cast_slice as b;
    [
        b(cols.id),
        b(cols.balance),
        b(cols.equity),
        b(cols.margin_used),
        b(cols.equity_hwm),
        b(cols.multiplier),
        b(cols.percent),
        b(cols.fixed_lots),
        b(cols.risk_fraction),
        b(cols.drawdown_tolerance),
        b(cols.min_scale),
        b(cols.max_scale),
        b(cols.leverage),
        b(cols.cluster),
        b(cols.flags),
        b(cols.commission_per_lot),
        b(cols.daily_loss_limit),
        b(cols.margin_call_level),
        b(cols.stop_out_level),
        b(cols.currency),
    ]
}

/// The checksum the header should carry for these columns (see [`Header::checksum`]).
pub fn checksum(header: &Header, cols: &AccountColumns<'_>) -> u32 {
    let mut h = *header;
    h.checksum = 0;
    h.state = 0;
    let mut crc = crc32fast::Hasher::new();
    crc.update(bytemuck::bytes_of(&h));
    for c in column_bytes(cols) {
        crc.update(c);
    }
    crc.finalize()
}
