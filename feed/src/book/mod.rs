//! Venue books built from the decoded feeds, emitting the core's [`MarketEvent`]s:
//!
//! - [`TopsBook`]: IEX TOPS best bid/offer and last trade per symbol.
//! - [`DeepBook`]: IEX DEEP price-level book per symbol (aggregate size per price).
//! - [`ItchBook`]: NASDAQ ITCH order-level book (every order by reference) aggregated to price
//!   levels per stock.
//! - [`Mdp3Book`]: CME MDP 3.0 incremental multi-depth book per security, by level index.
//!
//! Prices are kept as the venue's own integers (exact); events carry [`Price`] (exact for IEX
//! and ITCH; MDP3's PRICE9 is rounded half to even to 1e-8, see [`crate::mdp3::price9`]). Sizes
//! are shares or contracts, carried as [`Qty`] whole units.

mod iex;
mod itch;
mod levels;
mod mdp3;

pub use self::iex::{DeepBook, TopsBook};
pub use self::itch::ItchBook;
pub use self::mdp3::Mdp3Book;
pub use levels::Levels;

use mam_core::event::{MarketEvent, MarketEventKind};
use mam_core::num::{Price, Qty};

/// Whole units (shares, contracts) as a [`Qty`]; saturates at the type's range.
#[inline]
pub fn units(n: u64) -> Qty {
    Qty(i64::try_from(n)
        .ok()
        .and_then(|n| n.checked_mul(Qty::ONE_RAW))
        .unwrap_or(i64::MAX))
}

/// A quote event (best bid and ask) for `instrument`.
#[inline]
pub fn quote_event(
    source_ns: u64,
    seq: u64,
    instrument: u32,
    bid: (Price, Qty),
    ask: (Price, Qty),
) -> MarketEvent {
    MarketEvent {
        recv_ns: 0,
        source_ns,
        seq,
        instrument,
        source: 0,
        kind: MarketEventKind::Quote as u8,
        level: 0,
        bid: bid.0,
        ask: ask.0,
        bid_size: bid.1,
        ask_size: ask.1,
    }
}

/// A trade event: price in `bid`, size in `bid_size`.
#[inline]
pub fn trade_event(source_ns: u64, seq: u64, instrument: u32, px: Price, size: Qty) -> MarketEvent {
    MarketEvent {
        recv_ns: 0,
        source_ns,
        seq,
        instrument,
        source: 0,
        kind: MarketEventKind::Trade as u8,
        level: 0,
        bid: px,
        ask: Price::ZERO,
        bid_size: size,
        ask_size: Qty::ZERO,
    }
}
