//! The decoder: framing with BodyLength and CheckSum validation ([`frame`]), then one pass that
//! records every field as a borrowed view ([`Decoder::parse`]).
//!
//! Framing failures are *garbled* messages (the FIX spec says: ignore them, do not count their
//! sequence number). Parsing failures on a well-framed message are *malformed*: they carry the
//! SessionRejectReason the session answers with.

use thiserror::Error;

use super::num::{parse_decimal, parse_u64, NumFault};
use super::SOH;

/// FIX SessionRejectReason (tag 373) values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum RejectReason {
    /// 0: invalid tag number.
    InvalidTagNumber = 0,
    /// 1: required tag missing.
    RequiredTagMissing = 1,
    /// 2: tag not defined for this message type.
    TagNotDefinedForMsgType = 2,
    /// 3: undefined tag.
    UndefinedTag = 3,
    /// 4: tag specified without a value.
    TagWithoutValue = 4,
    /// 5: value is incorrect (out of range) for this tag.
    ValueIncorrect = 5,
    /// 6: incorrect data format for value.
    IncorrectDataFormat = 6,
    /// 9: CompID problem.
    CompIdProblem = 9,
    /// 10: SendingTime accuracy problem.
    SendingTimeAccuracy = 10,
    /// 11: invalid MsgType.
    InvalidMsgType = 11,
    /// 13: tag appears more than once.
    TagAppearsMoreThanOnce = 13,
    /// 14: tag specified out of required order.
    TagOutOfOrder = 14,
    /// 15: repeating group fields out of order.
    RepeatingGroupOutOfOrder = 15,
    /// 16: incorrect NumInGroup count for repeating group.
    IncorrectNumInGroupCount = 16,
    /// 17: non-data value includes the field delimiter.
    NonDataValueIncludesDelimiter = 17,
    /// 99: other.
    Other = 99,
}

impl RejectReason {
    /// The value written in tag 373.
    pub fn code(self) -> u32 {
        self as u32
    }
}

impl From<NumFault> for RejectReason {
    fn from(f: NumFault) -> Self {
        match f {
            NumFault::Format => RejectReason::IncorrectDataFormat,
            NumFault::Range => RejectReason::ValueIncorrect,
        }
    }
}

/// What [`frame`] found at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// A whole, checksum-valid message of `len` bytes.
    Complete {
        /// Its length.
        len: usize,
    },
    /// Not enough bytes yet.
    Incomplete,
    /// Bytes that are not a valid message: drop `skip` bytes and look again.
    Garbled {
        /// Bytes to drop (at least 1).
        skip: usize,
        /// What was wrong.
        why: Garble,
    },
    /// A message whose declared size exceeds the limit.
    Oversized {
        /// Its declared total size.
        declared: usize,
    },
}

/// Why bytes were judged garbled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Garble {
    /// Bytes before the next `8=FIX` (noise between messages).
    #[error("bytes before the next `8=FIX`")]
    Noise,
    /// BeginString not followed by a valid `9=` BodyLength.
    #[error("BodyLength (9) missing or not a number")]
    BadBodyLength,
    /// No `10=NNN|` where BodyLength says the message ends.
    #[error("no CheckSum (10) where BodyLength says the message ends")]
    LengthMismatch,
    /// Well framed, but BeginString, BodyLength and MsgType are not the first three fields.
    #[error("BeginString, BodyLength and MsgType are not the first three fields")]
    HeaderOrder,
    /// The CheckSum does not match the bytes.
    #[error("CheckSum mismatch: declared {declared}, computed {computed}")]
    BadChecksum {
        /// The value in tag 10.
        declared: u16,
        /// The sum of the bytes.
        computed: u8,
    },
}

/// Byte sum modulo 256 (the FIX CheckSum).
#[inline]
pub fn checksum(b: &[u8]) -> u8 {
    // u8 wrapping sum: the compiler vectorizes this loop.
    b.iter().fold(0u8, |a, &c| a.wrapping_add(c))
}

