//! NASDAQ ITCH 5.0 order-level book aggregated to price levels.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use mam_core::event::MarketEvent;
use mam_core::num::{Price, Qty};

use super::iex::SymHasher;
use super::{quote_event, trade_event, units, Levels};
use crate::itch::{self, Message};

#[derive(Debug, Clone, Copy)]
struct Order {
    locate: u16,
    buy: bool,
    price: u32,
    shares: u32,
}

/// Every live order by reference number, and per stock locate the aggregate price levels.
/// Instrument ids of the emitted events are the stock locate codes.
#[derive(Debug, Default, Clone)]
pub struct ItchBook {
    orders: HashMap<u64, Order, BuildHasherDefault<SymHasher>>,
    books: Vec<Levels>,
    /// Executions, cancels, deletes or replaces naming an order not in the book (the capture
    /// started after it was added): counted and ignored.
    pub unknown_refs: u64,
}

type Best = (Option<(i64, u64)>, Option<(i64, u64)>);

impl ItchBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// Live orders.
    pub fn orders(&self) -> usize {
        self.orders.len()
    }

    /// Shares of the live orders of a stock, (bid, ask), summed order by order (a check on the
    /// aggregated levels).
    pub fn live_shares(&self, locate: u16) -> (u64, u64) {
        self.orders
            .values()
            .filter(|o| o.locate == locate)
            .fold((0, 0), |(b, a), o| {
                if o.buy {
                    (b + u64::from(o.shares), a)
                } else {
                    (b, a + u64::from(o.shares))
                }
            })
    }

    /// Levels of a stock locate.
    pub fn levels(&self, locate: u16) -> Option<&Levels> {
        self.books.get(usize::from(locate))
    }

    fn book(&mut self, locate: u16) -> &mut Levels {
        let i = usize::from(locate);
        if i >= self.books.len() {
            self.books.resize_with(i + 1, Levels::new);
        }
        &mut self.books[i]
    }

    fn best(&self, locate: u16) -> Best {
        self.books
            .get(usize::from(locate))
            .map_or((None, None), |b| (b.best_bid(), b.best_ask()))
    }

    fn add(&mut self, r: u64, o: Order) {
        self.book(o.locate)
            .add(o.buy, i64::from(o.price), u64::from(o.shares));
        if let Some(old) = self.orders.insert(r, o) {
            // A reused live reference: the venue never does this; keep the levels consistent.
            self.book(old.locate).remove(
                old.buy,
                i64::from(old.price),
                u64::from(old.shares),
                true,
            );
        }
    }

    /// Takes `shares` off order `r` (all of it if `None`); returns the order as it was.
    fn reduce(&mut self, r: u64, shares: Option<u32>) -> Option<Order> {
        let Some(o) = self.orders.get_mut(&r) else {
            self.unknown_refs += 1;
            return None;
        };
        let before = *o;
        let take = shares.unwrap_or(o.shares).min(o.shares);
        o.shares -= take;
        let gone = o.shares == 0;
        if gone {
            self.orders.remove(&r);
        }
        self.book(before.locate)
            .remove(before.buy, i64::from(before.price), u64::from(take), gone);
        Some(before)
    }

    /// Applies one message; emits a Trade on executions and non-cross trades, and a Quote when
    /// the stock's best bid or ask changed.
    pub fn apply(&mut self, seq: u64, m: &Message<'_>, mut out: impl FnMut(&MarketEvent)) {
        let locate = m.stock_locate();
        let ts = m.ts();
        let before = self.best(locate);
        match m {
            Message::AddOrder(a) => self.add(
                a.order_ref(),
                Order {
                    locate,
                    buy: a.side() == b'B',
                    price: a.price(),
                    shares: a.shares(),
                },
            ),
            Message::AddOrderMpid(a) => self.add(
                a.order_ref(),
                Order {
                    locate,
                    buy: a.side() == b'B',
                    price: a.price(),
                    shares: a.shares(),
                },
            ),
            Message::OrderExecuted(e) => {
                if let Some(o) = self.reduce(e.order_ref(), Some(e.shares())) {
                    out(&trade_event(
                        ts,
                        seq,
                        u32::from(locate),
                        itch::price(o.price),
                        units(u64::from(e.shares())),
                    ));
                }
            }
            Message::OrderExecutedWithPrice(e) => {
                if self.reduce(e.order_ref(), Some(e.shares())).is_some() && e.printable() == b'Y' {
                    out(&trade_event(
                        ts,
                        seq,
                        u32::from(locate),
                        itch::price(e.price()),
                        units(u64::from(e.shares())),
                    ));
                }
            }
            Message::OrderCancel(c) => {
                self.reduce(c.order_ref(), Some(c.shares()));
            }
            Message::OrderDelete(d) => {
                self.reduce(d.order_ref(), None);
            }
            Message::OrderReplace(u) => {
                if let Some(o) = self.reduce(u.orig_ref(), None) {
                    self.add(
                        u.new_ref(),
                        Order {
                            price: u.price(),
                            shares: u.shares(),
                            ..o
                        },
                    );
                }
            }
            Message::Trade(t) => {
                out(&trade_event(
                    ts,
                    seq,
                    u32::from(locate),
                    itch::price(t.price()),
                    units(u64::from(t.shares())),
                ));
            }
            _ => return,
        }
        let after = self.best(locate);
        if after != before {
            let side = |l: Option<(i64, u64)>| {
                l.map_or((Price::ZERO, Qty::ZERO), |(p, s)| {
                    (itch::price(p as u32), units(s))
                })
            };
            out(&quote_event(
                ts,
                seq,
                u32::from(locate),
                side(after.0),
                side(after.1),
            ));
        }
    }
}
