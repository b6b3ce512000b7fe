//! FX quote books and microstructure per (instrument, source): best bid/ask, depth to
//! [`MAX_LEVELS`] levels, last trade, spread, mid and an EWMA of the mid-price variance, all
//! exact, and the normalized [`MarketEvent`]s they produce.
//!
//! Exactness: prices and sizes stay [`Price`]/[`Qty`] integers. The mid is `(bid + ask) / 2`
//! rounded half to even at 1e-8 (exact for every instrument quoted in fewer than 8 decimals).
//! The variance is an EWMA of squared mid changes in Price raw units² (1e-16 price²), held in
//! the `fixed` crate's `U96F32`: `v ← λ·v + α·d²`, `α = 2 / (span + 1)`, `λ = 1 − α`, both
//! computed once in fixed point. Every step is integer arithmetic, so the same input gives the
//! same bits on every machine; nothing passes through `f32`/`f64`.
//!
//! A `Depth` message replaces the LP's whole book (best first) and must be sorted (bids
//! strictly falling, asks strictly rising, sizes positive): a malformed one is refused whole
//! and counted, leaving the book as it was. A quote whose bid is at or above its ask is kept
//! (it is what the LP sent) and counted as crossed.

use std::collections::HashMap;

use fixed::types::U96F32;
use mam_core::event::{MarketEvent, MarketEventKind};
use mam_core::num::{div_round_i128, Price, Qty, Rounding};

use crate::recv::seq::Verdict;
use crate::recv::Delivered;
use crate::sbe::{self, Message, Packet};

/// Depth levels kept per side.
pub const MAX_LEVELS: usize = 10;

/// One price level of one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Level {
    /// Price.
    pub price: Price,
    /// Size (positive).
    pub size: Qty,
}

/// EWMA of the variance of mid-price changes, in fixed point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EwmaVar {
    alpha: U96F32,
    lambda: U96F32,
    var: U96F32,
    last_mid: Option<Price>,
    updates: u64,
}

impl EwmaVar {
    /// An EWMA with `α = 2 / (span + 1)` (span 1 is no memory; RiskMetrics' λ = 0.94 is span
    /// ≈ 32). A span of 0 is taken as 1.
    pub fn with_span(span: u32) -> Self {
        let alpha = U96F32::from_num(2) / U96F32::from_num(u64::from(span.max(1)) + 1);
        Self {
            alpha,
            lambda: U96F32::ONE - alpha,
            var: U96F32::ZERO,
            last_mid: None,
            updates: 0,
        }
    }
    /// Feeds a new mid. The first mid only sets the reference.
    pub fn update(&mut self, mid: Price) {
        if let Some(prev) = self.last_mid.replace(mid) {
            let d = u128::from(mid.0.abs_diff(prev.0));
            let d2 = U96F32::checked_from_num(d.saturating_mul(d)).unwrap_or(U96F32::MAX);
            self.var = self
                .var
                .saturating_mul(self.lambda)
                .saturating_add(d2.saturating_mul(self.alpha));
            self.updates += 1;
        }
    }
    /// The variance, Price raw units squared (1e-16 price²).
    pub fn variance(&self) -> U96F32 {
        self.var
    }
    /// The standard deviation of mid changes, as a price (rounded down to 1e-8).
    pub fn stdev(&self) -> Price {
        let s = self.var.sqrt().to_num::<u128>();
        Price(i64::try_from(s).unwrap_or(i64::MAX))
    }
    /// Mid changes fed so far.
    pub fn updates(&self) -> u64 {
        self.updates
    }
    /// `α` (the weight of the newest observation).
    pub fn alpha(&self) -> U96F32 {
        self.alpha
    }
}

/// The book of one source for one instrument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LpBook {
    /// Instrument id.
    pub instrument: u32,
    /// Source (LP) id.
    pub source: u16,
    bids: [Level; MAX_LEVELS],
    asks: [Level; MAX_LEVELS],
    n_bids: usize,
    n_asks: usize,
    /// Last trade: price, size, time (ns).
    pub last_trade: Option<(Price, Qty, u64)>,
    /// Time of the last update (source ns).
    pub updated_ns: u64,
    /// Quotes with bid ≥ ask.
    pub crossed: u64,
    /// Mid-price variance.
    pub vol: EwmaVar,
}

