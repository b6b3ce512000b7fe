//! The encoder: messages written into caller-provided bytes with no heap allocation.
//!
//! [`HeaderTemplate`] holds the bytes that never change within a session (`8=FIX.4.4|9=` and
//! `|49=SENDER|56=TARGET|34=`), built once. [`MsgWriter`] writes the body from a fixed offset
//! (one bounds check per field, integers and exact decimals formatted by hand), then puts
//! BodyLength and the BeginString in front of it, and the CheckSum after it from one vectorized
//! pass over the bytes: no shifting of the body, no allocation.

use std::ops::Range;

use mam_core::num::{Price, Qty};
use thiserror::Error;

use super::decode::checksum;
use super::num::{fmt_decimal, fmt_u64, MAX_DECIMAL_LEN, MAX_U64_DIGITS};
use super::tag::{self, Tag};
use super::time::{TimeCache, TS_LEN};
use super::SOH;

/// Room left in front of the body for `8=FIX.x.y|9=NNNNNNN|`.
pub const PREFIX_ROOM: usize = 32;

/// Why a message could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// The buffer is too small for the message.
    #[error("FIX message does not fit in a {cap}-byte buffer")]
    BufferTooSmall {
        /// Capacity of the buffer.
        cap: usize,
    },
    /// A value would corrupt the framing (contains SOH) or is empty.
    #[error("value of tag {tag} is empty or contains SOH")]
    BadValue {
        /// The tag.
        tag: u32,
    },
    /// BeginString, SenderCompID or TargetCompID unusable.
    #[error("bad session identity: {0}")]
    BadIdentity(&'static str),
}

/// Copies a short slice without a call to `memcpy`: FIX tags and values are mostly 1-20 bytes,
/// where the call costs more than the copy. Two overlapping word moves cover 4-16 bytes.
#[inline(always)]
fn small_copy(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    debug_assert_eq!(dst.len(), n);
    if (17..=32).contains(&n) {
        // ClOrdIDs (19 digits) and UTCTimestamps (21 bytes): the `memcpy` call these took cost
        // ~30 instructions each, a tenth of a NewOrderSingle (callgrind, issue 12).
        dst[..16].copy_from_slice(&src[..16]);
        dst[n - 16..].copy_from_slice(&src[n - 16..]);
    } else if (8..=16).contains(&n) {
        dst[..8].copy_from_slice(&src[..8]);
        dst[n - 8..].copy_from_slice(&src[n - 8..]);
    } else if (4..8).contains(&n) {
        dst[..4].copy_from_slice(&src[..4]);
        dst[n - 4..].copy_from_slice(&src[n - 4..]);
    } else if n < 4 {
        for (d, c) in dst.iter_mut().zip(src) {
            *d = *c;
        }
    } else {
        dst.copy_from_slice(src);
    }
}

/// The fixed bytes of one session's outgoing header, built once.
#[derive(Debug, Clone)]
pub struct HeaderTemplate {
    /// `8=FIX.4.4|9=`.
    begin: Vec<u8>,
    /// `49=SENDER|56=TARGET|34=`.
    comp: Vec<u8>,
    time: TimeCache,
}

impl HeaderTemplate {
    /// Builds the template for `begin_string` (e.g. `FIX.4.4`), our `sender` and their `target`.
    pub fn new(begin_string: &[u8], sender: &[u8], target: &[u8]) -> Result<Self, EncodeError> {
        let ok =
            |b: &[u8]| !b.is_empty() && b.len() <= 64 && b.iter().all(|&c| c > b' ' && c < 0x7f);
        if !ok(begin_string) || begin_string.len() > 16 {
            return Err(EncodeError::BadIdentity("BeginString"));
        }
        if !ok(sender) || !ok(target) {
            return Err(EncodeError::BadIdentity(
                "CompIDs must be 1-64 printable ASCII bytes",
            ));
        }
        let mut begin = b"8=".to_vec();
        begin.extend_from_slice(begin_string);
        begin.extend_from_slice(b"\x019=");
        let mut comp = b"49=".to_vec();
        comp.extend_from_slice(sender);
        comp.extend_from_slice(b"\x0156=");
        comp.extend_from_slice(target);
        comp.extend_from_slice(b"\x0134=");
        Ok(HeaderTemplate {
            begin,
            comp,
            time: TimeCache::default(),
        })
    }

