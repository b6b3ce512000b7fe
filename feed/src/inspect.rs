//! What a capture holds: `mam capture inspect`. One [`Format`] per wire protocol, detected from
//! the first UDP payloads (or the file's framing) or forced by the caller, and a [`Report`]
//! whose JSON form is the CLI's contract.
//!
//! Timestamps: IEX-TP and MDP3 print the packets' send times (ns, UTC); mam-sbe its message
//! times; ITCH carries only ns since midnight Eastern time, so in a pcap it is combined with
//! the Eastern-time date of the capture's frames (daylight time by the post-2007 US rules),
//! and in a BinaryFILE, which has no date, it is printed as `HH:MM:SS.nnnnnnnnn ET (no date)`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;
use thiserror::Error;

use crate::capture::seq::Outcome;
use crate::capture::time::{eastern_midnight_utc_ns, iso_utc_ns};
use crate::capture::{classify, Capture, CaptureError, Container, Frames, ReadOptions};
use crate::{iex, itch, mdp3};

/// A wire protocol `inspect` understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The project's own SBE FX feed.
    MamSbe,
    /// IEX-TP with TOPS or DEEP.
    IexTp,
    /// NASDAQ ITCH 5.0 (MoldUDP64 in a pcap, or a BinaryFILE).
    Itch50,
    /// CME MDP 3.0.
    Mdp3,
}

impl Format {
    /// Name as in the contract.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::MamSbe => "mam-sbe",
            Format::IexTp => "iex-tp",
            Format::Itch50 => "itch50",
            Format::Mdp3 => "mdp3",
        }
    }

    /// Parses a contract name.
    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "mam-sbe" => Format::MamSbe,
            "iex-tp" => Format::IexTp,
            "itch50" => Format::Itch50,
            "mdp3" => Format::Mdp3,
            _ => return None,
        })
    }

    /// The format of one UDP payload, if any decoder accepts it (checked strictest first).
    pub fn of_payload(p: &[u8]) -> Option<Format> {
        if let Ok(pkt) = iex::Packet::parse(p) {
            let id = pkt.header.protocol_id();
            if id == iex::PROTOCOL_TOPS || id == iex::PROTOCOL_DEEP {
                return Some(Format::IexTp);
            }
        }
        if crate::sbe::inspect::looks_like_mam_sbe(p) {
            return Some(Format::MamSbe);
        }
        if let Ok(pkt) = itch::MoldPacket::parse(p) {
            let ascii = pkt
                .session
                .iter()
                .all(|b| b.is_ascii_graphic() || *b == b' ');
            let first_ok = pkt
                .messages()
                .next()
                .is_none_or(|m| itch::Message::decode(m).is_ok());
            if ascii && first_ok {
                return Some(Format::Itch50);
            }
        }
        if let Ok(pkt) = mdp3::Packet::parse(p) {
            if pkt
                .messages()
                .next()
                .is_some_and(|m| m.header.schema_id() == 1)
            {
                return Some(Format::Mdp3);
            }
        }
        None
    }
}

