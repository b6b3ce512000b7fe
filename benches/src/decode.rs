//! Decode workloads shared by `benches/benches/decode.rs` (Criterion) and `mam bench decode`:
//! mam's decoders and the reference decoders (the `itch5` and `itchy` crates, `pcap-parser`
//! alone) over the same bytes, each visiting every message so none can skip work.

use std::ops::ControlFlow;

use mam_feed::book::TopsBook;
use mam_feed::capture::{udp_payload, Frames};
use mam_feed::{iex, itch};

/// The ITCH workload: NASDAQ's 1,000-message sample followed by RITCH's 12,012-message file
/// re-framed with true length prefixes (which `itch5` and `itchy` need).
pub fn itch_bytes(sample: &[u8], zero_prefix: &[u8]) -> Vec<u8> {
    let mut v = sample.to_vec();
    v.extend(itch::reframe(zero_prefix));
    v
}

/// mam's ITCH 5.0 decoder: (messages, Σ shares of add orders without MPID).
pub fn mam_itch(b: &[u8]) -> (u64, u64) {
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

/// The `itch5` crate on the same bytes: (messages, Σ shares). A parse error shows as a count
/// mismatch, which callers check before timing.
pub fn itch5_decode(b: &[u8]) -> (u64, u64) {
    let mut h = Itch5Count::default();
    let _ = itch5::Parser::new(b).parse_stream(&mut h);
    (h.n, h.shares)
}

/// The `itchy` crate on the same bytes: (messages, Σ shares).
pub fn itchy_decode(b: &[u8]) -> (u64, u64) {
    let (mut n, mut shares) = (0u64, 0u64);
    for m in itchy::MessageStream::from_reader(b).flatten() {
        n += 1;
        if let itchy::Body::AddOrder(a) = m.body {
            if a.mpid.is_none() {
                shares += u64::from(a.shares);
            }
        }
    }
    (n, shares)
}

/// pcap read + UDP + IEX-TP decode into `book`, with a fresh session (so no packet is taken
/// for a duplicate): (messages, book events).
pub fn tops_into(b: &[u8], book: &mut TopsBook) -> (u64, u64) {
    let mut s = iex::IexSession::new();
    let (mut msgs, mut events) = (0u64, 0u64);
    for f in Frames::new(b).into_iter().flatten() {
        if let Some(d) = udp_payload(&f) {
            s.on_packet(d.payload, |seq, _, m| {
                msgs += 1;
                book.apply(seq, &m, |_| events += 1)
            });
        }
    }
    (msgs, events)
}

/// [`tops_into`] a book built from empty (cold start).
pub fn tops_decode_and_book(b: &[u8]) -> (u64, u64) {
    tops_into(b, &mut TopsBook::with_capacity(16_384))
}

/// pcap read + UDP + IEX-TP decode (every message decoded and its timestamp read), no book.
pub fn tops_decode_only(b: &[u8]) -> u64 {
    let mut s = iex::IexSession::new();
    let mut sum = 0u64;
    for f in Frames::new(b).into_iter().flatten() {
        if let Some(d) = udp_payload(&f) {
            s.on_packet(d.payload, |_, _, m| sum = sum.wrapping_add(m.ts() as u64));
        }
    }
    sum
}

/// The reference: reading the same pcap with `pcap-parser` alone: (frames, captured bytes).
pub fn pcap_parser_read(b: &[u8]) -> (u64, u64) {
    let Ok((mut rest, _)) = pcap_parser::parse_pcap_header(b) else {
        return (0, 0);
    };
    let (mut frames, mut bytes) = (0u64, 0u64);
    while let Ok((r, f)) = pcap_parser::parse_pcap_frame(rest) {
        frames += 1;
        bytes += f.data.len() as u64;
        rest = r;
    }
    (frames, bytes)
}
