//! The adaptive allocation layer: each account's static quota times factors that follow
//! conditions (volatility, regime, margin buffer, drawdown, currency-leg exposure, liquidity),
//! the product clamped to the `[min_scale, max_scale]` the manager set for the account.
//!
//! Everything here is integer or [`Factor`](crate::num::Factor) fixed point: the state moves
//! with journaled quotes only, so a replay recomputes every factor bit for bit. See
//! docs/adaptive.md.

pub mod model;

pub use model::{
    AdaptiveModel, ClusterParams, ModelError, Regime, RegimeModel, SymbolModel, VolParams, BUCKETS,
    MODEL_VERSION, PPB, REGIMES, RET_ONE,
};
pub mod codec;
pub mod cross;
pub mod factors;
pub mod record;
pub mod state;

pub use factors::{
    account_factors, bounded_steps, step_bounds, AccountFactors, AccountView, Shared,
};
pub use record::{AdaptiveAccount, AdaptiveSwitch, AdaptiveTicket};
pub use state::SymbolState;

use crate::symbol::SymbolTable;

/// The engine's adaptive layer: the model it runs, the state quotes moved, and whether it is
/// on (the kill switch turns it off: every master then gets its static allocation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdaptiveState {
    model: AdaptiveModel,
    /// Per instrument of the symbol table: index of its [`SymbolModel`], if fitted.
    of: Vec<Option<usize>>,
    /// Per instrument.
    state: Vec<SymbolState>,
    /// Off: masters that ask for adaptive get the static rule (journaled switch).
    pub on: bool,
    /// Masters allocated through the layer so far.
    pub allocations: u64,
    /// Correlations of the sampled returns.
    pub corr: cross::Correlations,
    /// Slippage learned from fills.
    pub slip: cross::Slippage,
}

impl AdaptiveState {
    /// State before any quote for `model` over `symbols` (a model symbol the table does not
    /// know is ignored).
    pub fn new(model: AdaptiveModel, symbols: &SymbolTable) -> Self {
        let of: Vec<Option<usize>> = symbols
            .iter()
            .map(|s| model.symbols.iter().position(|m| m.symbol == s.name_str()))
            .collect();
        let state: Vec<SymbolState> = of
            .iter()
            .map(|k| SymbolState::new(k.map(|k| &model.symbols[k])))
            .collect();
        let n = state.len();
        AdaptiveState {
            model,
            of,
            state,
            on: true,
            allocations: 0,
            corr: cross::Correlations::new(n),
            slip: cross::Slippage::new(n),
        }
    }

    /// The model.
    pub fn model(&self) -> &AdaptiveModel {
        &self.model
    }

    /// The state of `instrument`.
    pub fn symbol(&self, instrument: u32) -> Option<&SymbolState> {
        self.state.get(instrument as usize)
    }

    /// The fitted model of `instrument`, if any.
    pub fn symbol_model(&self, instrument: u32) -> Option<&SymbolModel> {
        let k = (*self.of.get(instrument as usize)?)?;
        self.model.symbols.get(k)
    }

    /// Cluster parameters of an account's cluster (cluster 0's for one the model lacks).
    pub fn cluster(&self, cluster: u16) -> &ClusterParams {
        self.model
            .clusters
            .get(usize::from(cluster))
            .unwrap_or(&self.model.clusters[0])
    }

    /// Folds one valid quote in (O(1)).
    #[inline]
    pub fn on_quote(&mut self, instrument: u32, ts_ns: u64, bid: i64, ask: i64, depth: i64) {
        let i = instrument as usize;
        if i >= self.state.len() {
            return;
        }
        let m = self.of[i].map(|k| &self.model.symbols[k]);
        if let Some((k, r)) = self.state[i].on_quote(m, ts_ns, bid, ask, depth) {
            self.corr.on_return(i, k, r);
        }
    }

    /// Forecast one-interval standard deviation (money raw) of positions `w` (instrument,
    /// signed notional in the account's money): `√(Σ u_i u_j ρ_ij)` with `u_i = w_i σ̂_i`.
    /// Symbols without a fitted model count with sigma 0.
    pub fn risk(&self, w: &[(u32, i64)]) -> u64 {
        if let [(i, wi)] = *w {
            return Self::risk_alone(wi, self.sigma_of(i));
        }
        let mut total: i128 = 0;
        for &(i, wi) in w {
            let ui = i128::from(wi) * i128::from(self.sigma_of(i)) / i128::from(RET_ONE);
            for &(j, wj) in w {
                let uj = i128::from(wj) * i128::from(self.sigma_of(j)) / i128::from(RET_ONE);
                let rho = i128::from(self.corr.rho_ppb(i as usize, j as usize));
                total =
                    total.saturating_add(ui.saturating_mul(uj).saturating_mul(rho) / PPB as i128);
            }
        }
        (total.max(0) as u128).isqrt().min(u128::from(u64::MAX)) as u64
    }

    /// [`risk`](Self::risk) of one position of notional `w` in a symbol of forecast sigma
    /// `sigma`: `√(u² ρ_ii)` with `ρ_ii = 1` is `|u|`, no square root needed.
    #[inline]
    pub fn risk_alone(w: i64, sigma: u64) -> u64 {
        let u = i128::from(w) * i128::from(sigma) / i128::from(RET_ONE);
        u.unsigned_abs().min(u128::from(u64::MAX)) as u64
    }

    /// The forecast sigma `risk` uses for `instrument` (0 without a fitted model).
    pub fn sigma_of(&self, instrument: u32) -> u64 {
        match self.symbol_model(instrument) {
            Some(_) => self.state[instrument as usize].sigma(),
            None => 0,
        }
    }

    /// The shared factors for a master of `qty` (Qty raw) on `instrument` at `ts`.
    pub fn shared(&self, instrument: u32, qty: i64, ts: u64) -> Shared {
        let mut sh = Shared {
            vol: factors::ONE,
            spread: factors::ONE,
            regime: Regime::Normal as u8,
            ..Shared::default()
        };
        let Some(st) = self.symbol(instrument) else {
            return sh;
        };
        sh.slip_ppb = self.slip.cell(instrument, ts).p_ppb;
        if let Some(m) = self.symbol_model(instrument) {
            sh.sigma = st.sigma();
            sh.sigma_target = m.sigma_target;
            sh.regime = st.label;
            sh.vol = factors::frac(i128::from(m.sigma_target), i128::from(sh.sigma));
        }
        let norm = st.spread_norm_now();
        if norm > 0 && st.spread > 0 {
            sh.spread = factors::frac(i128::from(norm), i128::from(st.spread));
        }
        if st.depth > 0 && qty > 0 {
            // √(Q/V) in I32F32: isqrt((Q << 64) / V) has 32 fractional bits.
            let q = (u128::from(qty.unsigned_abs()) << 64) / st.depth as u128;
            sh.sqrt_qv = q.isqrt().min(i64::MAX as u128) as i64;
        }
        sh
    }

    /// A 64-bit fingerprint of the model (FNV-1a of its encoding): the checkpoint records it.
    pub fn fingerprint(&self) -> u64 {
        crate::engine::fnv1a(&codec::encode_model(&self.model))
    }
}

#[cfg(test)]
pub(crate) mod tests;