/// Why a file cannot be inspected.
#[derive(Debug, Error)]
pub enum InspectError {
    /// The capture cannot be opened.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// Neither a capture nor an ITCH BinaryFILE.
    #[error("not a pcap/pcapng capture nor an ITCH 5.0 BinaryFILE (starts with {0})")]
    Unrecognized(String),
    /// No UDP payload in the capture matches a known format.
    #[error("no UDP payload in the first {0} frames matches mam-sbe, iex-tp, itch50 or mdp3; use --format")]
    Undetected(u64),
    /// The format cannot be carried by this container.
    #[error("format {format} cannot be read from a {container} file")]
    Mismatch {
        /// Format.
        format: &'static str,
        /// Container.
        container: &'static str,
    },
    /// An ITCH BinaryFILE whose framing cannot be trusted.
    #[error("{0}")]
    ItchFile(#[from] itch::FileError),
}

/// What a capture holds (the JSON of `mam capture inspect --json`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// `mam-sbe`, `iex-tp`, `itch50` or `mdp3`.
    pub format: &'static str,
    /// `pcap`, `pcapng` or `itch-binaryfile`.
    pub container: &'static str,
    /// Captured frames (BinaryFILE: messages).
    pub frames: u64,
    /// The file ends inside a record.
    pub truncated: bool,
    /// Damaged stretches skipped (lenient reading only; a strict read refuses the file).
    pub corrupt_regions: u64,
    /// Bytes in those stretches.
    pub skipped_bytes: u64,
    /// Messages decoded after A/B arbitration.
    pub messages: u64,
    /// Sequence gap events.
    pub gaps: u64,
    /// Messages in dropped duplicate packets (A/B copies, retransmissions).
    pub duplicates: u64,
    /// Messages by the protocol's type letter or template id.
    pub by_type: BTreeMap<String, u64>,
    /// Distinct instruments (symbols, locate codes, security ids).
    pub symbols: u64,
    /// First timestamp (see the module doc for what each format can say).
    pub first_ts: Option<String>,
    /// Last timestamp.
    pub last_ts: Option<String>,
    /// Sequence numbers missing in the gaps: messages (IEX-TP, MoldUDP64, mam-sbe) or packets
    /// (MDP3, whose sequence numbers count packets).
    pub missing: u64,
    /// Packets dropped as duplicates.
    pub duplicate_packets: u64,
    /// Sequence resets: a publisher restarted its numbering (or began a new session) inside
    /// the capture; the new space's messages are counted, not dropped as duplicates.
    pub resets: u64,
    /// Packets dropped because their headers lied.
    pub bad_packets: u64,
    /// Messages skipped as unknown or malformed, by kind.
    pub bad_messages: BTreeMap<String, u64>,
    /// Frames that carried no UDP datagram, by reason.
    pub non_udp_frames: BTreeMap<String, u64>,
    /// UDP datagrams the format's decoder refused (other traffic in the capture).
    pub foreign_datagrams: u64,
    /// BinaryFILE records whose length prefix was zero (read by message type).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zero_length_prefixes: Option<u64>,
}

#[derive(Default)]
struct Span {
    first: Option<i64>,
    last: Option<i64>,
}

impl Span {
    #[inline]
    fn saw(&mut self, t: i64) {
        self.first.get_or_insert(t);
        self.last = Some(t);
    }
}

/// Inspects a file; damage in the middle of a capture is an error
/// ([`CaptureError::Corrupt`]).
pub fn inspect_path(path: &Path, format: Option<Format>) -> Result<Report, InspectError> {
    inspect_path_with(path, format, ReadOptions::default())
}

/// Inspects a file, reading a capture as `opts` says (lenient: damage skipped and counted).
pub fn inspect_path_with(
    path: &Path,
    format: Option<Format>,
    opts: ReadOptions,
) -> Result<Report, InspectError> {
    let cap = Capture::open(path)?;
    inspect_bytes_with(cap.bytes(), format, opts)
}

/// Frames looked at for format detection.
const SNIFF_FRAMES: u64 = 256;

/// Inspects a file's bytes; damage in the middle of a capture is an error.
pub fn inspect_bytes(bytes: &[u8], format: Option<Format>) -> Result<Report, InspectError> {
    inspect_bytes_with(bytes, format, ReadOptions::default())
}

