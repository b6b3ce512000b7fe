//! CME MDP 3.0 multi-depth book by level index (outright entries; implied entries are
//! counted, not merged).

use std::collections::HashMap;

use mam_core::event::{MarketEvent, MarketEventKind};
use mam_core::num::{Price, Qty};

use super::{quote_event, trade_event, units};
use crate::mdp3::{self, BookEntry, Message, SnapshotEntry, TradeEntry};

/// One level: price mantissa (× 1e-9), size, order count.
pub type Level = (i64, i32, i32);

#[derive(Debug, Clone, Default)]
struct Book {
    bids: Vec<Level>,
    asks: Vec<Level>,
    rpt_seq: Option<u32>,
    /// An RptSeq gap was seen: the book is unreliable until the next snapshot.
    stale: bool,
}

impl Book {
    fn top(&self) -> (Option<Level>, Option<Level>) {
        (self.bids.first().copied(), self.asks.first().copied())
    }
}

/// Books of every security of a channel.
#[derive(Debug, Clone)]
pub struct Mdp3Book {
    books: HashMap<i32, Book>,
    depth: usize,
    /// Entries whose level index or action did not fit the book (inconsistent or out of range).
    pub rejected_entries: u64,
    /// Implied-price entries (not merged into the outright book).
    pub implied_entries: u64,
    /// Per-instrument RptSeq gaps (the book may be stale until the next snapshot).
    pub rpt_gaps: u64,
    /// Prices whose ninth decimal was not zero and were rounded to 1e-8 in events.
    pub rounded_prices: u64,
}

impl Mdp3Book {
    /// Books holding at most `depth` levels a side (CME outright books are 10 deep).
    pub fn new(depth: usize) -> Self {
        Mdp3Book {
            books: HashMap::new(),
            depth: depth.max(1),
            rejected_entries: 0,
            implied_entries: 0,
            rpt_gaps: 0,
            rounded_prices: 0,
        }
    }

    /// True if an RptSeq gap made the security's book unreliable (until a snapshot).
    pub fn is_stale(&self, security_id: i32) -> bool {
        self.books.get(&security_id).is_some_and(|b| b.stale)
    }

    /// Levels of a security, best first: (bids, asks).
    pub fn levels(&self, security_id: i32) -> Option<(&[Level], &[Level])> {
        self.books
            .get(&security_id)
            .map(|b| (&b.bids[..], &b.asks[..]))
    }

    fn price(&mut self, m: i64) -> Price {
        match mdp3::price9(m) {
            Some((p, exact)) => {
                if !exact {
                    self.rounded_prices += 1;
                }
                p
            }
            None => Price::ZERO,
        }
    }

    fn quote(
        &mut self,
        ts: u64,
        seq: u64,
        id: i32,
        top: (Option<Level>, Option<Level>),
    ) -> MarketEvent {
        let mut side = |l: Option<Level>| match l {
            Some((p, s, _)) => (self.price(p), units(s.max(0) as u64)),
            None => (Price::ZERO, Qty::ZERO),
        };
        let (b, a) = (side(top.0), side(top.1));
        quote_event(ts, seq, id as u32, b, a)
    }

    fn check_rpt(&mut self, id: i32, rpt: u32) {
        let b = self.books.entry(id).or_default();
        if let Some(prev) = b.rpt_seq {
            if rpt > prev.wrapping_add(1) {
                // Updates were lost: the levels can no longer be trusted. Clear them and wait
                // for a snapshot (SnapshotFullRefresh) before emitting quotes again.
                self.rpt_gaps += 1;
                b.stale = true;
                b.bids.clear();
                b.asks.clear();
            }
        }
        b.rpt_seq = Some(rpt);
    }

