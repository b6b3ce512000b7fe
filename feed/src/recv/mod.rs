//! Live input: mio receivers (UDP unicast and multicast, TCP), receive stamping, sequence gap
//! detection and A/B duplicate dropping.
//!
//! A receiver reads packets without blocking, stamps each at receipt with the monotonic clock
//! ([`sys::mono_ns`]) and, when asked, the kernel's software receive timestamp
//! (`SO_TIMESTAMPNS`, wall clock). A [`Framing`] reads the packet's sequence header (mam SBE,
//! IEX-TP, MoldUDP64…), a [`seq::SeqTracker`] classifies it, and the packet is handed to the
//! caller unless it is a duplicate. Gaps are counted in [`RecvStats`] and reported to the
//! caller in [`Delivered::verdict`] so it can emit a `Gap` market event.

pub mod seq;
pub mod stage;
pub mod sys;
pub mod tcp;
pub mod udp;

use seq::{SeqStats, SeqTracker, Verdict};

pub use stage::UdpSbeStage;
pub use tcp::TcpReceiver;
pub use udp::{UdpConfig, UdpReceiver};

/// The sequence header of one packet, as a [`Framing`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqHeader {
    /// Session id (protocol-specific bytes, zero-padded).
    pub session: [u8; 10],
    /// Sequence number of the first message (of the next one, in a heartbeat).
    pub first_seq: u64,
    /// Messages in the packet.
    pub count: u64,
}

/// How to read the sequence header of a protocol's packets.
pub trait Framing {
    /// Protocol name, for reports.
    fn name(&self) -> &'static str;
    /// The header of `payload`, or None if it is not a packet of this protocol.
    fn header(&self, payload: &[u8]) -> Option<SeqHeader>;
}

/// mam's own SBE feed ([`crate::sbe::packet`]): the whole framing is checked, so a packet
/// whose header lies about its lengths is refused, not sequenced.
#[derive(Debug, Clone, Copy, Default)]
pub struct MamSbeFraming;

impl Framing for MamSbeFraming {
    fn name(&self) -> &'static str {
        "mam-sbe"
    }
    fn header(&self, p: &[u8]) -> Option<SeqHeader> {
        let h = crate::sbe::Packet::parse(p).ok()?.header;
        Some(SeqHeader {
            session: h.session,
            first_seq: h.seq,
            count: u64::from(h.messages()),
        })
    }
}

/// IEX Transport Protocol v1 (TOPS, DEEP): the packet is checked by [`crate::iex::Packet`]
/// (version, payload length, message framing: a packet whose header lies is refused), and its
/// session id, protocol id, first sequence number and message count are the sequence header.
#[derive(Debug, Clone, Copy, Default)]
pub struct IexTpFraming;

/// Size of the IEX-TP header.
pub const IEX_TP_HEADER_LEN: usize = 40;

impl Framing for IexTpFraming {
    fn name(&self) -> &'static str {
        "iex-tp"
    }
    fn header(&self, p: &[u8]) -> Option<SeqHeader> {
        let h = crate::iex::Packet::parse(p).ok()?.header;
        let mut session = [0u8; 10];
        session[..4].copy_from_slice(&h.session_id().to_le_bytes());
        session[4..6].copy_from_slice(&h.protocol_id().to_le_bytes());
        Some(SeqHeader {
            session,
            first_seq: u64::try_from(h.first_seq()).ok()?,
            count: u64::from(h.message_count()),
        })
    }
}

/// A packet handed to the caller.
#[derive(Debug, Clone, Copy)]
pub struct Delivered<'a> {
    /// Monotonic receive time, ns ([`sys::mono_ns`]).
    pub recv_ns: u64,
    /// Kernel software receive timestamp (wall clock ns), when enabled and supplied.
    pub kernel_ns: Option<u64>,
    /// The packet.
    pub payload: &'a [u8],
    /// Its sequence header.
    pub header: SeqHeader,
    /// In order, after a gap, new session, heartbeat, or overlapping.
    pub verdict: Verdict,
    /// Leading messages already seen (skip them).
    pub skip: u64,
}

/// Receiver counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecvStats {
    /// Packets read from the socket (duplicates included).
    pub packets: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Packets whose header the framing refused (dropped).
    pub unframed: u64,
    /// Packets cut short by the receive buffer size (dropped).
    pub oversized: u64,
    /// Sequence counters (gaps, missing, duplicates, messages delivered).
    pub seq: SeqStats,
}

/// Shared per-packet logic of every receiver: frame, sequence, deliver.
#[derive(Debug)]
pub(crate) struct Sequencer<F> {
    pub framing: F,
    pub tracker: SeqTracker,
    pub stats: RecvStats,
}

impl<F: Framing> Sequencer<F> {
    pub fn new(framing: F) -> Self {
        Self {
            framing,
            tracker: SeqTracker::new(),
            stats: RecvStats::default(),
        }
    }

    /// Handles one packet; calls `on` unless it is dropped. Returns true if delivered.
    pub fn packet(
        &mut self,
        payload: &[u8],
        recv_ns: u64,
        kernel_ns: Option<u64>,
        on: &mut impl FnMut(&Delivered<'_>),
    ) -> bool {
        self.stats.packets += 1;
        self.stats.bytes += payload.len() as u64;
        let Some(header) = self.framing.header(payload) else {
            if self.stats.unframed == 0 {
                tracing::warn!(
                    "{}: dropping a packet without a valid header",
                    self.framing.name()
                );
            }
            self.stats.unframed += 1;
            return false;
        };
        let verdict = self
            .tracker
            .on_packet(header.session, header.first_seq, header.count);
        self.stats.seq = self.tracker.stats();
        let skip = match verdict {
            Verdict::Duplicate => return false,
            Verdict::Gap {
                first_missing,
                missing,
            } => {
                tracing::debug!(
                    "{}: gap of {missing} messages from seq {first_missing}",
                    self.framing.name()
                );
                0
            }
            Verdict::Overlap { skip } => skip,
            _ => 0,
        };
        on(&Delivered {
            recv_ns,
            kernel_ns,
            payload,
            header,
            verdict,
            skip,
        });
        true
    }
}