/// A whole FIX 4.4 message around `body` (the fields after BodyLength, `|` read as SOH), with
/// BodyLength and CheckSum computed: for tests and tools that write messages by hand.
pub fn fix44_message(body: &str) -> Vec<u8> {
    let body: Vec<u8> = body
        .bytes()
        .map(|c| if c == b'|' { 1 } else { c })
        .collect();
    let mut m = format!("8=FIX.4.4\x019={}\x01", body.len()).into_bytes();
    m.extend_from_slice(&body);
    let ck = checksum(&m);
    m.extend_from_slice(format!("10={ck:03}\x01").as_bytes());
    m
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Finds the first message at the start of `buf` and validates its framing: BeginString,
/// BodyLength, the CheckSum field where BodyLength says and the CheckSum value.
/// `max_len` bounds the size of a message (anything declared larger is [`Frame::Oversized`]).
pub fn frame(buf: &[u8], max_len: usize) -> Frame {
    if buf.len() < 2 {
        return Frame::Incomplete;
    }
    if !buf.starts_with(b"8=F") {
        // Resynchronize on the next candidate BeginString.
        return match find(&buf[1..], b"8=FIX") {
            Some(i) => Frame::Garbled {
                skip: i + 1,
                why: Garble::Noise,
            },
            // Keep a tail that could be the start of `8=FIX`.
            None if buf.len() > 4 => Frame::Garbled {
                skip: buf.len() - 4,
                why: Garble::Noise,
            },
            None => Frame::Incomplete,
        };
    }
    // 8=BeginString|
    let Some(b_end) = buf.iter().take(24).position(|&c| c == SOH) else {
        return if buf.len() < 24 {
            Frame::Incomplete
        } else {
            garbled_after_begin(buf)
        };
    };
    // 9=digits|
    let rest = &buf[b_end + 1..];
    if rest.len() < 3 {
        return Frame::Incomplete;
    }
    if !rest.starts_with(b"9=") {
        return garbled_after_begin(buf);
    }
    let Some(l_len) = rest[2..].iter().take(10).position(|&c| c == SOH) else {
        return if rest.len() < 12 {
            Frame::Incomplete
        } else {
            garbled_after_begin(buf)
        };
    };
    let Ok(body_len) = parse_u64(&rest[2..2 + l_len]) else {
        return garbled_after_begin(buf);
    };
    let body_start = b_end + 1 + 2 + l_len + 1;
    let total = (body_start as u64)
        .saturating_add(body_len)
        .saturating_add(7);
    if total > max_len as u64 {
        return Frame::Oversized {
            declared: total.min(usize::MAX as u64) as usize,
        };
    }
    let total = total as usize;
    if buf.len() < total {
        // A BodyLength too large would otherwise swallow the messages that follow until enough
        // bytes arrived: once a CheckSum field followed by the next BeginString is in the
        // buffer, this message ended early and is garbled (FIX: ignore it, count nothing).
        if let Some(next) = ended_early(&buf[body_start..]) {
            return Frame::Garbled {
                skip: body_start + next,
                why: Garble::LengthMismatch,
            };
        }
        return Frame::Incomplete;
    }
    let ck_at = total - 7;
    let t = &buf[ck_at..total];
    let digits_ok = t[3..6].iter().all(|c| c.is_ascii_digit());
    if !(t.starts_with(b"10=") && digits_ok && t[6] == SOH && (ck_at == 0 || buf[ck_at - 1] == SOH))
    {
        return Frame::Garbled {
            skip: next_begin(buf),
            why: Garble::LengthMismatch,
        };
    }
    let declared =
        u16::from(t[3] - b'0') * 100 + u16::from(t[4] - b'0') * 10 + u16::from(t[5] - b'0');
    let computed = checksum(&buf[..ck_at]);
    if declared != u16::from(computed) {
        return Frame::Garbled {
            skip: total,
            why: Garble::BadChecksum { declared, computed },
        };
    }
    Frame::Complete { len: total }
}

/// Offset of a BeginString that follows a complete CheckSum field (`<SOH>10=nnn<SOH>8=F`).
fn ended_early(body: &[u8]) -> Option<usize> {
    body.windows(11)
        .position(|w| {
            w[0] == SOH
                && w[1..4] == *b"10="
                && w[4..7].iter().all(u8::is_ascii_digit)
                && w[7] == SOH
                && w[8..11] == *b"8=F"
        })
        .map(|i| i + 8)
}

fn next_begin(buf: &[u8]) -> usize {
    find(&buf[1..], b"8=FIX").map_or(buf.len(), |i| i + 1)
}

fn garbled_after_begin(buf: &[u8]) -> Frame {
    Frame::Garbled {
        skip: next_begin(buf),
        why: Garble::BadBodyLength,
    }
}

/// A well-framed message that breaks the rules of field syntax or order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("malformed FIX message at byte {at}: tag {tag}: {reason:?}: {what}")]
pub struct Malformed {
    /// The reason code the session rejects with.
    pub reason: RejectReason,
    /// The tag concerned (0 when none could be read).
    pub tag: u32,
    /// Byte offset in the message.
    pub at: usize,
    /// What was wrong.
    pub what: &'static str,
}

impl Malformed {
    /// True when BeginString, BodyLength and MsgType are not the first three fields: FIX 4.4
    /// calls such a message garbled (ignore it, do not count its MsgSeqNum), not malformed.
    pub fn is_garbled(&self) -> bool {
        self.reason == RejectReason::TagOutOfOrder && self.what == HEADER_START
    }
}

/// What [`Decoder::parse`] says when 8, 9, 35 do not open the message.
const HEADER_START: &str = "header must start 8, 9, 35";

/// One field: tag and where its value lies.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    tag: u32,
    start: u32,
    end: u32,
}

