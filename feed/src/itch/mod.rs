//! NASDAQ TotalView-ITCH 5.0: every message type ([`Message`]), in both framings:
//!
//! - **BinaryFILE** ([`BinaryFile`]): each message preceded by a big-endian `u16` length.
//!   A file whose prefixes are all zero (as RITCH's artificial sample) is read by message type,
//!   since ITCH 5.0 lengths are fixed per type: a zero prefix followed by a known type byte and
//!   enough bytes is taken at that type's length and counted in
//!   [`BinaryFile::zero_prefixes`]; anything else stops the reading with a [`FileError`].
//!   A non-zero prefix that disagrees with the type's length is an error too (never misparsed).
//! - **MoldUDP64** ([`MoldPacket`], [`MoldSession`]): a 20-byte header (10-byte session,
//!   `u64` sequence of the first message, `u16` count) and `u16`-length-prefixed messages.
//!
//! Timestamps are ns since midnight Eastern time; prices `u32` × 1e-4 ([`price`]).

mod mold;
mod msg;

pub use mold::{MoldError, MoldPacket, MoldSession};
pub use msg::*;

use mam_core::num::Price;
use thiserror::Error;

/// An ITCH price (`u32` × 1e-4) as an exact [`Price`] (× 1e-8). Cannot overflow.
#[inline]
pub fn price(raw: u32) -> Price {
    Price(i64::from(raw) * 10_000)
}

/// A BinaryFILE that cannot be read further.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FileError {
    /// The file ends inside a record.
    #[error("ITCH file cut short at byte {offset}: record needs {need} bytes, {have} left")]
    Truncated {
        /// Offset of the record.
        offset: usize,
        /// Bytes the record needs.
        need: usize,
        /// Bytes left.
        have: usize,
    },
    /// A zero length prefix not followed by a known ITCH 5.0 message type.
    #[error("ITCH file: zero length prefix at byte {offset} followed by 0x{kind:02x}, not an ITCH 5.0 message type; refusing to guess the framing")]
    ZeroPrefixUnknownType {
        /// Offset of the prefix.
        offset: usize,
        /// Byte after it.
        kind: u8,
    },
    /// A length prefix that disagrees with the fixed length of the message's type.
    #[error("ITCH file: record at byte {offset} has length {len} but type '{}' is {expected} bytes", char::from(*kind))]
    LengthMismatch {
        /// Offset of the prefix.
        offset: usize,
        /// Message type.
        kind: u8,
        /// Prefix value.
        len: usize,
        /// Fixed length of the type.
        expected: usize,
    },
    /// A length prefix followed by a byte that is not an ITCH 5.0 type.
    #[error("ITCH file: record at byte {offset} has unknown message type 0x{kind:02x}")]
    UnknownType {
        /// Offset.
        offset: usize,
        /// Type byte.
        kind: u8,
    },
}

/// Iterator over the messages of a BinaryFILE. Stops at the end or the first [`FileError`]
/// (see [`BinaryFile::error`]).
#[derive(Debug, Clone)]
pub struct BinaryFile<'a> {
    all: &'a [u8],
    /// The bytes not read yet (a suffix of `all`).
    rest: &'a [u8],
    /// Records whose length prefix was zero (read by type).
    pub zero_prefixes: u64,
    error: Option<FileError>,
}

impl<'a> BinaryFile<'a> {
    /// Reads `all` as a BinaryFILE.
    pub fn new(all: &'a [u8]) -> Self {
        BinaryFile {
            all,
            rest: all,
            zero_prefixes: 0,
            error: None,
        }
    }

    /// Why reading stopped early, if it did.
    pub fn error(&self) -> Option<&FileError> {
        self.error.as_ref()
    }

    /// Byte offset of the next record.
    pub fn offset(&self) -> usize {
        self.all.len() - self.rest.len()
    }

    /// True if `all` looks like a BinaryFILE: its first record is a known type whose length
    /// prefix matches (or is zero), and so is the second if the file has one.
    pub fn sniff(all: &[u8]) -> bool {
        let mut f = BinaryFile::new(all);
        let ok = f.next().is_some() && f.error.is_none();
        ok && (f.rest.is_empty() || (f.next().is_some() && f.error.is_none()))
    }
}

impl<'a> Iterator for BinaryFile<'a> {
    type Item = Message<'a>;

