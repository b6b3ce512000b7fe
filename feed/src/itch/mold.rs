//! MoldUDP64 downstream packets carrying ITCH messages.

use thiserror::Error;

use super::{Message, MsgError};
use crate::capture::seq::{Outcome, SeqTracker, SeqVerdict, Tally};
use crate::capture::view::view;

view! {
    /// MoldUDP64 downstream header (20 bytes, big-endian).
    MoldHeader [20] {
        /// Session (10 ASCII bytes; first 8 here).
        session_head @ 0: bytes8;
        /// Sequence number of the first message.
        seq @ 10: be u64;
        /// Messages in the packet (0 heartbeat, 0xFFFF end of session).
        count @ 18: be u16;
    }
}

/// A packet that is not valid MoldUDP64: dropped whole.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MoldError {
    /// Shorter than the 20-byte header.
    #[error("MoldUDP64 packet of {0} bytes is shorter than its 20-byte header")]
    Short(usize),
    /// The message blocks overrun the packet or leave bytes over.
    #[error("MoldUDP64 header says {declared} messages; block {at} at offset {offset} overruns the packet or bytes are left over")]
    Framing {
        /// From the header.
        declared: u16,
        /// Block index.
        at: u16,
        /// Offset in the packet.
        offset: usize,
    },
}

/// A checked MoldUDP64 packet.
#[derive(Debug, Clone, Copy)]
pub struct MoldPacket<'a> {
    /// Header.
    pub header: MoldHeader<'a>,
    /// The 10-byte session id.
    pub session: &'a [u8],
    blocks: &'a [u8],
}

impl<'a> MoldPacket<'a> {
    /// Checks the header and that the message blocks exactly fill the packet.
    pub fn parse(b: &'a [u8]) -> Result<MoldPacket<'a>, MoldError> {
        let header = MoldHeader::new(b).ok_or(MoldError::Short(b.len()))?;
        let count = header.count();
        let blocks = &b[20..];
        let n = if count == 0xffff { 0 } else { count };
        let mut off = 0usize;
        for i in 0..n {
            let err = MoldError::Framing {
                declared: count,
                at: i,
                offset: 20 + off,
            };
            let l = blocks.get(off..off + 2).ok_or(err.clone())?;
            let len = usize::from(u16::from_be_bytes([l[0], l[1]]));
            if off + 2 + len > blocks.len() {
                return Err(err);
            }
            off += 2 + len;
        }
        if off != blocks.len() {
            return Err(MoldError::Framing {
                declared: count,
                at: n,
                offset: 20 + off,
            });
        }
        Ok(MoldPacket {
            header,
            session: &b[..10],
            blocks,
        })
    }

    /// Message count (0 for heartbeats and the end-of-session packet).
    pub fn message_count(&self) -> u16 {
        match self.header.count() {
            0xffff => 0,
            n => n,
        }
    }

    /// The message blocks' bodies.
    pub fn messages(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let mut rest = self.blocks;
        std::iter::from_fn(move || {
            let l = rest.get(..2)?;
            let len = usize::from(u16::from_be_bytes([l[0], l[1]]));
            let body = rest.get(2..2 + len)?;
            rest = &rest[2 + len..];
            Some(body)
        })
    }
}

/// A MoldUDP64 receiver: one sequence space per session id, duplicates dropped, gaps counted.
///
/// It reads one feed: a session id after the first is a reset (a publisher restart), counted
/// in [`MoldSession::resets`] with the numbering restarting within a session. The old session
/// keeps its own tracker, so late A/B copies of its packets are still duplicates.
#[derive(Debug, Default)]
pub struct MoldSession {
    sessions: Vec<([u8; 10], SeqTracker)>,
    /// Packets dropped because their framing lied.
    pub bad_packets: Tally,
    /// Messages skipped (unknown type, too short).
    pub bad_messages: Tally,
}

impl MoldSession {
    /// A fresh receiver.
    pub fn new() -> Self {
        Self::default()
    }

    /// Gap events.
    pub fn gaps(&self) -> u64 {
        self.sessions.iter().map(|(_, t)| t.gaps).sum()
    }

    /// Messages missing in gaps.
    pub fn missing(&self) -> u64 {
        self.sessions.iter().map(|(_, t)| t.missing).sum()
    }

    /// Duplicate packets dropped.
    pub fn duplicates(&self) -> u64 {
        self.sessions.iter().map(|(_, t)| t.duplicates).sum()
    }

    /// Resets: session ids after the first, and numbering restarts within a session.
    pub fn resets(&self) -> u64 {
        let changes = self.sessions.len().saturating_sub(1) as u64;
        changes + self.sessions.iter().map(|(_, t)| t.resets).sum::<u64>()
    }

    /// Handles one UDP payload; calls `on_msg(seq, message)` for each new well-formed message.
    pub fn on_packet<'a>(
        &mut self,
        payload: &'a [u8],
        mut on_msg: impl FnMut(u64, Message<'a>),
    ) -> Outcome {
        let pkt = match MoldPacket::parse(payload) {
            Ok(p) => p,
            Err(e) => {
                self.bad_packets
                    .bump("moldudp64-bad-packet", || e.to_string());
                return Outcome::Bad;
            }
        };
        let mut sid = [0u8; 10];
        sid.copy_from_slice(pkt.session);
        let idx = match self.sessions.iter().position(|(s, _)| *s == sid) {
            Some(i) => i,
            None => {
                self.sessions.push((sid, SeqTracker::new()));
                self.sessions.len() - 1
            }
        };
        let first = pkt.header.seq();
        let count = u64::from(pkt.message_count());
        let (skip, missing) = match self.sessions[idx].1.on_packet(first, count) {
            SeqVerdict::Duplicate => return Outcome::Duplicate { messages: count },
            SeqVerdict::Process { skip, missing } => (skip, missing),
            SeqVerdict::Reset { missing } => (0, missing),
        };
        let mut delivered = 0;
        for (i, body) in pkt.messages().enumerate().skip(skip as usize) {
            match Message::decode(body) {
                Ok(m) => {
                    delivered += 1;
                    on_msg(first + i as u64, m)
                }
                Err(MsgError::UnknownType(t)) => {
                    self.bad_messages.bump("itch-unknown-type", || {
                        format!("ITCH message type 0x{t:02x} unknown: skipped")
                    })
                }
                Err(MsgError::Short { kind, len }) => {
                    self.bad_messages.bump("itch-short-message", || {
                        format!("ITCH message type 0x{kind:02x} has only {len} bytes: skipped")
                    })
                }
            }
        }
        Outcome::Delivered {
            messages: delivered,
            missing,
        }
    }
}
