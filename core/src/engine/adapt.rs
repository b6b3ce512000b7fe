//! The adaptive layer inside `open`: the static allocation is computed first (the quota), then
//! each account's size becomes `static × clamp(Π factors, min_scale, max_scale)` in whole lot
//! steps; the block is Σ of the adapted sizes (so Σ children = block, exactly), and what the
//! layer took away or added shows as the allocation's unallocated part. Every factor is
//! journaled before the orders (kinds 38 and 39) so `mam explain` can say why.

use super::decision::Decision;
use super::{Engine, CL_ORD_ID_SHIFT};
use crate::adaptive::factors::{
    account_factors_in, bounded_steps, new_margin, AccountView, ClusterFactors,
};
use crate::adaptive::{AdaptiveAccount, AdaptiveState, AdaptiveTicket};
use crate::alloc::{LotLimits, MinLotPolicy};
use crate::event::Side;
use crate::num::{Price, Qty, Ratio};
use crate::symbol::SymbolSpec;

/// What one master asks the layer to adapt.
pub(super) struct AdaptRequest<'a> {
    pub seq: u64,
    pub ts: u64,
    pub ticket: u64,
    pub instrument: u32,
    pub side: Side,
    pub spec: &'a SymbolSpec,
    pub limits: LotLimits,
    pub policy: MinLotPolicy,
    pub requested: u64,
    pub step_qty: Qty,
}

impl Engine {
    /// Adapts `alloc` (static sizes in, adapted sizes out); returns Σ of the adapted sizes.
    pub(super) fn adapt(
        &mut self,
        q: &AdaptRequest<'_>,
        alloc: &mut [u64],
        d: &mut Vec<Decision>,
    ) -> u64 {
        let master_qty = q.step_qty.raw().saturating_mul(q.requested as i64);
        let sh = self.adaptive.shared(q.instrument, master_qty, q.ts);
        let px = self.reference_price(q.instrument).unwrap_or(Price::ZERO);
        let sign: i64 = if q.side == Side::Buy { 1 } else { -1 };
        let mut head = AdaptiveTicket {
            ts_ns: q.ts,
            input_seq: q.seq,
            ticket: q.ticket,
            sigma: sh.sigma,
            sigma_target: sh.sigma_target,
            vol: sh.vol,
            sqrt_qv: sh.sqrt_qv,
            spread: sh.spread,
            slip_ppb: sh.slip_ppb,
            requested: q.requested,
            instrument: q.instrument,
            regime: sh.regime,
            ..AdaptiveTicket::default()
        };
        let at = d.len();
        d.push(Decision::AdaptiveTicket(head));
        // What each cluster's parameters and the shared factors fix, once per master (an
        // account whose cluster the model lacks takes cluster 0's, as `cluster()` does).
        let cfs: Vec<ClusterFactors> = self
            .adaptive
            .model()
            .clusters
            .iter()
            .map(|c| ClusterFactors::new(c, &sh))
            .collect();
        let sigma = self.adaptive.sigma_of(q.instrument);
        let mut total = 0u64;
        for (a, steps) in alloc.iter_mut().enumerate() {
            let s = *steps;
            if s == 0 {
                continue;
            }
            head.static_total += s;
            let acc = &self.accounts;
            let cf = cfs.get(usize::from(acc.cluster[a])).unwrap_or(&cfs[0]);
            let mut v = AccountView {
                equity: acc.equity[a].raw(),
                hwm: acc.equity_hwm[a].raw(),
                tolerance: acc.drawdown_tolerance[a].raw(),
                margin_used: acc.margin_used[a].raw(),
                ..AccountView::default()
            };
            // The notional, the new margin and the legs only where a factor reads them (the
            // margin buffer in a stressed regime, the legs with a leg cap, the correlated risk
            // with a risk cap): the same result.
            let (margin, legs, risk) = (cf.reads_margin(), cf.reads_legs(), cf.reads_risk());
            if px.raw() > 0 && (margin || legs || risk) {
                let qty = q.step_qty.raw().saturating_mul(s as i64);
                let n = self.ledger.notional_money(a as u32, q.instrument, qty, px);
                if margin {
                    v.new_margin = new_margin(n, q.spec.margin_rate.raw(), acc.leverage[a]);
                }
                if legs {
                    let ccy = acc.currency[a];
                    let legs = [(q.spec.base, sign), (q.spec.quote, -sign)];
                    for (k, &(c, dir)) in legs.iter().enumerate() {
                        if c == ccy {
                            continue; // the account's own currency is not an exposure
                        }
                        v.legs[k] = (self.leg_held(a as u32, c), n.saturating_mul(dir));
                    }
                }
                if risk && self.ledger.open_positions(a as u32) == 0 {
                    // Nothing held: the risk is the trade's alone.
                    v.risk = (0, AdaptiveState::risk_alone(n.saturating_mul(sign), sigma));
                } else if risk {
                    let mut w = std::mem::take(&mut self.exposures);
                    self.exposures_of(a as u32, &mut w);
                    let now = self.adaptive.risk(&w);
                    match w.iter_mut().find(|e| e.0 == q.instrument) {
                        Some(e) => e.1 = e.1.saturating_add(n.saturating_mul(sign)),
                        None => w.push((q.instrument, n.saturating_mul(sign))),
                    }
                    v.risk = (now, self.adaptive.risk(&w));
                    self.exposures = w;
                }
            }
            let (lo, hi) = (acc.min_scale[a], acc.max_scale[a]);
            let f = account_factors_in(cf, &v, lo, hi);
            let (out, lot_flag) = bounded_steps(s, f.scale, lo, hi, q.limits, q.policy);
            *steps = out;
            total += out;
            d.push(Decision::AdaptiveAccount(AdaptiveAccount {
                ticket: q.ticket,
                static_steps: s,
                steps: out,
                vol: f.vol,
                liquidity: f.liquidity,
                spread: f.spread,
                margin: f.margin,
                drawdown: f.drawdown,
                legs: f.legs,
                risk: f.risk,
                slippage: f.slippage,
                product: f.product,
                scale: f.scale,
                account: a as u32,
                flags: f.flags | lot_flag,
            }));
        }
        head.adaptive_total = total;
        d[at] = Decision::AdaptiveTicket(head);
        self.adaptive.allocations += 1;
        total
    }

