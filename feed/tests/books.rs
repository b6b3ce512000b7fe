//! Books on real captures and on hand-built messages.

use mam_core::event::{MarketEvent, MarketEventKind};
use mam_core::num::{Price, Qty};
use mam_feed::book::{DeepBook, ItchBook, Mdp3Book, TopsBook};
use mam_feed::capture::{udp_payload, Capture};
use mam_feed::{iex, itch, mdp3};

fn data(rel: &str) -> std::path::PathBuf {
    mam_core::shared_data::expect_shared(rel)
}

fn kind(e: &MarketEvent) -> MarketEventKind {
    MarketEventKind::from_u8(e.kind).unwrap()
}

#[test]
fn tops16_bbo_per_symbol() {
    let cap = Capture::open(data("iex/TOPS16.pcap")).unwrap();
    let mut s = iex::IexSession::new();
    let mut book = TopsBook::new();
    let (mut quotes, mut trades, mut two_sided) = (0, 0, 0);
    for f in cap.frames().unwrap() {
        let d = udp_payload(&f).unwrap();
        s.on_packet(d.payload, |seq, _, m| {
            book.apply(seq, &m, |e| match kind(e) {
                MarketEventKind::Quote => {
                    quotes += 1;
                    if e.bid_size > Qty::ZERO && e.ask_size > Qty::ZERO {
                        two_sided += 1;
                        assert!(e.bid < e.ask, "crossed IEX BBO {e:?}");
                    }
                }
                MarketEventKind::Trade => {
                    trades += 1;
                    assert!(e.bid > Price::ZERO && e.bid_size > Qty::ZERO);
                }
                _ => unreachable!(),
            });
        });
    }
    assert_eq!((quotes, trades), (27_217, 6_390));
    assert!(two_sided > 0);
    assert!(book.symbol_count() > 7_000);
    let id = (0..book.symbol_count() as u32)
        .find(|&i| book.last_trade(i).is_some())
        .unwrap();
    assert!(book
        .symbol(id)
        .unwrap()
        .chars()
        .all(|c| c.is_ascii_graphic()));
    assert!(book.bbo(id).is_some());
}

fn deep_level(kind: u8, flags: u8, sym: &[u8; 8], size: u32, px: i64) -> Vec<u8> {
    let mut v = vec![kind, flags];
    v.extend_from_slice(&1_499_697_138_000_000_000i64.to_le_bytes());
    v.extend_from_slice(sym);
    v.extend_from_slice(&size.to_le_bytes());
    v.extend_from_slice(&px.to_le_bytes());
    v
}

#[test]
fn deep_price_levels() {
    let mut book = DeepBook::new();
    let mut ev = Vec::new();
    let msgs = [
        deep_level(b'8', 0, b"ZIEXT   ", 100, 1_000_000), // 100.00, event not complete
        deep_level(b'8', 1, b"ZIEXT   ", 300, 1_001_000), // 100.10
        deep_level(b'5', 1, b"ZIEXT   ", 200, 1_002_500), // 100.25
        deep_level(b'8', 1, b"ZIEXT   ", 0, 1_001_000),   // level removed
    ];
    for (i, m) in msgs.iter().enumerate() {
        book.apply(i as u64, &iex::Message::decode(m).unwrap(), |e| ev.push(*e));
    }
    assert_eq!(ev.len(), 3, "no quote while the event is incomplete");
    let last = ev.last().unwrap();
    assert_eq!(last.bid, Price::parse("100").unwrap());
    assert_eq!(last.bid_size, Qty::parse("100").unwrap());
    assert_eq!(last.ask, Price::parse("100.25").unwrap());
    assert_eq!(book.levels(0).unwrap().depth(), (1, 1));
}