impl LpBook {
    fn new(instrument: u32, source: u16, span: u32) -> Self {
        Self {
            instrument,
            source,
            bids: [Level::default(); MAX_LEVELS],
            asks: [Level::default(); MAX_LEVELS],
            n_bids: 0,
            n_asks: 0,
            last_trade: None,
            updated_ns: 0,
            crossed: 0,
            vol: EwmaVar::with_span(span),
        }
    }
    /// Bid levels, best first.
    pub fn bids(&self) -> &[Level] {
        &self.bids[..self.n_bids]
    }
    /// Ask levels, best first.
    pub fn asks(&self) -> &[Level] {
        &self.asks[..self.n_asks]
    }
    /// Best bid.
    pub fn best_bid(&self) -> Option<Level> {
        self.bids().first().copied()
    }
    /// Best ask.
    pub fn best_ask(&self) -> Option<Level> {
        self.asks().first().copied()
    }
    /// Ask − bid (negative if crossed).
    pub fn spread(&self) -> Option<Price> {
        Some(Price(
            self.best_ask()?
                .price
                .0
                .checked_sub(self.best_bid()?.price.0)?,
        ))
    }
    /// (bid + ask) / 2, half to even at 1e-8.
    pub fn mid(&self) -> Option<Price> {
        let s = i128::from(self.best_bid()?.price.0) + i128::from(self.best_ask()?.price.0);
        Some(Price(div_round_i128(s, 2, Rounding::HalfEven) as i64))
    }

    /// A quote replaces the top of each side; deeper levels (from the last depth snapshot)
    /// stay only where strictly worse than the new top. An absent side empties that side.
    fn set_top(&mut self, bid: Option<Level>, ask: Option<Level>) {
        merge_top(&mut self.bids, &mut self.n_bids, bid, |l, t| l < t);
        merge_top(&mut self.asks, &mut self.n_asks, ask, |l, t| l > t);
        if let (Some(b), Some(a)) = (bid, ask) {
            if b.price >= a.price {
                self.crossed += 1;
            }
        }
        if let Some(m) = self.mid() {
            self.vol.update(m);
        }
    }
}

fn merge_top(
    side: &mut [Level; MAX_LEVELS],
    n: &mut usize,
    top: Option<Level>,
    worse: fn(Price, Price) -> bool,
) {
    let Some(t) = top else {
        *n = 0;
        return;
    };
    let mut out = [Level::default(); MAX_LEVELS];
    out[0] = t;
    let mut k = 1;
    for l in side[..*n]
        .iter()
        .skip(1)
        .filter(|l| worse(l.price, t.price))
    {
        out[k] = *l;
        k += 1;
    }
    *side = out;
    *n = k;
}

/// Why a depth update was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    /// Prices not strictly ordered away from the touch.
    #[error("depth levels out of order")]
    Unsorted,
    /// A level with a zero or negative size, or a price without a size.
    #[error("depth level with a non-positive or missing size")]
    BadSize,
}

/// Books of every (instrument, source), turning feed messages into [`MarketEvent`]s.
#[derive(Debug, Clone)]
pub struct FxBooks {
    books: HashMap<(u32, u16), LpBook>,
    span: u32,
    /// Depth messages refused ([`BookError`]).
    pub refused: u64,
    /// Messages that did not decode.
    pub undecodable: u64,
}

fn opt_level(p: Option<Price>, s: Option<Qty>) -> Option<Level> {
    Some(Level {
        price: p?,
        size: s.unwrap_or(Qty::ZERO),
    })
}

fn check_side(levels: &[Level], better: fn(Price, Price) -> bool) -> Result<(), BookError> {
    if levels.iter().any(|l| l.size.0 <= 0) {
        return Err(BookError::BadSize);
    }
    if levels.windows(2).any(|w| !better(w[0].price, w[1].price)) {
        return Err(BookError::Unsorted);
    }
    Ok(())
}

impl FxBooks {
    /// Empty books whose variance EWMA uses `span` (see [`EwmaVar::with_span`]).
    pub fn new(span: u32) -> Self {
        Self {
            books: HashMap::new(),
            span,
            refused: 0,
            undecodable: 0,
        }
    }
    /// The book of `instrument` from `source`.
    pub fn book(&self, instrument: u32, source: u16) -> Option<&LpBook> {
        self.books.get(&(instrument, source))
    }
    /// Every book.
    pub fn iter(&self) -> impl Iterator<Item = &LpBook> {
        self.books.values()
    }
    fn entry(&mut self, instrument: u32, source: u16) -> &mut LpBook {
        let span = self.span;
        self.books
            .entry((instrument, source))
            .or_insert_with(|| LpBook::new(instrument, source, span))
    }