    #[inline]
    fn next(&mut self) -> Option<Message<'a>> {
        let rest = self.rest;
        // Hot path, kept to a few instructions by hand (issue 12: ≥ 2× the itch5 crate): the
        // prefix gives the length and the decoder checks type and size (a zero prefix gives an
        // empty body, which it refuses); the unread bytes are a slice, and the slow path takes
        // and returns them by value, so they stay in registers across the loop.
        if let [a, b, tail @ ..] = rest {
            let len = usize::from(u16::from_be_bytes([*a, *b]));
            if let Some(body) = tail.get(..len) {
                if let Ok(m) = Message::decode(body) {
                    self.rest = &tail[len..];
                    return Some(m);
                }
            }
        }
        if rest.is_empty() {
            return None;
        }
        let (m, rest) = slow_next(self.all, rest, &mut self.zero_prefixes, &mut self.error);
        self.rest = rest;
        m
    }
}

/// Zero prefixes, and the errors of the hot path sorted out: the message (if any) and the
/// bytes left after it (none after an error, which is kept in `error`).
#[cold]
#[inline(never)]
fn slow_next<'a>(
    all: &'a [u8],
    rest: &'a [u8],
    zero_prefixes: &mut u64,
    error: &mut Option<FileError>,
) -> (Option<Message<'a>>, &'a [u8]) {
    let offset = all.len() - rest.len();
    let mut fail = |e: FileError| {
        *error = Some(e);
        (None::<Message<'a>>, &all[all.len()..])
    };
    let len = match rest {
        [a, b, ..] => usize::from(u16::from_be_bytes([*a, *b])),
        _ => 0,
    };
    let Some(&kind) = rest.get(2) else {
        return fail(FileError::Truncated {
            offset,
            need: 3,
            have: rest.len(),
        });
    };
    let Some(expected) = message_len(kind) else {
        return fail(if len == 0 {
            FileError::ZeroPrefixUnknownType { offset, kind }
        } else {
            FileError::UnknownType { offset, kind }
        });
    };
    if len != 0 && len < expected {
        return fail(FileError::LengthMismatch {
            offset,
            kind,
            len,
            expected,
        });
    }
    let body_len = if len == 0 { expected } else { len };
    let Some(body) = rest.get(2..2 + body_len) else {
        return fail(FileError::Truncated {
            offset,
            need: 2 + body_len,
            have: rest.len(),
        });
    };
    let Ok(m) = Message::decode(body) else {
        return (None, rest);
    };
    if len == 0 {
        *zero_prefixes += 1;
    }
    (Some(m), &rest[2 + body_len..])
}

/// Re-frames a BinaryFILE (zero prefixes included) with each message's true length prefix:
/// the form every other ITCH reader expects. Stops where [`BinaryFile`] stops.
pub fn reframe(all: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(all.len());
    for m in BinaryFile::new(all) {
        let b = m.bytes();
        out.extend_from_slice(&(b.len() as u16).to_be_bytes());
        out.extend_from_slice(b);
    }
    out
}

/// Formats ns since midnight as `HH:MM:SS.nnnnnnnnn` (ITCH's own clock: Eastern time).
pub fn time_of_day(ns: u64) -> String {
    let s = ns / 1_000_000_000;
    format!(
        "{:02}:{:02}:{:02}.{:09}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        ns % 1_000_000_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_prefix_needs_a_known_type() {
        let mut f = BinaryFile::new(&[0, 0, b'z', 1, 2, 3]);
        assert!(f.next().is_none());
        assert!(matches!(
            f.error(),
            Some(FileError::ZeroPrefixUnknownType { kind: b'z', .. })
        ));
        let mut d = vec![0, 0, b'D'];
        d.extend_from_slice(&[0; 18]);
        let mut f = BinaryFile::new(&d);
        assert!(matches!(f.next(), Some(Message::OrderDelete(_))));
        assert_eq!((f.zero_prefixes, f.error()), (1, None));
        let mut f = BinaryFile::new(&d[..20]);
        assert!(f.next().is_none());
        assert!(matches!(f.error(), Some(FileError::Truncated { .. })));
    }

    #[test]
    fn time_of_day_prints_ns() {
        assert_eq!(time_of_day(34_200_000_000_001), "09:30:00.000000001");
    }
}