fn itch_msg(kind: u8, locate: u16, body: &[u8]) -> Vec<u8> {
    let mut v = vec![kind];
    v.extend_from_slice(&locate.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
    v.extend_from_slice(body);
    v
}

fn add(r: u64, side: u8, shares: u32, px: u32) -> Vec<u8> {
    let mut b = r.to_be_bytes().to_vec();
    b.push(side);
    b.extend_from_slice(&shares.to_be_bytes());
    b.extend_from_slice(b"TEST    ");
    b.extend_from_slice(&px.to_be_bytes());
    itch_msg(b'A', 7, &b)
}

#[test]
fn itch_order_book_by_hand() {
    let mut book = ItchBook::new();
    let mut ev = Vec::new();
    let mut exec = 5u64.to_be_bytes().to_vec();
    exec.extend_from_slice(&40u32.to_be_bytes());
    exec.extend_from_slice(&99u64.to_be_bytes());
    let mut replace = 2u64.to_be_bytes().to_vec();
    replace.extend_from_slice(&3u64.to_be_bytes());
    replace.extend_from_slice(&500u32.to_be_bytes());
    replace.extend_from_slice(&1_000_100u32.to_be_bytes());
    let msgs = [
        add(5, b'B', 100, 1_000_000),
        add(6, b'B', 50, 1_000_000),
        add(2, b'S', 70, 1_000_200),
        itch_msg(b'E', 7, &exec),
        itch_msg(b'U', 7, &replace),
        itch_msg(b'D', 7, &6u64.to_be_bytes()),
    ];
    for (i, m) in msgs.iter().enumerate() {
        book.apply(i as u64, &itch::Message::decode(m).unwrap(), |e| {
            ev.push(*e)
        });
    }
    let l = book.levels(7).unwrap();
    assert_eq!(l.bids(5), [(1_000_000, 60)]);
    assert_eq!(l.asks(5), [(1_000_100, 500)]);
    assert_eq!(book.orders(), 2);
    let trade = ev
        .iter()
        .find(|e| kind(e) == MarketEventKind::Trade)
        .unwrap();
    assert_eq!(
        (trade.bid, trade.bid_size),
        (Price::parse("100").unwrap(), Qty::parse("40").unwrap())
    );
    let q = ev
        .iter()
        .rev()
        .find(|e| kind(e) == MarketEventKind::Quote)
        .unwrap();
    assert_eq!(
        (q.bid, q.ask),
        (
            Price::parse("100").unwrap(),
            Price::parse("100.01").unwrap()
        )
    );
}

#[test]
fn itch_book_on_ritch_file_stays_consistent() {
    let bytes = std::fs::read(data("itch/ritch-artificial-zero-prefix.itch")).unwrap();
    let mut book = ItchBook::new();
    let mut locates = std::collections::BTreeSet::new();
    let mut events = 0u64;
    for (i, m) in itch::BinaryFile::new(&bytes).enumerate() {
        locates.insert(m.stock_locate());
        book.apply(i as u64, &m, |_| events += 1);
    }
    assert!(events > 0);
    for l in locates {
        if let Some(levels) = book.levels(l) {
            let (b, a) = book.live_shares(l);
            assert_eq!(
                (levels.total(true), levels.total(false)),
                (b, a),
                "locate {l}"
            );
        }
    }
}

#[test]
fn mdp3_book_on_cme_capture() {
    let cap = Capture::open(data("cme/mdp3-fx-session-statistics.pcap")).unwrap();
    let mut s = mdp3::Mdp3Session::new();
    let mut book = Mdp3Book::new(10);
    let mut quotes = 0;
    let mut ids = std::collections::BTreeSet::new();
    for f in cap.frames().unwrap() {
        let d = udp_payload(&f).unwrap();
        s.on_packet(d.payload, |seq, sent, _, m| {
            book.apply(sent, u64::from(seq), &m, |e| {
                if kind(e) == MarketEventKind::Quote {
                    quotes += 1;
                    ids.insert(e.instrument);
                }
            });
        });
    }
    assert!(quotes > 0);
    // The sample has packet gaps, so some books go stale (cleared, no quotes until a snapshot).
    assert!(book.rpt_gaps > 0);
    let mut checked = 0;
    for id in ids.into_iter().filter(|&id| !book.is_stale(id as i32)) {
        checked += 1;
        let (bids, asks) = book.levels(id as i32).unwrap();
        assert!(
            bids.windows(2).all(|w| w[0].0 > w[1].0),
            "bids sorted {bids:?}"
        );
        assert!(
            asks.windows(2).all(|w| w[0].0 < w[1].0),
            "asks sorted {asks:?}"
        );
        if let (Some(b), Some(a)) = (bids.first(), asks.first()) {
            assert!(b.0 < a.0, "crossed {b:?} {a:?}");
        }
    }
    assert!(checked > 0, "every book went stale");
}
