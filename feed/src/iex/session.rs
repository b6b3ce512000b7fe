//! An IEX-TP receiver's state: per (channel, session) sequence tracking, duplicate drop,
//! resets, counts of bad packets and bad messages.
//!
//! A channel's new session id is a reset (a publisher restart says so explicitly); the old
//! session keeps its own tracker, so late A/B copies of its packets are still duplicates.

use super::{Message, MsgError, Packet};
use crate::capture::seq::{Outcome, SeqTracker, SeqVerdict, Tally};

/// Decoding state for one IEX-TP feed.
#[derive(Debug, Default)]
pub struct IexSession {
    streams: Vec<((u32, u32), SeqTracker)>,
    /// Sessions that replaced an earlier one on the same channel.
    session_changes: u64,
    /// Packets dropped because the header or framing lied.
    pub bad_packets: Tally,
    /// Messages skipped (unknown type, too short).
    pub bad_messages: Tally,
}

impl IexSession {
    /// A fresh session.
    pub fn new() -> Self {
        Self::default()
    }

    /// Gap events over all streams.
    pub fn gaps(&self) -> u64 {
        self.streams.iter().map(|(_, t)| t.gaps).sum()
    }

    /// Messages missing over all streams.
    pub fn missing(&self) -> u64 {
        self.streams.iter().map(|(_, t)| t.missing).sum()
    }

    /// Duplicate packets dropped.
    pub fn duplicates(&self) -> u64 {
        self.streams.iter().map(|(_, t)| t.duplicates).sum()
    }

    /// Resets: a channel's new session, or its numbering restarting within a session.
    pub fn resets(&self) -> u64 {
        self.session_changes + self.streams.iter().map(|(_, t)| t.resets).sum::<u64>()
    }

    /// Handles one UDP payload: checks it, arbitrates by sequence and calls `on_msg(seq,
    /// send_time_ns, message)` for each new, well-formed message.
    #[inline]
    pub fn on_packet<'a>(
        &mut self,
        payload: &'a [u8],
        mut on_msg: impl FnMut(u64, i64, Message<'a>),
    ) -> Outcome {
        let pkt = match Packet::parse(payload) {
            Ok(p) => p,
            Err(e) => {
                self.bad_packets.bump("iex-tp-bad-packet", || e.to_string());
                return Outcome::Bad;
            }
        };
        let h = pkt.header;
        let key = (h.channel_id(), h.session_id());
        let idx = match self.streams.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                if self.streams.iter().any(|((ch, _), _)| *ch == key.0) {
                    self.session_changes += 1;
                }
                self.streams.push((key, SeqTracker::new()));
                self.streams.len() - 1
            }
        };
        let first = h.first_seq() as u64;
        let count = u64::from(h.message_count());
        let (skip, missing) = match self.streams[idx].1.on_packet(first, count) {
            SeqVerdict::Duplicate => return Outcome::Duplicate { messages: count },
            SeqVerdict::Process { skip, missing } => (skip, missing),
            SeqVerdict::Reset { missing } => (0, missing),
        };
        let send = h.send_time();
        let mut delivered = 0;
        // Hand-written walk instead of `pkt.messages().enumerate().skip(..)` (issue 12: the
        // iterator chain cost ~20 instructions a message in `decode.tops.book`); the same
        // messages in the same order, and it stops where `Messages` would.
        let mut rest = pkt.payload;
        let mut i = 0u64;
        while let [a, b, tail @ ..] = rest {
            let len = usize::from(u16::from_le_bytes([*a, *b]));
            let Some(body) = tail.get(..len) else { break };
            rest = &tail[len..];
            if i >= skip {
                match Message::decode(body) {
                    Ok(m) => {
                        delivered += 1;
                        on_msg(first.wrapping_add(i), send, m);
                    }
                    Err(e) => self.bad_message(e),
                }
            }
            i += 1;
        }
        Outcome::Delivered {
            messages: delivered,
            missing,
        }
    }

    #[cold]
    fn bad_message(&mut self, e: MsgError) {
        match e {
            MsgError::UnknownType(t) => self.bad_messages.bump("iex-unknown-type", || {
                format!("IEX message type 0x{t:02x} unknown: skipped")
            }),
            MsgError::Short { kind, len } => self.bad_messages.bump("iex-short-message", || {
                format!("IEX message type 0x{kind:02x} has only {len} bytes: skipped")
            }),
        }
    }
}
