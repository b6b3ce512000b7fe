//! Sequence tracking shared by the venue decoders: gaps, duplicates (A/B copies), resets (a
//! publisher that restarts its numbering) and once-per-kind logging of bad input.
//!
//! # Resets
//!
//! A publisher restarted inside one capture numbers its messages from the protocol's first
//! number again (1 for IEX-TP, MoldUDP64, MDP 3.0, mam SBE, SoupBinTCP) in the same session.
//! Without care those messages look like copies of the old ones and are dropped. The rule
//! here, with `W` = [`RESET_WINDOW`]:
//!
//! * a packet starting within the first `W` numbers of a space while the tracker expects more
//!   than `W` beyond the packet's end is a **reset**: a new sequence space begins with it (its
//!   messages are kept; numbers before it in the new space are counted as a gap);
//! * within `W` of a space's start, a packet already seen is a duplicate as before: an A/B
//!   copy of packet 1 arriving a little late is not a second reset;
//! * after a reset, a packet within `W` of where the old space stopped, while more than `W`
//!   ahead of the new space, is a late copy from the old space (the other A/B line still
//!   draining): it is judged against the old space (a duplicate if seen), never taken as a
//!   gap of the new one. Once the new space passes where the old one stopped, every number
//!   is the new space's again.
//!
//! Where a protocol names its session (IEX-TP, MoldUDP64, mam SBE, SoupBinTCP), a new session
//! id is a reset as well; the sessions keep their own trackers, so late copies of the old
//! session stay duplicates.
//!
//! The price: a restart after fewer than `W` messages is taken for duplicates, and a copy of a
//! space's first packet arriving more than `W` messages late is taken for another reset. A/B
//! lines do not lag that far; restarts that short are not what captures show.

use std::collections::BTreeMap;

/// How far (in sequence numbers) apart the spaces must be for a reset to be told from an A/B
/// copy or a late copy of the old space (see the module doc).
pub const RESET_WINDOW: u64 = 1024;

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
    /// The numbering restarted (a new sequence space): process every message.
    Reset {
        /// Numbers of the new space missing before this packet (0 = it starts the space).
        missing: u64,
    },
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
#[derive(Debug, Clone)]
pub struct SeqTracker {
    /// The protocol's first sequence number.
    start: u64,
    expected: Option<u64>,
    /// Where the space before the last reset stopped (its next expected number), while late
    /// copies of its packets may still arrive.
    previous: Option<u64>,
    /// Gap events seen.
    pub gaps: u64,
    /// Messages missing in all gaps.
    pub missing: u64,
    /// Packets dropped as duplicates.
    pub duplicates: u64,
    /// Resets: the numbering restarted (a new sequence space in the same session).
    pub resets: u64,
}

impl Default for SeqTracker {
    fn default() -> Self {
        Self::starting_at(1)
    }
}

/// The plain next-expected judgement of one space; `exp` moves on past new messages.
fn judge(exp: &mut u64, first: u64, count: u64) -> SeqVerdict {
    let end = first.saturating_add(count);
    if first > *exp {
        let missing = first - *exp;
        *exp = end;
        SeqVerdict::Process { skip: 0, missing }
    } else if count == 0 {
        SeqVerdict::Process {
            skip: 0,
            missing: 0,
        }
    } else if end <= *exp {
        SeqVerdict::Duplicate
    } else {
        let skip = *exp - first;
        *exp = end;
        SeqVerdict::Process { skip, missing: 0 }
    }
}

impl SeqTracker {
    /// A tracker that takes the first packet as its start (a protocol numbering from 1).
    pub fn new() -> Self {
        Self::default()
    }

    /// A tracker for a protocol whose sequence spaces begin at `start` (what a reset restarts
    /// from).
    pub fn starting_at(start: u64) -> Self {
        Self {
            start,
            expected: None,
            previous: None,
            gaps: 0,
            missing: 0,
            duplicates: 0,
            resets: 0,
        }
    }

    /// The next sequence number expected, once a packet was seen.
    pub fn expected(&self) -> Option<u64> {
        self.expected
    }

