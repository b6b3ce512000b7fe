//! Packets stored back to back, as a capture reader or a receive ring hands them to a decoder:
//! the shared workload of the SBE decode benchmarks (`benches/benches/sbe.rs`,
//! `mam bench sbe`), so both time the very same code.

use super::msg::{decode_quote, Quote};
use super::packet::{Packet, PacketBuilder};

/// Packets in one buffer, with their offsets and lengths.
#[derive(Debug, Clone, Default)]
pub struct PacketStream {
    /// The packets, back to back.
    pub bytes: Vec<u8>,
    /// `(offset, length)` of each packet in `bytes`.
    pub packets: Vec<(usize, usize)>,
    /// Quotes encoded.
    pub quotes: u64,
}

/// What decoding a stream found: how many quotes, and a checksum folding every field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QuoteSum {
    /// Quotes decoded.
    pub quotes: u64,
    /// Wrapping sum over every field of every quote (so no field read can be optimised away).
    pub checksum: i64,
}

impl PacketStream {
    /// Encodes `quotes` into packets of at most `max_payload` bytes, filled greedily.
    pub fn from_quotes(quotes: impl IntoIterator<Item = Quote>, max_payload: usize) -> Self {
        let mut s = Self::default();
        let mut b = PacketBuilder::new("STREAM", 1, max_payload);
        for q in quotes {
            if !b.push(&q) {
                s.take(&mut b);
                b.push(&q);
            }
            s.quotes += 1;
        }
        s.take(&mut b);
        s
    }

    fn take(&mut self, b: &mut PacketBuilder) {
        if !b.is_empty() {
            let p = b.finish();
            self.packets.push((self.bytes.len(), p.len()));
            self.bytes.extend_from_slice(&p);
        }
    }

    /// Checks every packet's framing and decodes every quote, reading every field.
    #[inline(never)]
    pub fn decode_quotes(&self) -> QuoteSum {
        let (mut n, mut acc) = (0u64, 0i64);
        for &(at, len) in &self.packets {
            let Some(bytes) = self.bytes.get(at..at + len) else {
                continue;
            };
            let Ok(p) = Packet::parse(bytes) else {
                continue;
            };
            for m in p.messages() {
                if let Ok(q) = decode_quote(m) {
                    n += 1;
                    acc = acc
                        .wrapping_add(q.bid_raw())
                        .wrapping_add(q.ask_raw() ^ q.bid_size_raw())
                        .wrapping_add(q.ask_size_raw() ^ q.time_ns() as i64)
                        .wrapping_add(i64::from(q.instrument()) + i64::from(q.lp()))
                        .wrapping_add(i64::from(q.flags()));
                }
            }
        }
        QuoteSum {
            quotes: n,
            checksum: acc,
        }
    }

    /// The reference workload: every byte of the same buffer read once, as u64 words.
    #[inline(never)]
    pub fn stream_bytes(&self) -> u64 {
        let mut acc = 0u64;
        let mut words = self.bytes.chunks_exact(8);
        for c in &mut words {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            acc = acc.wrapping_add(u64::from_le_bytes(w));
        }
        for &b in words.remainder() {
            acc = acc.wrapping_add(u64::from(b));
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mam_core::num::Price;

    #[test]
    fn decodes_what_it_encoded() {
        let qs = (0..100).map(|i| Quote {
            time_ns: i,
            bid: Some(Price(i as i64)),
            ..Quote::default()
        });
        let s = PacketStream::from_quotes(qs, 1472);
        assert_eq!(s.quotes, 100);
        assert_eq!(s.packets.len(), 4); // 25 per packet
        let sum = s.decode_quotes();
        assert_eq!(sum.quotes, 100);
        assert_ne!(s.stream_bytes(), 0);
    }
}