    /// Applies a full depth snapshot (best first). Refused whole if malformed.
    pub fn apply_depth(
        &mut self,
        instrument: u32,
        source: u16,
        time_ns: u64,
        bids: &[Level],
        asks: &[Level],
    ) -> Result<(), BookError> {
        let r = check_side(bids, |a, b| a > b).and_then(|()| check_side(asks, |a, b| a < b));
        if let Err(e) = r {
            self.refused += 1;
            return Err(e);
        }
        let b = self.entry(instrument, source);
        b.n_bids = bids.len().min(MAX_LEVELS);
        b.n_asks = asks.len().min(MAX_LEVELS);
        b.bids[..b.n_bids].copy_from_slice(&bids[..b.n_bids]);
        b.asks[..b.n_asks].copy_from_slice(&asks[..b.n_asks]);
        b.updated_ns = time_ns;
        if let Some(m) = b.mid() {
            b.vol.update(m);
        }
        Ok(())
    }

    /// Applies one decoded message; `emit` receives its normalized events.
    pub fn apply(
        &mut self,
        msg: &Message<'_>,
        recv_ns: u64,
        seq: u64,
        emit: &mut impl FnMut(MarketEvent),
    ) {
        let ev = |kind: MarketEventKind, source_ns, instrument, source| MarketEvent {
            recv_ns,
            source_ns,
            seq,
            instrument,
            source,
            kind: kind as u8,
            ..MarketEvent::default()
        };
        match msg {
            Message::Quote(q) => {
                let q = q.get();
                let b = self.entry(q.instrument, q.lp);
                b.set_top(opt_level(q.bid, q.bid_size), opt_level(q.ask, q.ask_size));
                b.updated_ns = q.time_ns;
                emit(MarketEvent {
                    bid: q.bid.unwrap_or(Price::ZERO),
                    ask: q.ask.unwrap_or(Price::ZERO),
                    bid_size: q.bid_size.unwrap_or(Qty::ZERO),
                    ask_size: q.ask_size.unwrap_or(Qty::ZERO),
                    ..ev(MarketEventKind::Quote, q.time_ns, q.instrument, q.lp)
                });
            }
            Message::Depth(d) => {
                let (mut bids, mut asks) = (Vec::new(), Vec::new());
                for l in d.levels() {
                    bids.extend(opt_level(l.bid, l.bid_size));
                    asks.extend(opt_level(l.ask, l.ask_size));
                }
                let (t, i, s) = (d.time_ns(), d.instrument(), d.lp());
                if self.apply_depth(i, s, t, &bids, &asks).is_ok() {
                    let b = &self.books[&(i, s)];
                    for k in 0..b.n_bids.max(b.n_asks) {
                        let (bl, al) = (b.bids().get(k), b.asks().get(k));
                        emit(MarketEvent {
                            level: k as u8,
                            bid: bl.map_or(Price::ZERO, |l| l.price),
                            bid_size: bl.map_or(Qty::ZERO, |l| l.size),
                            ask: al.map_or(Price::ZERO, |l| l.price),
                            ask_size: al.map_or(Qty::ZERO, |l| l.size),
                            ..ev(MarketEventKind::Depth, t, i, s)
                        });
                    }
                }
            }
            Message::Trade(t) => {
                let t = t.get();
                let size = t.size.unwrap_or(Qty::ZERO);
                let b = self.entry(t.instrument, t.lp);
                b.last_trade = Some((t.price, size, t.time_ns));
                b.updated_ns = t.time_ns;
                emit(MarketEvent {
                    bid: t.price,
                    bid_size: size,
                    level: t.aggressor,
                    ..ev(MarketEventKind::Trade, t.time_ns, t.instrument, t.lp)
                });
            }
            Message::Heartbeat(h) => emit(ev(
                MarketEventKind::Heartbeat,
                h.sending_time(),
                u32::MAX,
                u16::MAX,
            )),
            Message::Instrument(_) => {}
        }
    }

    /// Applies a packet the receiver delivered: a `Gap` event first if messages were lost,
    /// then every new message (already-seen ones skipped), each with its own sequence number.
    pub fn apply_delivered(&mut self, d: &Delivered<'_>, emit: &mut impl FnMut(MarketEvent)) {
        if let Verdict::Gap { first_missing, .. } = d.verdict {
            emit(MarketEvent {
                recv_ns: d.recv_ns,
                seq: first_missing,
                instrument: u32::MAX,
                source: u16::MAX,
                kind: MarketEventKind::Gap as u8,
                ..MarketEvent::default()
            });
        }
        let Ok(p) = Packet::parse(d.payload) else {
            self.undecodable += 1;
            return;
        };
        for (i, m) in p.messages().enumerate().skip(d.skip as usize) {
            match sbe::decode(m) {
                Ok(msg) => self.apply(&msg, d.recv_ns, p.header.seq + i as u64, emit),
                Err(_) => self.undecodable += 1,
            }
        }
    }
}
