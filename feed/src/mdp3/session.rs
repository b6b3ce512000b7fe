//! An MDP3 channel receiver: A/B arbitration by packet sequence number, gap counting, bad
//! input counted and logged once per kind.

use super::{Message, Packet};
use crate::capture::seq::{Outcome, SeqTracker, SeqVerdict, Tally};

/// Decoding state for one MDP3 channel (feed A and B together: they share sequence numbers).
#[derive(Debug, Default)]
pub struct Mdp3Session {
    /// Packet sequence tracking (gaps, duplicates = the copies from the other feed, resets =
    /// the packet numbering restarting at 1 within the capture).
    pub seq: SeqTracker,
    /// Packets dropped because a MsgSize lied.
    pub bad_packets: Tally,
    /// Messages skipped because a block or group overran.
    pub bad_messages: Tally,
    /// Messages of templates not decoded here, by template id.
    pub skipped_templates: std::collections::BTreeMap<u16, u64>,
}

impl Mdp3Session {
    /// A fresh channel.
    pub fn new() -> Self {
        Self::default()
    }

    /// Handles one UDP payload: drops it if its sequence number was already seen, else calls
    /// `on_msg(packet_seq, sending_time_ns, template_id, message)` per decodable message.
    pub fn on_packet<'a>(
        &mut self,
        payload: &'a [u8],
        mut on_msg: impl FnMut(u32, u64, u16, Message<'a>),
    ) -> Outcome {
        let pkt = match Packet::parse(payload) {
            Ok(p) => p,
            Err(e) => {
                self.bad_packets.bump("mdp3-bad-packet", || e.to_string());
                return Outcome::Bad;
            }
        };
        let seq = pkt.header.seq();
        let missing = match self.seq.on_packet(u64::from(seq), 1) {
            SeqVerdict::Duplicate => {
                return Outcome::Duplicate {
                    messages: pkt.messages().count() as u64,
                }
            }
            SeqVerdict::Process { missing, .. } | SeqVerdict::Reset { missing } => missing,
        };
        let mut messages = 0;
        let sent = pkt.header.sending_time();
        for m in pkt.messages() {
            messages += 1;
            let t = m.header.template_id();
            match Message::decode(&m) {
                Ok(Message::Other { template }) => {
                    *self.skipped_templates.entry(template).or_insert(0) += 1;
                    on_msg(seq, sent, t, Message::Other { template });
                }
                Ok(msg) => on_msg(seq, sent, t, msg),
                Err(e) => {
                    messages -= 1;
                    self.bad_messages.bump("mdp3-bad-message", || e.to_string())
                }
            }
        }
        Outcome::Delivered { messages, missing }
    }
}