    /// Starts a message of type `msg_type` with sequence number `seq`, sent at `now_ns` (UTC
    /// nanoseconds since the epoch), in `buf`. Finish it with [`MsgWriter::finish`].
    #[inline]
    pub fn begin<'b>(
        &'b mut self,
        buf: &'b mut [u8],
        msg_type: &[u8],
        seq: u64,
        now_ns: u64,
    ) -> MsgWriter<'b> {
        let HeaderTemplate { begin, comp, time } = self;
        let mut w = MsgWriter {
            buf,
            pos: PREFIX_ROOM,
            err: None,
            begin,
            time,
        };
        w.put(tag::MSG_TYPE.eq, msg_type);
        w.put_u64(comp, seq);
        let ts = *w.time.format(now_ns);
        w.put(tag::SENDING_TIME.eq, &ts);
        w
    }
}

/// A message being written. Field methods chain; the first error is kept and returned by
/// [`MsgWriter::finish`].
///
/// Each field is one bounds check and two short copies. The CheckSum is one pass over the
/// finished message at [`MsgWriter::finish`]: a byte sum the compiler vectorizes, measured
/// faster than summing each field as it is written (see `benches/benches/fix.rs`).
#[derive(Debug)]
pub struct MsgWriter<'b> {
    buf: &'b mut [u8],
    pos: usize,
    err: Option<EncodeError>,
    begin: &'b [u8],
    time: &'b mut TimeCache,
}

