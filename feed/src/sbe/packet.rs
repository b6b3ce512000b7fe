//! The packet framing of the mam FX feed, after MoldUDP64 but little-endian like the schema:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 10 | session (ASCII, space-padded) |
//! | 10 | 8 | sequence number of the first message (u64 LE) |
//! | 18 | 2 | message count (u16 LE); 0 = heartbeat, 0xFFFF = end of session |
//! | 20 | … | `count` × (u16 LE length, then that many bytes: one SBE message) |
//!
//! A heartbeat or end-of-session packet carries the sequence number of the next message and no
//! message. A packet whose lengths run past its end, or that has bytes left over after `count`
//! messages, is refused whole ([`PacketError`]): its header lies, so nothing in it is trusted.

use thiserror::Error;

use super::msg::Encode;

/// Size of the packet header.
pub const PACKET_HEADER_LEN: usize = 20;
/// Session id size.
pub const SESSION_LEN: usize = 10;
/// Message count of an end-of-session packet.
pub const END_OF_SESSION: u16 = 0xFFFF;
/// Largest UDP payload the builder fills by default (1500-byte Ethernet MTU minus IPv4 and UDP).
pub const DEFAULT_MAX_PAYLOAD: usize = 1472;

/// Why a packet was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PacketError {
    /// Shorter than the 20-byte header.
    #[error("packet of {len} bytes is shorter than the {PACKET_HEADER_LEN}-byte header")]
    ShortHeader {
        /// Bytes present.
        len: usize,
    },
    /// A message length runs past the end of the packet.
    #[error("message {index} of {count} at byte {at}: length {msg_len} runs past the packet end ({len})")]
    LengthOverrun {
        /// Message index (0-based).
        index: u16,
        /// Messages the header announced.
        count: u16,
        /// Offset of its length prefix.
        at: usize,
        /// The length it declared.
        msg_len: usize,
        /// Packet length.
        len: usize,
    },
    /// Bytes remain after the announced messages.
    #[error("{extra} bytes left after the {count} messages the header announced")]
    TrailingBytes {
        /// Messages announced.
        count: u16,
        /// Bytes left over.
        extra: usize,
    },
}

/// The decoded packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketHeader {
    /// Session id.
    pub session: [u8; SESSION_LEN],
    /// Sequence number of the first message (of the next one, for heartbeats).
    pub seq: u64,
    /// Message count (0 heartbeat, [`END_OF_SESSION`]).
    pub count: u16,
}

impl PacketHeader {
    /// Reads the header at the start of `buf`.
    #[inline]
    pub fn read(buf: &[u8]) -> Result<Self, PacketError> {
        let h: &[u8; PACKET_HEADER_LEN] = buf
            .get(..PACKET_HEADER_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(PacketError::ShortHeader { len: buf.len() })?;
        let mut session = [0u8; SESSION_LEN];
        session.copy_from_slice(&h[..SESSION_LEN]);
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&h[10..18]);
        Ok(Self {
            session,
            seq: u64::from_le_bytes(seq),
            count: u16::from_le_bytes([h[18], h[19]]),
        })
    }
    /// Writes the header into `out`.
    pub fn write(&self, out: &mut [u8; PACKET_HEADER_LEN]) {
        out[..SESSION_LEN].copy_from_slice(&self.session);
        out[10..18].copy_from_slice(&self.seq.to_le_bytes());
        out[18..20].copy_from_slice(&self.count.to_le_bytes());
    }
    /// Messages this packet carries (0 for heartbeats and end of session).
    pub fn messages(&self) -> u16 {
        if self.count == END_OF_SESSION {
            0
        } else {
            self.count
        }
    }
}

/// A packet whose framing was checked: iterating its messages cannot fail.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// The header.
    pub header: PacketHeader,
    body: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Checks the header and every length prefix of `buf`.
    #[inline]
    pub fn parse(buf: &'a [u8]) -> Result<Self, PacketError> {
        let header = PacketHeader::read(buf)?;
        let body = &buf[PACKET_HEADER_LEN..];
        let count = header.messages();
        let mut at = 0usize;
        for index in 0..count {
            let len_bytes = body.get(at..at + 2).ok_or(PacketError::LengthOverrun {
                index,
                count,
                at: PACKET_HEADER_LEN + at,
                msg_len: 0,
                len: buf.len(),
            })?;
            let msg_len = usize::from(u16::from_le_bytes([len_bytes[0], len_bytes[1]]));
            if at + 2 + msg_len > body.len() {
                return Err(PacketError::LengthOverrun {
                    index,
                    count,
                    at: PACKET_HEADER_LEN + at,
                    msg_len,
                    len: buf.len(),
                });
            }
            at += 2 + msg_len;
        }
        if at != body.len() {
            return Err(PacketError::TrailingBytes {
                count,
                extra: body.len() - at,
            });
        }
        Ok(Self { header, body })
    }

    /// The messages, in order (each one SBE message, header included).
    #[inline]
    pub fn messages(&self) -> Messages<'a> {
        Messages {
            rest: self.body,
            left: self.header.messages(),
        }
    }
}

