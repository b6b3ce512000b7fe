//! The on-disk format of a journal segment: a 64-byte header, then records at 8-byte-aligned
//! offsets, then zeros. `docs/storage.md` draws it byte by byte.
//!
//! Record framing (little-endian):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | CRC-32C (Castagnoli, [`crc32c`](super::crc32c)) of bytes 4 .. end of padding |
//! | 4 | 4 | payload length `len` |
//! | 8 | 8 | sequence number (>= 1) |
//! | 16 | 2 | kind |
//! | 18 | 6 | zero |
//! | 24 | len | payload |
//! | 24 + len | 0-7 | zero padding to a multiple of 8 |
//!
//! A record header of 24 zero bytes marks the end of the data (no valid record has one: its
//! sequence number is at least 1).

use core::fmt;

use bytemuck::{Pod, Zeroable};

/// The first eight bytes of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"MAMJRNL\0";
/// Segment layout version this build reads and writes.
pub const SEGMENT_VERSION: u32 = 1;
/// Size of the segment header; the first record starts here.
pub const SEGMENT_HEADER_LEN: usize = 64;
/// Size of a record header; the payload starts here (8-byte aligned).
pub const RECORD_HEADER_LEN: usize = 24;
/// Records start at multiples of this.
pub const RECORD_ALIGN: usize = 8;

/// The header at the start of every segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct SegmentHeader {
    /// [`SEGMENT_MAGIC`].
    pub magic: [u8; 8],
    /// [`SEGMENT_VERSION`].
    pub version: u32,
    /// [`SEGMENT_HEADER_LEN`].
    pub header_len: u32,
    /// The segment's number (also in its file name), 1 for the first.
    pub index: u64,
    /// Sequence number of the first record this segment holds (or will hold).
    pub first_seq: u64,
    /// Length of the (pre-sized) segment file in bytes.
    pub segment_size: u64,
    /// Zero.
    pub reserved: [u8; 20],
    /// CRC-32C of bytes 0..60.
    pub crc: u32,
}

const _: () = assert!(core::mem::size_of::<SegmentHeader>() == SEGMENT_HEADER_LEN);

impl SegmentHeader {
    /// A sealed header (CRC filled in).
    pub fn new(index: u64, first_seq: u64, segment_size: u64) -> Self {
        let mut h = SegmentHeader {
            magic: SEGMENT_MAGIC,
            version: SEGMENT_VERSION,
            header_len: SEGMENT_HEADER_LEN as u32,
            index,
            first_seq,
            segment_size,
            reserved: [0; 20],
            crc: 0,
        };
        h.crc = h.computed_crc();
        h
    }

    /// The CRC the header should carry.
    pub fn computed_crc(&self) -> u32 {
        super::crc32c::crc32c(&bytemuck::bytes_of(self)[..SEGMENT_HEADER_LEN - 4])
    }
}

/// Bytes a record with a `len`-byte payload takes, padding included.
#[inline]
pub const fn record_size(len: usize) -> usize {
    (RECORD_HEADER_LEN + len + RECORD_ALIGN - 1) & !(RECORD_ALIGN - 1)
}

/// The file name of segment `index`.
pub fn segment_file_name(index: u64) -> String {
    format!("journal-{index:06}.mamj")
}

/// The segment index in a file name, if it is one.
pub fn parse_segment_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("journal-")?.strip_suffix(".mamj")?;
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Writes a record at the start of `buf` (exactly `record_size(payload.len())` bytes long).
#[inline]
pub fn encode_record(buf: &mut [u8], seq: u64, kind: u16, payload: &[u8]) {
    let total = buf.len();
    debug_assert_eq!(total, record_size(payload.len()));
    let end = RECORD_HEADER_LEN + payload.len();
    buf[RECORD_HEADER_LEN..end].copy_from_slice(payload);
    buf[end..].fill(0);
    buf[4..8].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    buf[8..16].copy_from_slice(&seq.to_le_bytes());
    buf[16..18].copy_from_slice(&kind.to_le_bytes());
    buf[18..24].fill(0);
    let crc = super::crc32c::crc32c(&buf[4..]);
    // The CRC goes in last, after everything it covers, so a writer killed mid-record leaves a
    // zero CRC (the segment is zero-filled): that, and only that, is how recovery tells a torn
    // write from a complete record that was damaged (`scan::torn_shape`). The fence keeps the
    // compiler (and a weakly ordered CPU) from moving this store before the others; on x86 it
    // costs no instruction.
    std::sync::atomic::fence(std::sync::atomic::Ordering::Release);
    buf[0..4].copy_from_slice(&crc.to_le_bytes());
}

/// One record, borrowed from a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Sequence number.
    pub seq: u64,
    /// Kind (the engine's record type).
    pub kind: u16,
    /// Payload bytes (8-byte aligned in the mapping).
    pub payload: &'a [u8],
    /// Byte offset of the record in its segment.
    pub offset: usize,
}

