//! The frame iterator over a pcap or pcapng byte buffer.

use std::fs::File;
use std::path::Path;

use pcap_parser::nom;
use pcap_parser::pcapng::Block;
use pcap_parser::{LegacyPcapBlock, PcapError};
use thiserror::Error;

use super::resync::{ng_frame, ng_resync, NgFrame, PcapShape};

/// Which kind of capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// Classic libpcap file.
    Pcap,
    /// pcapng file.
    PcapNg,
}

impl Container {
    /// Name as printed by `mam capture inspect`.
    pub fn as_str(self) -> &'static str {
        match self {
            Container::Pcap => "pcap",
            Container::PcapNg => "pcapng",
        }
    }

    /// Recognizes a capture by its first four bytes; `None` if neither pcap nor pcapng.
    pub fn detect(bytes: &[u8]) -> Option<Container> {
        let magic: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
        match u32::from_le_bytes(magic) {
            0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 | 0xa1b2_cd34 | 0x34cd_b2a1 => {
                Some(Container::Pcap)
            }
            0x0a0d_0d0a => Some(Container::PcapNg),
            _ => None,
        }
    }
}

/// A capture that cannot be opened at all.
#[derive(Debug, Error)]
pub enum CaptureError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Neither a pcap nor a pcapng file.
    #[error("not a pcap or pcapng file (first bytes {0:02x?})")]
    NotACapture(Vec<u8>),
    /// A record in the middle of the file is damaged (not a truncated tail: records follow).
    #[error("capture corrupt at byte offset {offset} (record {frame}): {why}")]
    Corrupt {
        /// Byte offset of the damaged record.
        offset: usize,
        /// 0-based number of the damaged record (the frames read before it).
        frame: u64,
        /// What is wrong with it.
        why: String,
    },
    /// The file header itself is cut short or invalid.
    #[error("{container} file header unreadable: {why}")]
    BadHeader {
        /// Container kind.
        container: &'static str,
        /// Why.
        why: String,
    },
}

/// How the frame iterator ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Still reading.
    NotYet,
    /// Every record was complete.
    Complete,
    /// The file ends inside a record at `offset` (`missing` more bytes were needed, if known).
    Truncated {
        /// Byte offset of the incomplete record.
        offset: usize,
        /// Bytes that were missing, when the parser could tell.
        missing: Option<usize>,
    },
    /// The record at `offset` is damaged (records follow it, so the file is not merely cut
    /// short); the rest of the file was not read. Only in strict mode: lenient reading skips
    /// the damage ([`Frames::corrupt_regions`]).
    Corrupt {
        /// Byte offset of the damaged record.
        offset: usize,
        /// 0-based number of the damaged record (the frames read before it).
        frame: u64,
        /// What is wrong with it.
        why: String,
    },
}

/// How to read a capture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// On damage in the middle of the file, skip to the next plausible record and go on
    /// (counted in [`Frames::corrupt_regions`]) instead of stopping with [`End::Corrupt`].
    pub lenient: bool,
}

/// A damaged stretch of the file that lenient reading skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorruptRegion {
    /// Byte offset of the damaged record.
    pub offset: usize,
    /// Bytes skipped (up to the next plausible record, or the end of the file).
    pub len: usize,
    /// 0-based number the damaged record would have had (the frames read before it).
    pub frame: u64,
    /// What was wrong.
    pub why: String,
}

/// One captured frame, borrowed from the capture's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// 0-based index among the packet records of the file.
    pub index: u64,
    /// Capture timestamp, nanoseconds since the Unix epoch (0 when the record has none, as a
    /// pcapng Simple Packet Block).
    pub ts_ns: u64,
    /// The captured bytes (possibly fewer than `orig_len` when the capture had a snap length).
    pub data: &'a [u8],
    /// Length of the packet on the wire.
    pub orig_len: u32,
    /// Link-layer type (pcap `LINKTYPE_*`), e.g. 1 for Ethernet.
    pub linktype: i32,
}

enum Bytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

/// A capture file held in memory (memory-mapped when opened from a path).
pub struct Capture {
    bytes: Bytes,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("len", &self.bytes().len())
            .finish()
    }
}

