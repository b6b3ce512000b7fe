//! IEX books: TOPS best bid/offer and DEEP price levels, per symbol.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use mam_core::event::MarketEvent;
use mam_core::num::{Price, Qty};

use super::{quote_event, trade_event, units, Levels};
use crate::iex::{self, Message};

/// Fast hash for 8-byte symbols and order references (SipHash is needlessly slow for this trusted key).
#[derive(Default)]
pub(crate) struct SymHasher(u64);

impl Hasher for SymHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
    fn write_u64(&mut self, v: u64) {
        // murmur3's 64-bit finalizer: every input bit reaches every output bit, so symbols
        // differing only in their last letters still spread over the table.
        let mut h = self.0 ^ v;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^= h >> 33;
        self.0 = h;
    }
}

type SymMap = HashMap<u64, u32, BuildHasherDefault<SymHasher>>;

/// Symbol table of an IEX feed: 8-byte symbol ↔ dense instrument id (order of first sight).
#[derive(Debug, Default, Clone)]
pub struct Symbols {
    ids: SymMap,
    names: Vec<[u8; 8]>,
}

impl Symbols {
    /// A table with room for `n` symbols before it reallocates.
    pub fn with_capacity(n: usize) -> Self {
        Symbols {
            ids: SymMap::with_capacity_and_hasher(n, Default::default()),
            names: Vec::with_capacity(n),
        }
    }

    /// The id of `sym`, assigning the next one if new.
    #[inline]
    pub fn id(&mut self, sym: [u8; 8]) -> u32 {
        let next = self.names.len() as u32;
        let id = *self.ids.entry(u64::from_le_bytes(sym)).or_insert(next);
        if id == next {
            self.names.push(sym);
        }
        id
    }

    /// The symbol of an id.
    pub fn name(&self, id: u32) -> Option<String> {
        self.names
            .get(id as usize)
            .map(|n| crate::capture::view::symbol_str(n))
    }

    /// Number of symbols seen.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True if no symbol was seen.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

fn px(raw: i64) -> Price {
    iex::price(raw).unwrap_or(Price::MAX)
}

/// One symbol's TOPS state, kept in the symbol map itself so that a message costs one
/// random memory access.
#[derive(Debug, Clone, Copy)]
struct TopsSlot {
    id: u32,
    bbo: [(Price, Qty); 2],
    last: Option<(Price, Qty)>,
}

/// Best bid/offer and last trade per symbol from TOPS. Instrument ids are dense, in order of
/// first sight.
#[derive(Debug, Default, Clone)]
pub struct TopsBook {
    slots: HashMap<u64, TopsSlot, BuildHasherDefault<SymHasher>>,
    names: Vec<[u8; 8]>,
}

impl TopsBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty book with room for `n` symbols (IEX lists about 8,000–12,000), so that
    /// building it does not rehash on the hot path.
    pub fn with_capacity(n: usize) -> Self {
        TopsBook {
            slots: HashMap::with_capacity_and_hasher(n, Default::default()),
            names: Vec::with_capacity(n),
        }
    }

    /// Applies one message; emits a Quote on 'Q' and a Trade on 'T'.
    #[inline]
    pub fn apply(&mut self, seq: u64, m: &Message<'_>, mut out: impl FnMut(&MarketEvent)) {
        match m {
            Message::Quote(q) => {
                let bid = (px(q.bid_price()), units(u64::from(q.bid_size())));
                let ask = (px(q.ask_price()), units(u64::from(q.ask_size())));
                let slot = self.slot(q.symbol());
                slot.bbo = [bid, ask];
                let id = slot.id;
                out(&quote_event(q.ts() as u64, seq, id, bid, ask));
            }
            Message::Trade(t) => {
                let p = px(t.price());
                let s = units(u64::from(t.size()));
                let slot = self.slot(t.symbol());
                slot.last = Some((p, s));
                let id = slot.id;
                out(&trade_event(t.ts() as u64, seq, id, p, s));
            }
            _ => {}
        }
    }

    #[inline]
    fn slot(&mut self, sym: [u8; 8]) -> &mut TopsSlot {
        let next = self.names.len() as u32;
        let names = &mut self.names;
        self.slots
            .entry(u64::from_le_bytes(sym))
            .or_insert_with(|| {
                names.push(sym);
                TopsSlot {
                    id: next,
                    bbo: [(Price::ZERO, Qty::ZERO); 2],
                    last: None,
                }
            })
    }

    fn get(&self, id: u32) -> Option<&TopsSlot> {
        let sym = self.names.get(id as usize)?;
        self.slots.get(&u64::from_le_bytes(*sym))
    }

    /// Number of symbols seen.
    pub fn symbol_count(&self) -> usize {
        self.names.len()
    }

    /// The symbol of an instrument id.
    pub fn symbol(&self, id: u32) -> Option<String> {
        self.names
            .get(id as usize)
            .map(|n| crate::capture::view::symbol_str(n))
    }

    /// Best (bid, ask) of a symbol: ((price, size), (price, size)); zero when a side is empty.
    pub fn bbo(&self, id: u32) -> Option<[(Price, Qty); 2]> {
        self.get(id).map(|s| s.bbo)
    }

    /// Last trade of a symbol.
    pub fn last_trade(&self, id: u32) -> Option<(Price, Qty)> {
        self.get(id).and_then(|s| s.last)
    }
}

/// Price-level book per symbol from DEEP.
#[derive(Debug, Default, Clone)]
pub struct DeepBook {
    /// Symbol table.
    pub symbols: Symbols,
    books: Vec<Levels>,
}

impl DeepBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one message. A price level update sets the size at its price; when its event
    /// flag says the event is complete, the symbol's best bid/ask is emitted as a Quote.
    pub fn apply(&mut self, seq: u64, m: &Message<'_>, mut out: impl FnMut(&MarketEvent)) {
        match m {
            Message::BuyLevel(u) | Message::SellLevel(u) => {
                let buy = matches!(m, Message::BuyLevel(_));
                let id = self.slot(u.symbol());
                let b = &mut self.books[id as usize];
                b.set(buy, u.price(), u64::from(u.size()));
                if u.flags() & 1 == 1 {
                    let side = |l: Option<(i64, u64)>| {
                        l.map_or((Price::ZERO, Qty::ZERO), |(p, s)| (px(p), units(s)))
                    };
                    out(&quote_event(
                        u.ts() as u64,
                        seq,
                        id,
                        side(b.best_bid()),
                        side(b.best_ask()),
                    ));
                }
            }
            Message::Trade(t) => {
                let id = self.slot(t.symbol());
                out(&trade_event(
                    t.ts() as u64,
                    seq,
                    id,
                    px(t.price()),
                    units(u64::from(t.size())),
                ));
            }
            _ => {}
        }
    }

    fn slot(&mut self, sym: [u8; 8]) -> u32 {
        let id = self.symbols.id(sym);
        if id as usize == self.books.len() {
            self.books.push(Levels::new());
        }
        id
    }

    /// The levels of a symbol.
    pub fn levels(&self, id: u32) -> Option<&Levels> {
        self.books.get(id as usize)
    }
}
