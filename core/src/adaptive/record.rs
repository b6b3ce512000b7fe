//! The journal records that explain an adaptive allocation: one per master
//! ([`AdaptiveTicket`], the shared factors) and one per account with a static share
//! ([`AdaptiveAccount`], its own factors, the clamped scale and the size it got).

use bytemuck::{Pod, Zeroable};

/// Journal kind of an [`AdaptiveTicket`].
pub const KIND_ADAPTIVE_TICKET: u16 = 38;
/// Journal kind of an [`AdaptiveAccount`].
pub const KIND_ADAPTIVE_ACCOUNT: u16 = 39;
/// Journal kind of an [`AdaptiveSwitch`].
pub const KIND_ADAPTIVE_SWITCH: u16 = 40;

/// The shared part of one adaptive allocation (104 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
#[repr(C)]
pub struct AdaptiveTicket {
    /// Event time of the input.
    pub ts_ns: u64,
    /// Journal sequence of the input.
    pub input_seq: u64,
    /// Master ticket.
    pub ticket: u64,
    /// Forecast sigma per interval (1e-9; 0 without a fitted model).
    pub sigma: u64,
    /// Target sigma (1e-9; 0 without a fitted model).
    pub sigma_target: u64,
    /// `sigma_target / sigma` before cluster clamps (Factor bits).
    pub vol: i64,
    /// `√(master quantity / depth at the touch)` (Factor bits; 0 = no depth).
    pub sqrt_qv: i64,
    /// Spread norm / spread now, before cluster clamps (Factor bits).
    pub spread: i64,
    /// Master steps requested.
    pub requested: u64,
    /// Σ of the static sizes.
    pub static_total: u64,
    /// Σ of the adaptive sizes (what is sent).
    pub adaptive_total: u64,
    /// Probability of slippage beyond the threshold, symbol and hour, ppb.
    pub slip_ppb: u64,
    /// Instrument.
    pub instrument: u32,
    /// Regime label (0 calm, 1 normal, 2 stressed).
    pub regime: u8,
    /// Reserved, zero.
    pub _pad: [u8; 3],
}

/// One account's part of an adaptive allocation (112 bytes). Factors are Factor (I32F32) bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
#[repr(C)]
pub struct AdaptiveAccount {
    /// Master ticket.
    pub ticket: u64,
    /// What the static rule gave (lot steps).
    pub static_steps: u64,
    /// What the account gets (lot steps).
    pub steps: u64,
    /// Volatility factor (cluster-clamped).
    pub vol: i64,
    /// Liquidity factor.
    pub liquidity: i64,
    /// Spread factor.
    pub spread: i64,
    /// Margin-buffer factor.
    pub margin: i64,
    /// Drawdown factor.
    pub drawdown: i64,
    /// Currency-leg factor.
    pub legs: i64,
    /// Correlated-risk factor.
    pub risk: i64,
    /// Slippage factor.
    pub slippage: i64,
    /// Product of the factors.
    pub product: i64,
    /// The product clamped to `[min_scale, max_scale]`.
    pub scale: i64,
    /// Account index.
    pub account: u32,
    /// `factors::FLAG_*`.
    pub flags: u32,
}

/// [`AdaptiveSwitch::on`] values: the adaptive layer off (static rule) or on.
pub const SWITCH_OFF: u8 = 0;
/// The adaptive layer on.
pub const SWITCH_ON: u8 = 1;

/// The adaptive layer switched on or off (the kill switch back to the static rule), 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
#[repr(C)]
pub struct AdaptiveSwitch {
    /// Journal sequence of the input.
    pub input_seq: u64,
    /// [`SWITCH_ON`] or [`SWITCH_OFF`].
    pub on: u8,
    /// Reserved, zero.
    pub _pad: [u8; 7],
}

const _: () = assert!(core::mem::size_of::<AdaptiveTicket>() == 104);
const _: () = assert!(core::mem::size_of::<AdaptiveAccount>() == 112);
const _: () = assert!(core::mem::size_of::<AdaptiveSwitch>() == 16);
