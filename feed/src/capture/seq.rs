//! Sequence tracking shared by the venue decoders: gaps, duplicates (A/B copies) and
//! once-per-kind logging of bad input.

use std::collections::BTreeMap;

/// What to do with a packet whose messages are numbered `first .. first + count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqVerdict {
    /// New messages: process them, skipping the first `skip` (already seen, overlap).
    Process {
        /// Leading messages already seen.
        skip: u64,
        /// Messages missing before this packet (0 = no gap).
        missing: u64,
    },
    /// Every message was already seen (an A/B copy or a retransmission): drop.
    Duplicate,
}

/// What became of one packet, as the venue sessions report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// New messages were handed on.
    Delivered {
        /// Messages delivered.
        messages: u64,
        /// Messages missing before this packet (0 = no gap).
        missing: u64,
    },
    /// Already seen (A/B copy or retransmission): dropped with its `messages`.
    Duplicate {
        /// Messages in the dropped packet.
        messages: u64,
    },
    /// Not a valid packet of the protocol: dropped and counted.
    Bad,
}

/// Next-expected-sequence tracker (per session / channel).
#[derive(Debug, Clone, Default)]
pub struct SeqTracker {
    expected: Option<u64>,
    /// Gap events seen.
    pub gaps: u64,
    /// Messages missing in all gaps.
    pub missing: u64,
    /// Packets dropped as duplicates.
    pub duplicates: u64,
}

impl SeqTracker {
    /// A tracker that takes the first packet as its start.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next sequence number expected, once a packet was seen.
    pub fn expected(&self) -> Option<u64> {
        self.expected
    }

    /// Judges a packet holding messages `first .. first + count` (`count` 0: a heartbeat that
    /// only announces the next number).
    pub fn on_packet(&mut self, first: u64, count: u64) -> SeqVerdict {
        let end = first.saturating_add(count);
        let Some(exp) = self.expected else {
            self.expected = Some(end);
            return SeqVerdict::Process {
                skip: 0,
                missing: 0,
            };
        };
        if first > exp {
            let missing = first - exp;
            self.gaps += 1;
            self.missing += missing;
            self.expected = Some(end);
            SeqVerdict::Process { skip: 0, missing }
        } else if count == 0 {
            SeqVerdict::Process {
                skip: 0,
                missing: 0,
            }
        } else if end <= exp {
            self.duplicates += 1;
            SeqVerdict::Duplicate
        } else {
            self.expected = Some(end);
            SeqVerdict::Process {
                skip: exp - first,
                missing: 0,
            }
        }
    }
}

/// Counts of bad input by kind; the first of each kind is logged (tracing `warn`), the rest
/// only counted.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    counts: BTreeMap<&'static str, u64>,
}

impl Tally {
    /// Counts one `kind`, logging `detail` if it is the first of its kind.
    pub fn bump(&mut self, kind: &'static str, detail: impl FnOnce() -> String) {
        let n = self.counts.entry(kind).or_insert(0);
        if *n == 0 {
            tracing::warn!(kind, "{} (further ones are only counted)", detail());
        }
        *n += 1;
    }

    /// Counts by kind.
    pub fn counts(&self) -> &BTreeMap<&'static str, u64> {
        &self.counts
    }

    /// Total over all kinds.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_duplicates_overlaps_heartbeats() {
        let mut t = SeqTracker::new();
        assert_eq!(
            t.on_packet(10, 3),
            SeqVerdict::Process {
                skip: 0,
                missing: 0
            }
        );
        assert_eq!(t.on_packet(10, 3), SeqVerdict::Duplicate);
        assert_eq!(
            t.on_packet(13, 0),
            SeqVerdict::Process {
                skip: 0,
                missing: 0
            }
        );
        assert_eq!(
            t.on_packet(12, 3),
            SeqVerdict::Process {
                skip: 1,
                missing: 0
            }
        );
        assert_eq!(t.expected(), Some(15));
        assert_eq!(
            t.on_packet(20, 1),
            SeqVerdict::Process {
                skip: 0,
                missing: 5
            }
        );
        assert_eq!((t.gaps, t.missing, t.duplicates), (1, 5, 1));
    }
}