/// Most fields one message may have (larger messages are rejected, reason 99).
pub const MAX_FIELDS: usize = 128;

/// Tags below this are found through a direct index, others by a scan.
const INDEXED: usize = 1024;

/// Index of the first SOH at or after `i` (or `b.len()`), eight bytes per step.
#[inline(always)]
fn find_soh(b: &[u8], mut i: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = b.get(i..i + 8) {
        let mut a = [0u8; 8];
        a.copy_from_slice(chunk);
        // Bytes equal to SOH become zero; the classic has-zero-byte test finds the first.
        let x = u64::from_le_bytes(a) ^ LO;
        let z = x.wrapping_sub(LO) & !x & HI;
        if z != 0 {
            return i + (z.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && b[i] != SOH {
        i += 1;
    }
    i
}

/// A reusable decoder: its field table and tag index are allocated once, at construction.
#[derive(Debug)]
pub struct Decoder {
    slots: Box<[Slot; MAX_FIELDS]>,
    /// `index[tag]` = 1 + the slot of the tag's first occurrence, 0 if absent.
    index: Box<[u8; INDEXED]>,
    /// Fields of the previous message (their index entries are cleared on the next parse).
    prev: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            slots: Box::new([Slot::default(); MAX_FIELDS]),
            index: Box::new([0; INDEXED]),
            prev: 0,
        }
    }
}

impl Decoder {
    /// A decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Frames and parses the message at the start of `buf` (a convenience for whole messages:
    /// streams use [`frame`] and [`Decoder::parse`] separately).
    pub fn decode<'a>(&'a mut self, buf: &'a [u8]) -> Result<Message<'a>, DecodeError> {
        match frame(buf, usize::MAX) {
            Frame::Complete { len } => Ok(self.parse(&buf[..len])?),
            Frame::Incomplete => Err(DecodeError::Incomplete),
            Frame::Garbled { why, .. } => Err(DecodeError::Garbled(why)),
            Frame::Oversized { declared } => Err(DecodeError::Oversized { declared }),
        }
    }

    /// Splits a framed message into fields. Checks that tags are numbers, values are not empty,
    /// and that 8, 9, 35 come first in that order and 10 last.
    pub fn parse<'a>(&'a mut self, msg: &'a [u8]) -> Result<Message<'a>, Malformed> {
        for s in &self.slots[..self.prev] {
            if (s.tag as usize) < INDEXED {
                self.index[s.tag as usize] = 0;
            }
        }
        self.prev = 0;
        let mut n = 0usize;
        let mut i = 0usize;
        let len = msg.len();
        while i < len {
            let at = i;
            let mut tag: u32 = 0;
            // Tag: 1-9 digits, no leading zero, then '='.
            loop {
                let Some(&c) = msg.get(i) else {
                    return Err(Malformed {
                        reason: RejectReason::InvalidTagNumber,
                        tag,
                        at,
                        what: "field without `=`",
                    });
                };
                let d = c.wrapping_sub(b'0');
                if d > 9 {
                    if c == b'=' && i > at {
                        break;
                    }
                    let what = if c == SOH || c == b'=' {
                        "field without a tag number"
                    } else {
                        "tag is not a number"
                    };
                    return Err(Malformed {
                        reason: RejectReason::InvalidTagNumber,
                        tag,
                        at,
                        what,
                    });
                }
                if i - at >= 9 || (i == at && d == 0) {
                    return Err(Malformed {
                        reason: RejectReason::InvalidTagNumber,
                        tag,
                        at,
                        what: "tag is not a number",
                    });
                }
                tag = tag * 10 + u32::from(d);
                i += 1;
            }
            i += 1; // '='
            let start = i;
            i = find_soh(msg, i);
            if i == start {
                return Err(Malformed {
                    reason: RejectReason::TagWithoutValue,
                    tag,
                    at,
                    what: "empty value",
                });
            }
            if n == MAX_FIELDS {
                return Err(Malformed {
                    reason: RejectReason::Other,
                    tag,
                    at,
                    what: "more than 128 fields",
                });
            }
            // The header rule as two compares and a bit test per field (was a match on `n` and
            // a three-way compare of the tag: issue 12, FIX ER decode); the same verdicts.
            const HEADER: [u32; 3] = [8, 9, 35];
            const HEADER_BITS: u64 = 1 << 8 | 1 << 9 | 1 << 35;
            if let Some(&expected) = HEADER.get(n) {
                if tag != expected {
                    return Err(Malformed {
                        reason: RejectReason::TagOutOfOrder,
                        tag,
                        at,
                        what: HEADER_START,
                    });
                }
            } else if tag < 64 && HEADER_BITS >> tag & 1 == 1 {
                return Err(Malformed {
                    reason: RejectReason::TagOutOfOrder,
                    tag,
                    at,
                    what: "8, 9 and 35 only at the start",
                });
            }
            if tag == 10 && i + 1 != len {
                return Err(Malformed {
                    reason: RejectReason::TagOutOfOrder,
                    tag,
                    at,
                    what: "CheckSum must be last",
                });
            }
            self.slots[n] = Slot {
                tag,
                start: start as u32,
                end: i as u32,
            };
            if (tag as usize) < INDEXED && self.index[tag as usize] == 0 {
                self.index[tag as usize] = (n + 1) as u8;
            }
            n += 1;
            self.prev = n;
            i += 1; // SOH
        }
        if n < 4 || self.slots[n - 1].tag != 10 {
            return Err(Malformed {
                reason: RejectReason::RequiredTagMissing,
                tag: 10,
                at: len,
                what: "no CheckSum",
            });
        }
        Ok(Message {
            bytes: msg,
            slots: &self.slots[..n],
            index: &self.index,
        })
    }
}

/// Why [`Decoder::decode`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Fewer bytes than one message.
    #[error("incomplete FIX message")]
    Incomplete,
    /// Framing or checksum failure.
    #[error("garbled FIX message: {0}")]
    Garbled(Garble),
    /// Declared size over the limit.
    #[error("FIX message of {declared} bytes over the size limit")]
    Oversized {
        /// Declared size.
        declared: usize,
    },
    /// Well framed, badly formed.
    #[error(transparent)]
    Malformed(#[from] Malformed),
}

/// A decoded message: borrowed views into its bytes.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    bytes: &'a [u8],
    slots: &'a [Slot],
    index: &'a [u8; INDEXED],
}

