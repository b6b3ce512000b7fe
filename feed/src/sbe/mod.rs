//! mam's own FX feed: FIX Simple Binary Encoding 1.0, schema `feed/schema/mam-fx-sbe.xml`.
//!
//! - [`layout`]: every template id, block length and field offset of the schema, in one place
//!   (a test parses the XML and checks these against it);
//! - [`msg`]: zero-copy views over received messages and encoders for sending them;
//! - [`packet`]: the UDP packet framing (session, first sequence number, message count, then
//!   `u16`-length-prefixed messages), its parser and builder;
//! - [`inspect`]: counting a stream of packets by template id, with gaps and duplicates;
//! - [`stream`]: packets back to back, the shared workload of the decode benchmarks.
//!
//! Decoding never panics and never reads out of bounds: every view is built over a slice whose
//! length was checked once against the block length, and then reads fixed offsets of a
//! fixed-size array reference (so the compiler drops the per-field bounds checks).

pub mod inspect;
pub mod layout;
pub mod msg;
pub mod packet;
pub mod stream;

use thiserror::Error;

pub use inspect::{inspect_payload, SbeInspect};
pub use msg::{
    decode, DepthLevel, DepthView, HeartbeatView, InstrumentView, Message, QuoteView, TradeView,
};
pub use packet::{Packet, PacketBuilder, PacketError, PacketHeader};

/// Why one SBE message could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SbeError {
    /// Fewer bytes than the 8-byte message header.
    #[error("message of {len} bytes is shorter than the 8-byte SBE header")]
    ShortHeader {
        /// Bytes available.
        len: usize,
    },
    /// The header names another schema.
    #[error("schema id {found} is not mam-fx ({expected})", expected = layout::SCHEMA_ID)]
    WrongSchema {
        /// Schema id found.
        found: u16,
    },
    /// The template is not one this decoder knows (skip it by its length and count it).
    #[error("unknown template id {template} (block length {block_length})")]
    UnknownTemplate {
        /// Template id found.
        template: u16,
        /// Its declared block length.
        block_length: u16,
    },
    /// The declared block length is shorter than the schema's block for that template.
    #[error("template {template}: block length {found} is shorter than the schema's {min}")]
    BlockTooShort {
        /// Template id.
        template: u16,
        /// Block length declared.
        found: u16,
        /// Block length the schema requires.
        min: u16,
    },
    /// The message ends before its block (or a repeating group) does.
    #[error("template {template}: {needed} bytes needed, {len} present")]
    Truncated {
        /// Template id.
        template: u16,
        /// Bytes required.
        needed: usize,
        /// Bytes present.
        len: usize,
    },
}

/// The 8-byte SBE message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageHeader {
    /// Length of the root block that follows.
    pub block_length: u16,
    /// Template (message type) id.
    pub template_id: u16,
    /// Schema id ([`layout::SCHEMA_ID`]).
    pub schema_id: u16,
    /// Schema version the sender encoded with.
    pub version: u16,
}

impl MessageHeader {
    /// Reads the header at the start of `buf`.
    #[inline]
    pub fn read(buf: &[u8]) -> Result<Self, SbeError> {
        let h: &[u8; layout::HEADER_LEN] = buf
            .get(..layout::HEADER_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(SbeError::ShortHeader { len: buf.len() })?;
        Ok(Self {
            block_length: u16::from_le_bytes([h[0], h[1]]),
            template_id: u16::from_le_bytes([h[2], h[3]]),
            schema_id: u16::from_le_bytes([h[4], h[5]]),
            version: u16::from_le_bytes([h[6], h[7]]),
        })
    }

    /// Writes the header into the first 8 bytes of `out`.
    #[inline]
    pub fn write(&self, out: &mut [u8; layout::HEADER_LEN]) {
        out[0..2].copy_from_slice(&self.block_length.to_le_bytes());
        out[2..4].copy_from_slice(&self.template_id.to_le_bytes());
        out[4..6].copy_from_slice(&self.schema_id.to_le_bytes());
        out[6..8].copy_from_slice(&self.version.to_le_bytes());
    }

    /// The header this crate encodes for `template_id`.
    pub const fn ours(template_id: u16, block_length: u16) -> Self {
        Self {
            block_length,
            template_id,
            schema_id: layout::SCHEMA_ID,
            version: layout::SCHEMA_VERSION,
        }
    }
}