impl Capture {
    /// Memory-maps a file (an empty file is read as an empty buffer).
    pub fn open(path: impl AsRef<Path>) -> Result<Capture, CaptureError> {
        let path = path.as_ref();
        let io = |source| CaptureError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len == 0 {
            return Ok(Capture::from_bytes(Vec::new()));
        }
        // SAFETY: the map is read-only and private to this process; a capture file changed by
        // another process while mapped is outside what we support (as for any mmap reader), and
        // every access goes through bounds-checked slices.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        Ok(Capture {
            bytes: Bytes::Mapped(map),
        })
    }

    /// Wraps bytes already in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Capture {
        Capture {
            bytes: Bytes::Owned(bytes),
        }
    }

    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        match &self.bytes {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }

    /// The container kind, if recognized.
    pub fn container(&self) -> Option<Container> {
        Container::detect(self.bytes())
    }

    /// Iterates the frames, stopping at damage ([`End::Corrupt`]).
    pub fn frames(&self) -> Result<Frames<'_>, CaptureError> {
        Frames::new(self.bytes())
    }

    /// Iterates the frames as `opts` says (lenient: skipping damage).
    pub fn frames_with(&self, opts: ReadOptions) -> Result<Frames<'_>, CaptureError> {
        Frames::with_options(self.bytes(), opts)
    }
}

#[derive(Clone, Copy)]
enum Legacy {
    Le,
    Be,
    Modified,
}

#[derive(Clone, Copy)]
struct Interface {
    linktype: i32,
    /// Timestamp units per second.
    units: u64,
    /// Seconds added to every timestamp.
    offset_s: i64,
}

enum Kind {
    Pcap {
        endian: Legacy,
        nanos: bool,
        linktype: i32,
        shape: PcapShape,
    },
    PcapNg {
        big_endian: bool,
        interfaces: Vec<Interface>,
    },
}

/// Iterator over the frames of a capture buffer. After it returns `None`, [`Frames::end`]
/// says whether the file was complete.
pub struct Frames<'a> {
    all: &'a [u8],
    pos: usize,
    kind: Kind,
    index: u64,
    end: End,
    opts: ReadOptions,
    regions: Vec<CorruptRegion>,
    /// Seconds of the last pcap record read (what a resynchronised record must be near).
    last_ts: Option<u32>,
}

impl std::fmt::Debug for Frames<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frames")
            .field("pos", &self.pos)
            .field("index", &self.index)
            .field("end", &self.end)
            .finish()
    }
}

fn err_text<I>(e: &nom::Err<PcapError<I>>) -> String {
    match e {
        nom::Err::Incomplete(_) => "incomplete".into(),
        nom::Err::Error(e) | nom::Err::Failure(e) => match e {
            PcapError::NomError(_, k) => format!("parse error ({k:?})"),
            PcapError::HeaderNotRecognized => "header not recognized".into(),
            other => format!("{:?}", std::mem::discriminant(other)),
        },
    }
}

