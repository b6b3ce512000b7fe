//! Venue decode speed, each against references measured in the same run:
//!
//! - ITCH 5.0: mam's decoder vs the `itch5` and `itchy` crates over the same BinaryFILE bytes
//!   (NASDAQ's 1,000-message sample plus RITCH's 12,012-message file re-framed with true length
//!   prefixes, which those crates need). Each visits every message and sums the shares of the
//!   add orders, so none can skip work. Target: at least as fast as itch5, ≥ 20× itchy.
//! - IEX TOPS: pcap read + UDP extraction + IEX-TP decode + per-symbol BBO book (events
//!   emitted), built from empty each time (cold) and into a book that already knows the
//!   symbols (warm, as a running feed handler), vs reading the same pcap with pcap-parser
//!   alone. Target ≤ 2× the raw read.
//!
//! `cargo bench -p mam-benches --bench decode`

use std::hint::black_box;
use std::ops::ControlFlow;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mam_feed::book::TopsBook;
use mam_feed::capture::{udp_payload, Frames};
use mam_feed::{iex, itch};

fn shared(rel: &str) -> Vec<u8> {
    let p = format!("{}/../../shared/data/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("shared data missing: {p}: {e}"))
}

fn itch_bytes() -> Vec<u8> {
    let mut v = shared("itch/nasdaq-sample-1000.itch");
    v.extend(itch::reframe(&shared(
        "itch/ritch-artificial-zero-prefix.itch",
    )));
    v
}

fn mam_itch(b: &[u8]) -> (u64, u64) {
    let (mut n, mut shares) = (0u64, 0u64);
    for m in itch::BinaryFile::new(b) {
        n += 1;
        if let itch::Message::AddOrder(a) = m {
            shares += u64::from(a.shares());
        }
    }
    (n, shares)
}

#[derive(Default)]
struct Itch5Count {
    n: u64,
    shares: u64,
}

macro_rules! count_only {
    ($($f:ident: $t:ty),* $(,)?) => {
        $(fn $f(&mut self, _m: &$t) -> ControlFlow<()> {
            self.n += 1;
            ControlFlow::Continue(())
        })*
    };
}

impl itch5::MessageHandler for Itch5Count {
    fn on_add_order_no_mpid_attribution(
        &mut self,
        m: &itch5::messages::AddOrderNoMPIDAttribution,
    ) -> ControlFlow<()> {
        self.n += 1;
        self.shares += u64::from(m.shares());
        ControlFlow::Continue(())
    }
    count_only!(
        on_system_event: itch5::messages::SystemEvent,
        on_stock_directory: itch5::messages::StockDirectory,
        on_stock_trading_action: itch5::messages::StockTradingAction,
        on_reg_sho_restriction: itch5::messages::RegSHORestriction,
        on_add_order_with_mpid_attribution: itch5::messages::AddOrderWithMPIDAttribution,
        on_order_executed: itch5::messages::OrderExecuted,
        on_order_cancel: itch5::messages::OrderCancel,
        on_order_delete: itch5::messages::OrderDelete,
        on_order_replace: itch5::messages::OrderReplace,
        on_trade: itch5::messages::Trade,
    );
}

fn itch5_decode(b: &[u8]) -> (u64, u64) {
    let mut h = Itch5Count::default();
    itch5::Parser::new(b)
        .parse_stream(&mut h)
        .expect("itch5 parses the bench bytes");
    (h.n, h.shares)
}

fn itchy_decode(b: &[u8]) -> (u64, u64) {
    let (mut n, mut shares) = (0u64, 0u64);
    for m in itchy::MessageStream::from_reader(b) {
        let m = m.expect("itchy parses the bench bytes");
        n += 1;
        if let itchy::Body::AddOrder(a) = m.body {
            if a.mpid.is_none() {
                shares += u64::from(a.shares);
            }
        }
    }
    (n, shares)
}

fn tops_decode_and_book(b: &[u8]) -> u64 {
    tops_into(b, &mut TopsBook::with_capacity(16_384))
}

/// Decode into an existing book (a fresh session each time, so no packet is a duplicate).
fn tops_into(b: &[u8], book: &mut TopsBook) -> u64 {
    let mut s = iex::IexSession::new();
    let mut events = 0u64;
    for f in Frames::new(b).unwrap() {
        if let Some(d) = udp_payload(&f) {
            s.on_packet(d.payload, |seq, _, m| book.apply(seq, &m, |_| events += 1));
        }
    }
    events
}

fn pcap_parser_read(b: &[u8]) -> u64 {
    let (mut rest, _) = pcap_parser::parse_pcap_header(b).unwrap();
    let mut bytes = 0u64;
    while let Ok((r, f)) = pcap_parser::parse_pcap_frame(rest) {
        bytes += f.data.len() as u64;
        rest = r;
    }
    bytes
}

fn bench(c: &mut Criterion) {
    let ib = itch_bytes();
    let want = mam_itch(&ib);
    assert_eq!(want.0, 13_012);
    assert_eq!(itch5_decode(&ib), want, "itch5 sees the same messages");
    assert_eq!(itchy_decode(&ib), want, "itchy sees the same messages");
    let mut g = c.benchmark_group("itch50_decode");
    g.throughput(Throughput::Elements(want.0));
    g.bench_function("mam", |b| b.iter(|| black_box(mam_itch(black_box(&ib)))));
    g.bench_function("itch5 (reference)", |b| {
        b.iter(|| black_box(itch5_decode(black_box(&ib))))
    });
    g.bench_function("itchy (reference)", |b| {
        b.iter(|| black_box(itchy_decode(black_box(&ib))))
    });
    g.finish();

    let tops = shared("iex/TOPS16.pcap");
    assert_eq!(tops_decode_and_book(&tops), 27_217 + 6_390);
    let mut g = c.benchmark_group("iex_tops");
    g.throughput(Throughput::Bytes(tops.len() as u64));
    g.bench_function("mam decode + book", |b| {
        b.iter(|| black_box(tops_decode_and_book(black_box(&tops))))
    });
    let mut warm = TopsBook::with_capacity(16_384);
    g.bench_function("mam decode + book (warm symbol table)", |b| {
        b.iter(|| black_box(tops_into(black_box(&tops), &mut warm)))
    });
    g.bench_function("pcap-parser read (reference)", |b| {
        b.iter(|| black_box(pcap_parser_read(black_box(&tops))))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = bench
}
criterion_main!(benches);
