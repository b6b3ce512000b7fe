//! Rebalancing after a deposit or withdrawal ([`BALANCE_REBALANCE`]): every open ticket of the
//! account's manager is re-split over that manager's accounts in proportion to their equity
//! now, and the difference goes out as delta orders, one per account that moves: a closing
//! order for an account above its new share, an opening order in the ticket's side for one
//! below it.
//!
//! Equity weights are the PAMM rule (a pool shared in proportion to the money each investor
//! has in it); the master's size does not change: the new shares sum to what the accounts held,
//! so the two sides net to zero at the LP. Accounts that may not open (inactive, close-only,
//! held by a loss limit) keep their shares and are not in the weights. A ticket with orders
//! still working is left alone (its shares are not settled yet), as is one whose delta a risk
//! check refuses (the refusal is journaled; the refused leg's steps stay where they were).
//! The delta orders are the engine's own (order id 0): the manager gets no report of them.

use super::decision::Decision;
use super::input::{manager_of_order, BALANCE_REBALANCE};
use super::Engine;
use crate::alloc::apportion::{apportion, ApportionParams};
use crate::alloc::model::{weights, StaticModel};
use crate::alloc::{LotLimits, MinLotPolicy, Mode};

impl Engine {
    /// Rebalances manager `manager`'s open tickets (see the module docs); `flags` is the
    /// balance change's.
    pub(super) fn rebalance(
        &mut self,
        seq: u64,
        ts: u64,
        manager: u8,
        flags: u16,
        d: &mut Vec<Decision>,
    ) {
        if flags & BALANCE_REBALANCE == 0 {
            return;
        }
        let tickets: Vec<u64> = self
            .tickets
            .iter()
            .filter(|(&t, s)| {
                manager_of_order(t) == manager && s.working == 0 && s.book.total_open() > 0
            })
            .map(|(&t, _)| t)
            .collect();
        if tickets.is_empty() {
            return;
        }
        // Equity as of the latest quote, over this manager's accounts that may open.
        self.mark_open_accounts();
        let masked = self.mask_other_managers(manager);
        let mut cols = self.accounts.columns();
        if masked {
            cols.flags = &self.manager_flags;
        }
        let mut w = std::mem::take(&mut self.ws_rebalance);
        if weights(&cols, StaticModel::Equity, &mut w).is_err() {
            self.ws_rebalance = w;
            return;
        }
        for t in tickets {
            self.rebalance_ticket(seq, ts, t, &w, d);
        }
        self.ws_rebalance = w;
    }

    fn rebalance_ticket(&mut self, seq: u64, ts: u64, t: u64, w: &[u64], d: &mut Vec<Decision>) {
        let Some(state) = self.tickets.get(&t) else {
            return;
        };
        let (instrument, side) = (state.instrument, state.side);
        let Some(spec) = self.symbols.by_id(instrument).copied() else {
            return;
        };
        let limits = LotLimits::of(&spec);
        let Ok(step_qty) = limits.qty_of(&spec, 1) else {
            return;
        };
        let held: Vec<u64> = state.book.holdings().to_vec();
        // Only the accounts in the weights move; the others keep what they hold.
        let pool: u64 = held
            .iter()
            .zip(w)
            .filter(|&(_, &x)| x > 0)
            .map(|(&h, _)| h)
            .sum();
        if pool == 0 {
            return;
        }
        let mut target = vec![0u64; held.len()];
        let p = ApportionParams {
            total: pool,
            limits,
            policy: MinLotPolicy::Zero,
            mode: Mode::Block,
            rotation: self.rotation,
            sink_weight: 0,
        };
        let Ok(o) = apportion(w, &p, &mut target, &mut self.scratch) else {
            return;
        };
        if o.allocated != pool {
            return;
        }
        self.rotation = self.rotation.wrapping_add(o.dealt);
        let mut up = vec![0u64; held.len()];
        let mut down = vec![0u64; held.len()];
        for (a, (&h, &tg)) in held.iter().zip(&target).enumerate() {
            if w[a] == 0 {
                continue;
            }
            up[a] = tg.saturating_sub(h);
            down[a] = h.saturating_sub(tg);
        }
        if down.iter().all(|&x| x == 0) {
            return;
        }
        let mut sum = super::apply::Summary::new(
            seq,
            ts,
            t,
            super::decision::ACTION_REBALANCE,
            super::input::MODE_PER_ACCOUNT,
            super::input::model_code::EQUITY,
        );
        sum.s.requested = pool;
        sum.s.allocated = pool;
        sum.s.dealt = o.dealt;
        // The closing leg first: its steps leave the accounts' shares as it is sent (what
        // does not fill comes back when it ends), so the opening leg's fills never push the
        // ticket's holdings past its master.
        if let Some(st) = self.tickets.get_mut(&t) {
            for (a, &x) in down.iter().enumerate() {
                st.book.take_from(a, x);
            }
        }
        for (legs, closing) in [(&mut down, true), (&mut up, false)] {
            let leg_side = if closing { side.opposite() } else { side };
            let shape = super::apply::OrderShape {
                ts,
                ticket: t,
                instrument,
                side: leg_side,
                price: self.close_price(instrument, leg_side, spec.price_decimals),
                closing,
                order_id: 0,
            };
            let before = legs.clone();
            let total = step_qty
                .checked_mul_int(legs.iter().sum::<u64>() as i64)
                .unwrap_or(step_qty);
            let sent = self.send(
                seq,
                &shape,
                Mode::PerAccount,
                legs,
                step_qty,
                total,
                &mut sum,
                d,
            );
            if let Some(st) = self.tickets.get_mut(&t) {
                st.working += sent;
                if closing {
                    // A refused close leaves its steps with the account.
                    for (a, (&b, &x)) in before.iter().zip(legs.iter()).enumerate() {
                        st.book.add_to(a, b - x);
                    }
                }
            }
        }
        d.push(Decision::Alloc(sum.s));
    }
}
