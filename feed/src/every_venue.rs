//! Every venue decoder and its book on one packet, keeping nothing: what the fuzz target
//! (`fuzz/fuzz_targets/feed_venues.rs`) and the no-panic property (`tests/fuzz_venues.rs`)
//! feed arbitrary and mutated bytes through, so both exercise the same paths.

use crate::book::{DeepBook, ItchBook, Mdp3Book, TopsBook};
use crate::{iex, itch, mdp3};

/// Runs `p` through IEX-TP (TOPS and DEEP books, session framing and a bare message), ITCH 5.0
/// (MoldUDP64, a bare message and the binary-file framing) and CME MDP 3.0 (session, book
/// entries and their prices). Bad input is counted and skipped by each decoder; nothing here
/// may panic.
pub fn decode_every_venue(p: &[u8]) {
    let (mut tops, mut deep, mut ib, mut mb) = (
        TopsBook::new(),
        DeepBook::new(),
        ItchBook::new(),
        Mdp3Book::new(10),
    );
    let mut s = iex::IexSession::new();
    s.on_packet(p, |seq, _, m| {
        let _ = (m.ts(), m.symbol());
        tops.apply(seq, &m, |_| {});
        deep.apply(seq, &m, |_| {});
    });
    let mut s = itch::MoldSession::new();
    s.on_packet(p, |seq, m| {
        let _ = (m.ts(), m.kind(), m.stock_locate());
        ib.apply(seq, &m, |_| {});
    });
    let mut s = mdp3::Mdp3Session::new();
    s.on_packet(p, |seq, t, _, m| {
        if let mdp3::Message::Book { entries, .. } = m {
            for e in entries.entries().filter_map(mdp3::BookEntry::new) {
                let _ = mdp3::price9(e.px());
            }
        }
        mb.apply(t, u64::from(seq), &m, |_| {});
    });
    if let Ok(m) = iex::Message::decode(p) {
        deep.apply(0, &m, |_| {});
    }
    if let Ok(m) = itch::Message::decode(p) {
        ib.apply(0, &m, |_| {});
    }
    let _ = iex::Message::decode_checked(p);
    let _ = itch::Message::decode_checked(p);
    for _ in itch::BinaryFile::new(p) {}
}
