//! A capture's mam SBE feed as SoupBinTCP messages: one message per SBE message, each carried
//! as a complete mam SBE packet holding exactly that message (header sequence number = the
//! message's own), so a receiver decodes it with the same code as a UDP datagram.

use std::path::Path;

use crate::capture::ReadOptions;
use crate::replay::{load_udp_with, ReplayError};
use crate::sbe::packet::{PacketHeader, PACKET_HEADER_LEN, SESSION_LEN};
use crate::sbe::Packet;

/// One message to serve, with the capture time of the packet it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoupMessage {
    /// Capture timestamp, ns since the epoch (paces the replay).
    pub ts_ns: u64,
    /// A one-message mam SBE packet.
    pub bytes: Vec<u8>,
}

/// A capture split into messages.
#[derive(Debug, Clone, Default)]
pub struct SoupMessages {
    /// Messages in capture order; soup sequence number `k` is `messages[k - 1]`.
    pub messages: Vec<SoupMessage>,
    /// Session of the first SBE packet (space-padded), if any.
    pub session: Option<[u8; SESSION_LEN]>,
    /// UDP payloads that were not mam SBE packets (skipped).
    pub not_sbe: u64,
    /// SBE heartbeat and end-of-session packets (carry no message; skipped).
    pub empty_packets: u64,
    /// Frames that held no UDP datagram (skipped by the capture reader).
    pub skipped_frames: u64,
    /// The capture ended inside a record.
    pub truncated: bool,
    /// Damaged stretches skipped (read leniently).
    pub corrupt_regions: u64,
}

impl SoupMessages {
    /// The session as text (trimmed), if any.
    pub fn session_name(&self) -> Option<String> {
        self.session
            .map(|s| {
                String::from_utf8_lossy(&s)
                    .trim_matches([' ', '\0'])
                    .to_string()
            })
            .filter(|s| !s.is_empty())
    }

    /// Appends the messages of one UDP payload received at `ts_ns`.
    pub fn push_payload(&mut self, ts_ns: u64, payload: &[u8]) {
        let Ok(p) = Packet::parse(payload) else {
            self.not_sbe += 1;
            return;
        };
        if p.header.messages() == 0 {
            self.empty_packets += 1;
            return;
        }
        self.session.get_or_insert(p.header.session);
        for (i, m) in p.messages().enumerate() {
            self.messages.push(SoupMessage {
                ts_ns,
                bytes: one_message_packet(&p.header, p.header.seq + i as u64, m),
            });
        }
    }
}

/// A mam SBE packet of `session` holding only `msg`, numbered `seq`.
pub fn one_message_packet(h: &PacketHeader, seq: u64, msg: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; PACKET_HEADER_LEN];
    let mut hdr = [0u8; PACKET_HEADER_LEN];
    PacketHeader {
        session: h.session,
        seq,
        count: 1,
    }
    .write(&mut hdr);
    out.copy_from_slice(&hdr);
    // An SBE message inside a packet already fits its u16 length prefix.
    out.extend_from_slice(&(msg.len() as u16).to_le_bytes());
    out.extend_from_slice(msg);
    out
}

/// Reads a pcap/pcapng capture of the mam SBE feed and splits it into soup messages (a capture
/// damaged in the middle is refused).
pub fn load_capture(path: &Path) -> Result<SoupMessages, ReplayError> {
    load_capture_with(path, ReadOptions::default())
}

/// [`load_capture`], reading as `opts` says (lenient: damaged stretches skipped and counted in
/// [`SoupMessages::corrupt_regions`]).
pub fn load_capture_with(path: &Path, opts: ReadOptions) -> Result<SoupMessages, ReplayError> {
    let loaded = load_udp_with(path, opts)?;
    let mut out = SoupMessages {
        skipped_frames: loaded.skipped,
        truncated: loaded.truncated,
        corrupt_regions: loaded.corrupt_regions.len() as u64,
        ..SoupMessages::default()
    };
    for d in &loaded.datagrams {
        out.push_payload(d.ts_ns, &d.payload);
    }
    Ok(out)
}