/// Inspects a file's bytes, reading a capture as `opts` says.
pub fn inspect_bytes_with(
    bytes: &[u8],
    format: Option<Format>,
    opts: ReadOptions,
) -> Result<Report, InspectError> {
    let Some(container) = Container::detect(bytes) else {
        if matches!(format, None | Some(Format::Itch50)) && itch::BinaryFile::sniff(bytes) {
            return itch_file(bytes);
        }
        if matches!(format, None | Some(Format::Itch50)) && bytes.len() >= 3 {
            // Looks like nothing we know; if forced or plausible, let the ITCH reader say why.
            if format.is_some() || bytes[..2] == [0, 0] {
                return itch_file(bytes);
            }
        }
        if let Some(f) = format {
            return Err(InspectError::Mismatch {
                format: f.as_str(),
                container: "non-capture",
            });
        }
        let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
        return Err(InspectError::Unrecognized(head.join(" ")));
    };
    let format = match format {
        Some(f) => f,
        None => detect(bytes, opts)?,
    };
    let mut r = Report {
        format: format.as_str(),
        container: container.as_str(),
        ..Report::default()
    };
    let mut frames = Frames::with_options(bytes, opts)?;
    let mut span = Span::default();
    let mut symbols = Symbols::default();
    let mut by_type = [0u64; 256];
    let mut by_template: BTreeMap<u16, u64> = BTreeMap::new();
    let on_outcome = |r: &mut Report, o: Outcome| match o {
        Outcome::Delivered { messages, .. } => r.messages += messages,
        Outcome::Duplicate { messages } => {
            r.duplicates += messages;
            r.duplicate_packets += 1;
        }
        Outcome::Bad => r.foreign_datagrams += 1,
    };
    match format {
        Format::IexTp => {
            let mut s = iex::IexSession::new();
            for f in &mut frames {
                let Some(d) = udp(&mut r, &f) else { continue };
                let o = s.on_packet(d, |_, _, m| {
                    by_type[usize::from(m_kind_iex(&m))] += 1;
                    if let Some(sym) = m.symbol() {
                        symbols.add(u64::from_le_bytes(sym));
                    }
                });
                if o != Outcome::Bad {
                    // every valid packet, heartbeats included, carries its send time
                    span.saw(iex::Header::new(d).map_or(0, |h| h.send_time()));
                }
                on_outcome(&mut r, o);
            }
            r.gaps = s.gaps();
            r.missing = s.missing();
            r.resets = s.resets();
            r.bad_packets = s.bad_packets.total();
            tally(&mut r.bad_messages, s.bad_messages.counts());
        }
        Format::Itch50 => {
            let mut s = itch::MoldSession::new();
            let mut midnight = None;
            for f in &mut frames {
                let Some(d) = udp(&mut r, &f) else { continue };
                let base = *midnight.get_or_insert_with(|| eastern_midnight_utc_ns(f.ts_ns as i64));
                let o = s.on_packet(d, |_, m| {
                    by_type[usize::from(m.kind())] += 1;
                    span.saw(base + m.ts() as i64);
                    if m.stock_locate() != 0 {
                        symbols.add(u64::from(m.stock_locate()));
                    }
                });
                on_outcome(&mut r, o);
            }
            r.gaps = s.gaps();
            r.missing = s.missing();
            r.resets = s.resets();
            r.bad_packets = s.bad_packets.total();
            tally(&mut r.bad_messages, s.bad_messages.counts());
        }
        Format::Mdp3 => {
            let mut s = mdp3::Mdp3Session::new();
            for f in &mut frames {
                let Some(d) = udp(&mut r, &f) else { continue };
                let o = s.on_packet(d, |_, _, tid, m| {
                    *by_template.entry(tid).or_insert(0) += 1;
                    mdp3_symbols(&m, &mut symbols);
                });
                if o != Outcome::Bad {
                    span.saw(mdp3::PacketHeader::new(d).map_or(0, |h| h.sending_time() as i64));
                }
                on_outcome(&mut r, o);
            }
            r.gaps = s.seq.gaps;
            r.missing = s.seq.missing;
            r.resets = s.seq.resets;
            r.bad_packets = s.bad_packets.total();
            tally(&mut r.bad_messages, s.bad_messages.counts());
        }
        Format::MamSbe => {
            let mut st = crate::sbe::inspect::SbeInspect::default();
            for f in &mut frames {
                let Some(d) = udp(&mut r, &f) else { continue };
                if crate::sbe::inspect::inspect_payload(&mut st, d).is_none() {
                    r.foreign_datagrams += 1;
                }
            }
            let stats = st.seq.stats();
            r.messages = st.messages();
            r.gaps = stats.gaps;
            r.missing = stats.missing;
            r.resets = stats.resets;
            r.duplicates = stats.duplicate_messages;
            r.duplicate_packets = stats.duplicate_packets;
            r.bad_packets = st.bad_packets;
            if st.bad_messages > 0 {
                r.bad_messages
                    .insert("mam-sbe-bad-message".into(), st.bad_messages);
            }
            r.by_type = st.by_type();
            r.symbols = st.instruments.len() as u64;
            if let Some((a, b)) = st.time_range {
                span.saw(a as i64);
                span.saw(b as i64);
            }
            r.foreign_datagrams = r.foreign_datagrams.saturating_sub(st.bad_packets);
        }
    }
    if format != Format::MamSbe {
        r.symbols = symbols.len();
        r.by_type = if format == Format::Mdp3 {
            by_template
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect()
        } else {
            letters(&by_type)
        };
        // foreign datagrams counted the bad packets too; keep them apart
        r.foreign_datagrams = r.foreign_datagrams.saturating_sub(r.bad_packets);
    }
    if let Some(e) = frames.error() {
        return Err(e.into());
    }
    r.frames = frames.frames_read();
    r.truncated = frames.truncated();
    r.corrupt_regions = frames.corrupt_regions().len() as u64;
    r.skipped_bytes = frames.skipped_bytes();
    r.first_ts = span.first.map(iso_utc_ns);
    r.last_ts = span.last.map(iso_utc_ns);
    Ok(r)
}

