//! The orders the engine tracks, by ClOrdID, grouped by the input that sent them.
//!
//! A ClOrdID is `input sequence × 2^24 + k` ([`CL_ORD_ID_SHIFT`]): a per-account open over
//! 1,000 accounts sends ClOrdIDs `s·2^24 + 0 … 999`. A `BTreeMap` over every ClOrdID cost about
//! 1,200 instructions per child order (insert, lookup, remove: a tree of all open orders;
//! docs/latency.md). Here the tree holds one entry per input with orders still open, and each
//! entry a vector of its orders in `k` order: sending appends, a fill finds its order by a
//! binary search over that input's orders only, and a finished order leaves a hole until its
//! input has none open. Iteration stays in ClOrdID order, which checkpoints, snapshots and
//! [`Engine::open_order_ids`](super::Engine::open_order_ids) rely on. Hand-written because it
//! sits on the hot path and its shape follows mam's ClOrdID layout.

use std::collections::BTreeMap;

use super::state::OrderState;
use super::CL_ORD_ID_SHIFT;

/// `k`: the order's number among its input's orders.
const K_MASK: u64 = (1 << CL_ORD_ID_SHIFT) - 1;

/// One input's orders, ascending by `k`; `None` where one has finished.
#[derive(Debug, Clone, Default)]
struct Group {
    slots: Vec<(u32, Option<OrderState>)>,
    open: u32,
}

impl Group {
    fn find(&self, k: u32) -> Result<usize, usize> {
        // Appended in `k` order: the common case (the last one) is checked first.
        match self.slots.last() {
            Some(&(last, _)) if last == k => Ok(self.slots.len() - 1),
            Some(&(last, _)) if last < k => Err(self.slots.len()),
            _ => self.slots.binary_search_by_key(&k, |s| s.0),
        }
    }
}

/// Orders by ClOrdID (module docs).
#[derive(Debug, Clone, Default)]
pub(super) struct OrderMap {
    by_input: BTreeMap<u64, Group>,
    len: usize,
}

fn split(cl: u64) -> (u64, u32) {
    (cl >> CL_ORD_ID_SHIFT, (cl & K_MASK) as u32)
}

impl OrderMap {
    /// Orders tracked.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Tracks `o` under `cl`; returns the order it replaces, if any.
    pub(super) fn insert(&mut self, cl: u64, o: OrderState) -> Option<OrderState> {
        let (input, k) = split(cl);
        let g = self.by_input.entry(input).or_default();
        match g.find(k) {
            Ok(i) => {
                let old = g.slots[i].1.replace(o);
                if old.is_none() {
                    g.open += 1;
                    self.len += 1;
                }
                old
            }
            Err(i) => {
                g.slots.insert(i, (k, Some(o)));
                g.open += 1;
                self.len += 1;
                None
            }
        }
    }

    /// The order `cl`, if tracked.
    pub(super) fn get(&self, cl: &u64) -> Option<&OrderState> {
        let (input, k) = split(*cl);
        let g = self.by_input.get(&input)?;
        g.slots[g.find(k).ok()?].1.as_ref()
    }

    /// The order `cl`, if tracked, to change.
    pub(super) fn get_mut(&mut self, cl: &u64) -> Option<&mut OrderState> {
        let (input, k) = split(*cl);
        let g = self.by_input.get_mut(&input)?;
        let i = g.find(k).ok()?;
        g.slots[i].1.as_mut()
    }

    /// Stops tracking `cl`; returns its order.
    pub(super) fn remove(&mut self, cl: &u64) -> Option<OrderState> {
        let (input, k) = split(*cl);
        let g = self.by_input.get_mut(&input)?;
        let i = g.find(k).ok()?;
        let o = g.slots[i].1.take()?;
        g.open -= 1;
        self.len -= 1;
        if g.open == 0 {
            self.by_input.remove(&input);
        }
        Some(o)
    }

    /// Whether any order input `seq` sent is still tracked.
    pub(super) fn has_input(&self, seq: u64) -> bool {
        self.by_input.contains_key(&seq)
    }

    /// Every order with its ClOrdID, ascending.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u64, &OrderState)> + '_ {
        self.by_input.iter().flat_map(|(&input, g)| {
            g.slots.iter().filter_map(move |(k, o)| {
                o.as_ref()
                    .map(|o| ((input << CL_ORD_ID_SHIFT) | u64::from(*k), o))
            })
        })
    }

    /// Every ClOrdID, ascending.
    pub(super) fn keys(&self) -> impl Iterator<Item = u64> + '_ {
        self.iter().map(|(cl, _)| cl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::num::Qty;
    use proptest::prelude::*;

    fn order(ticket: u64) -> OrderState {
        OrderState {
            ticket,
            account: 0,
            instrument: 0,
            side: 1,
            closing: false,
            qty: Qty::ZERO,
            cum: Qty::ZERO,
            step_qty: Qty::ZERO,
            block: None,
            order_id: 0,
        }
    }

    proptest! {
        /// Any sequence of inserts and removes leaves the same orders, in the same order, as a
        /// `BTreeMap` given the same operations.
        #[test]
        fn behaves_as_a_btree_map(
            ops in proptest::collection::vec((any::<bool>(), 0u64..6, 0u64..40), 0..300)
        ) {
            let mut m = OrderMap::default();
            let mut r: BTreeMap<u64, u64> = BTreeMap::new();
            for (i, (add, input, k)) in ops.into_iter().enumerate() {
                let cl = (input << CL_ORD_ID_SHIFT) | k;
                if add {
                    let a = m.insert(cl, order(i as u64)).map(|o| o.ticket);
                    prop_assert_eq!(a, r.insert(cl, i as u64));
                } else {
                    prop_assert_eq!(m.remove(&cl).map(|o| o.ticket), r.remove(&cl));
                }
                prop_assert_eq!(m.get(&cl).map(|o| o.ticket), r.get(&cl).copied());
                prop_assert_eq!(m.len(), r.len());
                prop_assert_eq!(
                    m.has_input(input),
                    r.range(input << CL_ORD_ID_SHIFT..=(input << CL_ORD_ID_SHIFT) | K_MASK)
                        .next()
                        .is_some()
                );
            }
            let got: Vec<(u64, u64)> = m.iter().map(|(cl, o)| (cl, o.ticket)).collect();
            let want: Vec<(u64, u64)> = r.into_iter().collect();
            prop_assert_eq!(got, want);
        }
    }
}