impl<'a> Frames<'a> {
    /// Starts reading a pcap or pcapng buffer, stopping at damage ([`End::Corrupt`]).
    pub fn new(all: &'a [u8]) -> Result<Frames<'a>, CaptureError> {
        Self::with_options(all, ReadOptions::default())
    }

    /// Starts reading a pcap or pcapng buffer as `opts` says.
    pub fn with_options(all: &'a [u8], opts: ReadOptions) -> Result<Frames<'a>, CaptureError> {
        match Container::detect(all) {
            Some(Container::Pcap) => {
                let (rest, h) =
                    pcap_parser::parse_pcap_header(all).map_err(|e| CaptureError::BadHeader {
                        container: "pcap",
                        why: err_text(&e),
                    })?;
                let endian = if h.is_modified_format() {
                    Legacy::Modified
                } else if h.is_bigendian() {
                    Legacy::Be
                } else {
                    Legacy::Le
                };
                let nanos = h.is_nanosecond_precision();
                let hdr_len = if h.is_modified_format() { 24 } else { 16 };
                Ok(Frames {
                    all,
                    pos: all.len() - rest.len(),
                    kind: Kind::Pcap {
                        endian,
                        nanos,
                        linktype: h.network.0,
                        shape: PcapShape::new(hdr_len, h.is_bigendian(), nanos, h.snaplen),
                    },
                    index: 0,
                    end: End::NotYet,
                    opts,
                    regions: Vec::new(),
                    last_ts: None,
                })
            }
            Some(Container::PcapNg) => {
                let (_, shb) = pcap_parser::pcapng::parse_sectionheaderblock(all).map_err(|e| {
                    CaptureError::BadHeader {
                        container: "pcapng",
                        why: err_text(&e),
                    }
                })?;
                Ok(Frames {
                    all,
                    pos: 0,
                    kind: Kind::PcapNg {
                        big_endian: shb.big_endian(),
                        interfaces: Vec::new(),
                    },
                    index: 0,
                    end: End::NotYet,
                    opts,
                    regions: Vec::new(),
                    last_ts: None,
                })
            }
            None => Err(CaptureError::NotACapture(
                all.iter().take(8).copied().collect(),
            )),
        }
    }

    /// How reading ended ([`End::NotYet`] while frames remain).
    pub fn end(&self) -> &End {
        &self.end
    }

    /// True once the iterator stopped on a record cut short by the end of the file.
    pub fn truncated(&self) -> bool {
        matches!(self.end, End::Truncated { .. })
    }

    /// The damage reading stopped at, as an error ([`End::Corrupt`]; never in lenient mode).
    pub fn error(&self) -> Option<CaptureError> {
        match &self.end {
            End::Corrupt { offset, frame, why } => Some(CaptureError::Corrupt {
                offset: *offset,
                frame: *frame,
                why: why.clone(),
            }),
            _ => None,
        }
    }

    /// Damaged stretches skipped so far (lenient mode only).
    pub fn corrupt_regions(&self) -> &[CorruptRegion] {
        &self.regions
    }

    /// Bytes skipped in damaged stretches so far.
    pub fn skipped_bytes(&self) -> u64 {
        self.regions.iter().map(|r| r.len as u64).sum()
    }

    /// Frames returned so far.
    pub fn frames_read(&self) -> u64 {
        self.index
    }

    /// Byte offset of the next record.
    pub fn offset(&self) -> usize {
        self.pos
    }

    fn stop<I>(&mut self, e: nom::Err<PcapError<I>>) {
        self.end = match e {
            nom::Err::Incomplete(n) => End::Truncated {
                offset: self.pos,
                missing: match n {
                    nom::Needed::Size(s) => Some(s.get()),
                    nom::Needed::Unknown => None,
                },
            },
            nom::Err::Error(PcapError::Incomplete(n))
            | nom::Err::Failure(PcapError::Incomplete(n)) => End::Truncated {
                offset: self.pos,
                missing: Some(n),
            },
            ref other => End::Corrupt {
                offset: self.pos,
                frame: self.index,
                why: err_text(other),
            },
        };
    }

    /// Damage at the current record: stops there (strict), or records the stretch up to the
    /// next plausible record `next()` finds and moves past it (lenient). True to go on.
    fn damaged(&mut self, why: String, next: impl FnOnce() -> Option<usize>) -> bool {
        let (offset, frame) = (self.pos, self.index);
        if !self.opts.lenient {
            self.end = End::Corrupt { offset, frame, why };
            return false;
        }
        let to = next().unwrap_or(self.all.len());
        tracing::warn!(
            "capture damaged at byte offset {offset} (record {frame}): {why}; skipped {} bytes",
            to - offset
        );
        self.regions.push(CorruptRegion {
            offset,
            len: to - offset,
            frame,
            why,
        });
        self.pos = to;
        true
    }

    fn next_legacy(
        &mut self,
        endian: Legacy,
        nanos: bool,
        linktype: i32,
        shape: PcapShape,
    ) -> Option<Frame<'a>> {
        // Hand-written fast path for the common case (issue 12: reading records through
        // `impossible` + pcap-parser cost ~180 instructions a frame in `decode.tops.book`): a
        // little-endian record whose whole header and data are in the buffer and that
        // `impossible` would pass. It returns exactly what the path below returns for it
        // (pcap-parser reads the same four fields and takes `caplen` bytes); anything else
        // (short, damaged, other layouts) goes the checked way.
        if matches!(endian, Legacy::Le) {
            let pos = self.pos;
            if let Some(h) = self.all.get(pos..pos + 16) {
                let f = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
                let (ts_sec, frac, caplen, origlen) = (f(0), f(4), f(8), f(12));
                let end = (pos + 16).saturating_add(caplen as usize);
                if caplen <= shape.limit && frac < shape.frac_max && end <= self.all.len() {
                    let frac = if nanos {
                        u64::from(frac)
                    } else {
                        u64::from(frac) * 1_000
                    };
                    let fr = Frame {
                        index: self.index,
                        ts_ns: u64::from(ts_sec) * 1_000_000_000 + frac,
                        data: &self.all[pos + 16..end],
                        orig_len: origlen,
                        linktype,
                    };
                    self.pos = end;
                    self.last_ts = Some(ts_sec);
                    self.index += 1;
                    return Some(fr);
                }
            }
        }
        loop {
            let (all, pos) = (self.all, self.pos);
            let input = &all[pos..];
            if input.is_empty() {
                self.end = End::Complete;
                return None;
            }
            let last = self.last_ts;
            let resync = move || shape.resync(all, pos + 1, last);
            if let Some(why) = shape.impossible(all, pos) {
                if self.damaged(why, resync) {
                    continue;
                }
                return None;
            }
            let parsed = match endian {
                Legacy::Le => pcap_parser::parse_pcap_frame(input),
                Legacy::Be => pcap_parser::parse_pcap_frame_be(input),
                Legacy::Modified => pcap_parser::parse_pcap_frame_modified(input),
            };
            let b: LegacyPcapBlock<'a> = match parsed {
                Ok((rest, b)) => {
                    self.pos = all.len() - rest.len();
                    b
                }
                // Past the end of the file: a cut tail, unless records follow (a length that
                // is believable but wrong).
                Err(e) if is_incomplete(&e) && resync().is_none() => {
                    self.stop(e);
                    return None;
                }
                Err(e) => {
                    let why = if is_incomplete(&e) {
                        "record runs past the end of the file, yet records follow".into()
                    } else {
                        err_text(&e)
                    };
                    if self.damaged(why, resync) {
                        continue;
                    }
                    return None;
                }
            };
            let frac = if nanos {
                u64::from(b.ts_usec)
            } else {
                u64::from(b.ts_usec) * 1_000
            };
            let f = Frame {
                index: self.index,
                ts_ns: u64::from(b.ts_sec) * 1_000_000_000 + frac,
                data: b.data,
                orig_len: b.origlen,
                linktype,
            };
            self.last_ts = Some(b.ts_sec);
            self.index += 1;
            return Some(f);
        }
    }