/// What is wrong with the bytes at some offset of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The segment header is wrong.
    BadSegmentHeader(String),
    /// Fewer bytes remain than a record header needs.
    PartialHeader {
        /// Bytes left in the segment.
        remaining: usize,
    },
    /// The length field runs past the end of the segment.
    LengthOutOfBounds {
        /// Payload length found.
        len: u32,
        /// Bytes left in the segment after the record header.
        remaining: usize,
    },
    /// The CRC does not match.
    BadCrc {
        /// CRC in the record.
        stored: u32,
        /// CRC of the bytes.
        computed: u32,
    },
    /// The reserved header bytes are not zero.
    BadReserved,
    /// The sequence number is not the next one.
    SeqMismatch {
        /// Expected.
        expected: u64,
        /// Found.
        found: u64,
    },
    /// Bytes that are not zero lie after the end of the data.
    TrailingGarbage {
        /// Offset of the last non-zero byte.
        last_nonzero: usize,
    },
    /// A segment file is missing from the numbered sequence.
    MissingSegment {
        /// The missing index.
        index: u64,
    },
    /// The file is shorter than its header declares.
    ShortFile {
        /// Declared size.
        declared: u64,
        /// Actual size.
        actual: u64,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::BadSegmentHeader(w) => write!(f, "bad segment header: {w}"),
            Problem::PartialHeader { remaining } => {
                write!(f, "partial record header ({remaining} bytes left)")
            }
            Problem::LengthOutOfBounds { len, remaining } => write!(
                f,
                "record length {len} runs past the segment end ({remaining} bytes left)"
            ),
            Problem::BadCrc { stored, computed } => write!(
                f,
                "bad CRC (stored {stored:#010x}, computed {computed:#010x})"
            ),
            Problem::BadReserved => write!(f, "reserved header bytes are not zero"),
            Problem::SeqMismatch { expected, found } => {
                write!(f, "sequence {found} where {expected} was expected")
            }
            Problem::TrailingGarbage { last_nonzero } => write!(
                f,
                "non-zero bytes after the end of the data (last at offset {last_nonzero})"
            ),
            Problem::MissingSegment { index } => {
                write!(f, "segment {} is missing", segment_file_name(*index))
            }
            Problem::ShortFile { declared, actual } => {
                write!(f, "file is {actual} bytes, its header declares {declared}")
            }
        }
    }
}

/// Decodes the record at `offset`, expecting sequence number `expected`.
/// `Ok(None)` at the end of the data (a zero header, or too few bytes left for any record
/// while they are all zero).
pub fn decode_at(
    bytes: &[u8],
    offset: usize,
    expected: u64,
) -> Result<Option<Record<'_>>, Problem> {
    let rest = bytes.get(offset..).unwrap_or(&[]);
    if rest.len() < RECORD_HEADER_LEN {
        return if rest.iter().all(|&b| b == 0) {
            Ok(None)
        } else {
            Err(Problem::PartialHeader {
                remaining: rest.len(),
            })
        };
    }
    let h = &rest[..RECORD_HEADER_LEN];
    if h.iter().all(|&b| b == 0) {
        return Ok(None);
    }
    let le32 = |r: core::ops::Range<usize>| {
        let mut a = [0u8; 4];
        a.copy_from_slice(&h[r]);
        u32::from_le_bytes(a)
    };
    let stored = le32(0..4);
    let len = le32(4..8);
    let mut s = [0u8; 8];
    s.copy_from_slice(&h[8..16]);
    let seq = u64::from_le_bytes(s);
    let kind = u16::from_le_bytes([h[16], h[17]]);
    let total = record_size(len as usize);
    if total > rest.len() {
        return Err(Problem::LengthOutOfBounds {
            len,
            remaining: rest.len() - RECORD_HEADER_LEN,
        });
    }
    let computed = super::crc32c::crc32c(&rest[4..total]);
    if computed != stored {
        return Err(Problem::BadCrc { stored, computed });
    }
    if h[18..24].iter().any(|&b| b != 0) {
        return Err(Problem::BadReserved);
    }
    if seq != expected {
        return Err(Problem::SeqMismatch {
            expected,
            found: seq,
        });
    }
    Ok(Some(Record {
        seq,
        kind,
        payload: &rest[RECORD_HEADER_LEN..RECORD_HEADER_LEN + len as usize],
        offset,
    }))
}

/// True if a record with a valid CRC and a sequence number of at least `min_seq` starts at
/// some 8-aligned offset in `from..to`: the sign that damage before it is not a torn tail.
pub fn valid_record_after(bytes: &[u8], from: usize, to: usize, min_seq: u64) -> Option<usize> {
    let mut at = from.next_multiple_of(RECORD_ALIGN);
    while at < to {
        if let Some(h) = bytes.get(at + 8..at + 16) {
            let mut s = [0u8; 8];
            s.copy_from_slice(h);
            let seq = u64::from_le_bytes(s);
            if seq >= min_seq {
                if let Ok(Some(_)) = decode_at(bytes, at, seq) {
                    return Some(at);
                }
            }
        }
        at += RECORD_ALIGN;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(segment_file_name(7), "journal-000007.mamj");
        assert_eq!(parse_segment_file_name("journal-000007.mamj"), Some(7));
        assert_eq!(parse_segment_file_name("journal-7.mamj"), None);
        assert_eq!(parse_segment_file_name(".journal-000007.mamj.tmp"), None);
    }

    proptest! {
        #[test]
        fn encode_decode(seq in 1u64.., kind: u16, payload in prop::collection::vec(any::<u8>(), 0..100)) {
            let mut buf = vec![0u8; record_size(payload.len()) + 24];
            let n = record_size(payload.len());
            encode_record(&mut buf[..n], seq, kind, &payload);
            let r = decode_at(&buf, 0, seq).unwrap().unwrap();
            prop_assert_eq!((r.seq, r.kind, r.payload), (seq, kind, &payload[..]));
            prop_assert_eq!(decode_at(&buf, n, seq + 1), Ok(None));
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200), off in 0usize..220, seq: u64) {
            let _ = decode_at(&bytes, off, seq);
            let _ = valid_record_after(&bytes, off, bytes.len(), seq);
        }
    }
}
