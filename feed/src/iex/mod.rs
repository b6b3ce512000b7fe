//! IEX Transport Protocol v1 carrying TOPS 1.6 (protocol id 0x8003) or DEEP 1.0 (0x8004).
//!
//! All fields are little-endian. A packet is a 40-byte [`Header`] then `message_count` messages,
//! each a `u16` length and a body whose first byte is the message type. Prices are `i64`
//! counts of 1e-4 dollars and convert exactly to [`Price`] (1e-8).

mod msg;
mod session;

pub use msg::*;
pub use session::IexSession;

use mam_core::num::Price;
use thiserror::Error;

use crate::capture::view::view;

/// Protocol id of TOPS (1.5 and 1.6).
pub const PROTOCOL_TOPS: u16 = 0x8003;
/// Protocol id of DEEP 1.0.
pub const PROTOCOL_DEEP: u16 = 0x8004;

view! {
    /// The IEX-TP segment header (40 bytes).
    Header [40] {
        /// Protocol version (1).
        version @ 0: u8;
        /// Message protocol id ([`PROTOCOL_TOPS`], [`PROTOCOL_DEEP`]).
        protocol_id @ 2: le u16;
        /// Channel.
        channel_id @ 4: le u32;
        /// Session.
        session_id @ 8: le u32;
        /// Bytes of messages after the header.
        payload_len @ 12: le u16;
        /// Messages in this packet (0: heartbeat).
        message_count @ 14: le u16;
        /// Byte offset of this payload in the session's stream.
        stream_offset @ 16: le i64;
        /// Sequence number of the first message (or of the next one, for a heartbeat).
        first_seq @ 24: le i64;
        /// Send time, ns since the Unix epoch.
        send_time @ 32: le i64;
    }
}

/// A packet that is not a valid IEX-TP segment; the whole packet is dropped.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IexError {
    /// Fewer than 40 bytes.
    #[error("IEX-TP packet of {0} bytes is shorter than the 40-byte header")]
    Short(usize),
    /// Version other than 1.
    #[error("IEX-TP version {0}, expected 1")]
    Version(u8),
    /// The header's payload length does not match the bytes after it.
    #[error("IEX-TP header says {declared} payload bytes, packet has {actual}")]
    PayloadLength {
        /// From the header.
        declared: usize,
        /// In the packet.
        actual: usize,
    },
    /// The messages do not exactly fill the payload, or their number differs from the header.
    #[error("IEX-TP header says {declared} messages; message {at} (offset {offset}) overruns or count differs")]
    Framing {
        /// From the header.
        declared: u16,
        /// Index of the message that broke the framing.
        at: u16,
        /// Byte offset in the payload.
        offset: usize,
    },
}

/// A checked IEX-TP packet: header plus a payload whose framing was verified.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// The header.
    pub header: Header<'a>,
    payload: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Checks the header and the message framing (lengths sum to the payload, count matches).
    pub fn parse(b: &'a [u8]) -> Result<Packet<'a>, IexError> {
        let header = Header::new(b).ok_or(IexError::Short(b.len()))?;
        if header.version() != 1 {
            return Err(IexError::Version(header.version()));
        }
        let payload = &b[Header::LEN..];
        let declared = usize::from(header.payload_len());
        if declared != payload.len() {
            return Err(IexError::PayloadLength {
                declared,
                actual: payload.len(),
            });
        }
        let count = header.message_count();
        // A tight loop with the error built after it (issue 12: the checked walk cost ~19
        // instructions a message in `decode.tops.book`); it stops at the same message and
        // offset as one that checks each length against the bytes left.
        let mut off = 0usize;
        let mut i = 0u16;
        while i < count {
            let Some(l) = payload.get(off..off + 2) else {
                break;
            };
            let len = usize::from(u16::from_le_bytes([l[0], l[1]]));
            if len == 0 || off + 2 + len > payload.len() {
                break;
            }
            off += 2 + len;
            i += 1;
        }
        if i < count {
            return Err(IexError::Framing {
                declared: count,
                at: i,
                offset: off,
            });
        }
        if off != payload.len() {
            return Err(IexError::Framing {
                declared: count,
                at: count,
                offset: off,
            });
        }
        Ok(Packet { header, payload })
    }

    /// The message bodies (type byte first), in order.
    pub fn messages(&self) -> Messages<'a> {
        Messages { rest: self.payload }
    }
}

/// Iterator over the message bodies of a checked [`Packet`].
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Messages<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let l = self.rest.get(..2)?;
        let len = usize::from(u16::from_le_bytes([l[0], l[1]]));
        let body = self.rest.get(2..2 + len)?;
        self.rest = &self.rest[2 + len..];
        Some(body)
    }
}

/// An IEX price (`i64` × 1e-4) as an exact [`Price`] (× 1e-8); `None` on overflow.
#[inline]
pub fn price(raw: i64) -> Option<Price> {
    raw.checked_mul(10_000).map(Price)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_is_exact() {
        assert_eq!(price(1_234_500), Some(Price::parse("123.45").unwrap()));
        assert_eq!(price(i64::MAX), None);
    }
}