    fn next_ng(&mut self) -> Option<Frame<'a>> {
        loop {
            let (all, pos) = (self.all, self.pos);
            let input = &all[pos..];
            if input.is_empty() {
                self.end = End::Complete;
                return None;
            }
            let Kind::PcapNg { big_endian, .. } = self.kind else {
                return None;
            };
            let resync = move || ng_resync(all, pos + 4, big_endian);
            let bad = match ng_frame(all, pos, big_endian) {
                NgFrame::Whole(_) => None,
                // Past the end of the file: a cut tail (the parser says what is missing),
                // unless blocks follow (a length that is believable but wrong).
                NgFrame::PastEnd => resync()
                    .map(|_| "block runs past the end of the file, yet blocks follow".into()),
                NgFrame::Bad(why) => Some(why),
            };
            if let Some(why) = bad {
                if self.damaged(why, resync) {
                    continue;
                }
                return None;
            }
            let Kind::PcapNg {
                big_endian,
                interfaces,
            } = &mut self.kind
            else {
                return None;
            };
            let parsed = if *big_endian {
                pcap_parser::pcapng::parse_block_be(input)
            } else {
                pcap_parser::pcapng::parse_block_le(input)
            };
            let (rest, block) = match parsed {
                Ok(v) => v,
                Err(e) if is_incomplete(&e) => {
                    self.stop(e);
                    return None;
                }
                // Well framed, yet its contents do not parse: damage inside the block.
                Err(e) => {
                    if self.damaged(err_text(&e), resync) {
                        continue;
                    }
                    return None;
                }
            };
            // A block parser must consume something, or we would loop forever.
            if rest.len() >= input.len() {
                if self.damaged("empty block".into(), resync) {
                    continue;
                }
                return None;
            }
            self.pos = self.all.len() - rest.len();
            match block {
                Block::SectionHeader(shb) => {
                    *big_endian = shb.big_endian();
                    interfaces.clear();
                }
                Block::InterfaceDescription(idb) => {
                    interfaces.push(Interface {
                        linktype: idb.linktype.0,
                        // `None` for a resolution beyond 2^64 units/s: treat as invalid (0).
                        units: idb.ts_resolution().unwrap_or(0),
                        offset_s: idb.if_tsoffset,
                    });
                }
                Block::EnhancedPacket(epb) => {
                    let iface = interfaces.get(epb.if_id as usize).copied();
                    let f = Frame {
                        index: self.index,
                        ts_ns: iface.map_or(0, |i| {
                            ng_ts_ns(epb.ts_high, epb.ts_low, i.units, i.offset_s)
                        }),
                        data: &epb.data[..(epb.caplen as usize).min(epb.data.len())],
                        orig_len: epb.origlen,
                        linktype: iface.map_or(-1, |i| i.linktype),
                    };
                    self.index += 1;
                    return Some(f);
                }
                Block::SimplePacket(spb) => {
                    let f = Frame {
                        index: self.index,
                        ts_ns: 0,
                        data: &spb.data[..(spb.origlen as usize).min(spb.data.len())],
                        orig_len: spb.origlen,
                        linktype: interfaces.first().map_or(-1, |i| i.linktype),
                    };
                    self.index += 1;
                    return Some(f);
                }
                _ => {}
            }
        }
    }
}

