//! IEX books: TOPS best bid/offer and DEEP price levels, per symbol.

use std::hash::Hasher;

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

/// Dense symbol index of an IEX feed: 8-byte symbol → id, ids dense in order of first sight.
///
/// Hand-written open addressing instead of `HashMap` because it is on the hot path of every
/// TOPS/DEEP message (issue 12: the hash lookup dominated `decode.tops.book`): one multiply for
/// the hash, keys and ids side by side in one 16-byte entry so a hit costs one cache line, linear
/// probing at a load factor of at most one half. The table grows by doubling (never on a hit),
/// and an id is at most `u32::MAX - 1`, so no input can make it panic.
#[derive(Debug, Clone)]
pub struct SymbolIndex {
    /// Power-of-two number of entries.
    table: Vec<Entry>,
    /// 64 − log2(table.len()): the hash is the top bits of the product.
    shift: u32,
    names: Vec<[u8; 8]>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    key: u64,
    /// 0: empty; otherwise id + 1.
    id1: u32,
}

impl Default for SymbolIndex {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

/// Fibonacci hashing: the product's top bits depend on every bit of the symbol.
const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

impl SymbolIndex {
    /// An index with room for `n` symbols before it grows.
    pub fn with_capacity(n: usize) -> Self {
        let len = n.saturating_mul(2).clamp(16, 1 << 24).next_power_of_two();
        SymbolIndex {
            table: vec![Entry::default(); len],
            shift: 64 - len.trailing_zeros(),
            names: Vec::with_capacity(n.min(1 << 23)),
        }
    }

    /// The id of `sym`, assigning the next one if new.
    #[inline]
    pub fn id(&mut self, sym: [u8; 8]) -> u32 {
        let key = u64::from_le_bytes(sym);
        let mask = self.table.len() - 1;
        let mut i = (key.wrapping_mul(GOLDEN) >> self.shift) as usize;
        loop {
            let e = self.table[i & mask];
            if e.id1 == 0 {
                return self.insert(i & mask, key, sym);
            }
            if e.key == key {
                return e.id1 - 1;
            }
            i += 1;
        }
    }

    #[cold]
    #[inline(never)]
    fn insert(&mut self, at: usize, key: u64, sym: [u8; 8]) -> u32 {
        let id = self.names.len() as u32;
        self.names.push(sym);
        self.table[at] = Entry { key, id1: id + 1 };
        if self.names.len() * 2 > self.table.len() {
            self.grow();
        }
        id
    }

    fn grow(&mut self) {
        let len = self.table.len() * 2;
        let shift = 64 - len.trailing_zeros();
        let mut table = vec![Entry::default(); len];
        for e in self.table.iter().filter(|e| e.id1 != 0) {
            let mut i = (e.key.wrapping_mul(GOLDEN) >> shift) as usize;
            while table[i & (len - 1)].id1 != 0 {
                i += 1;
            }
            table[i & (len - 1)] = *e;
        }
        self.table = table;
        self.shift = shift;
    }

    /// The symbol of an id.
    pub fn name(&self, id: u32) -> Option<&[u8; 8]> {
        self.names.get(id as usize)
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

/// Symbol table of an IEX feed: 8-byte symbol ↔ dense instrument id (order of first sight).
#[derive(Debug, Default, Clone)]
pub struct Symbols {
    index: SymbolIndex,
}

impl Symbols {
    /// A table with room for `n` symbols before it reallocates.
    pub fn with_capacity(n: usize) -> Self {
        Symbols {
            index: SymbolIndex::with_capacity(n),
        }
    }

    /// The id of `sym`, assigning the next one if new.
    #[inline]
    pub fn id(&mut self, sym: [u8; 8]) -> u32 {
        self.index.id(sym)
    }

    /// The symbol of an id.
    pub fn name(&self, id: u32) -> Option<String> {
        self.index
            .name(id)
            .map(|n| crate::capture::view::symbol_str(n))
    }

    /// Number of symbols seen.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True if no symbol was seen.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

fn px(raw: i64) -> Price {
    iex::price(raw).unwrap_or(Price::MAX)
}

/// One symbol's TOPS state, in a dense vector indexed by instrument id.
#[derive(Debug, Clone, Copy)]
struct TopsSlot {
    bbo: [(Price, Qty); 2],
    last: Option<(Price, Qty)>,
}

const EMPTY_SLOT: TopsSlot = TopsSlot {
    bbo: [(Price::ZERO, Qty::ZERO); 2],
    last: None,
};

/// Best bid/offer and last trade per symbol from TOPS. Instrument ids are dense, in order of
/// first sight: a message costs one probe of the [`SymbolIndex`] and one index into the states.
#[derive(Debug, Default, Clone)]
pub struct TopsBook {
    index: SymbolIndex,
    slots: Vec<TopsSlot>,
}

impl TopsBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty book with room for `n` symbols (IEX lists about 8,000–12,000), so that
    /// building it does not grow its tables on the hot path.
    pub fn with_capacity(n: usize) -> Self {
        TopsBook {
            index: SymbolIndex::with_capacity(n),
            slots: Vec::with_capacity(n.min(1 << 23)),
        }
    }

    /// Applies one message; emits a Quote on 'Q' and a Trade on 'T'.
    #[inline]
    pub fn apply(&mut self, seq: u64, m: &Message<'_>, mut out: impl FnMut(&MarketEvent)) {
        match m {
            Message::Quote(q) => {
                let bid = (px(q.bid_price()), units(u64::from(q.bid_size())));
                let ask = (px(q.ask_price()), units(u64::from(q.ask_size())));
                let id = self.slot(q.symbol());
                if let Some(slot) = self.slots.get_mut(id as usize) {
                    slot.bbo = [bid, ask];
                }
                out(&quote_event(q.ts() as u64, seq, id, bid, ask));
            }
            Message::Trade(t) => {
                let p = px(t.price());
                let s = units(u64::from(t.size()));
                let id = self.slot(t.symbol());
                if let Some(slot) = self.slots.get_mut(id as usize) {
                    slot.last = Some((p, s));
                }
                out(&trade_event(t.ts() as u64, seq, id, p, s));
            }
            _ => {}
        }
    }

    /// The id of `sym`; a new symbol gets its (empty) state.
    #[inline]
    fn slot(&mut self, sym: [u8; 8]) -> u32 {
        let id = self.index.id(sym);
        if id as usize == self.slots.len() {
            self.slots.push(EMPTY_SLOT);
        }
        id
    }

    fn get(&self, id: u32) -> Option<&TopsSlot> {
        self.slots.get(id as usize)
    }

    /// Number of symbols seen.
    pub fn symbol_count(&self) -> usize {
        self.index.len()
    }

    /// The symbol of an instrument id.
    pub fn symbol(&self, id: u32) -> Option<String> {
        self.index
            .name(id)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbol_index_is_dense_in_first_sight_order_through_growth() {
        let mut ix = SymbolIndex::with_capacity(0);
        let mut reference = std::collections::HashMap::new();
        // Symbols that differ only in their last bytes, the all-zero symbol, and repeats.
        for round in 0..3u64 {
            for n in 0..5_000u64 {
                let sym = n.wrapping_mul(0x0100_0000_0000_0001).to_le_bytes();
                let next = reference.len() as u32;
                let want = *reference.entry(sym).or_insert(next);
                assert_eq!(ix.id(sym), want, "round {round} symbol {n}");
            }
        }
        assert_eq!(ix.len(), 5_000);
        for (sym, id) in &reference {
            assert_eq!(ix.name(*id), Some(sym));
        }
        assert!(ix.table.len() >= 2 * ix.len());
    }
}
