//! One side-pair of aggregate price levels keyed by the venue's integer price.

use std::collections::BTreeMap;

/// Bid and ask levels: price (venue integer) → (aggregate size, order count).
#[derive(Debug, Clone, Default)]
pub struct Levels {
    bids: BTreeMap<i64, (u64, u32)>,
    asks: BTreeMap<i64, (u64, u32)>,
}

impl Levels {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    fn side(&mut self, buy: bool) -> &mut BTreeMap<i64, (u64, u32)> {
        if buy {
            &mut self.bids
        } else {
            &mut self.asks
        }
    }

    /// Sets the aggregate size at `price` (0 removes the level).
    pub fn set(&mut self, buy: bool, price: i64, size: u64) {
        let s = self.side(buy);
        if size == 0 {
            s.remove(&price);
        } else {
            s.insert(price, (size, 0));
        }
    }

    /// Adds one order of `size` at `price`.
    pub fn add(&mut self, buy: bool, price: i64, size: u64) {
        let l = self.side(buy).entry(price).or_insert((0, 0));
        l.0 = l.0.saturating_add(size);
        l.1 += 1;
    }

    /// Removes `size` at `price`, and one order if `order_gone`; drops the level when empty.
    pub fn remove(&mut self, buy: bool, price: i64, size: u64, order_gone: bool) {
        let s = self.side(buy);
        if let Some(l) = s.get_mut(&price) {
            l.0 = l.0.saturating_sub(size);
            if order_gone {
                l.1 = l.1.saturating_sub(1);
            }
            if l.0 == 0 && l.1 == 0 {
                s.remove(&price);
            }
        }
    }

    /// Best bid (highest) as (price, size).
    pub fn best_bid(&self) -> Option<(i64, u64)> {
        self.bids.iter().next_back().map(|(p, l)| (*p, l.0))
    }

    /// Best ask (lowest) as (price, size).
    pub fn best_ask(&self) -> Option<(i64, u64)> {
        self.asks.iter().next().map(|(p, l)| (*p, l.0))
    }

    /// The best `n` bids, best first.
    pub fn bids(&self, n: usize) -> Vec<(i64, u64)> {
        self.bids
            .iter()
            .rev()
            .take(n)
            .map(|(p, l)| (*p, l.0))
            .collect()
    }

    /// The best `n` asks, best first.
    pub fn asks(&self, n: usize) -> Vec<(i64, u64)> {
        self.asks.iter().take(n).map(|(p, l)| (*p, l.0)).collect()
    }

    /// Number of (bid, ask) levels.
    pub fn depth(&self) -> (usize, usize) {
        (self.bids.len(), self.asks.len())
    }

    /// Total size over all levels of one side.
    pub fn total(&self, buy: bool) -> u64 {
        let s = if buy { &self.bids } else { &self.asks };
        s.values().map(|l| l.0).sum()
    }
}