/// True for the parser's "more bytes needed" (the file ends inside the record).
fn is_incomplete<I>(e: &nom::Err<PcapError<I>>) -> bool {
    matches!(
        e,
        nom::Err::Incomplete(_)
            | nom::Err::Error(PcapError::Incomplete(_))
            | nom::Err::Failure(PcapError::Incomplete(_))
    )
}

/// pcapng timestamp in `units` per second plus an offset in seconds, to ns since the epoch
/// (exact in `u128`, saturated to the `u64` range; 0 for an invalid resolution).
fn ng_ts_ns(high: u32, low: u32, units: u64, offset_s: i64) -> u64 {
    if units == 0 {
        return 0;
    }
    let ts = (u128::from(high) << 32) | u128::from(low);
    let ns = ts / u128::from(units) * 1_000_000_000
        + (ts % u128::from(units)) * 1_000_000_000 / u128::from(units);
    let ns = ns as i128 + i128::from(offset_s) * 1_000_000_000;
    ns.clamp(0, i128::from(u64::MAX)) as u64
}

impl<'a> Iterator for Frames<'a> {
    type Item = Frame<'a>;

    fn next(&mut self) -> Option<Frame<'a>> {
        if self.end != End::NotYet {
            return None;
        }
        match self.kind {
            Kind::Pcap {
                endian,
                nanos,
                linktype,
                shape,
            } => self.next_legacy(endian, nanos, linktype, shape),
            Kind::PcapNg { .. } => self.next_ng(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ng_timestamps_are_exact() {
        // microsecond resolution (the default): 1.5 s
        assert_eq!(ng_ts_ns(0, 1_500_000, 1_000_000, 0), 1_500_000_000);
        // nanosecond resolution with an offset of 10 s
        assert_eq!(ng_ts_ns(0, 7, 1_000_000_000, 10), 10_000_000_007);
        // 2^-10 s units: 1024 units = 1 s
        assert_eq!(ng_ts_ns(0, 1536, 1024, 0), 1_500_000_000);
        assert_eq!(ng_ts_ns(u32::MAX, u32::MAX, 1, i64::MAX), u64::MAX);
        assert_eq!(ng_ts_ns(1, 1, 0, 0), 0);
    }

    #[test]
    fn rejects_non_captures() {
        assert!(matches!(
            Frames::new(b"hello world"),
            Err(CaptureError::NotACapture(_))
        ));
        assert!(matches!(
            Frames::new(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]),
            Err(CaptureError::BadHeader { .. })
        ));
    }
}