    /// Judges a packet holding messages `first .. first + count` (`count` 0: a heartbeat that
    /// only announces the next number).
    pub fn on_packet(&mut self, first: u64, count: u64) -> SeqVerdict {
        let end = first.saturating_add(count);
        let Some(mut exp) = self.expected else {
            self.expected = Some(end);
            return SeqVerdict::Process {
                skip: 0,
                missing: 0,
            };
        };
        const W: u64 = RESET_WINDOW;
        let near_start = first >= self.start && first - self.start < W;
        if near_start && exp > end.saturating_add(W) {
            let missing = first - self.start;
            self.resets += 1;
            if missing > 0 {
                self.gaps += 1;
                self.missing += missing;
            }
            self.previous = Some(exp);
            self.expected = Some(end);
            return SeqVerdict::Reset { missing };
        }
        if let Some(mut old) = self.previous {
            let in_old_band = first.saturating_add(W) >= old && first <= old.saturating_add(W);
            if in_old_band && first > exp.saturating_add(W) {
                let v = judge(&mut old, first, count);
                self.previous = Some(old);
                return self.count(v);
            }
            if exp >= old {
                // The new space has passed where the old one stopped: from here on a number is
                // the new space's, and late copies of the old one are long gone.
                self.previous = None;
            }
        }
        let v = judge(&mut exp, first, count);
        self.expected = Some(exp);
        self.count(v)
    }

    fn count(&mut self, v: SeqVerdict) -> SeqVerdict {
        match v {
            SeqVerdict::Duplicate => self.duplicates += 1,
            SeqVerdict::Process { missing, .. } | SeqVerdict::Reset { missing } if missing > 0 => {
                self.gaps += 1;
                self.missing += missing;
            }
            _ => {}
        }
        v
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

#[cfg(test)]
mod reset_tests {
    use super::*;

    const P: fn(u64, u64) -> SeqVerdict = |skip, missing| SeqVerdict::Process { skip, missing };

    fn run(t: &mut SeqTracker, seqs: std::ops::RangeInclusive<u64>) {
        for s in seqs {
            assert_eq!(t.on_packet(s, 1), P(0, 0), "seq {s}");
        }
    }

    #[test]
    fn a_restart_at_1_is_a_reset_and_its_space_is_tracked() {
        let mut t = SeqTracker::new();
        run(&mut t, 1..=2_000);
        assert_eq!(t.on_packet(1, 1), SeqVerdict::Reset { missing: 0 });
        // the A/B copy of the new packet 1, then a late copy from the old space
        assert_eq!(t.on_packet(1, 1), SeqVerdict::Duplicate);
        assert_eq!(t.on_packet(1_999, 2), SeqVerdict::Duplicate);
        assert_eq!(t.on_packet(2, 2), P(0, 0));
        assert_eq!(t.on_packet(3, 2), P(1, 0));
        // a gap in the new space is a gap; its late packet is dropped (first arrival wins)
        assert_eq!(t.on_packet(7, 1), P(0, 2));
        assert_eq!(t.on_packet(5, 1), SeqVerdict::Duplicate);
        assert_eq!(t.expected(), Some(8));
        assert_eq!((t.resets, t.gaps, t.missing, t.duplicates), (1, 1, 2, 3));
    }

    #[test]
    fn an_ab_copy_of_packet_1_near_the_start_is_no_reset() {
        let mut t = SeqTracker::new();
        run(&mut t, 1..=RESET_WINDOW);
        assert_eq!(t.on_packet(1, 1), SeqVerdict::Duplicate);
        assert_eq!(t.resets, 0);
    }

    #[test]
    fn a_restart_whose_first_packets_were_lost_is_a_reset_with_a_gap() {
        let mut t = SeqTracker::starting_at(0);
        assert_eq!(t.on_packet(0, 5_000), P(0, 0));
        assert_eq!(t.on_packet(3, 2), SeqVerdict::Reset { missing: 3 });
        assert_eq!(t.on_packet(5, 0), P(0, 0), "heartbeat in order");
        assert_eq!((t.resets, t.gaps, t.missing), (1, 1, 3));
        // a never-seen late packet of the old space is delivered there, not a new-space gap
        assert_eq!(t.on_packet(5_000, 1), P(0, 0));
        assert_eq!(t.expected(), Some(5));
        // a heartbeat of a restarted publisher announcing its first number resets too
        let mut t = SeqTracker::new();
        assert_eq!(t.on_packet(1, 3_000), P(0, 0));
        assert_eq!(t.on_packet(1, 0), SeqVerdict::Reset { missing: 0 });
        assert_eq!(t.on_packet(1, 1), P(0, 0));
    }
}
