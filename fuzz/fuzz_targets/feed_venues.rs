//! The venue decoders and their books on one arbitrary packet: IEX-TP (TOPS, DEEP), ITCH 5.0
//! over MoldUDP64 and the binary-file framing, CME MDP 3.0.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mam_feed::book::{DeepBook, ItchBook, Mdp3Book, TopsBook};
use mam_feed::{iex, itch, mdp3};

fuzz_target!(|p: &[u8]| {
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
        mb.apply(t, u64::from(seq), &m, |_| {});
    });
    let _ = iex::Message::decode_checked(p);
    let _ = itch::Message::decode_checked(p);
    for _ in itch::BinaryFile::new(p) {}
});
