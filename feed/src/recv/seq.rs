//! Sequence tracking for message-sequenced packet feeds (mam SBE, MoldUDP64, IEX-TP): gap
//! detection and A/B duplicate dropping by "first arrival wins".
//!
//! Each packet says which messages it holds: `first_seq .. first_seq + count`. The tracker
//! keeps the next expected sequence number of the current session and classifies each packet.
//! The first packet of a session sets the baseline (a receiver that joins late has not lost
//! what was sent before it joined). A gap is declared as soon as a later sequence number
//! arrives; a copy of a packet already seen (the other line of an A/B pair, a retransmission)
//! is a duplicate and dropped; a packet that straddles the expected number is delivered from
//! its first new message on.

/// What to do with one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Next in order: deliver every message.
    InOrder,
    /// Messages `first_missing .. first_missing + missing` were lost; deliver this packet.
    Gap {
        /// First lost sequence number.
        first_missing: u64,
        /// How many were lost.
        missing: u64,
    },
    /// Every message was seen already: drop the packet.
    Duplicate,
    /// The first `skip` messages were seen already: deliver the rest.
    Overlap {
        /// Messages to skip.
        skip: u64,
    },
    /// A packet without messages (heartbeat) in order: nothing to deliver.
    Heartbeat,
    /// A new session began (baseline reset); deliver every message.
    NewSession,
}

/// Counters of a [`SeqTracker`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeqStats {
    /// Packets classified.
    pub packets: u64,
    /// Messages delivered (after dropping duplicates).
    pub messages: u64,
    /// Gap events (each a run of lost messages).
    pub gaps: u64,
    /// Messages lost, summed over gaps.
    pub missing: u64,
    /// Packets dropped whole as duplicates.
    pub duplicate_packets: u64,
    /// Messages dropped as duplicates (whole packets and overlaps).
    pub duplicate_messages: u64,
    /// Session changes after the first session.
    pub session_changes: u64,
}

/// Gap and duplicate tracker for one feed line (or an arbitrated A/B pair).
#[derive(Debug, Clone, Default)]
pub struct SeqTracker {
    session: Option<[u8; 10]>,
    next: u64,
    stats: SeqStats,
}

impl SeqTracker {
    /// A tracker that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }
    /// The counters so far.
    pub fn stats(&self) -> SeqStats {
        self.stats
    }
    /// Next expected sequence number (None before the first packet).
    pub fn next_expected(&self) -> Option<u64> {
        self.session.map(|_| self.next)
    }

    /// Classifies a packet of `session` holding messages `first_seq .. first_seq + count`.
    pub fn on_packet(&mut self, session: [u8; 10], first_seq: u64, count: u64) -> Verdict {
        let s = &mut self.stats;
        s.packets += 1;
        let end = first_seq.saturating_add(count);
        if self.session != Some(session) {
            if self.session.is_some() {
                s.session_changes += 1;
            }
            self.session = Some(session);
            self.next = end;
            s.messages += count;
            return Verdict::NewSession;
        }
        if first_seq > self.next {
            let first_missing = self.next;
            let missing = first_seq - self.next;
            s.gaps += 1;
            s.missing += missing;
            s.messages += count;
            self.next = end;
            return Verdict::Gap {
                first_missing,
                missing,
            };
        }
        if count == 0 {
            return Verdict::Heartbeat;
        }
        if first_seq == self.next {
            s.messages += count;
            self.next = end;
            return Verdict::InOrder;
        }
        if end <= self.next {
            s.duplicate_packets += 1;
            s.duplicate_messages += count;
            return Verdict::Duplicate;
        }
        let skip = self.next - first_seq;
        s.duplicate_messages += skip;
        s.messages += count - skip;
        self.next = end;
        Verdict::Overlap { skip }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const S: [u8; 10] = *b"SESSION001";

    #[test]
    fn classifies() {
        let mut t = SeqTracker::new();
        assert_eq!(t.on_packet(S, 10, 3), Verdict::NewSession);
        assert_eq!(t.on_packet(S, 13, 2), Verdict::InOrder);
        assert_eq!(t.on_packet(S, 13, 2), Verdict::Duplicate);
        assert_eq!(t.on_packet(S, 15, 0), Verdict::Heartbeat);
        assert_eq!(
            t.on_packet(S, 18, 1),
            Verdict::Gap {
                first_missing: 15,
                missing: 3
            }
        );
        assert_eq!(t.on_packet(S, 17, 4), Verdict::Overlap { skip: 2 });
        assert_eq!(
            t.on_packet(S, 30, 0),
            Verdict::Gap {
                first_missing: 21,
                missing: 9
            }
        );
        let s = t.stats();
        assert_eq!(
            (s.gaps, s.missing, s.duplicate_packets, s.duplicate_messages),
            (2, 12, 1, 4)
        );
        assert_eq!(s.messages, 3 + 2 + 1 + 2);
        assert_eq!(t.on_packet(*b"SESSION002", 1, 1), Verdict::NewSession);
        assert_eq!(t.stats().session_changes, 1);
    }
}
