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