    /// The slippage model's part of a step: the orders this input sent are remembered (one
    /// entry per input, instrument and side, with the touch at send); a fill of an order
    /// (`filled`: its instrument and side, read before the fill was applied) is compared with
    /// it; an input none of whose orders still works is forgotten.
    pub(super) fn learn_slippage(
        &mut self,
        input: &crate::engine::Input,
        filled: Option<(u32, bool)>,
        d: &[Decision],
    ) {
        // The first order of each key records it (`on_sent` keeps the first): the 1,000
        // children of a per-account open share one key, so one map entry, not 1,000 lookups.
        let mut last = None;
        for x in d {
            if let Decision::Order(o) = x {
                let buy = o.side == Side::Buy as u8;
                let key = (o.cl_ord_id >> CL_ORD_ID_SHIFT, o.instrument, buy);
                if last == Some(key) {
                    continue;
                }
                last = Some(key);
                if let Some((bid, ask)) = self.ledger.quote(o.instrument) {
                    let reference = if buy { ask.raw() } else { bid.raw() };
                    self.adaptive.slip.on_sent(key, reference, o.ts_ns);
                }
            }
        }
        if let (crate::engine::Input::Fill(f), Some((instrument, buy))) = (input, filled) {
            let seq = f.cl_ord_id >> CL_ORD_ID_SHIFT;
            if f.last_qty.raw() > 0 && f.last_px.raw() > 0 {
                let pip = self.symbols.by_id(instrument).map_or(0, |x| x.pip.raw());
                let pips = self.adaptive.cluster(0).slip_pips.raw();
                let threshold =
                    (i128::from(pip) * i128::from(pips) / i128::from(Ratio::ONE_RAW)) as i64;
                self.adaptive
                    .slip
                    .on_fill((seq, instrument, buy), f.last_px.raw(), threshold);
            }
            if !self.orders.has_input(seq) {
                self.adaptive.slip.on_done(seq);
            }
        }
    }

    /// The account's open positions as (instrument, signed notional in its money at the mid).
    fn exposures_of(&self, a: u32, w: &mut Vec<(u32, i64)>) {
        w.clear();
        if self.ledger.open_positions(a) == 0 {
            return;
        }
        for j in 0..self.ni as u32 {
            let q = self.ledger.qty(a, j).raw();
            if q == 0 {
                continue;
            }
            let Some(mid) = self.reference_price(j) else {
                continue;
            };
            let n = self.ledger.notional_money(a, j, q, mid);
            w.push((j, n.saturating_mul(q.signum())));
        }
    }

    /// The account's net exposure in currency `c` from every open position, signed, in its
    /// own currency at the latest mids (a long EURUSD is long EUR and short USD).
    fn leg_held(&self, a: u32, c: [u8; 8]) -> i64 {
        if self.ledger.open_positions(a) == 0 {
            return 0;
        }
        let mut held = 0i64;
        for (j, spec) in self.symbols.iter().enumerate() {
            let dir = if spec.base == c {
                1
            } else if spec.quote == c {
                -1
            } else {
                continue;
            };
            let q = self.ledger.qty(a, j as u32).raw();
            let Some(mid) = self.reference_price(j as u32) else {
                continue;
            };
            if q == 0 {
                continue;
            }
            let n = self.ledger.notional_money(a, j as u32, q, mid);
            held = held.saturating_add(n.saturating_mul(dir * q.signum()));
        }
        held
    }
}

#[cfg(test)]
mod tests {
    use crate::adaptive::factors::new_margin;
    use crate::num::Ratio;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        /// The 64-bit path gives what the 128-bit expression gives, everywhere.
        #[test]
        fn new_margin_is_bit_identical(
            n in prop_oneof![0i64..1_000_000_000_000_000, any::<i64>()],
            rate in prop_oneof![0i64..2_000_000, any::<i64>()],
            lev in prop_oneof![0u32..1_000, any::<u32>()],
        ) {
            let l = i128::from(lev.max(1)) * i128::from(Ratio::ONE_RAW);
            let before = (i128::from(n) * i128::from(rate) / l).min(i128::from(i64::MAX)) as i64;
            prop_assert_eq!(new_margin(n, rate, lev), before);
        }
    }
}
