//! Counting a stream of mam SBE packets: messages by template id, gaps, duplicates, bad input.
//!
//! `mam capture inspect` feeds every UDP payload of a capture to [`inspect_payload`]; the
//! counts follow the contract of the inspect JSON (`by_type` keyed by template id as a string,
//! `messages` after duplicate dropping, `gaps` as gap events).

use std::collections::BTreeMap;

use super::layout;
use super::msg::{decode, Message};
use super::packet::Packet;
use super::{MessageHeader, SbeError};
use crate::recv::seq::{SeqTracker, Verdict};

/// Running counts over the packets of one mam SBE stream.
#[derive(Debug, Clone, Default)]
pub struct SbeInspect {
    /// Sequence tracking (gaps, duplicates).
    pub seq: SeqTracker,
    /// Messages delivered, by template id (duplicates excluded).
    pub by_template: BTreeMap<u16, u64>,
    /// Packets refused because their framing lies ([`super::PacketError`]).
    pub bad_packets: u64,
    /// Messages that did not decode (truncated, wrong schema, short block).
    pub bad_messages: u64,
    /// Messages of templates this decoder does not know (skipped, also in `by_template`).
    pub unknown_templates: u64,
    /// Distinct instrument ids seen in quotes, depth, trades and definitions.
    pub instruments: std::collections::BTreeSet<u32>,
    /// Smallest and largest message time seen (ns since the epoch).
    pub time_range: Option<(u64, u64)>,
}

impl SbeInspect {
    /// Messages delivered (all templates).
    pub fn messages(&self) -> u64 {
        self.by_template.values().sum()
    }
    /// `by_template` keyed by the template id as a string (the inspect JSON's `by_type`).
    pub fn by_type(&self) -> BTreeMap<String, u64> {
        self.by_template
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect()
    }
    fn saw_time(&mut self, t: u64) {
        self.time_range = Some(match self.time_range {
            None => (t, t),
            Some((a, b)) => (a.min(t), b.max(t)),
        });
    }
}

/// True if `payload` looks like a mam SBE packet (for format detection): its framing checks
/// and its first message, if any, carries the mam schema id.
pub fn looks_like_mam_sbe(payload: &[u8]) -> bool {
    let Ok(p) = Packet::parse(payload) else {
        return false;
    };
    match p.messages().next() {
        Some(m) => MessageHeader::read(m).is_ok_and(|h| h.schema_id == layout::SCHEMA_ID),
        None => true,
    }
}

/// Counts one UDP payload into `st`. Returns the packet's verdict, or `None` if the packet was
/// refused (counted in `bad_packets`).
pub fn inspect_payload(st: &mut SbeInspect, payload: &[u8]) -> Option<Verdict> {
    let Ok(p) = Packet::parse(payload) else {
        st.bad_packets += 1;
        return None;
    };
    let h = p.header;
    let verdict = st.seq.on_packet(h.session, h.seq, u64::from(h.messages()));
    let skip = match verdict {
        Verdict::Duplicate | Verdict::Heartbeat => return Some(verdict),
        Verdict::Overlap { skip } => skip as usize,
        _ => 0,
    };
    for m in p.messages().skip(skip) {
        match decode(m) {
            Ok(msg) => {
                let (t, inst) = match msg {
                    Message::Quote(q) => (q.time_ns(), Some(q.instrument())),
                    Message::Heartbeat(hb) => (hb.sending_time(), None),
                    Message::Instrument(d) => {
                        let d = d.get();
                        (d.time_ns, Some(d.instrument))
                    }
                    Message::Depth(d) => (d.time_ns(), Some(d.instrument())),
                    Message::Trade(tr) => {
                        let tr = tr.get();
                        (tr.time_ns, Some(tr.instrument))
                    }
                };
                st.saw_time(t);
                if let Some(i) = inst {
                    st.instruments.insert(i);
                }
                if let Ok(h) = MessageHeader::read(m) {
                    *st.by_template.entry(h.template_id).or_default() += 1;
                }
            }
            Err(SbeError::UnknownTemplate { template, .. }) => {
                st.unknown_templates += 1;
                *st.by_template.entry(template).or_default() += 1;
            }
            Err(e) => {
                if st.bad_messages == 0 {
                    tracing::warn!("mam-sbe: undecodable message: {e}");
                }
                st.bad_messages += 1;
            }
        }
    }
    Some(verdict)
}
