//! Telling a damaged record from a truncated tail, and finding the next good record after
//! damage (the reader's lenient mode).
//!
//! A truncated tail is a file that ends inside its last record: a writer killed mid-write.
//! Corruption is a record header that cannot be right (a pcap length past any snap length, a
//! pcapng block length that is not a multiple of 4 or whose trailer disagrees), or a record
//! that runs past the end of the file while a plausible record follows it — a cut tail has no
//! record after it.
//!
//! "Plausible" is deliberately strict so that packet bytes are not taken for a header: a pcap
//! header whose fraction of a second is in range, whose lengths fit, whose time is within a
//! day of the last good record's, and that is followed by another such header or ends exactly
//! at the end of the file; a pcapng block of a known type whose total length is a multiple of
//! 4, fits the file and is repeated in its trailer.

/// Largest capture length believed when the file's snap length says less (Wireshark's limit).
const MIN_LIMIT: u32 = 262_144;
/// Largest capture length believed whatever the snap length says.
const MAX_LIMIT: u32 = 16 << 20;
/// How far from the last good record's time a resynchronised record may be, in seconds.
const TS_SLACK_S: u32 = 86_400;

/// The shape of a classic pcap file's records.
#[derive(Debug, Clone, Copy)]
pub(super) struct PcapShape {
    /// Record header length (16; 24 in "modified" pcap).
    pub hdr_len: usize,
    /// Big-endian fields.
    pub big: bool,
    /// Fractions of a second per second (1e6 or 1e9).
    pub frac_max: u32,
    /// Largest believable capture length.
    pub limit: u32,
}

impl PcapShape {
    pub fn new(hdr_len: usize, big: bool, nanos: bool, snaplen: u32) -> Self {
        Self {
            hdr_len,
            big,
            frac_max: if nanos { 1_000_000_000 } else { 1_000_000 },
            limit: snaplen.clamp(MIN_LIMIT, MAX_LIMIT),
        }
    }

    fn u32_at(&self, b: &[u8], at: usize) -> Option<u32> {
        let w: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.big {
            u32::from_be_bytes(w)
        } else {
            u32::from_le_bytes(w)
        })
    }

    /// The record header at `at` as (seconds, fraction, capture length, original length), if
    /// it is whole.
    pub fn header(&self, b: &[u8], at: usize) -> Option<(u32, u32, u32, u32)> {
        if b.len().saturating_sub(at) < self.hdr_len {
            return None;
        }
        Some((
            self.u32_at(b, at)?,
            self.u32_at(b, at + 4)?,
            self.u32_at(b, at + 8)?,
            self.u32_at(b, at + 12)?,
        ))
    }

    /// Why the record header at `at` cannot be right, if it cannot (`None` when it is
    /// believable or not whole).
    pub fn impossible(&self, b: &[u8], at: usize) -> Option<String> {
        let (_, frac, caplen, _) = self.header(b, at)?;
        if caplen > self.limit {
            Some(format!(
                "record length {caplen} exceeds the largest possible ({})",
                self.limit
            ))
        } else if frac >= self.frac_max {
            Some(format!(
                "timestamp fraction {frac} is not below {}",
                self.frac_max
            ))
        } else {
            None
        }
    }

    /// The end of the plausible record at `at`, if it is one (see the module doc).
    fn plausible(&self, b: &[u8], at: usize, last_ts: Option<u32>) -> Option<usize> {
        let (ts, frac, caplen, origlen) = self.header(b, at)?;
        let ok = caplen <= self.limit
            && origlen >= caplen
            && origlen <= MAX_LIMIT
            && frac < self.frac_max
            && last_ts.is_none_or(|l| ts.abs_diff(l) <= TS_SLACK_S);
        let end = at.checked_add(self.hdr_len)?.checked_add(caplen as usize)?;
        (ok && end <= b.len()).then_some(end)
    }

    /// The offset of the first record at or after `from` that is plausible and followed by
    /// another plausible record or by the end of the file.
    pub fn resync(&self, b: &[u8], from: usize, last_ts: Option<u32>) -> Option<usize> {
        (from..b.len().saturating_sub(self.hdr_len - 1)).find(|&at| {
            self.plausible(b, at, last_ts)
                .is_some_and(|end| end == b.len() || self.plausible(b, end, last_ts).is_some())
        })
    }
}

