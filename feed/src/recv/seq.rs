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
//!
//! A reset — a new session id, or the numbering restarting within a session (see
//! [`crate::capture::seq`] for the rule) — starts a new baseline and is counted. The session
//! before the last change keeps its tracker, so a late A/B copy of one of its packets is a
//! duplicate, not another session change.

use crate::capture::seq::{SeqTracker as InnerTracker, SeqVerdict as InnerVerdict};

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
    /// A new session began, or the numbering restarted in this one (baseline reset); deliver
    /// every message.
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
    /// Resets: session changes plus restarts of the numbering within a session.
    pub resets: u64,
}

/// Gap and duplicate tracker for one feed line (or an arbitrated A/B pair): the venue
/// decoders' [`crate::capture::seq::SeqTracker`] (one algorithm for every feed), plus session
/// changes and the counters a receiver reports.
#[derive(Debug, Clone, Default)]
pub struct SeqTracker {
    session: Option<[u8; 10]>,
    inner: InnerTracker,
    /// The session before the last change, for its late copies.
    previous: Option<([u8; 10], InnerTracker)>,
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
        self.inner.expected()
    }

    /// Classifies a packet of `session` holding messages `first_seq .. first_seq + count`.
    pub fn on_packet(&mut self, session: [u8; 10], first_seq: u64, count: u64) -> Verdict {
        self.stats.packets += 1;
        if self.session != Some(session) {
            if let Some((_, old)) = self.previous.as_mut().filter(|(p, _)| *p == session) {
                // A late copy from the session before: judged there, delivered if new.
                let v = old.on_packet(first_seq, count);
                return self.count(v, first_seq, count);
            }
            if let Some(cur) = self.session {
                self.stats.session_changes += 1;
                self.stats.resets += 1;
                self.previous = Some((cur, std::mem::take(&mut self.inner)));
            }
            self.session = Some(session);
            self.inner = InnerTracker::new();
            self.inner.on_packet(first_seq, count);
            self.stats.messages += count;
            return Verdict::NewSession;
        }
        let v = self.inner.on_packet(first_seq, count);
        if matches!(v, InnerVerdict::Reset { .. }) {
            self.stats.resets += 1;
        }
        self.count(v, first_seq, count)
    }

    fn count(&mut self, v: InnerVerdict, first_seq: u64, count: u64) -> Verdict {
        let s = &mut self.stats;
        // A packet after lost messages (in the same space or a new one) is a gap first.
        let mut gap = |missing: u64| {
            (missing > 0).then(|| {
                s.gaps += 1;
                s.missing += missing;
                Verdict::Gap {
                    first_missing: first_seq - missing,
                    missing,
                }
            })
        };
        match v {
            InnerVerdict::Duplicate => {
                s.duplicate_packets += 1;
                s.duplicate_messages += count;
                Verdict::Duplicate
            }
            InnerVerdict::Reset { missing } => {
                let g = gap(missing).unwrap_or(Verdict::NewSession);
                s.messages += count;
                g
            }
            InnerVerdict::Process { skip, missing } => {
                let g = gap(missing);
                s.messages += count - skip;
                s.duplicate_messages += skip;
                g.unwrap_or(if count == 0 {
                    Verdict::Heartbeat
                } else if skip > 0 {
                    Verdict::Overlap { skip }
                } else {
                    Verdict::InOrder
                })
            }
        }
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