/// Iterator over the messages of a checked [`Packet`].
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    rest: &'a [u8],
    left: u16,
}

impl<'a> Iterator for Messages<'a> {
    type Item = &'a [u8];
    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        // Lengths were checked by `Packet::parse`; `get` keeps this panic-free regardless.
        let len = usize::from(u16::from_le_bytes([
            *self.rest.first()?,
            *self.rest.get(1)?,
        ]));
        let msg = self.rest.get(2..2 + len)?;
        self.rest = &self.rest[2 + len..];
        self.left -= 1;
        Some(msg)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::from(self.left), Some(usize::from(self.left)))
    }
}

/// Builds packets: messages are appended until the next would not fit, then the packet is
/// taken and the next one starts at the following sequence number.
#[derive(Debug, Clone)]
pub struct PacketBuilder {
    session: [u8; SESSION_LEN],
    next_seq: u64,
    max_payload: usize,
    buf: Vec<u8>,
    count: u16,
}

impl PacketBuilder {
    /// A builder for `session` (truncated or space-padded to 10 bytes) whose first message will
    /// carry sequence number `first_seq`; packets stay within `max_payload` bytes.
    pub fn new(session: &str, first_seq: u64, max_payload: usize) -> Self {
        let mut s = [b' '; SESSION_LEN];
        for (d, b) in s.iter_mut().zip(session.bytes()) {
            *d = b;
        }
        let mut buf = Vec::with_capacity(max_payload);
        buf.resize(PACKET_HEADER_LEN, 0);
        Self {
            session: s,
            next_seq: first_seq,
            max_payload: max_payload.max(PACKET_HEADER_LEN + 2),
            buf,
            count: 0,
        }
    }

    /// Sequence number the next appended message will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq + u64::from(self.count)
    }
    /// Messages in the packet being built.
    pub fn len(&self) -> u16 {
        self.count
    }
    /// True if the packet being built holds no message.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// True if `m` fits in the current packet.
    pub fn fits<M: Encode + ?Sized>(&self, m: &M) -> bool {
        self.buf.len() + 2 + m.encoded_len() <= self.max_payload && self.count < END_OF_SESSION - 1
    }

    /// Appends `m`; returns false (and appends nothing) if it does not fit or is longer than
    /// a u16 length prefix can say.
    pub fn push<M: Encode + ?Sized>(&mut self, m: &M) -> bool {
        let n = m.encoded_len();
        if !self.fits(m) || n > usize::from(u16::MAX) {
            return false;
        }
        self.buf.extend_from_slice(&(n as u16).to_le_bytes());
        let at = self.buf.len();
        self.buf.resize(at + n, 0);
        m.encode(&mut self.buf[at..]);
        self.count += 1;
        true
    }

    /// Takes the packet built so far (possibly empty: a heartbeat) and starts the next one.
    pub fn finish(&mut self) -> Vec<u8> {
        let header = PacketHeader {
            session: self.session,
            seq: self.next_seq,
            count: self.count,
        };
        let out: &mut [u8; PACKET_HEADER_LEN] = (&mut self.buf[..PACKET_HEADER_LEN])
            .try_into()
            .expect("header space reserved");
        header.write(out);
        self.next_seq += u64::from(self.count);
        self.count = 0;
        let mut next = Vec::with_capacity(self.max_payload);
        next.resize(PACKET_HEADER_LEN, 0);
        std::mem::replace(&mut self.buf, next)
    }

    /// An end-of-session packet carrying the next sequence number.
    pub fn end_of_session(&self) -> Vec<u8> {
        let mut out = [0u8; PACKET_HEADER_LEN];
        PacketHeader {
            session: self.session,
            seq: self.next_seq(),
            count: END_OF_SESSION,
        }
        .write(&mut out);
        out.to_vec()
    }
}