/// pcapng block types recognised when resynchronising.
const NG_TYPES: [u32; 9] = [
    0x0A0D_0D0A, // Section Header
    1,           // Interface Description
    2,           // Packet (obsolete)
    3,           // Simple Packet
    4,           // Name Resolution
    5,           // Interface Statistics
    6,           // Enhanced Packet
    0x0A,        // Decryption Secrets
    0x0BAD,      // Custom
];

fn ng_u32(b: &[u8], at: usize, big: bool) -> Option<u32> {
    let w: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big {
        u32::from_be_bytes(w)
    } else {
        u32::from_le_bytes(w)
    })
}

/// What the framing of the pcapng block at `at` says.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum NgFrame {
    /// A whole block of this total length.
    Whole(usize),
    /// The block does not fit in what is left of the file.
    PastEnd,
    /// The framing cannot be right.
    Bad(String),
}

/// Checks the framing (type, total length, trailer) of the pcapng block at `at`.
pub(super) fn ng_frame(b: &[u8], at: usize, big: bool) -> NgFrame {
    // A Section Header says its own byte order, after its length.
    let big = match ng_u32(b, at, false) {
        Some(0x0A0D_0D0A) => match ng_u32(b, at + 8, false) {
            Some(0x1A2B_3C4D) => false,
            Some(0x4D3C_2B1A) => true,
            Some(_) => return NgFrame::Bad("section header with no byte-order magic".into()),
            None => return NgFrame::PastEnd,
        },
        _ => big,
    };
    let Some(len) = ng_u32(b, at + 4, big) else {
        return NgFrame::PastEnd;
    };
    if len < 12 || len % 4 != 0 {
        return NgFrame::Bad(format!(
            "block length {len} is not a multiple of 4 of at least 12"
        ));
    }
    let len = len as usize;
    let Some(trailer) = at.checked_add(len).and_then(|e| ng_u32(b, e - 4, big)) else {
        return NgFrame::PastEnd;
    };
    if trailer as usize != len {
        return NgFrame::Bad(format!("block length {len} but trailer says {trailer}"));
    }
    NgFrame::Whole(len)
}

/// The offset of the first block at or after `from` (on a 4-byte boundary relative to `from`)
/// of a known type whose framing checks.
pub(super) fn ng_resync(b: &[u8], from: usize, big: bool) -> Option<usize> {
    (from..b.len().saturating_sub(11)).step_by(4).find(|&at| {
        ng_u32(b, at, big).is_some_and(|t| NG_TYPES.contains(&t) || t == 0x4000_0BAD)
            && matches!(ng_frame(b, at, big), NgFrame::Whole(_))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(ts: u32, data: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for f in [ts, 5, data.len() as u32, data.len() as u32] {
            v.extend_from_slice(&f.to_le_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn pcap_resync_needs_a_chain_or_the_end() {
        let s = PcapShape::new(16, false, false, 65_535);
        let mut b = vec![0xEE; 7];
        b.extend(rec(100, b"abc"));
        b.extend(rec(101, b"defg"));
        assert_eq!(s.resync(&b, 0, Some(100)), Some(7));
        // a day and more away from the last good time: not believed
        assert_eq!(s.resync(&b, 0, Some(100 + 2 * TS_SLACK_S)), None);
        // the last record alone ends exactly at the end of the file
        assert_eq!(s.resync(&b, 8, None), Some(7 + 19));
        assert!(s.impossible(&b, 7).is_none());
        let mut bad = rec(1, b"x");
        bad[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(s.impossible(&bad, 0).unwrap().contains("exceeds"));
    }

    #[test]
    fn ng_framing() {
        let mut blk = 6u32.to_le_bytes().to_vec();
        blk.extend_from_slice(&16u32.to_le_bytes());
        blk.extend_from_slice(&[0; 4]);
        blk.extend_from_slice(&16u32.to_le_bytes());
        assert_eq!(ng_frame(&blk, 0, false), NgFrame::Whole(16));
        assert_eq!(ng_frame(&blk[..12], 0, false), NgFrame::PastEnd);
        let mut odd = blk.clone();
        odd[4] = 15;
        assert!(matches!(ng_frame(&odd, 0, false), NgFrame::Bad(_)));
        let mut trailer = blk.clone();
        trailer[12] = 20;
        assert!(matches!(ng_frame(&trailer, 0, false), NgFrame::Bad(_)));
        let mut b = vec![0xAB; 8];
        b.extend_from_slice(&blk);
        assert_eq!(ng_resync(&b, 0, false), Some(8));
    }
}