/// One field of a [`Message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// Tag number.
    pub tag: u32,
    /// Value bytes.
    pub value: &'a [u8],
}

/// A field value that is missing or unusable, with the reject reason that fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("tag {tag}: {reason:?}")]
pub struct FieldError {
    /// The tag.
    pub tag: u32,
    /// The reject reason.
    pub reason: RejectReason,
}

impl FieldError {
    /// A required tag is missing.
    pub fn missing(tag: u32) -> Self {
        FieldError {
            tag,
            reason: RejectReason::RequiredTagMissing,
        }
    }
    /// A value is out of range.
    pub fn value(tag: u32) -> Self {
        FieldError {
            tag,
            reason: RejectReason::ValueIncorrect,
        }
    }
}

impl<'a> Message<'a> {
    /// The whole message, bytes as received.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
    /// Number of fields (BeginString to CheckSum).
    pub fn len(&self) -> usize {
        self.slots.len()
    }
    /// Never true for a parsed message (kept for API symmetry).
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
    /// Field `i` in wire order.
    pub fn field(&self, i: usize) -> Option<Field<'a>> {
        self.slots.get(i).map(|s| Field {
            tag: s.tag,
            value: &self.bytes[s.start as usize..s.end as usize],
        })
    }
    /// All fields in wire order.
    pub fn fields(&self) -> impl Iterator<Item = Field<'a>> + '_ {
        (0..self.slots.len()).filter_map(move |i| self.field(i))
    }
    /// The value of the first field with this tag.
    #[inline]
    pub fn get(&self, tag: u32) -> Option<&'a [u8]> {
        let s = if (tag as usize) < INDEXED {
            let k = self.index[tag as usize] as usize;
            self.slots.get(k.checked_sub(1)?)?
        } else {
            self.slots.iter().find(|s| s.tag == tag)?
        };
        self.bytes.get(s.start as usize..s.end as usize)
    }
    /// The slot (wire position, as for [`Message::field`]) of the first field with this tag.
    #[inline]
    pub fn first_slot(&self, tag: u32) -> Option<usize> {
        if (tag as usize) < INDEXED {
            (self.index[tag as usize] as usize).checked_sub(1)
        } else {
            self.slots.iter().position(|s| s.tag == tag)
        }
    }
    /// How many times `tag` occurs.
    pub fn count(&self, tag: u32) -> usize {
        self.slots.iter().filter(|s| s.tag == tag).count()
    }
    /// BeginString.
    pub fn begin_string(&self) -> &'a [u8] {
        self.field(0).map_or(b"", |f| f.value)
    }
    /// MsgType.
    pub fn msg_type(&self) -> &'a [u8] {
        self.field(2).map_or(b"", |f| f.value)
    }
    /// A required field.
    #[inline]
    pub fn req(&self, tag: u32) -> Result<&'a [u8], FieldError> {
        self.get(tag).ok_or(FieldError::missing(tag))
    }
    /// A required integer.
    #[inline]
    pub fn req_u64(&self, tag: u32) -> Result<u64, FieldError> {
        parse_u64(self.req(tag)?).map_err(|f| FieldError {
            tag,
            reason: f.into(),
        })
    }
    /// An optional integer.
    pub fn opt_u64(&self, tag: u32) -> Result<Option<u64>, FieldError> {
        self.get(tag)
            .map(|v| {
                parse_u64(v).map_err(|f| FieldError {
                    tag,
                    reason: f.into(),
                })
            })
            .transpose()
    }
    /// A required decimal with `decimals` places.
    #[inline]
    pub fn req_decimal(&self, tag: u32, decimals: u32) -> Result<i64, FieldError> {
        parse_decimal(self.req(tag)?, decimals).map_err(|f| FieldError {
            tag,
            reason: f.into(),
        })
    }
    /// An optional decimal with `decimals` places.
    pub fn opt_decimal(&self, tag: u32, decimals: u32) -> Result<Option<i64>, FieldError> {
        self.get(tag)
            .map(|v| {
                parse_decimal(v, decimals).map_err(|f| FieldError {
                    tag,
                    reason: f.into(),
                })
            })
            .transpose()
    }
    /// A required one-character field.
    pub fn req_char(&self, tag: u32) -> Result<u8, FieldError> {
        match self.req(tag)? {
            [c] => Ok(*c),
            _ => Err(FieldError {
                tag,
                reason: RejectReason::IncorrectDataFormat,
            }),
        }
    }
    /// An optional `Y`/`N` flag (absent = `false`).
    pub fn flag(&self, tag: u32) -> Result<bool, FieldError> {
        match self.get(tag) {
            None | Some(b"N") => Ok(false),
            Some(b"Y") => Ok(true),
            Some(_) => Err(FieldError {
                tag,
                reason: RejectReason::ValueIncorrect,
            }),
        }
    }
    /// MsgSeqNum (34).
    pub fn seq(&self) -> Result<u64, FieldError> {
        self.req_u64(34)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn soh(s: &str) -> Vec<u8> {
        s.bytes().map(|c| if c == b'|' { SOH } else { c }).collect()
    }

    /// Builds a message with correct BodyLength and CheckSum around `body` (`|` = SOH).
    pub(crate) fn wrap(body: &str) -> Vec<u8> {
        let body = soh(body);
        let mut m = format!("8=FIX.4.4\x019={}\x01", body.len()).into_bytes();
        m.extend_from_slice(&body);
        let ck = checksum(&m);
        m.extend_from_slice(format!("10={ck:03}\x01").as_bytes());
        m
    }

    #[test]
    fn frames_and_parses() {
        let m = wrap("35=0|49=A|56=B|34=1|52=20121105-14:25:30|");
        let mut d = Decoder::new();
        let msg = d.decode(&m).unwrap();
        assert_eq!(msg.msg_type(), b"0");
        assert_eq!(msg.seq(), Ok(1));
        assert_eq!(msg.get(49), Some(&b"A"[..]));
        assert_eq!(msg.len(), 8);
    }

    #[test]
    fn framing_faults() {
        let m = wrap("35=0|49=A|56=B|34=1|52=20121105-14:25:30|");
        assert_eq!(frame(&m[..m.len() - 1], 4096), Frame::Incomplete);
        let mut bad = m.clone();
        let n = bad.len();
        bad[n - 2] = if bad[n - 2] == b'9' { b'8' } else { b'9' };
        assert!(matches!(
            frame(&bad, 4096),
            Frame::Garbled {
                why: Garble::BadChecksum { .. },
                ..
            }
        ));
        let mut bad = m.clone();
        bad[12] = b'9'; // BodyLength now wrong
        assert!(matches!(
            frame(&bad, 4096),
            Frame::Garbled { .. } | Frame::Incomplete
        ));
        assert!(matches!(frame(&m, 20), Frame::Oversized { .. }));
        let mut noisy = b"xx".to_vec();
        noisy.extend_from_slice(&m);
        assert_eq!(
            frame(&noisy, 4096),
            Frame::Garbled {
                skip: 2,
                why: Garble::Noise
            }
        );
    }

    fn fuzz_once(d: &mut Decoder, b: &[u8]) {
        let mut at = 0;
        while at < b.len() {
            match frame(&b[at..], 4096) {
                Frame::Complete { len } => {
                    if let Ok(m) = d.parse(&b[at..at + len]) {
                        for f in m.fields() {
                            let _ = (
                                m.get(f.tag),
                                m.req_u64(f.tag),
                                m.opt_decimal(f.tag, 8),
                                m.flag(f.tag),
                            );
                        }
                        let _ = crate::fix::msg::validate_app(&m);
                        let _ = crate::fix::msg::Logon::parse(&m);
                        let _ = crate::fix::msg::ResendRequest::parse(&m);
                        let _ = crate::fix::msg::SequenceReset::parse(&m);
                        let _ = crate::fix::msg::Reject::parse(&m);
                    }
                    at += len;
                }
                Frame::Garbled { skip, .. } => at += skip,
                Frame::Incomplete | Frame::Oversized { .. } => break,
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, ..Default::default() })]

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            fuzz_once(&mut Decoder::new(), &b);
        }

        #[test]
        fn well_framed_mutated_bodies_never_panic(
            edits in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), 0u8..128), 1..5),
        ) {
            // Mutate the body, then frame it correctly: the parser and typed readers see it.
            let mut body = b"35=8|49=EXECUTOR|56=MAM|34=2|52=20231114-22:13:20.000|37=1|11=42|17=1|150=F|39=2|1=A1|55=EURUSD|54=1|38=10000|32=10000|31=1.1|151=0|14=10000|6=1.1|".to_vec();
            for (i, v) in &edits {
                let k = i.index(body.len());
                body[k] = *v;
            }
            let m = wrap(&String::from_utf8_lossy(&body));
            fuzz_once(&mut Decoder::new(), &m);
        }

        #[test]
        fn mutated_messages_never_panic(
            edits in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), proptest::prelude::any::<u8>()), 1..4),
            cut in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            let mut m = wrap("35=8|49=EXECUTOR|56=MAM|34=2|52=20231114-22:13:20.000|37=1|11=42|17=1|150=F|39=2|1=A1|55=EURUSD|54=1|38=10000|32=10000|31=1.1|151=0|14=10000|6=1.1|");
            m.extend_from_slice(&wrap("35=D|49=A|56=B|34=3|52=20231114-22:13:20.000|11=1|55=X|54=1|60=20231114-22:13:20.000|38=1|40=2|44=1|"));
            for (i, v) in &edits {
                let k = i.index(m.len());
                m[k] = *v;
            }
            let c = cut.index(m.len() + 1).min(m.len());
            let mut d = Decoder::new();
            fuzz_once(&mut d, &m[..c]);
            fuzz_once(&mut d, &m);
        }
    }

    #[test]
    fn malformed_reasons() {
        let mut d = Decoder::new();
        let e = |body: &str, d: &mut Decoder| d.decode(&wrap(body)).unwrap_err();
        assert!(matches!(
            e("35=0|49=A|x6=B|", &mut d),
            DecodeError::Malformed(Malformed {
                reason: RejectReason::InvalidTagNumber,
                ..
            })
        ));
        assert!(matches!(
            e("35=0|49=|", &mut d),
            DecodeError::Malformed(Malformed {
                reason: RejectReason::TagWithoutValue,
                tag: 49,
                ..
            })
        ));
        assert!(matches!(
            e("49=A|35=0|", &mut d),
            DecodeError::Malformed(Malformed {
                reason: RejectReason::TagOutOfOrder,
                ..
            })
        ));
    }
}