impl MsgWriter<'_> {
    #[cold]
    fn overflow(&mut self) {
        self.err.get_or_insert(EncodeError::BufferTooSmall {
            cap: self.buf.len(),
        });
    }

    /// `prefix` + `value` + SOH, one bounds check.
    #[inline(always)]
    fn put(&mut self, prefix: &[u8], value: &[u8]) {
        let n = prefix.len() + value.len() + 1;
        let Some(dst) = self.buf.get_mut(self.pos..self.pos + n) else {
            return self.overflow();
        };
        let (a, rest) = dst.split_at_mut(prefix.len());
        small_copy(a, prefix);
        let (b, c) = rest.split_at_mut(value.len());
        small_copy(b, value);
        c[0] = SOH;
        self.pos += n;
    }

    #[inline(always)]
    fn put_u64(&mut self, prefix: &[u8], v: u64) {
        let mut d = [0u8; MAX_U64_DIGITS];
        let s = fmt_u64(v, &mut d);
        self.put(prefix, &d[s..]);
    }

    /// Writes `tag=value|`. The value must be non-empty and free of SOH (checked in debug builds
    /// and for text that came from outside: use [`MsgWriter::text`] for that).
    #[inline]
    pub fn field(&mut self, t: Tag, value: &[u8]) -> &mut Self {
        debug_assert!(!value.is_empty() && !value.contains(&SOH));
        self.put(t.eq, value);
        self
    }

    /// Writes `tag=value|` for a tag given by number (copying fields of another message).
    pub fn field_num(&mut self, tag: u32, value: &[u8]) -> &mut Self {
        let mut d = [0u8; MAX_U64_DIGITS + 1];
        d[MAX_U64_DIGITS] = b'=';
        let mut digits = [0u8; MAX_U64_DIGITS];
        let s = fmt_u64(u64::from(tag), &mut digits);
        d[s..MAX_U64_DIGITS].copy_from_slice(&digits[s..]);
        self.put(&d[s..], value);
        self
    }

    /// Writes `tag=value|` after checking that the value is non-empty and holds no SOH.
    pub fn text(&mut self, t: Tag, value: &[u8]) -> &mut Self {
        if value.is_empty() || value.contains(&SOH) {
            self.err.get_or_insert(EncodeError::BadValue { tag: t.num });
            return self;
        }
        self.field(t, value)
    }

    /// Writes a one-character field.
    #[inline]
    pub fn char(&mut self, t: Tag, c: u8) -> &mut Self {
        self.put(t.eq, &[c]);
        self
    }

    /// Writes an integer field.
    #[inline]
    pub fn u64(&mut self, t: Tag, v: u64) -> &mut Self {
        self.put_u64(t.eq, v);
        self
    }

    /// Writes a decimal field from a raw scaled integer with `decimals` places.
    #[inline]
    pub fn decimal(&mut self, t: Tag, raw: i64, decimals: u32) -> &mut Self {
        let mut d = [0u8; MAX_DECIMAL_LEN];
        let s = fmt_decimal(raw, decimals, &mut d);
        self.put(t.eq, &d[s..]);
        self
    }

    /// Writes a quantity exactly.
    #[inline]
    pub fn qty(&mut self, t: Tag, q: Qty) -> &mut Self {
        self.decimal(t, q.raw(), Qty::DECIMALS)
    }

    /// Writes a price exactly.
    #[inline]
    pub fn price(&mut self, t: Tag, p: Price) -> &mut Self {
        self.decimal(t, p.raw(), Price::DECIMALS)
    }

    /// Writes a UTCTimestamp field from nanoseconds since the epoch (the session's cached
    /// date and time of day are reused within the same second).
    #[inline]
    pub fn timestamp(&mut self, t: Tag, ns: u64) -> &mut Self {
        let ts: [u8; TS_LEN] = *self.time.format(ns);
        self.put(t.eq, &ts);
        self
    }

    /// Writes `tag=Y|` or `tag=N|`.
    pub fn flag(&mut self, t: Tag, v: bool) -> &mut Self {
        self.char(t, if v { b'Y' } else { b'N' })
    }

    /// Closes the message: BodyLength and BeginString in front, CheckSum after. Returns where
    /// the message lies in the buffer.
    #[inline]
    pub fn finish(mut self) -> Result<Range<usize>, EncodeError> {
        if let Some(e) = self.err.take() {
            return Err(e);
        }
        let body_len = self.pos - PREFIX_ROOM;
        let mut d = [0u8; MAX_U64_DIGITS];
        let ds = fmt_u64(body_len as u64, &mut d);
        let digits = &d[ds..];
        let start = PREFIX_ROOM - digits.len() - 1 - self.begin.len();
        self.buf[start..start + self.begin.len()].copy_from_slice(self.begin);
        let mut p = start + self.begin.len();
        self.buf[p..p + digits.len()].copy_from_slice(digits);
        p += digits.len();
        self.buf[p] = SOH;
        let ck = checksum(&self.buf[start..self.pos]);
        let end = self.pos + 7;
        let cap = self.buf.len();
        let tail = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(EncodeError::BufferTooSmall { cap })?;
        tail.copy_from_slice(&[
            b'1',
            b'0',
            b'=',
            b'0' + ck / 100,
            b'0' + (ck / 10) % 10,
            b'0' + ck % 10,
            SOH,
        ]);
        Ok(start..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::decode::{frame, Frame};

    #[test]
    fn writes_a_valid_frame() {
        let mut h = HeaderTemplate::new(b"FIX.4.4", b"MAM", b"EXECUTOR").unwrap();
        let mut buf = [0u8; 512];
        let mut w = h.begin(&mut buf, b"D", 7, 1_352_125_530_123_000_000);
        w.field(tag::CL_ORD_ID, b"42")
            .qty(tag::ORDER_QTY, Qty::parse("10000").unwrap())
            .price(tag::PRICE, Price::parse("1.10000").unwrap());
        let r = w.finish().unwrap();
        let m = &buf[r];
        let text =
            String::from_utf8(m.iter().map(|&c| if c == 1 { b'|' } else { c }).collect()).unwrap();
        assert!(text.starts_with("8=FIX.4.4|9="), "{text}");
        assert!(
            text.contains(
                "|35=D|49=MAM|56=EXECUTOR|34=7|52=20121105-14:25:30.123|11=42|38=10000|44=1.1|10="
            ),
            "{text}"
        );
        assert_eq!(frame(m, 4096), Frame::Complete { len: m.len() });
    }

    #[test]
    fn too_small_is_an_error() {
        let mut h = HeaderTemplate::new(b"FIX.4.4", b"MAM", b"EXECUTOR").unwrap();
        let mut buf = [0u8; 60];
        let mut w = h.begin(&mut buf, b"D", 7, 0);
        w.field(tag::TEXT, &[b'x'; 40]);
        assert!(matches!(
            w.finish(),
            Err(EncodeError::BufferTooSmall { .. })
        ));
        let mut buf = [0u8; 512];
        let mut w = h.begin(&mut buf, b"D", 7, 0);
        w.text(tag::TEXT, b"a\x01b");
        assert_eq!(w.finish(), Err(EncodeError::BadValue { tag: 58 }));
    }
}