    fn entry(&mut self, e: &BookEntry<'_>) -> Option<i32> {
        let id = e.security_id();
        let buy = match e.entry_type() {
            b'0' => true,
            b'1' => false,
            b'E' | b'F' => {
                self.implied_entries += 1;
                return None;
            }
            b'J' => {
                let b = self.books.entry(id).or_default();
                b.bids.clear();
                b.asks.clear();
                return Some(id);
            }
            _ => {
                self.rejected_entries += 1;
                return None;
            }
        };
        self.check_rpt(id, e.rpt_seq());
        let depth = self.depth;
        let b = self.books.entry(id).or_default();
        let side = if buy { &mut b.bids } else { &mut b.asks };
        let lvl = usize::from(e.level());
        let level = (e.px(), e.size(), e.num_orders());
        let ok = match e.action() {
            0 if (1..=depth).contains(&lvl) && lvl <= side.len() + 1 => {
                side.insert(lvl - 1, level);
                side.truncate(depth);
                true
            }
            1 | 5 if lvl >= 1 && lvl <= side.len() => {
                side[lvl - 1] = level;
                true
            }
            2 if lvl >= 1 && lvl <= side.len() => {
                side.remove(lvl - 1);
                true
            }
            3 => {
                side.clear();
                true
            }
            4 => {
                side.drain(..lvl.min(side.len()));
                true
            }
            _ => false,
        };
        if !ok {
            self.rejected_entries += 1;
        }
        Some(id)
    }

    /// Applies one message of packet `seq` sent at `ts`; emits a Quote per security whose top
    /// of book changed, a Trade per trade summary entry, a Status for security status.
    pub fn apply(&mut self, ts: u64, seq: u64, m: &Message<'_>, mut out: impl FnMut(&MarketEvent)) {
        match m {
            Message::ChannelReset { .. } => self.books.clear(),
            Message::Book { entries, root, .. } => {
                let ts = root.transact_time();
                for raw in entries.entries() {
                    let Some(e) = BookEntry::new(raw) else {
                        self.rejected_entries += 1;
                        continue;
                    };
                    let before = self.books.get(&e.security_id()).map(Book::top);
                    if let Some(id) = self.entry(&e) {
                        let b = &self.books[&id];
                        let after = b.top();
                        if before != Some(after) && !b.stale {
                            let q = self.quote(ts, seq, id, after);
                            out(&q);
                        }
                    }
                }
            }
            Message::TradeSummary { entries, root, .. } => {
                for e in entries.entries().filter_map(TradeEntry::new) {
                    let p = self.price(e.px());
                    let ev = trade_event(
                        root.transact_time(),
                        seq,
                        e.security_id() as u32,
                        p,
                        units(e.size().max(0) as u64),
                    );
                    out(&ev);
                }
            }
            Message::SecurityStatus(s) => {
                let mut ev = quote_event(
                    s.transact_time(),
                    seq,
                    s.security_id() as u32,
                    (Price::ZERO, Qty::ZERO),
                    (Price::ZERO, Qty::ZERO),
                );
                ev.kind = MarketEventKind::Status as u8;
                ev.level = s.trading_status();
                out(&ev);
            }
            Message::Snapshot { root, entries, .. } => {
                let id = root.security_id();
                let mut b = Book {
                    rpt_seq: Some(root.rpt_seq()),
                    ..Book::default()
                };
                for e in entries.entries().filter_map(SnapshotEntry::new) {
                    let lvl = usize::from(e.level());
                    let side = match e.entry_type() {
                        b'0' => &mut b.bids,
                        b'1' => &mut b.asks,
                        _ => continue,
                    };
                    if lvl >= 1 && lvl <= self.depth {
                        if side.len() < lvl {
                            side.resize(lvl, (i64::MAX, 0, 0));
                        }
                        side[lvl - 1] = (e.px(), e.size(), e.num_orders());
                    }
                }
                b.bids.retain(|l| l.0 != i64::MAX);
                b.asks.retain(|l| l.0 != i64::MAX);
                let top = b.top();
                self.books.insert(id, b);
                let q = self.quote(ts, seq, id, top);
                out(&q);
            }
            Message::SessionStatistics { .. } | Message::Volume { .. } | Message::Other { .. } => {}
        }
    }
}