fn m_kind_iex(m: &iex::Message<'_>) -> u8 {
    match m {
        iex::Message::SystemEvent(_) => b'S',
        iex::Message::SecurityDirectory(_) => b'D',
        iex::Message::TradingStatus(_) => b'H',
        iex::Message::RetailLiquidity(_) => b'I',
        iex::Message::OperationalHalt(_) => b'O',
        iex::Message::ShortSaleTest(_) => b'P',
        iex::Message::Quote(_) => b'Q',
        iex::Message::Trade(_) => b'T',
        iex::Message::TradeBreak(_) => b'B',
        iex::Message::OfficialPrice(_) => b'X',
        iex::Message::Auction(_) => b'A',
        iex::Message::SecurityEvent(_) => b'E',
        iex::Message::BuyLevel(_) => b'8',
        iex::Message::SellLevel(_) => b'5',
    }
}

fn mdp3_symbols(m: &mdp3::Message<'_>, symbols: &mut Symbols) {
    use mdp3::Message as M;
    let mut add = |id: i32| {
        if id != i32::MAX {
            symbols.add(id as u32 as u64)
        }
    };
    match m {
        M::SecurityStatus(s) => add(s.security_id()),
        M::Book { entries, .. } => entries
            .entries()
            .filter_map(mdp3::BookEntry::new)
            .for_each(|e| add(e.security_id())),
        M::TradeSummary { entries, .. } => entries
            .entries()
            .filter_map(mdp3::TradeEntry::new)
            .for_each(|e| add(e.security_id())),
        M::SessionStatistics { entries, .. } => entries
            .entries()
            .filter_map(mdp3::StatsEntry::new)
            .for_each(|e| add(e.security_id())),
        M::Volume { entries, .. } => entries
            .entries()
            .filter_map(mdp3::VolumeEntry::new)
            .for_each(|e| add(e.security_id())),
        M::Snapshot { root, .. } => add(root.security_id()),
        M::ChannelReset { .. } | M::Other { .. } => {}
    }
}

#[derive(Default)]
struct Symbols(BTreeSet<u64>);

impl Symbols {
    #[inline]
    fn add(&mut self, s: u64) {
        self.0.insert(s);
    }
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
}

fn letters(by_type: &[u64; 256]) -> BTreeMap<String, u64> {
    by_type
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| (char::from(k as u8).to_string(), *n))
        .collect()
}

fn tally(into: &mut BTreeMap<String, u64>, from: &BTreeMap<&'static str, u64>) {
    for (k, v) in from {
        *into.entry((*k).to_string()).or_insert(0) += v;
    }
}

fn udp<'a>(r: &mut Report, f: &crate::capture::Frame<'a>) -> Option<&'a [u8]> {
    match classify(f) {
        Ok(d) => Some(d.payload),
        Err(why) => {
            *r.non_udp_frames
                .entry(why.as_str().to_string())
                .or_insert(0) += 1;
            None
        }
    }
}

fn detect(bytes: &[u8], opts: ReadOptions) -> Result<Format, InspectError> {
    let mut frames = Frames::with_options(bytes, opts)?;
    let mut seen = 0;
    for f in (&mut frames).take(SNIFF_FRAMES as usize) {
        seen += 1;
        if let Some(fmt) =
            crate::capture::udp_payload(&f).and_then(|d| Format::of_payload(d.payload))
        {
            return Ok(fmt);
        }
    }
    Err(InspectError::Undetected(seen))
}

fn itch_file(bytes: &[u8]) -> Result<Report, InspectError> {
    let mut file = itch::BinaryFile::new(bytes);
    let mut by_type = [0u64; 256];
    let mut symbols = Symbols::default();
    let (mut first, mut last) = (None, None);
    let mut n = 0u64;
    for m in &mut file {
        n += 1;
        by_type[usize::from(m.kind())] += 1;
        first.get_or_insert(m.ts());
        last = Some(m.ts());
        if m.stock_locate() != 0 {
            symbols.add(u64::from(m.stock_locate()));
        }
    }
    let truncated = match file.error() {
        None => false,
        Some(itch::FileError::Truncated { .. }) => true,
        // A framing we cannot trust: refuse rather than report half a file as if whole.
        Some(e) => return Err(e.clone().into()),
    };
    let tod = |ns: u64| format!("{} ET (no date)", itch::time_of_day(ns));
    Ok(Report {
        format: Format::Itch50.as_str(),
        container: "itch-binaryfile",
        frames: n,
        truncated,
        messages: n,
        by_type: letters(&by_type),
        symbols: symbols.len(),
        first_ts: first.map(tod),
        last_ts: last.map(tod),
        zero_length_prefixes: Some(file.zero_prefixes),
        ..Report::default()
    })
}
